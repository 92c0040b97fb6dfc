import dataclasses
import re

import pytest

from jobs.cli import main
from pipeline.config import DEFAULT_CONF, ConfigError, Settings, load_settings


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
    for key in _keys(Settings()):
        leaf = key.rsplit(".", 1)[-1]
        assert re.search(rf"^\s*{leaf}:", text, re.M), f"{key} is missing from conf/default.yaml"


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
    assert len(err) == 1 and "unknown config key 'extract.bakend'" in err[0]
