"""Shared set-up of the text-model benchmarks: a model of a given size built from a config (random
weights, nothing downloaded) with a WordPiece tokenizer trained on the demo texts."""

from __future__ import annotations

import tempfile
from pathlib import Path

from kitrain.tinymodel import build_tiny_model, read_corpus

#: (hidden size, layers, heads): ``tiny`` is the test model, ``base`` is BERT-base.
SIZES = {"tiny": (64, 2, 2), "base": (768, 12, 12)}


def build_model(size: str, corpus_dir: str, vocab_size: int = 8000) -> str:
    hidden, layers, heads = SIZES[size]
    out = Path(tempfile.mkdtemp(prefix=f"kitrain-bench-{size}-")) / "model"
    build_tiny_model(out, read_corpus(corpus_dir), vocab_size=vocab_size, hidden_size=hidden,
                     layers=layers, heads=heads)
    return str(out)
