"""One feature schema: every column name that more than one stage reads is defined here.

Source tables (``wmf.mediawiki_history`` and ``wmf.mediawiki_wikitext_history``), the collected
output, the action-count keys of the edit diff, the tag flags and the user-group flags. Training,
evaluation and scoring import these names instead of spelling them again, so a rename happens once.
"""

from __future__ import annotations

#: ``wmf.mediawiki_history`` in column order: (name, Spark SQL type). The public TSV dumps share it.
HISTORY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("wiki_db", "string"), ("event_entity", "string"), ("event_type", "string"),
    ("event_timestamp", "string"), ("event_comment", "string"),
    ("event_user_id", "bigint"), ("event_user_text_historical", "string"),
    ("event_user_text", "string"), ("event_user_blocks_historical", "array<string>"),
    ("event_user_blocks", "array<string>"), ("event_user_groups_historical", "array<string>"),
    ("event_user_groups", "array<string>"), ("event_user_is_bot_by_historical", "array<string>"),
    ("event_user_is_bot_by", "array<string>"), ("event_user_is_created_by_self", "boolean"),
    ("event_user_is_created_by_system", "boolean"), ("event_user_is_created_by_peer", "boolean"),
    ("event_user_is_anonymous", "boolean"), ("event_user_registration_timestamp", "string"),
    ("event_user_creation_timestamp", "string"), ("event_user_first_edit_timestamp", "string"),
    ("event_user_revision_count", "bigint"), ("event_user_seconds_since_previous_revision", "bigint"),
    ("page_id", "bigint"), ("page_title_historical", "string"), ("page_title", "string"),
    ("page_namespace_historical", "int"), ("page_namespace_is_content_historical", "boolean"),
    ("page_namespace", "int"), ("page_namespace_is_content", "boolean"),
    ("page_is_redirect", "boolean"), ("page_is_deleted", "boolean"),
    ("page_creation_timestamp", "string"), ("page_first_edit_timestamp", "string"),
    ("page_revision_count", "bigint"), ("page_seconds_since_previous_revision", "bigint"),
    ("user_id", "bigint"), ("user_text_historical", "string"), ("user_text", "string"),
    ("user_blocks_historical", "array<string>"), ("user_blocks", "array<string>"),
    ("user_groups_historical", "array<string>"), ("user_groups", "array<string>"),
    ("user_is_bot_by_historical", "array<string>"), ("user_is_bot_by", "array<string>"),
    ("user_is_created_by_self", "boolean"), ("user_is_created_by_system", "boolean"),
    ("user_is_created_by_peer", "boolean"), ("user_is_anonymous", "boolean"),
    ("user_registration_timestamp", "string"), ("user_creation_timestamp", "string"),
    ("user_first_edit_timestamp", "string"),
    ("revision_id", "bigint"), ("revision_parent_id", "bigint"), ("revision_minor_edit", "boolean"),
    ("revision_deleted_parts", "array<string>"),
    ("revision_deleted_parts_are_suppressed", "boolean"), ("revision_text_bytes", "bigint"),
    ("revision_text_bytes_diff", "bigint"), ("revision_text_sha1", "string"),
    ("revision_content_model", "string"), ("revision_content_format", "string"),
    ("revision_is_deleted_by_page_deletion", "boolean"),
    ("revision_deleted_by_page_deletion_timestamp", "string"),
    ("revision_is_identity_reverted", "boolean"),
    ("revision_first_identity_reverting_revision_id", "bigint"),
    ("revision_seconds_to_identity_revert", "bigint"), ("revision_is_identity_revert", "boolean"),
    ("revision_is_from_before_page_creation", "boolean"), ("revision_tags", "array<string>"),
)  # fmt: skip

#: The temporary-account flags of the table since late 2024 (null where a source predates them).
HISTORY_EXTRA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("event_user_is_temporary", "boolean"), ("event_user_is_permanent", "boolean"),
    ("user_is_temporary", "boolean"), ("user_is_permanent", "boolean"),
)  # fmt: skip


