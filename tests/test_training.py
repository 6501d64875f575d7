"""The training helpers: the loss against a float64 reference, the curriculum, the collator."""

from __future__ import annotations

import dataclasses
import doctest
import math

import pytest
import torch
from datasets import Dataset
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from torch.utils.data import DataLoader

import refaug.training
from refaug.errors import DataError
from refaug.records import ROW_FEATURES
from refaug.training import (
    HardNegativeCollator,
    HardNegativeCurriculum,
    decode_image,
    hard_negative_contrastive_loss,
)

VARIANTS = ("image_to_text", "text_to_image", "symmetric")


def test_module_examples_run():
    result = doctest.testmod(refaug.training, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# --------------------------------------------------------------------------- float64 reference


def _cos(u: list[float], v: list[float]) -> float:
    dot = sum(a * b for a, b in zip(u, v))
    return dot / (math.sqrt(sum(a * a for a in u)) * math.sqrt(sum(b * b for b in v)))


def _neg_log_softmax(logits: list[float], target: int) -> float:
    top = max(logits)
    return top + math.log(sum(math.exp(v - top) for v in logits)) - logits[target]


def _reference_rows(z, x, mask, variant, tau) -> list[float]:
    """Per-row losses with plain Python loops, written from the docstring's definitions."""
    z, x = z.tolist(), x.tolist()
    B, K = len(x), len(x[0])
    i2t, t2i = [], []
    for b in range(B):
        logits = [_cos(z[b], x[b][0]) / tau]
        for k in range(1, K):
            if mask is None or bool(mask[b][k - 1]):
                logits.append(_cos(z[b], x[b][k]) / tau)
        i2t.append(_neg_log_softmax(logits, 0))
        t2i.append(_neg_log_softmax([_cos(z[j], x[b][0]) / tau for j in range(B)], b))
    if variant == "image_to_text":
        return i2t
    if variant == "text_to_image":
        return t2i
    return [(a + c) / 2 for a, c in zip(i2t, t2i)]


def _random(B: int, N: int, D: int, seed: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(B, D, generator=g, dtype=dtype)
    x = torch.randn(B, 1 + N, D, generator=g, dtype=dtype)
    mask = torch.rand(B, N, generator=g) > 0.4
    mask[0] = False  # a row with no valid negative
    if B > 1:
        mask[1] = True  # a row with all of them
    return z, x, mask


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("use_mask", [False, True])
@pytest.mark.parametrize("tau", [0.07, 0.5, 1.0])
def test_loss_matches_float64_reference(variant, use_mask, tau):
    z, x, mask = _random(5, 4, 3, seed=7)
    mask = mask if use_mask else None
    expected = _reference_rows(z, x, mask, variant, tau)
    got = hard_negative_contrastive_loss(
        z, x, negative_mask=mask, variant=variant, temperature=tau, reduction="none"
    )
    assert got.dtype == torch.float64 and got.shape == (5,)
    for a, b in zip(got.tolist(), expected):
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12)
    mean = hard_negative_contrastive_loss(
        z, x, negative_mask=mask, variant=variant, temperature=tau
    )
    total = hard_negative_contrastive_loss(
        z, x, negative_mask=mask, variant=variant, temperature=tau, reduction="sum"
    )
    assert mean.item() == pytest.approx(sum(expected) / 5, rel=1e-12)
    assert total.item() == pytest.approx(sum(expected), rel=1e-12)


def test_loss_float32_close_to_float64_reference():
    z, x, mask = _random(4, 3, 8, seed=3, dtype=torch.float32)
    expected = _reference_rows(z.double(), x.double(), mask, "symmetric", 0.07)
    got = hard_negative_contrastive_loss(
        z, x, negative_mask=mask, variant="symmetric", reduction="none"
    )
    assert got.tolist() == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_loss_is_scale_invariant_and_masked_negatives_do_not_matter():
    z, x, mask = _random(3, 4, 5, seed=11)
    base = hard_negative_contrastive_loss(z, x, negative_mask=mask, reduction="none")
    scaled = hard_negative_contrastive_loss(3.0 * z, 0.5 * x, negative_mask=mask, reduction="none")
    assert torch.allclose(base, scaled, rtol=1e-12, atol=1e-12)
    changed = x.clone()
    changed[:, 1:][~mask] = torch.randn(int((~mask).sum()), 5, dtype=torch.float64)
    again = hard_negative_contrastive_loss(z, changed, negative_mask=mask, reduction="none")
    assert torch.allclose(base, again, rtol=1e-12, atol=1e-12)
    assert base[0].item() == 0.0  # row 0 has no valid negative: only the positive


def test_loss_without_negatives_and_batch_of_one():
    z, x, _ = _random(1, 0, 4, seed=2)
    for variant in VARIANTS:
        loss = hard_negative_contrastive_loss(z, x, variant=variant)
        assert loss.item() == pytest.approx(0.0, abs=1e-12)


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradcheck(variant):
    z, x, mask = _random(3, 3, 4, seed=5)
    z.requires_grad_(True)
    x.requires_grad_(True)
    tau = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)

    def f(z, x, tau):
        return hard_negative_contrastive_loss(
            z, x, negative_mask=mask, variant=variant, temperature=tau, reduction="none"
        )

    assert torch.autograd.gradcheck(f, (z, x, tau), eps=1e-6, atol=1e-8)
    assert torch.autograd.gradgradcheck(f, (z, x, tau), eps=1e-6, atol=1e-6)


