"""``kitrain collect`` end to end on demo data: two languages, both modes, local Spark.

Expected counts are computed here independently with pandas from the demo parquet files, so every
filter's effect in quality.json is checked against a second implementation of the rules.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from kitrain import cli
from kitrain.collect import EmptyCollectionError, run_collect
from kitrain.config import CollectConfig
from kitrain.paths import RunPaths
from kitrain.schema import ACTION_KEYS, COLLECTED_COLUMNS, LABEL

pytestmark = pytest.mark.spark

from tests.conftest import DEMO_LANGS as LANGS

WINDOWS = {"train": ("2022-01-01", "2022-08-01"), "test": ("2022-07-01", "2022-07-08")}


@pytest.fixture(scope="module")
def source(demo_source):
    return demo_source


@pytest.fixture(scope="module")
def run_dir(demo_run):
    return demo_run[0]


@pytest.fixture(scope="module")
def collected(demo_run):
    return demo_run[1]


def history(source: Path, lang: str) -> pd.DataFrame:
    files = sorted((source / "mediawiki_history").glob("snapshot=2022-07/*.parquet"))
    frame = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    return frame[frame["wiki_db"] == f"{lang}wiki"]


def text_ids(source: Path, lang: str) -> set[int]:
    files = sorted((source / "mediawiki_wikitext_history").glob(f"snapshot=2022-11/wiki_db={lang}wiki/*.parquet"))
    frame = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    return set(frame.loc[frame["page_namespace"] == 0, "revision_id"])


def expected_counts(source: Path, lang: str, mode: str) -> dict[str, int]:
    """The collection rules, re-implemented in pandas."""
    h = history(source, lang)
    start, end = WINDOWS[mode]
    revs = h[(h.event_entity == "revision") & (h.page_namespace == 0)]
    rows = revs[(revs.event_timestamp >= start) & (revs.event_timestamp < end)].copy()
    reverted_reverts = set(h.loc[(h.event_entity == "revision") & h.revision_is_identity_reverted.eq(True), "revision_id"])
    # the demo tables have no malformed timestamp and no duplicated revision
    counts = {"read": len(rows), "malformed_timestamps": len(rows), "duplicate_revisions": len(rows)}
    if mode == "test":  # -f2 defaults to 1 in test mode
        war = rows.revision_first_identity_reverting_revision_id.isin(reverted_reverts)
        rows = rows[~war]
    counts["revision_wars"] = len(rows)
    rows = rows[rows.event_user_is_bot_by.map(lambda a: a is None or len(a) == 0)]
    counts["bots"] = len(rows)
    rows = rows[rows.revision_parent_id.notna() & (rows.revision_parent_id != 0)]
    counts["creations"] = len(rows)
    counts["anonymous_filter"] = counts["sampling"] = len(rows)
    have = text_ids(source, lang)
    rows = rows[rows.revision_id.isin(have) & rows.revision_parent_id.isin(have)]
    counts["missing_text"] = counts["invalid_utf8"] = len(rows)
    return counts


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("mode", ["train", "test"])
def test_every_filter_matches_the_rules(collected, source, lang, mode):
    report = collected[lang, mode]
    got = {s["step"]: s["rows"] for s in report["steps"]}
    want = expected_counts(source, lang, mode)
    assert {k: got[k] for k in want} == want
    # over the training window the demo data exercises each filter
    dropped = {s["step"]: s["dropped"] for s in report["steps"]}
    if mode == "train":
        assert dropped["bots"] > 0 and dropped["creations"] > 0 and dropped["missing_text"] > 0
    else:
        assert report["config"]["filter_rw"] is True
    # no diff failed on demo data, and the published rows are what is left
    assert dropped["diff_failures"] == 0 and got["diff_failures"] == report["rows"] > 0


def test_revision_wars_are_dropped_when_asked(spark, source, tmp_path):
    # train mode with -f2 1 drops the revisions whose revert was itself reverted
    cfg = CollectConfig(lang="uk", source="parquet", source_dir=str(source), filter_rw=True)
    report = run_collect(spark, cfg, str(tmp_path))
    step = next(s for s in report["steps"] if s["step"] == "revision_wars")
    assert step["enabled"] and step["dropped"] > 0
    out = spark.read.parquet(report["output"])
    assert out.where("reverting_revision_is_reverted_revision").count() == 0


def test_quality_json_is_written_with_config(collected, run_dir):
    path = Path(RunPaths(str(run_dir)).collect_quality("full_test", "test", "ja"))
    report = json.loads(path.read_text())
    assert report["config"]["lang"] == "ja" and report["config"]["prefix"] == "full_test"
    assert [s["step"] for s in report["steps"]] == [
        "read", "malformed_timestamps", "duplicate_revisions", "revision_wars", "bots", "creations",
        "anonymous_filter", "sampling", "missing_text", "invalid_utf8", "diff_failures",
    ]
    assert report["versions"]["mwedittypes"].startswith("3.")
    assert report["config"]["text_rules"] == "paper"  # the original scripts' rules by default


def test_text_rules_change_the_texts_not_the_rows(spark, source, run_dir, tmp_path):
    # the same revisions and action counts; the sentences are cut as each rule set says
    from kitrain.diff import sentence_split

    cfg = CollectConfig(lang="uk", mode="test", source="parquet", source_dir=str(source), text_rules="multiscript")
    report = run_collect(spark, cfg, str(tmp_path))
    assert report["config"]["text_rules"] == "multiscript"
    multi = pd.read_parquet(report["output"]).set_index("revision_id")
    paper = pd.read_parquet(RunPaths(str(run_dir)).collected("full_test", "test", "uk")).set_index("revision_id")
    assert list(multi.index) == list(paper.index)
    assert [dict(a) for a in multi["actions"]] == [dict(a) for a in paper["actions"]]
    # multiscript texts are stripped and never empty; the paper's keep node texts as they are
    # and the last mark of a line on its sentence
    multi_texts = [t for texts in multi["texts_insert"] for t in texts]
    paper_texts = [t for texts in paper["texts_insert"] for t in texts]
    assert multi_texts and all(t and t == t.strip() for t in multi_texts)
    assert any(t != t.strip() for t in paper_texts) and any(t.endswith(".") for t in paper_texts)
    # a changed sentence pair: the paper's keeps the mark a multiscript one drops
    pairs = [(c["before"], c["after"]) for changes in multi["texts_change"] for c in changes]
    assert all(sentence_split(b, "multiscript") == [b] for b, _ in pairs)


def test_schema_and_content(spark, collected):
    out = spark.read.parquet(collected["uk", "train"]["output"])
    assert [(f.name, f.dataType.simpleString()) for f in out.schema.fields] == [
        (name, dtype.replace(" ", "")) for name, dtype in COLLECTED_COLUMNS
    ]
    rows = out.collect()
    # every row has all 92 action counts; labels of both classes are present
    assert all(tuple(r["actions"]) == ACTION_KEYS or set(r["actions"]) == set(ACTION_KEYS) for r in rows)
    assert {r[LABEL] for r in rows} == {0, 1}
    # the diff found something in almost every edit, and texts of reverted (vandal) edits
    assert sum(any(r["actions"].values()) for r in rows) >= 0.9 * len(rows)
    assert sum(bool(r["texts_insert"] or r["texts_removed"] or r["texts_change"]) for r in rows) >= 0.5 * len(rows)
    # filters held: no bots' groups flagged as creations, parent ids set
    assert all(r["revision_parent_id"] for r in rows)
    assert len({r["revision_id"] for r in rows}) == len(rows)


def test_test_mode_stays_in_the_hold_out_week(spark, collected):
    out = spark.read.parquet(collected["ja", "test"]["output"]).select("event_timestamp").collect()
    assert out and all("2022-07-01" <= r[0] < "2022-07-08" for r in out)


def test_rerun_and_cache_give_identical_output(spark, source, collected, run_dir):
    def rows(path):
        frame = spark.read.parquet(path).toPandas().sort_values("revision_id")
        return frame.to_json(orient="records", force_ascii=False)

    first = rows(collected["uk", "train"]["output"])
    cfg = CollectConfig(lang="uk", source="parquet", source_dir=str(source), use_cache=True)
    report = run_collect(spark, cfg, str(run_dir))
    assert report["output"] == collected["uk", "train"]["output"]
    assert rows(report["output"]) == first
    # the publish left no temporary or old directories behind
    mode_dir = Path(report["output"]).parent
    assert sorted(p.name for p in mode_dir.iterdir()) == ["ja", "uk"]


def test_anonymous_filter_and_sampling_via_cli(spark, source, collected, tmp_path):
    # the command line in-process (reusing the test session): -f1 1 and a small -n; --min-rows at
    # the window's own count passes, as it is checked on the revisions read, before any filter
    code = cli.main([
        "collect", "-l", "uk", "-m", "train", "-f1", "1", "-n", "20", "-p", "anon",
        "--min-rows", str(window_rows(collected["uk", "train"])),
        "--source", "parquet", "--source-dir", str(source), "--run-dir", str(tmp_path),
    ])
    assert code == 0
    report = json.loads(Path(RunPaths(str(tmp_path)).collect_quality("anon", "train", "uk")).read_text())
    steps = {s["step"]: s for s in report["steps"]}
    assert steps["anonymous_filter"]["enabled"] and steps["anonymous_filter"]["dropped"] > 0
    assert steps["sampling"]["enabled"] and 5 <= steps["sampling"]["rows"] <= 40
    out = spark.read.parquet(report["output"])
    assert out.where("event_user_is_anonymous = 0").count() == 0


def test_cli_rejects_bad_language_before_spark(capsys, tmp_path):
    code = cli.main(["collect", "-l", "en'; DROP TABLE x; --", "--source-dir", str(tmp_path),
                     "--run-dir", str(tmp_path)])
    assert code == 2
    assert "invalid language code" in capsys.readouterr().err
    assert not (tmp_path / "collected").exists()


def test_missing_parquet_source_is_named(spark, tmp_path):
    from kitrain.spark import SourceError

    cfg = CollectConfig(lang="uk", source="parquet", source_dir=str(tmp_path / "nowhere"))
    with pytest.raises(SourceError, match="mediawiki_history"):
        run_collect(spark, cfg, str(tmp_path / "run"))


def test_use_cache_does_not_query_the_history(spark, source, collected, run_dir, monkeypatch):
    # with -uc 1 and a cache covering the window, the history SQL never runs
    import kitrain.collect as collect_module

    real = collect_module.run_sql

    def guarded(session, name, **params):
        assert name != "history_extract", "history queried despite the cache"
        return real(session, name, **params)

    monkeypatch.setattr(collect_module, "run_sql", guarded)
    cfg = CollectConfig(lang="ja", mode="test", source="parquet", source_dir=str(source),
                        use_cache=True, prefix="cached")
    report = run_collect(spark, cfg, str(run_dir))
    assert report["rows"] == collected["ja", "test"]["rows"]


def test_unpartitioned_parquet_copies_give_the_same_rows(spark, source, collected, tmp_path):
    # copies that store snapshot / wiki_db inside the files instead of in directory names
    import pyarrow as pa

    flat = tmp_path / "flat"
    for table, parts in (("mediawiki_history", ("snapshot",)),
                         ("mediawiki_content_history_v1", ("wiki_id",)),
                         ("mediawiki_wikitext_history", ("snapshot", "wiki_db"))):
        for i, path in enumerate(sorted((source / table).rglob("*.parquet"))):
            data = pq.read_table(path)
            values = dict(p.split("=", 1) for p in path.relative_to(source / table).parts[:-1])
            for part in parts:
                data = data.append_column(part, pa.array([values[part]] * data.num_rows))
            (flat / table).mkdir(parents=True, exist_ok=True)
            pq.write_table(data, flat / table / f"part-{i}.parquet")
    def rows(path):
        return spark.read.parquet(path).toPandas().sort_values("revision_id").to_json(orient="records")

    # the content history table's copy holds wiki_id in its files (the legacy table's copy, read
    # with --text-source wikitext_history, gives the same rows: tests/test_today.py)
    cfg = CollectConfig(lang="ja", mode="test", source="parquet", source_dir=str(flat))
    report = run_collect(spark, cfg, str(tmp_path / "run"))
    assert rows(report["output"]) == rows(collected["ja", "test"]["output"])


def test_wrong_wikitext_snapshot_stops_instead_of_publishing_nothing(spark, source, tmp_path):
    from kitrain.spark import SourceError

    # the demo tables hold wikitext of 2022-11 only: every revision would lack its text, which is
    # a wrong setting, not data to drop
    cfg = CollectConfig(lang="uk", mode="test", source="parquet", source_dir=str(source),
                        wikitext_snapshot="2022-07", text_source="wikitext_history")
    with pytest.raises(SourceError, match=r"uk: none of the \d+ selected revisions has its wikitext in snapshot 2022-07"):
        run_collect(spark, cfg, str(tmp_path / "run"))
    assert not Path(RunPaths(str(tmp_path / "run")).collected("full_test", "test", "uk")).exists()


def window_rows(report: dict) -> int:
    """The revisions a collection's window held as read (what ``min_rows`` is checked against)."""
    return next(s["rows"] for s in report["steps"] if s["step"] == "malformed_timestamps")


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_window_without_revisions_fails_and_keeps_the_older_output(spark, source, run_dir,
                                                                   tmp_path):
    # a run directory where uk's train window was published before (a copy of the demo run's)
    old, new = RunPaths(str(run_dir)), RunPaths(str(tmp_path / "run"))
    for path in (Path(old.collected("all_users", "train", "uk")),
                 Path(old.collect_quality("all_users", "train", "uk")).parent):
        shutil.copytree(path, tmp_path / "run" / path.relative_to(run_dir))
    before = digest(tmp_path / "run" / "collected")
    quality = Path(new.collect_quality("all_users", "train", "uk"))
    report_before = quality.read_text()
    # the snapshot holds no revision of 2019 (a missing or partial snapshot looks the same)
    cfg = CollectConfig(lang="uk", source="parquet", source_dir=str(source),
                        train_start="2019-01-01", train_end="2019-08-01")
    with pytest.raises(EmptyCollectionError) as failed:
        run_collect(spark, cfg, new.run_dir)
    assert str(failed.value) == ("parquet source, snapshot 2022-07, ukwiki, "
                                 "window 2019-01-01..2019-08-01 (train): 0 revisions, fewer than min_rows=1")
    # nothing published, nothing half-written, the older output and its report untouched
    assert digest(tmp_path / "run" / "collected") == before
    assert sorted(p.name for p in Path(new.collected_mode("all_users", "train")).iterdir()) == ["uk"]
    assert quality.read_text() == report_before


def test_min_rows_above_the_window_count_fails_via_cli(spark, source, collected, tmp_path, capsys):
    # the hold-out week of uk holds `count` revisions as read: one more fails, publishing nothing
    # (that as many passes is shown by the anonymous-only CLI run above)
    count = window_rows(collected["uk", "test"])
    assert count > 0
    code = cli.main(["collect", "-l", "uk", "-m", "test", "--min-rows", str(count + 1), "--source",
                     "parquet", "--source-dir", str(source), "--run-dir", str(tmp_path)])
    assert code == 2
    line = (f"kitrain collect: error: parquet source, snapshot 2022-07, ukwiki, window 2022-07-01..2022-07-08 "
            f"(test): {count} revisions, fewer than min_rows={count + 1}")
    assert line in capsys.readouterr().err.splitlines()
    assert not (tmp_path / "collected").exists() and not (tmp_path / "quality").exists()