def _inserted(columns: tuple[tuple[str, str], ...], after: str,
              *new: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    index = [name for name, _ in columns].index(after) + 1
    return columns[:index] + new + columns[index:]


_LAYOUT_74 = _inserted(
    _inserted(HISTORY_COLUMNS, "event_user_is_anonymous",
              ("event_user_is_temporary", "boolean"), ("event_user_is_permanent", "boolean")),
    "user_is_anonymous", ("user_is_temporary", "boolean"), ("user_is_permanent", "boolean"),
)
_LAYOUT_76 = _inserted(
    _inserted(_LAYOUT_74, "event_user_id", ("event_user_central_id", "bigint")),
    "user_id", ("user_central_id", "bigint"),
)
_LAYOUT_77 = _inserted(_LAYOUT_76, "event_user_is_permanent", ("event_user_is_cross_wiki", "boolean"))
_LAYOUT_78 = _inserted(_LAYOUT_77, "wiki_db", ("event_log_id", "bigint"))

#: Column order of the public ``mediawiki_history`` TSV dumps by their number of fields, as
#: ``MediawikiEvent.toTSVLine`` in wikimedia/analytics-refinery-source writes them. New columns are
#: inserted next to their kin, not appended: 74 adds the temporary-account flags after each
#: ``*_is_anonymous`` (commit 4499e7e0, released in v0.2.56, 2025-01); 76 adds
#: ``*_central_id`` after each user id (40a9d8fe, v0.3.5, 2025-10); 77 adds
#: ``event_user_is_cross_wiki`` after ``event_user_is_permanent`` (3a1adaf9) and 78
#: ``event_log_id`` after ``wiki_db`` (bf9c05c5), both released in v0.3.14, 2026-05.
HISTORY_DUMP_LAYOUTS: dict[int, tuple[tuple[str, str], ...]] = {
    len(layout): layout for layout in (HISTORY_COLUMNS, _LAYOUT_74, _LAYOUT_76, _LAYOUT_77, _LAYOUT_78)
}
#: ``wmf.mediawiki_history`` as it is today (the newest dump layout: the dumps print the table's
#: columns in its order). The demo copies have these columns.
HISTORY_TABLE_COLUMNS: tuple[tuple[str, str], ...] = HISTORY_DUMP_LAYOUTS[max(HISTORY_DUMP_LAYOUTS)]

#: Text columns the dump writer escapes (TAB, LF, CR as ``\t``, ``\n``, ``\r``; backslashes
#: are not escaped); array columns are escaped item by item too.
HISTORY_DUMP_ESCAPED_COLUMNS: tuple[str, ...] = (
    "event_comment", "event_user_text_historical", "event_user_text", "page_title_historical",
    "page_title", "user_text_historical", "user_text",
)

#: ``wmf.mediawiki_wikitext_history`` columns kitrain writes in demo copies and reads.
WIKITEXT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("page_id", "bigint"), ("page_namespace", "int"), ("page_title", "string"),
    ("page_redirect_title", "string"), ("page_restrictions", "array<string>"),
    ("user_id", "bigint"), ("user_text", "string"), ("revision_id", "bigint"),
    ("revision_parent_id", "bigint"), ("revision_timestamp", "string"),
    ("revision_minor_edit", "boolean"), ("revision_comment", "string"),
    ("revision_text_bytes", "bigint"), ("revision_text_sha1", "string"),
    ("revision_text", "string"), ("revision_content_model", "string"),
    ("revision_content_format", "string"),
)  # fmt: skip

#: ``wmf_content.mediawiki_content_history_v1``, the daily Iceberg table that replaced the wikitext
#: snapshots in January 2026 (every revision of every wiki, no snapshot partition). The wikitext
#: is ``revision_content_slots['main'].content_body``; suppressed content stays in the table with
#: ``revision_content_is_visible`` false.
CONTENT_SLOT_TYPE = ("struct<content_body:string,content_format:string,content_model:string,"
                     "content_sha1:string,content_size:bigint,origin_rev_id:bigint>")
