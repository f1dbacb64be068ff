"""Preparation (``kitrain prepare``): every collected language into train, test and hold-out splits.

Per language, from the ``train``-mode collection: a timestamp split at the validation date into
``train`` (before) and ``test`` (from then on), the revision-war filter, ``is_balanced`` (all reverted
revisions plus an equal seeded sample of the others) and, on ``train`` only, ``is_text_train`` (a
seeded share of the page titles goes to the language-model fine-tuning, the rest to the classifier,
so no title is on both sides). From the ``test``-mode collection: ``full_test`` with the same filter
and balance key.

Languages are processed one at a time, each in two passes: the splits and keys are decided on a
few key columns, then the whole rows stream through in ``revision_id`` order (memory stays bounded
by the key columns of the largest language and a batch per part file), and each gets
its own random stream derived from the seed and its code, so adding a language never changes the
samples of the others.
"""

from __future__ import annotations

import logging
import os
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kitrain.atomic import atomic_dir, parquet_files, read_json, read_table, write_json
from kitrain.config import PrepareConfig
from kitrain.languages import LanguageError, validate_language
from kitrain.paths import ANON_SPLIT, SPLITS, RunPaths
from kitrain.editors import GROUPS, groups_of_arrays
from kitrain.schema import LABEL, USER_ANONYMOUS, USER_TEMPORARY

logger = logging.getLogger(__name__)

#: Rows per row group of a prepared file: the later stages read a language's file a shard at a
#: time, and a parquet reader holds a whole row group (pyarrow's default is a million rows).
ROW_GROUP_ROWS = 10_000

IS_BALANCED = "is_balanced"
IS_TEXT_TRAIN = "is_text_train"


class PrepareError(ValueError):
    """The run directory does not hold what preparation needs."""


def language_rng(seed: int, lang: str, purpose: str) -> np.random.Generator:
    """A random stream of its own for each (seed, language, purpose)."""
    return np.random.default_rng([seed, zlib.crc32(lang.encode()), zlib.crc32(purpose.encode())])


