import dataclasses
import re

import pytest
import yaml

from jobs.cli import main
from pipeline.config import DEFAULT_CONF, RENAMED, ConfigError, Range, Settings, load_settings


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


@pytest.mark.parametrize(("old", "new"), sorted(RENAMED.items()))
def test_an_old_training_key_names_its_new_name(tmp_path, old, new):
    """The keys renamed to TRL's GRPOConfig names (issue 15): a `--set` or a config file with the old key
    is one ConfigError naming the new key, not "unknown key" and a list to search."""
    with pytest.raises(ConfigError) as info:
        load_settings(None, [f"{old}=1"])
    assert str(info.value) == f"--set {old}=1: {old} is now {new} (TRL's GRPOConfig name): use {new}"
    assert info.value.exit_code == 2
    section, leaf = old.split(".")
    conf = tmp_path / "old.yaml"
    conf.write_text(f"{section}:\n  {leaf}: 1\n")
    with pytest.raises(ConfigError, match=f"^{conf}: {old} is now {new} "):
        load_settings(conf)


def test_cli_refuses_an_old_training_key_in_one_line(capsys):
    assert main(["train", "eval", "--model", "m", "--problems", "p", "--set", "grpo.group_size=8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mathmine: error: --set grpo.group_size=8: grpo.group_size is now grpo.num_generations "
                   "(TRL's GRPOConfig name): use grpo.num_generations"]


def test_grpo_choices_and_the_dr_grpo_relation():
    s = load_settings(None, ["grpo.loss_type=dapo", "grpo.scale_rewards=batch", "grpo.epsilon_high=0.28",
                             "grpo.report_to=tensorboard"])
    assert (s.grpo.loss_type, s.grpo.scale_rewards, s.grpo.epsilon_high, s.grpo.report_to) == (
        "dapo", "batch", 0.28, "tensorboard")
    assert load_settings().grpo.epsilon_high is None  # null: the same as epsilon
    for override, message in [("grpo.loss_type=sum", "grpo.loss_type: expected one of bnpo | dapo | dr_grpo | grpo"),
                              ("grpo.scale_rewards=std", "grpo.scale_rewards: expected one of batch | group | none"),
                              ("grpo.report_to=wandb", "grpo.report_to: expected one of none | tensorboard"),
                              ("cpt.report_to=wandb", "cpt.report_to: expected one of none | tensorboard"),
                              ("grpo.epsilon_high=0", "grpo.epsilon_high must be a number in (0, 10], got 0.0")]:
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_settings(None, [override])
    with pytest.raises(ConfigError, match=r"also drops the std scaling: set grpo\.scale_rewards: none"):
        load_settings(None, ["grpo.loss_type=dr_grpo"])
    assert load_settings(None, ["grpo.loss_type=dr_grpo", "grpo.scale_rewards=none"]).grpo.loss_type == "dr_grpo"
