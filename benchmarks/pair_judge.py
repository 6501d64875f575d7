"""A learned pair judge on real referring expressions: does fine-tuning MiniLM (as a bi-encoder or a
cross-encoder), or stacking its score with the contrast findings, beat the contrast method's same-image AUC?

Issue 15, deliverable 4. The pairs, the folds and the paraphrase-vs-edit check are those of
``benchmarks/contrast.py`` (imported from it, not copied): leave one expression out of each
object with two or more, score it and every expression of the image's other objects against
the object's remaining expressions, 5 folds grouped by COCO image.

Variants (each fold's judge is trained on the other folds only; AUCs over the pooled
out-of-fold scores):

- ``centroid``: the MiniLM centroid cosine (no training; the baseline).
- ``contrast``: the contrast model refitted per fold (``benchmarks.contrast.cross_validated``):
  the figure to beat.
- ``bi_encoder`` (``--learned bi_encoder``, the default): the packaged all-MiniLM-L6-v2 fine-tuned
  with MultipleNegativesRankingLoss on (cluster member, held-out expression, a same-image or edit
  negative) triples of the training folds and of synthetic scenes, then the centroid cosine.
- ``cross_encoder`` (``--learned cross_encoder``): the packaged weights with a fresh one-logit head
  (``transformers.AutoModelForSequenceClassification``, the model ``sentence_transformers.CrossEncoder(path,
  num_labels=1)`` builds), fine-tuned with binary cross-entropy on ``("<category>: " + " ; ".join(cluster),
  candidate)``: the training folds' positive, same-image and cross-image pairs, their one-word edits
  (attribute and negation rewrites, label 0) and a sample of synthetic-scene pairs. About 6 minutes
  of training per fold on one thread, so ``--only-fold 0`` runs a one-fold pilot.
- ``<learned>+contrast``: ``cross_validated`` with the learned score in the place of the cosine,
  fitted on the training folds' out-of-fold scores (stacking; no synthetic pairs, whose learned
  scores are in-sample). Needs every fold scored.

Costs: training seconds per fold (one thread) and scoring milliseconds per pair (one thread,
length-sorted batches of 64; for the bi-encoder a pair costs the embedding of its candidate).

Run (about 10 minutes on one thread; the cross-encoder adds about 6 minutes a fold)::

    OMP_NUM_THREADS=1 python benchmarks/pair_judge.py --data ../shared/data/refcoco_real_dev.jsonl
    OMP_NUM_THREADS=1 python benchmarks/pair_judge.py --data ../shared/data/refcoco_real_dev.jsonl \\
        --learned cross_encoder --only-fold 0 --out /tmp/pair_judge_cross_encoder.json

Writes ``benchmarks/results/pair_judge.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from contrast import (
    KINDS,
    RESULTS,
    MemoEmbedder,
    Pairs,
    _wins,
    aucs,
    centroid_cosines,
    contrast_features,
    cross_validated,
    edit_pairs,
    image_folds,
    leave_one_out_pairs,
    load_referents,
    paraphrase_edit_pairs,
    synthetic_pairs,
)

logger = logging.getLogger("benchmarks.pair_judge")


# ------------------------------------------------------------ the cross-encoder


def pair_texts(pairs: Pairs) -> tuple[list[str], list[str]]:
    """The cross-encoder's two segments per pair: category and cluster, then the candidate."""
    first = [f"{cat}: " + " ; ".join(c) if cat else " ; ".join(c)
             for c, cat in zip(pairs.clusters, pairs.categories, strict=True)]
    return first, list(pairs.candidates)


def concat(parts: Sequence[Pairs]) -> Pairs:
    return Pairs([c for p in parts for c in p.clusters], [t for p in parts for t in p.candidates],
                 [c for p in parts for c in p.categories], np.concatenate([p.kinds for p in parts]),
                 np.concatenate([p.images for p in parts]))


def subset(pairs: Pairs, keep: np.ndarray) -> Pairs:
    index = np.nonzero(keep)[0] if keep.dtype == bool else keep
    return Pairs([pairs.clusters[i] for i in index], [pairs.candidates[i] for i in index],
                 [pairs.categories[i] for i in index], pairs.kinds[index], pairs.images[index])


