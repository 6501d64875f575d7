"""Negated forms of verbless referring fragments ("right dog", "white horse", "tallest giraffe").

RefCOCO expressions are mostly noun phrases with no verb to negate. The negation moves the
attribute into a relative clause: "right dog" -> "the dog that is not on the right",
"white horse" -> "the horse that is not white", "second cow from left" -> "the cow that is
not second from left", "yellow skirt lady" -> "the lady without a yellow skirt", "the pizza
closest to the camera" -> "the pizza that is not the closest to the camera". A fragment
with nothing to move is negated whole: "lady" -> "the one who is not a lady", "right" ->
"the one that is not on the right".

The reading is tag-based (``pos_``/``tag_``, not the dependency tree), because the parser
often takes a fragment's first word for a verb ("left man": left/VERB/ROOT).

Example:
    >>> from refaug.nlp import load_nlp  # doctest: +SKIP
    >>> [t for t, _ in fragment_negations(load_nlp()("right dog"))]  # doctest: +SKIP
    ['the dog that is not on the right']
"""

from __future__ import annotations

from typing import NamedTuple

from spacy.tokens import Doc, Token

from refaug import lexicon as lx
from refaug.rewrite.grammar import indefinite_article, is_plural, match_first_case

# Positions said with a preposition: "the dog that is not on the right".
ON_SIDES = frozenset({"left", "right"})
AT_ENDS = frozenset({"top", "bottom"})
IN_PLACES = {"middle": "in the middle", "center": "in the center", "centre": "in the centre",
             "mid": "in the middle", "front": "in front", "back": "in the back",
             "rear": "in the back", "background": "in the background",
             "foreground": "in the foreground", "corner": "in the corner"}  # fmt: skip
# Words that only strengthen the position after them ("far left", "very top").
INTENSIFIERS = frozenset({"far", "very", "extreme", "upper", "lower", "top", "bottom"})
# Determiners kept in front of the moved noun; any other ("the", none) becomes "the".
KEPT_DETERMINERS = frozenset({"this", "that", "these", "those", "another", "other", "some"})
WORN = lx.CLOTHING | lx.ACCESSORIES
SUPERLATIVES = frozenset(lx.POSITION_EXTREMES) | {"leftmost", "rightmost", "middlemost"}
_NOUN_POS = ("NOUN", "PROPN")
_VERB_TAGS = ("VBZ", "VBP", "VBD", "MD")


class Group(NamedTuple):
    """The first noun group of a fragment: ``doc[start:end]``, its head, and what follows."""

    det: Token | None
    start: int
    head: int
    end: int


def fragment_negations(doc: Doc, *, whole: bool) -> list[tuple[str, str]]:  # noqa: C901
    """``(text, detail)`` negations of a verbless fragment (none when it has a finite verb).

    Args:
        doc: the parsed fragment.
        whole: also negate the fragment as a whole ("the one that is not a lady") when no
            attribute of it can be moved into a relative clause.
    """
    if not len(doc) or _has_participle_after(doc):
        return []
    group = noun_group(doc)
    verbs_from = group.head if group is not None else 0
    if any(t.tag_ in _VERB_TAGS and not _is_attribute(t) for t in doc[verbs_from:]):
        return []
    found: list[tuple[str, str]] = []
    if group is not None:
        found.extend(_attribute_clauses(doc, group, rest_negated=not whole))
        found.extend(_without_clothing(doc, group))
    if not found and whole:
        found.extend(_misparsed_head(doc) or _whole(doc, group))
    return [(match_first_case(doc.text, text), detail) for text, detail in found]


def _has_participle_after(doc: Doc) -> bool:
    """A participle after a noun ("man holding a bat"): the verb rules negate it."""
    seen_noun = False
    for token in doc:
        if token.tag_ in ("VBG", "VBN") and seen_noun and not _is_attribute(token):
            return True
        seen_noun = seen_noun or (token.pos_ in _NOUN_POS and not _is_attribute(token))
    return False


def _is_attribute(token: Token) -> bool:
    low = token.lower_
    return lx.attribute_kind(low) is not None or low in IN_PLACES or low in lx.POSITION_AXES


def _is_noun(token: Token) -> bool:
    if token.i > 0 and (token.doc[token.i - 1].lower_, token.lower_) in lx.SPATIAL_BLOCKED_BIGRAMS:
        return True  # "tank top"
    return (token.pos_ in _NOUN_POS and not _is_attribute(token)) or token.lower_ in ("one", "ones")