def split_by_date(df: pd.DataFrame, date: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows before ``date`` and rows from ``date`` on (``event_timestamp`` is an ISO string)."""
    before = df["event_timestamp"] < date
    return df[before], df[~before]


def drop_revision_wars(df: pd.DataFrame) -> pd.DataFrame:
    """Drop revisions whose reverting revision was itself reverted."""
    return df[~df["reverting_revision_is_reverted_revision"].eq(True)]


def balance_key(df: pd.DataFrame, rng: np.random.Generator) -> pd.Series:
    """0/1: all reverted revisions plus an equal random sample of the others (or all of them)."""
    ordered = df.sort_values("revision_id")
    reverted = ordered[ordered[LABEL] == 1]["revision_id"].to_numpy()
    kept = ordered[ordered[LABEL] != 1]["revision_id"].to_numpy()
    sample = rng.choice(kept, size=min(len(reverted), len(kept)), replace=False) if len(kept) else kept
    chosen = set(reverted.tolist()) | set(sample.tolist())
    return df["revision_id"].isin(chosen).astype("int32")


def text_train_titles(df: pd.DataFrame, share: float, rng: np.random.Generator) -> set[str]:
    """A random ``share`` of the unique page titles: the language models are fine-tuned on them."""
    titles = np.array(sorted(df["page_title"].fillna("").unique().tolist()), dtype=object)
    picked = rng.choice(titles, size=int(len(titles) * share), replace=False) if len(titles) else titles
    return set(picked.tolist())


def title_key(df: pd.DataFrame, titles: set[str]) -> pd.Series:
    """0/1: the revisions of one of ``titles``."""
    return df["page_title"].fillna("").isin(titles).astype("int32")


def text_train_key(df: pd.DataFrame, share: float, rng: np.random.Generator) -> pd.Series:
    """0/1: the revisions of a random ``share`` of the unique page titles (1 = fine-tuning)."""
    return title_key(df, text_train_titles(df, share, rng))


def prepare_language(
    train_mode: pd.DataFrame | None, test_mode: pd.DataFrame | None, cfg: PrepareConfig, lang: str,
    anon_mode: pd.DataFrame | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """The splits of one language and their counts.

    ``anon_mode``, the anonymous-only collection, gives ``anon_train``: its rows before the
    validation date. Its ``is_text_train`` marks the titles the language models are fine-tuned on
    (those of the all-users ``train`` split), so that the anonymous classifiers, like the others,
    never train on a page the language models saw.
    """
    out: dict[str, pd.DataFrame] = {}
    counts: dict[str, Any] = {}
    text_titles: set[str] = set()

    def finish(split: str, frame: pd.DataFrame, text_share: bool) -> None:
        nonlocal text_titles
        read = len(frame)
        if cfg.filter_rw:
            frame = drop_revision_wars(frame)
        frame = frame.copy()
        frame[IS_BALANCED] = balance_key(frame, language_rng(cfg.seed, lang, f"balance-{split}"))
        if text_share:
            text_titles = text_train_titles(frame, cfg.text_train_share, language_rng(cfg.seed, lang, "text-train"))
            frame[IS_TEXT_TRAIN] = title_key(frame, text_titles)
        elif split == ANON_SPLIT:
            frame[IS_TEXT_TRAIN] = title_key(frame, text_titles)
        else:
            frame[IS_TEXT_TRAIN] = pd.Series(0, index=frame.index, dtype="int32")
        frame = frame.sort_values("revision_id").reset_index(drop=True)
        out[split] = frame
        counts[split] = {
            "rows_in": read,
            "dropped_revision_wars": read - len(frame),
            "rows": len(frame),
            "reverted": int(frame[LABEL].sum()),
            "revert_rate": round(float(frame[LABEL].mean()), 6) if len(frame) else None,
            "balanced_rows": int(frame[IS_BALANCED].sum()),
            "text_train_rows": int(frame[IS_TEXT_TRAIN].sum()),
            "editors": editor_counts(frame),
        }

    if train_mode is not None:
        before, after = split_by_date(train_mode, cfg.validation_date)
        finish("train", before, text_share=True)
        finish("test", after, text_share=False)
    if test_mode is not None:
        finish("full_test", test_mode, text_share=False)
    if anon_mode is not None:
        finish(ANON_SPLIT, split_by_date(anon_mode, cfg.validation_date)[0], text_share=False)
    return out, counts


def editor_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Rows by editor group (:mod:`kitrain.editors`): IP editors, temporary accounts, registered."""
    groups = groups_of_arrays(frame[USER_ANONYMOUS].to_numpy(), frame[USER_TEMPORARY].to_numpy())
    return {group: int((groups == group).sum()) for group in GROUPS}


def collected_languages(mode_dir: Path) -> dict[str, Path]:
    if not mode_dir.is_dir():
        return {}
    found = {}
    for entry in sorted(mode_dir.iterdir()):
        if entry.name.startswith((".", "_")):
            continue  # unfinished or replaced outputs of collection
        try:
            found[validate_language(entry.name)] = entry
        except LanguageError as exc:
            raise PrepareError(f"unexpected directory {entry} in the collected data: {exc}") from None
    return found


#: The text rules of collections written before the diff had a choice of rules.
LEGACY_TEXT_RULES = "multiscript"


def collection_text_rules(paths: RunPaths, collections: list[tuple[str, str]]) -> dict[str, str]:
    """The diff's text rules of each collection ``(prefix, mode)`` of the run, ``"<prefix>/<lang>"``
    -> rules, from the quality reports (a report without them predates the choice: ``multiscript``)."""
    found = {}
    for prefix, mode in collections:
        for lang in collected_languages(Path(paths.collected_mode(prefix, mode))):
            report = read_json(paths.collect_quality(prefix, mode, lang)) or {}
            found[f"{prefix}/{lang}"] = (report.get("config") or {}).get("text_rules", LEGACY_TEXT_RULES)
    return found


def check_one_text_rules(found: dict[str, str]) -> str | None:
    """The one set of text rules of the run's collections; languages diffed by different rules
    would give one model texts cut two ways, so they are refused."""
    rules = sorted(set(found.values()))
    if len(rules) > 1:
        by_rules = {r: sorted(k for k, v in found.items() if v == r) for r in rules}
        raise PrepareError(f"the collections used different text rules: {by_rules}; collect them "
                           f"again with one --text-rules")
    return rules[0] if rules else None


#: The collected columns the splits and their keys are decided on; the rest of a row (its texts,
#: its ``actions`` map: most of its bytes) is only streamed through.
KEY_COLUMNS = ["revision_id", "event_timestamp", LABEL, "reverting_revision_is_reverted_revision", "page_title",
               USER_ANONYMOUS, USER_TEMPORARY]
#: Rows per batch read from a collected file while streaming; the merge holds about one batch
#: per file (or sorted run) at a time.
STREAM_BATCH_ROWS = 2_000
#: Rows of an unsorted collected file sorted in memory at a time into a run of ``work/``.
SORT_RUN_ROWS = 50_000


def collected_files(path: Path) -> list[Path]:
    """The data files of one collected language (Spark's part files; hidden and ``_`` files, such
    as ``_SUCCESS`` and checksums, are not data), in name order."""
    return sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith((".", "_")))


