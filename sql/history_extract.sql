-- One language's revisions of main-namespace pages inside a time window, with what the label needs
-- from the revision that reverted each of them.
--
-- Reads history_since_window_start, the rows of history_scan.sql (the history table's one scan,
-- cached by the collection: kitrain.collect.history_rows), twice: its window rows (in_window), and
-- its revisions to look up each window row's reverting revision. No parameters: the scan has them.
--
-- A reverting revision is looked up among all the wiki's revisions from the window's start on
-- (every namespace), not only in the window, so a revision reverted after the window ends still
-- learns whether its revert was itself reverted; no reverting revision is older than the revision
-- it reverted (history_scan.sql).
-- Only the revisions that some row of the window names as its reverting revision are looked up
-- (reverting_ids, a semi-join). A reverting revision missing from the table gives NULLs: "not
-- reverted" and "no groups"; the flag reverting_revision_missing marks those rows so that they are
-- counted. Most rows were never reverted (a NULL reverting id): the join spreads them by their own
-- revision id instead of putting them all into the one shuffle partition of the NULL key, and its
-- second condition keeps them from matching anything.
-- event_user_is_anonymous is the table's flag (IP editors only) and event_user_is_temporary its
-- temporary-account flag (null where a source predates it); the collection turns the two and the
-- user name into the paper's "logged out" (kitrain.editors).
WITH revisions AS (
    SELECT
        wiki_db,
        event_comment,
        event_user_text_historical,
        event_user_is_bot_by,
        event_user_is_anonymous,
        event_user_is_temporary,
        event_user_groups,
        event_user_seconds_since_previous_revision,
        revision_id,
        page_title,
        page_revision_count,
        revision_text_bytes_diff,
        revision_is_identity_reverted,
        event_timestamp,
        revision_tags,
        revision_parent_id,
        revision_first_identity_reverting_revision_id
    FROM history_since_window_start
    WHERE in_window
),
reverting_ids AS (
    SELECT DISTINCT revision_first_identity_reverting_revision_id AS revision_id
    FROM revisions
    WHERE revision_first_identity_reverting_revision_id IS NOT NULL
),
reverting AS (
    -- one row per revision id, so that a duplicated reverting revision cannot duplicate rows
    SELECT
        h.revision_id,
        MAX(h.revision_is_identity_reverted) AS revision_is_identity_reverted,
        MAX(h.event_user_groups) AS event_user_groups
    FROM history_since_window_start h
    LEFT SEMI JOIN reverting_ids i
        ON h.revision_id = i.revision_id
    GROUP BY h.revision_id
)
SELECT
    r.*,
    v.revision_is_identity_reverted AS reverting_revision_is_reverted_revision,
    v.event_user_groups AS reverting_revision_event_user_groups,
    COALESCE(r.revision_is_identity_reverted, FALSE) AND v.revision_id IS NULL AS reverting_revision_missing
FROM revisions r
LEFT JOIN reverting v
    -- the same as r.revision_first_identity_reverting_revision_id = v.revision_id, with the NULL
    -- keys spread (COALESCE) and unmatched (IS NOT NULL)
    ON COALESCE(r.revision_first_identity_reverting_revision_id, r.revision_id) = v.revision_id
   AND r.revision_first_identity_reverting_revision_id IS NOT NULL
