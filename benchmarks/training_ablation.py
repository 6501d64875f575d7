"""Do refaug's negatives teach? A training ablation in the style of SAM 3's table.

A tiny CLIP-style dual encoder is trained on synthetic scenes (real rendered pixels, true boxes
and true expressions, :mod:`refaug.data.synthetic`) with the hard negatives that refaug's
pipeline publishes for them, and evaluated on held-out scenes:

- **data**: ``--train-images`` scenes, saved once as a folder, go through
  ``Pipeline(RunConfig(source="disk", backend="rules", num_negatives=30))`` with every other
  option at the run's default (views, rewrites, embedding, contrast judgement, mining with its
  plausibility filter, publish); the training rows are the published ``publish/dataset`` as
  saved, and the run folder under ``--cache`` is the cache (a second run reuses it). The
  ``--test-images`` held-out scenes (another seed) never enter the pipeline: their texts are
  neither trained on nor mined from.
- **model** (:class:`ModelConfig`, built from a config, nothing from a hub): the region tower
  is a three-layer CNN over the whole scene at 64 x 48 pixels with the referent's box as a
  fourth channel and two coordinate channels; the text tower is the packaged all-MiniLM-L6-v2,
  frozen (its embeddings are computed once and cached on disk), under a trained two-layer head.
- **training**: :class:`refaug.training.HardNegativeCollator` (``positive="both"``: a
  referent's expressions and views, another one each epoch; ``fill="mask"``) feeds
  :func:`refaug.training.hard_negative_contrastive_loss`. Each image's candidate texts are its
  positive, its N hard negatives and the other positives of the batch (in-batch negatives, a
  column masked where it repeats the row's own text), so N = 0 is plain CLIP training.
  ``variant="symmetric"`` adds the text-to-image term over the batch's regions.
- **rows**: N = 0 / 5 / 10 / 30 refaug negatives; N random negatives (texts of other
  training referents, drawn uniformly); each negative kind left out in turn (the row keeps the
  other kinds' negatives in their published order); both loss variants that use hard
  negatives (``symmetric``, ``image_to_text``); with and without
  :class:`refaug.training.HardNegativeCurriculum` (no hard negatives for the first third of the
  epochs, then their count ramps up over the next third). Unless named, a row has N = 10,
  refaug's negatives, ``symmetric``, no curriculum.
- **metrics** on the held-out scenes: *retrieval*, for each true expression of a referent the
  share where the model's best region among that image's objects is the referent (chance 0.25
  on the default held-out scenes); and *pair accuracy*, the share of (region, true expression,
  distractor) pairs where the model scores the true one higher (chance 0.5), per family: *attribute* (colour
  swapped, left/right, big/small, leftmost/rightmost, above/below, left of/right of),
  *negation* ("the star that is not red"), *role reversal* ("the star below the blue circle"
  -> "the blue circle below the star"). The pairs are written here from the scenes' truth, not
  by refaug's rewriters, so every distractor is false of its region by construction; their
  wording is the synthetic templates', which is also what refaug's rewriters edit on the
  training scenes.

Seeds (``--seeds``) change the model's initialisation, the batch order and the random
negatives; the scenes and the pipeline run stay the same. Everything runs on the CPU with
``--threads`` torch threads (default 1: on a shared machine two threads spin against each other).

Run (the default rows, 3 seeds: 11 minutes on 2 cores shared with other jobs, the pipeline run
included, which is cached for the next run; 24 minutes under a load average of 12. The README's
figures are ``--seeds 5``: 15 minutes with the pipeline cached)::

    python benchmarks/training_ablation.py

More rows and sizes: ``--random-counts 5,10,30 --seeds 5 --epochs 24 --train-images 1200``. Writes ``benchmarks/results/training_ablation.json``, ``.md`` and ``.png``.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import math
import os
import platform
import random
import re
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from datasets import load_from_disk  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from refaug.config import RunConfig  # noqa: E402
from refaug.data.synthetic import COLORS, synthetic_scenes  # noqa: E402
from refaug.embed import Embedder  # noqa: E402
from refaug.pipeline import Pipeline  # noqa: E402
from refaug.text import normalize_text  # noqa: E402
from refaug.training import (  # noqa: E402
    HardNegativeCollator,
    HardNegativeCurriculum,
    hard_negative_contrastive_loss,
)

logger = logging.getLogger("benchmarks.training_ablation")

INPUT_SIZE = (64, 48)  # the CNN's input (width, height); scenes are rendered at twice this
METRICS = ("retrieval", "attribute", "negation", "role_reversal")
PAIR_FAMILIES = ("attribute", "negation", "role_reversal")


# --------------------------------------------------------------------------- configs


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """The dual encoder: CNN widths, the text head's width, the shared embedding size."""

    channels: tuple[int, int, int] = (16, 32, 64)
    text_hidden: int = 128
    dim: int = 64


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """One row of the ablation: which negatives, how many, which loss, which schedule."""

    name: str
    group: str
    num_negatives: int = 10
    negatives: str = "refaug"  # "refaug" or "random"
    leave_out: str | None = None  # a negative kind dropped from refaug's lists
    variant: str = "symmetric"
    curriculum: bool = False
    epochs: int = 16
    batch_size: int = 64
    lr: float = 3e-3
    temperature: float = 0.07


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    train_images: int = 600
    test_images: int = 100
    scene_seed: int = 0
    cache: str = str(ROOT / ".cache" / "training_ablation")


