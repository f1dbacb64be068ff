"""Texts per second of kitrain's scoring against a transformers pipeline (the original approach).

Both score the same texts (distinct inserted and removed texts of a prepared split), with the same
model, in the same order; the pipeline runs in fp32 with ``batch_size=100`` as in the original
``feature_builder.py``. kitrain runs length-sorted batches under ``torch.inference_mode()``, in bf16
(fp16 where bf16 is missing) on CUDA and fp32 on the CPU. Ends with one JSON line.

    python benchmarks/features.py --corpus RUN_DIR/prepared/train --size base
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from benchmarks._models import build_model  # noqa: E402
from kitrain.features import distinct, score_texts, text_keys  # noqa: E402
from kitrain.models import load_classifier, load_tokenizer, select_device  # noqa: E402


def texts_of(corpus: str, limit: int) -> list[str]:
    frame = pq.read_table(corpus, columns=["texts_insert", "texts_removed"]).to_pandas()
    keys = [text_keys("inserts", v) for v in frame["texts_insert"]]
    keys += [text_keys("removes", v) for v in frame["texts_removed"]]
    return [str(t) for t in distinct(keys)][:limit]


def run_pipeline(model, tokenizer, texts, device, max_length):
    from transformers import pipeline

    pipe = pipeline("text-classification", model=model, tokenizer=tokenizer, device=device,
                    batch_size=100, top_k=None, function_to_apply="none")
    out = np.zeros((len(texts), 2), dtype=np.float32)
    results = pipe(texts, truncation=True, max_length=max_length)
    for i, labels in enumerate(results):
        for item in labels:
            out[i, int(item["label"].split("_")[-1])] = item["score"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", required=True, help="prepared split directory (demo data)")
    parser.add_argument("--size", choices=("tiny", "base"), default="base")
    parser.add_argument("--limit", type=int, default=4000, help="at most this many texts")
    parser.add_argument("--batch-size", type=int, default=512, help="kitrain: most texts per batch")
    parser.add_argument("--max-batch-tokens", type=int, default=32768, help="kitrain: most tokens per batch")
    parser.add_argument("--length-band", type=float, default=0.75,
                        help="kitrain: a batch ends where texts get shorter than this share of its longest")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    import torch

    texts = texts_of(args.corpus, args.limit)
    path = build_model(args.size, args.corpus)
    device, dtype = select_device(args.device)
    tokenizer = load_tokenizer(path)
    reference = load_classifier(path, 2).eval().to(device)  # fp32, as the original

    # warm-up both paths on a few texts (CUDA context, kernels)
    score_texts(reference, tokenizer, texts[:64], args.batch_size, args.max_length, device)
    run_pipeline(reference, tokenizer, texts[:64], device, args.max_length)

    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    baseline = run_pipeline(reference, tokenizer, texts, device, args.max_length)
    if device.type == "cuda":
        torch.cuda.synchronize()
    pipeline_s = time.perf_counter() - start

    fast = copy.deepcopy(reference)  # same weights (a fresh load would draw a new random head)
    if device.type == "cuda" and dtype != torch.float32:
        fast.to(dtype)
    score_texts(fast, tokenizer, texts[:512], args.batch_size, args.max_length, device,
                max_batch_tokens=args.max_batch_tokens, length_band=args.length_band)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    ours = score_texts(fast, tokenizer, texts, args.batch_size, args.max_length, device,
                       max_batch_tokens=args.max_batch_tokens, length_band=args.length_band)
    if device.type == "cuda":
        torch.cuda.synchronize()
    kitrain_s = time.perf_counter() - start
    fp32_ours = score_texts(reference, tokenizer, texts, args.batch_size, args.max_length, device,
                            max_batch_tokens=args.max_batch_tokens, length_band=args.length_band)

    print(json.dumps({  # noqa: T201 (benchmark result)
        "benchmark": "features", "size": args.size, "device": device.type,
        "dtype": str(dtype).removeprefix("torch."), "texts": len(texts),
        "kitrain_s": round(kitrain_s, 4), "pipeline_s": round(pipeline_s, 4),
        "kitrain_texts_per_s": round(len(texts) / kitrain_s, 1),
        "pipeline_texts_per_s": round(len(texts) / pipeline_s, 1),
        "speedup": round(pipeline_s / kitrain_s, 2),
        "max_abs_diff_fp32": float(np.abs(fp32_ours - baseline).max()),
        "max_abs_diff_fast": float(np.abs(ours - baseline).max()),
    }))


if __name__ == "__main__":
    main()