CONTENT_HISTORY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("wiki_id", "string"), ("page_id", "bigint"), ("page_namespace_id", "int"),
    ("page_title", "string"), ("page_redirect_target", "string"), ("user_id", "bigint"),
    ("user_text", "string"), ("user_is_visible", "boolean"), ("revision_id", "bigint"),
    ("revision_parent_id", "bigint"), ("revision_dt", "timestamp"),
    ("revision_is_minor_edit", "boolean"), ("revision_comment", "string"),
    ("revision_comment_is_visible", "boolean"), ("revision_sha1", "string"),
    ("revision_size", "bigint"), ("revision_content_slots", f"map<string,{CONTENT_SLOT_TYPE}>"),
    ("revision_content_is_visible", "boolean"), ("row_content_update_dt", "timestamp"),
    ("row_visibility_update_dt", "timestamp"), ("row_move_update_dt", "timestamp"),
)  # fmt: skip
#: Partition columns of the content table's parquet copies, where they are split by directory.
CONTENT_HISTORY_PARTITIONS: tuple[str, ...] = ("wiki_id",)

#: Partition columns: the Hive tables are partitioned by these (directory ``name=value`` in copies).
HISTORY_PARTITIONS: tuple[str, ...] = ("snapshot",)
WIKITEXT_PARTITIONS: tuple[str, ...] = ("snapshot", "wiki_db")

#: Format of ``event_timestamp`` in the history table and its dumps (``2022-07-01 10:00:00.0``, Java's
#: ``Timestamp.toString``: a fraction of one to nine digits), as a Spark datetime pattern. A value not
#: in it cannot be placed in a window; the collection counts and drops it.
TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss[.SSSSSSSSS]"

# --- labels, tags, groups ---------------------------------------------------------------------

LABEL = "revision_is_identity_reverted"

#: ``revision_tags`` value -> output flag column, in the original's order.
TAG_FLAGS: tuple[tuple[str, str], ...] = (
    ("mobile edit", "is_mobile_edit"),
    ("mobile web edit", "is_mobile_web_edit"),
    ("visualeditor", "is_visualeditor"),
    ("wikieditor", "is_wikieditor"),
    ("mobile app edit", "is_mobile_app_edit"),
    ("android app edit", "is_android_app_edit"),
    ("ios app edit", "is_ios_app_edit"),
)

#: Groups of the reverting user that make a revert a "good" one.
GOOD_REVERTER_GROUPS: tuple[str, ...] = (
    "sysop", "oversight", "editor", "rollbacker", "checkuser", "abusefilter", "bureaucrat",
)  # fmt: skip

#: User groups that become one 0/1 flag each.
USER_GROUPS: tuple[str, ...] = (
    "editor", "trusted", "ipblock-exempt", "interface-admin", "sysop", "autoreview", "bureaucrat",
    "autopatrolled", "patroller", "rollbacker", "reviewer", "extendedconfirmed", "templateeditor",
    "uploader", "autoreviewer", "suppressredirect",
)  # fmt: skip


def group_flag(group: str) -> str:
    """Column name of a user-group flag: ``ipblock-exempt`` -> ``is_ipblock_exempt``."""
    return "is_" + group.replace("-", "_")


USER_GROUP_FLAGS: tuple[str, ...] = tuple(group_flag(g) for g in USER_GROUPS)
#: The collected flag of a logged-out editor (an IP editor or a temporary account: the one
#: definition of :mod:`kitrain.editors`); the history table's column of the same name flags IP
#: editors only.
USER_ANONYMOUS = "event_user_is_anonymous"
#: The collected flag of the logged-out editors who had a temporary account.
USER_TEMPORARY = "event_user_is_temporary"

