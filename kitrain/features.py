"""Text features (``kitrain features``): the four fine-tuned models score the texts of every revision.

The stage works shard by shard (a fixed number of rows of one language of one split, only the
columns used), so its memory is bounded by a shard and a crashed run resumes from the finished
shards. In a shard each model scores every distinct text once (the gate's comparison likewise;
``kitrain score``: once across everything it is given), in length-sorted batches under
``torch.inference_mode()``, on CUDA in bf16/fp16 when present. Per revision and text kind, the
raw scores (s_0, s_1) and softmax probabilities (p_0, p_1) of its texts are aggregated by max and
mean (8 features per kind); a revision without a text of a kind gets -1.
The title model gives ``title_s_0``. Beside them: the action counts, the edit metadata, the tag and
user flags — every name from :mod:`kitrain.schema`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Hashable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kitrain.atomic import CorruptFileError, atomic_dir, parquet_files, read_json, write_json
from kitrain.config import FeaturesConfig
from kitrain.models import ModelLoadError, load_classifier, load_tokenizer, select_device
from kitrain.paths import SPLITS, TARGETS, RunPaths
from kitrain.prepare import PrepareError
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
#: The prepared columns the features are built from: nothing else is read.
INPUT_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys((
    *(c for c in FEATURE_META_COLUMNS if c != IS_TEMPORARY), USER_TEMPORARY, "wiki_db",
    "revision_text_bytes_diff", *TAG_FEATURES, "actions", USER_ANONYMOUS, *USER_GROUP_FLAGS,
    *TEXT_COLUMNS.values(),
)))
#: The file of ``work/features/`` saying what its finished shards were made from.
FINGERPRINT = "fingerprint.json"
#: The file of ``work/features/`` naming the run's splits and shards, as the shard plan made them.
SHARDS_FILE = "shards.json"
#: Keys of a shard file's footer metadata: its text counts (read back when a rerun keeps it) and
#: the device and precision it was scored with (``cpu/float32``, ``cuda/bfloat16``).
SHARD_TEXTS_KEY = b"kitrain.texts"
SHARD_DEVICE_KEY = b"kitrain.device"


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


class Scorers:
    """The fine-tuned models of the four targets on one device, loaded when first asked for; kept
    for the next shard with ``keep``, else released after their target."""

    def __init__(self, model_dir: Callable[[str], str], cfg: FeaturesConfig, keep: bool = True) -> None:
        self.model_dir = model_dir
        self.device, self.dtype = select_device(cfg.device)
        self.keep = keep
        self._loaded: dict[str, tuple[Any, Any]] = {}

    @property
    def precision(self) -> str:
        """``device/dtype`` as a shard's footer records it, e.g. ``cuda/bfloat16``."""
        return f"{self.device.type}/{str(self.dtype).removeprefix('torch.')}"

    def get(self, target: str) -> tuple[Any, Any]:
        if target not in self._loaded:
            self._loaded[target] = load_scorer(self.model_dir(target), target, self.device, self.dtype)
        return self._loaded[target]

    def release(self, target: str) -> None:
        if not self.keep:
            self._loaded.pop(target, None)


def text_model_features(
    frames: dict[str, pd.DataFrame], model_dir: Callable[[str], str], cfg: FeaturesConfig,
    progress: bool = False, scorers: Scorers | None = None,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any], str]:
    """The four models' features of several frames, each distinct text scored once across all.

    Shared by ``kitrain features`` and ``kitrain score`` so that training and serving compute the
    same numbers. Returns (frame name -> target -> array, text counts, device type). With
    ``scorers``, the models are loaded once into it and kept for the next call (one per shard);
    without, each is loaded for this call only.
    """
    scorers = scorers if scorers is not None else Scorers(model_dir, cfg, keep=False)
    device = scorers.device
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
        model, tokenizer = scorers.get(target)
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
        scorers.release(target)
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


def prepared_inputs(paths: RunPaths) -> dict[str, list[Path]]:
    """The prepared files of each split that has any (``<lang>.parquet``); an error when none has."""
    inputs = {}
    for split in SPLITS:
        files = parquet_files(paths.prepared(split))
        if Path(paths.prepared(split)).is_dir() and not files:
            logger.warning("prepared %s has no rows (no such collection yet): skipped", split)
            continue
        if files:
            inputs[split] = files
    if not inputs:
        raise PrepareError(f"no prepared rows in {paths.run_dir}/prepared: run `kitrain prepare` first")
    return inputs