def _open(path: Path, folder: Path) -> pq.ParquetFile:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise PrepareError(f"cannot read collected data {folder} ({path.name}): {exc}") from exc


def _batches(path: Path, folder: Path, columns: list[str] | None = None,
             batch_rows: int | None = None) -> Iterator[pa.RecordBatch]:
    reader = _open(path, folder)
    try:
        yield from reader.iter_batches(batch_size=batch_rows or STREAM_BATCH_ROWS, columns=columns)
    except (pa.ArrowInvalid, OSError) as exc:
        raise PrepareError(f"cannot read collected data {folder} ({path.name}): {exc}") from exc


def _arrow_strings(dtype: pa.DataType) -> Any:
    """pandas' type for an Arrow string column of the key frame: the Arrow strings themselves."""
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return pd.ArrowDtype(dtype)
    return None


class Collection:
    """One collected language: its files, its schema, its key columns, and which of its files
    hold their rows in ``revision_id`` order (Spark's, sorted within each part file)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files = collected_files(folder)
        if not self.files:
            raise PrepareError(f"cannot read collected data {folder}: it holds no data file")
        self.schema = _open(self.files[0], folder).schema_arrow.remove_metadata()
        if USER_TEMPORARY not in self.schema.names:
            # its event_user_is_anonymous flags IP editors only: mixed with today's collections it
            # would make "anonymous" mean two things in one model
            raise PrepareError(
                f"collected data {folder} has no {USER_TEMPORARY} column: an older kitrain collected it, "
                f"and its {USER_ANONYMOUS} means IP editors only, not logged-out editors (IP or "
                f"temporary account); collect {folder.name} again"
            )
        missing = [c for c in KEY_COLUMNS if c not in self.schema.names]
        if missing:
            raise PrepareError(f"collected data {folder} has no column(s) {missing}: collect {folder.name} again")
        keys, self.sorted_files = [], []
        for file in self.files:
            try:
                part = _open(file, folder).read(columns=KEY_COLUMNS).replace_schema_metadata(None)
            except (pa.ArrowInvalid, OSError) as exc:
                raise PrepareError(f"cannot read collected data {folder} ({file.name}): {exc}") from exc
            ids = part["revision_id"].to_numpy()
            self.sorted_files.append(bool(np.all(ids[1:] > ids[:-1])))
            keys.append(part)
        # the strings (titles, timestamps) stay in Arrow's buffers, about a third of the bytes of a
        # Python string per cell; they compare, sort and match as the Python strings do
        self.keys = pa.concat_tables(keys, promote_options="permissive").to_pandas(types_mapper=_arrow_strings)

    def runs(self, work: Path) -> list[Iterator[pa.RecordBatch]]:
        """Streams of whole rows, each ascending by ``revision_id``: a sorted file as it is, an
        unsorted one cut into runs of :data:`SORT_RUN_ROWS` rows sorted in memory and written to
        ``work`` (an external sort; Spark's files never need it)."""
        runs: list[Iterator[pa.RecordBatch]] = []
        for file, in_order in zip(self.files, self.sorted_files):
            if in_order:
                runs.append(_batches(file, self.folder))
                continue
            logger.info("%s: %s is not in revision_id order: sorted in runs of %d rows", self.folder,
                        file.name, SORT_RUN_ROWS)
            for index, batch in enumerate(_batches(file, self.folder, batch_rows=SORT_RUN_ROWS)):
                table = pa.Table.from_batches([batch])
                table = table.take(pc.sort_indices(table["revision_id"]))
                run = work / f"{uuid.uuid4().hex}-{index:05d}.parquet"
                pq.write_table(table, run)
                runs.append(_batches(run, self.folder))
        return runs


def merge_runs(runs: list[Iterator[pa.RecordBatch]]) -> Iterator[pa.Table]:
    """The rows of several streams, each ascending by ``revision_id``, as one ascending stream in
    chunks of about one batch per stream.

    Every stream's buffered rows up to the smallest of their last ids can be emitted: no stream
    holds a smaller id still to come. The stream that set that bound is emptied, so each round
    makes progress, and memory stays at one batch per stream."""
    buffers: list[pa.Table | None] = [None] * len(runs)
    last: list[int | None] = [None] * len(runs)  # each stream's last id so far: it must only grow
    live = list(range(len(runs)))
    while True:
        for i in list(live):
            while buffers[i] is None or buffers[i].num_rows == 0:
                batch = next(runs[i], None)
                if batch is None:
                    live.remove(i)
                    buffers[i] = None
                    break
                ids = batch.column("revision_id").to_numpy()
                if len(ids) and (np.any(ids[1:] <= ids[:-1]) or (last[i] is not None and ids[0] <= last[i])):
                    raise PrepareError(f"collected rows out of revision_id order (or repeated) in stream {i}: "
                                       "cannot merge them")
                if len(ids):
                    last[i] = int(ids[-1])
                buffers[i] = pa.Table.from_batches([batch])
        if not live:
            return
        bound = min(buffers[i]["revision_id"][-1].as_py() for i in live)
        parts = []
        for i in live:
            ids = buffers[i]["revision_id"].to_numpy()
            cut = int(np.searchsorted(ids, bound, side="right"))
            parts.append(buffers[i].slice(0, cut))
            buffers[i] = buffers[i].slice(cut)
        chunk = pa.concat_tables(parts, promote_options="permissive")
        yield chunk.take(pc.sort_indices(chunk["revision_id"]))


class SplitWriter:
    """The prepared file of one split of one language, written in row groups of
    :data:`ROW_GROUP_ROWS` as the rows of the split stream by, with the split's two keys."""

    def __init__(self, path: Path, schema: pa.Schema, keys: pd.DataFrame) -> None:
        self.schema = schema
        self.ids = keys["revision_id"].to_numpy()
        self.balanced = keys[IS_BALANCED].to_numpy(dtype=np.int32)
        self.text_train = keys[IS_TEXT_TRAIN].to_numpy(dtype=np.int32)
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")
        self.pending: list[pa.Table] = []
        self.pending_rows = self.rows = 0

    def add(self, chunk: pa.Table) -> None:
        """Keep the chunk's rows of this split (by revision id) with their keys."""
        if not len(self.ids) or not chunk.num_rows:
            return
        ids = chunk["revision_id"].to_numpy()
        pos = np.searchsorted(self.ids, ids)
        member = pos < len(self.ids)
        member[member] = self.ids[pos[member]] == ids[member]
        if not member.any():
            return
        pos = pos[member]
        rows = chunk.filter(pa.array(member))
        rows = rows.append_column(IS_BALANCED, pa.array(self.balanced[pos], pa.int32()))
        rows = rows.append_column(IS_TEXT_TRAIN, pa.array(self.text_train[pos], pa.int32()))
        self.pending.append(rows.select(self.schema.names).cast(self.schema))
        self.pending_rows += rows.num_rows
        if self.pending_rows >= ROW_GROUP_ROWS:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        table = pa.concat_tables(self.pending)
        whole = table.num_rows if final else table.num_rows - table.num_rows % ROW_GROUP_ROWS
        if whole:
            self.writer.write_table(table.slice(0, whole), row_group_size=ROW_GROUP_ROWS)
        rest = table.slice(whole)
        self.pending, self.pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
        self.rows += whole

    def close(self) -> int:
        """Write what is left; the rows written (the split's rows, checked by the caller)."""
        if self.pending:
            self._flush(final=True)
        self.writer.close()
        return self.rows


def _output_schema(schema: pa.Schema) -> pa.Schema:
    """The collected schema plus the two keys; every file of a split shares it, empty ones too."""
    return schema.remove_metadata().append(pa.field(IS_BALANCED, pa.int32())).append(
        pa.field(IS_TEXT_TRAIN, pa.int32()))


def stream_splits(collection: Collection, splits: dict[str, pd.DataFrame], dirs: dict[str, Path],
                  lang: str, schema: pa.Schema, work: Path) -> None:
    """Write the ``splits`` drawn from one collection (their keys decided on its key columns) by
    one ordered pass over its rows: each row goes to the split that holds its revision id."""
    writers = {split: SplitWriter(dirs[split] / f"{lang}.parquet", schema, keys) for split, keys in splits.items()}
    for chunk in merge_runs(collection.runs(work)):
        for writer in writers.values():
            writer.add(chunk)
    for split, writer in writers.items():
        written = writer.close()
        if written != len(splits[split]):
            raise PrepareError(f"{lang} {split}: {written} rows written of the {len(splits[split])} chosen: "
                               f"the collected data in {collection.folder} changed while it was read")


def run_prepare(cfg: PrepareConfig, run_dir: str) -> dict[str, Any]:
    """Prepare every language collected in ``run_dir``; publish the three splits atomically."""
    paths = RunPaths(run_dir)
    train_langs = collected_languages(Path(paths.collected_mode(cfg.prefix, "train")))
    test_langs = collected_languages(Path(paths.collected_mode(cfg.test_prefix, "test")))
    anon_langs = collected_languages(Path(paths.collected_mode(cfg.anon_prefix, "train")))
    languages = sorted(set(train_langs) | set(test_langs))
    if set(anon_langs) - set(languages):
        logger.warning("anonymous-only collections without an all-users one are not used: %s",
                       sorted(set(anon_langs) - set(languages)))
    if not languages:
        raise PrepareError(
            f"no collected languages in {paths.collected_mode(cfg.prefix, 'train')} or "
            f"{paths.collected_mode(cfg.test_prefix, 'test')}: run `kitrain collect` first"
        )
    collections = [(cfg.prefix, "train"), (cfg.test_prefix, "test"), (cfg.anon_prefix, "train")]
    text_rules = check_one_text_rules(collection_text_rules(paths, collections))
    for lang in languages:
        if lang not in train_langs:
            logger.warning("%s has no train-mode collection: it gets no train/test rows", lang)
        if lang not in test_langs:
            logger.warning("%s has no test-mode collection: it gets no full_test rows", lang)

    summary: dict[str, Any] = {"config": cfg.to_dict(), "text_rules": text_rules, "languages": {}, "totals": {}}
    # one rename publishes the three splits and the summary together: a reader never sees the
    # train split of one run beside the test split of another
    with atomic_dir(paths.prepared_root()) as root:
        dirs = {split: root / split for split in SPLITS}
        for folder in dirs.values():
            folder.mkdir()
        work = root / ".sort-runs"
        work.mkdir()
        for lang in languages:
            train = Collection(train_langs[lang]) if lang in train_langs else None
            test = Collection(test_langs[lang]) if lang in test_langs else None
            anon = Collection(anon_langs[lang]) if lang in anon_langs and lang in train_langs else None
            schema = _output_schema((train if train is not None else test).schema)
            splits, counts = prepare_language(
                train.keys if train is not None else None, test.keys if test is not None else None,
                cfg, lang, anon.keys if anon is not None else None,
            )
            # the keys were decided on the key columns; the whole rows now stream through once,
            # with no more of the keys than each split's revision ids and its two keys
            splits = {name: frame[["revision_id", IS_BALANCED, IS_TEXT_TRAIN]] for name, frame in splits.items()}
            for collection in (train, test, anon):
                if collection is not None:
                    collection.keys = None
            for collection, names in ((train, ("train", "test")), (test, ("full_test",)), (anon, (ANON_SPLIT,))):
                if collection is not None:
                    stream_splits(collection, {n: splits[n] for n in names if n in splits}, dirs, lang,
                                  schema, work)
            for leftover in work.iterdir():
                leftover.unlink()
            summary["languages"][lang] = counts
            logger.info("%s: %s", lang, {s: c["rows"] for s, c in counts.items()})
        for split in SPLITS:
            rows = [c[split] for c in summary["languages"].values() if split in c]
            total = sum(r["rows"] for r in rows)
            summary["totals"][split] = {
                "rows": total,
                "reverted": sum(r["reverted"] for r in rows),
                "revert_rate": round(sum(r["reverted"] for r in rows) / total, 6) if total else None,
            }
        work.rmdir()
        write_json(root / Path(paths.prepared_summary()).name, summary)
    return summary


def read_split(run_dir: str, split: str, columns: list[str] | None = None) -> pd.DataFrame:
    """All languages of a prepared split as one frame."""
    path = RunPaths(run_dir).prepared(split)
    if not os.path.isdir(path):
        raise PrepareError(f"no prepared split at {path}: run `kitrain prepare` first")
    files = parquet_files(path)
    if not files:
        raise PrepareError(f"prepared split {path} is empty")
    return pd.concat([read_table(f, columns=columns).to_pandas() for f in files], ignore_index=True)
