"""The parse: :func:`describe_texts` and :func:`head_noun` (the package docstring,
:mod:`refaug.contrast`, says what a :class:`Description` holds and how it is compared).

Every vocabulary comes from :mod:`refaug.lexicon`, shared with the rewriters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from spacy.tokens import Doc, Token

from refaug import lexicon as lx
from refaug.contrast.colors import SHADE_LIGHTNESS, color_lab
from refaug.contrast.description import _COCO_NAMES, Attribute, Description, Landmark
from refaug.contrast.synonyms import head_classes, lexicon_class
from refaug.contrast.typos import correct
from refaug.data.coco import COCO_CATEGORIES

_NOUN_POS = frozenset({"NOUN", "PROPN"})
_SKIP_VERBS = frozenset(
    {"be", "have", "wear", "do", "get", "make", "see", "can", "show", "say", "use",
     "go", "come", "seem", "appear", "take", "let", "put", "belong", "dress", "clothe"}
)  # fmt: skip
_MATERIAL_FORM = {"wooden": "wood", "woolen": "wool", "metallic": "metal", "steel": "metal",
                  "iron": "metal", "aluminum": "metal"}
_MULTIWORD_NAMES = frozenset(name for name, _ in COCO_CATEGORIES.values() if " " in name)
_PARTS = frozenset({"hair", "beard", "fur", "sleeve", "sleeves", "coat"})
_NEGATORS = frozenset({"not", "no", "n't", "never", "without", "nobody", "none"})


# ------------------------------------------------------------------ heads


def head_class(lemma: str) -> str | None:
    """The class of a head noun: "person", a COCO category, or None when unknown (the lexicon's,
    else one of WordNet's: :func:`refaug.contrast.synonyms.head_classes` gives them all).

    Example:
        >>> head_class("guy"), head_class("doughnut"), head_class("thingamajig")
        ('person', 'donut', None)
    """
    own = lexicon_class(lemma)
    if own is not None:
        return own
    found = head_classes(lemma)
    return min(found) if found else None


def _head_name(token: Token) -> str:
    """A head noun's lemma, with the word before it where the two name a category ("hot dog",
    "teddy bear", "wine glass")."""
    lemma = _lemma(token)
    if token.i > 0 and (name := f"{token.doc[token.i - 1].lower_} {lemma}") in _MULTIWORD_NAMES:
        return name
    return lemma


def _lemma(token: Token) -> str:
    low = token.lower_
    lemma = token.lemma_.lower() if token.lemma_ else low
    return lx.SINGULAR_OVERRIDES.get(low, lemma)


def _is_attribute_word(low: str) -> bool:
    return (
        low in lx.POSITION_AXES or low in lx.COLOR_FAMILIES or low in lx.SIZE_AXES
        or low in lx.MATERIAL_CONTRASTS or lx.ordinal_value(low) is not None
        or lx.number_value(low) is not None or low in lx.SPATIAL_ANTONYMS or low in lx.PATTERNS
    )


def _is_item(token: Token) -> bool:
    """Clothing, accessories and body parts: they describe their wearer, not an object."""
    lemma = _lemma(token)
    low = token.lower_
    return low in lx.CLOTHING or low in lx.ACCESSORIES or lemma in lx.CLOTHING or (
        lemma in lx.ACCESSORIES or lemma in _PARTS)


def _is_head(token: Token) -> bool:
    """Whether a token names an object (a head noun), tolerant of a fragment's bad tags."""
    low, lemma = token.lower_, _lemma(token)
    if low in lx.GENERIC_HEADS or lemma in lx.GENERIC_HEADS or not token.is_alpha or (
        low in lx.POSTURES or len(low) < 2  # "t shirt"
    ):
        return False
    if low in lx.PERSON_TAGS or lemma in lx.PERSON_TAGS:
        # "lady standing" parses as a compound of a noun "standing": the lady is the head.
        names_object = token.head.pos_ in _NOUN_POS and token.head.lower_ not in lx.POSTURES
        return token.dep_ not in ("amod", "compound") or not names_object
    if low in lx.AMBIGUOUS_COLORS and token.dep_ in ("amod", "compound"):
        return False
    if head_class(lemma) is not None and not (_is_attribute_word(low) and low not in _COCO_NAMES):
        if token.pos_ in _NOUN_POS or (token.dep_ == "ROOT" and token.pos_ != "VERB"):
            return True
        # A class noun a fragment's parse takes for a modifier ("the square right of ..."),
        # unless it modifies a noun that names the object ("square table").
        modifies_noun = token.dep_ in ("amod", "compound") and token.head.pos_ in _NOUN_POS and (
            not _is_attribute_word(token.head.lower_))
        # (The lexicon's class nouns only: WordNet knows a noun sense of most words, "bent".)
        return lexicon_class(low) is not None and token.pos_ in ("PRON", "ADJ", "VERB", "X") and (
            not modifies_noun)
    return token.pos_ in _NOUN_POS and not _is_attribute_word(low) and not _is_item(token) and (
        low not in lx.COUNT_WORDS)


