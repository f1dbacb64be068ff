"""Preparation (``kitrain prepare``): every collected language into train, test and hold-out splits.

Per language, from the ``train``-mode collection: a timestamp split at the validation date into
``train`` (before) and ``test`` (from then on), the revision-war filter, ``is_balanced`` (all reverted
revisions plus an equal seeded sample of the others) and, on ``train`` only, ``is_text_train`` (a
seeded share of the page titles goes to the language-model fine-tuning, the rest to the classifier,
so no title is on both sides). From the ``test``-mode collection: ``full_test`` with the same filter
and balance key.

Languages are processed one at a time (memory stays bounded by the largest language) and each gets
its own random stream derived from the seed and its code, so adding a language never changes the
samples of the others.
"""

from __future__ import annotations

import logging
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
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


def _read(path: Path) -> pa.Table:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise PrepareError(f"cannot read collected data {path}: {exc}") from exc
    if USER_TEMPORARY not in table.schema.names:
        # its event_user_is_anonymous flags IP editors only: mixed with today's collections it
        # would make "anonymous" mean two things in one model
        raise PrepareError(
            f"collected data {path} has no {USER_TEMPORARY} column: an older kitrain collected it, "
            f"and its {USER_ANONYMOUS} means IP editors only, not logged-out editors (IP or "
            f"temporary account); collect {path.name} again"
        )
    return table


def _output_schema(table: pa.Table) -> pa.Schema:
    """The collected schema plus the two keys; every file of a split shares it, empty ones too."""
    schema = table.schema.remove_metadata()
    return schema.append(pa.field(IS_BALANCED, pa.int32())).append(pa.field(IS_TEXT_TRAIN, pa.int32()))


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
        for lang in languages:
            train_table = _read(train_langs[lang]) if lang in train_langs else None
            test_table = _read(test_langs[lang]) if lang in test_langs else None
            anon_table = _read(anon_langs[lang]) if lang in anon_langs and lang in train_langs else None
            schema = _output_schema(train_table if train_table is not None else test_table)
            splits, counts = prepare_language(
                train_table.to_pandas() if train_table is not None else None,
                test_table.to_pandas() if test_table is not None else None,
                cfg, lang,
                anon_table.to_pandas() if anon_table is not None else None,
            )
            for split, frame in splits.items():
                table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
                pq.write_table(table, dirs[split] / f"{lang}.parquet", compression="zstd",
                               row_group_size=ROW_GROUP_ROWS)
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
