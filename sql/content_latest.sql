-- The newest revision of one wiki in wmf_content.mediawiki_content_history_v1: the DAG's sensor
-- waits until it is at or after the end of the run's windows (the table is updated daily).
--
-- Parameters: :wiki_db (e.g. ukwiki; the table calls it wiki_id).
--
-- Reads the view content_history_at_snapshot (kitrain.spark.register_content_view): the table at
-- its current snapshot, or at the run's pinned content_snapshot_id.
--
-- One wiki per query, on the table's partition column: on Iceberg the maximum comes from the
-- partition's file statistics. Formatted in the session's time zone (UTC, kitrain.spark.get_spark),
-- so that it compares as a string with the windows' dates.
SELECT date_format(MAX(revision_dt), 'yyyy-MM-dd HH:mm:ss') AS latest
FROM content_history_at_snapshot
WHERE wiki_id = :wiki_db