def _possessed(token: Token, heads: set[int]) -> bool:
    """Whether a noun is something a head noun has, holds or wears ("man *with a hat*"): the
    possession word comes first (in "kid holding string" a bad parse hangs "kid" below it)."""
    for ancestor in token.ancestors:
        if ancestor.i < token.i and (
            ancestor.lower_ in lx.POSSESSION_WORDS or _lemma(ancestor) in lx.POSSESSION_WORDS
        ):
            return True
        if ancestor.i in heads:
            return False
    return False


def _items(doc: Doc, candidates: set[int]) -> dict[int, str]:
    """Clothing, accessories and possessions of a head noun, by token index -> canonical name.

    A clothing word or a possessed noun that no head noun governs is the referent itself
    ("red umbrella", "white shirt" of a person): it stays a head unless it is clothing.
    """
    items = {}
    first = min(candidates, default=len(doc))
    for token in doc:
        if (token.pos_ not in _NOUN_POS and token.i not in candidates) or token.lower_ in lx.PATTERNS:
            continue
        # Fragments often parse badly ("lady holding cup" roots at "cup"): a later noun after
        # a possession word is the first head's, whatever the tree says.
        after_possession = token.i > first and any(
            t.lower_ in lx.POSSESSION_WORDS or _lemma(t) in lx.POSSESSION_WORDS for t in doc[first + 1 : token.i])
        governed = (_ancestors_until_head(token, candidates) is not None
                    or _is_verb_object(token, candidates) or after_possession)
        # "bike no basket", "horse on right, no rider": a noun after the referent's that "no"
        # determines is something the referent lacks.
        lacked = token.i > first and any(c.lower_ == "no" and c.dep_ == "det" for c in token.children)
        # A person "with" the referent is another object ("motorcycle with man in orange shirt"):
        # a landmark, whose clothes and colours are its own.
        person = token.i in candidates and head_class(_lemma(token)) == "person"
        if (_is_item(token) and (governed or token.i not in candidates)) or (
            governed and _possessed(token, candidates) and not person
        ) or lacked:
            lemma = _lemma(token) if token.lower_ not in lx.CLOTHING else token.lower_
            items[token.i] = lx.CLOTHING_SYNONYMS.get(token.lower_) or lx.CLOTHING_SYNONYMS.get(lemma, lemma)
    return items


def _ancestors_until_head(token: Token, heads: set[int]) -> int | None:
    """The index of the nearest head noun above ``token`` in the parse (None: none)."""
    for ancestor in token.ancestors:
        if ancestor.i in heads:
            return ancestor.i
    return None


