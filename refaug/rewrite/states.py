"""State variants: a posture, motion or state word becomes an exclusive one.

"dog sitting" -> "dog standing", "cat laying on the bed" -> "cat sitting on the bed", "a
parked car" -> "a moving car", "open laptop" -> "closed laptop", "an empty glass" -> "a
full glass", "lamp that is on" -> "lamp that is off". The contrast sets are data
(:data:`POSTURE_CONTRASTS` for verbs, by lemma; :data:`STATE_CONTRASTS` for adjectives and
participles, by word): two members of one set cannot both describe one object at one time.

Only a word that modifies a noun ("sitting woman", "car parked on the street", "man who is
sitting") or is predicated of one ("the tv is on", "people sitting") changes, read off the
parse; a fragment without a noun ("sitting on the bench") describes the referent all the
same. A verb keeps its tense and aspect (lemminflect: "sat" -> "stood", "sits" -> "stands",
"sitting" -> "standing"), the particle right after it follows the new verb ("sitting down"
-> "standing up", "standing up" -> "walking"), and an article follows the new word ("an
open box" -> "a closed box").

Example:
    >>> rw = StateRewriter(values_per_word=1)
    >>> [c.text for c in rw(["man sitting on a bench"])[0]]  # doctest: +SKIP
    ['man standing on a bench']
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from types import MappingProxyType

from lemminflect import getInflection
from spacy.tokens import Doc, Token

from refaug import lexicon as lx
from refaug.contrast.describe import head_class, head_noun
from refaug.data.coco import COCO_CATEGORIES
from refaug.rewrite.base import Proposal, Rewriter
from refaug.rewrite.grammar import RELATIVE_PRONOUNS, Edit, apply_edits, article_edit, same_case

# Posture and motion verbs (lemma -> exclusive lemmas, the most natural substitute first).
# "lay" is how annotators often write "lie" ("cat laying on the bed"); used with an object
# ("laying a brick") it is left alone, as every verb with an object is.
POSTURE_CONTRASTS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {"sit": ("stand", "lie"), "stand": ("sit", "walk"), "lie": ("sit", "stand"),
     "lay": ("sit", "stand"), "walk": ("stand", "run"), "run": ("walk", "stand"),
     "kneel": ("stand",), "squat": ("stand",), "crouch": ("stand",), "sleep": ("sit", "stand")}
)  # fmt: skip
# The particle each posture takes ("sitting down", "standing up"); others drop theirs.
POSTURE_PARTICLES: MappingProxyType[str, str] = MappingProxyType(
    {"sit": "down", "stand": "up", "lie": "down"}
)
# States as adjectives and participles (word -> exclusive words).
STATE_CONTRASTS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {"parked": ("moving",), "stopped": ("moving",), "moving": ("parked",),
     "open": ("closed",), "opened": ("closed",), "closed": ("open",), "shut": ("open",),
     "empty": ("full",), "full": ("empty",), "seated": ("standing",),
     "on": ("off",), "off": ("on",)}
)  # fmt: skip
# Nouns a state word names no state of ("open field", "full view", "empty space").
NOT_STATES: frozenset[str] = frozenset(
    {"field", "space", "area", "air", "water", "sea", "road", "market", "view", "length",
     "size", "body", "moon", "speed", "swing", "frame", "shot", "room", "spot", "lot"}
)  # fmt: skip
# Verbs "on" and "off" are predicated through ("the tv is on", "turned off tv").
SWITCH_VERBS: frozenset[str] = frozenset({"be", "turn", "switch", "leave", "keep"})
# Things that are switched on and off (nouns and COCO categories).
SWITCHABLE: frozenset[str] = frozenset(
    {"tv", "laptop", "cell phone", "microwave", "oven", "toaster", "light", "lamp", "screen",
     "monitor", "computer", "stove", "television", "phone", "radio", "fan", "heater"}
)  # fmt: skip
VEHICLES: frozenset[str] = frozenset(n for n, s in COCO_CATEGORIES.values() if s == "vehicle")
_NOUN_POS = frozenset({"NOUN", "PROPN", "PRON"})
_SUBJECTS = frozenset({"nsubj", "nsubjpass"})
_IMPLIED = "implied"  # a fragment without a noun: it describes the referent


class StateRewriter(Rewriter):
    """Swaps a posture, motion or state word for an exclusive one.

    Args:
        values_per_word: substitutes per word: the contrast set's first, then others
            drawn with the text's generator.
        **options: :class:`~refaug.rewrite.base.Rewriter` options (``max_per_text``,
            ``seed``, ``spacy_model``, ``disable``, ``batch_size``, ``n_process``).

    Example:
        >>> rw = StateRewriter()
        >>> [c.detail for c in rw(["a parked car"])[0]]  # doctest: +SKIP
        ['state: parked -> moving']
    """

    kind = "state"

    def __init__(self, *, values_per_word: int = 2, **options) -> None:
        super().__init__(**options)
        if values_per_word < 1:
            raise ValueError(f"values_per_word={values_per_word!r} must be >= 1")
        self.values_per_word = int(values_per_word)

    def propose(self, doc: Doc, rng: random.Random) -> Iterator[Proposal]:
        for token in doc:
            low = token.lower_
            if low in STATE_CONTRASTS and _is_state_use(token):
                for new in self._pick(STATE_CONTRASTS[low], rng):
                    edits = [Edit(token.i, token.i + 1, same_case(new, token.text))]
                    article = article_edit(doc, token.i, new)
                    yield Proposal(apply_edits(doc, [article, *edits] if article else edits),
                                   f"state: {low} -> {new}", token.i)  # fmt: skip
            elif token.lemma_.lower() in POSTURE_CONTRASTS and _is_posture_use(token):
                yield from self._posture(doc, token, rng)

    def _posture(self, doc: Doc, verb: Token, rng: random.Random) -> Iterator[Proposal]:
        for lemma in self._pick(POSTURE_CONTRASTS[verb.lemma_.lower()], rng):
            forms = getInflection(lemma, tag=_posture_tag(verb))
            if not forms:
                continue
            word = same_case(forms[0], verb.text)
            particle = next(
                (c for c in verb.children if c.dep_ == "prt" and c.lower_ in ("up", "down")), None
            )
            end = verb.i + 1
            if particle is not None and particle.i == verb.i + 1:  # "sitting down" -> "standing up"
                end = particle.i + 1
                word = " ".join(filter(None, (word, POSTURE_PARTICLES.get(lemma, ""))))
            edits = [Edit(verb.i, end, word)]
            article = article_edit(doc, verb.i, forms[0])
            yield Proposal(apply_edits(doc, [article, *edits] if article else edits),
                           f"state: {verb.lower_} -> {forms[0]}", verb.i)  # fmt: skip

    def _pick(self, options: Sequence[str], rng: random.Random) -> list[str]:
        if len(options) <= self.values_per_word:
            return list(options)
        return [options[0], *rng.sample(list(options[1:]), self.values_per_word - 1)]


# ---------------------------------------------------------------------- predicates
def described(token: Token) -> Token | str | None:
    """The noun a word modifies or is predicated of; :data:`_IMPLIED` for a nounless fragment.

    "sitting woman", "woman sitting", "woman who is sitting", "the woman is sitting", "the
    tv is on": the woman, the tv. None where the word describes no noun ("after running").
    """
    head, dep = token.head, token.dep_
    if dep in ("amod", "compound") and head.pos_ in _NOUN_POS and head.i > token.i:
        return head
    if dep in ("acl", "relcl") and head.pos_ in _NOUN_POS and not _subject(token):
        return head
    subject = _subject(token)
    if subject is not None:
        if subject.lower_ in RELATIVE_PRONOUNS and dep == "relcl" and head.pos_ in _NOUN_POS:
            return head
        return subject if subject.pos_ in _NOUN_POS or subject.lower_ in RELATIVE_PRONOUNS else None
    if dep in ("acomp", "oprd", "prep", "prt", "advmod") and head.i != token.i:
        return described(head) if head.lemma_ in SWITCH_VERBS or dep in ("acomp", "oprd") else None
    if dep == "conj" and head.i != token.i:
        return described(head)
    if dep == "ROOT" and token.tag_ in ("VBG", "VBN", "JJ"):
        return _IMPLIED
    return None


def _subject(token: Token) -> Token | None:
    return next((c for c in token.children if c.dep_ in _SUBJECTS), None)


def _posture_tag(verb: Token) -> str:
    """The tag the substitute takes: the verb's own, but a participle used as an adjective
    ("girl crouched", "a crouched girl") becomes a present one ("girl standing")."""
    if verb.tag_ == "VBN" and not any(c.dep_ in ("aux", "auxpass") for c in verb.children):
        return "VBG"
    return verb.tag_ if verb.tag_.startswith("VB") else "VBG"


def _has_object(token: Token) -> bool:
    return any(c.dep_ in ("dobj", "pobj", "attr", "ccomp", "xcomp") for c in token.children)


def _animate(noun: Token | str) -> bool:
    if isinstance(noun, str):
        return True
    lemma = noun.lemma_.lower()
    return (
        lemma in lx.ANIMAL_NOUNS
        or lemma in lx.PERSON_NOUNS
        or head_class(lemma)
        in ("person", *(n for n, s in COCO_CATEGORIES.values() if s == "animal"))
    )


def _is_posture_use(token: Token) -> bool:
    """A posture verb said of a noun, used without an object ("laying a brick" is not one)."""
    if not token.tag_.startswith("VB") or _has_object(token):
        return False
    noun = described(token)
    if noun is None:
        return False
    # People and animals only: "sitting woman", not "running water" nor "walking stick"; and a
    # phone "sitting" on a table is only there ("lying" there too), a stripe "running" down
    # a shirt does not run.
    return _animate(noun)


def _is_state_use(token: Token) -> bool:
    """A state word that modifies or is predicated of a noun, not a verb with an object."""
    low, doc = token.lower_, token.doc
    if low in ("on", "off"):
        return _is_switched(token)
    if token.pos_ in ("ADP", "ADV") or (token.tag_.startswith("VB") and _has_object(token)):
        return False
    if low == "full" and token.i + 1 < len(doc) and doc[token.i + 1].lower_ == "of":
        return False  # "plate full of food": "empty of food" is no English
    noun = described(token)
    if noun is None or (not isinstance(noun, str) and noun.lower_ in NOT_STATES):
        return False
    if low == "moving":  # "man moving a chair" has an object; a moving thing is a vehicle here
        return not isinstance(noun, str) and head_class(noun.lemma_.lower()) in VEHICLES
    return True


def _is_switched(token: Token) -> bool:
    """ "on"/"off" said of a device ("the tv is on", "lamp that is on", "turned off tv"), not a
    preposition, stranded ones included ("the table that the plate is on")."""
    verb, doc = token.head, token.doc
    following = doc[token.i + 1] if token.i + 1 < len(doc) else None
    if verb.lemma_ not in SWITCH_VERBS or list(token.children):
        return False
    if token.dep_ != "prt" and following is not None and following.pos_ in ("DET", "NOUN", "NUM"):
        return False
    subject = _subject(verb)
    if verb.dep_ == "relcl" and subject is not None and subject.lower_ not in RELATIVE_PRONOUNS:
        return False  # "the table that the plate is on": the relative is the object of "on"
    objects = [c for c in verb.children if c.dep_ == "dobj"] if token.dep_ == "prt" else []
    noun = objects[0] if objects else described(token)
    if noun is None or isinstance(noun, str):
        return False
    if not objects and (
        head_noun(doc) != noun.lemma_.lower() or any(c.dep_ == "compound" for c in noun.children)
    ):
        return False  # "table laptop is on": the table the laptop is on, not a laptop that is
    return noun.lemma_.lower() in SWITCHABLE or head_class(noun.lemma_.lower()) in SWITCHABLE
