"""Load YAML config plus `--set key=value` overrides into typed, validated settings.

The dataclasses below are the schema: every knob has a type and a default here, and
conf/default.yaml documents each one (a test keeps the two in step). Every numeric knob also has
an allowed range in `RANGES` (a test fails for a new one without), and a few knobs must agree
with each other (`_RELATIONS`). An unknown key, a value of the wrong type or out of its range is
one ConfigError line naming where it came from (the file or the `--set`), the key and the range.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.train.settings import (
    LOSS_TYPES,
    REPORT_TO,
    SCALE_REWARDS,
    CPTConfig,
    DemoConfig,
    EvalConfig,
    GRPOConfig,
    dr_grpo_consistent,
)

DEFAULT_CONF = Path(__file__).resolve().parent.parent / "conf" / "default.yaml"


class UserError(Exception):
    """A problem the user can fix (a bad argument, a damaged input), not a bug: `mathmine` prints
    the message, one line, as `mathmine: error: ...` and exits with `exit_code`, no traceback."""

    exit_code = 1  # bad input data (a corrupt run folder, an empty table)


class ConfigError(UserError, ValueError):
    """A bad config file, key or value, or command-line argument: a usage error (exit status 2)."""

    exit_code = 2

    def __init__(self, message: str, *keys: str) -> None:
        super().__init__(message)
        self.keys = keys  # the dotted config keys at fault, if any: load_settings names where they came from


@dataclass
class SparkSettings:
    master: str = "local[*]"  # SPARK_MASTER in the environment wins over this
    app_name: str = "mathmine"
    driver_memory: str = "2g"
    shuffle_partitions: int = 8
    ship_package: bool = True  # zip pipeline/ and addPyFile it when the master is not local
    python: str = ""  # interpreter for Python workers; empty: the one running the driver
    log_level: str = "WARN"
    progress_every_s: float = 5.0  # a line on the driver's stderr per running stage; 0: none
    conf: dict[str, str] = field(default_factory=dict)  # extra spark.* settings, passed through


@dataclass
class StorageSettings:
    cc_base: str = "s3://commoncrawl/"  # relative paths in a warc.paths manifest resolve here
    s3_endpoint_url: str = ""  # empty: AWS; set for MinIO / moto / Ceph
    s3_region: str = "us-east-1"
    s3_anonymous_buckets: list[str] = field(default_factory=lambda: ["commoncrawl"])
    max_retries: int = 8  # per request, for throttling (SlowDown), 5xx and dropped connections
    retry_base_s: float = 0.5  # first back-off; doubles each try, capped at retry_max_s
    retry_max_s: float = 20.0
    read_timeout_s: float = 120.0


@dataclass
class ExtractSettings:
    backend: str = "resiliparse"  # resiliparse | trafilatura
    timeout_s: float = 10.0  # per page; 0 runs in-process with no time bound
    min_text_chars: int = 1  # shorter main text counts as empty_text
    include_tables: bool = True
    trafilatura_favor: str = "balanced"  # balanced | precision | recall


@dataclass
class IngestSettings:
    max_html_bytes: int = 5_000_000  # larger payloads are dropped as too_large, unread
    keep_status: list[int] = field(default_factory=lambda: [200])
    html_types: list[str] = field(default_factory=lambda: ["text/html", "application/xhtml+xml"])
    sniff_untyped: bool = True  # a response with no content type is kept if it looks like HTML
    parquet_compression: str = "zstd"
    row_group_rows: int = 2000
    log_every_s: float = 30.0


@dataclass
class DedupSettings:
    ngram: int = 5  # words per shingle
    num_perm: int = 128
    seed: int = 1  # datasketch's default seed: signatures match datasketch.MinHash(seed=1)
    hash: str = "xxh32"  # xxh32 (fast) | sha1 (datasketch's default hashfunc)
    threshold: float = 0.8  # target Jaccard; bands x rows are chosen for it ...
    bands: int = 0  # ... unless both are set here (0: choose)
    rows: int = 0
    band_rule: str = "recall"  # recall (max_miss at the threshold) | balanced (datasketch's weights)
    max_miss: float = 0.01
    false_positive_weight: float = 0.5
    false_negative_weight: float = 0.5
    verify: bool = True  # keep a candidate pair only if its signature similarity >= threshold
    max_iterations: int = 60  # connected components: label-propagation rounds before giving up
    output_parts: int = 4  # files of the dedup sidecar
    batch_rows: int = 1000  # pages per Arrow batch in the signature step


@dataclass
class SampleSettings:
    seed: int = 20240501


@dataclass
class ClassifySettings:
    seed_corpus: str = ""  # JSONL(.gz) / Parquet file, folder or glob of positives; empty: the sample's seed
    seed_text_field: str = "text"  # a seed row's `id` field is used when present, else a hash of the text
    max_seed_docs: int = 0  # 0: all; else a seeded random subset of the initial seed
    negatives_ratio: float = 1.0  # negatives per positive, a seeded random sample of deduplicated pages
    negatives_seed: int = 7
    negatives_corpus: str = ""  # known non-math texts (same readers as the seed); empty: crawl pages only
    negatives_corpus_share: float = 0.5  # share of the negatives taken from negatives_corpus (rest: crawl)
    dim: int = 256  # fastText, the paper's settings ...
    lr: float = 0.1
    word_ngrams: int = 3
    min_count: int = 3
    epoch: int = 3
    min_example_passes: int = 30_000  # more passes than `epoch` until examples x epochs reaches this
    max_epoch: int = 100  # ... but never more passes than this
    bucket: int = 200_000  # hashed n-gram rows (x dim floats): fastText's 2M makes 2 GB models
    fasttext_seed: int = 0
    holdout: float = 0.1  # share of positives and negatives kept out of training, for metrics.json
    max_iterations: int = 4
    convergence: float = 0.98  # stop when this share of the recalled pages was recalled last time
    labels: str = ""  # JSONL of {url, is_math}: precision / recall per iteration; empty: the sample's
    histogram_bins: int = 20
    output_parts: int = 4  # files per per-iteration table


@dataclass
class RecallSettings:
    rule: str = "threshold"  # threshold | top_pages | top_tokens (the paper's: top 40B tokens)
    threshold: float = 0.5  # rule threshold: recall pages scoring at least this
    top_pages: int = 1000  # rule top_pages: the N best-scoring pages (ties: id ascending)
    top_tokens: int = 40_000  # rule top_tokens: best pages until N tokens (sized for the sample)
    chars_per_token: float = 4.0  # token estimate before tokenization: text_chars / this


@dataclass
class DomainSettings:
    min_fraction: float = 0.10  # flag a domain when more than this share of its pages was recalled
    min_pages: int = 5  # ... and it has at least this many pages
    top_prefixes: int = 20  # path prefixes listed per flagged domain
    examples: int = 3  # example URLs per prefix, recalled and not
    min_prefix_pages: int = 2  # queue rows for smaller prefixes are left out
    max_prefixes: int = 5000  # distinct prefixes tracked per domain before pruning (bounded memory)


@dataclass
class DecontaminateSettings:
    benchmarks_root: str = "data/benchmarks"  # benchmark files, laid out as conf/benchmarks.yaml names them
    benchmarks_file: str = "conf/benchmarks.yaml"  # which sets, which fields
    ngram: int = 10  # the paper's: a segment holding a 10-gram of a benchmark text is removed ...
    min_ngram: int = 3  # ... and benchmark texts of min_ngram..ngram-1 words are matched whole
    min_prose_words: int = 3  # grams with fewer prose words are formula grams (0 and ngram: the literal rule)
    formula_run_words: int = 20  # formula grams count only in a matching run this long, with prose
    min_chars_left: int = 200  # a page left with less text after removal is dropped (decontam_too_short)
    output_parts: int = 4


@dataclass
class TokenizeSettings:
    tokenizer: str = ""  # a Hugging Face tokenizer folder; empty: train a byte-level BPE on the corpus
    vocab_size: int = 8192  # for the trained BPE
    train_docs: int = 20_000  # corpus documents (a seeded sample) the BPE is trained on
    shard_tokens: int = 50_000_000  # target tokens per shard; documents are never split
    shuffle: bool = False  # a seeded global document shuffle (else: doc_id order)
    seed: int = 0
    row_group_rows: int = 1000


@dataclass
class AnnotationSettings:
    dir: str = "annotation"  # url_patterns/*.tsv are read from here; queue/ is written here
    sample_patterns: bool = True  # with the bundled sample, also its demo annotator's file


@dataclass
class Settings:
    work_dir: str = "work"  # the run folder of DESIGN.md section 5
    input: str = ""  # WARC spec for `iterate`; empty builds and uses the bundled sample crawl
    spark: SparkSettings = field(default_factory=SparkSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    extract: ExtractSettings = field(default_factory=ExtractSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    dedup: DedupSettings = field(default_factory=DedupSettings)
    sample: SampleSettings = field(default_factory=SampleSettings)
    classify: ClassifySettings = field(default_factory=ClassifySettings)
    recall: RecallSettings = field(default_factory=RecallSettings)
    domains: DomainSettings = field(default_factory=DomainSettings)
    annotation: AnnotationSettings = field(default_factory=AnnotationSettings)
    decontaminate: DecontaminateSettings = field(default_factory=DecontaminateSettings)
    tokenize: TokenizeSettings = field(default_factory=TokenizeSettings)
    cpt: CPTConfig = field(default_factory=CPTConfig)  # the training stage (pipeline/train/settings.py)
    grpo: GRPOConfig = field(default_factory=GRPOConfig)
    evaluate: EvalConfig = field(default_factory=EvalConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def fingerprint(self, *sections: str) -> str:
        """Hash of the named sections (all if none): a finished step is redone when it changes."""
        data = self.to_dict()
        if sections:
            data = {name: data[name] for name in sections}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


_CHOICES = {
    "extract.backend": {"resiliparse", "trafilatura"},
    "extract.trafilatura_favor": {"balanced", "precision", "recall"},
    "ingest.parquet_compression": {"zstd", "snappy", "gzip", "none"},
    "dedup.hash": {"xxh32", "sha1"},
    "dedup.band_rule": {"recall", "balanced"},
    "recall.rule": {"threshold", "top_pages", "top_tokens"},
    "grpo.supervision": {"outcome", "process"},
    "grpo.scale_rewards": set(SCALE_REWARDS),
    "grpo.loss_type": set(LOSS_TYPES),
    "grpo.report_to": set(REPORT_TO),
    "cpt.report_to": set(REPORT_TO),
}

# Keys renamed to TRL's GRPOConfig names (issue 15): an old key in a file or a `--set` is one error
# naming the new key, rather than "unknown key" and a list the user has to search.
RENAMED: dict[str, str] = {
    "grpo.group_size": "grpo.num_generations",
    "grpo.clip_eps": "grpo.epsilon",
    "grpo.mu": "grpo.num_iterations",
    "grpo.iterations": "grpo.rl_iterations",
    "grpo.max_new_tokens": "grpo.max_completion_length",
    "grpo.lr": "grpo.learning_rate",
    "grpo.log_every": "grpo.logging_steps",
    "cpt.log_every": "cpt.logging_steps",
}


@dataclass(frozen=True)
class Range:
    """The values a numeric knob (or each item of a numeric list knob) may take: from `lo` to `hi`,
    an end left out when it is open, unbounded where None. NaN and infinities never pass."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            return False
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)

    def describe(self, integer: bool) -> str:
        """E.g. 'an integer in [1, 4096]', 'a number in (0, 1]', 'an integer >= 0'."""
        kind = "an integer" if integer else "a number"
        if self.lo is not None and self.hi is not None:
            left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
            return f"{kind} in {left}{_number(self.lo)}, {_number(self.hi)}{right}"
        if self.lo is not None:
            return f"{kind} {'>' if self.lo_open else '>='} {_number(self.lo)}"
        if self.hi is not None:
            return f"{kind} {'<' if self.hi_open else '<='} {_number(self.hi)}"
        return kind if integer else "a finite number"


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