def _owner(token: Token, heads: set[int]) -> int | None:
    """The head noun a word describes: a verb's subject, else the nearest head above it."""
    if token.pos_ in ("VERB", "AUX"):
        for child in token.children:
            if child.dep_ in ("nsubj", "nsubjpass") and child.i in heads:
                return child.i
    return _ancestors_until_head(token, heads)


def _primary(doc: Doc, heads: set[int]) -> int | None:
    """The referent's head: the first head noun (annotators name the referent first; the
    parse of a fragment is too unreliable to overrule that), unless a preposition opens the
    text ("next to the car, the man in red")."""
    ordered = sorted(heads)
    if not ordered:
        return None
    primary = ordered[1] if len(ordered) > 1 and doc[0].pos_ == "ADP" and (
        doc[0].lower_ not in lx.POSSESSION_WORDS) else ordered[0]
    token = doc[primary]
    while token.dep_ == "compound" and token.head.i != token.i:
        token = token.head  # "teddy bear": the head is "bear"; "baseball cap guy": "guy"
        if token.i in heads:
            primary = token.i
    return primary


def _is_verb_object(token: Token, heads: set[int]) -> bool:
    if token.dep_ not in ("dobj", "pobj", "attr") or token.head.pos_ not in ("VERB", "AUX"):
        return False
    return any(c.dep_ in ("nsubj", "nsubjpass") and c.i in heads for c in token.head.children)



def _heads(doc: Doc) -> tuple[dict[int, str], set[int], int | None]:
    """The nouns of a parse: the items (clothing, accessories, possessions; see
    :func:`_items`), the head nouns (every object the text names) and the referent's head
    among them (:func:`_primary`; None when the text names no object)."""
    candidates = {t.i for t in doc if _is_head(t)}
    items = _items(doc, candidates)
    heads = candidates - set(items)
    return items, heads, _primary(doc, heads)


def head_noun(doc: Doc) -> str | None:
    """The lemma of the referent's head noun, as :func:`describe` reads it.

    The head is the first noun that names an object, not an item the referent wears or
    holds ("man with a *hat*") nor an attribute word ("*left*"); the second when a
    preposition opens the text ("behind the car, *the man* in red"; spaCy tags the "next"
    of "next to the car, the man" as an adverb, so there it is "car"); the head of a
    compound ("baseball cap *guy*"), named with the word before it where the two name a
    COCO category ("teddy bear", "hot dog"). It is the head :func:`describe` puts in
    :attr:`Description.heads <refaug.contrast.Description.heads>`.

    Args:
        doc: a parsed expression (a spaCy ``Doc``, from ``nlp.pipe``).

    Returns:
        The head's lemma, lower-cased; None when the text names no object ("2nd from right").

    Example:
        >>> from refaug.nlp import load_nlp
        >>> nlp = load_nlp(disable=("ner",))
        >>> [head_noun(d) for d in nlp.pipe(["the red car on the left", "teddy bear", "2nd from right"])]
        ['car', 'teddy bear', None]
    """
    _, _, primary = _heads(doc)
    return None if primary is None else _head_name(doc[primary])


# ------------------------------------------------------------- attributes


def _negated(token: Token) -> bool:
    """Whether a word is negated: "without X", "no X", "not holding X", "not the X"."""
    if any(c.lower_ in ("no", "not", "n't", "never") and c.dep_ in ("det", "neg", "advmod")
           for c in token.children):
        return True
    placed = False  # inside a place phrase ("not playing the game *on right*")
    for ancestor in token.ancestors:
        if ancestor.lower_ == "without":
            return True
        if ancestor.pos_ == "ADP" and ancestor.lower_ not in lx.POSSESSION_WORDS:
            placed = True
        if ancestor.pos_ in ("VERB", "AUX") and any(c.dep_ == "neg" for c in ancestor.children):
            return not placed
        if ancestor.pos_ in _NOUN_POS and ancestor.dep_ == "ROOT":
            break
    return False