def _hand_gradients_image_to_text(z, x, mask, tau):
    """d(mean loss)/dz and d/dx from dl/dc_k = (p_k - [k=0]) / tau and the cosine's gradient."""
    B, K, D = x.shape
    gz = torch.zeros_like(z)
    gx = torch.zeros_like(x)
    for b in range(B):
        ks = [0] + [k for k in range(1, K) if mask[b, k - 1]]
        cos = {k: _cos(z[b].tolist(), x[b, k].tolist()) for k in ks}
        top = max(cos.values())
        exps = {k: math.exp((cos[k] - top) / tau) for k in ks}
        total = sum(exps.values())
        nz, z_hat = z[b].norm().item(), z[b] / z[b].norm()
        for k in ks:
            dl_dc = (exps[k] / total - (1.0 if k == 0 else 0.0)) / tau / B
            nx, x_hat = x[b, k].norm().item(), x[b, k] / x[b, k].norm()
            gz[b] += dl_dc * (x_hat - cos[k] * z_hat) / nz
            gx[b, k] += dl_dc * (z_hat - cos[k] * x_hat) / nx
    return gz, gx


def _hand_gradient_z_text_to_image(z, x, tau):
    B = z.shape[0]
    gz = torch.zeros_like(z)
    for b in range(B):
        t = x[b, 0]
        cos = [_cos(z[j].tolist(), t.tolist()) for j in range(B)]
        top = max(cos)
        exps = [math.exp((c - top) / tau) for c in cos]
        for j in range(B):
            dl_dc = (exps[j] / sum(exps) - (1.0 if j == b else 0.0)) / tau / B
            nz, z_hat = z[j].norm().item(), z[j] / z[j].norm()
            gz[j] += dl_dc * (t / t.norm() - cos[j] * z_hat) / nz
    return gz


def test_gradients_match_hand_derivation():
    z, x, mask = _random(2, 2, 3, seed=13)
    mask = torch.tensor([[True, False], [True, True]])
    tau = 0.25
    zg, xg = z.clone().requires_grad_(True), x.clone().requires_grad_(True)
    hard_negative_contrastive_loss(zg, xg, negative_mask=mask, temperature=tau).backward()
    gz, gx = _hand_gradients_image_to_text(z, x, mask, tau)
    assert torch.allclose(zg.grad, gz, atol=1e-12)
    assert torch.allclose(xg.grad, gx, atol=1e-12)
    assert torch.all(xg.grad[0, 2] == 0)  # the masked negative gets no gradient

    zg = z.clone().requires_grad_(True)
    hard_negative_contrastive_loss(zg, x, variant="text_to_image", temperature=tau).backward()
    assert torch.allclose(zg.grad, _hand_gradient_z_text_to_image(z, x, tau), atol=1e-12)


