"""How much of a real expression set each rewriter covers, how small its edits are, how fast.

Every distinct text of ``--data`` is parsed once (``nlp.pipe``), then every registered
rewriter (:data:`refaug.rewrite.registry.REWRITERS`, default options) runs its hook over the
parsed Docs. Per rewriter:

- ``coverage``: share of texts with at least one output;
- ``two_object_texts`` / ``two_object_swapped``: texts that name two objects, and the share
  of them that get a swap (a role-reversal output whose detail is not an attribute swap).
  "Names two objects" is read off the parse: two noun heads (``NOUN``/``PROPN``, not a
  compound modifier), not conjuncts of each other ("catcher and umpire"), that are not
  attribute words (:func:`refaug.lexicon.attribute_kind`), places in the frame ("left",
  "side", "picture": ``roles.NOT_ENTITIES``) or words that name no object ("3 o clock",
  "kid standing": :func:`_names_no_object`);
- ``two_object_swapped_or_attributes``: the share of the two-object texts with a swap or an
  attribute swap between two of its nouns ("man in red shirt and blue jeans" -> "man in blue
  shirt and red jeans", "girl in white holding black umbrella" -> "girl in black holding
  white umbrella"). ``two_object_swapped`` stays the figure it was (object swaps only, so
  runs before and after compare); this one says how many two-object texts get a role
  reversal of any kind, since for a person and the clothes they wear ("man in red shirt")
  the attribute swap is the only swap that names another referent;
- ``two_scene_object_texts`` / ``two_scene_object_swapped``: the same for texts that name two
  scene objects: noun heads as above (two not conjuncts of each other) that are not worn or
  carried (``swap_pairs.WORN``), a part of a body or thing (``swap_pairs.PARTS``), a place
  (``swap_pairs.PLACES``), a mass noun, or negated ("no hat"). "girl in pink shirt" names two objects but one scene object;
  a swap there could only be "pink shirt in girl";
- ``two_countable_texts`` / ``two_countable_swapped``: texts with two such heads, not
  conjuncts of each other, that are both people or animals, or both COCO objects
  (``swap_pairs.COUNTABLE``): "a man next to a woman", "a cup on a table";
- ``mean_token_edit_distance``: Levenshtein distance between the input's and the output's
  lower-cased word tokens, averaged over outputs;
- ``intended_only``: share of outputs that change only the words the rewriter means to
  change (see :func:`intended_only`);
- ``coverage_by_detail``: per detail kind (the part before ":", e.g. the attribute rewriter's
  ``pattern``), the share of texts with an output of that kind;
- ``texts_per_s``: texts over (parse CPU seconds + hook CPU seconds), one process;
- ``sample``: 20 outputs drawn with a fixed seed, for reading;
- ``plausibility`` (with ``--plausibility cooccurrence|lm``, for the rewriters named by
  ``--plausibility-rewriters``): the share of outputs the plausibility filter of mining
  (:class:`refaug.plausibility.PlausibilityFilter`, fitted on the data's own expressions as
  a run fits it on its human expressions) drops, by check and by detail kind, with examples.

Usage:
    python benchmarks/rewrite_coverage.py
    python benchmarks/rewrite_coverage.py --data ../shared/data/refcoco_real_dev.jsonl --label after
    python benchmarks/rewrite_coverage.py --plausibility lm --plausibility-rewriters role_reversal

Results go to ``benchmarks/results/rewrite_coverage.json`` under ``runs[--label]`` (other
labels in the file are kept, so "before" and "after" sit side by side).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import re
import shlex
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import spacy
from lemminflect import getAllLemmas

from refaug import lexicon as lx
from refaug.rewrite.registry import REWRITER_NAMES, build_rewriter

logger = logging.getLogger("benchmarks.rewrite_coverage")
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/refcoco_real_dev.jsonl"
SAMPLE_SIZE = 20
_WORD = re.compile(r"[\w']+|[^\w\s]")
# Words a negation may add, remove or change (with do-support and relative clauses).
NEGATION_WORDS = frozenset(
    {"not", "n't", "no", "never", "without", "with", "nothing", "something", "nobody",
     "somebody", "someone", "noone", "does", "do", "did", "that", "who", "which", "is", "are",
     "was", "were", "the", "a", "an", "one", "other", "than", "any", "has", "have", "had",
     "can", "ca", "will", "wo", "in"}
)  # fmt: skip
# Words a swap may change besides moving phrases: articles, agreement, pronouns.
SWAP_WORDS = frozenset(
    {"a", "an", "the", "is", "are", "was", "were", "he", "she", "him", "her", "his", "hers",
     "it", "its", "they", "them", "their", "himself", "herself", "itself", "themselves"}
)  # fmt: skip


def read_texts(path: Path) -> list[str]:
    """Every sentence of a refer-layout JSON-lines file (``sentences: [{"sent": ...}]``)."""
    texts: list[str] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            texts.extend(s["sent"] for s in row.get("sentences") or () if s.get("sent"))
    return texts


def tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def edit_distance(a: list[str], b: list[str]) -> int:
    """Token Levenshtein distance (two rows, O(len(a) * len(b)))."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def intended_only(kind: str, detail: str, source: str, output: str) -> bool:
    """Whether ``output`` changes only what ``kind`` means to change.

    - negation: the words added or removed are negation words, auxiliaries, "that is" and
      articles, plus at most one re-inflected verb (do-support);
    - role reversal: the same words, rearranged, up to articles, agreement and pronouns;
    - attribute substitution: exactly one word changes (two for a compound colour), plus an
      article.
    """
    before, after = Counter(tokens(source)), Counter(tokens(output))
    added, removed = after - before, before - after
    if kind == "negation":
        extra = [w for w in (*added.elements(), *removed.elements()) if w not in NEGATION_WORDS]
        return (
            len(extra) <= 2 and len([w for w in added.elements() if w not in NEGATION_WORDS]) <= 1
        )
    if kind in ("role_reversal", "attribute_swap"):
        return all(w in SWAP_WORDS for w in (*added.elements(), *removed.elements()))
    changed = [w for w in (*added.elements(), *removed.elements()) if w not in ("a", "an")]
    return len(changed) <= 4