def _leading_not(doc: Doc) -> bool:
    """A text that opens with "not" ("not the one with the hat") negates what follows."""
    words = []  # the first two words (not the whole text: this runs for every text)
    for t in doc:
        if not t.is_punct:
            words.append(t)
            if len(words) == 2:
                break
    if not words or words[0].lower_ not in ("not", "no"):
        return False
    if len(words) < 2:
        return True
    # "not sure what this is ...": the "not" negates the annotator's own words (an adjective or
    # verb that says nothing of the referent), not the description that follows.
    second = words[1]
    remark = second.pos_ in ("ADJ", "VERB", "AUX") and not _is_attribute_word(second.lower_) and (
        second.lower_ not in lx.POSTURES and second.lower_ not in lx.POSSESSION_WORDS)
    return second.lower_ != "one" and not remark


def _relational(token: Token) -> bool:
    """A position relative to another object ("left of the car", "behind the man")."""
    for child in token.children:
        if child.dep_ == "prep" and child.lower_ in lx.RELATIONAL_HEADS and any(
            g.dep_ == "pobj" for g in child.children
        ):
            return True
        if child.dep_ == "pobj" and token.pos_ == "ADP":
            return True
    if token.pos_ == "ADP" and any(c.dep_ in ("pobj", "pcomp") for c in token.children):
        return True
    nxt = token.nbor(1) if token.i + 1 < len(token.doc) else None
    if nxt is not None and nxt.lower_ in ("of", "to") and token.i + 2 < len(token.doc):
        return token.doc[token.i + 2].lower_ not in ("the", "picture", "image", "photo", "pic", "frame")
    return False


def _ordinals(doc: Doc) -> tuple[list[Attribute], set[int]]:
    """Ordinal positions ("second from left", "3rd from the right", "first guy")."""
    found, used = [], set()
    for token in doc:
        prev = doc[token.i - 1].lower_ if token.i else ""
        extreme = lx.POSITION_EXTREMES.get(token.lower_)
        if extreme is None and prev in ("far", "most", "very") and token.lower_ in ("left", "right"):
            extreme = token.lower_
        if extreme is not None:
            found.append(Attribute("ordinal", extreme, "1", True, token.text))
            continue
        n = lx.ordinal_value(token.lower_)
        if n is None:
            continue
        side, span = "", [token.i]
        window = doc[token.i + 1 : token.i + 6]
        for k, t in enumerate(window):
            if t.lower_ == "from" or t.lower_ == "to":
                rest = [w for w in window[k + 1 :] if w.lower_ not in ("the", "very")]
                if rest and rest[0].lower_ in lx.POSITION_AXES:
                    axis, value = lx.POSITION_AXES[rest[0].lower_]
                    side = value if value in lx.ORDINAL_SIDES else ""
                    span += [t.i, rest[0].i]
                break
        if not side and token.lower_ in ("first", "last"):
            continue  # "first" alone is too often not a position ("the first thing")
        used.update(span)
        word = " ".join(doc[i].text for i in sorted(span))
        found.append(Attribute("ordinal", side, str(n), True, word))
        if n == 1 and side:
            axis = lx.POSITION_AXES[side][0]
            found.append(Attribute("extreme", axis, side, True, word))
    return found, used


def _positions(doc: Doc, referent: set[int], used: set[int]) -> list[Attribute]:
    found = []
    for token in doc:
        low = token.lower_
        if token.i in used or token.i not in referent or low not in lx.POSITION_AXES:
            continue
        prev = doc[token.i - 1].lower_ if token.i else ""
        nxt = doc[token.i + 1].lower_ if token.i + 1 < len(doc) else ""
        if (prev, low) in lx.SPATIAL_BLOCKED_BIGRAMS or (low, nxt) in lx.SPATIAL_BLOCKED_BIGRAMS:
            continue
        if low in lx.POSITION_INTENSIFIERS | {"far"} and nxt in lx.POSITION_AXES:
            continue  # "far left": the left end, not the back
        if low == "top" and (prev in lx.COLOR_FAMILIES or token.dep_ in ("dobj", "pobj") and prev in ("a", "striped")):
            continue  # "white top" is clothing
        if _relational(token):
            continue
        axis, value = lx.POSITION_AXES[low]
        word = f"{prev} {token.text}" if prev in ("far", "very") else token.text
        extreme = low in lx.POSITION_EXTREMES or (prev in ("far", "most", "very") and low in ("left", "right"))
        found.append(Attribute("extreme" if extreme else "spatial", axis, value, not _negated(token), word))
    return found


