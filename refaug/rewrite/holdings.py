"""Holding swaps: a referent and what it holds or carries trade roles, the relation kept.

"man with umbrella" names the man; "umbrella held by man" names the umbrella, with the same
words and the same scene (RefCOCO writes both: "the bat held by the man on the right"). A
swap of the two phrases would give "umbrella with man", which no one writes. Two patterns,
both on an expression that is one noun phrase with a "with" phrase after its head:

- held: a person "with" a thing held in the hand (:data:`HANDHELD`): "man with umbrella" ->
  "umbrella held by man", "woman in white with green frisbee" -> "green frisbee held by
  woman in white" (the person's other modifiers stay with the person); or with a worn
  object of its own (:data:`WORN_OBJECTS`): "the girl with red tie" -> "red tie on the girl";
- placed: a surface or a container "with" an object of the scene (:data:`PLACING`):
  "couch with pillow" -> "pillow on couch", "a white bowl with french fries" -> "french fries
  in a white bowl", "motorcycle with rider" -> "rider on motorcycle", "beige sofa with a man
  sitting" -> "a man sitting on beige sofa".

Not swapped: what a person wears ("man with glasses", "girl with pink hair": the swap would
name no object of the scene), a part ("laptop with black screen"), a mass ("bowl with
liquid"), a noun with modifiers after it ("chair with towel on it" is the "with ... it"
landmark swap's), coordination ("with racket and ball"), pronouns and clauses.

Example:
    >>> from refaug.nlp import load_nlp  # doctest: +SKIP
    >>> [p.text for _, p in holding_swaps(load_nlp()("man with umbrella"), root)]  # doctest: +SKIP
    ['umbrella held by man']
"""

from __future__ import annotations

from collections.abc import Iterator

from spacy.tokens import Doc, Token

from refaug import lexicon as lx
from refaug.rewrite.base import Proposal
from refaug.rewrite.grammar import indefinite_article, is_plural, match_first_case
from refaug.rewrite.swap_pairs import (
    COUNTABLE,
    NOT_ENTITIES,
    PARTS,
    PLACES,
    SCENE_THINGS,
    WORN,
    animate,
)

__all__ = [
    "HANDHELD", "PLACING", "WORN_OBJECTS", "held_in_hand", "holdable", "holding_swaps",
    "paired_adjective", "telegraphic_holdings",
]  # fmt: skip

# Things a person "with" them holds in the hand (RefCOCO: "man with bat", "girl with donut");
# "laptop", "bag" and "skis" are not here: a person "with" them may sit at, wear or stand on them.
HANDHELD = frozenset(
    {"umbrella", "racket", "racquet", "bat", "frisbee", "phone", "cellphone", "remote",
     "controller", "cup", "mug", "bottle", "knife", "fork", "spoon", "toothbrush", "book",
     "newspaper", "donut", "doughnut", "hotdog", "sandwich", "banana", "plate", "tray",
     "camera", "kite", "surfboard", "skateboard", "snowboard", "guitar", "trumpet", "ball",
     "drink", "beer", "glass", "leash", "paddle", "flag", "sign", "cone", "wand", "balloon",
     "microphone", "mic", "scissors", "burger", "apple", "orange", "cookie", "sandwhich",
     "cane", "club", "control", "dryer"}
)  # fmt: skip
# What a person "with" them wears or carries that is an object of its own (COCO's tie,
# backpack, handbag), and how it is placed back on them: "man with necktie" -> "necktie on
# man", "a woman with a turquoise purse" -> "a turquoise purse carried by a woman".
WORN_OBJECTS: dict[str, str] = {
    **dict.fromkeys(("tie", "necktie", "backpack"), "on"),
    **dict.fromkeys(("purse", "handbag", "bag", "suitcase", "luggage"), "carried by"),
}  # fmt: skip
# Surfaces and containers "with" an object, and the preposition that places the object back
# on them: (for a person or animal, for a thing). "bus with people" -> "people on bus",
# "car with dog" -> "dog in car", "van with flag" -> "flag on van". Not appliances: "fridge
# with magnets" has them on it, "oven with a pizza" in it.
PLACING: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        ("table", "desk", "counter", "couch", "sofa", "bed", "chair", "bench", "stool",
         "armchair", "plate", "tray", "shelf", "cake", "motorcycle", "bike", "bicycle",
         "motorbike", "scooter", "skateboard", "surfboard", "toilet", "cart", "wagon",
         "platter", "board", "cutting", "dish", "napkin", "towel", "blanket", "rug", "mat",
         "bus", "train", "horse", "elephant"),
        ("on", "on"),
    ),
    **dict.fromkeys(("car", "truck", "van", "boat", "taxi", "cab", "jeep", "suv"), ("in", "on")),
    **dict.fromkeys(
        ("bowl", "cup", "mug", "glass", "box", "basket", "vase", "container", "jar", "bucket",
         "pot", "pan", "sink", "bathtub", "tub", "drawer", "crate", "bin", "stroller",
         "carriage"),
        ("in", "in"),
    ),
}  # fmt: skip
# The verbs of a telegraphic "kid holding pizza", and their participles.
_TELEGRAPHIC_VERBS = {"holding": "held", "carrying": "carried"}
# The tags of the words of a plain noun phrase ("a polka dotted umbrella").
_NOMINAL_TAGS = frozenset({"DT", "JJ", "JJR", "JJS", "NN", "NNS", "NNP", "CD", "VBN", "HYPH"})
# Things too big to stand on or in a surface or container of the scene ("a table with
# chairs", "a street with cars" are side by side).
_FURNITURE = frozenset(
    {"chair", "bench", "couch", "sofa", "table", "bed", "desk", "stool", "toilet", "sink",
     "fridge", "refrigerator", "oven", "car", "truck", "bus", "train", "boat", "van"}
)  # fmt: skip
_NOUNS = ("NOUN", "PROPN")
# Postures a person or animal "with" a surface takes ("sofa with a man sitting").
_POSTURES = frozenset({"sitting", "lying", "laying", "standing", "sleeping", "resting", "seated"})