# --- edit actions -----------------------------------------------------------------------------

#: The 22 content types of the original plus ``Character``, which mwedittypes 3 counts instead of
#: ``Word`` for languages written without spaces (ja, zh, th ...).
CONTENT_TYPES: tuple[str, ...] = (
    "Argument", "Category", "Comment", "ExternalLink", "Gallery", "HTMLEntity", "Heading", "List",
    "Media", "Paragraph", "Punctuation", "Reference", "Section", "Sentence", "Table",
    "Table Element", "Template", "Text", "Text Formatting", "Whitespace", "Wikilink", "Word",
    "Character",
)  # fmt: skip
ACTION_TYPES: tuple[str, ...] = ("change", "insert", "move", "remove")


def action_key(action: str, content_type: str) -> str:
    """Key of one action count, as the original wrote it: ``insert_Text``, ``remove_Table Element``."""
    return f"{action}_{content_type}"


#: All 92 keys of the ``actions`` map, always present, in a fixed order.
ACTION_KEYS: tuple[str, ...] = tuple(
    action_key(a, t) for t in CONTENT_TYPES for a in ACTION_TYPES
)

# --- collected output -------------------------------------------------------------------------

#: Columns of ``collected/<prefix>/<mode>/<lang>/`` (besides the edit-diff columns), in order.
COLLECTED_BASE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("wiki_db", "string"),
    ("event_comment", "string"),
    ("event_user_text_historical", "string"),
    ("event_user_seconds_since_previous_revision", "bigint"),
    ("revision_id", "bigint"),
    ("page_title", "string"),
    ("page_revision_count", "bigint"),
    ("revision_text_bytes_diff", "bigint"),
    (LABEL, "int"),
    ("event_timestamp", "string"),
    ("revision_parent_id", "bigint"),
    ("revision_first_identity_reverting_revision_id", "bigint"),
    ("reverting_revision_is_reverted_revision", "boolean"),
    ("is_reverted_by_good_user", "int"),
    *((flag, "int") for _, flag in TAG_FLAGS),
    (USER_ANONYMOUS, "int"),
    (USER_TEMPORARY, "int"),
    *((flag, "int") for flag in USER_GROUP_FLAGS),
)

#: The edit-diff columns computed on the executors.
DIFF_COLUMNS: tuple[tuple[str, str], ...] = (
    ("texts_removed", "array<string>"),
    ("texts_insert", "array<string>"),
    ("texts_change", "array<struct<before:string,after:string>>"),
    ("actions", "map<string,int>"),
)

COLLECTED_COLUMNS: tuple[tuple[str, str], ...] = COLLECTED_BASE_COLUMNS + DIFF_COLUMNS


def ddl(columns: tuple[tuple[str, str], ...]) -> str:
    """Spark DDL schema string for a column list (names quoted, so spaces and hyphens are safe)."""
    return ", ".join(f"`{name}` {dtype}" for name, dtype in columns)


def names(columns: tuple[tuple[str, str], ...]) -> list[str]:
    return [name for name, _ in columns]


# --- classifier features ----------------------------------------------------------------------
# Training, evaluation and scoring import these names; nothing renames a feature between stages.

#: Prefix of each text model's features: insert_s_0_max ... change_p_1_mean (the published names).
MLM_PREFIXES: dict[str, str] = {"inserts": "insert", "removes": "remove", "changes": "change"}
#: Per text: raw scores s_0, s_1 and softmax probabilities p_0, p_1; aggregated by max then mean.
TEXT_SCORE_STATS: tuple[str, ...] = ("s_0", "s_1", "p_0", "p_1")
TEXT_AGGREGATES: tuple[str, ...] = ("max", "mean")
#: Value of a text model's features for a revision without any text of that kind.
MISSING_TEXT_SCORE = -1.0


