from __future__ import annotations

import dataclasses

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


def test_the_source_follows_the_options_given():
    assert RunConfig().source == "synthetic"
    assert RunConfig(refer_root="data/refer").source == "refer"
    assert RunConfig(disk_path="prepared").source == "disk"
    assert RunConfig(source="refer", refer_root="data/refer") == RunConfig(refer_root="data/refer")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"refer_root": "data/refer", "disk_path": "prepared"}, ("refer_root='data/refer'", "disk_path='prepared'")),
        ({"source": "synthetic", "refer_root": "data/refer"}, ("source='synthetic'", "refer_root='data/refer'")),
        ({"source": "disk", "refer_root": "data/refer"}, ("source='disk'", "refer_root='data/refer'")),
    ],
)
def test_contradicting_sources_name_both_and_the_fix(options, named):
    with pytest.raises(ConfigError) as info:
        RunConfig(**options)
    message = str(info.value)
    assert all(name in message for name in named) and "Fix:" in message


@pytest.mark.parametrize(
    ("text", "suffix"),
    [("source: synthetic\nrefer_root: data/refer\n", ".yaml"), ('refer_root = "r"\ndisk_path = "d"\n', ".toml")],
)
def test_config_files_follow_the_same_source_rules(tmp_path, text, suffix):
    (tmp_path / f"run{suffix}").write_text(text)
    with pytest.raises(ConfigError, match="Fix:"):
        RunConfig.load(tmp_path / f"run{suffix}")
    (tmp_path / "refer.yaml").write_text("refer_root: data/refer\ndataset: refcocog\nsplit_by: umd\n")
    assert RunConfig.load(tmp_path / "refer.yaml").source == "refer"


def test_source_options_given_as_overrides_replace_the_files_choice():
    from_file = RunConfig(refer_root="data/refer")
    assert from_file.override(disk_path="prepared").source == "disk"
    assert from_file.override(disk_path="prepared").refer_root is None
    assert RunConfig().override(refer_root="data/refer").source == "refer"
    assert from_file.override(num_negatives=3).source == "refer"
    with pytest.raises(ConfigError, match="source='synthetic' contradicts refer_root"):
        RunConfig().override(source="synthetic", refer_root="data/refer")


def test_closed_fields_are_checked_against_their_registries():
    with pytest.raises(ConfigError, match="rewriters holds 'synonym', which is not valid; choose one of 'attribute'"):
        RunConfig(rewriters=("negation", "synonym"))
    with pytest.raises(ConfigError, match="backend='llava' is not valid; choose one of 'rules'"):
        RunConfig(backend="llava")
    with pytest.raises(ConfigError, match="mining_sources is empty"):
        RunConfig(mining_sources=())
    with pytest.raises(ConfigError, match="split_by='umd' is not a split scheme of refcoco; choose one of 'unc'"):
        RunConfig(refer_root="data/refer", split_by="umd")
    assert RunConfig(dataset="my-export").dataset == "my-export"  # free unless the source is refer


def test_defaults_and_choices_are_the_registries():
    from refaug.clusters import CLUSTER_METHODS
    from refaug.config import FIELD_CHOICES, FIELD_HELP, OPTION_GROUPS, field_choices
    from refaug.mining import DEFAULT_RELATIVE_MARGIN, DEFAULT_SIMILARITY_FLOOR, SELECTIONS, SOURCES
    from refaug.rewrite.registry import REWRITER_NAMES
    from refaug.views.backends import BACKEND_MODULES

    config = RunConfig()
    assert config.rewriters == REWRITER_NAMES
    assert config.mining_sources == SOURCES
    assert config.relative_margin == DEFAULT_RELATIVE_MARGIN
    assert config.similarity_floor == DEFAULT_SIMILARITY_FLOOR
    assert field_choices("selection") == SELECTIONS and config.selection == SELECTIONS[0]
    assert config.method == "contrast" and config.require_verified
    assert field_choices("method") == CLUSTER_METHODS
    assert field_choices("backend") == tuple(BACKEND_MODULES)
    assert field_choices("on_error") == ("raise", "skip")
    assert set(FIELD_CHOICES) <= set(FIELD_HELP)
    names = {f.name for f in dataclasses.fields(RunConfig)} - {"extra"}
    assert set(FIELD_HELP) == names
    assert {h.group for h in FIELD_HELP.values()} == set(OPTION_GROUPS)


def test_adversarial_defaults_agree_with_the_filter_and_are_checked():
    from refaug.plausibility.adversarial import (
        DEFAULT_MAX_SHARE,
        DEFAULT_MODELS,
        DEFAULT_TARGET_AUC,
    )

    config = RunConfig()
    assert (config.adversarial_auc, config.adversarial_max_share, config.adversarial_models) == (
        DEFAULT_TARGET_AUC, DEFAULT_MAX_SHARE, DEFAULT_MODELS)
    assert config.negated_positives is True
    from refaug.config import field_choices
    from refaug.plausibility.published import BALANCE_MODES

    assert config.form_balance == "rate" and field_choices("form_balance") == BALANCE_MODES
    with pytest.raises(ConfigError, match="form_balance='image' is not valid; choose one of 'rate', 'referent'"):
        RunConfig(form_balance="image")
    with pytest.raises(ConfigError, match="adversarial_max_share"):
        RunConfig(adversarial_max_share=1.5)
    with pytest.raises(ConfigError, match="adversarial_models"):
        RunConfig(adversarial_models=1)