def _heads(doc, not_entities: frozenset[str]) -> list:
    """The expression's head nouns: nouns and proper nouns, not compounds, attributes,
    ``not_entities`` or words that name no object (:func:`_names_no_object`)."""
    return [
        t
        for t in doc
        if t.pos_ in ("NOUN", "PROPN")
        and t.dep_ != "compound"
        and lx.attribute_kind(t.lower_) is None
        and t.lower_ not in not_entities
        and not _names_no_object(t)
    ]


def _names_no_object(token) -> bool:
    """A noun tag on a word that names no object: the "clock" of "3 o clock" (a direction),
    the "teddy" of a split "teddy bear", a bare participle ("kid standing", "living room")."""
    doc = token.doc
    before = doc[token.i - 1].lower_ if token.i > 0 else ""
    after = doc[token.i + 1].lower_ if token.i + 1 < len(doc) else ""
    if token.lower_ == "clock" and before in ("o", "oc", "o'"):
        return True
    if token.lower_ == "teddy" and after in ("bear", "bears"):
        return True
    if not token.lower_.endswith("ing") or token.tag_ != "NN":
        return False
    if any(c.dep_ in ("det", "amod", "poss", "nummod", "compound") for c in token.children):
        return False  # "a building", "the red awning"
    return bool(getAllLemmas(token.lower_, upos="VERB").get("VERB"))


def _two_apart(heads) -> bool:
    """Two heads that are not conjuncts of each other ("mac and cheese", "catcher and umpire"
    name two objects that no swap can exchange: the text would say the same)."""
    return any(two not in one.conjuncts for i, one in enumerate(heads) for two in heads[i + 1 :])


def names_two_objects(doc, not_entities: frozenset[str]) -> bool:
    return _two_apart(_heads(doc, not_entities))


def names_two_scene_objects(doc, not_entities: frozenset[str]) -> bool:
    from refaug.rewrite.swap_pairs import PARTS, PLACES, WORN

    heads = [
        t
        for t in _heads(doc, not_entities)
        if not {t.lower_, t.lemma_.lower()} & (WORN | PARTS | PLACES | lx.MASS_NOUNS)
        and not any(c.dep_ == "det" and c.lower_ == "no" for c in t.children)
    ]
    return _two_apart(heads)


def names_two_countable_objects(doc, not_entities: frozenset[str]) -> bool:
    from refaug.rewrite.swap_pairs import COUNTABLE, animate

    heads = _heads(doc, not_entities)
    for i, one in enumerate(heads):
        for two in heads[i + 1 :]:
            if two in one.conjuncts:
                continue
            if (animate(one) and animate(two)) or (
                one.lemma_.lower() in COUNTABLE and two.lemma_.lower() in COUNTABLE
            ):
                return True
    return False


def is_swap(kind: str, detail: str) -> bool:
    return kind == "role_reversal" and not detail.startswith("attribute")