def text_feature_names(target: str) -> tuple[str, ...]:
    prefix = MLM_PREFIXES[target]
    return tuple(f"{prefix}_{s}_{a}" for a in TEXT_AGGREGATES for s in TEXT_SCORE_STATS)


TITLE_FEATURES: tuple[str, ...] = ("title_s_0",)
MLM_FEATURES: tuple[str, ...] = (
    *text_feature_names("inserts"), *text_feature_names("removes"), *text_feature_names("changes"),
    *TITLE_FEATURES,
)
ACTION_FEATURES: tuple[str, ...] = ACTION_KEYS
TAG_FEATURES: tuple[str, ...] = tuple(flag for _, flag in TAG_FLAGS)
#: The collected ``event_user_is_anonymous`` is the feature ``is_anonymous``.
IS_ANONYMOUS = "is_anonymous"
USER_FEATURES: tuple[str, ...] = (IS_ANONYMOUS, *USER_GROUP_FLAGS)
#: Edit metadata and action counts: the paper's ``base`` feature set.
BASE_FEATURES: tuple[str, ...] = ("wiki_db", "revision_text_bytes_diff", *TAG_FEATURES, *ACTION_FEATURES)
#: Treated as categories by the classifier.
CATEGORICAL_FEATURES: tuple[str, ...] = ("wiki_db", *TAG_FEATURES, *USER_FEATURES)
#: The collected ``event_user_is_temporary``: which logged-out editors had a temporary account.
#: Reports split the anonymous editors by it; the classifier never sees it (production scores a
#: temporary account as an unregistered user, like an IP).
IS_TEMPORARY = "is_temporary"
#: Carried beside the features for evaluation and reports, never fed to the classifier.
FEATURE_META_COLUMNS: tuple[str, ...] = (
    "revision_id", "page_title", "event_timestamp", LABEL, "is_balanced", "is_text_train", IS_TEMPORARY,
)
ALL_FEATURES: tuple[str, ...] = (*BASE_FEATURES, *USER_FEATURES, *MLM_FEATURES)
#: Columns of ``features/<split>/`` in order (``wiki_db`` is a feature, so it is not repeated).
FEATURE_TABLE_COLUMNS: tuple[str, ...] = (*FEATURE_META_COLUMNS, *ALL_FEATURES)


# --- classifier variants (the paper's ablation) -----------------------------------------------

POPULATIONS: tuple[str, ...] = ("all", "anon")
FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "base": BASE_FEATURES,
    "mlm": (*BASE_FEATURES, *MLM_FEATURES),
    "user": (*BASE_FEATURES, *USER_FEATURES),
    "user+mlm": (*BASE_FEATURES, *USER_FEATURES, *MLM_FEATURES),
}
#: ``<population>+<feature set>``: all+base, all+mlm, all+user, all+user+mlm, anon+base, ...
VARIANTS: tuple[str, ...] = tuple(f"{p}+{f}" for p in POPULATIONS for f in FEATURE_SETS)
PRODUCTION_VARIANT = "all+user+mlm"


def variant_parts(variant: str) -> tuple[str, str]:
    """``anon+user+mlm`` -> (``anon``, ``user+mlm``); raises ValueError for an unknown variant."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: one of {', '.join(VARIANTS)}")
    population, features = variant.split("+", 1)
    return population, features


def is_anonymous_variant(variant: str) -> bool:
    """Whether a variant is one of the anonymous-editor models (population ``anon``)."""
    return variant_parts(variant)[0] == "anon"


def variant_features(variant: str) -> tuple[str, ...]:
    """The ordered features of a variant. The ``anon`` ones leave out ``is_anonymous``: every row
    they train on and score is an anonymous editor's, so the flag says nothing there."""
    population, feature_set = variant_parts(variant)
    features = FEATURE_SETS[feature_set]
    if population == "anon":
        return tuple(f for f in features if f != IS_ANONYMOUS)
    return features


def categorical_of(features: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f for f in features if f in CATEGORICAL_FEATURES)