def _prepared_file(path: Path, columns: Sequence[str]) -> pq.ParquetFile:
    """A prepared file opened for reading ``columns``, with errors that say what to do."""
    try:
        reader = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise CorruptFileError(f"cannot read {path}: not a complete parquet file ({exc}); run "
                               "`kitrain prepare` again") from None
    missing = [c for c in columns if c not in reader.schema_arrow.names]
    if missing:
        raise PrepareError(f"prepared file {path} has no column(s) {missing}: it was prepared by an "
                           "older kitrain; run `kitrain prepare` again")
    return reader


def shard_tables(path: Path, shard_rows: int, columns: Sequence[str] = INPUT_COLUMNS) -> Iterator[pa.Table]:
    """The file's ``columns`` in consecutive shards of ``shard_rows`` rows (the last one shorter),
    read batch by batch: only one shard's rows are ever in memory, whatever the file's size."""
    reader = _prepared_file(path, columns)
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in reader.iter_batches(batch_size=min(shard_rows, 8192), columns=list(columns)):
        pending.append(batch)
        size += batch.num_rows
        while size >= shard_rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, shard_rows)
            rest = table.slice(shard_rows)
            pending, size = rest.to_batches(), rest.num_rows
    if size:
        yield pa.Table.from_batches(pending)


def shard_table(path: Path, shard_rows: int, index: int, columns: Sequence[str] = INPUT_COLUMNS) -> pa.Table:
    """Shard ``index`` of :func:`shard_tables` alone: only the row groups holding its rows are
    read, so a mapped task scoring one shard of a large language does not read the ones before it."""
    reader = _prepared_file(path, columns)
    meta = reader.metadata
    start, stop = index * shard_rows, min((index + 1) * shard_rows, meta.num_rows)
    if index < 0 or start >= stop:
        raise PrepareError(f"{path} has {meta.num_rows} rows: no shard {index} of {shard_rows} rows")
    groups, first, offset = [], None, 0
    for group in range(meta.num_row_groups):
        rows = meta.row_group(group).num_rows
        if offset < stop and offset + rows > start:
            groups.append(group)
            first = offset if first is None else first
        offset += rows
    return reader.read_row_groups(groups, columns=list(columns)).slice(start - first, stop - start)


def shard_id(split: str, file: Path, index: int) -> str:
    """A shard's name, ``<split>/<language>-<index>``: its file under ``work/features/`` and the
    name of its mapped task instance in the DAG."""
    return f"{split}/{file.stem}-{index:05d}"


def parse_shard_id(paths: RunPaths, shard: str) -> tuple[str, Path, int]:
    """(split, prepared file, index) of a shard name made by :func:`shard_id`."""
    split, _, name = shard.partition("/")
    stem, _, index = name.rpartition("-")
    if split not in SPLITS or not stem or not index.isdigit() or "/" in name:
        raise PrepareError(f"not a feature shard name: {shard!r} (expected <split>/<language>-<index>, "
                           "e.g. train/uk-00000)")
    return split, Path(paths.prepared(split), f"{stem}.parquet"), int(index)


def _fingerprint(cfg: FeaturesConfig, paths: RunPaths, inputs: dict[str, list[Path]]) -> dict[str, Any]:
    """What the shards of a run depend on: finished shards are kept only when all of it is the
    same (the settings, the published prepared version and its files, the published fine-tuned
    models). The device each shard was scored on is in its own footer (mapped shards run on
    several workers)."""
    return json.loads(json.dumps({
        "config": cfg.to_dict(),
        "prepared": os.path.realpath(paths.prepared_root()),
        "inputs": {f"{split}/{f.name}": [f.stat().st_size, f.stat().st_mtime_ns]
                   for split, files in inputs.items() for f in files},
        "models": {target: os.path.realpath(paths.mlm(target)) for target in TARGETS},
    }))


