import dataclasses
import re

import pytest
import yaml

from jobs.cli import main
from pipeline.config import DEFAULT_CONF, ConfigError, Range, Settings, load_settings


def _keys(obj, prefix=""):
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _keys(value, f"{prefix}{f.name}.")
        else:
            yield prefix + f.name


def test_default_yaml_documents_every_knob_with_its_default():
    text = DEFAULT_CONF.read_text()
    from_yaml = load_settings(DEFAULT_CONF)
    assert from_yaml == Settings(), "conf/default.yaml and the dataclass defaults disagree"
    data = yaml.safe_load(text)
    for key in _keys(Settings()):
        leaf = key.rsplit(".", 1)[-1]
        assert re.search(rf"^\s*{leaf}:", text, re.M), f"{key} is missing from conf/default.yaml"
        node = data  # in its own section, too: a leaf name another section has does not count
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"{key} is missing from conf/default.yaml"
            node = node[part]


def test_overrides_are_typed():
    s = load_settings(None, ["ingest.max_html_bytes=1000", "extract.backend=trafilatura",
                             "ingest.keep_status=[200, 203]", "storage.retry_base_s=1"])
    assert s.ingest.max_html_bytes == 1000
    assert s.extract.backend == "trafilatura"
    assert s.ingest.keep_status == [200, 203]
    assert s.storage.retry_base_s == 1.0 and isinstance(s.storage.retry_base_s, float)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("ingest.max_htm_bytes=5", "unknown config key 'ingest.max_htm_bytes'"),
        ("ingest.max_html_bytes=lots", "ingest.max_html_bytes: expected int, got str 'lots'"),
        ("ingest.keep_status=200", "ingest.keep_status: expected a list"),
        ("ingest.keep_status=[ok]", "ingest.keep_status[0]: expected int"),
        ("extract.backend=readability", "extract.backend: expected one of resiliparse | trafilatura"),
        ("spark=3", "spark: expected a mapping"),
        ("extract.timeout_s=true", "extract.timeout_s: expected float, got bool"),
        ("nonsense", "expected key=value"),
    ],
)
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError) as info:
        load_settings(None, [override])
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_yaml_file_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("spark:\n  master: local\n  conf: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_settings(bad)
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("ingest:\n  colour: blue\n")
    with pytest.raises(ConfigError, match=r"unknown\.yaml: unknown config key 'ingest.colour'"):
        load_settings(unknown)


def test_spark_master_from_environment(monkeypatch):
    monkeypatch.setenv("SPARK_MASTER", "spark://127.0.0.1:7077")
    assert load_settings().spark.master == "spark://127.0.0.1:7077"


def test_cli_reports_config_error_in_one_line(capsys):
    assert main(["extract", "nothing.html", "--set", "extract.bakend=x"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mathmine: error: --set extract.bakend=x: ")
    assert "unknown config key 'extract.bakend'" in err[0]


def test_ranges_describe_themselves_and_hold_only_finite_numbers():
    assert Range(1, 4096).describe(integer=True) == "an integer in [1, 4096]"
    assert Range(0, 1, lo_open=True).describe(integer=False) == "a number in (0, 1]"
    assert Range(0, 1, hi_open=True).describe(integer=False) == "a number in [0, 1)"
    assert Range(0.5, 2.5).describe(integer=False) == "a number in [0.5, 2.5]"
    assert Range(0).describe(integer=True) == "an integer >= 0"
    assert Range(0, lo_open=True).describe(integer=False) == "a number > 0"
    assert 0 in Range(0) and 0 not in Range(0, lo_open=True) and 1 in Range(0, 1) and 1 not in Range(0, 1, hi_open=True)
    for bad in (float("nan"), float("inf"), True, "1", None):
        assert bad not in Range(0)


def test_the_last_set_of_a_key_wins_and_is_the_one_named():
    assert load_settings(None, ["dedup.num_perm=0", "dedup.num_perm=64"]).dedup.num_perm == 64
    with pytest.raises(ConfigError, match=r"^--set dedup.num_perm=0: dedup.num_perm must be"):
        load_settings(None, ["dedup.num_perm=64", "dedup.num_perm=0"])


def test_unreadable_config_files_are_one_line(tmp_path):
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("spark:\n  app_name: caf\u00e9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin1\.yaml: not UTF-8 text \(byte \d+\)"):
        load_settings(latin1)
    control = tmp_path / "control.yaml"
    control.write_bytes(b"spark:\n  app_name: a\x07b\n")  # yaml's ReaderError: no mark, a multi-line str()
    with pytest.raises(ConfigError, match=r"control\.yaml: invalid YAML") as info:
        load_settings(control)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=r"cannot read config"):
        load_settings(tmp_path)  # a folder
