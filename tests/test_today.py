"""Today's Wikimedia (issue 24): temporary accounts and the content history table.

A 2026 demo snapshot of enwiki (temporary accounts since 2025-11-04, a month into the train window) is
collected through the content history table and through the legacy wikitext table, and the
anonymous-only collection is taken from it. The expected counts come from the demo tables,
re-implemented here in pandas: an edit is logged out when the history table flags it anonymous
(an IP editor) or temporary.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from kitrain.collect import run_collect
from kitrain.config import CollectConfig
from kitrain.demo import TEMPORARY_ACCOUNTS_SINCE, generate_demo
from kitrain.paths import RunPaths

pytestmark = pytest.mark.spark

SNAPSHOT = "2026-04"
WINDOWS = {"train_start": "2025-10-01", "train_end": "2026-05-01", "test_start": "2026-04-01",
           "test_end": "2026-04-08"}


@pytest.fixture(scope="module")
def today_source(tmp_path_factory):
    out = tmp_path_factory.mktemp("today-source")
    generate_demo(out, languages=["en"], revisions_per_language=240, seed=11, snapshot=SNAPSHOT,
                  wikitext_snapshot=SNAPSHOT, dumps_dir=out / "dumps")
    return out


@pytest.fixture(scope="module")
def today_runs(spark, today_source, tmp_path_factory):
    """text source (or "anon", or "dumps") -> (run dir, quality report) of enwiki's train window."""
    runs = {}
    parquet = {"source": "parquet", "source_dir": str(today_source)}
    for name, extra in (("content_history", parquet),
                        ("wikitext_history", {**parquet, "text_source": "wikitext_history"}),
                        ("anon", {**parquet, "filter_anon": True, "prefix": "anon_users"}),
                        ("dumps", {"source": "dumps", "dumps_dir": str(today_source / "dumps")})):
        run_dir = tmp_path_factory.mktemp(f"today-{name}")
        cfg = CollectConfig(lang="en", snapshot=SNAPSHOT, wikitext_snapshot=SNAPSHOT, output_files=1,
                            **WINDOWS, **extra)
        runs[name] = run_dir, run_collect(spark, cfg, str(run_dir))
    return runs


def window(source: Path) -> pd.DataFrame:
    """enwiki's main-namespace revisions in the train window, from the history table's copy."""
    h = pq.read_table(source / "mediawiki_history").to_pandas()
    revs = h[(h.event_entity == "revision") & (h.page_namespace == 0)]
    return revs[(revs.event_timestamp >= WINDOWS["train_start"]) & (revs.event_timestamp < WINDOWS["train_end"])]


def groups(frame: pd.DataFrame) -> dict[str, int]:
    temporary = frame.event_user_is_temporary.eq(True)
    ip = frame.event_user_is_anonymous.eq(True) & ~temporary
    return {"ip": int(ip.sum()), "temporary": int(temporary.sum()), "registered": int((~ip & ~temporary).sum())}


def test_the_demo_has_temporary_accounts_after_the_rollout_only(today_source):
    rows = window(today_source)
    rollout = TEMPORARY_ACCOUNTS_SINCE["en"].strftime("%Y-%m-%d %H:%M:%S")
    temporary = rows[rows.event_user_is_temporary.eq(True)]
    assert len(temporary) > 0 and (temporary.event_timestamp >= rollout).all()
    assert temporary.event_user_text_historical.str.match(r"^~2\d{3}-\d{5}-\d{2}$").all()
    # a temporary account is no IP editor for the history table: a user id, anonymous false
    assert temporary.event_user_is_anonymous.eq(False).all() and temporary.event_user_id.gt(0).all()
    # after the rollout most logged-out edits are temporary accounts, a few are still IPs
    after = rows[rows.event_timestamp >= rollout]
    logged_out = after.event_user_is_anonymous.eq(True) | after.event_user_is_temporary.eq(True)
    assert after[logged_out].event_user_is_temporary.mean() > 0.8


