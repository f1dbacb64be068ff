-- The one read of wmf.mediawiki_history for one language: its revisions from the window's start on
-- (all namespaces), which hold both the window's rows and every revision that reverted one of them.
-- history_extract.sql reads these rows twice (as the window, and to look up the reverting
-- revisions) from the session's cache, so that the table itself is scanned once.
--
-- Parameters (named, bound by Spark; never formatted into this text):
--   :snapshot   history snapshot, YYYY-MM
--   :wiki_db    e.g. ukwiki
--   :start_ts   window start, inclusive (YYYY-MM-DD; compared as a string with event_timestamp)
--   :end_ts     window end, exclusive
--   :timestamp_format  the tables' timestamp format (kitrain.schema.TIMESTAMP_FORMAT)
--
-- A revision that reverted one of the window is never older than it: the history job
-- (analytics-refinery-source, DenormalizedRevisionsBuilder) walks each page's revisions in
-- (timestamp, revision id) order and marks a revision reverted by a later one, whose distance in
-- time is revision_seconds_to_identity_revert, never negative. So every such revision is at or
-- after the window's start (or has an unreadable timestamp, kept as the window keeps them).
-- in_window marks the window's rows: main namespace, and a timestamp inside the window or not in
-- the table's format (or null: those cannot be placed in or out of the window by the string
-- comparison, so they are returned; the collection counts them in quality.json and drops them).
-- The other rows only serve the lookup: their other columns are read as NULL, which costs the
-- cache nothing.
SELECT
    revision_id,
    revision_is_identity_reverted,
    event_user_groups,
    in_window,
    IF(in_window, wiki_db, NULL) AS wiki_db,
    IF(in_window, event_comment, NULL) AS event_comment,
    IF(in_window, event_user_text_historical, NULL) AS event_user_text_historical,
    IF(in_window, event_user_is_bot_by, NULL) AS event_user_is_bot_by,
    IF(in_window, event_user_is_anonymous, NULL) AS event_user_is_anonymous,
    IF(in_window, event_user_is_temporary, NULL) AS event_user_is_temporary,
    IF(in_window, event_user_seconds_since_previous_revision, NULL) AS event_user_seconds_since_previous_revision,
    IF(in_window, page_title, NULL) AS page_title,
    IF(in_window, page_revision_count, NULL) AS page_revision_count,
    IF(in_window, revision_text_bytes_diff, NULL) AS revision_text_bytes_diff,
    IF(in_window, event_timestamp, NULL) AS event_timestamp,
    IF(in_window, revision_tags, NULL) AS revision_tags,
    IF(in_window, revision_parent_id, NULL) AS revision_parent_id,
    IF(in_window, revision_first_identity_reverting_revision_id, NULL) AS revision_first_identity_reverting_revision_id
FROM (
    SELECT
        *,
        COALESCE(page_namespace = 0
                 AND ((event_timestamp >= :start_ts AND event_timestamp < :end_ts)
                      OR try_to_timestamp(event_timestamp, :timestamp_format) IS NULL), FALSE) AS in_window
    FROM wmf.mediawiki_history
    WHERE snapshot = :snapshot
      AND wiki_db = :wiki_db
      AND event_entity = 'revision'
      AND (event_timestamp >= :start_ts OR try_to_timestamp(event_timestamp, :timestamp_format) IS NULL)
) AS since_window_start