def holding_swaps(doc: Doc, referent: Token, end: int) -> Iterator[tuple[Token, Proposal]]:
    """The held, placed and owned swaps of ``doc`` whose head noun is ``referent``; ``end``:
    the index after the text's last word (punctuation after it is kept)."""
    yield from _with_swaps(doc, referent, end)
    yield from _owner_swaps(doc, referent, end)


def _owner_swaps(doc: Doc, referent: Token, end: int) -> Iterator[tuple[Token, Proposal]]:
    """ "the umbrella of the woman in front" -> "the woman in front with the umbrella": a
    handheld thing "of" a person, the person's phrase (and what the parser hung on the
    thing after it) ending the text."""
    of = doc[referent.i + 1] if referent.i + 1 < end else None
    if of is None or of.lower_ != "of" or of.head != referent or not held_in_hand(referent):
        return
    owner = next((c for c in of.children if c.dep_ == "pobj"), None)
    if owner is None or not _person(owner) or owner.left_edge.i != of.i + 1:
        return
    if not _plain(doc[:end]) or any(
        t.lower_ in ("with", "without", "of") for t in doc[of.i + 1 : end]
    ):
        return  # "the bat of the man with the hat": whose hat
    if any(t.head.i < of.i and t.head != referent for t in doc[of.i + 1 : end]):
        return
    thing = "".join(t.text_with_ws for t in doc[: of.i]).rstrip()
    text = "".join(t.text_with_ws for t in doc[of.i + 1 : end]).rstrip()
    text = f"{text} with {thing[:1].lower() + thing[1:]}"
    text += "".join(t.text_with_ws for t in doc[end:]).rstrip()
    detail = f"landmark: {_named(doc, referent)} <-> {_named(doc, owner)}"
    yield owner, Proposal(match_first_case(doc.text, text), detail, of.i + 1)


def _with_swaps(doc: Doc, referent: Token, end: int) -> Iterator[tuple[Token, Proposal]]:
    """ "man with umbrella" -> "umbrella held by man", "couch with pillow" -> "pillow on couch"."""
    phrase = _with_phrase(doc, referent, end)
    if phrase is None:
        return
    with_, held, stop = phrase
    relation = _relation(referent, held)
    if relation is None:
        return
    start = held.left_edge.i
    lead = _with_article(referent, doc[start], _lead(doc, with_))
    tail = "".join(t.text_with_ws for t in doc[stop:end]).rstrip()
    moved = "".join(t.text_with_ws for t in doc[start:stop]).rstrip()
    text = " ".join(part for part in (moved, relation, lead, tail) if part)
    text = match_first_case(doc.text, text + "".join(t.text_with_ws for t in doc[end:]).rstrip())
    detail = f"landmark: {_named(doc, referent)} <-> {_named(doc, held)}"
    yield held, Proposal(text, detail, start)