def _colors(doc: Doc, referent: set[int], items: dict[int, str]) -> list[Attribute]:
    found = []
    for token in doc:
        value = _color_value(token)
        if value is None or token.i not in referent:
            continue
        if token.lower_ in lx.AMBIGUOUS_COLORS and token.dep_ not in ("amod", "compound", "pobj", "conj"):
            continue
        part = ""
        for ancestor in [token, *token.ancestors]:
            if ancestor.i in items:
                part = items[ancestor.i]
                break
            if ancestor.pos_ in _NOUN_POS and not _is_attribute_word(ancestor.lower_) and (
                ancestor.dep_ != "compound"  # "black t shirt": the shirt's
            ):
                break
        found.append(Attribute("color", part, value, not _negated(token), _shaded(token)))
    return found


def _color_value(token: Token) -> str | None:
    """A colour's value: the colour word ("beige"), with a shade before it ("dark red"); a shade
    alone ("dark sheep") where it describes a noun. Compared by :mod:`refaug.contrast.colors`."""
    low = token.lower_
    if lx.color_family(low) is not None:
        prev = token.doc[token.i - 1].lower_ if token.i else ""
        shade = prev.removesuffix("er") if prev.removesuffix("er") in SHADE_LIGHTNESS else ""
        return f"{shade} {low}".strip() if color_lab(low) is not None else lx.color_family(low)
    nxt = token.doc[token.i + 1] if token.i + 1 < len(token.doc) else None
    base = low.removesuffix("er")
    if base in SHADE_LIGHTNESS and token.dep_ in ("amod", "compound") and token.head.pos_ in _NOUN_POS and (
        nxt is None or lx.color_family(nxt.lower_) is None
    ):
        return base
    return None


def _shaded(token: Token) -> str:
    prev = token.doc[token.i - 1] if token.i else None
    if prev is not None and prev.lower_.removesuffix("er") in SHADE_LIGHTNESS and lx.color_family(token.lower_):
        return f"{prev.text} {token.text}"
    return token.text


def _patterns(doc: Doc, referent: set[int]) -> list[Attribute]:
    """Patterns ("striped shirt", "man in plaid"), one per referent: what it wears or shows."""
    return [Attribute("pattern", "", lx.PATTERNS[t.lower_], not _negated(t), t.text)
            for t in doc if t.lower_ in lx.PATTERNS and t.i in referent]


def _sizes_materials_counts(doc: Doc, referent: set[int], items: dict[int, str],
                            used: set[int], primary: int | None) -> list[Attribute]:
    found = []
    for token in doc:
        if token.i not in referent or token.i in used:
            continue
        low = token.lower_
        part = items.get(token.head.i, "") if token.head.i != token.i else ""
        if low in lx.SIZE_AXES and token.dep_ not in ("pobj",) and not (low in ("baby", "adult") and token.i == primary):
            axis, value = lx.SIZE_AXES[low]
            if low in ("short", "shorter", "shortest") and part and part not in ("hair", "person"):
                axis, value = "length", "short"
            key = f"{axis}:{part}" if part else axis
            found.append(Attribute("size", key, value, not _negated(token), token.text))
        elif low in lx.MATERIAL_CONTRASTS and (low not in lx.NOUN_MATERIALS or token.dep_ in ("amod", "compound")):
            found.append(Attribute("material", part, _MATERIAL_FORM.get(low, low), True, token.text))
        elif token.dep_ == "nummod" and (n := lx.number_value(low)) is not None and 0 < n < 20:
            if token.head.i == primary or (primary is None and token.head.pos_ in _NOUN_POS):
                found.append(Attribute("count", "", str(n), True, f"{token.text} {token.head.text}"))
            elif token.head.i in items:  # "plate with two slices": how many of a thing it has
                found.append(Attribute("count", f"item:{items[token.head.i]}", str(n), True,
                                       f"{token.text} {token.head.text}"))
        elif low in lx.COUNT_WORDS and not part:
            found.append(Attribute("count", "", lx.COUNT_WORDS[low], True, token.text))
    return found