# Shorthands for the table below.
_COUNT = Range(0)  # 0 allowed: it means "none" / "off" / "all" as the knob's comment says
_POSITIVE_INT = Range(1)
_POSITIVE = Range(0, lo_open=True)  # a float that must be > 0 (a rate, a divisor, a timeout)
_FRACTION = Range(0, 1)  # a share, a probability, a similarity
_SEED = Range(0, 2**31 - 1)  # what every consumer takes (numpy, fastText's C int, torch)
_INT32 = 2**31 - 1  # the largest value a C int (and an Arrow int32 column) holds
_PARTS = Range(1, 100_000)  # output files of a table
_ROWS = Range(1, 10_000_000)  # rows per Parquet row group / Arrow batch
_TOKENS = Range(1, 1_048_576)  # sequence and generation lengths
_BATCH = Range(1, 65_536)  # batch, group and accumulation sizes
_LR = Range(0, 1, lo_open=True)  # learning rates of the training stage

# Every numeric knob (int, float, or a list of them: each item) and the values it may take, checked
# once at load so a nonsense value fails in a second with one line instead of a silent wrong run
# (dedup.num_perm=0 keeping one page "balanced", --iterations 0 running four) or a traceback an
# hour into a Spark job. Upper bounds are generous: they catch a typo (a missing decimal point, a
# bytes-vs-megabytes slip), not a big cluster run. tests/test_faults_config.py fails for a numeric
# knob missing here, and for a default outside its range.
RANGES: dict[str, Range] = {
    "spark.shuffle_partitions": Range(1, 1_000_000),
    "spark.progress_every_s": Range(0, 86_400),  # 0: no progress lines
    "storage.max_retries": Range(0, 100),
    "storage.retry_base_s": Range(0, 3_600, lo_open=True),  # 0 would retry in a hot loop
    "storage.retry_max_s": Range(0, 3_600, lo_open=True),
    "storage.read_timeout_s": Range(0, 86_400, lo_open=True),
    "extract.timeout_s": Range(0, 86_400),  # 0: in-process, unbounded
    "extract.min_text_chars": Range(0, 1_000_000),
    "ingest.max_html_bytes": Range(1, _INT32),  # 0 or less dropped every page as too_large
    "ingest.keep_status": Range(100, 599),  # each an HTTP status code
    "ingest.row_group_rows": _ROWS,
    "ingest.log_every_s": Range(0, 10_000_000),
    "dedup.ngram": Range(1, 255),  # words per shingle
    "dedup.num_perm": Range(1, 4096),  # 4 bytes per page each; 0 made every page one "duplicate"
    "dedup.seed": _SEED,
    "dedup.threshold": Range(0, 1, lo_open=True),  # a Jaccard similarity; 0 makes every pair a duplicate
    "dedup.bands": Range(0, 4096),  # 0 (with rows 0): chosen for the threshold; see _RELATIONS
    "dedup.rows": Range(0, 4096),
    "dedup.max_miss": Range(0, 1, lo_open=True),  # 0 would need infinitely many bands
    "dedup.false_positive_weight": _FRACTION,
    "dedup.false_negative_weight": _FRACTION,
    "dedup.max_iterations": Range(1, 10_000),
    "dedup.output_parts": _PARTS,
    "dedup.batch_rows": _ROWS,
    "sample.seed": _SEED,
    "classify.max_seed_docs": _COUNT,  # 0: the whole seed
    "classify.negatives_ratio": Range(0, 100, lo_open=True),  # no negatives: fastText has one class
    "classify.negatives_seed": _SEED,
    "classify.negatives_corpus_share": _FRACTION,
    "classify.dim": Range(1, 4096),
    "classify.lr": Range(0, 10, lo_open=True),
    "classify.word_ngrams": Range(1, 10),
    "classify.min_count": Range(1, 1_000_000),
    "classify.epoch": Range(1, 10_000),
    "classify.min_example_passes": _COUNT,  # 0: exactly `epoch` passes
    "classify.max_epoch": Range(1, 10_000),
    "classify.bucket": Range(1, 100_000_000),  # rows of `dim` floats: 1e8 x 256 is a 100 GB model
    "classify.fasttext_seed": _SEED,
    "classify.holdout": Range(0, 1, hi_open=True),  # 1 would leave nothing to train on
    "classify.max_iterations": Range(1, 100),  # --iterations is held to the same range
    "classify.convergence": _FRACTION,
    "classify.histogram_bins": Range(1, 1000),
    "classify.output_parts": _PARTS,
    "recall.threshold": _FRACTION,  # scores are probabilities
    "recall.top_pages": _POSITIVE_INT,
    "recall.top_tokens": _POSITIVE_INT,  # conf/cluster.yaml: 40B
    "recall.chars_per_token": Range(0, 100, lo_open=True),  # a divisor
    "domains.min_fraction": _FRACTION,
    "domains.min_pages": _POSITIVE_INT,
    "domains.top_prefixes": Range(1, 10_000),
    "domains.examples": Range(0, 1000),
    "domains.min_prefix_pages": _POSITIVE_INT,
    "domains.max_prefixes": Range(1, 10_000_000),  # the memory bound per domain
    "decontaminate.ngram": Range(1, 255),  # NgramIndex keeps run lengths in a byte
    "decontaminate.min_ngram": Range(1, 255),
    "decontaminate.min_prose_words": Range(0, 255),  # 0: the paper's literal rule
    "decontaminate.formula_run_words": Range(1, 255),
    "decontaminate.min_chars_left": _COUNT,
    "decontaminate.output_parts": _PARTS,
    "tokenize.vocab_size": Range(258, 1_000_000),  # the 256 bytes and 2 special tokens, at least
    "tokenize.train_docs": _POSITIVE_INT,
    "tokenize.shard_tokens": _POSITIVE_INT,  # 0 wrote a shard per document
    "tokenize.seed": _SEED,
    "tokenize.row_group_rows": _ROWS,
    "cpt.n_layer": Range(1, 1024),
    "cpt.n_embd": Range(1, 65_536),
    "cpt.n_head": Range(1, 1024),
    "cpt.seq_len": Range(2, 1_048_576),  # an input and a next-token target at least
    "cpt.micro_batch": _BATCH,
    "cpt.grad_accum": _BATCH,
    "cpt.lr": _LR,
    "cpt.weight_decay": _FRACTION,
    "cpt.beta1": Range(0, 1, hi_open=True),  # torch's AdamW refuses 1
    "cpt.beta2": Range(0, 1, hi_open=True),
    "cpt.warmup_steps": _COUNT,
    "cpt.decay_at": _FRACTION,  # each: a share of the training tokens
    "cpt.decay_to": _FRACTION,  # each: a share of the maximum lr
    "cpt.max_steps": _COUNT,  # 0: from max_tokens
    "cpt.max_tokens": _COUNT,
    "cpt.grad_clip": Range(0),  # 0: no clipping
    "cpt.seed": _SEED,
    "cpt.save_every": _COUNT,  # 0: only the final model
    "cpt.logging_steps": _COUNT,
    "grpo.num_generations": Range(2, 65_536),  # advantages are relative to the group: one output has none
    "grpo.questions_per_step": _BATCH,
    "grpo.steps_per_iteration": _POSITIVE_INT,
    "grpo.rl_iterations": Range(1, 1000),
    "grpo.learning_rate": _LR,
    "grpo.beta": Range(0, 100),
    "grpo.epsilon": Range(0, 1, lo_open=True),  # 0 freezes the policy, > 1 makes 1 - eps negative
    "grpo.epsilon_high": Range(0, 10, lo_open=True),  # null: = epsilon; DAPO's clip-higher uses 0.28
    "grpo.num_iterations": Range(1, 100),
    "grpo.max_completion_length": _TOKENS,
    "grpo.temperature": Range(0, 10, lo_open=True),  # log-probs are divided by it
    "grpo.top_p": Range(0, 1, lo_open=True),  # 0 would keep no token at all
    "grpo.max_resample_rounds": Range(0, 1000),  # 0: dynamic sampling only drops groups
    "grpo.replay_share": _FRACTION,
    "grpo.rm_lr": _LR,
    "grpo.rm_epochs": Range(1, 1000),
    "grpo.rm_batch_size": _BATCH,
    "grpo.prm_lr": _LR,
    "grpo.prm_epochs": Range(1, 1000),
    "grpo.prm_batch_size": _BATCH,
    "grpo.prm_solutions_per_question": _BATCH,
    "grpo.prm_completions": Range(1, 1024),  # each step prefix costs this many sampled continuations
    "grpo.prm_min_share": _FRACTION,  # a share of the continuations
    "grpo.rollout_questions": _BATCH,
    "grpo.micro_batch": _BATCH,
    "grpo.max_grad_norm": _POSITIVE,  # clipping to 0 would zero every gradient
    "grpo.seed": _SEED,
    "grpo.logging_steps": _COUNT,  # 0: the first and last steps only
    "evaluate.n_samples": Range(1, 100_000),
    "evaluate.ks": Range(1, 100_000),  # each; none above n_samples (see _RELATIONS)
    "evaluate.temperature": Range(0, 10, lo_open=True),
    "evaluate.max_new_tokens": _TOKENS,
    "evaluate.seed": _SEED,
    "evaluate.limit": _COUNT,  # 0: all problems
    "demo.seed": _SEED,
    "demo.train_docs": _POSITIVE_INT,
    "demo.vocab_size": Range(258, 1_000_000),  # the 256 bytes and 2 special tokens
    "demo.n_layer": Range(1, 1024),
    "demo.n_embd": Range(1, 65_536),
    "demo.n_head": Range(1, 1024),
    "demo.cpt_steps": _POSITIVE_INT,
    "demo.cpt_lr": _LR,
    "demo.rl_problems": _POSITIVE_INT,
    "demo.eval_problems": _POSITIVE_INT,
    "demo.grpo_steps": _POSITIVE_INT,
    "demo.group_size": Range(2, 65_536),
    "demo.questions_per_step": _BATCH,
    "demo.grpo_lr": _LR,
    "demo.beta": Range(0, 100),
    "demo.num_iterations": Range(1, 100),
    "demo.max_new_tokens": _TOKENS,
    "demo.temperature": Range(0, 10, lo_open=True),  # log-probs are divided by it
    "demo.eval_samples": Range(1, 100_000),
    "demo.threads": Range(0, 1024),  # 0: torch's default
}