def telegraphic_holdings(doc: Doc, end: int) -> Iterator[tuple[Token, Token, Proposal]]:
    """ "kid holding pizza" -> "pizza held by kid", "tall gray vase holding flowers" -> "flowers
    in tall gray vase": a noun phrase, "holding" or "carrying", a noun phrase, and nothing else
    (read off the tags: the parser makes such fragments one noun phrase, "kid/amod
    holding/amod pizza/ROOT"). Yields (holder, held, proposal)."""
    verbs = [t for t in doc[1:end] if t.tag_ == "VBG" and t.lower_ in _TELEGRAPHIC_VERBS]
    if len(verbs) != 1 or verbs[0].i + 1 >= end:
        return
    verb = verbs[0]
    holder, held = doc[verb.i - 1], doc[end - 1]
    if not all(t.tag_ in _NOMINAL_TAGS for t in (*doc[: verb.i], *doc[verb.i + 1 : end])):
        return
    if holder.tag_ not in ("NN", "NNS") or held.tag_ not in ("NN", "NNS", "NNP"):
        return
    if _not_object(holder) or _not_object(held) or holder.lemma_ == held.lemma_:
        return
    if _person(holder) and holdable(held):
        relation = f"{_TELEGRAPHIC_VERBS[verb.lower_]} by"
    elif PLACING.get(holder.lemma_.lower(), ("", ""))[1] == "in" and _known(held):
        relation = "in"  # "blue container holding sugar packets"
    else:
        return
    lead = _with_article(holder, doc[verb.i + 1], _lead(doc, verb))
    moved = "".join(t.text_with_ws for t in doc[verb.i + 1 : end]).rstrip()
    text = f"{moved} {relation} {lead}" + "".join(t.text_with_ws for t in doc[end:]).rstrip()
    detail = f"landmark: {_words_before(doc, 0, holder)} <-> {_words_before(doc, verb.i + 1, held)}"
    yield holder, held, Proposal(match_first_case(doc.text, text), detail, verb.i + 1)


def _words_before(doc: Doc, start: int, noun: Token) -> str:
    words = [t.lower_ for t in doc[start : noun.i + 1]]
    return " ".join(words[1:] if words[0] in ("a", "an", "the") and len(words) > 1 else words)


def _with_phrase(doc: Doc, referent: Token, end: int) -> tuple[Token, Token, int] | None:
    """The referent's "with" and its object, and the index after the phrase that moves (the
    object with its left modifiers, and a bare posture: "a man sitting"); None when the text is
    not "<referent phrase> with <object> [<the referent's prepositions>]"."""
    with_ = next((t for t in doc[referent.i + 1 : end] if _referents_with(t, referent)), None)
    if with_ is None or any(t.lower_ in ("with", "without") for t in doc[with_.i + 1 : end]):
        return None
    children = list(with_.children)
    if len(children) != 1 or children[0].dep_ != "pobj":
        return None
    held = children[0]
    if held.left_edge.i != with_.i + 1 or not _plain(doc[with_.i + 1 : held.i + 1]):
        return None
    stop = held.i + 1
    rights = list(held.rights)
    if rights and animate(held) and len(rights) == 1 and _bare_posture(rights[0], held):
        stop = rights[0].i + 1  # "beige sofa with a man sitting"
    elif len(rights) == 1 and rights[0].lower_ == "of" and rights[0].i == held.i + 1:
        stop = rights[0].right_edge.i + 1  # "woman with a cup of coffee"
        if not _plain(doc[held.i + 1 : stop]) or stop == held.i + 2:
            return None
    elif rights:
        return None  # "chair with towel on it", "man with dog in his arms"
    if not _plain(doc[: with_.i]) or not _plain(doc[stop:end]):
        return None
    if any(not _words(t) & (NOT_ENTITIES | PLACES) for t in doc[stop:end] if t.pos_ in _NOUNS):
        return None  # only places follow: not "a lunch box with carrot ... other vegetables"
    if any(_could_have(t) for t in doc[referent.i + 1 : with_.i]):
        return None  # "the bench behind the woman with glasses": the glasses are hers
    for token in doc[stop:end]:  # only the referent's own phrases follow: "... on the left"
        if token.head.i < stop and (token.head != referent or token.dep_ != "prep"):
            return None
    return with_, held, stop


def _referents_with(token: Token, referent: Token) -> bool:
    """A "with" of the referent's: its own, or one the parser hung on the noun of the
    referent's place or clothes ("the lady on the right with the red necktie")."""
    if token.lower_ != "with" or token.dep_ != "prep":
        return False
    head = token.head
    if head == referent:
        return True
    return head.dep_ == "pobj" and head.head.head == referent and not _could_have(head)


def _could_have(noun: Token) -> bool:
    """A noun between the referent and "with" that the "with" phrase may belong to instead."""
    if noun.pos_ not in ("NOUN", "PROPN"):
        return False
    return animate(noun) or noun.lemma_.lower() in COUNTABLE or bool(_words(noun) & PLACING.keys())