def _work_dir(paths: RunPaths, fingerprint: dict[str, Any]) -> Path:
    """``work/features/``: the shards finished so far, kept when an earlier run with the same
    fingerprint was interrupted, else emptied."""
    work = Path(paths.features_work())
    if read_json(work / FINGERPRINT) != fingerprint:
        if work.exists():
            logger.warning("%s holds shards of other settings or inputs: discarded", work)
            shutil.rmtree(work)
        work.mkdir(parents=True)
        write_json(work / FINGERPRINT, fingerprint)
    for stale in work.glob("*/.*.tmp"):  # a shard being written when the run stopped
        stale.unlink()
    return work


def feature_shard(table: pa.Table, scorers: Scorers, cfg: FeaturesConfig,
                  progress: bool = False) -> tuple[pa.Table, dict[str, Any]]:
    """One shard's feature table and its text counts (each distinct text of the shard scored once);
    its footer records the counts and the device and precision it was scored with."""
    frame = table.to_pandas()
    mlm, counts, _ = text_model_features({"shard": frame}, scorers.model_dir, cfg, progress, scorers)
    features = pa.Table.from_pandas(assemble(frame, mlm["shard"]), preserve_index=False)
    metadata = {**(features.schema.metadata or {}), SHARD_TEXTS_KEY: json.dumps(counts).encode(),
                SHARD_DEVICE_KEY: scorers.precision.encode()}
    return features.replace_schema_metadata(metadata), counts


def write_shard(table: pa.Table, path: Path) -> None:
    """Write one shard's table to ``path`` in one rename (a retried task never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _shard_footer(path: Path) -> tuple[int, dict[str, Any], str]:
    """Rows, text counts and device of a finished shard, from its file's footer."""
    info = pq.ParquetFile(path)
    metadata = info.schema_arrow.metadata
    return (info.metadata.num_rows, json.loads(metadata[SHARD_TEXTS_KEY]),
            metadata.get(SHARD_DEVICE_KEY, b"unknown").decode())