# Knobs that must agree with each other, checked after the ranges: (keys, holds, what must hold).
_RELATIONS: list[tuple[tuple[str, ...], Callable[[Settings], bool], str]] = [
    (("dedup.bands", "dedup.rows"), lambda s: (s.dedup.bands == 0) == (s.dedup.rows == 0),
     "set both dedup.bands and dedup.rows, or neither (0 and 0: chosen for dedup.threshold)"),
    (("dedup.bands", "dedup.rows", "dedup.num_perm"),
     lambda s: s.dedup.bands * s.dedup.rows <= s.dedup.num_perm,
     "dedup.bands x dedup.rows must not exceed dedup.num_perm"),
    (("decontaminate.min_ngram", "decontaminate.ngram"),
     lambda s: s.decontaminate.min_ngram <= s.decontaminate.ngram,
     "decontaminate.min_ngram must not exceed decontaminate.ngram"),
    (("decontaminate.min_prose_words", "decontaminate.ngram"),
     lambda s: s.decontaminate.min_prose_words <= s.decontaminate.ngram,
     "decontaminate.min_prose_words must not exceed decontaminate.ngram"),
    (("decontaminate.formula_run_words", "decontaminate.ngram"),
     lambda s: s.decontaminate.ngram <= s.decontaminate.formula_run_words,
     "decontaminate.formula_run_words must be at least decontaminate.ngram"),
    (("cpt.n_embd", "cpt.n_head"), lambda s: bool(s.cpt.model) or s.cpt.n_embd % s.cpt.n_head == 0,
     "cpt.n_embd must be a multiple of cpt.n_head (a from-scratch model splits it into heads)"),
    (("cpt.decay_at", "cpt.decay_to"), lambda s: len(s.cpt.decay_at) == len(s.cpt.decay_to),
     "cpt.decay_at and cpt.decay_to must be lists of the same length"),
    # Dr. GRPO is both a constant per-output normaliser and no std scaling (pipeline/train/settings.py)
    (("grpo.loss_type", "grpo.scale_rewards"),
     lambda s: dr_grpo_consistent(s.grpo.loss_type, s.grpo.scale_rewards),
     "grpo.loss_type dr_grpo is Dr. GRPO, which also drops the std scaling: set grpo.scale_rewards: none"),
    (("evaluate.ks", "evaluate.n_samples"), lambda s: max(s.evaluate.ks, default=0) <= s.evaluate.n_samples,
     "every evaluate.ks must be at most evaluate.n_samples (pass@k draws k of the n samples)"),
]


