"""Small grammar helpers shared by the rewriters: token edits, articles, number agreement.

Inflection goes through lemminflect (a maintained inflection library), never through
hand-written suffix rules; the few irregular cases it lists second are in
:data:`refaug.lexicon.PLURAL_OVERRIDES`.

Example:
    >>> indefinite_article("umbrella"), indefinite_article("uniform"), indefinite_article("hour")
    ('an', 'a', 'an')
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from lemminflect import getInflection
from spacy.tokens import Doc, Token

from refaug.lexicon import PLURAL_OVERRIDES, SINGULAR_OVERRIDES

PLURAL_TAGS: frozenset[str] = frozenset({"NNS", "NNPS"})
SUBJECT_DEPS: frozenset[str] = frozenset({"nsubj", "nsubjpass"})
RELATIVE_PRONOUNS: frozenset[str] = frozenset({"who", "that", "which"})

_SILENT_H = ("hour", "honest", "honor", "honour", "heir")
_CONSONANT_SOUND_VOWELS = ("uni", "use", "usu", "uti", "ura", "ure", "euro", "one", "once", "ewe")


class Edit(NamedTuple):
    """Replace the tokens ``doc[start:end]`` by ``text``; ``start == end`` inserts before ``start``."""

    start: int
    end: int
    text: str


def apply_edits(doc: Doc, edits: Iterable[Edit]) -> str:
    """The text of ``doc`` with ``edits`` applied, keeping the original spacing.

    Edits must not overlap (an insertion may sit right before a replacement). A deletion
    (empty ``text``) keeps one space where removing the tokens would glue two words.
    The first letter keeps the case it had in the original text.

    Example:
        >>> from spacy.lang.en import English
        >>> doc = English()("man holding an umbrella")
        >>> apply_edits(doc, [Edit(1, 1, "not")])
        'man not holding an umbrella'
    """
    pieces = _pieces(doc)
    out: list[str] = []
    position = 0
    for edit in sorted(edits, key=lambda e: (e.start, e.end)):
        if edit.start < position:
            raise ValueError(f"overlapping edits at token {edit.start}")
        out.extend(pieces[position : edit.start])
        if edit.start == edit.end:
            out.append(edit.text + " ")
        else:
            trailing = pieces[edit.end - 1][len(doc[edit.end - 1]) :]
            if edit.text:
                out.append(edit.text + trailing)
            elif out and out[-1] and not out[-1][-1].isspace():
                out.append(trailing)
        position = max(position, edit.end)
    out.extend(pieces[position:])
    return match_first_case(next((p for p in pieces if p.strip()), ""), "".join(out))


_last: list = [None, None]


def _pieces(doc: Doc) -> list[str]:
    """Each token's text with its trailing space, computed once per Doc (the last one is kept)."""
    if _last[0] is not doc:
        _last[0], _last[1] = doc, [t.text_with_ws for t in doc]
    return _last[1]


def match_first_case(original: str, text: str) -> str:
    """``text`` with its first letter upper-cased when ``original`` starts with a capital."""
    stripped = original.lstrip()
    if stripped[:1].isupper() and text.lstrip()[:1].islower():
        lead = len(text) - len(text.lstrip())
        return text[:lead] + text[lead].upper() + text[lead + 1 :]
    return text


def same_case(word: str, template: str) -> str:
    """``word`` written in the case pattern of ``template`` ("Red" -> "Blue", "RED" -> "BLUE")."""
    if template.isupper() and len(template) > 1:
        return word.upper()
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def indefinite_article(word: str) -> str:
    """ "a" or "an" for the word that follows it, by its first sound."""
    low = word.lower()
    if low.startswith(_SILENT_H):
        return "an"
    if low[:1].isdigit():
        return "an" if low.startswith("8") or low in {"11", "18"} else "a"
    if low.startswith(_CONSONANT_SOUND_VOWELS):
        return "a"
    return "an" if low[:1] in ("a", "e", "i", "o", "u") else "a"


