"""Landmark swaps: the referent and the object it is placed by trade roles, the relation kept.

"man on bike" names the man; "bike with man on it" names the bike, with the same words and
the same scene. A swap of the two phrases would give "bike on man", which no one writes; the
landmark swap gives the other object's expression, a hard negative for the referent:

- to "with ... it": "a woman sitting on top of a motorcycle" -> "a motorcycle with a woman
  sitting on top of it" (the pronoun follows the new head: "them", "him", "her");
- from "with ... it": "a green couch with a person sitting on it" -> "a person sitting on a
  green couch";
- between the voices: "a man using a laptop" -> "a laptop used by a man", "a surfboard being
  held by a man" -> "a man holding a surfboard" (lemminflect's lemmas and participles);
- from an object relative: "a brown chair that the woman is sitting on" -> "the woman
  sitting on a brown chair".

All read the dependency parse: the expression is one noun phrase (its root is the
referent, or the subject of a participle the parser made the root: "woman eating donut"),
the landmark is the object of a preposition reached from the referent through participles
and complex prepositions only ("next to", "on top of", "to the right of"), or of the
referent's participle, and the landmark's phrase ends the text. Not a landmark: a part ("a cat under man's left arm"),
a place ("zebra in field"), a mass ("pizza with cheese"), what a person wears or holds ("girl
in pink shirt" never becomes "pink shirt with girl in it"), or a noun that names no object
class of the data (a COCO category, a person or an animal: not "focus", "night").

Example:
    >>> from refaug.nlp import load_nlp  # doctest: +SKIP
    >>> [p.text for p in landmark_swaps(load_nlp()("man on bike"))]  # doctest: +SKIP
    ['bike with man on it']
"""

from __future__ import annotations

from collections.abc import Iterator, Set

from lemminflect import getAllLemmas, getInflection
from spacy.tokens import Doc, Token

from refaug import lexicon as lx
from refaug.contrast.synonyms import lexicon_class
from refaug.rewrite.base import Proposal
from refaug.rewrite.dressed import dressed_swaps
from refaug.rewrite.grammar import indefinite_article, is_plural, match_first_case
from refaug.rewrite.holdings import (
    holdable,
    holding_swaps,
    paired_adjective,
    telegraphic_holdings,
)
from refaug.rewrite.swap_pairs import (
    COMPLEX_PREPOSITION_NOUNS,
    COUNTABLE,
    PARTS,
    PLACES,
    SCENE_THINGS,
    WORN,
    animate,
    entity,
    pronoun_for,
)

__all__ = ["landmark_swaps", "preferred_swaps"]

# Prepositions that relate the referent to another object, not to a quality, a source or
# a comparison ("man with hat" is possession, "third from left" a position in a row).
NOT_RELATIONS = frozenset(
    {"with", "without", "of", "like", "as", "for", "than", "except", "about", "from",
     "during", "after", "before", "between", "among", "including", "but", "per"}
)  # fmt: skip
# Tokens that may stand between the referent and the preposition: a participle ("sitting"),
# an adverb of a complex preposition ("next", "close", "directly") and its particle.
_PATH_DEPS = frozenset({"acl", "advmod", "prep", "prt", "pcomp", "npadvmod"})
_ENDING = frozenset({"PUNCT", "SPACE"})
# Verbs whose object is worn, a text, a game or a gesture, not an object the doer acts on.
_NOT_PASSIVE = frozenset({"wear", "have", "do", "make", "play", "take", "say", "read", "show"})
# Verbs whose object is in the doer's hands: a handheld accessory may swap with the doer across
# them ("man holding an umbrella" -> "an umbrella held by a man"), never across "wear".
_HOLDING_VERBS = frozenset({"hold", "carry", "swing", "use", "grab", "throw", "catch", "eat"})
# Places in the frame that a phrase after a passive's doer names ("held by the man on the right").
_POSITIONS = frozenset(
    {"left", "right", "middle", "center", "front", "back", "background", "foreground"}
)
# Prepositions that put a person under a thing they may hold: "guy under blue umbrella" ->
# "blue umbrella with guy under it" (not "in", "with": "man with a hat on").
_SHELTER_WORDS = frozenset({"under", "beneath", "underneath", "below"})
# Portions that head an expression with their "of" phrase ("slice of pizza on a plate").
_PORTIONS = frozenset({"slice", "slices", "piece", "pieces", "half", "bit", "chunk"})
# The dependents a passive participle may have for "X being held by Y" to turn active.
_PASSIVE_DEPS = frozenset({"agent", "auxpass", "nsubjpass", "advmod"})
# The dependents of "that the woman is sitting on" (the relative word, the subject, the
# auxiliary and the stranded preposition).
_RELATIVE_DEPS = frozenset({"mark", "dobj", "pobj", "nsubj", "nsubjpass", "aux", "auxpass", "prep"})