def train_cross_encoder(pairs: Pairs, labels: np.ndarray, *, model_path: str, epochs: int, batch_size: int,
                        lr: float, max_length: int, seed: int) -> tuple[Any, Any]:
    """Fine-tune the packaged MiniLM with a one-logit head on labelled pairs (BCE, AdamW, linear decay)."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        get_linear_schedule_with_warmup,
    )
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = AutoModelForSequenceClassification.from_pretrained(model_path, num_labels=1)
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    first, second = pair_texts(pairs)
    y = torch.as_tensor(labels, dtype=torch.float32)
    steps = epochs * ((len(first) + batch_size - 1) // batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(first), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            enc = tokenizer([first[i] for i in batch], [second[i] for i in batch], padding=True,
                            truncation=True, max_length=max_length, return_tensors="pt")
            logits = model(**enc).logits.squeeze(-1)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y[batch])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step(), schedule.step(), optimizer.zero_grad()
    model.eval()
    return model, tokenizer


def cross_encoder_logits(model: Any, tokenizer: Any, pairs: Pairs, *, batch_size: int = 64,
                         max_length: int = 96) -> np.ndarray:
    """The model's logit per pair, in length-sorted batches."""
    import torch

    first, second = pair_texts(pairs)
    order = np.argsort([len(a) + len(b) for a, b in zip(first, second, strict=True)], kind="stable")
    out = np.zeros(len(first), np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            enc = tokenizer([first[i] for i in batch], [second[i] for i in batch], padding=True,
                            truncation=True, max_length=max_length, return_tensors="pt")
            out[batch] = model(**enc).logits.squeeze(-1).float().numpy()
    return out


# ------------------------------------------------------------- the bi-encoder


def triples(pairs: Pairs, *, seed: int) -> list[tuple[str, str, str]]:
    """(cluster member, held-out expression, a negative of that cluster) per positive pair: the
    negative a same-image or edit one where the cluster has one, else a cross-image one."""
    rng = np.random.default_rng(seed)
    negatives: dict[tuple[str, ...], dict[str, list[str]]] = {}
    for c, t, kind in zip(pairs.clusters, pairs.candidates, pairs.kinds.tolist(), strict=True):
        if kind != "positive":
            negatives.setdefault(c, {}).setdefault("hard" if kind != "cross_image" else "easy", []).append(t)
    out = []
    for c, t, kind in zip(pairs.clusters, pairs.candidates, pairs.kinds.tolist(), strict=True):
        found = negatives.get(c, {})
        pool = found.get("hard") or found.get("easy")
        if kind == "positive" and pool:
            out.append((c[int(rng.integers(len(c)))], t, pool[int(rng.integers(len(pool)))]))
        elif kind == "edit" and len(c) >= 2:  # an edit of c[0]: anchor c[0], positive another member
            out.append((c[0], c[int(rng.integers(1, len(c)))], t))
    return out


def train_bi_encoder(examples: Sequence[tuple[str, str, str]], *, model_path: str, epochs: int, batch_size: int,
                     lr: float, scale: float, seed: int) -> Any:
    """Fine-tune the sentence encoder with MultipleNegativesRankingLoss over (anchor, positive, hard
    negative): each anchor against every positive and negative of its batch (cosine times ``scale``)."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path, device="cpu")
    steps = epochs * ((len(examples) + batch_size - 1) // batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    from transformers import get_linear_schedule_with_warmup

    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    generator = torch.Generator().manual_seed(seed)

    def embed(texts: list[str]) -> Any:
        return torch.nn.functional.normalize(model(model.tokenize(texts))["sentence_embedding"], dim=-1)

    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(examples), generator=generator).tolist()
        for start in range(0, len(order), batch_size):
            batch = [examples[i] for i in order[start : start + batch_size]]
            a = embed([x[0] for x in batch])
            candidates = embed([x[1] for x in batch] + [x[2] for x in batch])
            logits = scale * a @ candidates.T
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step(), schedule.step(), optimizer.zero_grad()
    model.eval()
    return model


def tuned_embedder(model: Any, tag: str) -> Any:
    """A :class:`MemoEmbedder` over an already loaded (fine-tuned) ``SentenceTransformer``."""
    embedder = MemoEmbedder()
    embedder._model, embedder._identity = model, f"fine-tuned:{tag}"
    return embedder


# ---------------------------------------------------------------- the experiment


def synthetic_sample(n_images: int, *, n: int, seed: int) -> Pairs:
    """``n`` synthetic leave-one-out pairs: a third positives, two thirds negatives (mostly same-image,
    the kind the real data is short of)."""
    pairs = synthetic_pairs(n_images, seed=seed)
    rng = np.random.default_rng(seed)
    positive = np.nonzero(pairs.kinds == "positive")[0]
    negative = np.nonzero(pairs.kinds != "positive")[0]
    take_positive = rng.choice(positive, size=min(len(positive), n // 3), replace=False)
    take_negative = rng.choice(negative, size=min(len(negative), n - len(take_positive)), replace=False)
    return subset(pairs, np.sort(np.concatenate([take_positive, take_negative])))


def trainer(name: str, args: argparse.Namespace) -> Callable[[Pairs, int], Callable[[Pairs], np.ndarray]]:
    """``train(pairs, seed) -> score(pairs)`` for the learned variant ``name``."""
    from refaug.embed import resolve_model

    def cross_encoder(train: Pairs, seed: int) -> Callable[[Pairs], np.ndarray]:
        labels = (train.kinds == "positive").astype(np.float32)
        model, tokenizer = train_cross_encoder(train, labels, model_path=resolve_model(None), epochs=args.epochs,
                                               batch_size=args.batch_size, lr=args.lr,
                                               max_length=args.max_length, seed=seed)
        return lambda pairs: cross_encoder_logits(model, tokenizer, pairs)

    def bi_encoder(train: Pairs, seed: int) -> Callable[[Pairs], np.ndarray]:
        model = train_bi_encoder(triples(train, seed=seed), model_path=resolve_model(None), epochs=args.bi_epochs,
                                 batch_size=args.batch_size, lr=args.bi_lr, scale=20.0, seed=seed)
        embedder = tuned_embedder(model, f"seed {seed}")
        return lambda pairs: centroid_cosines(pairs, embedder)

    return {"cross_encoder": cross_encoder, "bi_encoder": bi_encoder}[name]


def learned_cv(name: str, sets: dict[str, tuple[Pairs, np.ndarray]], synthetic: Pairs,
               args: argparse.Namespace) -> dict[str, Any]:
    """Per fold: train on the other folds' dev pairs and edits plus ``synthetic``; score the fold's part
    of every set in ``sets`` (name -> pairs, folds)."""
    train_fn = trainer(name, args)
    scores = {key: np.full(len(p), np.nan, np.float32) for key, (p, _) in sets.items()}
    seconds, scoring = [], []
    for k in args.fold_list:
        dev, dev_folds = sets["dev"]
        edits, edit_folds = sets["edits"]
        train = concat([subset(dev, dev_folds != k), subset(edits, edit_folds != k), synthetic])
        started = time.perf_counter()
        score = train_fn(train, k)
        seconds.append(round(time.perf_counter() - started, 1))
        for key, (pairs, folds) in sets.items():
            started = time.perf_counter()
            scores[key][folds == k] = score(subset(pairs, folds == k))
            if key == "dev":
                scoring.append((time.perf_counter() - started, int((folds == k).sum())))
        logger.warning("%s fold %d: %d training pairs, %.0f s; same-image AUC of the fold %.3f", name, k,
                       len(train), seconds[-1], aucs(scores["dev"][dev_folds == k], dev.kinds[dev_folds == k])[
                           "auc_same_image"])
    ms = 1000 * sum(s for s, _ in scoring) / sum(n for _, n in scoring)
    return {"scores": scores, "train_seconds_per_fold": seconds, "ms_per_pair": round(ms, 2)}


def stacked(features: dict[str, np.ndarray], learned: dict[str, np.ndarray], labels: np.ndarray,
            sets: dict[str, tuple[Pairs, np.ndarray]], synthetic: tuple[np.ndarray, np.ndarray],
            args: argparse.Namespace) -> dict[str, np.ndarray]:
    """``benchmarks.contrast.cross_validated`` with ``learned`` in the "cosine" column: out-of-fold
    P(same) of the dev pairs and of the check pairs (each scored by its fold's model)."""
    x = {key: features[key].copy() for key in features}
    for key in x:
        x[key][:, 0] = learned[key]
    dev_folds, edit_folds, check_folds = (sets[key][1] for key in ("dev", "edits", "checks"))
    oof, models = cross_validated((x["dev"], labels, dev_folds), (x["edits"], edit_folds), synthetic,
                                  folds=args.folds)
    checks = np.zeros(len(x["checks"]), np.float32)
    for k, model in enumerate(models):
        checks[check_folds == k] = model.probability(x["checks"][check_folds == k])
    return {"dev": oof, "checks": checks}


def centroid_cost(texts: Sequence[str], embedder: Any) -> float:
    """Milliseconds per text to embed (one thread); a pair costs one candidate embedding."""
    embedder.model.encode(list(texts[:64]))
    started = time.perf_counter()
    embedder.model.encode(list(texts), batch_size=64)
    return round(1000 * (time.perf_counter() - started) / len(texts), 2)


def held_out(scores: np.ndarray, pairs: Pairs, mask: np.ndarray) -> dict[str, Any]:
    return {**aucs(scores[mask], pairs.kinds[mask])}


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    embedder = MemoEmbedder()
    referents = load_referents(args.data)
    every_image = np.array([r.image for r in referents], dtype=object)
    fold_of = dict(zip(every_image.tolist(), image_folds(every_image, folds=args.folds).tolist(), strict=True))
    sets = {key: (p, np.array([fold_of[i] for i in p.images.tolist()])) for key, p in (
        ("dev", leave_one_out_pairs(referents, cross=args.cross, seed=0)), ("edits", edit_pairs(referents, n=args.edits)),
        ("checks", paraphrase_edit_pairs(referents)))}
    dev, folds = sets["dev"]
    checks, check_folds = sets["checks"]
    scored = np.isin(folds, args.fold_list)
    check_scored = np.isin(check_folds, args.fold_list)
    cosine = {key: centroid_cosines(p, embedder) for key, (p, _) in sets.items()}
    features = {key: contrast_features(p, cosine[key])[0] for key, (p, _) in sets.items()}
    full_synthetic = synthetic_pairs(args.synthetic, seed=0, cross=args.cross)
    syn_features, _ = contrast_features(full_synthetic, centroid_cosines(full_synthetic, embedder))
    labels = dev.labels
    base = stacked(features, cosine, labels, sets, (syn_features, full_synthetic.labels), args)

    def report(dev_scores: np.ndarray, check_scores: np.ndarray, **extra: Any) -> dict[str, Any]:
        return {**held_out(dev_scores, dev, scored), "paraphrase_over_edit": _wins(subset(checks, check_scored),
                                                                                 check_scores[check_scored]), **extra}

    variants = {"centroid": report(cosine["dev"], cosine["checks"], train_seconds_per_fold=0.0,
                                   ms_per_pair=centroid_cost(dev.candidates[:512], embedder)),
                "contrast": report(base["dev"], base["checks"], ms_per_pair="centroid's plus the parse")}
    synthetic = synthetic_sample(args.synthetic, n=args.synthetic_pairs, seed=0)
    for name in args.learned:
        learned = learned_cv(name, sets, synthetic, args)
        variants[name] = report(learned["scores"]["dev"], learned["scores"]["checks"],
                                train_seconds_per_fold=learned["train_seconds_per_fold"],
                                ms_per_pair=learned["ms_per_pair"])
        if len(args.fold_list) < args.folds:  # stacking needs every fold's out-of-fold scores
            continue
        both = stacked(features, learned["scores"], labels, sets, (syn_features[:0], full_synthetic.labels[:0]), args)
        variants[f"{name}+contrast"] = report(both["dev"], both["checks"],
                                              train_seconds_per_fold=learned["train_seconds_per_fold"],
                                              ms_per_pair=f"{name}'s plus the parse")
    return {
        "data": str(args.data), "folds": args.folds, "folds_scored": args.fold_list, "n_referents": len(referents),
        "pairs": {k: int((dev.kinds[scored] == k).sum()) for k in KINDS},
        "paraphrase_vs_edit_pairs": {"objects": int((checks.kinds[check_scored] == "positive").sum()),
                                     "edits": int((checks.kinds[check_scored] != "positive").sum())},
        "training": {"synthetic_pairs": len(synthetic), "edits": len(sets["edits"][0]),
                     "cross_encoder": {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
                                       "max_length": args.max_length},
                     "bi_encoder": {"epochs": args.bi_epochs, "lr": args.bi_lr, "batch_size": args.batch_size,
                                    "loss": "MultipleNegativesRankingLoss, scale 20, one hard negative"}},
        "stacking": "the +contrast variants: ContrastModel.fit with the learned score in the cosine column, on the "
                    "training folds' out-of-fold scores of dev pairs and edits (no synthetic pairs: their learned "
                    "scores are in-sample); contrast itself: the same fit on the cosine plus synthetic pairs",
        "variants": variants, "threads": os.environ.get("OMP_NUM_THREADS"),
        "seconds": round(time.perf_counter() - started, 1), "platform": platform.platform(),
    }


def summary_table(result: dict[str, Any]) -> str:
    lines = [f"{'variant':<24}{'same img':>9}{'cross img':>10}{'para>edit':>10}{'train s/fold':>13}{'ms/pair':>9}"]
    for name, r in result["variants"].items():
        train = r.get("train_seconds_per_fold", "")
        train = f"{np.mean(train):.0f}" if isinstance(train, list) else str(train)
        ms = r.get("ms_per_pair", "")
        ms = f"{ms:.2f}" if isinstance(ms, float) else "+parse"
        lines.append(f"{name:<24}{r['auc_same_image']:>9.3f}{r['auc_cross_image']:>10.3f}"
                     f"{r['paraphrase_over_edit']:>10.3f}{train:>13}{ms:>9}")
    p = result["pairs"]
    lines.append(f"pairs: {p['positive']} positive, {p['same_image']} same-image, {p['cross_image']} cross-image;"
                 f" folds {result['folds_scored']} of {result['folds']} (CV grouped by COCO image)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a JSONL file of objects or a refer-toolkit folder")
    parser.add_argument("--folds", type=int, default=5, help="image-grouped cross-validation folds (default 5)")
    parser.add_argument("--only-fold", type=int, action="append", default=None,
                        help="score only this fold (repeatable; default every fold): a quicker pilot")
    parser.add_argument("--learned", default="bi_encoder",
                        help="comma-separated learned variants: bi_encoder, cross_encoder (default bi_encoder)")
    parser.add_argument("--cross", type=int, default=3, help="cross-image negatives per pair (default 3)")
    parser.add_argument("--synthetic", type=int, default=400, help="synthetic images (default 400)")
    parser.add_argument("--synthetic-pairs", type=int, default=1500,
                        help="synthetic pairs in the learned judges' training set (default 1500)")
    parser.add_argument("--edits", type=int, default=300, help="one-word edits of dev expressions (default 300)")
    parser.add_argument("--epochs", type=int, default=2, help="cross-encoder epochs (default 2)")
    parser.add_argument("--lr", type=float, default=5e-5, help="cross-encoder learning rate (default 5e-5)")
    parser.add_argument("--bi-epochs", type=int, default=1, help="bi-encoder epochs (default 1)")
    parser.add_argument("--bi-lr", type=float, default=2e-5, help="bi-encoder learning rate (default 2e-5)")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch size (default 32)")
    parser.add_argument("--max-length", type=int, default=96, help="cross-encoder max tokens (default 96)")
    parser.add_argument("--out", default=str(RESULTS / "pair_judge.json"))
    args = parser.parse_args(argv)
    args.fold_list = sorted(set(args.only_fold)) if args.only_fold else list(range(args.folds))
    args.learned = [name for name in args.learned.split(",") if name]
    unknown = set(args.learned) - {"bi_encoder", "cross_encoder"}
    if unknown:
        parser.error(f"--learned: unknown {sorted(unknown)}; valid: bi_encoder, cross_encoder")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    import datasets
    import torch

    torch.set_num_threads(1)
    datasets.disable_progress_bars()
    result = run(args)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(summary_table(result))
    print(f"wrote {args.out} ({result['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
