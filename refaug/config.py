"""The typed run configuration: loads from and saves to YAML or TOML, every field overridable.

Example:
    >>> config = RunConfig(source="synthetic", synthetic_images=8)
    >>> config.save("run.yaml")                                   # doctest: +SKIP
    >>> RunConfig.load("run.yaml").override(backend="rules")     # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, get_args, get_type_hints

import yaml

from refaug.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

Source = Literal["synthetic", "refer", "disk"]
Method = Literal["centroid", "radius", "nearest", "contrast"]


@dataclass(frozen=True)
class RunConfig:
    """Everything a ``refaug run`` needs. Fields group by the stage that reads them.

    Args:
        source: where rows come from: ``synthetic`` scenes, a ``refer`` folder, or a ``disk``
            folder written by ``save_to_disk``.
        refer_root, dataset, split_by, images, on_error: the refer loader's arguments.
        disk_path: the ``save_to_disk`` folder when ``source="disk"``.
        splits: the splits to process (empty: all).
        limit: process at most this many referents per split (None: all).
        synthetic_images, seed: the synthetic source's size and seed (the seed also drives
            every random choice later).
        backend, model, base_url, template, view_batch_size, max_retries: the view stage.
        rewriters, max_per_text: the rewrite stage (empty ``rewriters`` skips it).
        embedder, embed_batch_size: the sentence encoder (None: all-MiniLM-L6-v2).
        method, threshold: the cluster judgement (threshold None: the method's calibrated
            default, see refaug.clusters.DEFAULT_THRESHOLDS).
        num_negatives, sources, same_class, max_similarity, relative_margin, diversity: mining.
        out: the run folder.
        to_refer: also export a refer-toolkit folder to ``<out>/refer``.
    """

    # load
    source: Source = "synthetic"
    refer_root: str | None = None
    dataset: str = "refcoco"
    split_by: str = "unc"
    images: str | None = None
    on_error: Literal["raise", "skip"] = "raise"
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
    rewriters: tuple[str, ...] = ("attribute", "negation", "role_reversal")
    max_per_text: int = 8
    # embed, classify, mine
    embedder: str | None = None
    embed_batch_size: int = 128
    method: Method = "centroid"
    threshold: float | None = None
    num_negatives: int = 30
    mining_sources: tuple[str, ...] = ("same_image", "cross_image", "distractors")
    same_class: bool = False
    max_similarity: float | None = None
    relative_margin: float | None = 0.05
    diversity: float = 0.0
    # publish
    out: str = "runs/refaug"
    to_refer: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        hints = get_type_hints(RunConfig)
        for f in fields(self):
            value = getattr(self, f.name)
            choices = _literal_choices(hints[f.name])
            if choices and value not in choices:
                valid = ", ".join(repr(c) for c in choices)
                raise ConfigError(f"{f.name}={value!r} is not valid; choose one of {valid}")
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        if self.source == "refer" and not self.refer_root:
            raise ConfigError("source='refer' needs refer_root (--refer-root DIR)")
        if self.source == "disk" and not self.disk_path:
            raise ConfigError("source='disk' needs disk_path (--disk-path DIR)")

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
        """A copy with the given fields changed (None values are ignored: "not given")."""
        given = {k: v for k, v in changes.items() if v is not None}
        return self.from_dict({**self.to_dict(), **given}, where="overrides")

    def digest(self, names: tuple[str, ...]) -> str:
        """A stable digest of the named fields (a stage's fingerprint input)."""
        data = self.to_dict()
        return json.dumps({n: data[n] for n in names}, sort_keys=True, default=str)


def _literal_choices(hint: Any) -> tuple[Any, ...]:
    args = get_args(hint)
    if args and all(isinstance(a, (str, int, bool)) for a in args) and getattr(hint, "__origin__", None) is Literal:
        return args
    return ()


def _to_toml(data: dict[str, Any]) -> str:
    lines = []
    for key, value in data.items():
        if value is None:
            continue  # TOML has no null: a missing key means the default (None)
        lines.append(f"{key} = {json.dumps(value) if not isinstance(value, dict) else _inline(value)}")
    return "\n".join(lines) + "\n"


def _inline(value: dict[str, Any]) -> str:
    return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }"
