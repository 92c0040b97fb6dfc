"""Hostile settings and arguments: every numeric knob has a range that load_settings enforces, and
every bad setting, argument or input the CLI can see before it starts a job is one line
`mathmine: error: ...` on stderr naming the key or file, a non-zero exit (2: usage or config,
1: data), and never a traceback. The CLI checks run in a subprocess (the real `mathmine`), before
Spark starts, so each takes about a second."""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
import sys
import types
import typing
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.config import (
    DEFAULT_CONF,
    RANGES,
    ConfigError,
    Range,
    Settings,
    UserError,
    check_value,
    load_settings,
)
from tests.conftest import ROOT

MATHMINE = [sys.executable, "-m", "jobs.cli"]


def _numeric_knobs(cls: type = Settings, prefix: str = "") -> dict[str, bool]:
    """Dotted key -> whether it holds integers, for every int, float, list[int] and list[float] knob."""
    out: dict[str, bool] = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.update(_numeric_knobs(tp, f"{prefix}{f.name}."))
            continue
        item = typing.get_args(tp)[0] if typing.get_origin(tp) is list else tp
        if typing.get_origin(item) in (types.UnionType, typing.Union):  # `float | None`: an optional number
            item = next((t for t in typing.get_args(item) if t is not type(None)), item)
        if item in (int, float):
            out[prefix + f.name] = item is int
    return out


def _yaml_numeric_keys(node: object, prefix: str = "") -> list[str]:
    """Dotted keys of conf/default.yaml whose value is a number or a list of numbers."""
    if isinstance(node, dict):
        return [k for key, value in node.items() for k in _yaml_numeric_keys(value, f"{prefix}{key}.")]
    values = node if isinstance(node, list) else [node]
    numeric = values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    return [prefix.rstrip(".")] if numeric else []


def _value_of(settings: Settings, key: str) -> object:
    value: object = settings
    for part in key.split("."):
        value = getattr(value, part)
    return value


KNOBS = _numeric_knobs()


# -- the range table --------------------------------------------------------------------------------
def test_every_numeric_knob_has_a_range_that_holds_its_default():
    yaml_keys = _yaml_numeric_keys(yaml.safe_load(DEFAULT_CONF.read_text()))
    assert "dedup.num_perm" in yaml_keys and "cpt.decay_at" in yaml_keys  # the walk finds them
    assert not set(yaml_keys) - set(RANGES), "numeric keys of conf/default.yaml without a range in RANGES"
    assert not set(KNOBS) - set(RANGES), "numeric knobs without a range in pipeline.config.RANGES"
    assert not set(RANGES) - set(KNOBS), "RANGES names keys that are not numeric knobs"
    defaults = Settings()
    for key in RANGES:
        check_value(key, _value_of(defaults, key))  # raises ConfigError if the default is outside
    # the shipped configs load as they are
    load_settings(DEFAULT_CONF)
    load_settings(ROOT / "conf" / "cluster.yaml")


def _outside(allowed: Range, integer: bool) -> list[int | float]:
    """The nearest values just outside `allowed`, of the knob's own type."""
    step = 1 if integer else 0.5
    out: list[int | float] = []
    if allowed.lo is not None:
        out.append(allowed.lo if allowed.lo_open else allowed.lo - step)
    if allowed.hi is not None:
        out.append(allowed.hi if allowed.hi_open else allowed.hi + step)
    if not integer:
        out.append(math.inf)
    return [int(v) if integer and v != math.inf else float(v) for v in out]


CASES = [(key, bad) for key, integer in KNOBS.items() for bad in _outside(RANGES[key], integer)]


@pytest.fixture(scope="module")
def no_conf(tmp_path_factory) -> Path:
    """An empty config file: the dataclass defaults (which conf/default.yaml repeats, see test_config)
    without parsing that file ~300 times (pure-Python YAML: most of this file's time otherwise)."""
    path = tmp_path_factory.mktemp("conf") / "empty.yaml"
    path.write_text("")
    return path


