"""A tiny BERT and a WordPiece tokenizer trained on a run's own texts (``kitrain tiny-model``).

Tests and the demo never download weights. This builds a small, randomly initialised BERT whose
tokenizer is trained on the prepared corpus with the ``tokenizers`` library, and saves both with
``save_pretrained`` so that every stage loads it by path exactly like a hub model.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from kitrain.atomic import atomic_dir, read_table
from kitrain.textdata import title_text

logger = logging.getLogger(__name__)

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def corpus_texts(frame: pd.DataFrame) -> Iterator[str]:
    """Every text a language model will see: inserted, removed, changed sentences and titles."""
    for column in ("texts_insert", "texts_removed"):
        for texts in frame[column]:
            yield from (t for t in (texts if texts is not None else []) if t)
    for pairs in frame["texts_change"]:
        for pair in pairs if pairs is not None else []:
            yield pair["before"]
            yield pair["after"]
    yield from (title_text(t) for t in frame["page_title"])


def read_corpus(path: str | os.PathLike[str]) -> list[str]:
    """Texts of a prepared split directory (or one parquet file)."""
    columns = ["texts_insert", "texts_removed", "texts_change", "page_title"]
    path = Path(path)
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"no parquet files in corpus {path}")
    texts: list[str] = []
    for file in files:
        texts.extend(corpus_texts(read_table(file, columns=columns).to_pandas()))
    if not texts:
        raise ValueError(f"corpus {path} holds no text")
    return texts


def wordpiece_vocab(texts: Iterable[str], vocab_size: int, normalizer: Any, pre_tokenizer: Any) -> dict[str, int]:
    """A WordPiece vocabulary built deterministically: the special tokens, the characters seen (as
    a word start and as a ``##`` continuation, together by count), then the most frequent whole
    words, each group ordered by count and then by the token itself, cut at ``vocab_size``.

    The ``tokenizers`` trainer breaks ties between equally frequent merges in the order of a Rust
    hash map, which is seeded per process: two runs on the same corpus got different vocabularies,
    hence different models and scores. Words missing from this vocabulary fall back to characters.
    """
    words: Counter[str] = Counter()
    for text in texts:
        for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(text)):
            words[word] += 1
    starts: Counter[str] = Counter()
    continuations: Counter[str] = Counter()
    for word, count in words.items():
        starts[word[0]] += count
        for char in word[1:]:
            continuations["##" + char] += count

    def ranked(counter: Counter[str]) -> list[str]:
        return [token for token, _ in sorted(counter.items(), key=lambda item: (-item[1], item[0]))]

    tokens = list(SPECIAL_TOKENS)
    seen = set(tokens)
    for token in ranked(starts + continuations) + ranked(words):
        if len(tokens) >= vocab_size:
            break
        if token not in seen:  # a one-character word is already in as a word start
            seen.add(token)
            tokens.append(token)
    return {token: index for index, token in enumerate(tokens)}


def build_tiny_model(
    out_dir: str | os.PathLike[str],
    texts: Iterable[str],
    vocab_size: int = 4000,
    hidden_size: int = 64,
    layers: int = 2,
    heads: int = 2,
    max_position: int = 512,
    seed: int = 42,
) -> Path:
    """Train the tokenizer on ``texts``, build the model, publish both atomically in ``out_dir``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    # cased like bert-base-multilingual-cased; CJK characters become single tokens
    normalizer = normalizers.BertNormalizer(lowercase=False, handle_chinese_chars=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    vocab = wordpiece_vocab(texts, vocab_size, normalizer, pre_tokenizer)
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.decoder = decoders.WordPiece()
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    fast = BertTokenizerFast(tokenizer_object=tokenizer, model_max_length=max_position,
                             do_lower_case=False)

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(), hidden_size=hidden_size, num_hidden_layers=layers,
        num_attention_heads=heads, intermediate_size=4 * hidden_size,
        max_position_embeddings=max_position, pad_token_id=tokenizer.token_to_id("[PAD]"),
    )
    model = BertForMaskedLM(config)
    with atomic_dir(out_dir) as tmp:
        fast.save_pretrained(tmp)
        model.save_pretrained(tmp, safe_serialization=True)
    logger.info("tiny model (%d tokens, %d parameters) saved to %s",
                config.vocab_size, sum(p.numel() for p in model.parameters()), out_dir)
    return Path(out_dir)