def _items_and_actions(doc: Doc, referent: set[int], items: dict[int, str],
                       heads: set[int]) -> list[Attribute]:
    found = []
    for i, name in items.items():
        if i in referent and name not in _PARTS:
            key = lx.CLOTHING_SLOTS.get(name, f"item:{name}")
            found.append(Attribute("clothing", key, name, not _negated(doc[i]), doc[i].text))
    for token in doc:
        if token.i not in referent or token.i in heads or token.i in items:
            continue  # a noun a fragment's parse takes for a verb ("cake with candles")
        low, lemma = token.lower_, _lemma(token)
        posture = lx.POSTURES.get(low) or lx.POSTURES.get(lemma)
        is_verb = token.pos_ == "VERB" or token.tag_ in ("VBG", "VBN")
        if posture is None and (not is_verb or _not_an_action(token, lemma)):
            continue
        negated = any(c.dep_ == "neg" for c in token.children) or (
            token.i > 0 and doc[token.i - 1].lower_ in ("not", "n't"))
        if posture is not None:
            found.append(Attribute("posture", "posture", posture, not negated, token.text))
        else:
            found.append(Attribute("action", "verb", lx.ACTION_SYNONYMS.get(lemma, lemma), not negated,
                                   token.text))
    return found + _riding(doc, referent)


def _not_an_action(token: Token, lemma: str) -> bool:
    """Verbs that say nothing about what the referent does: auxiliaries and the like, "looks
    like", possession ("holding a cup" names an item, see :func:`_items`), and nouns a
    fragment's parse takes for verbs ("at bus *stop*")."""
    doc = token.doc
    looks_like = lemma == "look" and token.i + 1 < len(doc) and doc[token.i + 1].lower_ == "like"
    # Referring expressions describe with participles ("sitting", "parked") and present
    # tenses; a bare infinitive without a subject is a noun the parse took for a verb
    # ("cake with candles", "ketchup one").
    misparsed_noun = (token.dep_ in ("pobj", "dobj", "compound", "nsubj") and token.tag_ != "VBG") or (
        token.tag_ == "VB" and not any(c.dep_ in ("nsubj", "aux") for c in token.children))
    return (lemma in _SKIP_VERBS or lemma in lx.POSSESSION_WORDS or token.lower_ in lx.POSSESSION_WORDS
            or _is_attribute_word(token.lower_) or looks_like or misparsed_noun)


def _riding(doc: Doc, referent: set[int]) -> list[Attribute]:
    """Being on something one rides ("man on a horse", "woman on bike") is riding it."""
    found = []
    for token in doc:
        if token.lower_ not in ("on", "atop") or token.i not in referent:
            continue
        for obj in token.children:
            if obj.dep_ == "pobj" and head_class(_lemma(obj)) in lx.RIDDEN_CLASSES:
                found.append(Attribute("posture", "posture", "ride", True, f"{token.text} {obj.text}"))
    return found