def plausibility_report(pairs, plausibility, described: dict) -> dict[str, Any]:
    """What the plausibility filter drops of ``(source, candidate)`` pairs (module docstring)."""
    import numpy as np

    from refaug.contrast import describe_texts

    texts, sources = [c.text for _, c in pairs], [s for s, _ in pairs]
    source_scores = np.full(len(texts), np.nan, np.float32)
    sent = np.nonzero(plausibility.needs_model(texts))[0]
    if len(sent):
        source_scores[sent] = plausibility.scores([sources[i] for i in sent])
    verdict = plausibility.judge(
        texts,
        source_scores,
        descriptions=describe_texts(texts),
        source_descriptions=[described[s] for s in sources],
    )
    kinds = [c.detail.split(":")[0] for _, c in pairs]
    by_kind = {
        kind: f"{sum(d for d, k in zip(verdict.drop, kinds, strict=True) if k == kind)}/{n}"
        for kind, n in Counter(kinds).most_common()
    }
    dropped = [
        f"{s}  ->  {c.text}   [{c.detail}] ({verdict.reason[i]}, {verdict.plausibility[i]:.2f})"
        for i, (s, c) in enumerate(pairs)
        if verdict.drop[i]
    ]
    n = max(len(pairs), 1)
    return {
        "mode": plausibility.mode,
        "margin": plausibility.margin,
        "outputs": len(pairs),
        "sent_to_language_model": len(sent),
        "dropped": float(verdict.drop.sum()) / n,
        "dropped_lm": float((verdict.reason == "lm").sum()) / n,
        "dropped_cooccurrence": float((verdict.reason == "cooccurrence").sum()) / n,
        "dropped_by_detail": by_kind,
        "dropped_examples": random.Random(0).sample(dropped, min(20, len(dropped))),
    }


def measure_rewriter(  # noqa: PLR0913
    name: str,
    rewriter,
    docs,
    parse_cpu: float,
    two_objects: list[bool],
    two_scene: list[bool],
    two_countable: list[bool],
    judge=None,
) -> dict:
    start = time.process_time()
    outputs = rewriter.rewrite_docs(docs)
    hook_cpu = time.process_time() - start
    pairs = [(doc.text, c) for doc, out in zip(docs, outputs, strict=True) for c in out]
    covered = sum(bool(out) for out in outputs)
    swapped = [any(is_swap(c.kind, c.detail) for c in out) for out in outputs]
    reversed_ = [any(c.kind == "role_reversal" for c in out) for out in outputs]
    n_two = sum(two_objects)
    n_scene = sum(two_scene)
    distances = [edit_distance(tokens(s), tokens(c.text)) for s, c in pairs]
    intended = [intended_only(c.kind, c.detail, s, c.text) for s, c in pairs]
    details = Counter(c.detail.split(":")[0] for _, c in pairs)
    texts_by_detail = Counter(d for out in outputs for d in {c.detail.split(":")[0] for c in out})
    rng = random.Random(0)
    sample = rng.sample(pairs, min(SAMPLE_SIZE, len(pairs)))
    missed = [
        d.text for d, two, sw in zip(docs, two_objects, swapped, strict=True) if two and not sw
    ]
    scene_missed = [
        d.text for d, two, sw in zip(docs, two_scene, swapped, strict=True) if two and not sw
    ]
    return {
        "coverage": covered / len(docs),
        "texts_with_output": covered,
        "outputs": len(pairs),
        "outputs_per_covered_text": len(pairs) / max(covered, 1),
        "two_object_texts": n_two,
        "two_object_swapped": sum(s for s, t in zip(swapped, two_objects, strict=True) if t)
        / max(n_two, 1),
        "two_object_swapped_or_attributes": sum(
            r for r, t in zip(reversed_, two_objects, strict=True) if t
        )
        / max(n_two, 1),
        "two_scene_object_texts": n_scene,
        "two_scene_object_swapped": sum(s for s, t in zip(swapped, two_scene, strict=True) if t)
        / max(n_scene, 1),
        "two_countable_texts": sum(two_countable),
        "two_countable_swapped": sum(s for s, t in zip(swapped, two_countable, strict=True) if t)
        / max(sum(two_countable), 1),
        "any_swap": sum(swapped) / len(docs),
        "mean_token_edit_distance": sum(distances) / max(len(distances), 1),
        "intended_only": sum(intended) / max(len(intended), 1),
        "by_detail": dict(details.most_common()),
        "coverage_by_detail": {d: n / len(docs) for d, n in texts_by_detail.most_common()},
        "hook_cpu_s": hook_cpu,
        "texts_per_s": len(docs) / (parse_cpu + hook_cpu),
        "hook_texts_per_s": len(docs) / max(hook_cpu, 1e-9),
        "sample": [f"{s}  ->  {c.text}   [{c.detail}]" for s, c in sample],
        "two_object_missed_examples": random.Random(1).sample(missed, min(20, len(missed))),
        "two_scene_object_missed_examples": random.Random(1).sample(
            scene_missed, min(20, len(scene_missed))
        ),
        **({"plausibility": judge(pairs)} if judge is not None else {}),
    }


