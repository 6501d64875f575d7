"""The filter's cheap first stage: does a generated text say anything in words no person used?

The language model costs tens of milliseconds a text on a CPU. Most rewrites put words side
by side that the run's own human expressions already put side by side ("man in *blue*
shirt", "*dog* lying"), and the model rarely finds those much less likely than their source.
So a generated text goes to the model only when it holds a word bigram (with the text's start
and end as words) that none of the run's human expressions holds: "person *not standing*",
"the *yellow person*", a text cut short after "holding". The share of texts that pass
unscored, and how many of the model's drops that gate would miss, are measured in
``benchmarks/blind_model.py`` (README "Plausibility filter").

Example:
    >>> seen = AttestedBigrams.from_texts(["the man in blue shirt", "a dog lying on the couch"])
    >>> seen.novel("the man in blue shirt"), seen.novel("the man lying")
    (False, True)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from refaug.text import normalize_text

BOUNDARY = "<s>"


def bigrams(text: str) -> set[tuple[str, str]]:
    """The word bigrams of the normalised text, its start and end included."""
    words = [BOUNDARY, *normalize_text(text).split(), BOUNDARY]
    return set(zip(words, words[1:]))


@dataclass
class AttestedBigrams:
    """The bigrams the run's human expressions use (:func:`bigrams`)."""

    seen: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> AttestedBigrams:
        seen: set[tuple[str, str]] = set()
        for text in texts:
            seen |= bigrams(text)
        return cls(seen)

    def novel(self, text: str) -> bool:
        """True when the text holds a bigram no human expression holds."""
        return not bigrams(text) <= self.seen