def wording(doc: Doc) -> tuple[str, ...]:
    """The words of a parsed text as the minimal-edit comparison (:mod:`refaug.contrast.edits`)
    reads them: lower case, nouns by their lemma ("dogs" -> "dog"), "an" as "a" (which counts
    one: "a dog" / "two dogs"), no "the", punctuation or spaces ("the red car" and "red car" read
    alike)."""
    return tuple(t.lemma_.lower() if t.pos_ in _NOUN_POS else "a" if t.lower_ == "an" else t.lower_
                 for t in doc if not (t.is_punct or t.is_space or t.lower_ == "the"))


def describe(doc: Doc) -> Description:
    """The :class:`Description` of the referent of one parsed expression."""
    items, heads, primary = _heads(doc)
    # A word belongs to the referent unless it describes another head noun (a landmark); the
    # words of a compound ("white *teddy* bear") belong to the whole.
    whole = {primary} | {h for h in heads if primary is not None and _compound_of(doc[h], primary)}
    referent = {t.i for t in doc if (o := _owner(t, heads)) is None or o in whole}
    if primary is not None:
        referent.add(primary)
    attributes, used = _ordinals(doc)
    attributes += _positions(doc, referent, used)
    attributes += _colors(doc, referent, items) + _patterns(doc, referent)
    attributes += _sizes_materials_counts(doc, referent, items, used, primary)
    attributes += _items_and_actions(doc, referent, items, heads)
    if _leading_not(doc):
        attributes = [a._replace(positive=not a.positive) for a in attributes]
    head_tokens = [doc[primary]] if primary is not None else []
    lemmas = frozenset(_head_name(t) for t in head_tokens)
    classes = frozenset().union(*(head_classes(_head_name(t)) for t in head_tokens))
    tags = _age_tags(frozenset().union(*(lx.PERSON_TAGS.get(_lemma(t), frozenset()) for t in head_tokens)),
                     attributes)
    landmarks = frozenset(_landmark(doc, h, heads, items, used) for h in heads
                          if h != primary and doc[h].dep_ != "compound")  # "*teddy* bear"
    return Description(heads=lemmas, classes=classes, tags=tags, attributes=frozenset(attributes),
                       landmarks=landmarks, wordings=frozenset({wording(doc)}))


def _age_tags(tags: frozenset[str], attributes: list[Attribute]) -> frozenset[str]:
    """A stated age overrides the head's: a "young man" is not an adult, an "old boy" not young."""
    ages = {a.value for a in attributes if a.kind == "size" and a.key == "age" and a.positive}
    if "young" in ages:
        tags = tags - {"adult"}
    if "adult" in ages:
        tags = tags - {"young"}
    return tags


def _compound_of(token: Token, head: int) -> bool:
    """Whether ``token`` is part of a compound noun whose head is ``head`` ("teddy" in "teddy bear")."""
    while token.dep_ == "compound" and token.head.i != token.i:
        token = token.head
        if token.i == head:
            return True
    return False


def _landmark(doc: Doc, head: int, heads: set[int], items: dict[int, str], used: set[int]) -> Landmark:
    """The landmark named by the head noun ``head``: its relation, class and attributes."""
    own = {t.i for t in doc if _owner(t, heads) == head} | {head}
    attributes = _colors(doc, own, items) + _patterns(doc, own)
    attributes += _sizes_materials_counts(doc, own, items, used, head)
    token = doc[head]
    axis, relation, start = "", "", head
    if token.dep_ == "pobj":
        prep = token.head  # "below the circle"; "left of the circle": the word before "of"
        anchor = prep.head if prep.lower_ in ("of", "to") and prep.head.i < prep.i else prep
        if anchor.lower_ in lx.RELATIONS:
            (axis, relation), start = lx.RELATIONS[anchor.lower_], anchor.i
    name = _head_name(token)
    return Landmark(axis=axis, relation=relation, head=name, classes=frozenset(
        head_classes(name)), tags=lx.PERSON_TAGS.get(_lemma(token), frozenset()),
        attributes=frozenset(attributes), word=doc[start : head + 1].text)


