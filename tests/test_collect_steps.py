"""The collection's DataFrame steps on tiny frames: labels, flags and every filter."""

from __future__ import annotations

import pytest

from kitrain import collect
from kitrain.schema import HISTORY_COLUMNS, HISTORY_EXTRA_COLUMNS, ddl

pytestmark = pytest.mark.spark

EXTRACT_COLUMNS = (
    "wiki_db", "event_comment", "event_user_text_historical", "event_user_is_bot_by",
    "event_user_is_anonymous", "event_user_is_temporary", "event_user_groups",
    "event_user_seconds_since_previous_revision",
    "revision_id", "page_title", "page_revision_count", "revision_text_bytes_diff",
    "revision_is_identity_reverted", "event_timestamp", "revision_tags", "revision_parent_id",
    "revision_first_identity_reverting_revision_id",
)  # fmt: skip
EXTRACT_SCHEMA = ddl(
    tuple((n, t) for n, t in HISTORY_COLUMNS + HISTORY_EXTRA_COLUMNS if n in EXTRACT_COLUMNS)
    + (("reverting_revision_is_reverted_revision", "boolean"),
       ("reverting_revision_event_user_groups", "array<string>"))
)


def extract_row(**overrides):
    """A plain registered, non-bot edit of ukwiki; overrides change one aspect per test row."""
    row = {
        "wiki_db": "ukwiki", "event_comment": "", "event_user_text_historical": "Editor",
        "event_user_is_bot_by": [], "event_user_is_anonymous": False,
        "event_user_is_temporary": False, "event_user_groups": [],
        "event_user_seconds_since_previous_revision": 60, "revision_id": 10, "page_title": "Kyiv",
        "page_revision_count": 3, "revision_text_bytes_diff": 12,
        "revision_is_identity_reverted": False, "event_timestamp": "2022-03-01 10:00:00.0",
        "revision_tags": [], "revision_parent_id": 9,
        "revision_first_identity_reverting_revision_id": None,
        "reverting_revision_is_reverted_revision": None,
        "reverting_revision_event_user_groups": None,
    }
    row.update(overrides)
    return row


def raw_frame(spark, rows):
    """The history extract as the SQL returns it (the table's own editor flags)."""
    columns = [c.split("`")[1] for c in EXTRACT_SCHEMA.split(", ")]
    return spark.createDataFrame([tuple(r[c] for c in columns) for r in rows], EXTRACT_SCHEMA)


def frame(spark, rows):
    """The extract with its editors classified, as every step after the read sees it."""
    return collect.classify_editors(raw_frame(spark, rows))


def ids(df):
    return sorted(r["revision_id"] for r in df.select("revision_id").collect())


def test_labels_and_reverting_facts(spark):
    rows = [
        # reverted by a rollbacker whose revert stood
        extract_row(revision_id=1, revision_is_identity_reverted=True,
                    revision_first_identity_reverting_revision_id=2,
                    reverting_revision_is_reverted_revision=False,
                    reverting_revision_event_user_groups=["rollbacker", "autoconfirmed"]),
        # reverted by a plain user whose revert was itself reverted (a revision war)
        extract_row(revision_id=3, revision_is_identity_reverted=True,
                    revision_first_identity_reverting_revision_id=4,
                    reverting_revision_is_reverted_revision=True,
                    reverting_revision_event_user_groups=["autoconfirmed"]),
        # reverting revision missing from the table: not a war, not a good user
        extract_row(revision_id=5, revision_is_identity_reverted=True,
                    revision_first_identity_reverting_revision_id=99),
        # never reverted
        extract_row(revision_id=6),
    ]
    out = {r["revision_id"]: r for r in collect.add_labels_and_flags(frame(spark, rows)).collect()}
    assert [out[i]["revision_is_identity_reverted"] for i in (1, 3, 5, 6)] == [1, 1, 1, 0]
    assert [out[i]["reverting_revision_is_reverted_revision"] for i in (1, 3, 5, 6)] == [
        False, True, False, False]
    assert [out[i]["is_reverted_by_good_user"] for i in (1, 3, 5, 6)] == [1, 0, 0, 0]