@pytest.mark.parametrize("variant", VARIANTS)
def test_stop_gradient_text(variant):
    z, x, mask = _random(3, 2, 4, seed=17)
    z.requires_grad_(True)
    x.requires_grad_(True)
    loss = hard_negative_contrastive_loss(
        z, x, negative_mask=mask, variant=variant, stop_gradient_text=True
    )
    loss.backward()
    assert x.grad is None
    assert z.grad is not None and torch.any(z.grad != 0)
    # the value does not change, only the gradient path
    plain = hard_negative_contrastive_loss(z, x, negative_mask=mask, variant=variant)
    assert loss.item() == plain.item()


def test_learnable_temperature_gets_a_gradient():
    z, x, mask = _random(3, 2, 4, seed=19)
    log_scale = torch.tensor(math.log(1 / 0.07), dtype=torch.float64, requires_grad=True)
    loss = hard_negative_contrastive_loss(z, x, negative_mask=mask, temperature=1 / log_scale.exp())
    loss.backward()
    assert log_scale.grad is not None and torch.isfinite(log_scale.grad)


# --------------------------------------------------------------------------- loss input checks


@pytest.mark.parametrize(
    ("z_shape", "x_shape", "mask_shape", "named"),
    [
        ((4,), (4, 3, 8), None, "(4,)"),
        ((4, 8), (4, 8), None, "(4, 8)"),
        ((4, 8), (3, 3, 8), None, "(3, 3, 8)"),
        ((4, 8), (4, 3, 7), None, "(4, 3, 7)"),
        ((4, 8), (4, 0, 8), None, "(4, 0, 8)"),
        ((4, 8), (4, 3, 8), (4, 3), "(4, 3)"),
        ((4, 8), (4, 3, 8), (3, 2), "(3, 2)"),
    ],
)
def test_bad_shapes_raise_naming_them(z_shape, x_shape, mask_shape, named):
    z, x = torch.zeros(z_shape), torch.zeros(x_shape)
    mask = None if mask_shape is None else torch.ones(mask_shape, dtype=torch.bool)
    with pytest.raises(ValueError) as info:
        hard_negative_contrastive_loss(z, x, negative_mask=mask)
    assert named in str(info.value)


def test_bad_options_raise_listing_choices():
    z, x, _ = _random(2, 1, 3, seed=1)
    with pytest.raises(ValueError, match="variant='both'.*'image_to_text'"):
        hard_negative_contrastive_loss(z, x, variant="both")
    with pytest.raises(ValueError, match="reduction='avg'.*'mean'"):
        hard_negative_contrastive_loss(z, x, reduction="avg")
    with pytest.raises(ValueError, match="temperature"):
        hard_negative_contrastive_loss(z, x, temperature=0.0)
    with pytest.raises(ValueError, match=r"temperature.*\(2,\)"):
        hard_negative_contrastive_loss(z, x, temperature=torch.ones(2))
    with pytest.raises(ValueError, match="bool"):
        hard_negative_contrastive_loss(z, x, negative_mask=torch.ones(2, 1))


# --------------------------------------------------------------------------- curriculum


def test_curriculum_step_at_switch():
    c = HardNegativeCurriculum(switch_epoch=3, max_negatives=5)
    assert [c.weight(e) for e in range(6)] == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert [c.num_negatives(e) for e in range(6)] == [0, 0, 0, 5, 5, 5]


def test_curriculum_defaults_switch_after_first_epoch():
    c = HardNegativeCurriculum(max_negatives=2)
    assert (c.weight(0), c.num_negatives(0)) == (0.0, 0)
    assert (c.weight(1), c.num_negatives(1)) == (1.0, 2)