def _bare_posture(token: Token, held: Token) -> bool:
    return token.lower_ in _POSTURES and token.head == held and not list(token.children)


def _plain(tokens) -> bool:
    """No verb, auxiliary, pronoun, punctuation, coordination or negation: a phrase that reads
    the same in either place."""
    return not any(
        (t.pos_ in ("VERB", "AUX", "PRON", "PUNCT", "CCONJ") or t.lower_ in ("not", "no"))
        and not paired_adjective(t)
        for t in tokens
    )


def paired_adjective(token: Token) -> bool:
    """The "and" of two adjectives of one noun ("white and blue bus", "black and white cat"):
    a coordination that does not split the phrase."""
    return token.lower_ == "and" and token.head.pos_ == "ADJ" and token.head.dep_ == "amod"


def _relation(referent: Token, held: Token) -> str | None:
    """ "held by" (a person with a handheld thing), the placing preposition (a surface or a
    container with an object), or None."""
    lemma, held_lemma = referent.lemma_.lower(), held.lemma_.lower()
    if lemma == held_lemma or _not_object(held) or _not_object(referent):
        return None
    if _person(referent):
        if held_in_hand(held):
            return "held by"
        return next((WORN_OBJECTS[w] for w in _words(held) if w in WORN_OBJECTS), None)
    if animate(referent) or referent.lower_ not in PLACING and lemma not in PLACING:
        return None
    for_animate, for_thing = PLACING.get(lemma) or PLACING[referent.lower_]
    if animate(held):
        return for_animate
    if held_lemma in _FURNITURE:
        return None  # "an empty table with seven chairs": around it, not on it
    return for_thing if _known(held) else None


def _known(noun: Token) -> bool:
    """A COCO object or another thing of the scene (:data:`~refaug.rewrite.swap_pairs.SCENE_THINGS`)."""
    return noun.lemma_.lower() in COUNTABLE or bool(_words(noun) & SCENE_THINGS)


def _words(noun: Token) -> set[str]:
    words = {noun.lower_, noun.lemma_.lower()}
    if noun.i > 0 and noun.doc[noun.i - 1].lower_ == "hot" and noun.lemma_.lower() == "dog":
        words.add("hotdog")  # "guy with hot dog"
    return words


def held_in_hand(noun: Token) -> bool:
    """Whether ``noun`` names a thing held in the hand (:data:`HANDHELD`), not one worn."""
    return bool(_words(noun) & HANDHELD) and not _worn_only(noun)


def holdable(noun: Token) -> bool:
    """Whether a person "holding" or "carrying" ``noun`` may trade roles with it: a handheld
    thing, or a COCO object ("a child holding skis"; not "holding his shirt")."""
    return held_in_hand(noun) or (noun.lemma_.lower() in COUNTABLE and not animate(noun))


def _not_object(noun: Token) -> bool:
    """A part, a place, a mass or a word that is not a noun of the scene."""
    return noun.pos_ not in ("NOUN", "PROPN") or bool(
        _words(noun) & (PARTS | PLACES | lx.MASS_NOUNS)
    )


def _worn_only(noun: Token) -> bool:
    """Worn rather than held ("man with glasses", not "glass"); a handheld accessory
    ("umbrella") is held."""
    return any(w in WORN and w not in HANDHELD for w in (noun.lower_, noun.lemma_.lower()))


def _person(noun: Token) -> bool:
    return animate(noun) and noun.lemma_.lower() not in lx.ANIMAL_NOUNS


def _lead(doc: Doc, stop: Token) -> str:
    """The referent's phrase before ``stop`` ("with", "holding"), its first letter lower-cased
    (it moves inside)."""
    text = "".join(t.text_with_ws for t in doc[: stop.i]).rstrip()
    first = doc[0]
    if first.pos_ == "PROPN" or first.text == "I":
        return text
    return text[:1].lower() + text[1:]


def _with_article(referent: Token, held_start: Token, lead: str) -> str:
    """ "girl with a donut" -> "a donut held by a girl": a bare singular referent takes an
    indefinite article when the held thing had one (the text keeps one register)."""
    if held_start.lower_ not in ("a", "an", "the") or is_plural(referent) or referent.i != 0:
        return lead
    if referent.lemma_.lower() in lx.MASS_NOUNS:
        return lead
    return f"{indefinite_article(lead)} {lead}"


def _named(doc: Doc, noun: Token) -> str:
    words = [t.lower_ for t in doc[noun.left_edge.i : noun.i + 1]]
    return " ".join(words[1:] if words[0] in ("a", "an", "the") and len(words) > 1 else words)