def landmark_swaps(doc: Doc, *, swapped: Set[frozenset[int]] = frozenset()) -> Iterator[Proposal]:
    """The landmark swaps of ``doc``: to and from "with ... it", between the voices, and
    from an object relative.

    ``swapped``: pairs of token indices whose phrases already swap ("cup on the table" ->
    "table on the cup"); the landmark swap is for the pairs that do not, one swap per pair.
    """
    for holder, held, proposal in telegraphic_holdings(doc, _text_end(doc)):
        if frozenset((holder.i, held.i)) not in swapped:
            yield proposal
    root = _referent(doc)
    found = () if root is None else (
        *_to_with_it(doc, root), *_from_with_it(doc, root),
        *_to_passive(doc, root), *_to_active(doc, root), *_from_relative(doc, root),
        *holding_swaps(doc, root, _text_end(doc)),
    )  # fmt: skip
    pairs = set(swapped)
    for landmark, proposal in found:
        if frozenset((root.i, landmark.i)) not in swapped:
            pairs.add(frozenset((root.i, landmark.i)))
            yield proposal
    for person, thing, proposal in dressed_swaps(doc, _text_end(doc)):
        if frozenset((person.i, thing.i)) not in pairs:  # the parse's own reading first
            yield proposal


def preferred_swaps(doc: Doc) -> dict[frozenset[int], Proposal]:
    """The holding swaps of ``doc`` (:mod:`refaug.rewrite.holdings`) by the pair of token
    indices they exchange: they read better than the phrase swap of the same pair ("a bowl
    with three apples" -> "three apples in a bowl", not "three apples with a bowl")."""
    root = _referent(doc)
    if root is None:
        return {}
    found = holding_swaps(doc, root, _text_end(doc))
    return {frozenset((root.i, held.i)): proposal for held, proposal in found}


def _referent(doc: Doc) -> Token | None:
    """The expression's head noun, when the expression is one noun phrase that starts with it."""
    roots = [t for t in doc if t.dep_ == "ROOT"]
    if len(roots) != 1:
        return None  # "the pizza ... . it is in front of the glasses": two sentences
    root = roots[0]
    if _fragment_verb(root):
        # "woman eating donut" parsed as a clause (woman/nsubj eating/ROOT): still a noun phrase
        root = next(c for c in root.children if c.dep_ in ("nsubj", "nsubjpass"))
    if root.left_edge.i != 0 or not (entity(root) or _portion_of(root)) or _not_landmark(root):
        return None
    return root


def _portion_of(noun: Token) -> Token | None:
    """The food of "slice of pizza", "a piece of cake": a portion "of" a food moves whole."""
    if noun.lower_ not in _PORTIONS:
        return None
    of = next((c for c in noun.rights if c.dep_ == "prep" and c.lower_ == "of"), None)
    food = None if of is None else next((c for c in of.children if c.dep_ == "pobj"), None)
    if food is None or food.lemma_.lower() not in COUNTABLE or animate(food):
        return None
    return food


