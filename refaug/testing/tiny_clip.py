"""Tiny CLIP and SigLIP models with random weights, built offline, saved with their processors.

No CLIP weights can be downloaded where refaug's tests run, so the tests and the scoring
benchmark build one: text and vision towers of width 32 (two layers, two heads), 32-pixel
images in 8-pixel patches, and a lower-cased word-level tokenizer trained here with
``tokenizers`` on the synthetic scenes' expressions. The checkpoint loads with
``AutoModel.from_pretrained`` and :class:`refaug.scoring.CLIPScorer` like a hub one.

Its scores are noise: it exercises the plumbing (cropping, batching, encoding, counting) and
measures the cost of a small model, not what a trained CLIP would say.

Example:
    >>> folder = build_tiny_clip("/tmp/tiny-clip")  # doctest: +SKIP
    >>> from refaug.scoring import CLIPScorer
    >>> scorer = CLIPScorer(folder, crop="box", device="cpu")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# Tower sizes: the smallest that transformers accepts and that still runs every code path.
TINY_TOWER: dict[str, int] = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2,
                              "num_attention_heads": 2}
IMAGE_SIZE = 32
PATCH_SIZE = 8


def tokenizer_corpus(*, images: int = 30, seed: int = 3) -> list[str]:
    """The synthetic scenes' expressions the tiny tokenizers are trained on."""
    from refaug.data.synthetic import synthetic_scenes

    rows = synthetic_scenes(images, seed=seed, image_size=(64, 48))
    return [e for expressions in rows["expressions"] for e in expressions]


def word_tokenizer(corpus: list[str], *, specials: list[str], template: str, max_length: int) -> Any:
    """A lower-cased word-level ``PreTrainedTokenizerFast`` trained offline on ``corpus``.

    Args:
        corpus: the training texts.
        specials: special tokens, ``<pad>`` and ``<unk>`` first, eos last (and bos third
            when there are four).
        template: the single-sequence template, e.g. ``"<s> $A </s>"``.
        max_length: the tokenizer's ``model_max_length``.
    """
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel(unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.train_from_iterator(
        corpus, trainers.WordLevelTrainer(special_tokens=specials, show_progress=False)
    )
    backend.post_processor = processors.TemplateProcessing(
        single=template,
        special_tokens=[(t, specials.index(t)) for t in specials if t in template],
    )
    named = {"pad_token": "<pad>", "unk_token": "<unk>", "eos_token": specials[-1]}
    if len(specials) > 3:
        named["bos_token"] = specials[2]
    return PreTrainedTokenizerFast(tokenizer_object=backend, model_max_length=max_length, **named)


def build_tiny_clip(folder: str | os.PathLike, *, seed: int = 0) -> str:
    """Save a random-weight CLIP (towers of width 32) and its processor in ``folder``.

    Args:
        folder: where to save; created if missing.
        seed: the torch seed of the random weights.

    Returns:
        The folder, as a string (a checkpoint path for :class:`refaug.scoring.CLIPScorer`).
    """
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    # eos must not be id 2: CLIP treats eos_token_id == 2 as a legacy config and pools argmax.
    specials = ["<pad>", "<unk>", "<|startoftext|>", "<|endoftext|>"]
    tokenizer = word_tokenizer(tokenizer_corpus(), specials=specials, max_length=32,
                               template="<|startoftext|> $A <|endoftext|>")
    config = CLIPConfig(
        text_config={**TINY_TOWER, "vocab_size": 1000, "max_position_embeddings": 32,
                     "pad_token_id": 0, "bos_token_id": 2, "eos_token_id": 3},
        vision_config={**TINY_TOWER, "image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE},
        projection_dim=16,
    )
    torch.manual_seed(seed)
    Path(folder).mkdir(parents=True, exist_ok=True)
    CLIPModel(config).save_pretrained(folder)
    image_processor = CLIPImageProcessor(size={"shortest_edge": IMAGE_SIZE},
                                         crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return os.fspath(folder)


def build_tiny_siglip(folder: str | os.PathLike, *, seed: int = 0) -> str:
    """Save a random-weight SigLIP (towers of width 32) and its processor in ``folder``.

    Args:
        folder: where to save; created if missing.
        seed: the torch seed of the random weights.

    Returns:
        The folder, as a string.

    Raises:
        ImportError: this transformers version has no SigLIP.
    """
    import torch
    import transformers

    if not hasattr(transformers, "SiglipConfig"):
        raise ImportError(f"transformers {transformers.__version__} has no SigLIP; upgrade it")
    specials = ["<pad>", "<unk>", "</s>"]
    tokenizer = word_tokenizer(tokenizer_corpus(), specials=specials, max_length=16, template="$A </s>")
    config = transformers.SiglipConfig(
        text_config={**TINY_TOWER, "vocab_size": 1000, "max_position_embeddings": 16,
                     "pad_token_id": 0, "bos_token_id": None, "eos_token_id": 2},
        vision_config={**TINY_TOWER, "image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE},
    )
    torch.manual_seed(seed)
    Path(folder).mkdir(parents=True, exist_ok=True)
    transformers.SiglipModel(config).save_pretrained(folder)
    image_processor = transformers.SiglipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    transformers.SiglipProcessor(image_processor=image_processor,
                                 tokenizer=tokenizer).save_pretrained(folder)
    return os.fspath(folder)
