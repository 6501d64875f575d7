"""Negation: add or remove a negation where the text's grammar allows one.

Adds: before a participle ("man holding an umbrella" -> "man not holding an umbrella"),
after an auxiliary or copula ("the dog is sitting" -> "the dog is not sitting"), with
do-support for a bare finite verb ("A woman prepares a pizza" -> "A woman does not
prepare a pizza"), before a preposition that describes a noun ("player in white" ->
"player not in white"; "with" becomes "without"), and on existence ("There are people"
-> "There are no people"). Removes: "not", "n't" and "never" (with do-support undone:
"doesn't have" -> "has"), "no" ("There is no dog" -> "There is a dog"), "without" ->
"with", "nothing" -> "something".

Example:
    >>> rw = NegationRewriter()
    >>> [c.text for c in rw(["man with a hat"])[0]]  # doctest: +SKIP
    ['man without a hat']
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from lemminflect import getInflection, getLemma
from spacy.tokens import Doc, Token

from refaug import lexicon as lx
from refaug.rewrite.base import Proposal, Rewriter
from refaug.rewrite.fragments import fragment_negations
from refaug.rewrite.grammar import Edit, apply_edits, indefinite_article, is_plural, same_case

# Prepositions whose phrase describes a noun and reads naturally after "not".
NEGATABLE_PREPOSITIONS = frozenset(
    {"in", "on", "at", "near", "by", "behind", "under", "above", "below", "beside",
     "between", "inside", "outside", "underneath", "beneath", "over", "against", "along",
     "around", "across", "within"}
)  # fmt: skip
# "not in the picture" says nothing about the referent.
FRAME_NOUNS = frozenset(
    {"picture", "photo", "image", "frame", "pic", "photograph", "shot", "scene"}
)
NEGATIVE_PRONOUNS = {"nothing": "something", "nobody": "somebody", "noone": "someone"}
_CONTRACTED_AUX = {"ca": "can", "wo": "will", "sha": "shall"}
_NEG_DEPS = frozenset({"neg"})
_FINITE_TAGS = frozenset({"VBZ", "VBP", "VBD"})


class NegationRewriter(Rewriter):
    """Adds a negation where there is none, removes the ones there are.

    Args:
        **options: :class:`~refaug.rewrite.base.Rewriter` options (``max_per_text``,
            ``seed``, ``spacy_model``, ``disable``, ``batch_size``, ``n_process``).

    Example:
        >>> rw = NegationRewriter()
        >>> [c.text for c in rw(["There are people in the picture."])[0]]  # doctest: +SKIP
        ['There are no people in the picture.']
    """

    kind = "negation"

    def propose(self, doc: Doc, rng: random.Random) -> Iterator[Proposal]:
        proposed = False
        for token in doc:
            found = (
                _remove_negation(doc, token)
                or _existence(doc, token)
                or _verb(doc, token)
                or _preposition(doc, token)
                or _next_to(doc, token)
            )
            if found is not None:
                edits, detail = found
                proposed = True
                yield Proposal(apply_edits(doc, edits), detail, token.i)
        # Verbless fragments: the attribute moves into a relative clause ("right dog" ->
        # "the dog that is not on the right"); with nothing else to negate, the whole.
        for text, detail in fragment_negations(doc, whole=not proposed):
            yield Proposal(text, detail, len(doc))


Found = tuple[list[Edit], str]


# ---------------------------------------------------------------------- removal
def _remove_negation(doc: Doc, token: Token) -> Found | None:
    low = token.lower_
    if token.dep_ in _NEG_DEPS and low in ("not", "n't", "never"):
        return _remove_neg_word(doc, token)
    if low == "without" and token.pos_ == "ADP":
        return [Edit(token.i, token.i + 1, same_case("with", token.text))], "without -> with"
    if low in NEGATIVE_PRONOUNS:
        new = NEGATIVE_PRONOUNS[low]
        return [Edit(token.i, token.i + 1, same_case(new, token.text))], f"{low} -> {new}"
    if low == "no" and token.dep_ == "det" and token.head.pos_ in ("NOUN", "PROPN"):
        return _remove_no(doc, token)
    return None


def _remove_neg_word(doc: Doc, neg: Token) -> Found:
    edits = [Edit(neg.i, neg.i + 1, "")]
    verb = neg.head
    aux = doc[neg.i - 1] if neg.i > 0 else None
    if aux is not None and aux.lower_ in _CONTRACTED_AUX and neg.lower_ == "n't":
        edits.insert(0, Edit(aux.i, aux.i + 1, same_case(_CONTRACTED_AUX[aux.lower_], aux.text)))
    elif (
        aux is not None
        and aux.lemma_ == "do"
        and aux.tag_ in _FINITE_TAGS
        and aux.head == verb
        and verb.tag_ == "VB"
        and verb.i > neg.i
    ):
        form = getInflection(verb.lower_, tag=aux.tag_)  # after "do", the verb is in its base form
        if form:
            edits = [
                Edit(aux.i, neg.i + 1, ""),
                Edit(verb.i, verb.i + 1, same_case(form[0], verb.text)),
            ]
            if aux.i == 0:
                edits[1] = Edit(verb.i, verb.i + 1, same_case(form[0], aux.text))
    return edits, f"remove: {neg.lower_}"


def _remove_no(doc: Doc, no: Token) -> Found:
    noun = no.head
    first = doc[no.i + 1] if no.i + 1 < len(doc) else noun
    if is_plural(noun) or noun.lemma_.lower() in lx.MASS_NOUNS:
        return [Edit(no.i, no.i + 1, "")], "no -> (none)"
    article = indefinite_article(first.text)
    return [Edit(no.i, no.i + 1, same_case(article, no.text))], f"no -> {article}"


# ---------------------------------------------------------------------- existence
def _existence(doc: Doc, token: Token) -> Found | None:
    """ "There is a dog" -> "There is no dog"; "There are people" -> "There are no people"."""
    if token.dep_ != "attr" or token.pos_ not in ("NOUN", "PROPN"):
        return None
    if not any(c.dep_ == "expl" for c in token.head.children) or _negated(token.head):
        return None
    for child in token.children:
        if child.dep_ == "det" and child.lower_ == "no":
            return None
        if child.i < token.i and (
            (child.dep_ == "det" and child.lower_ in ("a", "an", "some", "any"))
            or (child.dep_ == "nummod" and lx.number_value(child.text) is not None)
        ):
            edits = [Edit(child.i, child.i + 1, same_case("no", child.text))]
            if child.dep_ == "nummod" and not is_plural(token):
                return None  # "There is one dog" -> "There is no dog" reads as a count
            return edits, f"existence: {child.lower_} -> no"
        if child.dep_ in ("det", "poss", "nummod") and child.i < token.i:
            return None  # "There is the dog", "There is my dog"
    start = min(c.left_edge.i for c in [token, *token.lefts])
    return [Edit(start, start, "no")], "existence: + no"


# ---------------------------------------------------------------------- verbs
def _verb(doc: Doc, token: Token) -> Found | None:
    if token.pos_ not in ("VERB", "AUX") or token.dep_ in ("aux", "auxpass") or _negated(token):
        return None
    if lx.attribute_kind(token.lower_) is not None:
        return None  # "bottom left sandwich": "left" is a position the tagger took for a verb
    if any(c.dep_ == "expl" for c in token.children):
        return None  # existence is negated on its noun
    aux = next((c for c in token.children if c.dep_ in ("aux", "auxpass") and c.i < token.i), None)
    if aux is not None:
        if aux.lower_ in ("to", "'s", "'re", "'m") or aux.tag_ == "TO":
            return None
        if aux.tag_ in ("VBG", "VBN", "VB"):  # "being ridden" -> "not being ridden"
            return [Edit(aux.i, aux.i, "not")], f"add not: {aux.lower_} {token.lower_}"
        return [Edit(aux.i + 1, aux.i + 1, "not")], f"add not: {aux.lower_} {token.lower_}"
    if token.lemma_ == "be" and token.tag_ in _FINITE_TAGS:
        if token.i + 1 < len(doc) and doc[token.i + 1].lower_ in ("n't", "not"):
            return None
        return [Edit(token.i + 1, token.i + 1, "not")], f"add not: {token.lower_}"
    if token.tag_ in _FINITE_TAGS and token.pos_ == "VERB":
        subject = next((c for c in token.children if c.dep_ in ("nsubj", "nsubjpass")), None)
        if subject is not None and _participle_fragment(token, subject):
            start = _before_adverbs(doc, token)
            return [Edit(start, start, "not")], f"add not: {token.lower_}"
        return _do_support(token) if subject is not None else None
    if token.tag_ in ("VBG", "VBN") and _is_participle_phrase(doc, token):
        start = _before_adverbs(doc, token)
        return [Edit(start, start, "not")], f"add not: {token.lower_}"
    return None


def _before_adverbs(doc: Doc, verb: Token) -> int:
    """Where "not" goes before a participle: before its "-ly" adverbs ("not partially hidden")."""
    start = verb.i
    while start > 0 and doc[start - 1].dep_ == "advmod" and doc[start - 1].lower_.endswith("ly"):
        start -= 1
    return start


def _participle_fragment(verb: Token, subject: Token) -> bool:
    """ "person cut off": a past form that is also the participle, after a bare noun."""
    if verb.tag_ != "VBD" or any(c.dep_ == "det" for c in subject.children):
        return False
    lemma = getLemma(verb.lower_, upos="VERB")
    participle = getInflection(lemma[0] if lemma else verb.lemma_, tag="VBN")
    return bool(participle) and participle[0] == verb.lower_


def _do_support(verb: Token) -> Found | None:
    do = {"VBZ": "does", "VBP": "do", "VBD": "did"}[verb.tag_]
    lemma = getLemma(verb.lower_, upos="VERB")
    base = getInflection(lemma[0] if lemma else verb.lemma_, tag="VB")
    if not base:
        return None
    return (
        [Edit(verb.i, verb.i + 1, same_case(f"{do} not {base[0]}", verb.text))],
        f"add not: {do} not {base[0]}",
    )


def _is_participle_phrase(doc: Doc, verb: Token) -> bool:
    """A participle that heads a phrase ("man holding a bat"), not an adjective ("a sitting dog")."""
    if verb.dep_ in ("amod", "compound") and verb.head.i > verb.i:
        previous = doc[verb.i - 1] if verb.i > 0 else None
        has_noun_before = any(t.pos_ in ("NOUN", "PROPN") for t in doc[: verb.i])
        return previous is not None and previous.pos_ != "DET" and has_noun_before
    return verb.dep_ in ("acl", "ROOT", "conj", "relcl", "advcl", "dep", "appos", "xcomp", "ccomp")


def _negated(verb: Token) -> bool:
    """Whether a verb already carries a negation, on itself or its object ("holding nothing")."""
    for child in verb.children:
        if child.dep_ in _NEG_DEPS or child.lower_ in NEGATIVE_PRONOUNS:
            return True
        if child.dep_ in ("dobj", "attr") and any(
            d.dep_ == "det" and d.lower_ == "no" for d in child.children
        ):
            return True
    return False


# ---------------------------------------------------------------------- prepositions
def _preposition(doc: Doc, prep: Token) -> Found | None:
    """ "player in white" -> "player not in white"; "man with a hat" -> "man without a hat"."""
    if prep.dep_ != "prep" or prep.head.pos_ not in ("NOUN", "PROPN", "PRON"):
        return None
    objects = [c for c in prep.children if c.dep_ in ("pobj", "pcomp")]
    if any(lx.attribute_kind(o.lower_) == "spatial" for o in objects) and prep.lower_ == "with":
        return None  # "guy with back to camera"
    if prep.lower_ == "with":
        if any(d.dep_ == "det" and d.lower_ == "no" for o in prep.children for d in o.children):
            return None  # "with no hat": the "no" is removed instead
        return [Edit(prep.i, prep.i + 1, same_case("without", prep.text))], "with -> without"
    if prep.lower_ not in NEGATABLE_PREPOSITIONS or _negated(prep):
        return None
    if prep.head.dep_ == "attr" and any(c.dep_ == "expl" for c in prep.head.head.children):
        return None  # "There are people in the picture": negate the existence instead
    objects = [
        c
        for c in prep.children
        if c.dep_ == "pobj" or (c.dep_ in ("pcomp", "advmod", "amod") and _place_word(c))
    ]
    if not objects or any(o.lemma_.lower() in FRAME_NOUNS or o.pos_ == "PRON" for o in objects):
        return None  # "not in the picture", "a slice of cake not on it"
    if prep.head.dep_ == "pobj" and prep.head.head.lower_ == "of":
        return None  # "a cup of coffee not on the table": the "of" phrase is not the referent
    if prep.i > 0 and doc[prep.i - 1].lower_ in ("not", "n't"):
        return None
    return [Edit(prep.i, prep.i, "not")], f"add not: {prep.lower_}"


def _place_word(token: Token) -> bool:
    """A position or colour the parser did not take for a noun ("on left", "in back", "in black")."""
    return lx.attribute_kind(token.lower_) in ("spatial", "color") or token.lower_ in ("middle",)


def _next_to(doc: Doc, adverb: Token) -> Found | None:
    """ "a giraffe next to a zebra" -> "a giraffe not next to a zebra" ("close to" too)."""
    if adverb.lower_ not in ("next", "close", "closest", "nearest") or adverb.i == 0:
        return None
    if adverb.head.pos_ not in ("NOUN", "PROPN") and adverb.dep_ not in ("ROOT", "amod"):
        return None
    if not any(c.dep_ == "prep" and c.lower_ == "to" for c in adverb.children):
        return None
    if doc[adverb.i - 1].lower_ in ("not", "n't") or doc[adverb.i - 1].pos_ in ("AUX", "VERB"):
        return None
    if adverb.lower_ in ("closest", "nearest") or doc[adverb.i - 1].pos_ not in ("NOUN", "PROPN"):
        return None
    return [Edit(adverb.i, adverb.i, "not")], f"add not: {adverb.lower_} to"