_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Check `value` against the annotation `tp`; return it (ints widen to float)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__} {value!r}", key)
        return _build(tp, value, key + ".")
    if origin in (types.UnionType, typing.Union):
        for option in typing.get_args(tp):
            try:
                return _coerce(key, value, option)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}", key)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}", key)
        return [_coerce(f"{key}[{i}]", item, item_tp) for i, item in enumerate(value)]
    if origin is dict:
        _, val_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__} {value!r}", key)
        return {str(k): _coerce(f"{key}.{k}", v, val_tp) for k, v in value.items()}
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{key}: expected null, got {value!r}", key)
    is_bool = isinstance(value, bool)
    if tp is bool and is_bool:
        return value
    if tp is int and isinstance(value, int) and not is_bool:
        return value
    if tp is float and isinstance(value, (int, float)) and not is_bool:
        return float(value)
    if tp is float and isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
        return float(value)  # YAML 1.1 reads 1e-4 (no dot) as a string
    if tp is str and isinstance(value, (str, int, float)) and not is_bool:
        return str(value)
    raise ConfigError(f"{key}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}", key)


def _build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names and (new := RENAMED.get(prefix + key)):
            raise ConfigError(f"{prefix}{key} is now {new} (TRL's GRPOConfig name): use {new}",
                              f"{prefix}{key}")
        if key not in names:
            raise ConfigError(f"unknown config key '{prefix}{key}' (known: {', '.join(sorted(names))})",
                              f"{prefix}{key}")
    values = {}
    for name in names:
        if name in data:
            full = prefix + name
            values[name] = _coerce(full, data[name], hints[name])
            if full in _CHOICES and values[name] not in _CHOICES[full]:
                choices = " | ".join(sorted(_CHOICES[full]))
                raise ConfigError(f"{full}: expected one of {choices}, got {values[name]!r}", full)
    return cls(**values)