# --------------------------------------------------------------------------- data


@dataclass
class Split:
    """Referents of one split as tensors, plus their rows."""

    rows: list[dict]
    pixels: torch.Tensor  # [R, 4, H, W]: RGB in [0, 1] and the box mask
    index: dict[str, int] = field(default_factory=dict)  # referent_id -> row


def _scenes(n_images: int, *, seed: int, split: str):
    width, height = INPUT_SIZE
    ds = synthetic_scenes(n_images, seed=seed, image_size=(2 * width, 2 * height))
    return ds.map(lambda _: {"split": split}, input_columns="split")


def published_training_rows(config: DataConfig) -> tuple[list[dict], float]:
    """The training scenes through refaug's pipeline (rules backend, 30 negatives), as published."""
    out = Path(config.cache) / f"run-{config.train_images}-{config.scene_seed}"
    started = time.perf_counter()
    scenes = Path(config.cache) / f"scenes-{config.train_images}-{config.scene_seed}"
    if not scenes.exists():  # a folder source, so the run's stage fingerprints hold from run to run
        partial = scenes.with_name(scenes.name + ".partial")
        _scenes(config.train_images, seed=config.scene_seed, split="train").save_to_disk(str(partial))
        partial.rename(scenes)
    run = RunConfig(source="disk", disk_path=str(scenes), backend="rules", num_negatives=30, out=str(out))
    Pipeline(run, show_progress=False).run()
    published = load_from_disk(str(out / "publish" / "dataset"))["train"]
    return published.to_list(), time.perf_counter() - started


def _pixels(rows: list[dict]) -> torch.Tensor:
    """[R, 4, H, W]: the scene downsampled to the CNN's input, and the referent's box as a mask."""
    width, height = INPUT_SIZE
    scenes: dict[int, torch.Tensor] = {}
    out = torch.zeros(len(rows), 4, height, width)
    for i, row in enumerate(rows):
        if row["image_id"] not in scenes:
            image = Image.open(io.BytesIO(row["image"]["bytes"])).convert("RGB")
            scale = image.width / width
            array = np.asarray(image.resize((width, height), Image.BILINEAR), dtype=np.float32) / 255.0
            scenes[row["image_id"]] = (torch.from_numpy(array).permute(2, 0, 1), scale)
        rgb, scale = scenes[row["image_id"]]
        x, y, w, h = (v / scale for v in row["bbox"])
        out[i, :3] = rgb
        out[i, 3, int(y):max(int(y) + 1, math.ceil(y + h)), int(x):max(int(x) + 1, math.ceil(x + w))] = 1.0
    return out


def make_split(rows: list[dict]) -> Split:
    return Split(rows=rows, pixels=_pixels(rows), index={r["referent_id"]: i for i, r in enumerate(rows)})


# --------------------------------------------------------------------------- held-out pairs


