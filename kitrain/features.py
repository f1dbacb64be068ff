"""Text features (``kitrain features``): the four fine-tuned models score the texts of every revision.

Each model scores every distinct text once (deduplicated across revisions and splits), in
length-sorted batches under ``torch.inference_mode()``, on CUDA in bf16/fp16 when present. Per
revision and text kind, the raw scores (s_0, s_1) and softmax probabilities (p_0, p_1) of its texts
are aggregated by max and mean (8 features per kind); a revision without a text of a kind gets -1.
The title model gives ``title_s_0``. Beside them: the action counts, the edit metadata, the tag and
user flags — every name from :mod:`kitrain.schema`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kitrain.atomic import atomic_dir, parquet_files, write_json
from kitrain.config import FeaturesConfig
from kitrain.languages import language_of
from kitrain.models import ModelLoadError, load_classifier, load_tokenizer, select_device
from kitrain.paths import SPLITS, TARGETS, RunPaths
from kitrain.prepare import PrepareError, read_split
from kitrain.schema import (
    ACTION_FEATURES,
    ALL_FEATURES,
    FEATURE_META_COLUMNS,
    FEATURE_TABLE_COLUMNS,
    IS_ANONYMOUS,
    IS_TEMPORARY,
    MISSING_TEXT_SCORE,
    TAG_FEATURES,
    TITLE_FEATURES,
    USER_ANONYMOUS,
    USER_GROUP_FLAGS,
    USER_TEMPORARY,
    text_feature_names,
)
from kitrain.textdata import title_text

logger = logging.getLogger(__name__)

TEXT_COLUMNS = {"inserts": "texts_insert", "removes": "texts_removed", "changes": "texts_change"}


def text_keys(target: str, value: Any) -> list[Hashable]:
    """The scorable texts of one revision for a target: strings, or (before, after) pairs."""
    if value is None:
        return []
    if target == "changes":
        return [(p["before"], p["after"]) for p in value if p["before"] != p["after"]]
    return [t for t in value if t and str(t).strip()]


def distinct(items: Sequence[Sequence[Hashable]]) -> list[Hashable]:
    """Distinct texts in first-seen order (so scoring order never depends on hashing)."""
    return list(dict.fromkeys(key for keys in items for key in keys))


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def aggregate(per_row: Sequence[Sequence[Hashable]], scores: dict[Hashable, np.ndarray]) -> np.ndarray:
    """(rows, 8): max then mean of [s_0, s_1, p_0, p_1] over each row's texts; -1 without texts."""
    out = np.full((len(per_row), 8), MISSING_TEXT_SCORE, dtype=np.float64)
    for i, keys in enumerate(per_row):
        if keys:
            stats = np.stack([scores[k] for k in keys])
            out[i, :4] = stats.max(axis=0)
            out[i, 4:] = stats.mean(axis=0)
    return out


