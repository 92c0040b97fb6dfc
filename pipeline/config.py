"""Load YAML config plus `--set key=value` overrides into typed, validated settings.

The dataclasses below are the schema: every knob has a type and a default here, and
conf/default.yaml documents each one (a test keeps the two in step). An unknown key or a
value of the wrong type is one ConfigError line naming the key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipeline.train.settings import CPTConfig, DemoConfig, EvalConfig, GRPOConfig

DEFAULT_CONF = Path(__file__).resolve().parent.parent / "conf" / "default.yaml"


class ConfigError(ValueError):
    """A bad config file, key or value; the message is one line meant for the user."""


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
    "recall.rule": {"threshold", "top_pages", "top_tokens"},
    "grpo.supervision": {"outcome", "process"},
}


_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(key: str, value: Any, tp: Any) -> Any:
    """Check `value` against the annotation `tp`; return it (ints widen to float)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__} {value!r}")
        return _build(tp, value, key + ".")
    if origin in (types.UnionType, typing.Union):
        for option in typing.get_args(tp):
            try:
                return _coerce(key, value, option)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        return [_coerce(f"{key}[{i}]", item, item_tp) for i, item in enumerate(value)]
    if origin is dict:
        _, val_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__} {value!r}")
        return {str(k): _coerce(f"{key}.{k}", v, val_tp) for k, v in value.items()}
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"{key}: expected null, got {value!r}")
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
    raise ConfigError(f"{key}: expected {_type_name(tp)}, got {type(value).__name__} {value!r}")


def _build(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in names:
            raise ConfigError(f"unknown config key '{prefix}{key}' (known: {', '.join(sorted(names))})")
    values = {}
    for name in names:
        if name in data:
            full = prefix + name
            values[name] = _coerce(full, data[name], hints[name])
            if full in _CHOICES and values[name] not in _CHOICES[full]:
                choices = " | ".join(sorted(_CHOICES[full]))
                raise ConfigError(f"{full}: expected one of {choices}, got {values[name]!r}")
    return cls(**values)


def _apply_override(data: dict[str, Any], item: str) -> None:
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


def load_settings(conf: str | Path | None = None, overrides: list[str] | None = None) -> Settings:
    """Read a YAML file (default conf/default.yaml), apply `key=value` overrides, validate."""
    path = Path(conf) if conf else DEFAULT_CONF
    data: dict[str, Any] = {}
    if conf or path.exists():
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from exc
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f":{mark.line + 1}" if mark else ""
            raise ConfigError(f"{path}{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping")
        data = loaded
    for item in overrides or []:
        _apply_override(data, item)
    try:
        settings = _build(Settings, data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if env_master := os.environ.get("SPARK_MASTER"):
        settings.spark.master = env_master
    return settings
