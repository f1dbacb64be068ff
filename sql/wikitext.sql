-- Wikitext of one language's main-namespace revisions in the wikitext snapshot.
--
-- Parameters: :wikitext_snapshot (YYYY-MM), :wiki_db (e.g. ukwiki).
SELECT
    revision_id,
    revision_text
FROM wmf.mediawiki_wikitext_history
WHERE snapshot = :wikitext_snapshot
  AND wiki_db = :wiki_db
  AND page_namespace = 0
