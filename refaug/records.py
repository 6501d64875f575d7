"""The core records and their one canonical ``datasets.Features`` schema.

A row of a published refaug dataset is a :class:`Referent` plus its :class:`Views` plus a
list of :class:`HardNegative`. Every record converts to a plain row (``to_row``) and back
(``from_row``) without loss, so the same values flow through ``Dataset.map`` and Python.

Example:
    >>> r = Referent(referent_id="refcoco-unc-1", image_id=9, ann_id=3, ref_id=1,
    ...              category="person", supercategory="person", bbox=(1.0, 2.0, 30.0, 40.0),
    ...              image=None, expressions=("left lady",), split="train")
    >>> Referent.from_row(r.to_row()) == r
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, get_args

from datasets import Features, Image, List, Value

CandidateKind = Literal[
    "same_image",
    "cross_image",
    "same_class",
    "attribute",
    "negation",
    "role_reversal",
    "type",
    "state",
    "llm_proposal",
    "no_target",
]
CANDIDATE_KINDS: tuple[str, ...] = get_args(CandidateKind)

Verification = Literal["same_image", "edit", "conflict", "conflict_view", "category", "none"]
"""Why a kept negative is known not to be the referent (:attr:`HardNegative.verified_by`):

- ``same_image``: an expression of another annotated object of the referent's image;
- ``edit``: a rewrite of one of the referent's own (human) expressions whose edit the parse
  states as a conflict with them;
- ``conflict``: a stated conflict with the referent's human expressions (named as in
  :meth:`refaug.clusters.ClusterClassifier.explain`);
- ``conflict_view``: a stated conflict with the machine-written views only (a wrong view makes
  a wrong negative);
