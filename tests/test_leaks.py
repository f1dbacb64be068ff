"""Data that must not leak into the language models' fine-tuning.

The four language models are fine-tuned on the prepared ``train`` rows with ``is_text_train = 1``
only: the classifier's rows (``is_text_train = 0``), the ``test`` and ``full_test`` hold-outs and the
anonymous-only ``anon_train`` collection must never reach their training or evaluation examples,
or the text-model features the classifier learns from would have seen its rows.

A prepared run is written here by hand, as ``kitrain prepare`` writes it (one parquet file per split
and language, the collected schema plus the two keys), with a marker in every text and title of the
rows that must not leak. Pure pandas and parquet: no Spark, no model.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kitrain.config import FinetuneConfig
from kitrain.finetune import training_frames
from kitrain.paths import SPLITS, TARGETS, RunPaths
from kitrain.prepare import IS_BALANCED, IS_TEXT_TRAIN
from kitrain.schema import COLLECTED_COLUMNS, LABEL

MARKER = "LEAKMARKER"
LANGS = ("uk", "ja")
TITLES_PER_LANG = 8
REVISIONS_PER_TITLE = 6  # at least the title model's minimum of 5

_SIMPLE_TYPES = {"string": pa.string(), "bigint": pa.int64(), "int": pa.int32(), "boolean": pa.bool_(),
                 "array<string>": pa.list_(pa.string()),
                 "array<struct<before:string,after:string>>": pa.list_(
                     pa.struct([("before", pa.string()), ("after", pa.string())])),
                 "map<string,int>": pa.map_(pa.string(), pa.int32())}


def prepared_schema() -> pa.Schema:
    """The schema of a prepared split: the collected columns, then the two keys (as prepare's)."""
    fields = [pa.field(name, _SIMPLE_TYPES[dtype]) for name, dtype in COLLECTED_COLUMNS]
    return pa.schema([*fields, pa.field(IS_BALANCED, pa.int32()), pa.field(IS_TEXT_TRAIN, pa.int32())])


def revisions(lang: str, first_id: int, title: str, text: str, is_text_train: list[int] | int,
              titles: int = TITLES_PER_LANG) -> pd.DataFrame:
    """``titles`` pages of ``REVISIONS_PER_TITLE`` revisions each, every revision with exactly one
    inserted, one removed and one changed text (so each is an example of every target). Page ``k``
    has ``1 + k % 5`` reverted revisions: both classes, and a revert rate per title."""
    rows = []
    for k in range(titles):
        for j in range(REVISIONS_PER_TITLE):
            rid = first_id + len(rows)
            rows.append({
                "wiki_db": f"{lang}wiki", "revision_id": rid, "page_title": f"{title}_{lang}_{k}",
                LABEL: int(j < 1 + k % 5), "event_timestamp": "2022-03-01 10:00:00.0",
                "reverting_revision_is_reverted_revision": False,
                "texts_insert": [f"{text} inserted {rid}"], "texts_removed": [f"{text} removed {rid}"],
                "texts_change": [{"before": f"{text} before {rid}", "after": f"{text} after {rid}"}],
                "actions": [("insert_Text", 1)],
                IS_BALANCED: 1,
                IS_TEXT_TRAIN: is_text_train[k] if isinstance(is_text_train, list) else is_text_train,
            })
    frame = pd.DataFrame(rows)
    for name, _ in COLLECTED_COLUMNS:  # the columns fine-tuning does not read: typed nulls
        if name not in frame:
            frame[name] = None
    return frame


def write_prepared(run_dir: str, split: str, lang: str, frame: pd.DataFrame) -> None:
    """One language of one prepared split, as run_prepare writes it."""
    folder = Path(RunPaths(run_dir).prepared(split))
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, schema=prepared_schema(), preserve_index=False)
    pq.write_table(table, folder / f"{lang}.parquet", compression="zstd")


def prepared_run(run_dir: str) -> pd.DataFrame:
    """A prepared run of two languages where only the fine-tuning rows are clean; returns them.

    ``train``: clean fine-tuning rows (``is_text_train = 1``) beside marked classifier rows (0).
    ``test``, ``full_test``, ``anon_train``: marked everywhere, half of their pages with
    ``is_text_train = 1`` (as ``anon_train`` has for the fine-tuning titles), so reading the wrong
    split leaks even where the key is checked. Revision ids never repeat across splits.
    """
    clean = []
    half = [k % 2 for k in range(TITLES_PER_LANG)]
    for n, lang in enumerate(LANGS):
        base = 100_000 * (n + 1)
        text_rows = revisions(lang, base, "Clean_page", "clean", 1)
        classifier_rows = revisions(lang, base + 10_000, f"{MARKER}_page", f"{MARKER} classifier", 0)
        write_prepared(run_dir, "train", lang, pd.concat([text_rows, classifier_rows], ignore_index=True))
        clean.append(text_rows)
        for offset, split in enumerate(s for s in SPLITS if s != "train"):
            write_prepared(run_dir, split, lang, revisions(
                lang, base + 20_000 + 10_000 * offset, f"{MARKER}_{split}", f"{MARKER} {split}", half))
    return pd.concat(clean, ignore_index=True)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[str, pd.DataFrame]:
    run_dir = str(tmp_path_factory.mktemp("leaks"))
    return run_dir, prepared_run(run_dir)


def test_the_hand_made_run_holds_the_markers(run):
    # the test means something only if the rows that must not leak are there, marked
    run_dir, clean = run
    for split in SPLITS:
        frame = pq.read_table(RunPaths(run_dir).prepared(split)).to_pandas()
        marked = frame[frame["page_title"].str.contains(MARKER)]
        assert len(marked) == len(LANGS) * TITLES_PER_LANG * REVISIONS_PER_TITLE
        assert marked["texts_insert"].map(lambda t: MARKER in t[0]).all()
        if split != "train":
            assert marked[IS_TEXT_TRAIN].eq(1).any()
    assert not clean["page_title"].str.contains(MARKER).any()


def _strings(frame: pd.DataFrame) -> list[str]:
    return [str(v) for column in frame.columns for v in frame[column].tolist()]


@pytest.mark.parametrize("target", TARGETS)
def test_fine_tuning_sees_only_the_fine_tuning_rows(run, target):
    run_dir, clean = run
    train, evaluation = training_frames(FinetuneConfig(target=target), run_dir)
    assert len(train) and len(evaluation)
    for part in (train, evaluation):
        leaked = [v for v in _strings(part) if MARKER in v]
        assert not leaked, f"{target}: classifier or hold-out rows reached the fine-tuning: {leaked[:3]}"
    both = pd.concat([train, evaluation], ignore_index=True)
    if target == "title":
        # exactly the fine-tuning pages, each with the revert rate of its fine-tuning revisions
        rates = clean.groupby(["wiki_db", "page_title"])[LABEL].mean()
        expected = {(wiki, title.replace("_", " "), round(rate, 4)) for (wiki, title), rate in rates.items()}
        assert {(w, t, round(float(r), 4)) for w, t, r in zip(both["wiki_db"], both["text"], both["label"])} \
            == expected
    else:
        # every example is a fine-tuning revision, with its own label, from both languages
        assert set(both["revision_id"]) <= set(clean["revision_id"])
        labels = dict(zip(clean["revision_id"], clean[LABEL]))
        assert all(labels[r] == y for r, y in zip(both["revision_id"], both["label"]))
        assert set(both["wiki_db"]) == {f"{lang}wiki" for lang in LANGS}
        if target == "changes":
            assert both["text_pair"].str.startswith("clean after").all()