def token_batches(lengths: Sequence[int], max_texts: int, max_tokens: int,
                  length_band: float = FeaturesConfig.length_band) -> list[np.ndarray]:
    """Index batches, longest texts first, each within ``max_texts`` texts and ``max_tokens``
    padded tokens: short texts travel in large batches, long ones in small ones.

    A batch also ends where the next text is shorter than ``length_band`` times the batch's
    longest, so a batch's padded tokens stay within ``1 / length_band`` of its real ones (0 turns
    the band off). Without it, a token budget sized for short texts put the 512 longest of 1,000
    one-sentence texts in one batch padded to the longest of them: three times the real tokens.
    """
    order = np.argsort(np.asarray(lengths), kind="stable")[::-1]
    batches, start = [], 0
    while start < len(order):
        longest = max(1, int(lengths[order[start]]))  # sorted: the first is the longest
        stop = start + max(1, min(max_texts, max_tokens // longest))
        end = start + 1
        while end < min(stop, len(order)) and lengths[order[end]] >= length_band * longest:
            end += 1
        batches.append(order[start:end])
        start = end
    return batches


def score_texts(
    model: Any, tokenizer: Any, items: Sequence[Hashable], batch_size: int, max_length: int,
    device: Any, progress: bool = False, max_batch_tokens: int = FeaturesConfig.max_batch_tokens,
    length_band: float = FeaturesConfig.length_band,
) -> np.ndarray:
    """Raw model outputs (n, num_labels) in the items' order.

    All items are tokenised at once (the fast tokenizer works in parallel), then scored in batches
    of similar length (see :func:`token_batches`), at most ``batch_size`` texts and
    ``max_batch_tokens`` tokens each, padded to a multiple of 8 on CUDA (tensor cores) and to the
    batch's longest text on the CPU, where every padded token costs as much as a real one.
    """
    import torch
    from tqdm.auto import tqdm

    out = np.zeros((len(items), model.config.num_labels), dtype=np.float32)
    if not items:
        return out
    if isinstance(items[0], tuple):
        enc = tokenizer([k[0] for k in items], [k[1] for k in items], truncation=True,
                        max_length=max_length)
    else:
        enc = tokenizer(list(items), truncation=True, max_length=max_length)
    columns = {k: v for k, v in enc.items()}
    batches = token_batches([len(ids) for ids in columns["input_ids"]], batch_size, max_batch_tokens,
                            length_band)
    multiple = 8 if getattr(device, "type", str(device)) == "cuda" else None
    with torch.inference_mode():
        for idx in tqdm(batches, disable=not progress, desc="scoring", unit="batch"):
            padded = tokenizer.pad({k: [v[i] for i in idx] for k, v in columns.items()},
                                   pad_to_multiple_of=multiple, return_tensors="pt")
            logits = model(**{k: v.to(device, non_blocking=True) for k, v in padded.items()}).logits
            out[idx] = logits.float().cpu().numpy()
    return out


def load_scorer(path: str, target: str, device: Any, dtype: Any) -> tuple[Any, Any]:
    """A fine-tuned model (eval mode, on ``device``, in ``dtype`` on CUDA) and its tokenizer."""
    import torch

    if not Path(path, "config.json").exists():
        raise ModelLoadError(f"no fine-tuned {target} model in {path}: run "
                             f"`kitrain finetune --target {target}` first")
    model = load_classifier(path, 1 if target == "title" else 2)
    model.eval().to(device)
    if device.type == "cuda" and dtype != torch.float32:
        model.to(dtype)
    return model, load_tokenizer(path)


def text_model_features(
    frames: dict[str, pd.DataFrame], model_dir: Callable[[str], str], cfg: FeaturesConfig,
    progress: bool = False,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any], str]:
    """The four models' features of several frames, each distinct text scored once across all.

    Shared by ``kitrain features`` and ``kitrain score`` so that training and serving compute the
    same numbers. Returns (frame name -> target -> array, text counts, device type).
    """
    device, dtype = select_device(cfg.device)
    keys: dict[str, dict[str, list]] = {name: {} for name in frames}
    mlm: dict[str, dict[str, np.ndarray]] = {name: {} for name in frames}
    counts: dict[str, Any] = {}
    for target in TARGETS:
        for name, frame in frames.items():
            if target == "title":
                keys[name][target] = [[title_text(t)] for t in frame["page_title"]]
            else:
                keys[name][target] = [text_keys(target, v) for v in frame[TEXT_COLUMNS[target]]]
        unique = distinct([k for name in frames for k in keys[name][target]])
        total = sum(len(k) for name in frames for k in keys[name][target])
        model, tokenizer = load_scorer(model_dir(target), target, device, dtype)
        logger.info("%s: scoring %d distinct texts (%d with repeats) on %s", target, len(unique),
                    total, device.type)
        raw = score_texts(model, tokenizer, unique, cfg.batch_size, cfg.max_length, device, progress,
                          cfg.max_batch_tokens, cfg.length_band)
        counts[target] = {"distinct_texts": len(unique), "texts": total}
        if target == "title":
            scores = {k: raw[i] for i, k in enumerate(unique)}
            for name in frames:
                mlm[name][target] = np.array([[scores[k[0]][0]] for k in keys[name][target]],
                                             dtype=np.float64).reshape(-1, 1)
        else:
            stats = np.hstack([raw, softmax(raw)])
            scores = {k: stats[i] for i, k in enumerate(unique)}
            for name in frames:
                mlm[name][target] = aggregate(keys[name][target], scores)
        del model
    return mlm, counts, device.type


def assemble(frame: pd.DataFrame, mlm: dict[str, np.ndarray]) -> pd.DataFrame:
    """Meta columns and every feature of :data:`schema.ALL_FEATURES`, in that order."""
    cols: dict[str, np.ndarray] = {name: frame[name].to_numpy() for name in FEATURE_META_COLUMNS
                                   if name != IS_TEMPORARY}
    # which logged-out editors had a temporary account: for the reports' three editor groups only
    cols[IS_TEMPORARY] = frame[USER_TEMPORARY].astype("int32").to_numpy()
    cols["wiki_db"] = frame["wiki_db"].to_numpy()
    cols["revision_text_bytes_diff"] = frame["revision_text_bytes_diff"].fillna(0).astype("int64").to_numpy()
    for flag in TAG_FEATURES:
        cols[flag] = frame[flag].astype("int32").to_numpy()
    actions = _as_dicts(frame["actions"])
    for name in ACTION_FEATURES:
        cols[name] = np.array([a.get(name, 0) if a is not None else 0 for a in actions], dtype=np.int32)
    cols[IS_ANONYMOUS] = frame[USER_ANONYMOUS].astype("int32").to_numpy()
    for flag in USER_GROUP_FLAGS:
        cols[flag] = frame[flag].astype("int32").to_numpy()
    for target in ("inserts", "removes", "changes"):
        for j, name in enumerate(text_feature_names(target)):
            cols[name] = mlm[target][:, j]
    cols[TITLE_FEATURES[0]] = mlm["title"][:, 0]
    return pd.DataFrame({name: cols[name] for name in FEATURE_TABLE_COLUMNS})


def _as_dicts(column: pd.Series) -> list[dict[str, int] | None]:
    """The ``actions`` map as dicts (pyarrow gives maps as lists of (key, value) pairs)."""
    return [dict(v) if v is not None else None for v in column]


def run_features(cfg: FeaturesConfig, run_dir: str, progress: bool = False) -> dict[str, Any]:
    """Build ``features/{train,test,full_test}/`` from the prepared splits and the four models."""
    paths = RunPaths(run_dir)
    frames = {}
    for split in SPLITS:
        if Path(paths.prepared(split)).is_dir() and not parquet_files(paths.prepared(split)):
            logger.warning("prepared %s has no rows (no such collection yet): skipped", split)
            continue
        frames[split] = read_split(run_dir, split)
    if not frames:
        raise PrepareError(f"no prepared rows in {paths.run_dir}/prepared: run `kitrain prepare` first")
    mlm, counts, device_type = text_model_features(frames, paths.mlm, cfg, progress)
    summary = {"config": cfg.to_dict(), "device": device_type, "texts": counts, "rows": {}}
    # one rename publishes every split and the summary together (a split without rows this time
    # leaves no stale output of an earlier run behind)
    with atomic_dir(paths.features_root()) as root:
        for split, frame in frames.items():
            features = assemble(frame, mlm[split])
            (root / split).mkdir()
            for wiki, part in features.groupby("wiki_db", sort=True):
                table = pa.Table.from_pandas(part.reset_index(drop=True), preserve_index=False)
                pq.write_table(table, root / split / f"{language_of(wiki)}.parquet", compression="zstd")
            summary["rows"][split] = len(features)
            logger.info("features %s: %d rows, %d features", split, len(features), len(ALL_FEATURES))
        write_json(root / Path(paths.features_summary()).name, summary)
    return summary