def noun_group(doc: Doc) -> Group | None:
    """The determiner, modifiers and head noun the fragment starts with (None if it has none)."""
    i = 0
    det = None
    if doc[0].tag_ in ("DT", "PRP$", "CD") and doc[0].lower_ not in ("no", "all", "both", "one"):
        det, i = doc[0], 1
        if doc[0].tag_ == "CD" and (lx.number_value(doc[0].text) is None or len(doc) == 1):
            det, i = None, 0
    start, head = i, None
    while i < len(doc):
        token = doc[i]
        modifier = token.pos_ in ("ADJ", "NUM", *_NOUN_POS) or _is_attribute(token)
        linking = token.lower_ in ("and", "-") and 0 < i < len(doc) - 1 and not _is_noun(doc[i - 1])
        participle = token.tag_ in ("VBN", "VBG", "VBD") and i + 1 < len(doc)
        if not (modifier or linking or participle):
            break
        if _is_noun(token):
            head = i
        i += 1
    if head is None:
        return None
    return Group(det, start, head, i)


# ---------------------------------------------------------------------- relative clauses
def _attribute_clauses(doc: Doc, group: Group, *, rest_negated: bool) -> list[tuple[str, str]]:
    """One negation per attribute of the head, before it ("right dog") or after ("dog right")."""
    head = doc[group.head]
    rest = doc[group.end :]
    after = doc[group.head + 1 : group.end]
    out = []
    if len(after) and all(_is_attribute(t) or t.pos_ == "ADV" for t in after):
        predicate = _predicate([t.lower_ for t in after], rest_text=rest.text)
        if predicate.startswith("on the") and rest.text.lower().startswith("of"):
            predicate = f"{after.text.lower()} {rest.text}"
        noun = _words(doc[group.start : group.head + 1])
        out.append((_clause(doc, group, noun, predicate, rest=""), f"not: {after.text}"))
    if len(after):
        return out
    if len(rest) and (rest[0].pos_ in ("CCONJ", "PUNCT") or rest[0].tag_ in ("VBG", "VBN")):
        return out  # "black hair and black vest": the rest is not the head's modifier
    if (len(rest) and _negatable_rest(rest) and rest_negated) or head.tag_ == "VBG":
        return out  # "the big tire next to the car": the preposition rule negates it
    span = _leading_attributes(doc, group)
    if span is None:
        return out
    noun = _words(doc[span[1] : group.head + 1])
    for first, last in _runs(doc, *span):
        words = [t.lower_ for t in doc[first:last]]
        rest_text = rest.text
        if lx.ordinal_value(words[-1]) is not None and rest_text:
            predicate, rest_text = " ".join(words) + " " + rest_text, ""
        else:
            predicate = _predicate(words, rest_text="")
        kept = _words(doc[span[0] : first]) + " " + _words(doc[last : span[1]])
        text = _clause(doc, group, f"{kept.strip()} {noun}".strip(), predicate, rest=rest_text)
        out.append((text, f"not: {doc[first:last].text}"))
    return out


def _runs(doc: Doc, start: int, end: int) -> list[tuple[int, int]]:
    """The span split where positions meet other attributes ("middle | white bus")."""
    runs: list[tuple[int, int]] = []
    first = start
    for i in range(start + 1, end):
        if _positional(doc[i]) != _positional(doc[i - 1]) and doc[i - 1].lower_ not in ("and", "-"):
            runs.append((first, i))
            first = i
    runs.append((first, end))
    return [r for r in runs if doc[r[1] - 1].lower_ not in ("and", "-")]


def _positional(token: Token) -> bool:
    low = token.lower_
    return low in lx.POSITION_AXES or low in IN_PLACES or low in INTENSIFIERS


def _negatable_rest(rest) -> bool:
    first = rest[0].lower_
    return (rest[0].pos_ == "ADP" and first not in ("from", "of")) or first in ("next", "close")


def _leading_attributes(doc: Doc, group: Group) -> tuple[int, int] | None:
    """The attribute words at the start of the group, before any noun ("far left dog")."""
    end = group.start
    while end < group.head and (
        doc[end].pos_ in ("ADJ", "NUM", "ADV")
        or _is_attribute(doc[end])
        or doc[end].tag_ in ("VBN", "VBD", "VBG")
        or (doc[end].lower_ in ("and", "-") and end > group.start)
    ):
        end += 1
    if end == group.start or doc[end - 1].lower_ in ("and", "-"):
        return None
    if any(t.lower_ in WORN for t in doc[end : group.head]):
        return None  # "yellow skirt lady": the colour is the skirt's
    return group.start, end