def _fragment_verb(token: Token) -> bool:
    """A participle the parser made the root of a verbless fragment: "woman eating donut",
    "the woman holding a fork", "a frisbee being thrown by a man" (no finite auxiliary: "the
    woman is holding a fork" is a clause)."""
    if token.tag_ not in ("VBG", "VBN") or token.dep_ != "ROOT":
        return False
    children = list(token.children)
    if any(c.dep_ in ("aux", "auxpass") and c.tag_ != "VBG" for c in children):
        return False
    passive = any(c.dep_ == "auxpass" for c in children)
    if token.tag_ == "VBN" and not passive:
        return False  # "man tired": not a participle phrase we read
    subjects = [c for c in children if c.dep_ in ("nsubj", "nsubjpass") and c.i < token.i]
    return len(subjects) == 1


def _participles(referent: Token) -> list[Token]:
    """The participles after the noun: its "acl"s, or the fragment's root verb."""
    verbs = [c for c in referent.rights if c.dep_ in ("acl", "relcl")]
    if referent.dep_ in ("nsubj", "nsubjpass") and _fragment_verb(referent.head):
        verbs.append(referent.head)
    return verbs


def _to_with_it(doc: Doc, referent: Token) -> Iterator[tuple[Token, Proposal]]:
    """ "man on bike" -> "bike with man on it"."""
    end = _text_end(doc)
    dress = _dress_start(doc, referent, end)  # "person on bike in clown suit"
    stop = end if dress is None else dress
    for landmark in doc[referent.i + 1 : stop]:
        if landmark.dep_ != "pobj" or landmark.right_edge.i + 1 not in (stop, end):
            continue
        if dress is not None and landmark.i + 1 != dress:
            continue
        start = landmark.left_edge.i
        reached = _reached_from(landmark.head, {referent, _portion_of(referent)} - {None})
        if not reached or not _fits(landmark, referent):
            continue
        if not (_plain_phrase(doc, 0, end) and _bare_right(landmark, stop)):
            continue  # "man on his bike": "his bike with man on it" reads wrong
        if any(t.lower_ in ("with", "without") for t in doc[:start]):
            continue  # "guy with foot on skateboard": two "with"s, one of them the part's
        worn_in = landmark.head.lower_ == "in" and landmark.head.head == referent
        if worn_in and animate(referent) and landmark.lemma_.lower() not in COUNTABLE:
            continue  # "man in plaid", "woman in coveralls": what a person wears, mostly
        pronoun = pronoun_for(landmark, role="obj")
        if pronoun is None or start <= referent.i:
            continue  # "person": he, she or they
        lead = _text(doc, 0, start).rstrip()
        if dress is not None:  # the clothes stay with the person: "bike with person in ... on it"
            relation = _text(doc, referent.i + 1, start).rstrip()
            lead = f"{_text(doc, 0, referent.i + 1)}{_text(doc, dress, end).rstrip()} {relation}"
        lead = _with_article(referent, doc[start], _lowered(doc, lead))
        text = f"{_text(doc, start, stop).rstrip()} with {lead} {pronoun}"
        text = match_first_case(doc.text, text + _text(doc, end, len(doc)).rstrip())
        yield landmark, Proposal(text, _detail(referent, landmark), start)


def _dress_start(doc: Doc, referent: Token, end: int) -> int | None:
    """Where a person's clothes phrase ends the text after a landmark ("person on bike in
    clown suit": "in clown suit", which the parser may hang on the bike), or None."""
    if not _person(referent):
        return None
    for token in doc[referent.i + 2 : end]:
        if token.lower_ not in ("in", "wearing") or token.pos_ not in ("ADP", "VERB"):
            continue
        words = doc[token.i + 1 : end]
        nouns = [t for t in words if t.pos_ in ("NOUN", "PROPN") and t.dep_ != "compound"]
        worn = bool(nouns) and nouns[-1].i == end - 1 and all(_worn(t) for t in nouns)
        colour = (
            token.lower_ == "in"
            and bool(words)
            and all(lx.attribute_kind(t.lower_) == "color" for t in words)
        )
        return token.i if (worn or colour) and _plain_phrase(doc, token.i + 1, end) else None
    return None


