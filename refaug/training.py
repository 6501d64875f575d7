"""What a training loop needs to use the hard negatives: a loss, a curriculum and a collator.

Three pieces, each usable on its own:

- :func:`hard_negative_contrastive_loss` — InfoNCE over one positive and N hard-negative
  text embeddings per image (or region), normalised over the texts of one image, over the
  images of one text, or both.
- :class:`HardNegativeCurriculum` — the first epochs without hard negatives, then with them,
  optionally ramped in over a few epochs.
- :class:`HardNegativeCollator` — a ``torch.utils.data.DataLoader`` ``collate_fn`` that turns
  published rows (:data:`refaug.records.ROW_FEATURES`) into batches of images, boxes, one
  positive text and exactly N negative texts per row.

Example:
    One training step with toy encoders (a real loop swaps in its own image and text models):

    >>> import zlib
    >>> import torch
    >>> from torch.utils.data import DataLoader
    >>> from refaug.data.synthetic import synthetic_scenes
    >>> rows = [
    ...     dict(r, views=None, hard_negatives=[
    ...         {"text": "the purple star", "kind": "attribute", "detail": "", "origin": "",
    ...          "similarity": 0.4, "score": 0.6, "reason": "sim 0.40 < threshold 0.70"}])
    ...     for r in synthetic_scenes(2, image_size=(64, 48))
    ... ]
    >>> to_tensor = lambda im: torch.tensor(list(im.resize((8, 8)).getdata()),
    ...                                     dtype=torch.float32).flatten() / 255.0
    >>> collate = HardNegativeCollator(num_negatives=2, image_transform=to_tensor, fill="mask")
    >>> batch = next(iter(DataLoader(rows, batch_size=4, collate_fn=collate)))
    >>> batch["images"].shape, batch["negative_mask"].shape
    (torch.Size([4, 192]), torch.Size([4, 2]))
    >>> image_encoder = torch.nn.Linear(192 + 4, 16)
    >>> text_table = torch.nn.EmbeddingBag(4096, 16, mode="mean")
    >>> def embed_texts(texts):
    ...     ids = [[zlib.crc32(w.encode()) % 4096 for w in (t or "<pad>").split()] for t in texts]
    ...     offsets = torch.tensor([0] + [len(i) for i in ids[:-1]]).cumsum(0)
    ...     return text_table(torch.tensor([w for i in ids for w in i]), offsets)
    >>> z = image_encoder(torch.cat([batch["images"], batch["boxes"] / 64.0], dim=1))
    >>> texts = [[p, *n] for p, n in zip(batch["positives"], batch["negatives"])]
    >>> x = embed_texts([t for row in texts for t in row]).view(len(texts), 3, 16)
    >>> curriculum = HardNegativeCurriculum(switch_epoch=0, max_negatives=2)
    >>> mask = curriculum.mask(0, batch["negative_mask"])
    >>> loss = hard_negative_contrastive_loss(z, x, negative_mask=mask, variant="symmetric")
    >>> loss.backward()
    >>> image_encoder.weight.grad is not None and bool(torch.isfinite(loss))
    True
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, get_args

import torch
import torch.nn.functional as F
from PIL import Image

from refaug import images
from refaug.errors import DataError, check_choice
from refaug.records import Views
from refaug.text import normalize_text

logger = logging.getLogger(__name__)

LossVariant = Literal["image_to_text", "text_to_image", "symmetric"]
LOSS_VARIANTS: tuple[str, ...] = get_args(LossVariant)
Reduction = Literal["mean", "sum", "none"]
REDUCTIONS: tuple[str, ...] = get_args(Reduction)
PositiveSource = Literal["expressions", "views", "both"]
POSITIVE_SOURCES: tuple[str, ...] = get_args(PositiveSource)
FillMode = Literal["repeat", "mask"]
FILL_MODES: tuple[str, ...] = get_args(FillMode)
CurriculumRamp = Literal["both", "weight", "negatives"]
CURRICULUM_RAMPS: tuple[str, ...] = get_args(CurriculumRamp)


def _check_count(name: str, value: object) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer >= 0 (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}={value!r} must be an integer >= 0")


# --------------------------------------------------------------------------- loss


def _check_loss_inputs(
    z: torch.Tensor, x: torch.Tensor, negative_mask: torch.Tensor | None
) -> None:
    """Raise ``ValueError`` naming the shapes when ``z``, ``x`` and the mask do not fit."""
    if z.dim() != 2:
        raise ValueError(f"z must be [B, D]; got shape {tuple(z.shape)}")
    if x.dim() != 3 or x.shape[1] < 1:
        raise ValueError(
            f"x must be [B, 1+N, D] with the positive at index 0; got shape {tuple(x.shape)}"
        )
    if x.shape[0] != z.shape[0] or x.shape[2] != z.shape[1]:
        raise ValueError(
            f"x shape {tuple(x.shape)} does not fit z shape {tuple(z.shape)}: "
            f"expected [{z.shape[0]}, 1+N, {z.shape[1]}]"
        )
    if negative_mask is None:
        return
    expected = (x.shape[0], x.shape[1] - 1)
    if tuple(negative_mask.shape) != expected:
        raise ValueError(
            f"negative_mask shape {tuple(negative_mask.shape)} does not fit x shape "
            f"{tuple(x.shape)}: expected [B, N] = {list(expected)}"
        )
    if negative_mask.dtype != torch.bool:
        raise ValueError(f"negative_mask must be a bool tensor; got dtype {negative_mask.dtype}")


def _check_temperature(temperature: float | torch.Tensor) -> None:
    """A float must be > 0; a tensor must hold one value (its sign is the caller's to keep)."""
    if isinstance(temperature, torch.Tensor):
        if temperature.numel() != 1:
            raise ValueError(
                f"temperature must be a float or a one-element tensor; got shape "
                f"{tuple(temperature.shape)}"
            )
    elif not temperature > 0:
        raise ValueError(f"temperature={temperature!r} must be > 0")


def _image_to_text_terms(
    z_hat: torch.Tensor,
    x_hat: torch.Tensor,
    negative_mask: torch.Tensor | None,
    temperature: float | torch.Tensor,
) -> torch.Tensor:
    """Per-row loss ``-log softmax_k(cos(z_b, x_bk) / tau)[0]`` over the row's own 1+N texts."""
    logits = torch.einsum("bd,bkd->bk", z_hat, x_hat) / temperature
    if negative_mask is not None:
        keep = torch.cat([torch.ones_like(negative_mask[:, :1]), negative_mask], dim=1)
        logits = logits.masked_fill(~keep, float("-inf"))
    return torch.logsumexp(logits, dim=1) - logits[:, 0]


def _text_to_image_terms(
    z_hat: torch.Tensor, t_hat: torch.Tensor, temperature: float | torch.Tensor
) -> torch.Tensor:
    """Per-row loss ``-log softmax_j(cos(z_j, t_b) / tau)[b]`` over all images of the batch."""
    logits = t_hat @ z_hat.T / temperature  # [B texts, B images]
    return torch.logsumexp(logits, dim=1) - logits.diagonal()


def hard_negative_contrastive_loss(
    z: torch.Tensor, x: torch.Tensor, *, negative_mask: torch.Tensor | None = None,
    variant: LossVariant = "image_to_text", temperature: float | torch.Tensor = 0.07,
    stop_gradient_text: bool = False, reduction: Reduction = "mean",
) -> torch.Tensor:
    """InfoNCE over one positive and N hard-negative texts per image, on cosine similarities.

    Write ``s(u, v) = cos(u, v) / temperature``, ``z_b`` for the embedding of image (or
    region) ``b`` and ``x_b0, x_b1 .. x_bN`` for its positive text and its N hard negatives.
    The per-row losses are:

    - ``"image_to_text"`` (normalised over the candidate texts of one image):
      ``l_b = -log( exp s(z_b, x_b0) / sum_k exp s(z_b, x_bk) )``, the sum running over
      ``k = 0`` and every negative ``k >= 1`` whose ``negative_mask[b, k-1]`` is True. A row
      whose negatives are all masked out contributes 0 (one candidate, the positive).
    - ``"text_to_image"`` (normalised over images for one text): for the positive text
      ``t_b = x_b0`` of image ``b``, ``l_b = -log( exp s(z_b, t_b) / sum_j exp s(z_j, t_b) )``,
      ``j`` running over all B images of the batch; the target is ``b``. The hard negatives
      are texts without an image of their own, so they do not enter this direction, and
      ``negative_mask`` is ignored by it. With B = 1 the loss is 0.
    - ``"symmetric"``: ``l_b = (l_b^image_to_text + l_b^text_to_image) / 2``.

    Args:
        z: image or region embeddings, ``[B, D]``; normalised here, any scale is fine.
        x: text embeddings, ``[B, 1+N, D]``, the positive at index 0 and the hard negatives
            after it (hardest first is the published order, but any order gives the same loss).
        negative_mask: optional bool ``[B, N]``; False marks padding slots of rows with fewer
            than N negatives (see :class:`HardNegativeCollator`). Default None: all valid.
        variant: ``"image_to_text"`` (default), ``"text_to_image"`` or ``"symmetric"``.
        temperature: the softmax temperature, a positive float or a scalar tensor (e.g. a
            learnable one). Default 0.07, as in CLIP's initialisation.
        stop_gradient_text: when True, ``x`` is detached: no gradient flows into the text side
            (a frozen or slowly updated text tower). Default False.
        reduction: ``"mean"`` (default) or ``"sum"`` over rows, or ``"none"`` for the ``[B]``
            per-row losses.

    Returns:
        A scalar tensor, or ``[B]`` with ``reduction="none"``.

    Raises:
        ValueError: on an unknown ``variant`` or ``reduction``, a non-positive temperature, or
            shapes that do not fit; the message names the shapes.

    Example:
        >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
        >>> x = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])
        >>> loss = hard_negative_contrastive_loss(z, x, temperature=1.0, reduction="none")
        >>> [round(v, 4) for v in loss.tolist()]  # log(1 + e^-1)
        [0.3133, 0.3133]
    """
    check_choice("variant", variant, LOSS_VARIANTS)
    check_choice("reduction", reduction, REDUCTIONS)
    _check_temperature(temperature)
    _check_loss_inputs(z, x, negative_mask)
    if stop_gradient_text:
        x = x.detach()
    per_row = _per_row_losses(F.normalize(z, dim=-1), F.normalize(x, dim=-1), negative_mask,
                              variant=variant, temperature=temperature)
    return _reduce(per_row, reduction)


def _per_row_losses(
    z_hat: torch.Tensor, x_hat: torch.Tensor, negative_mask: torch.Tensor | None, *,
    variant: LossVariant, temperature: float | torch.Tensor,
) -> torch.Tensor:
    """The ``[B]`` per-row losses of ``variant`` (see :func:`hard_negative_contrastive_loss`)."""
    if variant == "image_to_text":
        return _image_to_text_terms(z_hat, x_hat, negative_mask, temperature)
    if variant == "text_to_image":
        return _text_to_image_terms(z_hat, x_hat[:, 0], temperature)
    return 0.5 * (
        _image_to_text_terms(z_hat, x_hat, negative_mask, temperature)
        + _text_to_image_terms(z_hat, x_hat[:, 0], temperature)
    )


def _reduce(per_row: torch.Tensor, reduction: Reduction) -> torch.Tensor:
    if reduction == "mean":
        return per_row.mean()
    if reduction == "sum":
        return per_row.sum()
    return per_row


# --------------------------------------------------------------------------- curriculum


@dataclass(frozen=True, kw_only=True)
class HardNegativeCurriculum:
    """The first epochs without hard negatives, then with them, optionally ramped in.

    Epochs count from 0. Before ``switch_epoch`` both the weight and the number of hard
    negatives are 0. From ``switch_epoch`` on, the fraction
    ``f(epoch) = min(1, (epoch - switch_epoch + 1) / (ramp_epochs + 1))`` grows linearly and is
    1 from epoch ``switch_epoch + ramp_epochs`` on; with ``ramp_epochs=0`` the switch is a step.
    ``weight(epoch)`` is ``f`` and ``num_negatives(epoch)`` is ``ceil(f * max_negatives)``
    (so at least one negative once switched on), unless ``ramp`` keeps one of them a step.

    Args:
        max_negatives: the number of hard negatives at full strength (the collator's N).
        switch_epoch: the first epoch with hard negatives. Default 1.
        ramp_epochs: how many epochs after the switch run at partial strength. Default 0.
        ramp: what ramps: ``"both"`` (default), ``"weight"`` (all negatives from the switch,
            the weight ramps) or ``"negatives"`` (weight 1 from the switch, the count ramps).

    Example:
        >>> c = HardNegativeCurriculum(switch_epoch=2, ramp_epochs=2, max_negatives=4)
        >>> [c.weight(e) for e in range(6)]
        [0.0, 0.0, 0.3333333333333333, 0.6666666666666666, 1.0, 1.0]
        >>> [c.num_negatives(e) for e in range(6)]
        [0, 0, 2, 3, 4, 4]

        In a loop, mix an in-batch loss with the hard-negative one, or mask the collator's
        fixed N columns down to the current count (same shapes every epoch):

        >>> mask = c.mask(2, torch.ones(1, 4, dtype=torch.bool))
        >>> mask.tolist()
        [[True, True, False, False]]
    """

    max_negatives: int
    switch_epoch: int = 1
    ramp_epochs: int = 0
    ramp: CurriculumRamp = "both"

    def __post_init__(self) -> None:
        for name in ("max_negatives", "switch_epoch", "ramp_epochs"):
            _check_count(name, getattr(self, name))
        check_choice("ramp", self.ramp, CURRICULUM_RAMPS)

    def _fraction(self, epoch: int) -> Fraction:
        _check_count("epoch", epoch)
        if epoch < self.switch_epoch:
            return Fraction(0)
        return min(Fraction(1), Fraction(epoch - self.switch_epoch + 1, self.ramp_epochs + 1))

    def weight(self, epoch: int) -> float:
        """The weight of the hard-negative loss at ``epoch``, in ``[0, 1]``."""
        fraction = self._fraction(epoch)
        if fraction > 0 and self.ramp == "negatives":
            return 1.0
        return float(fraction)

    def num_negatives(self, epoch: int) -> int:
        """How many hard negatives per row to use at ``epoch``, in ``[0, max_negatives]``."""
        fraction = self._fraction(epoch)
        if fraction > 0 and self.ramp == "weight":
            return self.max_negatives
        return math.ceil(fraction * self.max_negatives)

    def mask(self, epoch: int, negative_mask: torch.Tensor) -> torch.Tensor:
        """``negative_mask`` ([B, N] bool) with the columns from ``num_negatives(epoch)`` on off.

        The collator ranks negatives hardest first, so this keeps the hardest ones.
        """
        if negative_mask.dim() != 2 or negative_mask.dtype != torch.bool:
            raise ValueError(
                f"negative_mask must be a bool [B, N] tensor; got shape "
                f"{tuple(negative_mask.shape)} and dtype {negative_mask.dtype}"
            )
        columns = torch.arange(negative_mask.shape[1], device=negative_mask.device)
        return negative_mask & (columns < self.num_negatives(epoch)).unsqueeze(0)


# --------------------------------------------------------------------------- collator


def _stable_index(*, seed: int, epoch: int, key: str, size: int) -> int:
    """An index in ``[0, size)`` that depends only on its arguments (not on the process)."""
    digest = hashlib.blake2b(f"{seed}\x00{epoch}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") % size


def _unique(texts: Sequence[str | None]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for text in texts:
        if text and text.strip() and normalize_text(text) not in seen:
            seen.add(normalize_text(text))
            out.append(text)
    return out


def decode_image(value: Any, *, referent_id: str = "") -> Image.Image:
    """Open a row's ``image`` value (``{"bytes", "path"}``, bytes, a path or a PIL image) as RGB.

    The collator's use of :func:`refaug.images.decode_image`.

    Raises:
        DataError: when the row has no image.

    Example:
        >>> from refaug.data.synthetic import synthetic_scenes
        >>> decode_image(synthetic_scenes(1, image_size=(64, 48))[0]["image"]).size
        (64, 48)
    """
    return images.decode_image(value, row=referent_id or None,
                               fix="load the dataset with its images, or pass load_images=False to the collator")


class HardNegativeCollator:
    """A ``DataLoader`` ``collate_fn``: published rows -> (image, positive, N negatives) batches.

    For each row it picks one positive text, deterministically from ``(seed, epoch,
    referent_id)`` (so every epoch sees another phrasing, every run the same ones, in any
    worker process), and takes the row's top ``num_negatives`` hard negatives in their
    published order (hardest first). Negatives equal to any of the row's own texts
    (expressions or views, ignoring case and spacing) and repeated negatives are skipped:
    they would be false negatives. Rows with fewer negatives are filled by ``fill``.

    Args:
        num_negatives: N, the number of negative slots per row (>= 0).
        positive: where positives come from: ``"expressions"`` (default, the original
            texts), ``"views"`` (the multi-view cluster; rows without views fall back to their
            expressions) or ``"both"``.
        derived: also choose from the row's derived positives (``views.derived``: texts
            refaug derived that are true of the referent, e.g. "man not on left", the negation
            of a verified negative), added to the source's candidates. Default True: the
            published negatives are balanced against them (README "Blind model"), so a model
            trained without them learns "not" means negative again; False: the source's own.
            Either way a negative equal to a derived positive is skipped.
        image_transform: applied to each decoded RGB ``PIL.Image`` (e.g. a torchvision or
            processor transform). Default None: the PIL images are returned.
        load_images: decode images from their bytes or path. Default True; False returns
            ``images=None`` (for loops that embed regions elsewhere, or cached features).
        seed: the seed of the positive choice. Default 0.
        fill: ``"repeat"`` (default) cycles a row's own negatives into its empty slots and
            marks them valid (a repeated negative counts twice in the softmax); ``"mask"``
            fills them with ``""`` marked invalid. Slots of a row with no negative at all are
            always ``""`` and invalid.

    Returns (from ``__call__``):
        A dict with ``images`` (a stacked tensor when the transform returns tensors of one
        shape, otherwise a list; None when ``load_images=False``), ``boxes`` (float32
        ``[B, 4]``, ``x, y, w, h`` in pixels), ``positives`` (``list[str]``), ``negatives``
        (``list[list[str]]``, exactly N each), ``negative_kinds`` (the negatives' ``kind``,
        ``""`` for an empty slot), ``negative_mask`` (bool ``[B, N]``) and ``referent_ids``.

    Note:
        Call :meth:`set_epoch` before each epoch. DataLoader workers get a copy of the
        collator when iteration starts, so with ``persistent_workers=True`` the epoch they
        see does not change; leave that option off, or the positive stays the same.

    Example:
        >>> from refaug.data.synthetic import synthetic_scenes
        >>> rows = [dict(r, views=None, hard_negatives=[]) for r in synthetic_scenes(1)]
        >>> collate = HardNegativeCollator(num_negatives=3, fill="mask", load_images=False)
        >>> batch = collate(rows[:2])
        >>> batch["negatives"], batch["negative_mask"].tolist()
        ([['', '', ''], ['', '', '']], [[False, False, False], [False, False, False]])
    """

    def __init__(
        self,
        *,
        num_negatives: int,
        positive: PositiveSource = "expressions",
        derived: bool = True,
        image_transform: Callable[[Image.Image], Any] | None = None,
        load_images: bool = True,
        seed: int = 0,
        fill: FillMode = "repeat",
    ) -> None:
        _check_count("num_negatives", num_negatives)
        check_choice("positive", positive, POSITIVE_SOURCES)
        check_choice("fill", fill, FILL_MODES)
        self.num_negatives = num_negatives
        self.positive = positive
        self.derived = derived
        self.image_transform = image_transform
        self.load_images = load_images
        self.seed = seed
        self.fill = fill
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` in the positive choice from the next batch on."""
        _check_count("epoch", epoch)
        self.epoch = epoch

    def __repr__(self) -> str:
        return (
            f"HardNegativeCollator(num_negatives={self.num_negatives}, positive={self.positive!r}, "
            f"derived={self.derived}, load_images={self.load_images}, seed={self.seed}, fill={self.fill!r}, "
            f"epoch={self.epoch})"
        )

    def __call__(self, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
        rows = list(rows)
        if not rows:
            raise ValueError("cannot collate an empty batch: rows=[]")
        positives, negatives, kinds, masks = [], [], [], []
        for row in rows:
            own = self._own_texts(row)
            positives.append(self._choose_positive(row, own))
            texts, row_kinds, valid = self._negatives(row, own)
            negatives.append(texts)
            kinds.append(row_kinds)
            masks.append(valid)
        return {
            "images": self._images(rows) if self.load_images else None,
            "boxes": torch.tensor([list(row["bbox"]) for row in rows], dtype=torch.float32),
            "positives": positives,
            "negatives": negatives,
            "negative_kinds": kinds,
            "negative_mask": torch.tensor(masks, dtype=torch.bool).view(len(rows), -1),
            "referent_ids": [row["referent_id"] for row in rows],
        }

    def _own_texts(self, row: dict[str, Any]) -> dict[str, list[str]]:
        views = Views.from_row(row["views"]) if row.get("views") else None
        cluster = list(views.cluster) if views else []
        derived = [d.text for d in views.derived] if views else []
        return {"expressions": _unique(row.get("expressions") or []), "views": _unique(cluster),
                "derived": _unique(derived)}

    def _choose_positive(self, row: dict[str, Any], own: dict[str, list[str]]) -> str:
        if self.positive == "expressions":
            candidates = own["expressions"]
        elif self.positive == "views":
            candidates = own["views"] or own["expressions"]
            if not own["views"]:
                logger.debug(
                    "row %s has no views; positive from its expressions", row["referent_id"]
                )
        else:
            candidates = _unique(own["expressions"] + own["views"])
        if self.derived and candidates:
            candidates = _unique(candidates + own["derived"])
        if not candidates:
            raise DataError(
                f"the row has no positive text for positive={self.positive!r}",
                row=row.get("referent_id"),
                fix="drop rows without expressions or views before training",
            )
        index = _stable_index(
            seed=self.seed, epoch=self.epoch, key=str(row["referent_id"]), size=len(candidates)
        )
        return candidates[index]

    def _negatives(
        self, row: dict[str, Any], own: dict[str, list[str]]
    ) -> tuple[list[str], list[str], list[bool]]:
        seen = {normalize_text(t) for t in own["expressions"] + own["views"] + own["derived"]}
        texts: list[str] = []
        kinds: list[str] = []
        for negative in row.get("hard_negatives") or ():
            if len(texts) == self.num_negatives:
                break
            key = normalize_text(negative["text"] or "")
            if not key or key in seen:
                continue
            seen.add(key)
            texts.append(negative["text"])
            kinds.append(negative["kind"])
        real = len(texts)
        valid = [True] * real
        for slot in range(real, self.num_negatives):
            if self.fill == "repeat" and real > 0:
                texts.append(texts[slot % real])
                kinds.append(kinds[slot % real])
                valid.append(True)
            else:
                texts.append("")
                kinds.append("")
                valid.append(False)
        return texts, kinds, valid

    def _images(self, rows: Sequence[dict[str, Any]]) -> torch.Tensor | list[Any]:
        images = [decode_image(row.get("image"), referent_id=row["referent_id"]) for row in rows]
        if self.image_transform is None:
            return images
        out = [self.image_transform(image) for image in images]
        if all(isinstance(t, torch.Tensor) for t in out) and len({t.shape for t in out}) == 1:
            return torch.stack(out)
        return out