_COLOUR = "|".join(COLORS)
_TEMPLATES = {
    "plain": re.compile(rf"^the ({_COLOUR}) (\w+)(?: on the (left|right))?$"),
    "size": re.compile(rf"^(big|small) ({_COLOUR}) (\w+)$"),
    "extreme": re.compile(r"^(leftmost|rightmost) (\w+)$"),
    "relation": re.compile(rf"^the (\w+) (above|below|left of|right of) the ({_COLOUR}) (\w+)$"),
}
_OPPOSITE = {"left": "right", "right": "left", "big": "small", "small": "big", "leftmost": "rightmost",
             "rightmost": "leftmost", "above": "below", "below": "above", "left of": "right of",
             "right of": "left of"}


def distractors(text: str, rng: random.Random) -> list[tuple[str, str]]:
    """(family, distractor) pairs for one true synthetic expression, each false of its referent.

    Example:
        >>> distractors("the star below the blue circle", random.Random(0))[-1]
        ('role_reversal', 'the blue circle below the star')
    """
    out: list[tuple[str, str]] = []
    if m := _TEMPLATES["plain"].match(text):
        colour, kind, side = m.groups()
        other = rng.choice([c for c in COLORS if c != colour])
        where = f" on the {side}" if side else ""
        out.append(("attribute", f"the {other} {kind}{where}"))
        if side:
            out.append(("attribute", f"the {colour} {kind} on the {_OPPOSITE[side]}"))
        out.append(("negation", f"the {kind} that is not {colour}"))
    elif m := _TEMPLATES["size"].match(text):
        size, colour, kind = m.groups()
        out.append(("attribute", f"{_OPPOSITE[size]} {colour} {kind}"))
    elif m := _TEMPLATES["extreme"].match(text):
        word, kind = m.groups()
        out.append(("attribute", f"{_OPPOSITE[word]} {kind}"))
        out.append(("negation", f"the {kind} that is not the {word}"))
    elif m := _TEMPLATES["relation"].match(text):
        kind, relation, colour, other = m.groups()
        out.append(("attribute", f"the {kind} {_OPPOSITE[relation]} the {colour} {other}"))
        out.append(("role_reversal", f"the {colour} {other} {relation} the {kind}"))
    return out


def held_out_pairs(rows: list[dict], *, seed: int = 0) -> list[dict]:
    """One (referent, true, distractor, family) record per distractor of every true expression."""
    rng = random.Random(seed)
    return [{"referent_id": row["referent_id"], "true": text, "false": false, "family": family}
            for row in rows for text in row["expressions"] for family, false in distractors(text, rng)]


# --------------------------------------------------------------------------- text embeddings


class TextTable:
    """Frozen MiniLM embeddings of every text the ablation uses, encoded once (disk cache)."""

    def __init__(self, texts: list[str], *, cache: Path) -> None:
        self.vocab = {t: i for i, t in enumerate(dict.fromkeys(["", *texts]))}
        embedder = Embedder(cache_dir=cache / "embeddings", show_progress_bar=False)
        vectors = embedder.encode(list(self.vocab)[1:])
        self.vectors = torch.cat([torch.zeros(1, vectors.shape[1]), torch.from_numpy(vectors)])

    def ids(self, texts: list[str]) -> torch.Tensor:
        return torch.tensor([self.vocab[t] for t in texts], dtype=torch.long)


def all_texts(train: list[dict], test: list[dict], pairs: list[dict]) -> list[str]:
    texts: list[str] = []
    for row in train:
        texts += row["expressions"] + [n["text"] for n in row["hard_negatives"]]
        texts += [v for k, v in (row["views"] or {}).items() if k != "source" and v]
    texts += [t for row in test for t in row["expressions"]]
    texts += [p["false"] for p in pairs]
    return texts


# --------------------------------------------------------------------------- model