def test_tag_and_user_flags(spark):
    rows = [
        # mobile web edit by an anonymous user
        extract_row(revision_id=1, event_user_is_anonymous=True,
                    revision_tags=["mobile edit", "mobile web edit"]),
        # visual editor edit by a sysop with a hyphenated group
        extract_row(revision_id=2, revision_tags=["visualeditor"],
                    event_user_groups=["sysop", "ipblock-exempt"]),
        # null arrays are "no tags, no groups"
        extract_row(revision_id=3, revision_tags=None, event_user_groups=None),
    ]
    out = {r["revision_id"]: r for r in collect.add_labels_and_flags(frame(spark, rows)).collect()}
    assert (out[1]["is_mobile_edit"], out[1]["is_mobile_web_edit"], out[1]["is_visualeditor"]) == (1, 1, 0)
    assert out[1]["event_user_is_anonymous"] == 1 and out[2]["event_user_is_anonymous"] == 0
    assert (out[2]["is_sysop"], out[2]["is_ipblock_exempt"], out[2]["is_editor"]) == (1, 1, 0)
    assert out[3]["is_mobile_edit"] == 0 and out[3]["is_sysop"] == 0


def test_filters_drop_exactly_their_rows(spark):
    rows = [
        extract_row(revision_id=1),  # kept by every filter
        extract_row(revision_id=2, event_user_is_bot_by=["group"]),  # bot by group
        extract_row(revision_id=3, event_user_is_bot_by=None),  # null bot array: not a bot
        extract_row(revision_id=4, revision_parent_id=0),  # page creation
        extract_row(revision_id=5, revision_parent_id=None),  # no parent: nothing to diff
        extract_row(revision_id=6, event_user_is_anonymous=True),  # anonymous editor
        extract_row(revision_id=7, revision_is_identity_reverted=True,  # revision war
                    revision_first_identity_reverting_revision_id=8,
                    reverting_revision_is_reverted_revision=True),
    ]
    df = collect.add_labels_and_flags(frame(spark, rows))
    assert ids(collect.drop_bots(df)) == [1, 3, 4, 5, 6, 7]
    assert ids(collect.drop_creations(df)) == [1, 2, 3, 6, 7]
    assert ids(collect.keep_anonymous(df)) == [6]
    assert ids(collect.drop_revision_wars(df)) == [1, 2, 3, 4, 5, 6]


def test_window_is_half_open(spark):
    rows = [
        extract_row(revision_id=1, event_timestamp="2022-06-30 23:59:59.0"),  # before
        extract_row(revision_id=2, event_timestamp="2022-07-01 00:00:00.0"),  # at start: in
        extract_row(revision_id=3, event_timestamp="2022-07-07 23:59:59.0"),  # last second: in
        extract_row(revision_id=4, event_timestamp="2022-07-08 00:00:00.0"),  # at end: out
    ]
    assert ids(collect.in_window(frame(spark, rows), "2022-07-01", "2022-07-08")) == [2, 3]


def test_malformed_timestamps_are_candidates_then_dropped(spark):
    rows = [
        extract_row(revision_id=1, event_timestamp="2022-07-02 10:00:00.0"),  # in the window
        extract_row(revision_id=2, event_timestamp="2021-07-02 10:00:00.0"),  # well formed, outside
        extract_row(revision_id=3, event_timestamp="2022-07-02T10:00:00Z"),  # ISO: malformed
        extract_row(revision_id=4, event_timestamp="2022-02-30 10:00:00.0"),  # no such day
        extract_row(revision_id=5, event_timestamp=None),  # null
        extract_row(revision_id=6, event_timestamp="2022-07-02 10:00:00"),  # no fraction: fine
    ]
    candidates = collect.window_candidates(frame(spark, rows), "2022-07-01", "2022-07-08")
    assert ids(candidates) == [1, 3, 4, 5, 6]
    assert ids(collect.drop_malformed_timestamps(candidates)) == [1, 6]


def test_duplicate_revisions_collapse_or_go(spark):
    rows = [
        extract_row(revision_id=1),
        extract_row(revision_id=2), extract_row(revision_id=2),  # identical copies: one stays
        extract_row(revision_id=3), extract_row(revision_id=3, page_revision_count=4),  # disagree: both go
        extract_row(revision_id=4, revision_tags=["a"]), extract_row(revision_id=4, revision_tags=["a"]),
    ]
    out = collect.drop_duplicate_revisions(frame(spark, rows))
    assert ids(out) == [1, 2, 4]
    assert out.columns == frame(spark, rows).columns