def _from_with_it(doc: Doc, referent: Token) -> Iterator[tuple[Token, Proposal]]:
    """ "a green couch with a person sitting on it" -> "a person sitting on a green couch"."""
    end = _text_end(doc)
    pronoun = doc[end - 1] if end > 0 else None
    if pronoun is None or pronoun.lower_ not in ("it", "them") or pronoun.dep_ != "pobj":
        return
    if sum(t.lower_ in ("it", "them", "its", "their") for t in doc) != 1:
        return  # "a chair with scissors on it and a pile of debris under it"
    if (pronoun.lower_ == "them") != is_plural(referent) or _person(referent):
        return  # the pronoun must be the referent's: "it" for one thing or animal
    with_ = next((c for c in referent.rights if c.dep_ == "prep" and c.lower_ == "with"), None)
    held = None if with_ is None else _held(with_)
    if held is None or not _fits(held, referent) or held.left_edge.i != with_.i + 1:
        return
    # "motorcycle with man in orange shirt on it": the parser may hang "on it" on the referent
    hung = pronoun.head.head == referent and pronoun.head.i == held.right_edge.i + 1
    if not hung and (
        pronoun not in set(with_.subtree) or not _reached_from(pronoun.head, {held, with_})
    ):
        return
    if not _plain_phrase(doc, 0, pronoun.i):
        return
    lead = _text(doc, 0, with_.i).rstrip()
    text = f"{_text(doc, with_.i + 1, pronoun.i)}{_lowered(doc, lead)}"
    text = match_first_case(doc.text, text + _text(doc, end, len(doc)).rstrip())
    yield held, Proposal(text, _detail(referent, held), with_.i)


def _to_passive(doc: Doc, referent: Token) -> Iterator[tuple[Token, Proposal]]:
    """ "a man using a laptop" -> "a laptop used by a man"."""
    end = _text_end(doc)
    for verb in _participles(referent):
        if verb.dep_ == "relcl" or verb.tag_ != "VBG" or _verb_lemma(verb) in _NOT_PASSIVE:
            continue
        objects = [c for c in verb.children if c.dep_ == "dobj"]
        if len(objects) != 1 or any(
            c.dep_ not in ("dobj", "prt") and c != referent for c in verb.children
        ):
            continue  # "man holding a cup on a table": only a verb and its object
        thing = objects[0]
        start = thing.left_edge.i
        held = _verb_lemma(verb) in _HOLDING_VERBS
        if thing.right_edge.i + 1 != end or not _fits(thing, referent, held=held):
            continue
        if not _bare_right(thing):
            continue
        if not _plain_phrase(doc, 0, end) or animate(thing):
            continue  # "a woman hugging a dog" -> "a dog hugged by a woman" is no object swap
        if any(_with_other_doer(t) for t in doc[: verb.i]):
            continue  # "a woman with a baby eating a banana": who eats is not sure
        forms = getInflection(_verb_lemma(verb), tag="VBN") if _verb_lemma(verb) else ()
        if not forms:
            continue
        lead = _with_article(referent, doc[start], _lowered(doc, _text(doc, 0, verb.i).rstrip()))
        particle = "".join(f" {c.text}" for c in verb.children if c.dep_ == "prt")
        text = f"{_text(doc, start, end).rstrip()} {forms[0]}{particle} by {lead}"
        text = match_first_case(doc.text, text + _text(doc, end, len(doc)).rstrip())
        yield thing, Proposal(text, _detail(referent, thing), start)


