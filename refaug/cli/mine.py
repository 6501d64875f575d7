"""``refaug mine`` and ``refaug calibrate``: mining and threshold calibration from the shell."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from refaug.clusters import CLUSTER_METHODS, CRITERIA, ClusterClassifier
from refaug.embed import Embedder
from refaug.mining import (
    DEFAULT_RELATIVE_MARGIN,
    DEFAULT_SIMILARITY_FLOOR,
    OUTPUT_FORMATS,
    SELECTIONS,
    Weights,
    mine_hard_negatives,
    mine_rounds,
)
from refaug.mining.sources.registry import SOURCES


def _cli_dataset(args: Any) -> Any:
    if args.synthetic:
        from refaug.data.synthetic import synthetic_scenes

        return synthetic_scenes(args.synthetic, seed=args.seed, image_size=(64, 48))
    if not args.dataset:
        raise ValueError("give a saved dataset folder (datasets.save_to_disk) or --synthetic N")
    from datasets import DatasetDict, concatenate_datasets, load_from_disk

    loaded = load_from_disk(args.dataset)
    if isinstance(loaded, DatasetDict):
        return concatenate_datasets(list(loaded.values()))
    return loaded


def _cli_classifier(args: Any, embedder: Embedder) -> ClusterClassifier:
    if args.classifier:
        return ClusterClassifier.load(args.classifier, embedder=embedder)
    return ClusterClassifier(args.method, threshold=args.threshold, embedder=embedder)


def _parse_weights(text: str | None) -> Weights | None:
    """``"similarity=1,uncertainty=1,diversity=0.2"`` -> a dict."""
    if not text:
        return None
    weights = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--weights {text!r}: write name=value pairs separated by commas, "
                             "e.g. similarity=1,uncertainty=1,diversity=0.2") from None
    return weights


def _cli_mine(args: Any) -> int:
    from refaug.report import format_table

    embedder = Embedder(args.model, cache_dir=args.cache_dir)
    classifier = _cli_classifier(args, embedder)
    scorer = None
    if args.scorer:
        from refaug.scoring import scorer_from_spec

        scorer = scorer_from_spec(args.scorer, threshold=args.scorer_threshold)
    options = dict(embedder=embedder, classifier=classifier, sources=tuple(args.sources),
                   same_class=args.same_class, max_similarity=args.max_similarity,
                   relative_margin=args.relative_margin, require_verified=args.require_verified,
                   selection=args.selection, similarity_floor=args.similarity_floor, seed=args.seed)
    dataset = _cli_dataset(args)
    if args.rounds:
        if scorer is None:
            raise ValueError("--rounds needs --scorer (the model whose false positives are collected)")
        out, reports = mine_rounds(dataset, scorer=scorer, rounds=args.rounds, per_round=args.per_round,
                                   min_new=args.min_new, num_negatives=args.num_negatives, **options)
        rows = [[r.round, r.candidates, r.false_positives, r.referents_hit, r.scorer_calls,
                 f"{r.scorer_calls / max(len(dataset), 1):.2f}", f"{r.seconds:.1f}",
                 ", ".join(f"{k} {v}" for k, v in sorted(r.kinds.items()))] for r in reports]
        print(format_table(rows, ["round", "scored", "new false positives", "referents", "scorer calls",
                                  "calls/referent", "seconds", "by kind"], title="mining rounds"))
    else:
        out = mine_hard_negatives(dataset, num_negatives=args.num_negatives, diversity=args.diversity,
                                  scorer=scorer, weights=_parse_weights(args.weights),
                                  output_format=args.format, **options)
    out.save_to_disk(args.out)
    print(f"wrote {len(out)} rows ({', '.join(out.column_names)}) to {args.out}")
    if args.format == "nested" or args.rounds:
        kinds = Counter(n["kind"] for row in out["hard_negatives"] for n in row)
        verified = Counter(n["verified_by"] for row in out["hard_negatives"] for n in row)
        print("negatives by kind: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))
        print("negatives by verified_by: " + ", ".join(f"{k} {v}" for k, v in verified.most_common()))
    return 0


def _cli_calibrate(args: Any) -> int:
    from refaug.clusters import calibrate_threshold

    result = calibrate_threshold(_cli_dataset(args), method=args.method, criterion=args.criterion,
                                 target_fnr=args.target_fnr, seed=args.seed, plot=args.plot,
                                 embedder=Embedder(args.model, cache_dir=args.cache_dir))
    text = json.dumps(result.to_dict(), indent=2)
    if args.save:
        result.classifier().save(args.save)
    if args.json:
        Path(args.json).write_text(text)
    print(text)
    return 0


def _common_cli_options(parser: Any) -> None:
    parser.add_argument("dataset", nargs="?", help="a datasets.save_to_disk folder of referent rows")
    parser.add_argument("--synthetic", type=int, default=0, metavar="N",
                        help="use N generated synthetic scenes instead of a dataset")
    parser.add_argument("--method", default="contrast", choices=CLUSTER_METHODS,
                        help="the cluster judgement (default: contrast)")
    parser.add_argument("--model", default=None, help="sentence-transformers model (default all-MiniLM-L6-v2)")
    parser.add_argument("--cache-dir", default=None, help="embedding cache folder")
    parser.add_argument("--seed", type=int, default=0)


def register(subparsers: Any) -> None:
    """Add ``refaug mine`` and ``refaug calibrate`` to the CLI's subparsers."""
    mine = subparsers.add_parser("mine", help="mine hard negatives for a dataset of referents")
    _common_cli_options(mine)
    mine.add_argument("--out", required=True, help="folder to save the mined dataset in")
    mine.add_argument("--num-negatives", type=int, default=30)
    mine.add_argument("--sources", nargs="+", default=list(SOURCES), choices=SOURCES,
                      help="candidate sources (refaug.mining.sources.registry); default: all")
    mine.add_argument("--same-class", action="store_true")
    mine.add_argument("--threshold", type=float, default=None)
    mine.add_argument("--max-similarity", type=float, default=None)
    mine.add_argument("--relative-margin", type=float, default=DEFAULT_RELATIVE_MARGIN)
    mine.add_argument("--require-verified", action=argparse.BooleanOptionalAction, default=True,
                      help="keep only negatives something proves: same image, own edit, stated conflict, "
                           "other category (default: on)")
    mine.add_argument("--selection", default="verified", choices=SELECTIONS,
                      help="sam3: cross-image negatives must also reach --similarity-floor and share an "
                           "attribute besides the conflict (default: verified)")
    mine.add_argument("--similarity-floor", type=float, default=DEFAULT_SIMILARITY_FLOOR,
                      help=f"the sam3 selection's floor on the centroid cosine (default: {DEFAULT_SIMILARITY_FLOOR})")
    mine.add_argument("--diversity", type=float, default=0.0)
    mine.add_argument("--format", default="nested", choices=OUTPUT_FORMATS)
    mine.add_argument("--classifier", default=None,
                      help="a saved ClusterClassifier JSON (e.g. from refaug calibrate --save)")
    mine.add_argument("--scorer", default=None, metavar="SPEC",
                      help="the model in the loop: text, text:MODEL, clip:CHECKPOINT, "
                           "clip-image:CHECKPOINT or python:MODULE:NAME")
    mine.add_argument("--scorer-threshold", type=float, default=None,
                      help="the scorer's decision point (default: its own, else relative)")
    mine.add_argument("--weights", default=None, metavar="W",
                      help="ranking weights, e.g. similarity=1,uncertainty=1,diversity=0.2")
    mine.add_argument("--rounds", type=int, default=0,
                      help="mining rounds collecting the scorer's false positives (needs --scorer)")
    mine.add_argument("--per-round", type=int, default=None,
                      help="candidates per referent per round (default: --num-negatives)")
    mine.add_argument("--min-new", type=int, default=1,
                      help="stop after a round with fewer new false positives than this")
    mine.set_defaults(handler=_cli_mine)
    calibrate = subparsers.add_parser("calibrate", help="choose a cluster threshold; AUC and plot")
    _common_cli_options(calibrate)
    calibrate.add_argument("--criterion", default="f1", choices=CRITERIA)
    calibrate.add_argument("--target-fnr", type=float, default=0.05)
    calibrate.add_argument("--plot", default=None, help="PNG path for the similarity distributions")
    calibrate.add_argument("--json", default=None, help="also write the result to this JSON file")
    calibrate.add_argument("--save", default=None,
                           help="write the calibrated classifier (for contrast: its fitted weights) "
                                "as JSON, for refaug mine --classifier")
    calibrate.set_defaults(handler=_cli_calibrate)