def test_invalid_utf8_texts_dropped_other_strings_repaired(spark):
    from pyspark.sql import functions as F

    df = spark.createDataFrame(
        [(1, "6F6B", "6F6B", "4B79697621"), (2, "61FF62", "6F6B", "4B79697621"),
         (3, "6F6B", "C328", "4B79697621"), (4, "6F6B", "6F6B", "4BFF")],
        "revision_id bigint, r string, p string, t string",
    ).select("revision_id", *[F.unhex(c).cast("string").alias(n) for c, n in
                              (("r", "revision_text"), ("p", "parent_text"), ("t", "page_title"))])
    kept = collect.drop_invalid_utf8_texts(df)
    # 2: bad revision text, 3: bad parent text (a truncated two-byte sequence); 4's title is repairable
    assert ids(kept) == [1, 4]
    assert collect.string_columns(df) == ["page_title"]
    titles = {r["revision_id"]: r["page_title"] for r in collect.repair_utf8(kept).collect()}
    assert titles == {1: "Kyiv!", 4: "K\ufffd"}


def test_sampling_does_not_depend_on_partitioning(spark):
    df = spark.range(0, 5000).withColumnRenamed("id", "revision_id")
    one = ids(collect.sample_down(df.coalesce(1), 5000, 1000, seed=3))
    many = ids(collect.sample_down(df.repartition(7), 5000, 1000, seed=3))
    assert one == many


def test_sampling_is_seeded_and_only_above_the_limit(spark):
    df = spark.range(0, 2000).withColumnRenamed("id", "revision_id")
    # at or under the limit nothing is sampled
    assert collect.sample_down(df, 2000, 2000, seed=1) is df
    first = ids(collect.sample_down(df, 2000, 500, seed=1))
    again = ids(collect.sample_down(df, 2000, 500, seed=1))
    other = ids(collect.sample_down(df, 2000, 500, seed=2))
    assert first == again != other
    assert 400 < len(first) < 600  # about the limit


def test_attach_texts_marks_missing_and_ignores_duplicates(spark):
    history = spark.createDataFrame([(10, 9), (11, 10), (12, 50)], "revision_id bigint, revision_parent_id bigint")
    texts = spark.createDataFrame(
        [(9, "v9"), (10, "v10"), (10, "v10"), (11, "v11"), (77, "unrelated")],
        "revision_id bigint, revision_text string",
    )
    out = {r["revision_id"]: r for r in collect.attach_texts(history, texts).collect()}
    # a duplicated text row does not duplicate the revision
    assert len(out) == 3
    assert (out[10]["revision_text"], out[10]["parent_text"]) == ("v10", "v9")
    assert (out[11]["revision_text"], out[11]["parent_text"]) == ("v11", "v10")
    # revision 12: no own text and no parent text
    assert (out[12]["revision_text"], out[12]["parent_text"]) == (None, None)


def test_failed_diffs_are_kept_with_their_error_class(spark, monkeypatch):
    import pandas as pd

    def boom(prev, curr, lang, max_span_chars=None, text_rules="paper"):
        if curr == "bad":
            raise RecursionError("too deep")
        return real(prev, curr, lang, max_span_chars, text_rules)

    real = collect.diffmod.edit_diff
    monkeypatch.setattr(collect.diffmod, "edit_diff", boom)
    batch = pd.DataFrame({"revision_id": [1, 2, 3], "parent_text": ["A b.", "A b.", "A b."],
                          "revision_text": ["A b. C d.", "bad", "A b.\n\n" + "Long new text. " * 20]})
    (out,) = list(collect.diff_pandas(iter([batch]), lang="en", max_span_chars=200))
    # the third edit's changed span (300 characters) is over the limit: counted by its class
    assert list(out["diff_error"]) == [None, "RecursionError", "DiffTooLarge"]
    # the paper's rules: "C d." keeps its final mark
    assert out.loc[0, "texts_insert"] == ["C d."] and out.loc[1, "actions"] is None


# --- logged-out editors on today's data (issue 24) ----------------------------------------------