def _to_active(doc: Doc, referent: Token) -> Iterator[tuple[Token, Proposal]]:
    """ "a yellow surfboard being held by a man" -> "a man holding a yellow surfboard"."""
    end = _text_end(doc)
    for verb in _participles(referent):
        if verb.tag_ != "VBN":
            continue
        agent = next((c for c in verb.children if c.dep_ == "agent"), None)
        doer = (
            None if agent is None else next((c for c in agent.children if c.dep_ == "pobj"), None)
        )
        places = [] if doer is None else _doer_places(verb, doer, end)
        if doer is None or not animate(doer) or places is None:
            continue
        if any(c.dep_ not in _PASSIVE_DEPS and c not in (referent, *places) for c in verb.children):
            continue
        if not entity(doer):
            continue
        if verb.dep_ == "relcl" and not any(c.lower_ in ("which", "that") for c in verb.children):
            continue
        before = [c.left_edge.i for c in verb.children if c.i < verb.i and c != referent]
        lead_end = min([verb.i, *before])  # "being held", "which is held"
        if referent.i >= lead_end or not _plain_phrase(doc, 0, lead_end) or _has_verb_after(doer):
            continue
        forms = getInflection(_verb_lemma(verb), tag="VBG") if _verb_lemma(verb) else ()
        held = _verb_lemma(verb) in _HOLDING_VERBS and holdable(referent)
        if not forms or (_worn(referent) and not held) or _part(referent):
            continue
        lead = _lowered(doc, _text(doc, 0, lead_end).rstrip())
        text = f"{_text(doc, doer.left_edge.i, end).rstrip()} {forms[0]} {lead}"
        text = match_first_case(doc.text, text + _text(doc, end, len(doc)).rstrip())
        yield doer, Proposal(text, _detail(referent, doer), doer.left_edge.i)


def _doer_places(verb: Token, doer: Token, end: int) -> list[Token] | None:
    """The position phrases the parser hung on the passive verb after its doer ("the bat held
    by the man on the right": the man's place), which move with the doer; None when the doer's
    phrase and those do not end the text."""
    places = [c for c in verb.children if c.dep_ == "prep" and c.i > doer.i]
    stop = doer.right_edge.i + 1
    for place in places:
        objects = [c for c in place.children if c.dep_ == "pobj"]
        if place.left_edge.i != stop or len(objects) != 1 or objects[0].lower_ not in _POSITIONS:
            return None
        stop = place.right_edge.i + 1
    return places if stop == end else None


def _from_relative(doc: Doc, referent: Token) -> Iterator[tuple[Token, Proposal]]:
    """ "a brown chair that the woman is sitting on" -> "the woman sitting on a brown chair"."""
    end = _text_end(doc)
    for clause in referent.rights:
        if clause.dep_ not in ("relcl", "acl") or clause.pos_ != "VERB":
            continue
        if clause.left_edge.i != referent.i + 1 or clause.right_edge.i + 1 != end:
            continue
        stranded = doc[end - 1]
        relative = any(c.lower_ not in ("that", "which") for c in stranded.children)
        if stranded.dep_ != "prep" or stranded.head != clause or relative:
            continue  # the preposition the referent is the object of ends the clause
        subject = next((c for c in clause.children if c.dep_ in ("nsubj", "nsubjpass")), None)
        if subject is None or subject.lower_ in ("who", "that", "which"):
            continue
        if any(c.dep_ not in _RELATIVE_DEPS for c in clause.children):
            continue
        if not _fits(subject, referent) or _has_verb_after(subject):
            continue
        first, last = subject.left_edge.i, subject.right_edge.i + 1
        if not _plain_phrase(doc, 0, referent.i + 1) or not _plain_phrase(doc, first, last):
            continue
        form = clause.text if clause.tag_ in ("VBG", "VBN") else _present_participle(clause)
        if form is None:
            continue
        lead = _with_article(referent, doc[first], _lowered(doc, _text(doc, 0, referent.i + 1)))
        text = f"{_text(doc, first, last).rstrip()} {form} {stranded.text} {lead.rstrip()}"
        text = match_first_case(doc.text, text + _text(doc, end, len(doc)).rstrip())
        yield subject, Proposal(text, _detail(referent, subject), first)