def test_quality_counts_ip_temporary_and_registered_edits(today_source, today_runs):
    _, report = today_runs["content_history"]
    steps = {s["step"]: s for s in report["steps"]}
    assert steps["read"]["editors"] == groups(window(today_source))
    assert steps["read"]["editors"]["temporary"] > 0 and steps["read"]["editors"]["ip"] > 0
    for step in report["steps"]:
        assert sum(step["editors"].values()) == step["rows"], step["step"]
    # the published rows: logged out = IP or temporary account, with a flag for the latter
    out = pd.read_parquet(report["output"])
    published = {"ip": int((out.event_user_is_anonymous.eq(1) & out.event_user_is_temporary.eq(0)).sum()),
                 "temporary": int(out.event_user_is_temporary.sum()),
                 "registered": int(out.event_user_is_anonymous.eq(0).sum())}
    assert published == steps["diff_failures"]["editors"]
    assert not (out.event_user_is_temporary.eq(1) & out.event_user_is_anonymous.eq(0)).any()


def test_content_history_and_wikitext_history_give_the_same_rows(today_runs):
    # the two tables hold the same texts; the content table keeps the suppressed revisions with
    # their content hidden, the legacy table lacks them: both count them as missing text
    (_, content), (_, legacy) = today_runs["content_history"], today_runs["wikitext_history"]

    def rows(report):
        return pd.read_parquet(report["output"]).sort_values("revision_id").to_json(orient="records")

    assert rows(content) == rows(legacy)
    missing = {name: next(s for s in r["steps"] if s["step"] == "missing_text")
               for name, r in (("content", content), ("legacy", legacy))}
    assert missing["content"]["rows"] == missing["legacy"]["rows"]
    assert missing["content"]["dropped"] > 0
    assert missing["content"]["hidden_revision_text"] + missing["content"]["hidden_parent_text"] > 0
    assert missing["legacy"]["hidden_revision_text"] == missing["legacy"]["hidden_parent_text"] == 0
    assert content["config"]["text_source"] == "content_history"


def test_anonymous_only_collection_is_mostly_temporary_accounts(today_source, today_runs):
    run_dir, report = today_runs["anon"]
    out = pd.read_parquet(report["output"])
    assert len(out) > 0 and out.event_user_is_anonymous.eq(1).all()
    # the logged-out edits of the window (IP or temporary), less the filters' drops
    assert out.event_user_is_temporary.mean() > 0.5
    saved = json.loads(Path(RunPaths(str(run_dir)).collect_quality("anon_users", "train", "en")).read_text())
    steps = {s["step"]: s for s in saved["steps"]}
    assert steps["anonymous_filter"]["editors"]["registered"] == 0
    assert steps["anonymous_filter"]["rows"] == (steps["creations"]["editors"]["ip"]
                                                 + steps["creations"]["editors"]["temporary"])


def test_the_demos_dumps_source_gives_the_same_rows(today_source, today_runs):
    # kitrain demo-data --dumps-out: the history in the 78-field layout, which has the temporary
    # flag; the XML writes a temporary account as a username with an id, like any user
    import bz2

    (tsv,) = (today_source / "dumps" / "mediawiki_history" / SNAPSHOT / "enwiki").iterdir()
    first = bz2.decompress(tsv.read_bytes()).decode("utf-8").split("\n", 1)[0]
    assert len(first.split("\t")) == 78
    _, dumps = today_runs["dumps"]
    _, content = today_runs["content_history"]
    assert dumps["source"]["xml_dump"] == "20260501"
    assert [(s["step"], s["rows"], s["editors"]) for s in dumps["steps"]] == \
        [(s["step"], s["rows"], s["editors"]) for s in content["steps"]]
    pd.testing.assert_frame_equal(pd.read_parquet(dumps["output"]), pd.read_parquet(content["output"]))
