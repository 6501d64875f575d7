"""Positives of the negation form: the negation of a verified negative is true of the referent.

The negation rewriter's negatives ("man not on right", of the man on the right) are the only
texts of a run with "not" in them, so a model that never sees the image learns "not" means
negative (blind AUC 0.99 on the real dev file). But a verified edit of the referent's own
expression ("man on right" -> "man on left", proved false by the parse: right and left
exclude each other) turns true when negated *where it was edited*: "man not on left". Such
texts are published as extra positives of the referent (``Views.derived``, kind
:data:`NEGATED_NEGATIVE`), so "not" occurs on both sides.

Soundness: the edit replaced one modifier of the expression by an exclusive one (attribute:
colour, place, size, material, pattern; state: "sitting" -> "standing"); a negation whose
scope holds the replaced words denies a statement whose edited part is false, so it is true
(``not (A and B)`` with B false). The scope is the negated token's parse subtree ("not on left":
the "on" phrase; "not standing on left": the participle phrase; "the zebra that is not on the
right": the fragment's negated word). Edits of the head noun (a type swap) or of a count are
not used: "not a cat" of a dog is true, but "the cat not on the left" would claim a cat.
A source that already holds a negation is skipped (its edit's negation would undo it).

Example:
    >>> negated_negatives([("man on right", "man on left", "spatial: right -> left")])  # doctest: +SKIP
    [[('man not on left', 'negated: spatial: right -> left; add not: on')]]
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Sequence

from refaug.rewrite.base import normalize, text_rng

logger = logging.getLogger(__name__)

NEGATED_NEGATIVE = "negated_negative"
"""The ``kind`` of a derived positive made by negating a verified negative."""
EDIT_KINDS: tuple[str, ...] = ("attribute", "state")
"""The negative kinds whose verified edits are negated (one modifier swapped for an exclusive one)."""
_UNUSED_EDITS = ("noun", "count", "number", "type")  # detail prefixes: the head noun or a count changed
_NEGATION_WORDS = frozenset({"not", "n't", "no", "never", "without", "nothing", "nobody", "none"})
_ADDING = ("add not", "with -> without", "not:")  # the negation rewriter's additions (fragments: "not: <word>")


def negated_negatives(edits: Sequence[tuple[str, str, str]], *, seed: int = 0,
                      max_per_edit: int = 1) -> list[list[tuple[str, str]]]:
    """Per ``(source, edit, detail)`` triple, the negations of ``edit`` that are true of the
    referent ``source`` describes: ``(text, detail)`` pairs, at most ``max_per_edit``.

    ``source`` is the referent's own expression, ``edit`` a verified edit of it (an
    attribute or state negative) and ``detail`` the rewriter's account (``"color: red -> blue"``).
    """
    from refaug.rewrite.negation import NegationRewriter

    rewriter = NegationRewriter(seed=seed)
    wanted = [i for i, (source, _, detail) in enumerate(edits) if _usable(source, detail)]
    parsed = {doc.text: doc for doc in rewriter.parse(list(dict.fromkeys(edits[i][1] for i in wanted)))}
    sources = list(dict.fromkeys(edits[i][0] for i in wanted))  # tokens only: the diff needs no parse
    tokens = {text: [t.lower_ for t in doc] for text, doc in zip(sources, rewriter.nlp.tokenizer.pipe(sources),
                                                                 strict=True)}
    out: list[list[tuple[str, str]]] = [[] for _ in edits]
    for i in wanted:
        source, edit, detail = edits[i]
        changed = _changed_tokens(tokens[source], parsed[edit])
        if not changed:
            continue
        doc = parsed[edit]
        seen = {normalize(source), normalize(edit)}
        try:
            proposals = list(rewriter.propose(doc, text_rng(edit, seed)))
        except Exception as exc:  # a text the negation hook did not foresee: no positive from it
            logger.debug("negated_negatives: the negation rewriter raised on %r (%s)", edit, exc)
            continue
        for proposal in proposals:
            key = normalize(proposal.text)
            if key in seen or not proposal.detail.startswith(_ADDING) or not _in_scope(doc, proposal, changed):
                continue
            seen.add(key)
            out[i].append((proposal.text, f"negated: {detail}; {proposal.detail}"))
            if len(out[i]) >= max_per_edit:
                break
    return out


def _usable(source: str, detail: str) -> bool:
    words = set(source.lower().split())
    return not (words & _NEGATION_WORDS) and detail.split(":", 1)[0].strip() not in _UNUSED_EDITS


def _changed_tokens(source: list[str], edit) -> set[int]:
    """The token indices of ``edit`` (a Doc) that differ from ``source`` (its lower-cased tokens);
    empty when one is the head noun."""
    a, b = source, [t.lower_ for t in edit]
    changed = {j for op, _, _, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
               if op != "equal" for j in range(j1, j2)}
    if any(edit[j].dep_ == "ROOT" and edit[j].pos_ in ("NOUN", "PROPN") for j in changed):
        return set()
    return changed


def _in_scope(doc, proposal, changed: set[int]) -> bool:
    """Whether the negation covers every edited token: the negated token's subtree, or for a
    verbless fragment ("the zebra that is not on the right") the word it names."""
    if proposal.site >= len(doc):
        if ":" not in proposal.detail:
            return False
        named = set(proposal.detail.split(":", 1)[1].split())
        return {doc[j].lower_ for j in changed} == named  # "not big black" of a size edit reads as neither
    head = doc[proposal.site]
    if proposal.detail.startswith("add not") and head.pos_ == "AUX":
        head = head.head  # "is standing": the scope is the verb's clause
    return changed <= {t.i for t in head.subtree}
