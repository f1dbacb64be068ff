-- Wikitext of one language's main-namespace revisions in the wikitext snapshot.
--
-- Parameters: :wikitext_snapshot (YYYY-MM), :wiki_db (e.g. ukwiki).
--
-- The retired monthly table (and the XML dumps, which the collection reads into it): a text that
-- is not there is missing; none is hidden (the column matches sql/content_history.sql).
SELECT
    revision_id,
    revision_text,
    FALSE AS text_hidden
FROM wmf.mediawiki_wikitext_history
WHERE snapshot = :wikitext_snapshot
  AND wiki_db = :wiki_db
  AND page_namespace = 0