#: (what, table's anonymous flag, temporary flag, user name) -> (logged out, temporary account)
EDITOR_CASES = [
    ("IP editor", True, False, "203.0.113.7", True, False),
    ("IP editor, 70-field row (no temporary flag)", True, None, "2001:db8::1", True, False),
    ("temporary account, flagged", False, True, "~2025-12345-67", True, True),
    ("temporary account, flag null: the name decides", False, None, "~2025-12345-67", True, True),
    ("plain-numeric serial (before 2025-07), flag null", False, None, "~2024-1501", True, True),
    ("registered", False, False, "Editor", False, False),
    ("registered, 70-field row", False, None, "Editor", False, False),
    ("a ~ name that is no temporary account (Wikimedia reserves ~2 only)", False, None, "~Tilde", False, False),
    ("flag says registered: it wins over the name", False, False, "~2025-12345-67", False, False),
    ("imported edit: the prefix names no account here", False, None, "imported>~2025-12345-67", False, False),
    ("imported IP edit flagged anonymous by the table", True, None, "imported>203.0.113.7", True, False),
    ("all null", None, None, None, False, False),
]


def test_classify_editors_logged_out_is_ip_or_temporary_account(spark):
    rows = [extract_row(revision_id=i, event_user_is_anonymous=anon, event_user_is_temporary=temp,
                        event_user_text_historical=name)
            for i, (_, anon, temp, name, _, _) in enumerate(EDITOR_CASES)]
    out = {r["revision_id"]: r for r in collect.classify_editors(raw_frame(spark, rows)).collect()}
    for i, (what, _, _, _, logged_out, temporary) in enumerate(EDITOR_CASES):
        assert (out[i]["event_user_is_anonymous"], out[i]["event_user_is_temporary"]) == (logged_out, temporary), what


def test_python_definition_equals_the_spark_one(spark):
    # kitrain score and the KI-dataset import use the Python side of kitrain.editors
    from kitrain import editors

    for what, anon, temp, name, logged_out, temporary in EDITOR_CASES:
        assert editors.is_logged_out(anon, temp, name) is logged_out, what
        assert (editors.editor_group(anon, temp, name) == editors.TEMPORARY) is temporary, what


def test_temporary_account_gets_an_ip_editors_user_features(spark):
    # production scores a temporary account as an unregistered user: same flag, no groups
    rows = [
        extract_row(revision_id=1, event_user_is_anonymous=True, event_user_text_historical="203.0.113.7"),
        extract_row(revision_id=2, event_user_is_temporary=True, event_user_text_historical="~2025-00001-01",
                    event_user_groups=["ipblock-exempt", "autoconfirmed"]),
        extract_row(revision_id=3, event_user_is_temporary=None, event_user_text_historical="~2025-00002-02"),
        extract_row(revision_id=4, event_user_groups=["ipblock-exempt"]),
    ]
    out = {r["revision_id"]: r.asDict() for r in collect.add_labels_and_flags(frame(spark, rows)).collect()}
    from kitrain.schema import USER_GROUP_FLAGS

    user = ("event_user_is_anonymous", *USER_GROUP_FLAGS)
    ip = tuple(out[1][c] for c in user)
    assert ip == (1,) + (0,) * len(USER_GROUP_FLAGS)
    assert tuple(out[2][c] for c in user) == ip and tuple(out[3][c] for c in user) == ip
    assert [out[i]["event_user_is_temporary"] for i in (1, 2, 3, 4)] == [0, 1, 1, 0]
    assert out[4]["event_user_is_anonymous"] == 0 and out[4]["is_ipblock_exempt"] == 1
    # the anonymous-only collection (-f1 1) keeps IP editors and temporary accounts alike
    assert ids(collect.keep_anonymous(collect.add_labels_and_flags(frame(spark, rows)))) == [1, 2, 3]


def test_editor_counts_add_up(spark):
    rows = [extract_row(revision_id=i, event_user_is_anonymous=anon, event_user_is_temporary=temp,
                        event_user_text_historical=name)
            for i, (_, anon, temp, name, _, _) in enumerate(EDITOR_CASES)]
    rows_, counts = collect.count_editors(frame(spark, rows))
    expected = {"ip": 0, "temporary": 0, "registered": 0}
    for _, _, _, _, logged_out, temporary in EDITOR_CASES:
        expected["temporary" if temporary else "ip" if logged_out else "registered"] += 1
    assert rows_ == len(EDITOR_CASES) and counts == expected == {"ip": 3, "temporary": 3, "registered": 6}