def _apply_override(data: dict[str, Any], item: str) -> str:
    """Set one `key=value` in the loaded YAML data; returns the key."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected key=value")
    key, raw = item.split("=", 1)
    key = key.strip()
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: value {raw!r} is not valid YAML ({exc.__class__.__name__})") from exc
    node = data
    parts = key.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key}: '{part}' is not a section")
        node = child
    node[parts[-1]] = value
    return key


def _value_at(settings: Settings, key: str) -> Any:
    value: Any = settings
    for part in key.split("."):
        value = getattr(value, part)
    return value


def check_value(key: str, value: Any, name: str = "") -> None:
    """Raise ConfigError unless `value` (each item, for a list) is in the range RANGES[key] declares;
    the message calls the value `name` (default: the key), e.g. '--iterations'. None passes: only an
    optional knob can hold it (the types are checked first), and there it means "derived" (epsilon_high)."""
    if value is None:
        return
    allowed = RANGES[key]
    items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
    for index, item in items:
        if item not in allowed:
            what = (name or key) + ("" if index is None else f"[{index}]")
            # the kind follows the schema's type (int fields hold ints), whatever was given
            integer = isinstance(item, int) and not isinstance(item, bool)
            raise ConfigError(f"{what} must be {allowed.describe(integer)}, got {item!r}", key)


def check_settings(settings: Settings) -> None:
    """Every range of RANGES and every relation between knobs; ConfigError on the first that fails."""
    for key in RANGES:
        check_value(key, _value_at(settings, key))
    for keys, holds, what in _RELATIONS:
        if not holds(settings):
            got = ", ".join(f"{key}={_value_at(settings, key)!r}" for key in keys)
            raise ConfigError(f"{what}, got {got}", *keys)


def _origin(keys: tuple[str, ...], overrides: dict[str, str], path: Path) -> str:
    """Where the values of `keys` came from: the `--set` items that gave them, else the file."""
    def covers(given: str, key: str) -> bool:  # `--set ingest={...}` gives ingest.max_html_bytes too
        return key == given or key.startswith((given + ".", given + "["))

    items = [item for given, item in overrides.items() if any(covers(given, key) for key in keys)]
    return ", ".join(f"--set {item}" for item in items) or str(path)


def load_settings(conf: str | Path | None = None, overrides: list[str] | None = None) -> Settings:
    """Read a YAML file (default conf/default.yaml), apply `key=value` overrides, validate types,
    choices, ranges and relations. Any problem is one ConfigError line naming its origin and key."""
    path = Path(conf) if conf else DEFAULT_CONF
    data: dict[str, Any] = {}
    if conf or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            # a ReaderError (a control character) has no `problem`, and str() of any of them spans lines
            reason = " ".join(str(getattr(exc, "problem", None) or exc).split())
            raise ConfigError(f"{path}{where}: invalid YAML ({reason})") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        data = loaded
    given: dict[str, str] = {}  # key -> the --set item that gave it (the last one wins, as in data)
    for item in overrides or []:
        given[_apply_override(data, item)] = item.strip()
    try:
        settings = _build(Settings, data)
        check_settings(settings)
    except ConfigError as exc:
        raise ConfigError(f"{_origin(exc.keys, given, path)}: {exc}", *exc.keys) from None
    if env_master := os.environ.get("SPARK_MASTER"):
        settings.spark.master = env_master
    return settings
