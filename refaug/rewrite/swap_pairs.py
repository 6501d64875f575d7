"""Which noun phrases of a text may swap places, how their relation is named, and pronouns.

Any two entity nouns may swap: subjects, objects, prepositional objects, across clauses
("A man cuts a pizza to serve with salad" -> "A man cuts a salad to serve with pizza").
Not entities: places in the frame ("on the left"), attribute words, the "of" side of a part
("half of sandwich"), and compound modifiers (they move with their noun).

Animacy is checked where it matters: an inanimate noun must not become the agent of an
action ("umbrella holding a man"), whereas "car next to the guy" is a fine foil.

Example:
    >>> from refaug.nlp import load_nlp  # doctest: +SKIP
    >>> [t.text for t in entity_heads(load_nlp()("cup on the table"))]  # doctest: +SKIP
    ['cup', 'table']
"""

from __future__ import annotations

from spacy.tokens import Doc, Token

from refaug import lexicon as lx
from refaug.rewrite.grammar import SUBJECT_DEPS, Edit, is_plural, same_case

# Objects of a preposition that are places in the frame, not entities ("on the left").
NOT_ENTITIES = frozenset(
    {"left", "right", "middle", "center", "centre", "front", "back", "top", "bottom", "side",
     "corner", "edge", "end", "background", "foreground", "row", "picture", "photo", "image",
     "frame", "pic", "distance", "air", "sky", "water", "hand", "hands", "mouth", "head",
     "camera", "us", "way", "part", "half", "piece", "slice", "bit", "lot", "pair", "group",
     "bunch", "couple", "kind", "type", "color", "colour", "shot", "view", "scene", "one",
     "ones", "other", "others", "rest", "number", "area", "spot", "line", "style", "time"}
)  # fmt: skip
COMPLEX_PREPOSITION_NOUNS = frozenset(
    {"top", "front", "side", "left", "right", "middle", "back", "bottom", "center", "edge",
     "corner", "end", "rear", "inside", "outside", "out"}
)  # fmt: skip
WORN = lx.CLOTHING | lx.ACCESSORIES | {"hair", "shirt", "jacket", "tail", "uniform", "outfit"}
MALE = frozenset(
    {"man", "men", "boy", "boys", "guy", "guys", "gentleman", "dude", "dad", "father", "son",
     "brother", "groom", "husband", "king", "he", "him"}
)  # fmt: skip
FEMALE = frozenset(
    {"woman", "women", "girl", "girls", "lady", "ladies", "gal", "mom", "mother", "daughter",
     "sister", "bride", "wife", "queen", "she", "her"}
)  # fmt: skip
# Personal pronouns: (gender, plural) -> form by role.
_PRONOUNS = {
    ("m", False): {"subj": "he", "obj": "him", "poss": "his", "refl": "himself"},
    ("f", False): {"subj": "she", "obj": "her", "poss": "her", "refl": "herself"},
    ("n", False): {"subj": "it", "obj": "it", "poss": "its", "refl": "itself"},
    ("p", True): {"subj": "they", "obj": "them", "poss": "their", "refl": "themselves"},
}
_PRONOUN_FEATURES = {
    form: (key, role) for key, forms in _PRONOUNS.items() for role, form in forms.items()
}


def entity(token: Token | None) -> bool:
    """A noun that names an object of the scene (not a place, attribute or part word)."""
    return (
        token is not None
        and token.pos_ in ("NOUN", "PROPN")
        and token.dep_ not in ("compound", "npadvmod", "nmod", "poss")
        and token.lower_ not in NOT_ENTITIES
        and lx.attribute_kind(token.lower_) in (None, "material", "size")
        and not (token.lower_.endswith("ing") and token.tag_ == "NN")  # "a bus ridding in"
        and not (token.dep_ == "pobj" and token.head.lower_ == "of" and not _place_of(token))
        and not any(c.dep_ == "prep" and c.lower_ == "of" for c in token.children)
    )


def _place_of(token: Token) -> bool:
    """ "on top of the laptop": the object of a complex preposition is an entity."""
    return token.head.head.lower_ in COMPLEX_PREPOSITION_NOUNS


def entity_heads(doc: Doc) -> list[Token]:
    """The entity nouns of ``doc``, in order."""
    return [t for t in doc if entity(t)]


def swappable(first: Token, second: Token, *, same_animacy: bool = True) -> bool:
    """Whether swapping the two changes the meaning and keeps a sensible reading.

    Not: two conjuncts ("a man and a woman" says the same as "a woman and a man"), the
    same word twice in the same form, or a person and what they wear or carry ("man with
    a hat" -> "hat with a man").
    """
    if second in first.conjuncts:
        return False
    if second.dep_ == "pobj" and second.head.lower_ == "with" and second.head.head == first:
        return False  # "a bed with pillows": what a thing has is not a place for it
    if first.lower_ == second.lower_ and first.dep_ == second.dep_:
        return False
    if not same_animacy:
        return True
    if relation_of(first, second) == "objects" and animate(first) != animate(second):
        return False
    for one, two in ((first, second), (second, first)):
        if animate(one) and not animate(two) and two.lemma_.lower() in WORN:
            return False
    return True