def _predicate(words: list[str], *, rest_text: str) -> str:
    """What follows "is not": "on the right", "at the top left", "the tallest", "white"."""
    last = words[-1]
    text = " ".join(words)
    if last in ON_SIDES and rest_text.lower().startswith("of"):
        phrase = text
    elif last in ON_SIDES and words[0] not in AT_ENDS:
        phrase = f"on the {text}"
    elif last in ON_SIDES or (last in AT_ENDS and len(words) == 1):
        phrase = f"at the {text}"
    elif len(words) == 1 and last in IN_PLACES:
        phrase = IN_PLACES[last]
    elif last in SUPERLATIVES or last.endswith("est") or last.endswith("most"):
        phrase = f"the {text}"
    else:
        phrase = text
    return f"{phrase} {rest_text}".strip()


def _clause(doc: Doc, group: Group, noun: str, predicate: str, *, rest: str) -> str:
    head = doc[group.head]
    plural = is_plural(head)
    who = "who" if _person(head) else "that"
    be = "are" if plural else "is"
    det = group.det.lower_ if group.det is not None else ""
    if det in ("a", "an") and not plural:
        det = indefinite_article(noun)
    elif det not in KEPT_DETERMINERS and (
        group.det is None or group.det.tag_ not in ("PRP$", "CD")
    ):
        det = "the"
    parts = [det, noun, rest, who, be, "not", predicate]
    return " ".join(p for p in parts if p)


def _person(token: Token) -> bool:
    return token.lower_ in lx.PERSON_NOUNS or token.lemma_.lower() in lx.PERSON_NOUNS


def _words(span) -> str:
    return "".join(t.text_with_ws for t in span).strip()


# ---------------------------------------------------------------------- possession
def _without_clothing(doc: Doc, group: Group) -> list[tuple[str, str]]:
    """ "yellow skirt lady" -> "the lady without a yellow skirt" (a worn thing before the head)."""
    head = doc[group.head]
    if group.head == group.start or len(doc[group.end :]):
        return []
    worn = [
        t for t in doc[group.start : group.head]
        if t.pos_ in _NOUN_POS and t.lower_ in WORN
    ]  # fmt: skip
    if len(worn) != 1 or not (_person(head) or head.lemma_.lower() in lx.ANIMAL_NOUNS):
        return []
    thing = _words(doc[group.start : worn[0].i + 1])
    noun = _words(doc[worn[0].i + 1 : group.head + 1])
    article = "" if is_plural(worn[0]) else indefinite_article(thing) + " "
    det = "the" if group.det is None or group.det.lower_ == "the" else group.det.lower_
    if det in ("a", "an"):
        det = indefinite_article(noun)
    return [(f"{det} {noun} without {article}{thing}", f"without: {thing}")]


# ---------------------------------------------------------------------- the whole fragment
def _whole(doc: Doc, group: Group | None) -> list[tuple[str, str]]:
    """ "lady" -> "the one who is not a lady"; "right" -> "the one that is not on the right"."""
    text = doc.text.strip()
    if group is None:
        words = [t.lower_ for t in doc]
        if doc[0].pos_ == "ADP" or lx.ordinal_value(doc[0].text) is not None:
            return [(f"the one that is not {text}", "not: whole")]
        if all(_is_attribute(t) or t.pos_ in ("ADJ", "ADV", "NUM") for t in doc):
            return [(f"the one that is not {_predicate(words, rest_text='')}", "not: whole")]
        return []
    head = doc[group.head]
    plural = is_plural(head)
    who = "who" if _person(head) else "that"
    one, be = ("ones", "are") if plural else ("one", "is")
    body = text
    bare = head.lemma_.lower() in lx.MASS_NOUNS or head.lower_ in ("half", "one")
    if group.det is None and not plural and not bare:
        body = f"{indefinite_article(text)} {text}"
    elif group.det is not None and group.det.lower_ == "the" and not plural:
        body = f"{indefinite_article(doc[1].text)} {_words(doc[1:])}" if len(doc) > 1 else text
    return [(f"the {one} {who} {be} not {body}", "not: whole")]


def _misparsed_head(doc: Doc) -> list[tuple[str, str]]:
    """ "bear on right" (bear/VB/ROOT): a noun the tagger took for a verb, then a preposition."""
    if len(doc) < 3 or doc[0].tag_ not in ("VB", "VBZ", "VBP") or doc[0].dep_ != "ROOT":
        return []
    prep = doc[1]
    if prep.pos_ != "ADP" or prep.lower_ in ("of", "to", "from", "for"):
        return []
    if prep.lower_ == "with":
        return [(f"{doc[0].text} without {_words(doc[2:])}", "with -> without")]
    return [(f"{doc[0].text} not {_words(doc[1:])}", f"add not: {prep.lower_}")]
