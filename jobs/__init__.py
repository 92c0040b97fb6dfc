"""Thin Spark drivers, one per stage, and the `mathmine` command line."""