- ``category``: an expression of an object of another dataset category;
- ``none``: nothing proves it (kept only when mining does not require verification).
"""
VERIFICATIONS: tuple[str, ...] = get_args(Verification)
UNVERIFIED = "none"

PERSPECTIVES: tuple[str, ...] = ("appearance", "action", "spatial")
VIEW_FIELDS: tuple[str, ...] = (*PERSPECTIVES, "alternative")
"""The text fields of :class:`Views`, in cluster order."""


def _image_to_row(image: str | bytes | None) -> dict[str, Any] | None:
    if image is None:
        return None
    if isinstance(image, bytes):
        return {"bytes": image, "path": None}
    return {"bytes": None, "path": str(image)}


def _image_from_row(value: Any) -> str | bytes | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, dict):
        if value.get("bytes") is not None:
            return value["bytes"]
        return value.get("path")
    # A decoded PIL image (the user cast the column to Image(decode=True)).
    filename = getattr(value, "filename", None)
    return filename or None


@dataclass(frozen=True)
class Referent:
    """One object in one image, with its original short expressions.

    Args:
        referent_id: stable string id, unique within a dataset (e.g. ``refcoco-unc-1234``).
        image_id: the image's id (COCO image id for RefCOCO and kin).
        ann_id: the annotation id of the object in ``instances.json``.
        ref_id: the refer toolkit's ref id.
        category: the object category name (``"person"``).
        supercategory: the category's supercategory (``"person"``).
        bbox: ``(x, y, w, h)`` in pixels.
        image: a file path, encoded image bytes, or None.
        expressions: the original expressions.
        split: the split the referent belongs to (``"train"``, ``"val"``, ``"testA"``...).
    """

    referent_id: str
    image_id: int
    ann_id: int
    ref_id: int
    category: str
    supercategory: str
    bbox: tuple[float, float, float, float]
    image: str | bytes | None
    expressions: tuple[str, ...]
    split: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "bbox", tuple(float(v) for v in self.bbox))
        object.__setattr__(self, "expressions", tuple(self.expressions))

    def to_row(self) -> dict[str, Any]:
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["bbox"] = list(self.bbox)
        row["expressions"] = list(self.expressions)
        row["image"] = _image_to_row(self.image)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Referent:
        return cls(
            referent_id=row["referent_id"],
            image_id=int(row["image_id"]),
            ann_id=int(row["ann_id"]),
            ref_id=int(row["ref_id"]),
            category=row["category"],
            supercategory=row["supercategory"],
            bbox=tuple(row["bbox"]),
            image=_image_from_row(row.get("image")),
            expressions=tuple(row["expressions"]),
            split=row["split"],
        )


@dataclass(frozen=True)
class ViewSource:
    """Where a set of views came from: backend, model and prompt template."""

    backend: str
    model: str | None = None
    template: str | None = None
    template_version: str | None = None
    template_hash: str | None = None

    def to_row(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> ViewSource:
        return cls(**{f.name: row.get(f.name) for f in fields(cls)})


@dataclass(frozen=True)
class DerivedPositive:
    """A text true of the referent that refaug derived, with its provenance.

    Args:
        text: the expression.
        kind: how it was made, e.g. ``"negated_negative"``: a verified negative of the
            referent, negated where it was edited ("man on left" -> "man not on left").
        detail: a human-readable account of the derivation.
        origin: the text it was derived from (the negative).
    """

    text: str
    kind: str
    detail: str = ""
    origin: str = ""

    def to_row(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DerivedPositive:
        return cls(**{f.name: row.get(f.name) or "" for f in fields(cls)})


@dataclass(frozen=True)
class Views:
    """The multi-view expressions of one referent.

    Args:
        appearance: colour, shape, texture, clothing.
        action: what the object does or interacts with; None when not applicable.
        spatial: position, relation to other objects or the background.
        alternative: an extra expression from an applicable perspective, written when
            one perspective does not apply; None otherwise.
        source: the backend, model and template that wrote the views.
        derived: extra positives refaug derived from the referent's own data (not members of
            the cluster): each a :class:`DerivedPositive`, e.g. the negation of a verified
            negative, kind ``"negated_negative"`` (:mod:`refaug.plausibility.negated`). Empty
            in rows written before the field.
    """

    appearance: str | None
    action: str | None
    spatial: str | None
    alternative: str | None = None
    source: ViewSource = field(default_factory=lambda: ViewSource(backend="unknown"))
    derived: tuple[DerivedPositive, ...] = ()

    @property
    def cluster(self) -> tuple[str, ...]:
        """The member texts in a fixed order: appearance, action, spatial, alternative."""
        texts = (self.appearance, self.action, self.spatial, self.alternative)
        return tuple(t for t in texts if t)

    def to_row(self) -> dict[str, Any]:
        return {
            "appearance": self.appearance,
            "action": self.action,
            "spatial": self.spatial,
            "alternative": self.alternative,
            "source": self.source.to_row(),
            "derived": [d.to_row() for d in self.derived],
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Views:
        source = row.get("source")
        return cls(
            appearance=row.get("appearance"),
            action=row.get("action"),
            spatial=row.get("spatial"),
            alternative=row.get("alternative"),
            source=ViewSource.from_row(source) if source else ViewSource(backend="unknown"),
            derived=tuple(DerivedPositive.from_row(d) for d in row.get("derived") or ()),
        )


@dataclass(frozen=True)
class Candidate:
    """A possible negative for one referent.

    Args:
        text: the candidate expression.
        kind: where it came from; one of :data:`CANDIDATE_KINDS`.
        detail: a human-readable account, e.g. ``"color: red -> blue"``.
        origin: the referent id or expression it was derived from.
    """

    text: str
    kind: str
    detail: str = ""
    origin: str = ""

    def __post_init__(self) -> None:
        if self.kind not in CANDIDATE_KINDS:
            valid = ", ".join(CANDIDATE_KINDS)
            raise ValueError(f"Candidate kind={self.kind!r} is not valid; choose one of {valid}")

    def to_row(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Candidate:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


@dataclass(frozen=True)
class HardNegative:
    """A judged candidate that was kept as a negative.

    Args:
        text, kind, detail, origin: as in :class:`Candidate`.
        similarity: cosine similarity to the referent's cluster centroid.
        score: the ranking score actually used (higher is harder).
        reason: why it was kept, e.g. ``"sim 0.62 < threshold 0.70"``.
        score_parts: the components of ``score`` (:data:`SCORE_PARTS`): ``similarity``,
            ``uncertainty`` (how close the user's model scored it to the positives),
            ``diversity`` (mean distance to the referent's other chosen negatives) and
            ``model_score`` (the model's raw score); None where a part was not computed.
        verified_by: what proves it is not the referent, one of :data:`VERIFICATIONS`
            (default ``"none"``).
        plausibility: for a generated text, the plausibility filter's language-model score
            relative to the text it came from (nats per token; 0: as likely as its source,
            :mod:`refaug.plausibility`); None where not scored (human texts, filter off).
    """

    text: str
    kind: str
    detail: str
    origin: str
    similarity: float
    score: float
    reason: str
    score_parts: dict[str, float | None] | None = None
    verified_by: str = UNVERIFIED
    plausibility: float | None = None

    def __post_init__(self) -> None:
        if self.verified_by not in VERIFICATIONS:
            valid = ", ".join(VERIFICATIONS)
            raise ValueError(f"HardNegative verified_by={self.verified_by!r} is not valid; choose one of {valid}")

    @classmethod
    def from_candidate(
        cls, candidate: Candidate, *, similarity: float, score: float, reason: str,
        score_parts: dict[str, float | None] | None = None, verified_by: str = UNVERIFIED,
        plausibility: float | None = None,
    ) -> HardNegative:
        return cls(
            text=candidate.text,
            kind=candidate.kind,
            detail=candidate.detail,
            origin=candidate.origin,
            similarity=float(similarity),
            score=float(score),
            reason=reason,
            score_parts=score_parts,
            verified_by=verified_by,
            plausibility=plausibility,
        )

    @property
    def candidate(self) -> Candidate:
        return Candidate(text=self.text, kind=self.kind, detail=self.detail, origin=self.origin)

    def to_row(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> HardNegative:
        values = {f.name: row.get(f.name) for f in fields(cls)}
        values["similarity"] = float(values["similarity"])
        values["score"] = float(values["score"])
        values["verified_by"] = values["verified_by"] or UNVERIFIED  # rows written before the field
        return cls(**values)


# --------------------------------------------------------------------------- features

VIEW_SOURCE_FEATURE = {
    "backend": Value("string"),
    "model": Value("string"),
    "template": Value("string"),
    "template_version": Value("string"),
    "template_hash": Value("string"),
}

DERIVED_POSITIVE_FEATURE = {
    "text": Value("string"),
    "kind": Value("string"),
    "detail": Value("string"),
    "origin": Value("string"),
}

VIEWS_FEATURE = {
    "appearance": Value("string"),
    "action": Value("string"),
    "spatial": Value("string"),
    "alternative": Value("string"),
    "source": VIEW_SOURCE_FEATURE,
    # extra positives refaug derived (Views.derived); null in rows written before the field
    "derived": List(DERIVED_POSITIVE_FEATURE),
}

CANDIDATE_FEATURE = {
    "text": Value("string"),
    "kind": Value("string"),
    "detail": Value("string"),
    "origin": Value("string"),
}

# The components of a hard negative's ranking score (HardNegative.score_parts).
SCORE_PARTS: tuple[str, ...] = ("similarity", "uncertainty", "diversity", "model_score")

HARD_NEGATIVE_FEATURE = {
    **CANDIDATE_FEATURE,
    "similarity": Value("float32"),
    "score": Value("float32"),
    "reason": Value("string"),
    "score_parts": {part: Value("float32") for part in SCORE_PARTS},
    "verified_by": Value("string"),
    # the plausibility filter's relative LM score (refaug.plausibility); null where not scored
    "plausibility": Value("float32"),
}

# An image-level no-target expression (refaug.mining.no_target): a text that describes no annotated
# object of the image. ``kind`` is the kind of the candidate it was made from (a rewriter's, or
# ``cross_image`` for another image's expression), ``similarity`` its highest centroid cosine to
# one of the image's objects, ``verified_by`` the weakest of the proofs against each object.
NO_TARGET_EXTRA_FEATURES = {
    "kind": Value("string"),
    "detail": Value("string"),
    "origin": Value("string"),
    "verified_by": Value("string"),
    "similarity": Value("float32"),
    "reason": Value("string"),
}
# The per-referent column ``no_target``: the image's no-target expressions anchored at this object
# (the one a rewrite was made from, or the most similar one), ``rank`` within the image (0 first).
NO_TARGET_FEATURE = {"text": Value("string"), **NO_TARGET_EXTRA_FEATURES, "rank": Value("int32")}

REFERENT_FEATURES = Features(
    {
        "referent_id": Value("string"),
        "image_id": Value("int64"),
        "ann_id": Value("int64"),
        "ref_id": Value("int64"),
        "category": Value("string"),
        "supercategory": Value("string"),
        "bbox": List(Value("float32"), length=4),
        "image": Image(decode=False),
        "expressions": List(Value("string")),
        "split": Value("string"),
    }
)

ROW_FEATURES = Features(
    {
        **REFERENT_FEATURES,
        "views": VIEWS_FEATURE,
        "hard_negatives": List(HARD_NEGATIVE_FEATURE),
        # how many of the row's hard negatives are verified (verified_by other than "none")
        "num_verified": Value("int32"),
    }
)


def referent_features() -> Features:
    """A fresh copy of the canonical referent schema."""
    return Features(dict(REFERENT_FEATURES))


def row_features() -> Features:
    """A fresh copy of the canonical published-row schema (referent + views + negatives)."""
    return Features(dict(ROW_FEATURES))


@dataclass(frozen=True)
class Row:
    """One published row: a referent, its views (None when generation failed) and its negatives."""

    referent: Referent
    views: Views | None = None
    hard_negatives: tuple[HardNegative, ...] = ()

    def to_row(self) -> dict[str, Any]:
        row = self.referent.to_row()
        row["views"] = self.views.to_row() if self.views is not None else None
        row["hard_negatives"] = [n.to_row() for n in self.hard_negatives]
        row["num_verified"] = self.num_verified
        return row

    @property
    def num_verified(self) -> int:
        """How many of the hard negatives something proves (``verified_by`` other than ``"none"``)."""
        return sum(n.verified_by != UNVERIFIED for n in self.hard_negatives)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Row:
        views = row.get("views")
        return cls(
            referent=Referent.from_row(row),
            views=Views.from_row(views) if views else None,
            hard_negatives=tuple(HardNegative.from_row(n) for n in row.get("hard_negatives") or ()),
        )

    def with_views(self, views: Views | None) -> Row:
        return replace(self, views=views)
