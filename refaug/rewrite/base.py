"""The rewriter base class: parse once, one hook per rewriter, bookkeeping and provenance.

A rewriter is one subclass with one hook, :meth:`Rewriter.propose`, that looks at a parsed
``Doc`` and yields :class:`Proposal` objects. The base class does everything else: it
checks the input, parses all texts with one ``nlp.pipe`` call (or takes pre-parsed
Docs), drops proposals that equal the input or repeat one another, caps the number per
text, and stamps ``kind``, ``detail`` and ``origin`` on each :class:`Candidate`. A hook
that raises on one text costs that text its candidates, and nothing else: the text, the
rewriter and the exception are logged once, and the text is counted in
:attr:`Rewriter.failed_texts`.

Example:
    >>> from refaug.rewrite import NegationRewriter
    >>> rw = NegationRewriter()
    >>> [c.text for c in rw(["man holding an umbrella"])[0]]  # doctest: +SKIP
    ['man not holding an umbrella']
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar, NamedTuple

from spacy.language import Language
from spacy.tokens import Doc

from refaug.nlp import load_nlp
from refaug.records import Candidate
from refaug.text import normalize_text

logger = logging.getLogger(__name__)

# Parsing components the rewriters never read; disabling them is about 15% faster
# (benchmarks/rewrite.py, "disable" rows).
DEFAULT_DISABLE: tuple[str, ...] = ("ner",)


class Proposal(NamedTuple):
    """One rewrite proposed by a hook: the new text, what changed, and where (a token index)."""

    text: str
    detail: str
    site: int = 0


def normalize(text: str) -> str:
    """The form two texts are compared in (:func:`refaug.text.normalize_text`, the one "same text" key)."""
    return normalize_text(text)


def text_rng(text: str, seed: int) -> random.Random:
    """A generator derived from ``text`` and ``seed`` only (stable across processes and runs)."""
    digest = hashlib.blake2b(f"{seed}\x00{text}".encode("utf-8", "surrogatepass"), digest_size=8)
    return random.Random(int.from_bytes(digest.digest(), "big"))


def check_texts(texts: object) -> list[str | Doc]:
    """``texts`` as a list, or a ``TypeError`` naming the first item that is neither str nor Doc."""
    if isinstance(texts, (str, Doc)):
        raise TypeError("texts must be a list of strings (or spaCy Docs), not a single string")
    try:
        items = list(texts)  # type: ignore[call-overload]
    except TypeError as exc:
        raise TypeError(f"texts must be a list of strings, got {type(texts).__name__}") from exc
    for position, item in enumerate(items):
        if not isinstance(item, (str, Doc)):
            raise TypeError(
                f"texts[{position}] is {type(item).__name__} ({item!r:.40}); "
                "every item must be a str (or a parsed spaCy Doc)"
            )
    return items


class Rewriter(ABC):
    """Base class of the spaCy rewriters.

    Args:
        max_per_text: the most candidates kept per text (None keeps all). When a text has
            more, they are taken round-robin over edit sites, in an order drawn from the
            text's own generator, so every site is represented before any repeats.
        seed: seeds the per-text generators (see :func:`text_rng`).
        spacy_model: the spaCy package or path; None uses :func:`refaug.nlp.load_nlp`'s default.
        disable: pipeline components not to run (the rewriters need tagger, parser,
            attribute_ruler and lemmatizer).
        batch_size: ``nlp.pipe`` batch size.
        n_process: ``nlp.pipe`` processes (1 runs in this process).

    Subclasses set ``kind`` and implement :meth:`propose`.
    """

    kind: ClassVar[str] = ""

    def __init__(
        self,
        *,
        max_per_text: int | None = 8,
        seed: int = 0,
        spacy_model: str | None = None,
        disable: Sequence[str] = DEFAULT_DISABLE,
        batch_size: int = 256,
        n_process: int = 1,
    ) -> None:
        if max_per_text is not None and max_per_text < 1:
            raise ValueError(f"max_per_text={max_per_text!r} must be a positive integer or None")
        if batch_size < 1 or n_process < 1:
            raise ValueError(f"batch_size={batch_size!r} and n_process={n_process!r} must be >= 1")
        self.max_per_text = max_per_text
        self.seed = int(seed)
        self.spacy_model = spacy_model
        self.disable = tuple(disable)
        self.batch_size = int(batch_size)
        self.n_process = int(n_process)
        self._nlp: Language | None = None
        self._failed: dict[str, str] = {}

    # ------------------------------------------------------------------ the hook
    @abstractmethod
    def propose(self, doc: Doc, rng: random.Random) -> Iterable[Proposal]:
        """Yield the rewrites of one parsed text (nothing when the rewriter does not apply)."""

    # ------------------------------------------------------------------ the loop
    @property
    def nlp(self) -> Language:
        """The spaCy pipeline, loaded on first use (shared per process through ``load_nlp``)."""
        if self._nlp is None:
            self._nlp = load_nlp(self.spacy_model, disable=self.disable)
        return self._nlp

    def parse(self, texts: Sequence[str]) -> list[Doc]:
        """Parse ``texts`` with one ``nlp.pipe`` call."""
        return list(self.nlp.pipe(texts, batch_size=self.batch_size, n_process=self.n_process))

    def __call__(self, texts: Sequence[str] | Sequence[Doc]) -> list[list[Candidate]]:
        """Rewrite every text; one list of candidates per input, empty where nothing applies.

        Args:
            texts: strings, or Docs parsed by a pipeline with a tagger, parser and lemmatizer.

        Raises:
            TypeError: an item is neither a str nor a Doc (the message names its position).
        """
        return self.rewrite_docs(self.parse_all(check_texts(texts)))

    def parse_all(self, items: list[str | Doc]) -> list[Doc]:
        """Docs for a checked list of strings and Docs; the strings parsed in one batch."""
        docs = list(items)
        to_parse = [i for i, item in enumerate(items) if isinstance(item, str)]
        parsed = self.parse([items[i] for i in to_parse])  # type: ignore[misc]
        for i, doc in zip(to_parse, parsed, strict=True):
            docs[i] = doc
        return docs  # type: ignore[return-value]

    def rewrite_docs(self, docs: Sequence[Doc]) -> list[list[Candidate]]:
        """Rewrite pre-parsed Docs (the part of :meth:`__call__` after parsing)."""
        return [self.rewrite_doc(doc) for doc in docs]

    def rewrite_doc(self, doc: Doc) -> list[Candidate]:
        """The candidates of one parsed text: deduplicated, changed, capped and stamped.

        A hook that raises on this text gives it no candidates (see :attr:`failed_texts`);
        the other texts of the batch are not affected.
        """
        source = doc.text
        if not source.strip():
            return []
        rng = text_rng(source, self.seed)
        try:
            chosen = self._cap(self._distinct(doc, rng), rng)
        except Exception as exc:  # one text the hook did not foresee must not fail its batch
            self._record_failure(source, exc)
            return []
        return [
            Candidate(text=p.text, kind=self.kind, detail=p.detail, origin=source) for p in chosen
        ]

    def _distinct(self, doc: Doc, rng: random.Random) -> list[Proposal]:
        """The hook's proposals that differ from the text and from one another, in order."""
        seen = {normalize(doc.text)}
        kept: list[Proposal] = []
        for proposal in self._bounded(self.propose(doc, rng)):
            key = normalize(proposal.text)
            if key and key not in seen:
                seen.add(key)
                kept.append(proposal)
        return kept

    def _bounded(self, proposals: Iterable[Proposal]) -> Iterator[Proposal]:
        # Stops runaway hooks on very long texts: far more than the cap is never needed.
        limit = None if self.max_per_text is None else 8 * self.max_per_text
        return itertools.islice(proposals, limit)

    # ------------------------------------------------------------------ failures
    @property
    def failed_texts(self) -> int:
        """Distinct texts on which the hook raised, since this instance was built or unpickled.

        Each such text got no candidates and was logged once (a warning naming the text,
        the rewriter and the exception); :meth:`failures` lists them. The count lives
        outside the pickled state, so it never changes the datasets fingerprint.

        Example:
            >>> rw = NegationRewriter()  # doctest: +SKIP
            >>> _ = rw(["man holding an umbrella"]); rw.failed_texts  # doctest: +SKIP
            0
        """
        return len(self._failed)

    def failures(self) -> dict[str, str]:
        """Each text the hook raised on, with its exception (``"TypeName: message"``)."""
        return dict(self._failed)

    def _record_failure(self, source: str, exc: Exception) -> None:
        if source in self._failed:
            return  # logged and counted the first time
        self._failed[source] = f"{type(exc).__name__}: {exc}"
        logger.warning(
            "%s raised on %.200r, which gets no candidates: %s (please report the text)",
            type(self).__name__,
            source,
            self._failed[source],
        )

    def _cap(self, proposals: list[Proposal], rng: random.Random) -> list[Proposal]:
        if self.max_per_text is None or len(proposals) <= self.max_per_text:
            return proposals
        by_site: dict[int, list[Proposal]] = {}
        for proposal in proposals:
            by_site.setdefault(proposal.site, []).append(proposal)
        queues = list(by_site.values())
        rng.shuffle(queues)
        chosen: set[int] = set()
        while len(chosen) < self.max_per_text:
            for queue in queues:
                if queue and len(chosen) < self.max_per_text:
                    chosen.add(id(queue.pop(0)))
        return [p for p in proposals if id(p) in chosen]

    # ------------------------------------------------------------------ hashing
    def config(self) -> dict[str, Any]:
        """The options that change the output (what the datasets fingerprint hashes)."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __getstate__(self) -> dict[str, Any]:
        # The loaded pipeline stays out of pickles and datasets fingerprints.
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._nlp = None
        self._failed = {}

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({options})"
