from __future__ import annotations

import pytest

from refaug.cli import main
from refaug.config import RunConfig
from refaug.errors import ConfigError


@pytest.mark.parametrize("suffix", [".yaml", ".toml"])
def test_round_trip_through_yaml_and_toml(tmp_path, suffix):
    config = RunConfig(
        source="refer",
        refer_root="/data/refer",
        dataset="refcocog",
        split_by="umd",
        rewriters=("negation",),
        threshold=0.65,
        same_class=True,
        max_similarity=0.9,
    )
    path = config.save(tmp_path / f"run{suffix}")
    assert RunConfig.load(path) == config


def test_unknown_fields_and_bad_values_name_the_fix(tmp_path):
    (tmp_path / "bad.yaml").write_text("treshold: 0.5\n")
    with pytest.raises(ConfigError, match="unknown fields treshold; valid fields: .*threshold"):
        RunConfig.load(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="method='cosine' is not valid; choose one of 'centroid'"):
        RunConfig(method="cosine")
    with pytest.raises(ConfigError, match="refer_root"):
        RunConfig(source="refer")
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(ConfigError, match="use .yaml, .yml or .toml"):
        RunConfig.load(tmp_path / "run.json")


def test_override_ignores_fields_not_given():
    config = RunConfig(threshold=0.6).override(
        threshold=None, backend="rules", rewriters=["attribute"]
    )
    assert config.threshold == 0.6 and config.rewriters == ("attribute",)


def test_cli_options_override_the_config_file(tmp_path, monkeypatch):
    captured = {}

    class FakePipeline:  # records the config the CLI built; the real pipeline is tested elsewhere
        def __init__(self, config):
            captured["config"] = config

        def run(self):
            raise SystemExit(0)

    monkeypatch.setattr("refaug.pipeline.Pipeline", FakePipeline)
    RunConfig(threshold=0.6, out=str(tmp_path / "a")).save(tmp_path / "run.yaml")
    with pytest.raises(SystemExit):
        main(
            [
                "run",
                "--config",
                str(tmp_path / "run.yaml"),
                "--threshold",
                "0.8",
                "--no-same-class",
                "--rewriters",
                "negation",
                "attribute",
                "--limit",
                "5",
            ]
        )
    config = captured["config"]
    assert config.threshold == 0.8 and config.same_class is False
    assert config.rewriters == ("negation", "attribute") and config.limit == 5
    assert config.out == str(tmp_path / "a")