class RegionEncoder(nn.Module):
    """Three stride-2 convolutions (batch-normed) over RGB + box mask + x/y coordinates, then two linear layers."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        a, b, c = config.channels
        width, height = INPUT_SIZE
        self.convs = nn.Sequential(
            nn.Conv2d(6, a, 3, stride=2, padding=1), nn.BatchNorm2d(a), nn.ReLU(),
            nn.Conv2d(a, b, 3, stride=2, padding=1), nn.BatchNorm2d(b), nn.ReLU(),
            nn.Conv2d(b, c, 3, stride=2, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
        )
        flat = c * math.ceil(height / 8) * math.ceil(width / 8)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(flat, 128), nn.ReLU(), nn.Linear(128, config.dim))
        ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
        self.register_buffer("coords", torch.stack([xs, ys]))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        coords = self.coords.expand(pixels.shape[0], -1, -1, -1)
        return self.head(self.convs(torch.cat([pixels, coords], dim=1)))


class DualEncoder(nn.Module):
    def __init__(self, config: ModelConfig, *, text_dim: int) -> None:
        super().__init__()
        self.region = RegionEncoder(config)
        self.text = nn.Sequential(nn.Linear(text_dim, config.text_hidden), nn.ReLU(),
                                  nn.Linear(config.text_hidden, config.dim))


# --------------------------------------------------------------------------- negatives per row


def rows_for(config: TrainConfig, train: list[dict], *, seed: int) -> list[dict]:
    """The training rows with the negatives of ``config``: refaug's (maybe one kind left out) or random."""
    if config.negatives == "refaug":
        if config.leave_out is None:
            return train
        return [dict(r, hard_negatives=[n for n in r["hard_negatives"] if n["kind"] != config.leave_out])
                for r in train]
    pool = sorted({t for r in train for t in r["expressions"]})
    rng = random.Random(seed)
    out = []
    for row in train:
        own = {normalize_text(t) for t in row["expressions"]}
        picked = [t for t in rng.sample(pool, min(len(pool), 3 * config.num_negatives + 3))
                  if normalize_text(t) not in own][:config.num_negatives]
        out.append(dict(row, hard_negatives=[{"text": t, "kind": "random"} for t in picked]))
    return out


# --------------------------------------------------------------------------- training