def test_curriculum_switch_at_zero():
    c = HardNegativeCurriculum(switch_epoch=0, max_negatives=3)
    assert (c.weight(0), c.num_negatives(0)) == (1.0, 3)


def test_curriculum_linear_ramp_boundaries():
    c = HardNegativeCurriculum(switch_epoch=1, ramp_epochs=3, max_negatives=8)
    assert [c.weight(e) for e in range(7)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert [c.num_negatives(e) for e in range(7)] == [0, 2, 4, 6, 8, 8, 8]
    # full strength exactly at switch_epoch + ramp_epochs, not before
    assert c.weight(1 + 3 - 1) < 1.0 and c.weight(1 + 3) == 1.0


def test_curriculum_ramp_modes():
    weight_only = HardNegativeCurriculum(
        switch_epoch=1, ramp_epochs=1, max_negatives=4, ramp="weight"
    )
    assert [weight_only.weight(e) for e in range(4)] == [0.0, 0.5, 1.0, 1.0]
    assert [weight_only.num_negatives(e) for e in range(4)] == [0, 4, 4, 4]
    count_only = HardNegativeCurriculum(
        switch_epoch=1, ramp_epochs=1, max_negatives=4, ramp="negatives"
    )
    assert [count_only.weight(e) for e in range(4)] == [0.0, 1.0, 1.0, 1.0]
    assert [count_only.num_negatives(e) for e in range(4)] == [0, 2, 4, 4]


def test_curriculum_mask_keeps_the_hardest_columns():
    c = HardNegativeCurriculum(switch_epoch=1, ramp_epochs=1, max_negatives=4)
    mask = torch.tensor([[True, True, True, True], [True, False, True, False]])
    assert not c.mask(0, mask).any()
    assert c.mask(1, mask).tolist() == [[True, True, False, False], [True, False, False, False]]
    assert torch.equal(c.mask(2, mask), mask)
    with pytest.raises(ValueError, match=r"\(4,\)"):
        c.mask(1, torch.ones(4, dtype=torch.bool))


def test_curriculum_is_frozen_and_validated():
    c = HardNegativeCurriculum(max_negatives=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.switch_epoch = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        HardNegativeCurriculum(1, 0, 1)  # type: ignore[misc]
    with pytest.raises(TypeError, match="max_negatives"):
        HardNegativeCurriculum()  # type: ignore[call-arg]
    for bad in ({"switch_epoch": -1}, {"ramp_epochs": 1.5}, {"max_negatives": True}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            HardNegativeCurriculum(**{"max_negatives": 2, **bad})
    with pytest.raises(ValueError, match="ramp='linear'.*'both'"):
        HardNegativeCurriculum(max_negatives=1, ramp="linear")
    with pytest.raises(ValueError, match="epoch=-1"):
        c.weight(-1)


@given(
    switch=st.integers(0, 6),
    ramp_epochs=st.integers(0, 6),
    max_negatives=st.integers(0, 16),
    ramp=st.sampled_from(["both", "weight", "negatives"]),
)
def test_curriculum_is_monotone_and_bounded(switch, ramp_epochs, max_negatives, ramp):
    c = HardNegativeCurriculum(
        switch_epoch=switch, ramp_epochs=ramp_epochs, max_negatives=max_negatives, ramp=ramp
    )
    weights = [c.weight(e) for e in range(switch + ramp_epochs + 3)]
    counts = [c.num_negatives(e) for e in range(switch + ramp_epochs + 3)]
    assert weights == sorted(weights) and counts == sorted(counts)
    assert all(w == 0 for w in weights[:switch]) and all(n == 0 for n in counts[:switch])
    assert weights[switch] > 0 and weights[switch + ramp_epochs] == 1.0
    assert counts[switch + ramp_epochs] == max_negatives
    assert counts[switch] >= min(1, max_negatives)


# --------------------------------------------------------------------------- collator


def _negative(text: str, kind: str = "same_image", score: float = 0.5) -> dict:
    return {
        "text": text,
        "kind": kind,
        "detail": "",
        "origin": "",
        "similarity": 0.3,
        "score": score,
        "reason": "test",
    }


def _views(k: int) -> dict | None:
    if k % 3 == 0:
        return None
    return {
        "appearance": f"view appearance {k}",
        "action": None,
        "spatial": f"view spatial {k}",
        "alternative": f"view alternative {k}" if k % 2 else None,
        "source": {
            "backend": "rules",
            "model": None,
            "template": None,
            "template_version": None,
            "template_hash": None,
        },
    }


def _published_rows(image_dir=None) -> list[dict]:
    from refaug.data.synthetic import synthetic_scenes

    rows = []
    for k, row in enumerate(synthetic_scenes(3, seed=0, image_dir=image_dir)):
        own = row["expressions"][0]
        negatives = [
            _negative(f"distractor {k} rank {r}", score=1.0 - r / 10) for r in range(k % 5)
        ]
        if k == 1:  # a false negative (its own expression) and a repeat: both must be skipped
            negatives = [_negative(own.upper()), _negative("repeat me"), _negative("repeat  me")]
        rows.append(dict(row, views=_views(k), hard_negatives=negatives, num_verified=0))
    return rows


@pytest.fixture(scope="module")
def published():
    """A small published-style dataset with real PNG bytes, views and hard negatives."""
    return Dataset.from_list(_published_rows(), features=ROW_FEATURES)


def _expected_negatives(row: dict) -> list[str]:
    own = {" ".join(t.lower().split()) for t in row["expressions"]}
    if row["views"]:
        own |= {
            " ".join(v.lower().split()) for key, v in row["views"].items() if isinstance(v, str)
        }
    out, seen = [], set()
    for n in row["hard_negatives"]:
        key = " ".join(n["text"].lower().split())
        if key not in own and key not in seen:
            seen.add(key)
            out.append(n["text"])
    return out


@pytest.mark.parametrize("fill", ["repeat", "mask"])
def test_collator_through_a_dataloader(published, fill):
    N = 3
    collate = HardNegativeCollator(num_negatives=N, fill=fill)
    loader = DataLoader(published, batch_size=4, shuffle=False, collate_fn=collate)
    seen = []
    for batch in loader:
        B = len(batch["referent_ids"])
        assert batch["boxes"].shape == (B, 4) and batch["boxes"].dtype == torch.float32
        assert batch["negative_mask"].shape == (B, N) and batch["negative_mask"].dtype == torch.bool
        assert all(isinstance(im, Image.Image) and im.size == (640, 480) for im in batch["images"])
        for i, rid in enumerate(batch["referent_ids"]):
            row = published[len(seen)]
            seen.append(rid)
            assert rid == row["referent_id"]
            assert batch["boxes"][i].tolist() == pytest.approx(row["bbox"])
            assert batch["positives"][i] in row["expressions"]
            real = _expected_negatives(row)[:N]
            negatives, valid = batch["negatives"][i], batch["negative_mask"][i].tolist()
            assert len(negatives) == N and negatives[: len(real)] == real
            assert valid[: len(real)] == [True] * len(real)
            for slot in range(len(real), N):
                if fill == "repeat" and real:
                    assert negatives[slot] == real[slot % len(real)] and valid[slot]
                else:
                    assert negatives[slot] == "" and not valid[slot]
                    assert batch["negative_kinds"][i][slot] == ""
    assert seen == published["referent_id"]


def test_collator_skips_false_and_repeated_negatives(published):
    row = published[1]
    batch = HardNegativeCollator(num_negatives=3, fill="mask", load_images=False)([row])
    assert batch["negatives"] == [["repeat me", "", ""]]
    assert batch["negative_mask"].tolist() == [[True, False, False]]
    assert batch["images"] is None


def test_collator_image_transform_stacks_tensors(published):
    def to_tensor(image):
        return torch.tensor(list(image.resize((4, 3)).getdata()), dtype=torch.float32).T.reshape(
            3, 3, 4
        )

    collate = HardNegativeCollator(num_negatives=2, image_transform=to_tensor)
    batch = next(iter(DataLoader(published, batch_size=5, collate_fn=collate)))
    assert batch["images"].shape == (5, 3, 3, 4)
    # tensors of different shapes stay a list
    sizes = iter([1, 2])
    collate = HardNegativeCollator(
        num_negatives=2, image_transform=lambda im: torch.zeros(next(sizes))
    )
    images = collate([published[0], published[1]])["images"]
    assert isinstance(images, list) and [t.shape[0] for t in images] == [1, 2]


def test_collator_images_from_paths(tmp_path):
    rows = _published_rows(image_dir=tmp_path)
    assert rows[0]["image"]["bytes"] is None
    ds = Dataset.from_list(rows, features=ROW_FEATURES)
    batch = HardNegativeCollator(num_negatives=1)([ds[0], ds[1]])
    assert [im.size for im in batch["images"]] == [(640, 480), (640, 480)]


def test_collator_missing_image_says_which_row(published):
    row = dict(published[0], image=None)
    with pytest.raises(DataError, match=row["referent_id"]) as info:
        HardNegativeCollator(num_negatives=1)([row])
    assert "load_images=False" in str(info.value)
    assert HardNegativeCollator(num_negatives=1, load_images=False)([row])["images"] is None


def test_positive_choice_is_deterministic_and_varies_with_epoch_and_seed(published):
    rows = list(published)

    def positives(seed=0, epoch=0, positive="both"):
        collate = HardNegativeCollator(
            num_negatives=1, positive=positive, seed=seed, load_images=False
        )
        collate.set_epoch(epoch)
        return collate(rows)["positives"]

    assert positives() == positives()
    assert positives(epoch=1) != positives(epoch=0)
    assert positives(seed=1) != positives(seed=0)
    epochs = {positives(epoch=e)[2] for e in range(20)}
    assert len(epochs) > 1  # row 2 has several candidates and sees more than one of them


def test_positive_sources(published):
    rows = list(published)
    for positive in ("expressions", "views", "both"):
        collate = HardNegativeCollator(num_negatives=0, positive=positive, load_images=False)
        for epoch in range(4):
            collate.set_epoch(epoch)
            batch = collate(rows)
            assert batch["negative_mask"].shape == (len(rows), 0)
            for row, text in zip(rows, batch["positives"]):
                cluster = [v for v in (row["views"] or {}).values() if isinstance(v, str)]
                if positive == "expressions":
                    assert text in row["expressions"]
                elif positive == "views":
                    # rows without views fall back to their expressions
                    assert text in (cluster or row["expressions"])
                else:
                    assert text in row["expressions"] + cluster


def test_collator_with_a_worker_process(published):
    collate = HardNegativeCollator(num_negatives=2, load_images=False)
    collate.set_epoch(3)
    in_process = [b["positives"] for b in DataLoader(published, batch_size=4, collate_fn=collate)]
    loader = DataLoader(published, batch_size=4, collate_fn=collate, num_workers=1)
    assert [b["positives"] for b in loader] == in_process


def test_collator_rejects_bad_options():
    with pytest.raises(ValueError, match="fill='pad'.*'mask'.*'repeat'"):
        HardNegativeCollator(num_negatives=1, fill="pad")
    with pytest.raises(ValueError, match="positive='cluster'.*'views'"):
        HardNegativeCollator(num_negatives=1, positive="cluster")
    with pytest.raises(ValueError, match="num_negatives=-1"):
        HardNegativeCollator(num_negatives=-1)
    with pytest.raises(TypeError):
        HardNegativeCollator(2)  # type: ignore[misc]
    with pytest.raises(ValueError, match="epoch"):
        HardNegativeCollator(num_negatives=1).set_epoch(-2)
    with pytest.raises(ValueError, match="empty batch"):
        HardNegativeCollator(num_negatives=1)([])
    row = {
        "referent_id": "r",
        "bbox": [0, 0, 1, 1],
        "expressions": [],
        "views": None,
        "hard_negatives": [],
    }
    with pytest.raises(DataError, match="no positive text"):
        HardNegativeCollator(num_negatives=1, load_images=False)([row])


def test_decode_image_accepts_every_row_form(published, tmp_path):
    value = published[0]["image"]
    image = decode_image(value)
    path = tmp_path / "a.png"
    image.save(path)
    for form in (value["bytes"], str(path), {"bytes": None, "path": str(path)}, image):
        assert decode_image(form).size == (640, 480)


# --------------------------------------------------------------------------- one training step


def test_one_training_step_end_to_end(published):
    torch.manual_seed(0)
    N, D = 3, 8
    curriculum = HardNegativeCurriculum(switch_epoch=1, ramp_epochs=1, max_negatives=N)
    collate = HardNegativeCollator(
        num_negatives=N,
        positive="both",
        image_transform=lambda im: (
            torch.tensor(im.resize((2, 2)).getdata(), dtype=torch.float32).flatten() / 255
        ),
        fill="mask",
    )
    image_encoder = torch.nn.Linear(12 + 4, D)
    vocabulary: dict[str, int] = {}
    text_table = torch.nn.Embedding(256, D)

    def embed(texts):
        ids = [
            [vocabulary.setdefault(w, len(vocabulary) % 256) for w in t.split()] or [0]
            for t in texts
        ]
        return torch.stack([text_table(torch.tensor(i)).mean(0) for i in ids])

    optimiser = torch.optim.SGD([*image_encoder.parameters(), *text_table.parameters()], lr=0.1)
    loader = DataLoader(published, batch_size=6, collate_fn=collate)
    for epoch in range(3):
        collate.set_epoch(epoch)
        for batch in loader:
            z = image_encoder(torch.cat([batch["images"], batch["boxes"] / 640], dim=1))
            texts = [t for p, n in zip(batch["positives"], batch["negatives"]) for t in (p, *n)]
            x = embed(texts).view(len(batch["positives"]), 1 + N, D)
            mask = curriculum.mask(epoch, batch["negative_mask"])
            loss = curriculum.weight(epoch) * hard_negative_contrastive_loss(
                z, x, negative_mask=mask, variant="image_to_text"
            ) + hard_negative_contrastive_loss(z, x, variant="text_to_image")
            optimiser.zero_grad()
            loss.backward()
            assert torch.isfinite(loss)
            assert all(torch.isfinite(p.grad).all() for p in image_encoder.parameters())
            optimiser.step()


def test_derived_positives_are_chosen_by_default_and_never_negatives(published):
    row = dict(published[2])
    derived = "a man not on the left"
    row["views"] = {**row["views"], "derived": [{"text": derived, "kind": "negated_negative",
                                                 "detail": "negated: spatial: right -> left; add not: on",
                                                 "origin": "a man on the left"}]}
    row["hard_negatives"] = [_negative("A man NOT on the left"), _negative("a dog on the left")]
    chosen = {}
    for flag in (True, False):
        collate = HardNegativeCollator(num_negatives=2, fill="mask", load_images=False, derived=flag)
        picks = set()
        for epoch in range(40):
            collate.set_epoch(epoch)
            batch = collate([row])
            picks.add(batch["positives"][0])
            # the derived positive is true of the referent: never one of its negatives, flag or not
            assert batch["negatives"] == [["a dog on the left", ""]]
        chosen[flag] = picks
    assert derived in chosen[True] and chosen[True] - {derived} <= set(row["expressions"])
    assert chosen[False] <= set(row["expressions"])
    assert "derived=True" in repr(HardNegativeCollator(num_negatives=1))
