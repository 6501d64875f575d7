"""Real trainers as clients of what refaug publishes.

- sentence-transformers' ``SentenceTransformerTrainer`` with ``MultipleNegativesRankingLoss``
  trains on the ``triplet`` and ``n-tuple`` datasets exactly as ``refaug mine --format``
  saves them (no column renamed, none dropped), on a tiny BERT built from a config with the
  packaged all-MiniLM-L6-v2's tokenizer;
- a PyTorch ``DataLoader`` over a refer export, with ``HardNegativeCollator``, feeds
  ``hard_negative_contrastive_loss``: the README's snippet, run as written.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from datasets import load_from_disk

from refaug.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"
NUM_NEGATIVES = 3


@pytest.fixture(scope="session")
def tiny_sentence_transformer_folder(tmp_path_factory) -> Path:
    """A two-layer, 32-wide BERT with random weights (fixed seed) and MiniLM's tokenizer, saved."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from refaug.embed import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(resolve_model(None))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-bert")
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _tiny_sentence_transformer(folder: Path):
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(str(folder), max_seq_length=32)
    pooling = models.Pooling(transformer.get_embedding_dimension(), "mean")
    return SentenceTransformer(modules=[transformer, pooling], device="cpu")


@pytest.fixture(scope="module")
def mined(tmp_path_factory) -> dict[str, Path]:
    """``refaug mine --synthetic 6`` saved in both flat formats, as a user would get them."""
    out = tmp_path_factory.mktemp("mined")
    folders = {}
    for fmt in ("triplet", "n-tuple"):
        folders[fmt] = out / fmt
        argv = ["mine", "--synthetic", "6", "--format", fmt, "--num-negatives", str(NUM_NEGATIVES),
                "--cache-dir", str(out / "embeddings"), "--out", str(folders[fmt])]
        assert main(argv) == 0
    return folders


@pytest.mark.parametrize(("fmt", "columns"), [
    ("triplet", ["anchor", "positive", "negative"]),
    ("n-tuple", ["anchor", "positive", *(f"negative_{j}" for j in range(1, NUM_NEGATIVES + 1))]),
])
def test_sentence_transformer_trainer_trains_on_the_published_format(
        fmt, columns, mined, tiny_sentence_transformer_folder, tmp_path):
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        losses,
    )
    from sentence_transformers.training_args import BatchSamplers

    train = load_from_disk(str(mined[fmt]))
    assert train.column_names == columns and len(train) >= 8
    model = _tiny_sentence_transformer(tiny_sentence_transformer_folder)
    before = [p.detach().clone() for p in model.parameters()]
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=3, per_device_train_batch_size=8, learning_rate=1e-3,
        # no text twice in a batch: a triplet file repeats each anchor once per negative, and one
        # referent's positive can be another's negative (same image); either copy would be scored
        # by MultipleNegativesRankingLoss as a negative of its own anchor
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        report_to="none", save_strategy="no", logging_steps=1, use_cpu=True, seed=0,
        dataloader_num_workers=0, disable_tqdm=True)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train,
                                         loss=losses.MultipleNegativesRankingLoss(model))
    result = trainer.train()
    logged = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert result.global_step == 3 and len(logged) == 3
    assert all(math.isfinite(v) and v > 0 for v in logged)
    assert math.isfinite(result.training_loss)
    changed = [not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters(), strict=True)]
    assert sum(changed) >= len(changed) // 2, "most parameter tensors should move after three steps"


def _readme_training_block() -> str:
    text = README.read_text()
    section = text[text.index("## Back into refer-based codebases"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_dataloader_feeds_the_hard_negative_loss(tmp_path, monkeypatch, embedder):
    from datasets import DatasetDict

    from refaug.data.synthetic import synthetic_scenes
    from refaug.mining import mine_hard_negatives
    from refaug.publish import to_refer
    from refaug.views import ViewGenerator, get_backend

    monkeypatch.chdir(tmp_path)
    scenes = synthetic_scenes(3, seed=0).map(ViewGenerator(get_backend("rules")), batched=True)
    mined = mine_hard_negatives(scenes, embedder=embedder, num_negatives=10)
    to_refer(DatasetDict({"train": mined}), "exported", dataset_name="refcoco", split_by="unc")
    namespace: dict = {}
    exec(compile(_readme_training_block(), "README.md", "exec"), namespace)
    batch, loss = namespace["batch"], namespace["loss"].detach()
    assert batch["negative_mask"].shape == (len(batch["positives"]), 8)
    assert batch["negative_mask"].any(), "the export's negatives should reach the batch"
    assert loss.dim() == 0 and math.isfinite(float(loss)) and float(loss) > 0
    gradient = namespace["region_encoder"].weight.grad
    assert gradient is not None and bool(torch.isfinite(gradient).all()) and float(gradient.abs().sum()) > 0


def test_readme_ablation_section_is_the_benchmarks_command_and_table():
    """The README's ablation command parses with the benchmark's own options; its table is the results'."""
    import json
    import shlex

    from benchmarks.training_ablation import markdown_table, parse_args

    text = README.read_text()
    section = text[text.index("## Do the negatives teach?"):]
    section = section[:section.index("\n## ", 1)]
    command = re.search(r"```bash\n(.*?)```", section, re.S).group(1).splitlines()[0]
    argv = shlex.split(command, comments=True)
    assert argv[:2] == ["python", "benchmarks/training_ablation.py"]
    parse_args(argv[2:])
    results = json.loads((README.parent / "benchmarks" / "results" / "training_ablation.json").read_text())
    assert markdown_table(results["rows"]) in section, "README table out of date: paste benchmarks/results/training_ablation.md"