def _candidates(model: DualEncoder, table: TextTable, batch: dict, hard_mask: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """x ``[B, 1+N+B-1, D]``: positive, hard negatives, the batch's other positives; and the mask."""
    positives, negatives = batch["positives"], batch["negatives"]
    B, N = len(positives), hard_mask.shape[1]
    p = model.text(table.vectors[table.ids(positives)])
    flat = [t for row in negatives for t in row]
    n = model.text(table.vectors[table.ids(flat)]).view(B, N, -1) if N else p.new_zeros(B, 0, p.shape[1])
    others = (torch.arange(B).unsqueeze(0) + torch.arange(1, B).unsqueeze(1)).T % B  # [B, B-1]
    keys = [normalize_text(t) for t in positives]
    in_batch = torch.tensor([[keys[j] != keys[b] for j in others[b].tolist()] for b in range(B)],
                            dtype=torch.bool).view(B, B - 1)
    x = torch.cat([p.unsqueeze(1), n, p[others]], dim=1)
    return x, torch.cat([hard_mask, in_batch], dim=1)


def train_model(config: TrainConfig, model_config: ModelConfig, train: Split, table: TextTable, *,
                seed: int) -> tuple[DualEncoder, list[float]]:
    """Train one dual encoder; returns it and the mean loss of each epoch."""
    torch.manual_seed(seed)
    model = DualEncoder(model_config, text_dim=table.vectors.shape[1])
    rows = rows_for(config, train.rows, seed=seed)
    collate = HardNegativeCollator(num_negatives=config.num_negatives, positive="both", load_images=False,
                                   seed=seed, fill="mask")
    loader = DataLoader(rows, batch_size=config.batch_size, shuffle=True, drop_last=True, collate_fn=collate,
                        generator=torch.Generator().manual_seed(seed))
    schedule = HardNegativeCurriculum(max_negatives=config.num_negatives, switch_epoch=config.epochs // 3,
                                      ramp_epochs=config.epochs // 3, ramp="negatives") if config.curriculum else None
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    losses = []
    for epoch in range(config.epochs):
        collate.set_epoch(epoch)
        total, steps = 0.0, 0
        for batch in loader:
            hard_mask = schedule.mask(epoch, batch["negative_mask"]) if schedule else batch["negative_mask"]
            z = model.region(train.pixels[[train.index[r] for r in batch["referent_ids"]]])
            x, mask = _candidates(model, table, batch, hard_mask)
            loss = hard_negative_contrastive_loss(z, x, negative_mask=mask, variant=config.variant,
                                                  temperature=config.temperature)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total, steps = total + loss.item(), steps + 1
        losses.append(total / max(steps, 1))
    return model, losses


# --------------------------------------------------------------------------- evaluation


@torch.no_grad()
def evaluate(model: DualEncoder, test: Split, table: TextTable, pairs: list[dict]) -> dict[str, float]:
    """Same-image retrieval accuracy and pair accuracy per family on the held-out scenes."""
    model.eval()
    z = F.normalize(model.region(test.pixels), dim=-1)
    texts = list(dict.fromkeys([t for r in test.rows for t in r["expressions"]] + [p["false"] for p in pairs]))
    x = F.normalize(model.text(table.vectors[table.ids(texts)]), dim=-1)
    column = {t: i for i, t in enumerate(texts)}
    by_image: dict[int, list[int]] = {}
    for i, row in enumerate(test.rows):
        by_image.setdefault(row["image_id"], []).append(i)
    hits = []
    for i, row in enumerate(test.rows):
        regions = by_image[row["image_id"]]
        for text in row["expressions"]:
            scores = z[regions] @ x[column[text]]
            hits.append(regions[int(scores.argmax())] == i)
    out = {"retrieval": float(np.mean(hits))}
    for family in PAIR_FAMILIES:
        chosen = [p for p in pairs if p["family"] == family]
        region = torch.tensor([test.index[p["referent_id"]] for p in chosen])
        true = (z[region] * x[[column[p["true"]] for p in chosen]]).sum(-1)
        false = (z[region] * x[[column[p["false"]] for p in chosen]]).sum(-1)
        out[family] = float((true > false).float().mean())
    model.train()
    return out


# --------------------------------------------------------------------------- rows


def default_rows(*, counts: list[int], random_counts: list[int], kinds: list[str], base: int,
                 epochs: int) -> list[TrainConfig]:
    """The ablation's rows; ``base`` N for the kind, variant and curriculum rows."""
    rows = [TrainConfig(name=f"refaug N={n}" if n else "no hard negatives (N=0)", group="count",
                        num_negatives=n, epochs=epochs) for n in counts]
    base_row = TrainConfig(name=f"refaug N={base}", group="count", num_negatives=base, epochs=epochs)
    rows += [replace(base_row, name=f"random N={n}", group="random", num_negatives=n, negatives="random")
             for n in random_counts]
    rows += [replace(base_row, name=f"without {kind}", group="leave-out", leave_out=kind) for kind in kinds]
    rows.append(replace(base_row, name="variant image_to_text", group="variant", variant="image_to_text"))
    rows.append(replace(base_row, name="curriculum", group="curriculum", curriculum=True))
    if base not in counts:
        rows.insert(len(counts), base_row)
    return rows


def _summary(values: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {m: {"mean": float(np.mean([v[m] for v in values])), "std": float(np.std([v[m] for v in values], ddof=1))
                if len(values) > 1 else 0.0} for m in METRICS}


def run_rows(rows: list[TrainConfig], model_config: ModelConfig, train: Split, test: Split, table: TextTable,
             pairs: list[dict], *, seeds: list[int]) -> list[dict]:
    results = []
    for config in rows:
        per_seed, started = [], time.perf_counter()
        for seed in seeds:
            model, losses = train_model(config, model_config, train, table, seed=seed)
            per_seed.append({"seed": seed, **evaluate(model, test, table, pairs), "final_loss": losses[-1]})
        summary = _summary(per_seed)
        results.append({"name": config.name, "group": config.group, "config": asdict(config),
                        "per_seed": per_seed, **summary, "seconds": time.perf_counter() - started})
        logger.info("%-28s %s (%.0fs)", config.name, "  ".join(
            f"{m} {summary[m]['mean']:.3f}±{summary[m]['std']:.3f}" for m in METRICS), results[-1]["seconds"])
    return results


# --------------------------------------------------------------------------- report


def markdown_table(results: list[dict]) -> str:
    header = "| row | retrieval | attribute | negation | role reversal |\n| --- | ---: | ---: | ---: | ---: |\n"
    lines = [f"| {r['name']} | " + " | ".join(f"{r[m]['mean']:.3f} ± {r[m]['std']:.3f}" for m in METRICS) + " |"
             for r in results]
    return header + "\n".join(lines) + "\n"


def plot(results: list[dict], path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["name"] for r in results]
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4 * len(METRICS), 0.35 * len(names) + 1.6), sharey=True)
    colours = {"count": "tab:blue", "random": "tab:red", "leave-out": "tab:orange", "variant": "tab:green",
               "curriculum": "tab:purple"}
    for ax, metric in zip(axes, METRICS, strict=True):
        means = [r[metric]["mean"] for r in results]
        stds = [r[metric]["std"] for r in results]
        ax.barh(range(len(names)), means, xerr=stds, color=[colours.get(r["group"], "grey") for r in results],
                capsize=2)
        ax.axvline(results[0][metric]["mean"], color="black", lw=0.8, ls="--")
        ax.set_title(metric.replace("_", " "))
        ax.set_xlim(max(0.0, min(means) - 0.1), min(1.0, max(means) + 0.08))
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(names)), names)
    axes[0].invert_yaxis()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- main


