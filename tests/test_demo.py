"""The demo data generator: layout, determinism, schema, and the realism the filters need.

No Spark here: the tables are read back with pyarrow and checked row by row in plain Python.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from kitrain.demo import (
    CONTENT_HISTORY_SCHEMA,
    DEMO_LANGUAGES,
    HISTORY_SCHEMA,
    WIKITEXT_SCHEMA,
    generate_demo,
    make_language_tables,
)
from kitrain.languages import LanguageError, wiki_db
from kitrain.schema import (
    CONTENT_HISTORY_COLUMNS,
    CONTENT_HISTORY_PARTITIONS,
    HISTORY_PARTITIONS,
    HISTORY_TABLE_COLUMNS,
    TAG_FLAGS,
    USER_GROUPS,
    WIKITEXT_COLUMNS,
    WIKITEXT_PARTITIONS,
)

REVISIONS = 120
SEED = 42
SNAPSHOT = "2022-07"
WIKITEXT_SNAPSHOT = "2022-11"
REPO = Path(__file__).resolve().parents[1]

# Spark SQL type -> Arrow type, spelled out here (not taken from kitrain.demo) so a drift shows.
SPARK_TO_ARROW = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "boolean": pa.bool_(),
    "array<string>": pa.list_(pa.string()),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "map<string,struct<content_body:string,content_format:string,content_model:string,content_sha1:string,"
    "content_size:bigint,origin_rev_id:bigint>>": pa.map_(pa.string(), pa.struct([
        ("content_body", pa.string()), ("content_format", pa.string()), ("content_model", pa.string()),
        ("content_sha1", pa.string()), ("content_size", pa.int64()), ("origin_rev_id", pa.int64())])),
}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.0$")
SCRIPT_LETTERS = {
    "en": re.compile(r"[A-Za-z]"),
    "uk": re.compile(r"[\u0400-\u04FF]"),
    "ar": re.compile(r"[\u0600-\u06FF]"),
    "ja": re.compile(r"[\u3040-\u30FF\u4E00-\u9FFF]"),
    "hi": re.compile(r"[\u0900-\u097F]"),
}


def history_path(root: Path, lang: str) -> Path:
    return root / "mediawiki_history" / f"snapshot={SNAPSHOT}" / f"{wiki_db(lang)}.parquet"


def wikitext_path(root: Path, lang: str) -> Path:
    return (root / "mediawiki_wikitext_history" / f"snapshot={WIKITEXT_SNAPSHOT}"
            / f"wiki_db={wiki_db(lang)}" / "part-0.parquet")


def content_path(root: Path, lang: str) -> Path:
    return root / "mediawiki_content_history_v1" / f"wiki_id={wiki_db(lang)}" / f"part-{SNAPSHOT}.parquet"


def all_files(root: Path) -> set[Path]:
    # os.walk sees hidden files too (the generator's temp files start with a dot)
    return {Path(d, f) for d, _, files in os.walk(root) for f in files}


def content_revisions(history: list[dict]) -> list[dict]:
    return [r for r in history if r["event_entity"] == "revision" and r["page_namespace"] == 0]


def parse_ts(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%d %H:%M:%S.0")


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_runs(tmp_path_factory):
    """Three runs over the five demo languages: seed 42 twice, seed 43 once."""
    runs = {}
    for name, seed in (("a", SEED), ("b", SEED), ("c", SEED + 1)):
        root = tmp_path_factory.mktemp(f"demo_{name}")
        summary = generate_demo(root, DEMO_LANGUAGES, REVISIONS, seed, SNAPSHOT, WIKITEXT_SNAPSHOT)
        runs[name] = (root, summary)
    return runs


@pytest.fixture(scope="module")
def tables():
    """lang -> (history, wikitext) Arrow tables, straight from make_language_tables."""
    return {lang: make_language_tables(lang, REVISIONS, SEED, SNAPSHOT) for lang in DEMO_LANGUAGES}


@pytest.fixture(scope="module")
def rows(tables):
    """lang -> (history rows, wikitext rows) as lists of dicts."""
    return {lang: (h.to_pylist(), w.to_pylist()) for lang, (h, w) in tables.items()}


@pytest.fixture(scope="module")
def tables_300():
    """A bigger draw (300 revisions per language) for rarer features such as app-edit tags."""
    return {lang: make_language_tables(lang, 300, SEED, SNAPSHOT) for lang in DEMO_LANGUAGES}


# --- 1. layout and determinism ------------------------------------------------------------------


def test_layout_is_hive_partitioned_with_no_stray_files(demo_runs):
    # one history, one content-history and one wikitext file per language, at the documented
    # paths, and no temp files
    root, summary = demo_runs["a"]
    expected = {history_path(root, lang) for lang in DEMO_LANGUAGES}
    expected |= {wikitext_path(root, lang) for lang in DEMO_LANGUAGES}
    expected |= {content_path(root, lang) for lang in DEMO_LANGUAGES}
    assert all_files(root) == expected
    assert list(summary) == list(DEMO_LANGUAGES)


def test_same_seed_gives_identical_bytes_and_another_seed_different_bytes(demo_runs):
    # every file of two seed-42 runs is byte-identical; every file of the seed-43 run differs
    (a, _), (b, _), (c, _) = demo_runs["a"], demo_runs["b"], demo_runs["c"]
    rel = sorted(p.relative_to(a) for p in all_files(a))
    assert rel == sorted(p.relative_to(b) for p in all_files(b))
    assert rel == sorted(p.relative_to(c) for p in all_files(c))
    for path in rel:
        assert (a / path).read_bytes() == (b / path).read_bytes(), path
        assert (a / path).read_bytes() != (c / path).read_bytes(), path


def test_same_seed_gives_identical_bytes_in_another_process(demo_runs, tmp_path):
    # a fresh interpreter with another hash seed writes the same bytes (no set/dict-order leaks)
    code = ("import sys; from kitrain.demo import generate_demo; "
            f"generate_demo(sys.argv[1], ['ja'], {REVISIONS}, {SEED}, "
            f"'{SNAPSHOT}', '{WIKITEXT_SNAPSHOT}')")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env=env, timeout=60,
                   cwd=REPO)
    root, _ = demo_runs["a"]
    for path in (history_path, wikitext_path):
        assert path(tmp_path, "ja").read_bytes() == path(root, "ja").read_bytes()


def test_same_seed_gives_identical_summaries(demo_runs):
    # the returned summary is reproducible too, and differs for another seed
    assert demo_runs["a"][1] == demo_runs["b"][1]
    assert demo_runs["a"][1] != demo_runs["c"][1]


def test_files_hold_what_make_language_tables_returns(demo_runs, tables):
    # generate_demo writes exactly the pure tables (same seed and size), nothing added or lost
    root, _ = demo_runs["a"]
    for lang, (history, wikitext) in tables.items():
        assert pq.read_table(history_path(root, lang)).equals(history), lang
        assert pq.read_table(wikitext_path(root, lang)).equals(wikitext), lang


def test_summary_counts_match_the_files(demo_runs):
    # the summary's counts (revisions, pages, creations, anonymous, reverted, missing texts) agree
    root, summary = demo_runs["a"]
    for lang in DEMO_LANGUAGES:
        revs = content_revisions(pq.read_table(history_path(root, lang)).to_pylist())
        wikitext = pq.read_table(wikitext_path(root, lang))
        texts = set(wikitext.column("revision_id").to_pylist())
        got = summary[lang]
        assert got["revisions"] == len(revs)
        assert got["pages"] == len({r["page_id"] for r in revs})
        assert got["creations"] == sum(r["revision_parent_id"] == 0 for r in revs)
        assert got["anonymous"] == sum(bool(r["event_user_is_anonymous"]) for r in revs)
        assert got["reverted"] == sum(bool(r["revision_is_identity_reverted"]) for r in revs)
        assert got["missing_texts"] == sum(r["revision_id"] not in texts for r in revs)


def test_revisions_per_language_is_honoured(rows):
    # at least the requested number of content revisions, and at most one page's worth more
    for lang, (history, _) in rows.items():
        n = len(content_revisions(history))
        assert REVISIONS <= n <= REVISIONS + 20, (lang, n)


# --- 2. schema ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, columns, partitions",
    [
        ("history", HISTORY_TABLE_COLUMNS, HISTORY_PARTITIONS),  # wmf.mediawiki_history of today
        ("wikitext", WIKITEXT_COLUMNS, WIKITEXT_PARTITIONS),  # wmf.mediawiki_wikitext_history
        # wmf_content.mediawiki_content_history_v1, split by wiki_id directories
        ("content", tuple(c for c in CONTENT_HISTORY_COLUMNS if c[0] not in CONTENT_HISTORY_PARTITIONS),
         CONTENT_HISTORY_PARTITIONS),
    ],
    ids=["history", "wikitext", "content"],
)
def test_file_schema_is_the_schema_py_column_list(demo_runs, kind, columns, partitions):
    # every written file has schema.py's names in order and types, and no partition column inside
    root, _ = demo_runs["a"]
    for lang in DEMO_LANGUAGES:
        path = {"history": history_path, "wikitext": wikitext_path, "content": content_path}[kind](root, lang)
        schema = pq.read_schema(path)
        assert schema.names == [name for name, _ in columns], path
        assert [f.type for f in schema] == [SPARK_TO_ARROW[t] for _, t in columns], path
        assert not set(partitions) & set(schema.names), path


def test_exported_arrow_schemas_follow_schema_py():
    # HISTORY_SCHEMA / WIKITEXT_SCHEMA are the schema.py lists in Arrow form
    content = tuple(c for c in CONTENT_HISTORY_COLUMNS if c[0] not in CONTENT_HISTORY_PARTITIONS)
    for schema, columns in ((HISTORY_SCHEMA, HISTORY_TABLE_COLUMNS), (WIKITEXT_SCHEMA, WIKITEXT_COLUMNS),
                            (CONTENT_HISTORY_SCHEMA, content)):
        assert schema.names == [name for name, _ in columns]
        assert [f.type for f in schema] == [SPARK_TO_ARROW[t] for _, t in columns]


def test_partition_directories_give_back_the_partition_values(demo_runs):
    # read as a Hive dataset, the wikitext directories yield wiki_db and snapshot values;
    # each history file's wiki_db column names its own wiki
    root, _ = demo_runs["a"]
    wikitext = ds.dataset(root / "mediawiki_wikitext_history", format="parquet",
                          partitioning="hive")
    table = wikitext.to_table(columns=["snapshot", "wiki_db", "revision_id"])
    assert set(table.column("wiki_db").to_pylist()) == {wiki_db(lang) for lang in DEMO_LANGUAGES}
    assert set(map(str, table.column("snapshot").to_pylist())) == {WIKITEXT_SNAPSHOT}
    for lang in DEMO_LANGUAGES:
        history = pq.read_table(history_path(root, lang), columns=["wiki_db"])
        assert set(history.column("wiki_db").to_pylist()) == {wiki_db(lang)}


# --- 3. revert consistency ----------------------------------------------------------------------


def test_identity_reverts_are_consistent(rows):
    # each reverted content revision points at a later identity revert on the same page, which
    # restores a text (sha1) the page had before the reverted revision; seconds = time difference
    checked = 0
    for lang, (history, _) in rows.items():
        revs = content_revisions(history)
        by_id = {r["revision_id"]: r for r in revs}
        by_page = defaultdict(list)
        for r in revs:
            by_page[r["page_id"]].append(r)
        for r in revs:
            if not r["revision_is_identity_reverted"]:
                continue
            checked += 1
            where = (lang, r["revision_id"])
            when = parse_ts(r["event_timestamp"])
            reverting = by_id.get(r["revision_first_identity_reverting_revision_id"])
            assert reverting is not None, where
            assert reverting["page_id"] == r["page_id"], where
            reverted_at = parse_ts(reverting["event_timestamp"])
            assert reverted_at > when, where
            assert reverting["revision_is_identity_revert"] is True, where
            older = {o["revision_text_sha1"] for o in by_page[r["page_id"]]
                     if parse_ts(o["event_timestamp"]) < when}
            assert reverting["revision_text_sha1"] in older, where
            seconds = (reverted_at - when).total_seconds()
            assert r["revision_seconds_to_identity_revert"] == seconds, where
    assert checked >= 20  # the check is not vacuous


def test_non_reverted_revisions_have_no_reverting_revision(rows):
    # label false <=> no reverting id and no seconds-to-revert; the label is never null
    for lang, (history, _) in rows.items():
        for r in content_revisions(history):
            where = (lang, r["revision_id"])
            if r["revision_is_identity_reverted"] is False:
                assert r["revision_first_identity_reverting_revision_id"] is None, where
                assert r["revision_seconds_to_identity_revert"] is None, where
            else:
                assert r["revision_is_identity_reverted"] is True, where


# --- 4. every collection filter has something to do ---------------------------------------------


def test_data_exercises_every_collection_filter(rows):
    # revision wars, bots, creations, anonymous and registered editors, missing texts,
    # talk-page rows and non-revision events all occur across the demo languages
    totals = defaultdict(int)
    for lang, (history, wikitext) in rows.items():
        revs = content_revisions(history)
        reverted = {r["revision_id"] for r in revs if r["revision_is_identity_reverted"]}
        texts = {w["revision_id"] for w in wikitext}
        totals["war"] += sum(r["revision_first_identity_reverting_revision_id"] in reverted
                             for r in revs)
        totals["bot"] += sum(bool(r["event_user_is_bot_by"]) for r in revs)
        totals["creation"] += sum(r["revision_parent_id"] == 0 for r in revs)
        totals["anonymous"] += sum(r["event_user_is_anonymous"] is True for r in revs)
        totals["registered"] += sum(r["event_user_is_anonymous"] is False for r in revs)
        totals["missing_text"] += sum(r["revision_id"] not in texts for r in revs)
        totals["talk"] += sum(r["page_namespace"] == 1 for r in history)
        totals["non_revision"] += sum(r["event_entity"] != "revision" for r in history)
        # every language has creations, anonymous edits and a non-revision event of its own
        assert any(r["revision_parent_id"] == 0 for r in revs), lang
        assert any(r["event_user_is_anonymous"] for r in revs), lang
        assert any(r["event_entity"] != "revision" for r in history), lang
    kinds = ("war", "bot", "creation", "anonymous", "registered", "missing_text", "talk",
             "non_revision")
    assert not [k for k in kinds if totals[k] == 0], dict(totals)


def test_anonymous_editors_have_no_user_id_or_groups(rows):
    # anonymous rows carry an IP address as name, no id and no groups; registered rows carry an id
    for lang, (history, _) in rows.items():
        for r in content_revisions(history):
            where = (lang, r["revision_id"])
            if r["event_user_is_anonymous"]:
                assert r["event_user_id"] is None and r["event_user_groups"] == [], where
                assert re.fullmatch(r"[0-9a-f.:]+", r["event_user_text"]), r["event_user_text"]
            else:
                assert r["event_user_id"] is not None, where


def test_registered_editors_carry_flagged_groups(rows):
    # registered editors belong to groups that become user-group flags (schema.USER_GROUPS):
    # reverters (sysop, rollbacker, editor) and experienced users (extendedconfirmed) at least
    seen = set()
    for history, _ in rows.values():
        for r in content_revisions(history):
            if r["event_user_is_anonymous"] is False:
                seen.update(set(r["event_user_groups"]) & set(USER_GROUPS))
    assert {"sysop", "rollbacker", "editor", "extendedconfirmed"} <= seen, seen


def test_every_tag_flag_appears(tables_300):
    # each tag of schema.TAG_FLAGS is on at least one content revision across the demo languages
    seen = set()
    for history, _ in tables_300.values():
        for r in content_revisions(history.to_pylist()):
            seen.update(r["revision_tags"])
    assert {tag for tag, _ in TAG_FLAGS} <= seen, sorted(seen)


# --- 5. timestamps, ids, and the agreement of the two tables ------------------------------------


def test_timestamps_are_formatted_and_inside_the_window(rows):
    # 'YYYY-MM-DD HH:MM:SS.0', before the end of the snapshot month, mostly from 2022-01-01 on
    for lang, (history, _) in rows.items():
        stamps = [r["event_timestamp"] for r in content_revisions(history)]
        assert all(TIMESTAMP.fullmatch(s) for s in stamps), lang
        assert max(stamps) < "2022-08-01", lang
        assert sum(s >= "2022-01-01" for s in stamps) >= 0.8 * len(stamps), lang


def test_rows_fall_before_inside_and_after_the_holdout_week(rows):
    # rows before 2022-07-01, inside [2022-07-01, 2022-07-08) and from 2022-07-08 on, per language
    for lang, (history, _) in rows.items():
        stamps = [r["event_timestamp"] for r in content_revisions(history)]
        assert any(s < "2022-07-01" for s in stamps), lang
        assert any("2022-07-01" <= s < "2022-07-08" for s in stamps), lang
        assert any(s >= "2022-07-08" for s in stamps), lang


def test_parents_are_older_revisions_of_the_same_page(rows):
    # revision_parent_id points at an earlier revision of the same page;
    # revision ids are unique within a wiki and across the demo wikis
    all_ids = []
    for lang, (history, _) in rows.items():
        revs = [r for r in history if r["event_entity"] == "revision"]
        ids = [r["revision_id"] for r in revs]
        assert len(ids) == len(set(ids)), lang
        all_ids += ids
        by_id = {r["revision_id"]: r for r in revs}
        for r in revs:
            if r["revision_parent_id"] == 0:
                continue
            where = (lang, r["revision_id"])
            parent = by_id[r["revision_parent_id"]]
            assert parent["page_id"] == r["page_id"], where
            assert parse_ts(parent["event_timestamp"]) < parse_ts(r["event_timestamp"]), where
    assert len(all_ids) == len(set(all_ids))


def test_one_creation_per_page_and_it_comes_first(rows):
    # each content page has one parent-0 revision, its earliest, which page_creation_timestamp names
    for lang, (history, _) in rows.items():
        by_page = defaultdict(list)
        for r in content_revisions(history):
            by_page[r["page_id"]].append(r)
        for page, revs in by_page.items():
            revs.sort(key=lambda r: parse_ts(r["event_timestamp"]))
            assert [r["revision_parent_id"] for r in revs].count(0) == 1, (lang, page)
            assert revs[0]["revision_parent_id"] == 0, (lang, page)
            created = {r["page_creation_timestamp"] for r in revs}
            assert created == {revs[0]["event_timestamp"]}, (lang, page)


def test_wikitext_agrees_with_history(rows):
    # a revision has the same timestamp, page, parent and sha1 in both tables;
    # the sha1 and byte count are those of revision_text
    for lang, (history, wikitext) in rows.items():
        by_id = {r["revision_id"]: r for r in history if r["event_entity"] == "revision"}
        assert wikitext, lang
        for w in wikitext:
            h = by_id[w["revision_id"]]
            where = (lang, w["revision_id"])
            assert w["revision_timestamp"] == h["event_timestamp"], where
            assert w["page_id"] == h["page_id"], where
            assert w["revision_parent_id"] == h["revision_parent_id"], where
            digest = hashlib.sha1(w["revision_text"].encode("utf-8")).hexdigest()
            assert digest == h["revision_text_sha1"] == w["revision_text_sha1"], where
            assert len(w["revision_text"].encode("utf-8")) == h["revision_text_bytes"], where


def test_bytes_diff_is_bytes_minus_parent_bytes(rows):
    # revision_text_bytes_diff = own bytes - parent's bytes (a creation's "parent" has 0 bytes)
    for lang, (history, _) in rows.items():
        by_id = {r["revision_id"]: r for r in history if r["event_entity"] == "revision"}
        for r in by_id.values():
            parent = by_id.get(r["revision_parent_id"])
            parent_bytes = parent["revision_text_bytes"] if r["revision_parent_id"] else 0
            diff = r["revision_text_bytes"] - parent_bytes
            assert r["revision_text_bytes_diff"] == diff, (lang, r["revision_id"])


# --- 6. learnable but not trivial ---------------------------------------------------------------


def test_anonymous_edits_are_reverted_more_often_but_not_always(rows):
    # excluding bots and creations: anonymous revert rate clearly (1.5x) above the registered
    # rate, and below 0.9; the registered rate is above 0
    anon, registered = [], []
    for history, _ in rows.values():
        for r in content_revisions(history):
            if r["event_user_is_bot_by"] or r["revision_parent_id"] == 0:
                continue
            group = anon if r["event_user_is_anonymous"] else registered
            group.append(r["revision_is_identity_reverted"])
    anon_rate, registered_rate = sum(anon) / len(anon), sum(registered) / len(registered)
    assert 1.5 * registered_rate < anon_rate < 0.9, (anon_rate, registered_rate)
    assert registered_rate > 0, registered_rate


# --- 7. scripts ---------------------------------------------------------------------------------


def creation_texts(history: list[dict], wikitext: list[dict]) -> list[str]:
    creations = {r["revision_id"] for r in content_revisions(history)
                 if r["revision_parent_id"] == 0}
    return [w["revision_text"] for w in wikitext if w["revision_id"] in creations]


def prose_lines(text: str) -> list[str]:
    """Body lines without markup: no heading, list, table, template, category, title or ref."""
    return [line for line in text.splitlines()
            if line and line[0] not in "=*|{}['" and "<ref>" not in line]


@pytest.mark.parametrize("lang", DEMO_LANGUAGES)
def test_text_is_in_the_language_script(rows, lang):
    # every creation uses the language's script and none of the other non-Latin demo scripts
    history, wikitext = rows[lang]
    texts = creation_texts(history, wikitext)
    assert texts
    others = [SCRIPT_LETTERS[o] for o in DEMO_LANGUAGES if o not in (lang, "en")]
    for text in texts:
        assert SCRIPT_LETTERS[lang].search(text), text[:200]
        assert not any(o.search(text) for o in others), text[:200]


def test_japanese_prose_has_no_spaces_between_words(rows):
    # ja body lines, and the lead without its bold title and refs, have no ASCII space;
    # en body lines (the contrast) all have spaces
    history, wikitext = rows["ja"]
    texts = creation_texts(history, wikitext)
    lines = [line for text in texts for line in prose_lines(text)]
    assert lines and not any(" " in line for line in lines), [x for x in lines if " " in x][:3]
    for text in texts:
        lead = next(line for line in text.splitlines() if line.startswith("'''"))
        lead = re.sub(r"<ref>.*?</ref>", "", re.sub(r"^'''.*?''' ", "", lead))
        assert lead and " " not in lead, lead
    en_lines = [line for text in creation_texts(*rows["en"]) for line in prose_lines(text)]
    assert en_lines and all(" " in line for line in en_lines)


# --- 8. article shape ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?m)^== .+ ==$",  # a section heading
        r"\{\{",  # an infobox or cite template
        r"<ref>.+?</ref>",  # a reference
        r"\[\[(?!Category:)",  # a wikilink that is not a category
        r"(?m)^\{\|.*\n(.*\n)*?\|\}$",  # a wikitable, opened and closed
        r"(?m)^\[\[Category:[^\]]+\]\]$",  # a category line
    ],
    ids=["heading", "template", "ref", "wikilink", "table", "category"],
)
def test_creations_look_like_articles(rows, pattern):
    # every creation revision of every demo language has the element
    for lang, (history, wikitext) in rows.items():
        texts = creation_texts(history, wikitext)
        assert texts, lang
        for text in texts:
            assert re.search(pattern, text), (lang, text[:300])


# --- 9. validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lang": "xx"}, "unknown language code"),  # well-formed, unknown
        ({"lang": "en'; DROP"}, "invalid language code"),  # injection attempt
        ({"revisions": 5}, "at least 20"),  # too few revisions to build a history
        ({"snapshot": "2022-7"}, "YYYY-MM"),  # snapshot without the leading zero
    ],
    ids=["unknown-lang", "injection", "too-few-revisions", "bad-snapshot"],
)
def test_make_language_tables_rejects_bad_arguments(kwargs, message):
    args = {"lang": "en", "revisions": REVISIONS, "seed": SEED, "snapshot": SNAPSHOT, **kwargs}
    with pytest.raises(ValueError, match=message):
        make_language_tables(**args)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"languages": ["xx"]}, "unknown language code"),  # well-formed, unknown
        ({"languages": ["en", "en'; DROP"]}, "invalid language code"),  # bad code after a good one
        ({"languages": []}, "empty"),  # no language at all
        ({"revisions_per_language": 5}, ">= 20"),  # too few revisions
        ({"revisions_per_language": True}, "integer"),  # a bool is not a count
        ({"snapshot": "2022-7"}, "YYYY-MM"),  # bad history snapshot
        ({"wikitext_snapshot": "2022-13"}, "YYYY-MM"),  # bad wikitext snapshot
    ],
    ids=["unknown-lang", "injection", "no-lang", "too-few-revisions", "bool-revisions",
         "bad-snapshot", "bad-wikitext-snapshot"],
)
def test_generate_demo_rejects_bad_arguments_before_writing(tmp_path, kwargs, message):
    # the error comes before any file is written, even when the first language is valid
    args = {"languages": ["en"], "revisions_per_language": REVISIONS, "seed": SEED,
            "snapshot": SNAPSHOT, "wikitext_snapshot": WIKITEXT_SNAPSHOT, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate_demo(tmp_path / "out", **args)
    assert not (tmp_path / "out").exists()


def test_language_errors_are_value_errors():
    # LanguageError subclasses ValueError, and the demo raises it for a bad language
    assert issubclass(LanguageError, ValueError)
    with pytest.raises(LanguageError):
        make_language_tables("xx", REVISIONS, SEED)


def test_snapshot_places_the_timeline():
    # another snapshot shifts the windows with it: six months before its month to its end,
    # with the hold-out in its first week
    history, _ = make_language_tables("en", REVISIONS, SEED, "2021-03")
    ts = [t for t, ns, entity in zip(history.column("event_timestamp").to_pylist(),
                                      history.column("page_namespace").to_pylist(),
                                      history.column("event_entity").to_pylist())
          if entity == "revision" and ns == 0]
    assert max(ts) < "2021-04-01" and sum(t >= "2020-09-01" for t in ts) > 0.9 * len(ts)
    assert any("2021-03-01" <= t < "2021-03-08" for t in ts)


def test_every_revision_changes_the_text(tables):
    # MediaWiki saves no revision for a null edit, so no revision repeats its parent's text
    for lang, (history, _) in tables.items():
        rows = {r["revision_id"]: r for r in history.to_pylist() if r["event_entity"] == "revision"}
        same = [r["revision_id"] for r in rows.values() if r["revision_parent_id"] in rows
                and rows[r["revision_parent_id"]]["revision_text_sha1"] == r["revision_text_sha1"]]
        assert same == [], lang