@pytest.mark.parametrize(("key", "bad"), CASES, ids=[f"{k}={v}" for k, v in CASES])
def test_every_range_rejects_the_values_just_outside_it(no_conf, key, bad):
    allowed = RANGES[key]
    is_list = isinstance(_value_of(Settings(), key), list)
    raw = ".inf" if bad == math.inf else repr(bad)
    override = f"{key}=[{raw}]" if is_list else f"{key}={raw}"
    with pytest.raises(ConfigError) as info:
        load_settings(no_conf, [override])
    message = str(info.value)
    name = f"{key}[0]" if is_list else key
    assert message == f"--set {override}: {name} must be {allowed.describe(KNOBS[key])}, got {bad!r}"
    assert info.value.exit_code == 2
    # and the ends that are in the range pass
    for end, open_ in ((allowed.lo, allowed.lo_open), (allowed.hi, allowed.hi_open)):
        if end is not None and not open_:
            check_value(key, [end] if is_list else end)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["dedup.bands=4"], "set both dedup.bands and dedup.rows, or neither"),
        (["dedup.bands=20", "dedup.rows=20"], "dedup.bands x dedup.rows must not exceed dedup.num_perm"),
        (["decontaminate.min_ngram=11"], "decontaminate.min_ngram must not exceed decontaminate.ngram"),
        (["decontaminate.ngram=30"], "decontaminate.formula_run_words must be at least decontaminate.ngram"),
        (["cpt.n_embd=66"], "cpt.n_embd must be a multiple of cpt.n_head"),
        (["cpt.decay_at=[0.5]"], "cpt.decay_at and cpt.decay_to must be lists of the same length"),
        (["evaluate.n_samples=8"], "every evaluate.ks must be at most evaluate.n_samples"),
    ],
)
def test_knobs_that_must_agree_are_checked_together(overrides, message):
    with pytest.raises(ConfigError) as info:
        load_settings(None, overrides)
    text = str(info.value)
    assert message in text and "\n" not in text
    assert text.startswith(", ".join(f"--set {o}" for o in overrides) + ": ")
    load_settings(None, ["dedup.bands=16", "dedup.rows=8", "cpt.model=some/folder", "cpt.n_embd=66"])


def test_a_bad_value_names_the_file_or_the_set_that_gave_it(tmp_path):
    conf = tmp_path / "mine.yaml"
    conf.write_text("dedup:\n  num_perm: 0\n")
    with pytest.raises(ConfigError, match=r"^.*mine\.yaml: dedup\.num_perm must be an integer in \[1, 4096\], "
                                          r"got 0$"):
        load_settings(conf)
    # a --set fixing the file's value wins; one giving a whole section is named for its keys
    assert load_settings(conf, ["dedup.num_perm=64"]).dedup.num_perm == 64
    with pytest.raises(ConfigError, match=r"^--set ingest=\{max_html_bytes: -1\}: ingest\.max_html_bytes must"):
        load_settings(None, ["ingest={max_html_bytes: -1}"])
    with pytest.raises(ConfigError, match=r"recall\.threshold must be a number in \[0, 1\], got nan"):
        load_settings(None, ["recall.threshold=.nan"])


def test_a_corrupt_state_json_is_a_user_error_naming_it(tmp_path):
    from jobs.steps import read_state
    from pipeline import fs

    store = fs.Store()
    assert read_state(store, str(tmp_path))["steps"] == {}  # none yet: a fresh run
    (tmp_path / "state.json").write_text('{"version": 2, "steps": {"ingest": {"stats": "pages/_stats.json"}}}')
    assert "ingest" in read_state(store, str(tmp_path))["steps"]
    for text in ('{"version": 2, "ste', "[]", '{"version": 2, "steps": []}', '{"version": 2, "steps": {"a": 1}}'):
        (tmp_path / "state.json").write_text(text)
        with pytest.raises(UserError, match=r"state\.json: not a valid run state") as info:
            read_state(store, str(tmp_path))
        assert info.value.exit_code == 1 and "\n" not in str(info.value)
    (tmp_path / "state.json").write_bytes(b"\xff\xfe{}")
    with pytest.raises(UserError, match="not a valid run state"):
        read_state(store, str(tmp_path))


