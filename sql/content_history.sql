-- Wikitext of one language's main-namespace revisions in wmf_content.mediawiki_content_history_v1,
-- the daily table that replaced the wikitext snapshots in January 2026 (every revision of every
-- wiki; no snapshot partition).
--
-- Parameters: :wiki_db (e.g. ukwiki; the table calls it wiki_id).
--
-- Reads the view content_history_at_snapshot: the table at the one Iceberg snapshot the
-- collection reads and records (kitrain.spark.register_content_view; a snapshot id cannot be a
-- parameter of VERSION AS OF), or the table itself where it is not an Iceberg table.
--
-- The wikitext is the main slot's content_body. Suppressed content stays in the table with
-- revision_content_is_visible false (or null): such a text is never read, not even as an empty
-- one; it comes back as a missing text (NULL) with text_hidden set, so that the collection counts
-- it. A revision without a main slot has no text either.
SELECT
    revision_id,
    CASE WHEN revision_content_is_visible THEN revision_content_slots['main'].content_body END AS revision_text,
    NOT COALESCE(revision_content_is_visible, FALSE) AS text_hidden
FROM content_history_at_snapshot
WHERE wiki_id = :wiki_db
  AND page_namespace_id = 0