def plan_feature_shards(cfg: FeaturesConfig, run_dir: str) -> list[str]:
    """Name every shard of the run (``cfg.shard_rows`` rows of one language of one split) and
    prepare ``work/features/`` for them; the names, in order (:func:`shard_id`).

    The first of the three steps of the features stage as the DAG maps it (plan, one
    :func:`score_feature_shard` per shard on the GPU workers, :func:`assemble_features`); ``kitrain
    features`` runs all three in one process. The shards come from the files' footers: nothing
    but the metadata is read here. Shards already finished with the same fingerprint are kept.
    """
    paths = RunPaths(run_dir)
    inputs = prepared_inputs(paths)
    work = _work_dir(paths, _fingerprint(cfg, paths, inputs))
    shards = []
    for split, files in inputs.items():
        (work / split).mkdir(exist_ok=True)
        for file in files:
            rows = _prepared_file(file, INPUT_COLUMNS).metadata.num_rows
            shards += [shard_id(split, file, i) for i in range(-(-rows // cfg.shard_rows))]
    write_json(work / SHARDS_FILE, {"splits": list(inputs), "shards": shards})
    logger.info("features: %d shard(s) of at most %d rows in %s", len(shards), cfg.shard_rows,
                ", ".join(inputs))
    return shards


def _planned(cfg: FeaturesConfig, paths: RunPaths) -> tuple[Path, dict[str, Any]]:
    """``work/features/`` and its shard plan, when the plan is of these settings, inputs and models."""
    work = Path(paths.features_work())
    plan = read_json(work / SHARDS_FILE)
    inputs = prepared_inputs(paths)
    if plan is None or read_json(work / FINGERPRINT) != _fingerprint(cfg, paths, inputs):
        raise PrepareError(f"no shard plan in {work} for these settings, prepared files and models: plan "
                           "the shards again (the DAG's feature_shards task, or `kitrain features "
                           "--plan-shards`)")
    return work, plan


def score_feature_shard(cfg: FeaturesConfig, run_dir: str, shard: str, progress: bool = False) -> str:
    """Score one planned shard and write ``work/features/<shard>.parquet``; return its path.

    A mapped task's body: it reads only its shard's row groups and writes only its own file
    (atomically), so a failed shard is retried alone, and scoring a finished shard again rewrites
    the same bytes (same device and batch settings)."""
    paths = RunPaths(run_dir)
    scorers = Scorers(paths.mlm, cfg, keep=False)  # first: a GPU task on a machine without one stops here
    work, plan = _planned(cfg, paths)
    if shard not in plan["shards"]:
        raise PrepareError(f"no shard {shard!r} among the {len(plan['shards'])} planned in {work}")
    split, file, index = parse_shard_id(paths, shard)
    features, _ = feature_shard(shard_table(file, cfg.shard_rows, index), scorers, cfg, progress)
    path = work / f"{shard}.parquet"
    write_shard(features, path)
    logger.info("features %s: %d rows on %s", shard, features.num_rows, scorers.precision)
    return str(path)


def assemble_features(cfg: FeaturesConfig, run_dir: str, resumed_shards: int = 0) -> dict[str, Any]:
    """Publish ``features/{train,test,full_test}/`` and the summary from the finished shards of the
    plan, in one rename; an error naming the shards not scored yet, if any."""
    paths = RunPaths(run_dir)
    work, plan = _planned(cfg, paths)
    missing = [s for s in plan["shards"] if not (work / f"{s}.parquet").is_file()]
    if missing:
        raise PrepareError(f"{len(missing)} of the {len(plan['shards'])} feature shards are not scored yet "
                           f"(first: {missing[0]}): score them, then assemble")
    texts = {target: {"distinct_texts": 0, "texts": 0} for target in TARGETS}
    rows = {split: 0 for split in plan["splits"]}
    shards = dict(rows)
    devices: dict[str, int] = {}
    for shard in plan["shards"]:
        n, counts, device = _shard_footer(work / f"{shard}.parquet")
        split = shard.partition("/")[0]
        rows[split], shards[split] = rows[split] + n, shards[split] + 1
        devices[device] = devices.get(device, 0) + 1
        for target, count in counts.items():
            for key in ("distinct_texts", "texts"):
                texts[target][key] += count[key]
    if len(devices) > 1:
        logger.warning("features: the shards were scored on different devices or precisions: %s "
                       "(their scores differ in the last digits)", devices)
    device = ",".join(sorted({d.partition("/")[0] for d in devices})) or cfg.device  # no shard: no rows
    summary: dict[str, Any] = {"config": cfg.to_dict(), "device": device, "devices": devices,
                               "texts": texts, "rows": rows, "shards": shards, "resumed_shards": resumed_shards}
    for split in plan["splits"]:
        logger.info("features %s: %d rows in %d shard(s), %d features", split, rows[split], shards[split],
                    len(ALL_FEATURES))
    with atomic_dir(paths.features_root()) as root:
        for split in plan["splits"]:
            os.replace(work / split, root / split)
        write_json(root / Path(paths.features_summary()).name, summary)
    shutil.rmtree(work)
    return summary


def run_features(cfg: FeaturesConfig, run_dir: str, progress: bool = False) -> dict[str, Any]:
    """Build ``features/{train,test,full_test}/`` from the prepared splits and the four models, in
    one process: the shard plan, every shard, and the assembly.

    Works shard by shard (``cfg.shard_rows`` rows of one language of one split, only the columns
    the features use), so memory is bounded by one shard and not by the run; each distinct text is
    scored once per shard. Every finished shard is written to ``work/features/`` at once, and a
    rerun after a crash keeps those scored on the same device (same settings, inputs and models)
    and scores only the rest. One rename then publishes every split and the summary together (a
    split without rows this time leaves no stale output of an earlier run behind).
    """
    paths = RunPaths(run_dir)
    scorers = Scorers(paths.mlm, cfg)  # first: a GPU task on a machine without one stops here
    planned = iter(plan_feature_shards(cfg, run_dir))
    work, plan = _planned(cfg, paths)
    resumed = 0
    for split in plan["splits"]:
        for file in parquet_files(paths.prepared(split)):
            for index, table in enumerate(shard_tables(file, cfg.shard_rows)):
                shard = shard_id(split, file, index)
                if shard != next(planned, None):
                    raise PrepareError(f"{file} changed while its features were scored: run again")
                path = work / f"{shard}.parquet"
                if path.exists() and _shard_footer(path)[2] == scorers.precision:
                    resumed += 1
                    logger.info("features %s: %d rows, finished before: kept", shard, table.num_rows)
                    continue
                features, _ = feature_shard(table, scorers, cfg, progress)
                write_shard(features, path)
                logger.info("features %s: %d rows", shard, features.num_rows)
    return assemble_features(cfg, run_dir, resumed)
