"""A tiny LLaVA with random weights, built offline, laid out like ``llava-hf/llava-1.5-7b-hf``.

No LLaVA weights can be downloaded where refaug's tests run, so the tests build one: a
CLIP vision tower and a Llama language model of a few MB, a byte-level BPE tokenizer
trained here with ``tokenizers`` (``<unk>``, ``<s>``, ``</s>``, ``<pad>`` and an
``<image>`` token), LLaVA-1.5's chat template (``USER: <image>\\n... ASSISTANT:``) and the
processor files. Sizes respect vLLM's CPU limits (attention head size 32). The weights
are saved with the hub checkpoint's names (``language_model.model.*``,
``vision_tower.vision_model.*``), which both transformers and vLLM load.

Its answers are noise, but with JSON-schema-constrained decoding they are *valid* noise,
so every backend can be run end to end on it.

Example:
    >>> folder = build_tiny_llava("/tmp/tiny-llava")  # doctest: +SKIP
    >>> from transformers import AutoModelForImageTextToText
    >>> model = AutoModelForImageTextToText.from_pretrained(folder)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

IMAGE_TOKEN = "<image>"
SPECIAL_TOKENS: tuple[str, ...] = ("<unk>", "<s>", "</s>", "<pad>", IMAGE_TOKEN)
IMAGE_SIZE = 32
PATCH_SIZE = 8
# LLaVA-1.5's conversation format: "USER: <image>\n{prompt} ASSISTANT:".
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] != 'system' %}{{ message['role'].upper() + ': ' }}{% endif %}"
    "{% if message['content'] is string %}{{ message['content'] + ' ' }}{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' ' }}{% endfor %}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)


def tokenizer_corpus() -> list[str]:
    """Texts the tiny tokenizer is trained on: the packaged prompts, JSON answers, expressions."""
    from refaug.errors import TemplateError
    from refaug.prompts import example_variables, list_templates

    texts = []
    for template in list_templates():
        if template.packaged:
            try:
                texts.append(template.render(example_variables()))
            except TemplateError as exc:  # a template that needs other variables: leave it out
                logger.debug("tokenizer corpus: skipping %s: %s", template.full_name, exc)
    answer = {
        "r1": {"appearance": "the big red circle", "action": None,
               "spatial": "the leftmost circle", "alternative": "the circle on the left"},
    }
    texts += [json.dumps(answer), "USER: <image>\n ASSISTANT:"]
    texts += [
        f"the {size} {color} {shape} {where}"
        for size in ("big", "small")
        for color in ("red", "green", "blue", "yellow", "orange", "purple", "pink", "brown")
        for shape in ("circle", "square", "triangle", "star", "hexagon", "diamond", "person")
        for where in ("on the left", "on the right", "above the star", "below the square")
    ]
    return texts


def build_tokenizer(*, vocab_size: int = 1024):
    """A byte-level BPE ``PreTrainedTokenizerFast`` with LLaVA's special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE(unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(tokenizer_corpus(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_special_tokens={"image_token": IMAGE_TOKEN},
        padding_side="left",
        model_max_length=4096,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_processor(tokenizer):
    """A ``LlavaProcessor`` for 32x32 images in 8x8 patches (16 image tokens)."""
    from transformers import CLIPImageProcessor, LlavaProcessor

    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        do_center_crop=True,
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=CHAT_TEMPLATE,
        image_token=IMAGE_TOKEN,
    )


def build_model(tokenizer, *, seed: int = 0):
    """A ``LlavaForConditionalGeneration`` with random weights (about 1M parameters)."""
    import torch
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaForConditionalGeneration,
    )

    ids = {name: tokenizer.convert_tokens_to_ids(name) for name in SPECIAL_TOKENS}
    vision = CLIPVisionConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
        image_size=IMAGE_SIZE, patch_size=PATCH_SIZE, projection_dim=64,
    )
    text = LlamaConfig(
        hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, vocab_size=len(tokenizer), max_position_embeddings=4096,
        bos_token_id=ids["<s>"], eos_token_id=ids["</s>"], pad_token_id=ids["<pad>"],
    )
    config = LlavaConfig(
        vision_config=vision, text_config=text, image_token_index=ids[IMAGE_TOKEN],
        vision_feature_select_strategy="default", vision_feature_layer=-2,
        image_seq_length=(IMAGE_SIZE // PATCH_SIZE) ** 2,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = LlavaForConditionalGeneration(config)
    model.generation_config.bos_token_id = ids["<s>"]
    model.generation_config.eos_token_id = ids["</s>"]
    model.generation_config.pad_token_id = ids["<pad>"]
    return model.eval()


def build_tiny_llava(folder: str | os.PathLike, *, seed: int = 0, hub_layout: bool = True) -> Path:
    """Build and save the tiny LLaVA (model, tokenizer, processor) into ``folder``.

    Args:
        folder: where to save; created if missing.
        seed: the seed of the random weights.
        hub_layout: rename the weights to the hub checkpoint's layout
            (``vision_tower.vision_model.*``...), which vLLM needs (default True).

    Returns:
        The folder, ready for ``from_pretrained`` and for ``vllm.LLM(model=...)``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    processor = build_processor(tokenizer)
    model = build_model(tokenizer, seed=seed)
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    if hub_layout:
        _to_hub_layout(folder)
    logger.info("built a tiny LLaVA in %s", folder)
    return folder


def _hub_name(key: str) -> str:
    for old, new in (
        ("model.language_model.", "language_model.model."),
        ("model.vision_tower.", "vision_tower."),
        ("model.multi_modal_projector.", "multi_modal_projector."),
        ("lm_head.", "language_model.lm_head."),
    ):
        if key.startswith(old):
            key = new + key[len(old) :]
            break
    if key.startswith("vision_tower.") and not key.startswith("vision_tower.vision_model."):
        key = "vision_tower.vision_model." + key[len("vision_tower.") :]
    return key


def _to_hub_layout(folder: Path) -> None:
    from safetensors.torch import load_file, save_file

    path = folder / "model.safetensors"
    tensors = load_file(str(path))
    save_file({_hub_name(k): v.contiguous() for k, v in tensors.items()}, str(path), metadata={"format": "pt"})