def relation_of(first: Token, second: Token) -> str:
    """ "verb" (subject and object of one verb), "clauses" (two subjects), "preposition"
    (a noun and the object of its preposition), or "objects" (any other two)."""
    if _subject_of(first) is not None and _subject_of(first) == _object_of(second):
        return "verb"
    if first.dep_ in SUBJECT_DEPS and second.dep_ in SUBJECT_DEPS:
        return "clauses"
    if second.dep_ == "pobj" and _attached_to(second.head, first):
        return "preposition"
    return "objects"


def _subject_of(noun: Token) -> Token | None:
    """The verb ``noun`` is the agent of: its clause's verb, or a participle after it."""
    if noun.dep_ == "nsubj":
        return noun.head
    for child in noun.rights:
        if child.dep_ in ("acl", "relcl") and child.pos_ == "VERB":
            subject = next((c for c in child.children if c.dep_ in SUBJECT_DEPS), None)
            if subject is None or subject.lower_ in ("who", "that", "which"):
                return child
    return None


def _object_of(noun: Token) -> Token | None:
    return noun.head if noun.dep_ == "dobj" else None


def _attached_to(prep: Token, noun: Token) -> bool:
    head = prep.head
    for _ in range(3):  # "sitting next to", "on top of"
        if head == noun:
            return True
        if head.dep_ in ("acl", "advmod", "prep", "pobj", "relcl"):
            head = head.head
        else:
            return False
    return False


def animate(token: Token) -> bool:
    # From the lexicon only, not from NER: the output must not depend on which parser
    # components are enabled (NER is off by default, for speed).
    lemma = token.lemma_.lower()
    return lemma in lx.PERSON_NOUNS or lemma in lx.ANIMAL_NOUNS or token.lower_ in lx.PERSON_NOUNS


def agents_stay_animate(first: Token, second: Token) -> bool:
    """False when the swap makes an inanimate noun the agent of an action verb."""
    for slot, incoming in ((first, second), (second, first)):
        verb = _subject_of(slot)
        if verb is None or animate(incoming) or not animate(slot):
            continue
        if verb.lemma_.lower() != "be":
            return False
    return True


# ---------------------------------------------------------------------- pronouns
def _features(noun: Token) -> tuple[str, bool] | None:
    """(gender, plural) of a noun for the pronouns that refer to it; None when unknown."""
    if is_plural(noun):
        return ("p", True)
    low, lemma = noun.lower_, noun.lemma_.lower()
    if low in MALE or lemma in MALE:
        return ("m", False)
    if low in FEMALE or lemma in FEMALE:
        return ("f", False)
    if low in lx.PERSON_NOUNS or lemma in lx.PERSON_NOUNS:
        return None  # "the kid": he or she
    return ("n", False)


def pronoun_edits(doc: Doc, first: Token, second: Token, moved: set[int]) -> list[Edit] | None:
    """Edits that make pronouns follow the swap ("looks at her" -> "looks at him").

    A pronoun that agrees with exactly one of the two nouns takes the form of the other.
    Returns None when such a pronoun has no form for the other noun (a kid: he or she).
    """
    one, two = _features(first), _features(second)
    if one == two:
        return []
    edits = []
    for token in doc:
        if token.i in moved or token.lower_ not in _PRONOUN_FEATURES or token.pos_ != "PRON":
            continue
        key, role = _PRONOUN_FEATURES[token.lower_]
        if token.lower_ == "her":
            role = "poss" if token.dep_ == "poss" else "obj"
        antecedent = _antecedent(doc, token, key)
        if antecedent not in (first, second):
            continue
        other = two if antecedent == first else one
        if other is None:
            return None
        edits.append(Edit(token.i, token.i + 1, same_case(_PRONOUNS[other][role], token.text)))
    return edits


def _antecedent(doc: Doc, pronoun: Token, key: tuple[str, bool]) -> Token | None:
    """The nearest noun before ``pronoun`` that it can refer to (its gender and number)."""
    for token in reversed(doc[: pronoun.i]):
        if token.pos_ in ("NOUN", "PROPN") and token.dep_ != "compound":
            features = _features(token)
            if features == key or (features is None and key[0] in ("m", "f")):
                return token
    return None


def possessive_blocks(phrase_tokens, first: Token, second: Token) -> bool:
    """Whether a possessive in a moving phrase refers to one of the two swapped nouns."""
    for token in phrase_tokens:
        if token.dep_ != "poss" or token.lower_ not in _PRONOUN_FEATURES:
            continue
        key = _PRONOUN_FEATURES[token.lower_][0]
        for noun in (first, second):
            if noun.i < token.i and _features(noun) in (key, None):
                return True  # "the woman hugging her dog": "her" is the woman
    return False
