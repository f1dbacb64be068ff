"""Bad revisions in the source tables: each is counted in quality.json with its reason, or handled
correctly, and the language still completes.

One copy of the demo tables of uk gets every kind of damage at once (on different revisions, plus
two new pages), is collected, and each step's count is compared with the clean collection.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kitrain import diff
from kitrain.collect import run_collect
from kitrain.config import CollectConfig
from kitrain.paths import RunPaths
from kitrain.schema import LABEL

pytestmark = pytest.mark.spark

HISTORY = "mediawiki_history/snapshot=2022-07/ukwiki.parquet"
TEXTS = "mediawiki_wikitext_history/snapshot=2022-11/wiki_db=ukwiki"
BIG_PREFIX = "".join(f"== Розділ {i} ==\nТекст розділу {i} з [[посилання {i}]].\n\n" for i in range(80_000))
NESTED = "Вступ. " + "{{шаблон|" * 500 + "x" + "}}" * 500 + " Кінець."
NEW_IDS = {"big_root": 9_000_000, "big_a": 9_000_001, "big_b": 9_000_002,
           "nested_root": 9_000_010, "nested": 9_000_011}


def _invalid_utf8(column: pd.Series, index: int) -> pa.Array:
    """``column`` as an Arrow string array whose value at ``index`` is not valid UTF-8 (the bytes
    ``ab\\xff\\xfecd``): Arrow validates strings it builds, so the bytes are built as binary and
    viewed as string."""
    values = [None if v is None else v.encode("utf-8") for v in column]
    values[index] = b"ab\xff\xfecd"
    return pa.array(values, type=pa.binary()).view(pa.string())


def _write(table: pd.DataFrame, schema: pa.Schema, path: Path, invalid: dict[str, int] | None = None) -> None:
    arrow = pa.Table.from_pandas(table.reset_index(drop=True), schema=schema, preserve_index=False)
    for name, index in (invalid or {}).items():
        arrow = arrow.set_column(arrow.schema.get_field_index(name), name,
                                 _invalid_utf8(arrow.column(name).to_pandas(), index))
    pq.write_table(arrow, path)


@pytest.fixture(scope="module")
def damaged(demo_source, demo_run, tmp_path_factory):
    """(source dir, chosen revision ids): the uk demo tables with every kind of bad revision."""
    run_dir, _ = demo_run
    out = tmp_path_factory.mktemp("damaged")
    published = pd.read_parquet(RunPaths(str(run_dir)).collected("all_users", "train", "uk"))
    history_schema = pq.read_schema(demo_source / HISTORY)
    history = pq.read_table(demo_source / HISTORY).to_pandas()
    # revisions that passed every filter of the clean collection and are no other revision's
    # parent (so the damage reaches no second row), each gets one kind of damage
    parents = set(history.revision_parent_id.dropna())
    fit = published[(published[LABEL] == 0) & ~published.revision_id.isin(parents)]
    kinds = ["null", "empty", "bad_utf8", "bad_title", "reverting_missing", "same_copy",
             "conflicting_copy", "iso_ts", "dotted_ts"]
    assert len(fit) >= len(kinds)
    chosen = dict(zip(kinds, (int(i) for i in fit.revision_id.iloc[: len(kinds)])))
    by_id = history.set_index("revision_id", drop=False)
    # a reverted revision whose reverting revision is not in the table
    row = history.revision_id == chosen["reverting_missing"]
    history.loc[row, "revision_is_identity_reverted"] = True
    history.loc[row, "revision_first_identity_reverting_revision_id"] = 987_654_321
    # timestamps in other formats
    history.loc[history.revision_id == chosen["iso_ts"], "event_timestamp"] = "2022-03-03T10:00:00Z"
    history.loc[history.revision_id == chosen["dotted_ts"], "event_timestamp"] = "03.03.2022 10:00"
    # an identical copy of one revision, a disagreeing copy of another
    same = by_id.loc[[chosen["same_copy"]]]
    conflicting = by_id.loc[[chosen["conflicting_copy"]]].copy()
    conflicting["page_revision_count"] += 1
    # two new pages: a 5 MB page (created, then edited a little) and one with templates nested
    # 500 deep, each from an ordinary published revision's row
    template = by_id.loc[chosen["null"]]
    new_rows = []
    for key, parent, title in (("big_root", 0, "Великий"), ("big_a", "big_root", "Великий"),
                               ("big_b", "big_a", "Великий"), ("nested_root", 0, "Вкладений"),
                               ("nested", "nested_root", "Вкладений")):
        new = template.copy()
        new["revision_id"] = NEW_IDS[key]
        new["revision_parent_id"] = NEW_IDS[parent] if parent else 0
        new["page_id"] = 9_000_000 + (0 if title == "Великий" else 10)
        new["page_title"] = new["page_title_historical"] = title
        new["event_timestamp"] = f"2022-03-0{1 + len(new_rows) % 5} 12:00:00.0"
        new_rows.append(new)
    history = pd.concat([history, same, conflicting, pd.DataFrame(new_rows)], ignore_index=True)
    (out / HISTORY).parent.mkdir(parents=True)
    _write(history, history_schema, out / HISTORY,
           invalid={"page_title": int((history.revision_id == chosen["bad_title"]).idxmax())})

    (out / TEXTS).mkdir(parents=True)
    (text_file,) = sorted((demo_source / TEXTS).glob("*.parquet"))
    text_schema = pq.read_schema(text_file)
    texts = pq.read_table(text_file).to_pandas()
    texts.loc[texts.revision_id == chosen["null"], "revision_text"] = None
    texts.loc[texts.revision_id == chosen["empty"], "revision_text"] = ""
    base_text = texts.loc[texts.revision_id == chosen["null"]].iloc[0]
    new_texts = []
    for key, text in (("big_root", ""), ("big_a", BIG_PREFIX + "Кінець статті."),
                      ("big_b", BIG_PREFIX + "Кінець статті, з доповненням."),
                      ("nested_root", "Вступ. Кінець."), ("nested", NESTED)):
        new = base_text.copy()
        new["revision_id"], new["revision_text"] = NEW_IDS[key], text
        new["page_id"] = 9_000_000 + (0 if key.startswith("big") else 10)
        new_texts.append(new)
    texts = pd.concat([texts, pd.DataFrame(new_texts)], ignore_index=True)
    _write(texts, text_schema, out / TEXTS / "part-0.parquet",
           invalid={"revision_text": int((texts.revision_id == chosen["bad_utf8"]).idxmax())})
    return out, chosen


@pytest.fixture(scope="module")
def collected(spark, damaged, tmp_path_factory):
    source, _ = damaged
    run_dir = tmp_path_factory.mktemp("damaged-run")
    # the damage is written into the legacy wikitext table's copy, read as such
    cfg = CollectConfig(lang="uk", mode="train", source="parquet", source_dir=str(source),
                        text_source="wikitext_history")
    report = run_collect(spark, cfg, str(run_dir))
    rows = pd.read_parquet(RunPaths(str(run_dir)).collected("all_users", "train", "uk"))
    return report, rows.set_index("revision_id", drop=False)


def _steps(report: dict) -> dict[str, dict]:
    return {s["step"]: s for s in report["steps"]}


def test_the_language_completes_and_only_the_bad_rows_go(collected, demo_run, damaged):
    report, rows = collected
    _, chosen = damaged
    clean = pd.read_parquet(RunPaths(str(demo_run[0])).collected("all_users", "train", "uk"))
    dropped = {chosen[k] for k in ("null", "bad_utf8", "conflicting_copy", "iso_ts", "dotted_ts")}
    # every clean revision but the dropped ones is still published, plus the two edits of the new
    # pages that could be diffed
    assert set(rows.revision_id) == (set(clean.revision_id) - dropped) | {NEW_IDS["big_b"], NEW_IDS["nested"]}
    assert report["rows"] == len(rows)


def test_malformed_timestamps_are_counted(collected):
    step = _steps(collected[0])["malformed_timestamps"]
    assert step["dropped"] == 2 and step["timestamp_format"] == "yyyy-MM-dd HH:mm:ss[.SSSSSSSSS]"


def test_duplicate_revision_ids_are_collapsed_or_dropped(collected, damaged):
    report, rows = collected
    step = _steps(report)["duplicate_revisions"]
    # an identical copy collapses into one row; a disagreeing pair cannot be resolved: both go
    assert step["identical_copies"] == 1 and step["conflicting_copies"] == 2 and step["dropped"] == 3
    assert (rows.revision_id == damaged[1]["same_copy"]).sum() == 1


def test_null_text_is_missing_text(collected, demo_run):
    report, _ = collected
    clean = _steps(demo_run[1]["uk", "train"])["missing_text"]
    assert _steps(report)["missing_text"]["missing_revision_text"] == clean["missing_revision_text"] + 1


def test_empty_text_is_a_blanking_and_is_diffed(collected, damaged, demo_source):
    _, rows = collected
    row = rows.loc[damaged[1]["empty"]]
    texts = pd.read_parquet(demo_source / TEXTS)
    parent_text = texts.loc[texts.revision_id == row["revision_parent_id"], "revision_text"].iloc[0]
    # blanking a page removes all its text: the same diff as on the pair directly
    assert list(row["texts_removed"]) == diff.edit_diff(parent_text, "", "uk").texts_removed
    assert len(row["texts_removed"]) > 0 and len(row["texts_insert"]) == 0


def test_invalid_utf8_text_is_dropped_and_other_columns_repaired(collected, damaged):
    report, rows = collected
    step = _steps(report)["invalid_utf8"]
    assert step["invalid_revision_text"] == 1 and step["dropped"] == 1
    assert step["repaired"] == {"page_title": 1}
    assert rows.loc[damaged[1]["bad_title"], "page_title"] == "ab\ufffd\ufffdcd"


def test_reverting_revision_missing_is_counted_and_the_label_kept(collected, damaged, demo_run):
    report, rows = collected
    clean = _steps(demo_run[1]["uk", "train"])["read"]["reverting_revision_missing"]
    assert _steps(report)["read"]["reverting_revision_missing"] == clean + 1
    row = rows.loc[damaged[1]["reverting_missing"]]
    assert row[LABEL] == 1 and not row["reverting_revision_is_reverted_revision"]
    assert row["is_reverted_by_good_user"] == 0


def test_a_5mb_page_is_diffed_where_the_edit_is_small(collected):
    report, rows = collected
    # the 5 MB creation from an empty parent is over max_diff_chars: counted, not hours of diffing;
    # a small edit on the 5 MB page is diffed from its changed span alone
    assert len(BIG_PREFIX.encode("utf-8")) > 5_000_000
    assert _steps(report)["diff_failures"]["errors"] == {"DiffTooLarge": 1}
    edit = rows.loc[NEW_IDS["big_b"]]
    direct = diff.edit_diff(BIG_PREFIX + "Кінець статті.", BIG_PREFIX + "Кінець статті, з доповненням.", "uk")
    assert dict(edit["actions"]) == dict(direct.actions) and sum(direct.actions.values()) > 0


def test_templates_nested_500_deep_are_diffed(collected):
    _, rows = collected
    row = rows.loc[NEW_IDS["nested"]]
    assert dict(row["actions"]) == dict(diff.edit_diff("Вступ. Кінець.", NESTED, "uk").actions)