def measure(
    texts: list[str], *, plausibility: str = "off", judged: tuple[str, ...] = ()
) -> dict[str, Any]:
    rewriters = {name: build_rewriter(name) for name in REWRITER_NAMES}
    first = next(iter(rewriters.values()))
    list(first.parse(texts[:200]))  # warm-up (model load)
    start = time.process_time()
    docs = first.parse(texts)
    parse_cpu = time.process_time() - start
    from refaug.rewrite.roles import NOT_ENTITIES

    two_objects = [names_two_objects(doc, NOT_ENTITIES) for doc in docs]
    two_scene = [names_two_scene_objects(doc, NOT_ENTITIES) for doc in docs]
    two_countable = [names_two_countable_objects(doc, NOT_ENTITIES) for doc in docs]
    judge = None
    if plausibility != "off":
        from refaug.contrast import describe_texts
        from refaug.plausibility import PlausibilityFilter

        human = describe_texts(texts)
        filter_ = PlausibilityFilter(mode=plausibility).fit_counts(human, texts)
        described = dict(zip(texts, human, strict=True))

        def judge(pairs):
            return plausibility_report(pairs, filter_, described)

    results = {
        name: measure_rewriter(
            name, rw, docs, parse_cpu, two_objects, two_scene, two_countable,
            judge if name in judged else None,
        )
        for name, rw in rewriters.items()
    }  # fmt: skip
    return {"parse_cpu_s": parse_cpu, "parse_texts_per_s": len(docs) / parse_cpu,
            "rewriters": results}  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"default {DEFAULT_DATA}")
    parser.add_argument("--out", type=Path, default=RESULTS / "rewrite_coverage.json")
    parser.add_argument("--label", default="current", help="the key of this run in the file")
    parser.add_argument(
        "--plausibility",
        choices=("off", "cooccurrence", "lm"),
        default="off",
        help="judge outputs with the plausibility filter (lm: SmolLM2 on CPU, minutes)",
    )
    parser.add_argument(
        "--plausibility-rewriters",
        default="role_reversal",
        help="comma-separated rewriters whose outputs are judged (default role_reversal)",
    )
    arguments = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(arguments)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if not args.data.exists():
        parser.error(f"--data {args.data} does not exist; pass a refer-layout JSON-lines file")
    texts = list(dict.fromkeys(read_texts(args.data)))
    report = {
        "command": shlex.join(["python", "benchmarks/rewrite_coverage.py", *arguments]),
        "data": args.data.name,
        "distinct_texts": len(texts),
        "spacy": spacy.__version__,
        **measure(
            texts,
            plausibility=args.plausibility,
            judged=tuple(args.plausibility_rewriters.split(",")),
        ),
    }
    runs = json.loads(args.out.read_text())["runs"] if args.out.exists() else {}
    runs[args.label] = report
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": runs}, indent=2, ensure_ascii=False) + "\n")
    print(f"{len(texts)} distinct texts; parse {report['parse_texts_per_s']:.0f} texts/s")
    for name, r in report["rewriters"].items():
        print(
            f"{name:15s} coverage {r['coverage']:.3f}  two-object swapped "
            f"{r['two_object_swapped']:.3f} of {r['two_object_texts']} (with attribute swaps "
            f"{r['two_object_swapped_or_attributes']:.3f})  (scene objects "
            f"{r['two_scene_object_swapped']:.3f} of {r['two_scene_object_texts']}, countable "
            f"{r['two_countable_swapped']:.3f} of {r['two_countable_texts']})  edit "
            f"{r['mean_token_edit_distance']:.2f}  intended {r['intended_only']:.3f}  "
            f"{r['texts_per_s']:.0f} texts/s (hook {r['hook_texts_per_s']:.0f}/s)"
        )
        if "plausibility" in r:
            p = r["plausibility"]
            print(
                f"{'':15s} plausibility ({p['mode']}) drops {p['dropped']:.3f} of "
                f"{p['outputs']} outputs (lm {p['dropped_lm']:.3f}, co-occurrence "
                f"{p['dropped_cooccurrence']:.3f})"
            )
        for line in r["sample"]:
            print("    " + line)
    return report


if __name__ == "__main__":
    main()
