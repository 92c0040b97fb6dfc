"""mathmine: mine a mathematics corpus from Common Crawl (DeepSeekMath, arXiv 2402.03300)."""

__version__ = "0.1.0"
