"""One language collected in several modes reads each source once (``collect.collect_language``).

The modes select their rows first, then the texts of all of them are read in one pass over the
text table (or one pass over the XML dump), and each mode goes on from there: the same rows and
the same ``quality.json`` as a collection of that mode alone. Scans are counted from Spark's own
SQL metrics, as ``benchmarks/collect_scans.py`` counts them. Also here: the history extract's
``reverting`` lookup restricted to the ids the window names, one ``distinct`` for the duplicates,
and the Arrow batch size of the diff.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from benchmarks.collect_scans import executed_scans, last_execution_id, scans_by_table
from kitrain import collect, dumps
from kitrain.config import CollectConfig
from kitrain.paths import RunPaths
from kitrain.spark import CONTENT_TABLE, HISTORY_TABLE
from tests.test_dumps import dumps_dir  # noqa: F401 (the module fixture of the dump files)

pytestmark = pytest.mark.spark

MODES = ("train", "test")


def rows(path: str) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values("revision_id").reset_index(drop=True)


def comparable(report: dict) -> dict:
    """A quality report without what names its run directory."""
    return {key: value for key, value in report.items() if key != "output"}


@pytest.fixture(scope="module")
def together(spark, demo_source, tmp_path_factory, monkeypatch_module):
    """uk collected in both modes by one ``collect_language`` call, with the settings of the
    shared demo run (whose modes were collected alone): (run_dir, reports, scans, calls)."""
    run_dir = tmp_path_factory.mktemp("together")
    configs = [CollectConfig(lang="uk", mode=mode, source="parquet", source_dir=str(demo_source)) for mode in MODES]
    calls = {"read_texts": 0, "distinct": 0}
    real_read_texts = collect.read_texts

    def read_texts(*args, **kwargs):
        calls["read_texts"] += 1
        return real_read_texts(*args, **kwargs)

    DataFrame = type(spark.range(1))  # the classic DataFrame class, whose distinct the steps call
    real_distinct = DataFrame.distinct

    def distinct(self):
        if "reverting_revision_missing" in self.columns:  # the window's rows, not the texts' ids
            calls["distinct"] += 1
        return real_distinct(self)

    monkeypatch_module.setattr(collect, "read_texts", read_texts)
    monkeypatch_module.setattr(DataFrame, "distinct", distinct)

    # the text batches: the session's settings when each step that reads or caches texts is built
    # (its jobs run right after, in the same step), and the row groups of the scratch text table
    calls["settings"] = {}
    calls["scratch_row_groups"] = []

    def settings_at(step, real):
        def spy(*args, **kwargs):
            calls["settings"].setdefault(step, []).append(
                {key: spark.conf.get(key, None) for key in collect.TEXT_BATCH_SETTINGS})
            return real(*args, **kwargs)
        return spy

    real_write = collect.write_published

    def write_published(df, path):
        settings_at("write", real_write)(df, path)
        if "-texts-" in path:
            import pyarrow.parquet as pq
            for part in Path(path).glob("*.parquet"):
                meta = pq.ParquetFile(part).metadata
                calls["scratch_row_groups"].append([(meta.row_group(i).num_rows, meta.row_group(i).total_byte_size)
                                                    for i in range(meta.num_row_groups)])

    monkeypatch_module.setattr(collect, "COLLECTED_ROW_GROUP_BYTES", 64 * 1024)
    monkeypatch_module.setattr(collect, "write_published", write_published)
    for step in ("attach_one_texts", "compute_diffs"):
        monkeypatch_module.setattr(collect, step, settings_at(step, getattr(collect, step)))
    before = {key: spark.conf.get(key, None) for key in collect.TEXT_BATCH_SETTINGS}
    real_register = collect.register_content_view

    def register_content_view(*args, **kwargs):
        calls["content_view"] = kwargs
        return real_register(*args, **kwargs)

    monkeypatch_module.setattr(collect, "register_content_view", register_content_view)
    calls["text_persisted"] = []
    real_persist = DataFrame.persist

    def persist(self, *args, **kwargs):
        frame = real_persist(self, *args, **kwargs)
        if {"revision_text", "texts_insert"} & set(self.columns):
            calls["text_persisted"].append(frame.storageLevel)
        return frame

    monkeypatch_module.setattr(DataFrame, "persist", persist)

    after = last_execution_id(spark)
    reports = collect.collect_language(spark, configs, str(run_dir))
    scans = scans_by_table(executed_scans(spark, after), {"history": HISTORY_TABLE, "text": CONTENT_TABLE})
    monkeypatch_module.undo()
    calls["settings_after"] = {key: spark.conf.get(key, None) for key in collect.TEXT_BATCH_SETTINGS}
    calls["settings_before"] = before
    return run_dir, reports, scans, calls


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def test_the_text_table_is_scanned_once_for_every_mode(together):
    _, reports, scans, calls = together
    assert [r["mode"] for r in reports] == list(MODES) and all(r["rows"] > 0 for r in reports)
    # one scan of the text table for both modes (each mode alone scans it itself), and one of
    # the history table
    assert scans["text"]["scans"] == 1, scans["text"]
    assert calls["read_texts"] == 1
    assert scans["history"]["scans"] == 1, scans["history"]
    # one distinct of each mode's window serves the duplicates and their count
    assert calls["distinct"] == len(MODES)


def test_texts_are_read_and_cached_in_small_batches(together):
    # Spark's vectorized reader (4,096 rows) and its in-memory column store (10,000 rows) each hold
    # a batch's strings in one on-heap array: every step that reads, caches or writes texts runs
    # with batches of TEXT_BATCH_ROWS rows, and the session's own settings are back afterwards
    _, _, _, calls = together
    small = {key: str(collect.TEXT_BATCH_ROWS) for key in collect.TEXT_BATCH_SETTINGS}
    assert collect.TEXT_BATCH_ROWS == 16
    assert set(calls["settings"]) == {"attach_one_texts", "compute_diffs", "write"}
    # write: the scratch texts, then each mode's published files
    assert [len(calls["settings"][step]) for step in ("attach_one_texts", "compute_diffs", "write")] == \
        [len(MODES), len(MODES), 1 + len(MODES)]
    assert all(seen == small for steps in calls["settings"].values() for seen in steps), calls["settings"]
    assert calls["settings_after"] == calls["settings_before"] != small
    # the frames with texts (each mode's texts attached, and its diff's texts) are cached on disk alone:
    # a memory level reads a spilled block back into one heap buffer
    levels = calls["text_persisted"]
    assert len(levels) == 2 * len(MODES) and all(lv.useDisk and not lv.useMemory for lv in levels), levels
    # and Iceberg's reader of the content table is asked for the same batch size
    assert calls["content_view"] == {"batch_rows": collect.TEXT_BATCH_ROWS}
    # the scratch text table is written in row groups of the budget (64 KiB here), not of 128 MiB:
    # its 190 KB of texts are cut where parquet-mr first checks the size (after 100 rows), where
    # 128 MiB would make one row group a file
    files = calls["scratch_row_groups"]
    assert files and sum(len(groups) for groups in files) > len(files), files


def test_each_mode_gets_the_rows_and_the_report_of_a_collection_alone(together, demo_run):
    run_dir, reports, _, _ = together
    alone_dir, alone = demo_run
    for report in reports:
        mode = report["mode"]
        single = alone["uk", mode]
        assert comparable(report) == comparable(single)
        written = json.loads(Path(RunPaths(str(run_dir)).collect_quality(report["config"]["prefix"], mode, "uk"))
                             .read_text())
        assert comparable(written) == comparable(single)
        pd.testing.assert_frame_equal(rows(report["output"]), rows(single["output"]))
    # nothing left in the scratch directory: the texts read for the modes are removed
    assert not list(Path(RunPaths(str(run_dir)).scratch()).glob("collect/*"))


def test_an_empty_window_of_any_mode_publishes_no_mode_and_reads_no_text(spark, demo_source, tmp_path):
    # the hold-out week lies in 2019, before the snapshot's revisions: found while the modes
    # select their rows, before the texts are read, so the train window is not published either
    from kitrain.collect import EmptyCollectionError

    configs = [CollectConfig(lang="uk", mode=mode, source="parquet", source_dir=str(demo_source),
                             test_start="2019-07-01", test_end="2019-07-08") for mode in MODES]
    after = last_execution_id(spark)
    with pytest.raises(EmptyCollectionError, match=r"window 2019-07-01\.\.2019-07-08 \(test\): 0 revisions"):
        collect.collect_language(spark, configs, str(tmp_path / "run"))
    scans = scans_by_table(executed_scans(spark, after), {"text": CONTENT_TABLE})
    assert scans["text"]["scans"] == 0
    assert not (tmp_path / "run" / "collected").exists() and not (tmp_path / "run" / "quality").exists()


def test_the_dump_xml_is_read_once_and_each_mode_counts_its_own_revisions(
        spark, dumps_dir, demo_run, tmp_path, monkeypatch):  # noqa: F811 (the imported fixture)
    # two collections of the hold-out week (the DAG's third one is an anonymous-only train
    # window): the XML is read once, and each counts its own revisions as if alone
    calls = []
    real = dumps.register_wikitext

    def register_wikitext(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(dumps, "register_wikitext", register_wikitext)
    configs = [CollectConfig(lang="uk", mode="test", source="dumps", dumps_dir=str(dumps_dir), use_cache=True),
               CollectConfig(lang="uk", mode="test", source="dumps", dumps_dir=str(dumps_dir), use_cache=True,
                             filter_anon=True, prefix="anon_test")]
    run_dir = str(tmp_path / "run")
    everyone, anonymous = collect.collect_language(spark, configs, run_dir)
    assert len(calls) == 1 and "history_files" in everyone["source"]  # the first mode read the history
    # alone, from the history extract cached by the run above (the TSV files are not read again)
    alone = collect.run_collect(spark, dataclasses.replace(configs[1], prefix="anon_alone"), run_dir)
    assert len(calls) == 2
    assert anonymous["source"] == alone["source"] and anonymous["steps"] == alone["steps"]
    pd.testing.assert_frame_equal(rows(anonymous["output"]), rows(alone["output"]))
    # the one read wanted the revisions of both; each report counts its own
    assert everyone["source"]["wanted_revisions"] > anonymous["source"]["wanted_revisions"] > 0
    for source in (everyone["source"], anonymous["source"]):
        assert source["revisions_with_text"] + source["revisions_without_text"] + source["revisions_not_in_dump"] \
            == source["wanted_revisions"]
    # the dumps give the rows of the parquet copies
    pd.testing.assert_frame_equal(rows(everyone["output"]), rows(demo_run[1]["uk", "test"]["output"]))


def test_modes_that_cannot_share_the_reads_are_refused(spark, demo_source, tmp_path):
    from kitrain.config import ConfigError

    configs = [CollectConfig(lang="uk", mode="train", source="parquet", source_dir=str(demo_source)),
               CollectConfig(lang="uk", mode="test", source="parquet", source_dir=str(demo_source),
                             text_source="wikitext_history")]
    with pytest.raises(ConfigError, match="text_source is 'content_history' for train, 'wikitext_history' for test"):
        collect.collect_language(spark, configs, str(tmp_path))
    assert not any(tmp_path.iterdir())


def test_published_files_are_cut_into_row_groups_of_the_budget(spark, tmp_path, monkeypatch):
    # prepare holds one decoded row group of each part file while it merges them: the collection
    # writes row groups of COLLECTED_ROW_GROUP_BYTES, not parquet-mr's 128 MiB (here 64 KiB, on
    # 3,000 rows of 1 KB texts: about 3 MB, at least 20 row groups)
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    monkeypatch.setattr(collect, "COLLECTED_ROW_GROUP_BYTES", 64 * 1024)
    frame = spark.range(3000).select(F.col("id").alias("revision_id"),
                                     F.sha2(F.col("id").cast("string"), 512).alias("h")) \
        .select("revision_id", F.repeat("h", 8).alias("text")).coalesce(1)
    collect.write_published(frame, str(tmp_path / "out"))
    files = list((tmp_path / "out").glob("*.parquet"))
    meta = pq.ParquetFile(files[0]).metadata
    assert len(files) == 1 and meta.num_rows == 3000
    assert meta.num_row_groups >= 20, meta.num_row_groups
    assert max(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups)) < 4 * 64 * 1024


# -- the diff's Arrow batches ---------------------------------------------------------------------

def test_the_diff_runs_in_arrow_batches_of_the_budget(spark, demo_source, tmp_path, monkeypatch):
    # the diff is swapped for one that fails every row with its batch's size as the error class,
    # so that quality.json's diff_failures tells the batch sizes the Python workers got
    def batch_sizes(batches, **kwargs):
        for batch in batches:
            out = batch.drop(columns=["parent_text", "revision_text"])
            for column in ("texts_removed", "texts_insert", "texts_change", "actions"):
                out[column] = None
            out[collect.DIFF_ERROR] = f"Batch{len(batch)}"
            yield out

    monkeypatch.setattr(collect, "diff_pandas", batch_sizes)
    cfg = CollectConfig(lang="uk", mode="test", source="parquet", source_dir=str(demo_source), diff_partitions=1)
    before = spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch")
    report = collect.run_collect(spark, cfg, str(tmp_path / "run"))
    errors = {s["step"]: s for s in report["steps"]}["diff_failures"]["errors"]
    rows_in = {int(name.removeprefix("Batch")): count for name, count in errors.items()}  # size: rows
    rows_diffed = {s["step"]: s for s in report["steps"]}["invalid_utf8"]["rows"]
    assert rows_diffed > collect.DIFF_BATCH_ROWS  # the premise: one partition holds more than a batch
    assert sum(rows_in.values()) == rows_diffed and all(rows % size == 0 for size, rows in rows_in.items())
    assert max(rows_in) == collect.DIFF_BATCH_ROWS == 16
    # the session's own settings are back
    assert spark.conf.get("spark.sql.execution.arrow.maxRecordsPerBatch") == before


# -- the history extract: the reverting revisions the window names ---------------------------------

#: Rows of a tiny ``wmf.mediawiki_history``: (revision id, timestamp, namespace, reverted, reverting
#: id, groups, snapshot, wiki). The window is March 2022 of ukwiki, snapshot 2022-07.
HISTORY_ROWS = [
    # reverted by 50, a revision after the window (in another namespace: looked up all the same)
    (1, "2022-03-02 10:00:00", 0, True, 50, ["user"], "2022-07", "ukwiki"),
    (50, "2022-05-10 10:00:00", 1, True, None, ["sysop"], "2022-07", "ukwiki"),
    # never reverted, and a reverted one whose reverting revision is unknown (NULL id)
    (2, "2022-03-03 10:00:00", 0, False, None, ["user"], "2022-07", "ukwiki"),
    (3, "2022-03-04 10:00:00", 0, True, None, ["user"], "2022-07", "ukwiki"),
    # reverted by 60, which the table holds twice (disagreeing): one row, the facts' maxima
    (4, "2022-03-05 10:00:00", 0, True, 60, ["user"], "2022-07", "ukwiki"),
    (60, "2022-06-01 10:00:00", 0, False, None, ["editor"], "2022-07", "ukwiki"),
    (60, "2022-06-01 10:00:00", 0, True, None, ["sysop"], "2022-07", "ukwiki"),
    # reverted by 70, which is only in another wiki and another snapshot: missing
    (5, "2022-03-06 10:00:00", 0, True, 70, ["user"], "2022-07", "ukwiki"),
    (70, "2022-06-02 10:00:00", 0, True, None, ["sysop"], "2022-07", "jawiki"),
    (70, "2022-06-02 10:00:00", 0, True, None, ["sysop"], "2022-06", "ukwiki"),
    # 6 reverted by 7, both in the window: 7 (never reverted) must not find itself as its reverter
    (6, "2022-03-07 10:00:00", 0, True, 7, ["user"], "2022-07", "ukwiki"),
    (7, "2022-03-08 10:00:00", 0, False, None, ["sysop"], "2022-07", "ukwiki"),
    # 8 and 9 both reverted by 50
    (8, "2022-03-09 10:00:00", 0, True, 50, [], "2022-07", "ukwiki"),
    (9, "2022-03-10 10:00:00", 0, True, 50, [], "2022-07", "ukwiki"),
    # outside the window: not a row, though it names a reverting revision
    (10, "2022-04-10 10:00:00", 0, True, 60, [], "2022-07", "ukwiki"),
]
#: revision id -> (reverting revision reverted, its groups, reverting revision missing)
EXPECTED_REVERTING = {
    1: (True, ["sysop"], False), 2: (None, None, False), 3: (None, None, True),
    4: (True, ["sysop"], False), 5: (None, None, True), 6: (False, ["sysop"], False),
    7: (None, None, False), 8: (True, ["sysop"], False), 9: (True, ["sysop"], False),
}


@pytest.fixture()
def tiny_history(spark, tmp_path):
    """The rows above as the session's ``wmf.mediawiki_history`` (every other column null); the
    demo tables are registered again by the next collection."""
    from pyspark.sql import functions as F

    from kitrain.schema import HISTORY_TABLE_COLUMNS
    from kitrain.spark import drop_source_table

    given = ("revision_id", "event_timestamp", "page_namespace", "revision_is_identity_reverted",
             "revision_first_identity_reverting_revision_id", "event_user_groups", "snapshot", "wiki_db")
    frame = spark.createDataFrame(
        HISTORY_ROWS, "revision_id bigint, event_timestamp string, page_namespace int, "
        "revision_is_identity_reverted boolean, revision_first_identity_reverting_revision_id bigint, "
        "event_user_groups array<string>, snapshot string, wiki_db string")
    frame = frame.select(*[F.col(name) if name in given else F.lit(None).cast(dtype).alias(name)
                           for name, dtype in HISTORY_TABLE_COLUMNS if name != "event_entity"],
                         F.lit("revision").alias("event_entity"), "snapshot")
    drop_source_table(spark, HISTORY_TABLE)
    frame.write.partitionBy("snapshot").saveAsTable(HISTORY_TABLE)
    yield
    drop_source_table(spark, HISTORY_TABLE)


def _extract(spark):
    return collect.history_rows(spark, "2022-07", "ukwiki", "2022-03-01", "2022-04-01")


def test_reverting_facts_come_from_the_revisions_the_window_names(spark, tiny_history):
    with _extract(spark) as extract:
        got = {row["revision_id"]: (row["reverting_revision_is_reverted_revision"],
                                    None if row["reverting_revision_event_user_groups"] is None
                                    else list(row["reverting_revision_event_user_groups"]),
                                    row["reverting_revision_missing"])
               for row in extract.collect()}
        assert extract.count() == len(got)  # one row per revision: no duplicate from 60
    assert got == EXPECTED_REVERTING
    # the scan's cache and view are gone with the block
    assert not spark.catalog.tableExists(collect.HISTORY_SCAN_VIEW)


def test_the_history_table_is_scanned_once(spark, tiny_history):
    # the window's rows and the reverting revisions come from one scan of the table, cached: the
    # extract's own jobs read the cache (scans counted from Spark's metrics, as the benchmark does)
    after = last_execution_id(spark)
    with _extract(spark) as extract:
        extract.collect()
        extract.count()
    scans = scans_by_table(executed_scans(spark, after), {"history": HISTORY_TABLE})["history"]
    assert scans["scans"] == 1 and scans["rows_read"] > 0, scans


def test_reverting_lookup_is_cut_to_the_named_ids_and_spreads_the_null_keys(spark, tiny_history):
    # without broadcasts (a real wiki's sizes), the plan shuffles the window's rows by the
    # reverting id or, where it is NULL, by their own id, and looks up only the named revisions
    previous = spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
    try:
        with _extract(spark) as extract:
            plan = extract._jdf.queryExecution().executedPlan().toString()
    finally:
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", previous)
    assert "hashpartitioning(coalesce(revision_first_identity_reverting_revision_id" in plan, plan
    assert "hashpartitioning(revision_first_identity_reverting_revision_id" not in plan, plan
    assert "LeftSemi" in plan, plan