def _with_other_doer(token: Token) -> bool:
    """A "with" whose object might be the doer of a verb after it ("a woman with a baby
    eating a banana"); not what a person wears or has ("a man with a tattoo holding ...")."""
    if token.lower_ not in ("with", "without"):
        return False
    objects = [c for c in token.children if c.dep_ == "pobj"]
    return not objects or any(not (_worn(o) or _part(o)) for o in objects)


def _present_participle(verb: Token) -> str | None:
    lemma = _verb_lemma(verb)
    forms = getInflection(lemma, tag="VBG") if lemma else ()
    return forms[0] if forms else None


def _verb_lemma(verb: Token) -> str:
    """The verb's lemma from lemminflect (spaCy's small model gives "rid" for "riding")."""
    lemmas = getAllLemmas(verb.lower_, upos="VERB").get("VERB")
    return lemmas[0] if lemmas else ""  # "" for a word lemminflect does not know ("carring")


def _has_verb_after(noun: Token) -> bool:
    return any(t.pos_ in ("VERB", "AUX") for t in noun.doc[noun.i + 1 : noun.right_edge.i + 1])


def _held(with_: Token) -> Token | None:
    """The object of "with": "with a cat on it", or the subject of its clause ("with a horse
    standing next to it", parsed horse/nsubj standing/pcomp)."""
    for child in with_.children:
        if child.dep_ == "pobj":
            return child
        if child.dep_ == "pcomp":
            return next((c for c in child.children if c.dep_ == "nsubj"), None)
    return None


def _with_article(referent: Token, landmark_start: Token, lead: str) -> str:
    """ "dog lying on a couch" -> "a couch with a dog lying on it": a bare singular referent
    takes an indefinite article when the landmark had one (the text keeps one register)."""
    if landmark_start.lower_ not in ("a", "an", "the") or is_plural(referent):
        return lead
    if referent.i != 0 or referent.lemma_.lower() in lx.MASS_NOUNS | {"half"}:
        return lead  # "the man", "two men", "red car": the lead has its own start
    return f"{indefinite_article(lead)} {lead}"


def _reached_from(prep: Token, targets: set[Token]) -> bool:
    """Whether the preposition hangs from one of ``targets`` through participles and complex
    prepositions only ("sitting on top of", "next to", "to the right of"), not through a clause
    or another noun."""
    if prep.pos_ != "ADP" or prep.lower_ in NOT_RELATIONS and not _complex_of(prep):
        return False
    if prep.dep_ == "agent":
        return False  # "a surfboard being held by a man": not "a man with a surfboard ... by him"
    head = prep.head
    for _ in range(5):
        if head in targets:
            return True
        if _fragment_verb(head) and any(c in targets for c in head.children):
            return True  # "kid sitting on top of a suitcase" (kid/nsubj sitting/ROOT)
        participle = head.pos_ == "VERB" and head.tag_ in ("VBG", "VBN")
        participle = participle and (head.dep_ in ("acl", "pcomp") or _fragment_verb(head))
        complex_noun = head.dep_ == "pobj" and head.lower_ in COMPLEX_PREPOSITION_NOUNS
        if not (participle or complex_noun or head.dep_ in _PATH_DEPS and head.pos_ != "VERB"):
            return False
        if any(
            c.dep_ in ("nsubj", "nsubjpass", "dobj") and c not in targets for c in head.children
        ):
            return False  # "man holding a cup on a table": the cup is on the table
        head = head.head
    return False


def _complex_of(prep: Token) -> bool:
    """ "in front of", "on top of", "to the right of": an "of" that completes a preposition."""
    return prep.lower_ == "of" and prep.head.lower_ in COMPLEX_PREPOSITION_NOUNS