def _ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train-images", type=int, default=DataConfig().train_images)
    parser.add_argument("--test-images", type=int, default=DataConfig().test_images)
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--seeds", type=int, default=3, help="model seeds 0..S-1 (default 3)")
    parser.add_argument("--counts", type=_ints, default=[0, 5, 10, 30], help="N of refaug's negatives")
    parser.add_argument("--random-counts", type=_ints, default=[10], help="N of the random-negative rows")
    parser.add_argument("--base", type=int, default=10, help="N of the leave-out, variant, curriculum rows")
    parser.add_argument("--kinds", default=None, help="kinds to leave out (default: every kind published)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cache", default=DataConfig().cache)
    parser.add_argument("--out", default=str(RESULTS / "training_ablation"), help="path stem for .json/.md/.png")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    for name in ("refaug", "datasets", "sentence_transformers", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    data = DataConfig(train_images=args.train_images, test_images=args.test_images, cache=args.cache)
    train_rows, pipeline_seconds = published_training_rows(data)
    test_rows = _scenes(data.test_images, seed=data.scene_seed + 1, split="test").to_list()
    pairs = held_out_pairs(test_rows)
    table = TextTable(all_texts(train_rows, test_rows, pairs), cache=Path(data.cache))
    train, test = make_split(train_rows), make_split(test_rows)
    kinds_published = Counter(n["kind"] for r in train_rows for n in r["hard_negatives"])
    kinds = args.kinds.split(",") if args.kinds else sorted(kinds_published)
    rows = default_rows(counts=args.counts, random_counts=args.random_counts, kinds=kinds, base=args.base,
                        epochs=args.epochs)
    prepared = time.perf_counter() - started
    results = run_rows(rows, ModelConfig(), train, test, table, pairs, seeds=list(range(args.seeds)))
    report = {
        "benchmark": "training_ablation", "command": " ".join(["python benchmarks/training_ablation.py", *(argv or sys.argv[1:])]),
        "data": {**asdict(data), "train_referents": len(train_rows), "test_referents": len(test_rows),
                 "published_negatives_by_kind": dict(kinds_published.most_common()),
                 "held_out_pairs": dict(Counter(p["family"] for p in pairs)),
                 "held_out_expressions": sum(len(r["expressions"]) for r in test_rows),
                 "text_vocabulary": len(table.vocab) - 1},
        "model": asdict(ModelConfig()), "seeds": args.seeds, "rows": results,
        "seconds": {"pipeline": pipeline_seconds, "prepare": prepared, "total": time.perf_counter() - started},
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "threads": args.threads,
                    "cpus": os.cpu_count()},
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2))
    out.with_suffix(".md").write_text(markdown_table(results))
    plot(results, out.with_suffix(".png"), title=f"held-out synthetic scenes, mean ± std over {args.seeds} seeds")
    print(markdown_table(results))
    print(f"wrote {out.with_suffix('.json')}, .md, .png in {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