# The descriptions this process has made, by pipeline and text: a run's classify and mine
# stages (and the classifiers of one process) judge the same texts, and a parse is the
# judgement's largest cost (benchmarks/end_to_end.py). A description depends only on the text
# and the pipeline, so the memo never goes stale within a process; it is emptied at its limit.
_MEMO: dict[tuple[tuple[str, ...], str], Description] = {}
_MEMO_LIMIT = 1_000_000


def _pipeline_key(nlp) -> tuple[str, ...]:
    meta = getattr(nlp, "meta", {}) or {}
    return (str(meta.get("lang", "")), str(meta.get("name", "")), str(meta.get("version", "")), *nlp.pipe_names)


def describe_texts(texts: Sequence[str], *, nlp=None, batch_size: int = 512) -> list[Description]:
    """Describe each text; each distinct text is parsed once per process (``nlp.pipe``); at
    least :data:`PARALLEL_MIN_TEXTS` new ones are shared over forked worker processes (one per
    CPU, at most 8: :func:`refaug.workers.default_workers`), the same descriptions.

    Args:
        texts: expressions.
        nlp: a spaCy pipeline; None loads the default one (:func:`refaug.nlp.load_nlp`).
        batch_size: texts per ``nlp.pipe`` batch.

    Example:
        >>> d = describe_texts(["man without a hat"])[0]  # doctest: +SKIP
        >>> sorted(d.heads), [(a.kind, a.value, a.positive) for a in d.attributes]  # doctest: +SKIP
        (['man'], [('clothing', 'hat', False)])
    """
    if nlp is None:
        from refaug.nlp import load_nlp

        nlp = load_nlp(disable=("ner",))
    key = _pipeline_key(nlp)
    distinct = [t for t in dict.fromkeys(texts) if (key, t) not in _MEMO]
    if len(_MEMO) + len(distinct) > _MEMO_LIMIT:
        _MEMO.clear()
        distinct = list(dict.fromkeys(texts))
    workers = _parse_workers(len(distinct))
    if workers > 1:
        _MEMO.update(zip(((key, t) for t in distinct), _forked_descriptions(distinct, nlp, batch_size, workers),
                         strict=True))
    else:
        _MEMO.update(zip(((key, t) for t in distinct), _descriptions(distinct, nlp, batch_size), strict=True))
    return [_MEMO[key, t] for t in texts]


# Texts described in forked worker processes at once, at least (fewer: the fork and the pickled
# descriptions cost more than the parse saves): the classify stage of a RefCOCO-sized run describes
# about 186,000 distinct texts in one call, mining's chunks a few thousand new ones each.
PARALLEL_MIN_TEXTS = 20_000


def _parse_workers(n: int) -> int:
    if n < PARALLEL_MIN_TEXTS:
        return 1
    from refaug.workers import default_workers

    return default_workers()


def _descriptions(texts: list[str], nlp, batch_size: int) -> list[Description]:
    corrected = [correct(t) for t in texts]
    out = []
    for (_, fixes), doc in zip(corrected, nlp.pipe([c for c, _ in corrected], batch_size=batch_size), strict=True):
        d = describe(doc)
        out.append(replace(d, corrections=frozenset(fixes)) if fixes else d)
    return out


def _forked_descriptions(texts: list[str], nlp, batch_size: int, workers: int) -> list[Description]:
    """:func:`_descriptions` over ``workers`` forked processes (:func:`refaug.workers.fork_map`:
    the pipeline inherited, not pickled), in parts, in order: the same descriptions (a parse
    depends on its text alone)."""
    from refaug.workers import fork_map

    size = max(batch_size, -(-len(texts) // (workers * 8)))
    parts = [texts[i : i + size] for i in range(0, len(texts), size)]
    return [d for part in fork_map(_describe_part, parts, workers=workers, state=(nlp, batch_size)) for d in part]


def _describe_part(state: tuple, texts: list[str]) -> list[Description]:
    nlp, batch_size = state
    return _descriptions(texts, nlp, batch_size)
