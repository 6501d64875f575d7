"""The embedding backends side by side on real RefCOCO expressions: speed, and what int8 changes.

For ``torch`` (sentence-transformers), ``onnx`` (ONNX Runtime, fp32 export) and ``onnx-int8``
(dynamic int8 quantisation), on every distinct expression of the dev file (``--data``):

- speed: texts per CPU second with one thread each (rounds interleaved, best round: fair on a
  shared machine) and texts per wall second with every thread;
- agreement with torch's fp32 vectors: the cosine between the two vectors of a text, and the
  overlap of each text's 10 nearest neighbours among all texts (what the cross-image search
  would return);
- the judgement: AUC of the centroid cosine and of the shipped contrast model
  (``DEFAULT_CONTRAST_MODEL``, fitted on fp32 cosines) on the leave-one-out pairs of
  ``benchmarks/contrast.py`` (positives vs same-image and cross-image negatives).

Run (a few minutes on 2 cores)::

    python benchmarks/embed_backends.py --data /work/shared/data/refcoco_real_dev.jsonl

Writes ``benchmarks/results/embed_backends.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
BACKENDS = ("torch", "onnx", "onnx-int8")


def speed(texts: list[str], rounds: int) -> dict[str, dict[str, float]]:
    import torch

    from refaug.embed import Embedder

    encoders = {}
    for name in BACKENDS:
        embedder = Embedder(backend=name)
        encoders[name] = embedder.encoder
    best = {name: np.inf for name in BACKENDS}
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    single = {name: _single_thread(encoders[name], name) for name in BACKENDS}
    for _ in range(rounds):
        for name in BACKENDS:
            cpu = time.process_time()
            single[name].encode(texts, batch_size=128)
            best[name] = min(best[name], time.process_time() - cpu)
    torch.set_num_threads(old)
    wall = {}
    for name in BACKENDS:
        start = time.perf_counter()
        encoders[name].encode(texts, batch_size=128)
        wall[name] = time.perf_counter() - start
    return {name: {"texts_per_cpu_second_1_thread": round(len(texts) / best[name]),
                   "texts_per_wall_second_all_threads": round(len(texts) / wall[name])} for name in BACKENDS}


def _single_thread(encoder, name: str):
    """The encoder with one ONNX Runtime thread (torch's are set by the caller)."""
    if name == "torch":
        return encoder
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    clone = object.__new__(type(encoder))
    clone.__dict__.update(encoder.__dict__)
    clone.session = ort.InferenceSession(str(encoder.path), options, providers=["CPUExecutionProvider"])
    return clone


def agreement(vectors: dict[str, np.ndarray], k: int = 10) -> dict[str, dict[str, float]]:
    reference = vectors["torch"]
    ref_nn = _neighbours(reference, k)
    out = {}
    for name in BACKENDS[1:]:
        cos = (vectors[name] * reference).sum(1)
        nn = _neighbours(vectors[name], k)
        overlap = np.mean([len(set(a) & set(b)) / k for a, b in zip(ref_nn, nn, strict=True)])
        out[name] = {"cosine_to_fp32_mean": round(float(cos.mean()), 5), "cosine_to_fp32_min": round(float(cos.min()), 5),
                     "max_abs_difference": float(np.abs(vectors[name] - reference).max()),
                     f"neighbour_overlap_at_{k}": round(float(overlap), 4)}
    return out


def _neighbours(vectors: np.ndarray, k: int) -> list[np.ndarray]:
    out = []
    for start in range(0, len(vectors), 2048):
        scores = vectors[start : start + 2048] @ vectors.T
        rows = np.arange(start, min(start + 2048, len(vectors)))
        scores[rows - start, rows] = -np.inf
        out.extend(np.argsort(-scores, axis=1)[:, :k])
    return out


def judgement(data: Path) -> dict[str, dict[str, dict[str, float]]]:
    from contrast import (
        aucs,
        centroid_cosines,
        contrast_features,
        leave_one_out_pairs,
        load_referents,
    )

    from refaug.clusters import DEFAULT_CONTRAST_MODEL
    from refaug.embed import Embedder

    referents = load_referents(data)
    pairs = leave_one_out_pairs(referents, cross=3, seed=0)
    out = {}
    for name in BACKENDS:
        cosine = centroid_cosines(pairs, Embedder(backend=name))
        features, _ = contrast_features(pairs, cosine)
        out[name] = {"centroid": aucs(cosine, pairs.kinds), "contrast": aucs(DEFAULT_CONTRAST_MODEL.probability(features),
                                                                            pairs.kinds)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="refcoco_real_dev.jsonl")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "embed_backends.json")
    args = parser.parse_args()
    from refaug.embed import Embedder

    texts = []
    for line in args.data.read_text().splitlines():
        texts += [s["sent"] for s in json.loads(line)["sentences"]]
    texts = sorted(dict.fromkeys(" ".join(t.split()) for t in texts if t.strip()))
    vectors = {name: Embedder(backend=name).encode(texts) for name in BACKENDS}
    result = {"data": str(args.data), "texts": len(texts), "agreement_with_torch_fp32": agreement(vectors),
              "judgement_auc": judgement(args.data), "speed": speed(texts, args.rounds),
              "command": "python benchmarks/embed_backends.py " + " ".join(sys.argv[1:])}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
