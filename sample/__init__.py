"""Deterministic demo crawl for mathmine (``python -m sample DEST --seed N``).

``build_sample(out_dir, seed)`` writes a tiny Common-Crawl-like corpus: four gzipped WARC
files with ~300 HTML pages on made-up hosts (math Q&A, course notes, wikis, blogs, news,
recipes, travel, sports, reviews), a seed corpus of math texts, a corpus of known non-math
texts, a small benchmark file, ground-truth labels, a demo annotator's URL patterns and a
``manifest.json`` naming them, so every later stage of the pipeline (WARC reading, HTML/math
extraction, fastText recall, domain and URL-path discovery, dedup, decontamination) can be
tested offline.

It lives outside ``pipeline/`` and ``jobs/`` (the packages shipped to Spark executors), which
never import it. The modules, by concern: ``text`` (helpers, data-file loading), ``tex`` (TeX
parsing and math markups), ``problems`` and ``pages`` (math and non-math page content),
``chrome`` (sites, page chrome), ``variation`` (paraphrases, near-duplicate edits), ``sites``
(site builders), ``warc_writer`` (WARC records) and ``build`` (``build_sample``, the CLI). Long
texts live in ``sample/data/``.

Label semantics (``labels.jsonl``, one line per HTML 200 response):

- ``domain`` is the URL host (``blog.example.co.uk``), since all hosts share ``example.*``;
- ``near_dup_of`` points at the original page; copies never point at copies, so every
  duplicate cluster is one original plus the pages naming it;
- ``formulas`` are the exact TeX strings the page embeds (HTML-escaped inside the page).

All randomness comes from ``random.Random(seed)``; WARC record ids, dates and gzip headers
are derived from the seed, so the output is byte-identical for a given seed (and zlib).
"""

from sample.build import MANIFEST, N_WARC_FILES, SAMPLE_BENCHMARK, build_sample
from sample.sites import BENCHMARK
from sample.tex import MARKUPS

__all__ = ["BENCHMARK", "MANIFEST", "MARKUPS", "N_WARC_FILES", "SAMPLE_BENCHMARK", "build_sample"]