def article_edit(doc: Doc, index: int, new_word: str) -> Edit | None:
    """The edit that makes the article right before token ``index`` agree with ``new_word``."""
    if index == 0:
        return None
    article = doc[index - 1]
    if article.lower_ not in ("a", "an"):
        return None
    wanted = indefinite_article(new_word)
    if wanted == article.lower_:
        return None
    return Edit(index - 1, index, same_case(wanted, article.text))


def is_plural(token: Token) -> bool:
    """Whether a noun token is plural (by its tag; "people" and "men" included)."""
    return token.tag_ in PLURAL_TAGS


def pluralize(token: Token) -> str:
    """The plural of a noun token, in its case ("Dog" -> "Dogs", "man" -> "men")."""
    if is_plural(token):
        return token.text
    lemma = (token.lemma_ or token.text).lower()
    plural = PLURAL_OVERRIDES.get(lemma)
    if plural is None:
        forms = getInflection(lemma, tag="NNS")
        plural = forms[0] if forms else lemma + "s"
    return same_case(plural, token.text)


def singularize(token: Token) -> str:
    """The singular of a noun token, in its case ("men" -> "man")."""
    if not is_plural(token):
        return token.text
    if token.lower_ in SINGULAR_OVERRIDES:
        return same_case(SINGULAR_OVERRIDES[token.lower_], token.text)
    forms = getInflection((token.lemma_ or token.text).lower(), tag="NN")
    return same_case(forms[0] if forms else token.lemma_, token.text)


def inflect_finite(verb: Token, *, plural: bool) -> str | None:
    """A finite present (or past "be") verb re-inflected for a singular or plural subject.

    Returns None when the verb does not show number (past tense, modal, non-finite).

    Example:
        >>> from refaug.nlp import load_nlp  # doctest: +SKIP
    """
    lemma = verb.lemma_.lower()
    if lemma == "be":
        if verb.tag_ == "VBD":
            form = "were" if plural else "was"
        elif verb.tag_ in ("VBZ", "VBP"):
            form = "are" if plural else "is"
        else:
            return None
    elif verb.tag_ in ("VBZ", "VBP"):
        forms = getInflection(lemma, tag="VBP" if plural else "VBZ")
        if not forms:
            return None
        form = forms[0]
    else:
        return None
    return same_case(form, verb.text) if form != verb.lower_ else None


def finite_verbs_agreeing_with(noun: Token) -> list[Token]:
    """The finite verbs whose number follows ``noun``: its clause's verb, "there is", "who is"."""
    verbs: list[Token] = []
    head = noun.head
    if noun.dep_ in SUBJECT_DEPS or (noun.dep_ == "attr" and _has_expletive(head)):
        verbs.extend(_finite_of(head))
    for child in noun.children:
        if child.dep_ == "relcl" and any(
            c.dep_ in SUBJECT_DEPS and c.lower_ in RELATIVE_PRONOUNS for c in child.children
        ):
            verbs.extend(_finite_of(child))
    return verbs


def agreement_edits(noun: Token, *, plural: bool) -> list[Edit]:
    """Edits that make the finite verbs of ``noun`` agree with its new number."""
    edits = []
    for verb in finite_verbs_agreeing_with(noun):
        form = inflect_finite(verb, plural=plural)
        if form is not None:
            edits.append(Edit(verb.i, verb.i + 1, form))
    return edits


def _has_expletive(verb: Token) -> bool:
    return any(c.dep_ == "expl" for c in verb.children)


def _finite_of(verb: Token) -> list[Token]:
    """The first auxiliary of ``verb`` that shows number, else ``verb`` itself when finite."""
    for child in verb.children:
        if child.dep_ in ("aux", "auxpass") and child.i < verb.i:
            return [child] if child.tag_ in ("VBZ", "VBP", "VBD") else []
    if verb.tag_ in ("VBZ", "VBP") or (verb.tag_ == "VBD" and verb.lemma_ == "be"):
        return [verb]
    return []