# -- the real command line --------------------------------------------------------------------------
def mathmine(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "SPARK_MASTER"}
    # 120 s: on the code before these checks some of these commands started Spark (or a whole run)
    return subprocess.run([*MATHMINE, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env)


def assert_one_line(result: subprocess.CompletedProcess, code: int, *names: str) -> str:
    """Exit status `code`, and stderr exactly one line `mathmine: error: ...` naming every one of `names`."""
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("mathmine: error: "), lines[0]
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert result.returncode == code, (result.returncode, lines[0])
    return lines[0]


@pytest.mark.parametrize(
    ("command", "override", "allowed"),
    [
        ("dedup", "dedup.num_perm=0", "an integer in [1, 4096]"),
        ("ingest", "ingest.max_html_bytes=-1", "an integer in [1, 2147483647]"),
        ("tokenize", "tokenize.shard_tokens=0", "an integer >= 1"),
        ("ingest", "extract.timeout_s=-1", "a number in [0, 86400]"),
        ("decontaminate", "decontaminate.ngram=0", "an integer in [1, 255]"),
        ("iterate", "recall.chars_per_token=0", "a number in (0, 100]"),
        ("iterate", "domains.max_prefixes=0", "an integer in [1, 10000000]"),
        ("iterate", "classify.holdout=1.5", "a number in [0, 1)"),
    ],
)
def test_cli_refuses_a_setting_out_of_range_in_one_line(tmp_path, command, override, allowed):
    # the paths do not exist: the setting is refused first, before any path (or Spark) is looked at
    paths = {"dedup": ["--pages", "nope", "--out", "out"], "ingest": ["--input", "nope", "--out", "out"],
             "tokenize": ["--corpus", "nope", "--out", "out"], "decontaminate": ["--corpus", "nope", "--out", "o"],
             "iterate": ["--work", str(tmp_path / "run")]}[command]
    key, value = override.split("=")
    line = assert_one_line(mathmine(command, *paths, "--set", override), 2, f"--set {override}:",
                           f"{key} must be {allowed}, got {float(value) if 'number' in allowed else value}")
    assert "nope" not in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("n", ["0", "-2"])
def test_cli_refuses_iterations_below_one(tmp_path, n):
    result = mathmine("iterate", "--work", str(tmp_path / "run"), "--iterations", n)
    assert_one_line(result, 2, "--iterations", "[1, 100]", f"got {n}")
    assert not (tmp_path / "run").exists()


def test_cli_bad_conf_file_is_one_line(tmp_path):
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("spark:\n  app_name: caf\u00e9\n".encode("latin-1"))
    assert_one_line(mathmine("extract", "nothing.html", "--conf", str(latin1)), 2, str(latin1), "UTF-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text("dedup:\n  num_perm: [128\n")
    assert_one_line(mathmine("extract", "nothing.html", "--conf", str(broken)), 2, f"{broken}:", "invalid YAML")
    control = tmp_path / "control.yaml"
    control.write_bytes(b"dedup:\n  num_perm: 1\x0028\n")  # a NUL: yaml's ReaderError spans lines
    assert_one_line(mathmine("extract", "nothing.html", "--conf", str(control)), 2, str(control), "invalid YAML")
    ranged = tmp_path / "ranged.yaml"
    ranged.write_text("tokenize:\n  shard_tokens: 0\n")
    assert_one_line(mathmine("extract", "nothing.html", "--conf", str(ranged)), 2,
                    f"{ranged}: tokenize.shard_tokens must be an integer >= 1, got 0")


def _corpus(folder: Path) -> Path:
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"id": ["a"], "text": ["two plus two is four"]}), folder / "part-00000.parquet")
    return folder


def test_cli_missing_path_arguments_are_one_line(tmp_path):
    missing = str(tmp_path / "missing")
    assert_one_line(mathmine("dedup", "--pages", missing, "--out", str(tmp_path / "o")), 2, f"--pages {missing}")
    assert_one_line(mathmine("tokenize", "--corpus", missing, "--out", str(tmp_path / "o")), 2,
                    f"--corpus {missing}")
    assert_one_line(mathmine("decontaminate", "--corpus", missing, "--out", str(tmp_path / "o")), 2,
                    f"--corpus {missing}")
    corpus = str(_corpus(tmp_path / "corpus"))
    benchmarks = str(tmp_path / "missing.yaml")
    assert_one_line(mathmine("decontaminate", "--corpus", corpus, "--out", str(tmp_path / "o"),
                             "--benchmarks", benchmarks), 2, f"--benchmarks {benchmarks}")
    assert not (tmp_path / "o").exists()


def test_cli_empty_corpus_folder_is_one_line(tmp_path):
    empty = tmp_path / "empty"
    (empty / "_bookkeeping").mkdir(parents=True)
    (empty / "_bookkeeping" / "x.parquet").write_bytes(b"")  # Spark does not read _ folders: still empty
    (empty / "_published.json").write_text('{"files": {}}')
    for command in ("tokenize", "decontaminate"):
        assert_one_line(mathmine(command, "--corpus", str(empty), "--out", str(tmp_path / "o")), 1,
                        f"--corpus {empty}", "no Parquet file")
    assert_one_line(mathmine("dedup", "--pages", str(empty), "--out", str(tmp_path / "o")), 1, f"--pages {empty}")


@pytest.mark.parametrize("command", ["report", "iterate"])
def test_cli_corrupt_state_json_is_one_line(tmp_path, command):
    work = tmp_path / "run"
    work.mkdir()
    (work / "state.json").write_text('{"version": 2, "steps": {"ingest": ')  # cut short, as by a full disk
    assert_one_line(mathmine(command, "--work", str(work)), 1, str(work / "state.json"), "not a valid run state")