def _fits(landmark: Token, referent: Token, *, held: bool = False) -> bool:
    """Whether ``landmark`` can head an expression of its own next to ``referent``: it names
    an object class of the data (a COCO category or a person or animal: not "focus", "night",
    "dark"), is not worn by the referent, and is not named twice."""
    if landmark == referent or landmark in referent.conjuncts or not entity(landmark):
        return False
    if _not_landmark(landmark) or not _object_class(landmark):
        return False
    sheltered = landmark.dep_ == "pobj" and landmark.head.lower_ in _SHELTER_WORDS
    if animate(referent) and _worn(landmark) and not ((held or sheltered) and holdable(landmark)):
        return False  # "girl in pink shirt", "man with a hat on" ("holding an umbrella" is held)
    lemmas = [t.lemma_.lower() for t in landmark.doc]
    # "sheep behind other sheep", "a truck on the bed of another truck": named twice
    return lemmas.count(landmark.lemma_.lower()) == 1 and lemmas.count(referent.lemma_.lower()) == 1


def _object_class(noun: Token) -> bool:
    lemma = noun.lemma_.lower()
    return (
        animate(noun)
        or lemma in COUNTABLE
        or lexicon_class(lemma) is not None
        or bool({lemma, noun.lower_} & SCENE_THINGS)
    )


def _bare_right(noun: Token, stop: int | None = None) -> bool:
    """Whether nothing but "of" phrases follow the noun in its phrase ("the bed of another
    truck"; not "bike in black shirt", a modifier of the person misattached), up to ``stop``."""
    end = noun.right_edge.i + 1 if stop is None else min(stop, noun.right_edge.i + 1)
    for token in noun.doc[noun.i + 1 : end]:
        if token.pos_ in ("VERB", "AUX") or token.pos_ == "ADP" and token.lower_ != "of":
            return False
    return True


def _plain_phrase(doc: Doc, start: int, end: int) -> bool:
    """Whether ``doc[start:end]`` reads the same anywhere: no clause, punctuation, negation,
    coordination or personal pronoun ("a sheep with its head in a fence" cannot move its "its";
    "a motorcycle wearing a santa costume" is a misparse)."""
    for token in doc[start:end]:
        if paired_adjective(token) or token.tag_ == "HYPH":
            continue  # "a red and white bike", "long - haired"
        if token.pos_ in ("AUX", "PUNCT", "CCONJ", "PRON") or token.lower_ in ("not", "no"):
            return False
    return True


def _not_landmark(noun: Token) -> bool:
    words = {noun.lower_, noun.lemma_.lower()}
    return bool(words & (PARTS | PLACES | lx.MASS_NOUNS))


def _part(noun: Token) -> bool:
    return bool({noun.lower_, noun.lemma_.lower()} & PARTS)


def _worn(noun: Token) -> bool:
    return bool({noun.lower_, noun.lemma_.lower()} & WORN)


def _person(noun: Token) -> bool:
    return animate(noun) and noun.lemma_.lower() not in lx.ANIMAL_NOUNS


def _text_end(doc: Doc) -> int:
    """The index after the last token that is not punctuation."""
    end = len(doc)
    while end > 0 and doc[end - 1].pos_ in _ENDING:
        end -= 1
    return end


def _text(doc: Doc, start: int, end: int) -> str:
    return "".join(t.text_with_ws for t in doc[start:end])


def _lowered(doc: Doc, text: str) -> str:
    """The text that leaves the start of the expression, its first letter lower-cased."""
    first = doc[0]
    if first.pos_ == "PROPN" or first.text == "I":
        return text
    return text[:1].lower() + text[1:]


def _detail(referent: Token, landmark: Token) -> str:
    return f"landmark: {_named(referent)} <-> {_named(landmark)}"


def _named(noun: Token) -> str:
    words = [t.lower_ for t in noun.doc[noun.left_edge.i : noun.i + 1]]
    if noun.left_edge.i > noun.i:
        words = [noun.lower_]
    return " ".join(words[1:] if words[0] in ("a", "an", "the") and len(words) > 1 else words)
