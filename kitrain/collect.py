"""Collection of one language's labelled revisions with their edit diffs (``kitrain collect``).

``collect_language`` is the edge (``run_collect`` is it with one mode): it queries the source
tables with the SQL files, once for all the modes of a language, publishes parquet and writes
``quality.json``. The steps between are DataFrame-in/DataFrame-out functions that the unit
tests call on tiny frames. Every filter's effect is counted; nothing is dropped without a count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pandas as pd

from kitrain import __version__
from kitrain import diff as diffmod
from kitrain import editors
from kitrain.config import CollectConfig, ConfigError
from kitrain.languages import wiki_db
from kitrain.paths import RunPaths
from kitrain.schema import (
    COLLECTED_BASE_COLUMNS,
    COLLECTED_COLUMNS,
    GOOD_REVERTER_GROUPS,
    LABEL,
    TAG_FLAGS,
    TIMESTAMP_FORMAT,
    USER_ANONYMOUS,
    USER_GROUPS,
    USER_TEMPORARY,
    ddl,
    group_flag,
    names,
)
from kitrain import dumps
from kitrain.spark import (
    CONTENT_TABLE,
    HISTORY_TABLE,
    WIKITEXT_TABLE,
    HadoopFS,
    SourceError,
    malformed_timestamp,
    register_content_view,
    register_sources,
    run_sql,
)

logger = logging.getLogger(__name__)

#: Name of the column holding the error class of a failed diff (null when the diff succeeded).
DIFF_ERROR = "diff_error"
CACHE_META = "_kitrain_cache.json"
#: Version of the history extract's columns; a cached extract of another version is queried again.
#: 3: ``event_user_is_temporary``.
EXTRACT_VERSION = 3


# --- pure DataFrame steps -----------------------------------------------------------------------


def _F() -> Any:
    from pyspark.sql import functions as F

    return F


def _array_size(col: Any) -> Any:
    F = _F()
    return F.when(col.isNull(), F.lit(0)).otherwise(F.size(col))


def _contains(array_col: Any, value: str) -> Any:
    """0/1 flag: the array holds ``value`` (a null array holds nothing)."""
    F = _F()
    return F.coalesce(F.array_contains(array_col, F.lit(value)), F.lit(False)).cast("int")


def _inside(start: str, end: str) -> Any:
    """``start <= event_timestamp < end`` (timestamps are ISO strings)."""
    F = _F()
    return (F.col("event_timestamp") >= F.lit(start)) & (F.col("event_timestamp") < F.lit(end))


def in_window(df: Any, start: str, end: str) -> Any:
    """Revisions with ``start <= event_timestamp < end``."""
    return df.where(_inside(start, end))


def window_candidates(df: Any, start: str, end: str) -> Any:
    """The rows that belong to the window, plus those whose timestamp is malformed: those cannot be
    placed in or out of it by the string comparison, so they are read, counted and then dropped."""
    return df.where(_inside(start, end) | malformed_timestamp())


def drop_malformed_timestamps(df: Any) -> Any:
    return df.where(~malformed_timestamp())


def _disagreeing(distinct: Any) -> Any:
    """``revision_id, count`` of the ids that have several different rows in ``distinct``."""
    return distinct.groupBy("revision_id").count().where(_F().col("count") > 1)


def drop_duplicate_revisions(df: Any, distinct: Any = None) -> Any:
    """One row per revision id: identical copies collapse into one; a revision id whose copies
    disagree (which one is right cannot be told) is dropped whole.

    ``distinct`` is ``df.distinct()`` when the caller has it already (persisted, so that the
    count of :func:`conflicting_copies` reads the same rows instead of a second ``distinct`` of
    the whole window, the costliest shuffle of the selection)."""
    distinct = df.distinct() if distinct is None else distinct
    conflicting = _disagreeing(distinct).select("revision_id")
    return distinct.join(conflicting, "revision_id", "left_anti").select(*df.columns)


def conflicting_copies(df: Any, distinct: Any = None) -> int:
    """Rows that :func:`drop_duplicate_revisions` drops because their revision id has copies that
    disagree (identical copies counted once); ``distinct`` as there."""
    F = _F()
    distinct = df.distinct() if distinct is None else distinct
    return int(_disagreeing(distinct).select(F.sum("count")).first()[0] or 0)


#: The two texts a diff needs; a row with either not valid UTF-8 is dropped (and counted).
TEXT_COLUMNS = ("revision_text", "parent_text")


def string_columns(df: Any) -> list[str]:
    """Top-level string columns other than the two texts (titles, comments, user names)."""
    from pyspark.sql.types import StringType

    return [f.name for f in df.schema.fields if isinstance(f.dataType, StringType) and f.name not in TEXT_COLUMNS]


def _texts_valid() -> Any:
    F = _F()
    return F.is_valid_utf8(F.col(TEXT_COLUMNS[0])) & F.is_valid_utf8(F.col(TEXT_COLUMNS[1]))


def drop_invalid_utf8_texts(df: Any) -> Any:
    """Rows whose texts are valid UTF-8. Invalid bytes would stop the whole collection where the
    rows cross into Python (Arrow cannot convert them), and a diff of damaged text means nothing."""
    return df.where(_texts_valid())


def repair_utf8(df: Any) -> Any:
    """Invalid bytes in the other string columns become U+FFFD: the row stays, the value is
    readable, and the count of repaired values is reported."""
    F = _F()
    for name in string_columns(df):
        df = df.withColumn(name, F.make_valid_utf8(F.col(name)))
    return df


def classify_editors(df: Any) -> Any:
    """The paper's "anonymous" on today's data (:mod:`kitrain.editors`): ``event_user_is_anonymous``
    becomes "logged out" (the table's IP flag, or a temporary account by its flag or, where the
    flag is null, by its name) and ``event_user_is_temporary`` says which of them had a temporary
    account. Both are non-null booleans afterwards; every later step and count sees them."""
    return (df.withColumn("_temporary", editors.spark_is_temporary())
            .withColumn(USER_ANONYMOUS, editors.spark_is_logged_out())
            .withColumn(USER_TEMPORARY, _F().col("_temporary"))
            .drop("_temporary"))


def editor_sums(where: Any = None) -> list[Any]:
    """Aggregate columns counting the rows of each editor group (:data:`kitrain.editors.GROUPS`),
    optionally only where ``where`` holds; named by the group. Reads the classified flags, as
    booleans or 0/1."""
    F = _F()
    temporary = F.col(USER_TEMPORARY).cast("boolean")
    logged_out = F.col(USER_ANONYMOUS).cast("boolean")
    conditions = {editors.IP: logged_out & ~temporary, editors.TEMPORARY: temporary,
                  editors.REGISTERED: ~logged_out}
    return [F.sum((cond if where is None else cond & where).cast("int")).alias(group)
            for group, cond in conditions.items()]


def editor_counts(row: Any) -> dict[str, int]:
    """``{ip, temporary, registered}`` from a row of :func:`editor_sums`."""
    return {group: int(row[group] or 0) for group in editors.GROUPS}


def count_editors(df: Any) -> tuple[int, dict[str, int]]:
    """Rows of ``df`` and their editor groups, in one Spark job."""
    row = df.select(_F().count(_F().lit(1)).alias("_rows"), *editor_sums()).first()
    return int(row["_rows"]), editor_counts(row)


def add_labels_and_flags(df: Any) -> Any:
    """Label, reverting-revision facts, tag flags and user flags, as 0/1 integers.

    * the label ``revision_is_identity_reverted`` becomes 0/1;
    * ``reverting_revision_is_reverted_revision``: a missing reverting revision counts as not reverted;
    * ``is_reverted_by_good_user``: the reverting user is in one of ``GOOD_REVERTER_GROUPS``;
    * a flag per tag of ``TAG_FLAGS`` and per group of ``USER_GROUPS``; logged out and temporary
      account (:func:`classify_editors`) as 0/1. A logged-out editor's group flags are all 0: a
      temporary account gets exactly an IP editor's user features, as production scores it.
    """
    F = _F()
    reverter_groups = F.col("reverting_revision_event_user_groups")
    good = F.lit(0)
    for group in GOOD_REVERTER_GROUPS:
        good = F.greatest(good, _contains(reverter_groups, group))
    out = (
        df.withColumn(LABEL, F.coalesce(F.col(LABEL), F.lit(False)).cast("int"))
        .withColumn(
            "reverting_revision_is_reverted_revision",
            F.coalesce(F.col("reverting_revision_is_reverted_revision"), F.lit(False)),
        )
        .withColumn("is_reverted_by_good_user", good)
    )
    for tag, flag in TAG_FLAGS:
        out = out.withColumn(flag, _contains(F.col("revision_tags"), tag))
    logged_out = F.coalesce(F.col(USER_ANONYMOUS), F.lit(False))
    for group in USER_GROUPS:
        out = out.withColumn(group_flag(group),
                             F.when(logged_out, F.lit(0)).otherwise(_contains(F.col("event_user_groups"), group)))
    out = out.withColumn(USER_ANONYMOUS, logged_out.cast("int"))
    return out.withColumn(USER_TEMPORARY, F.coalesce(F.col(USER_TEMPORARY), F.lit(False)).cast("int"))


def drop_revision_wars(df: Any) -> Any:
    """Revisions whose reverting revision was itself reverted (a revision war) are dropped."""
    return df.where(~_F().col("reverting_revision_is_reverted_revision"))


def drop_bots(df: Any) -> Any:
    """Edits by users flagged as bots by any means (non-empty ``event_user_is_bot_by``)."""
    return df.where(_array_size(_F().col("event_user_is_bot_by")) == 0)


def drop_creations(df: Any) -> Any:
    """Page creations (parent 0, or no parent at all) have nothing to diff against."""
    F = _F()
    return df.where(F.col("revision_parent_id").isNotNull() & (F.col("revision_parent_id") != 0))


def keep_anonymous(df: Any) -> Any:
    return df.where(_F().col(USER_ANONYMOUS) == 1)


#: Resolution of the sampling fraction.
SAMPLE_BUCKETS = 1_000_000_000


def sample_down(df: Any, rows: int, max_records: int, seed: int) -> Any:
    """About ``max_records`` rows when there are more than that: a revision is kept when a seeded
    hash of its id falls under the fraction. Unlike ``DataFrame.sample`` the choice does not depend
    on how rows are partitioned or ordered (a shuffle, another master), so a rerun or a cluster
    run keeps exactly the same revisions."""
    if rows <= max_records:
        return df
    F = _F()
    bucket = F.pmod(F.xxhash64(F.col("revision_id"), F.lit(seed)), F.lit(SAMPLE_BUCKETS))
    return df.where(bucket < F.lit(int(SAMPLE_BUCKETS * max_records / rows)))


#: Set where the text table holds the revision but its text is suppressed (never read).
HIDDEN_COLUMNS = ("revision_text_hidden", "parent_text_hidden")


def wanted_ids(df: Any) -> Any:
    """``id``: the revision ids and parent ids of ``df``'s rows, the texts a diff of them needs
    (with repeats; null parents included, which match no text)."""
    F = _F()
    return df.select(F.col("revision_id").alias("id")).union(df.select(F.col("revision_parent_id").alias("id")))


def one_text_per_id(texts: Any, needed: Any) -> Any:
    """``revision_id, text, hidden``: the text table cut down to the ids of ``needed`` (a frame
    with the column ``id``; wrap it in ``F.broadcast`` to keep the text table from being shuffled)
    and reduced to one text per id, so that a duplicated row cannot duplicate revisions."""
    F = _F()
    hidden = F.max("text_hidden") if "text_hidden" in texts.columns else F.lit(False)
    return (
        texts.join(needed, texts["revision_id"] == needed["id"], "left_semi")
        .groupBy("revision_id")
        .agg(F.max("revision_text").alias("text"), hidden.alias("hidden"))
    )


def attach_texts(df: Any, texts: Any) -> Any:
    """Add ``revision_text`` and ``parent_text`` (null where the text table has none), and
    ``revision_text_hidden`` / ``parent_text_hidden`` (true where the table holds the revision but
    its content is suppressed: that text is null too, never an empty text).

    The text table is first cut down to the ids needed (revisions and their parents), then
    reduced to one text per id (:func:`one_text_per_id`). A collection of several modes cuts it
    once for all of them and attaches from that with :func:`attach_one_texts`.
    """
    return attach_one_texts(df, one_text_per_id(texts, wanted_ids(df).distinct()))


def attach_one_texts(df: Any, one_text: Any) -> Any:
    """:func:`attach_texts` from a table of :func:`one_text_per_id` (which may hold the texts of
    other rows too: only the ids of ``df``'s rows and parents are joined)."""
    F = _F()
    own = one_text.select(F.col("revision_id").alias("_own_id"), F.col("text").alias("revision_text"),
                          F.col("hidden").alias(HIDDEN_COLUMNS[0]))
    parent = one_text.select(F.col("revision_id").alias("_parent_id"), F.col("text").alias("parent_text"),
                             F.col("hidden").alias(HIDDEN_COLUMNS[1]))
    return (
        df.join(own, df["revision_id"] == own["_own_id"], "left")
        .join(parent, df["revision_parent_id"] == parent["_parent_id"], "left")
        .drop("_own_id", "_parent_id")
    )


def diff_pandas(batches: Iterator[pd.DataFrame], lang: str, max_span_chars: int | None = None,
                text_rules: str = diffmod.DEFAULT_TEXT_RULES) -> Iterator[pd.DataFrame]:
    """``mapInPandas`` body: diff each revision against its parent, batch by batch (Arrow).

    A failed diff keeps its row with the error class in ``diff_error`` (``DiffTooLarge`` for a
    changed span over ``max_span_chars``); the driver counts and drops those rows, so no failure
    is silent.
    """
    diffmod.self_check()
    for batch in batches:
        inserts, removes, changes, actions, errors = [], [], [], [], []
        for prev, curr in zip(batch["parent_text"], batch["revision_text"]):
            try:
                result = diffmod.edit_diff(prev, curr, lang, max_span_chars, text_rules)
            except Exception as exc:  # counted by class on the driver, never swallowed
                inserts.append(None)
                removes.append(None)
                changes.append(None)
                actions.append(None)
                errors.append(type(exc).__name__)
                continue
            inserts.append(result.texts_insert)
            removes.append(result.texts_removed)
            changes.append([{"before": b, "after": a} for b, a in result.texts_change])
            actions.append(result.actions)
            errors.append(None)
        out = batch.drop(columns=["parent_text", "revision_text"])
        out["texts_removed"] = removes
        out["texts_insert"] = inserts
        out["texts_change"] = changes
        out["actions"] = actions
        out[DIFF_ERROR] = errors
        yield out


def compute_diffs(df: Any, lang: str, partitions: int, max_span_chars: int | None = None,
                  text_rules: str = diffmod.DEFAULT_TEXT_RULES) -> Any:
    """Run :func:`diff_pandas` on the executors; rows keep every column but the two texts."""
    kept = [f for f in df.schema.fields if f.name not in TEXT_COLUMNS]
    out_schema = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in kept)
    out_schema += ", " + ddl(COLLECTED_COLUMNS[len(COLLECTED_BASE_COLUMNS):])
    out_schema += f", `{DIFF_ERROR}` string"
    return df.repartition(partitions, "revision_id").mapInPandas(
        functools.partial(diff_pandas, lang=lang, max_span_chars=max_span_chars, text_rules=text_rules), out_schema
    )


#: Largest wikitext MediaWiki stores: ``$wgMaxArticleSize``, 2048 KiB on Wikimedia's wikis (bytes
#: of UTF-8). The diff gets both texts of a revision whole (only the diff itself is limited to the
#: changed span, by ``max_diff_chars``), so a row can carry up to twice this.
MAX_PAGE_BYTES = 2 * 1024 * 1024
#: Bytes of texts one Arrow batch of the diff may hold: what one Python worker holds at a time as
#: Arrow buffers, about as much again as pandas strings, plus the diff's own working set.
DIFF_BATCH_BYTES = 64 * 1024 * 1024
#: Rows of one Arrow batch of the diff: as many as the byte budget holds when every row carries two
#: texts of the largest size (16). Spark's default, 10,000 rows, could hand one worker 40 GB of
#: texts; a small batch costs nothing measurable next to diffs that take milliseconds to seconds
#: per row.
DIFF_BATCH_ROWS = max(1, DIFF_BATCH_BYTES // (2 * MAX_PAGE_BYTES))
#: The Arrow settings :func:`diff_batches` sets: rows per batch, and bytes per batch, which Spark 4
#: honours for the batches it sends to Python workers as well (a batch ends at either limit), so
#: that a revision over the page limit (an imported page, an older limit) still keeps the batch
#: within the budget (a single larger row goes alone).
ARROW_BATCH_SETTINGS = {
    "spark.sql.execution.arrow.maxRecordsPerBatch": str(DIFF_BATCH_ROWS),
    "spark.sql.execution.arrow.maxBytesPerBatch": str(DIFF_BATCH_BYTES),
}


#: Rows of one batch of texts inside the JVM: of the vectorized Parquet reader
#: (``spark.sql.parquet.columnarReaderBatchSize``, 4,096 rows by default) and of the in-memory
#: column store a cached frame is kept in (``spark.sql.inMemoryColumnarStorage.batchSize``, 10,000).
#: Either holds its batch's strings in one on-heap array, outside Spark's memory accounting: 4,096
#: revisions of a large page are gigabytes, which ended a collection of 10,000 synthetic revisions
#: in ``Java heap space`` at Spark's default 1g heap, and one of 200,000 at 4g (benchmarks/README.md).
#: As many rows as :data:`DIFF_BATCH_BYTES` holds at two texts of the largest size; batches this
#: small cost nothing measurable next to the diff (same benchmark).
TEXT_BATCH_ROWS = DIFF_BATCH_ROWS

#: The settings :func:`text_batches` sets.
TEXT_BATCH_SETTINGS = {
    "spark.sql.parquet.columnarReaderBatchSize": str(TEXT_BATCH_ROWS),
    "spark.sql.inMemoryColumnarStorage.batchSize": str(TEXT_BATCH_ROWS),
}


def text_storage() -> Any:
    """The storage level of the cached frames that carry texts: disk only.

    A cached partition is one block of Spark's block manager, hundreds of megabytes with texts. A
    level that uses memory reads a block spilled to disk back into one heap buffer
    (``BlockManager.maybeCacheDiskBytesInMemory``), which ended 50,000 synthetic revisions in ``Java
    heap space`` at a 1g heap; from disk alone a block is streamed.
    """
    from pyspark import StorageLevel

    return StorageLevel.DISK_ONLY


@contextlib.contextmanager
def session_settings(spark: Any, settings: dict[str, str]) -> Iterator[None]:
    """Run the body with ``settings`` set on the session, restoring the session's own values
    afterwards (the session may be shared with other work, as in the tests).

    Spark reads these when a job runs (the physical plan takes them from the session's conf and
    sends them to the executors with the job), so they must hold around every job they govern,
    including a later job that computes a lost cache block again.
    """
    previous = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def diff_batches(spark: Any) -> contextlib.AbstractContextManager[None]:
    """Run the diff's Spark jobs with :data:`ARROW_BATCH_SETTINGS`: around the job that fills the
    diff's cache, and around any later job that could compute it again (a lost cache block)."""
    return session_settings(spark, ARROW_BATCH_SETTINGS)


def text_batches(spark: Any) -> contextlib.AbstractContextManager[None]:
    """Run the jobs that read or cache texts with :data:`TEXT_BATCH_SETTINGS`: the text read, the
    cached frames with both texts and the diff, the published write."""
    return session_settings(spark, TEXT_BATCH_SETTINGS)


#: Bytes of a row group of the published files (parquet-mr's ``parquet.block.size``, 128 MiB by
#: default). ``kitrain prepare`` merges a language's part files, holding one decoded row group of
#: each at a time: texts decode to several times their compressed size, so Spark's default would
#: cost it gigabytes per language; 16 MiB keeps that to tens of megabytes a file.
COLLECTED_ROW_GROUP_BYTES = 16 * 1024 * 1024


def write_published(df: Any, path: str) -> None:
    """Write ``df`` as parquet at ``path`` in row groups of :data:`COLLECTED_ROW_GROUP_BYTES`."""
    df.write.mode("overwrite").option("parquet.block.size", str(COLLECTED_ROW_GROUP_BYTES)).parquet(path)


def to_output(df: Any) -> Any:
    """The published columns, in order, with their schema types."""
    F = _F()
    return df.select(*[F.col(f"`{name}`").cast(dtype).alias(name) for name, dtype in COLLECTED_COLUMNS])


# --- edge ---------------------------------------------------------------------------------------


class EmptyCollectionError(SourceError):
    """The mode's window holds fewer revisions than ``min_rows`` in the source: a missing or partial
    snapshot, a wrong window or wiki. Nothing is published and no quality report written, for no
    mode of the collection (every mode's window is counted before any mode reads its texts), as for
    the other source errors, so an older output of the language stays as it was; the edges (``kitrain
    collect``, the spark-submit application) print the one-line message and exit non-zero, which
    fails this language's task alone."""


def check_window_rows(cfg: CollectConfig, revisions: int, malformed: int = 0) -> None:
    """Raise :class:`EmptyCollectionError` when the window holds fewer than ``cfg.min_rows``
    revisions as read from the source.

    ``revisions`` is the count of the first Spark job over the extract, the ``read`` step less the
    rows whose timestamp is malformed: those cannot be placed in the window and are dropped next,
    so a window of malformed rows only is as empty as one without rows. It is checked there,
    before the duplicates, the paper's filters, the sampling, the texts and the diff: the count
    costs no extra job, no text has been read and nothing published yet, for any mode of the
    collection (only the history extract of both windows is cached, as a rerun may use it), and
    the message is about the source and the window, not about a filter (a window the filters empty
    is data, counted in quality.json; an empty window is a missing snapshot or a wrong setting).
    """
    if revisions >= cfg.min_rows:
        return
    start, end = cfg.window
    besides = f" (and {malformed} with a malformed timestamp)" if malformed else ""
    raise EmptyCollectionError(
        f"{cfg.source} source, snapshot {cfg.snapshot}, {wiki_db(cfg.lang)}, window {start}..{end} "
        f"({cfg.mode}): {revisions} revisions{besides}, fewer than min_rows={cfg.min_rows}"
    )


class _Steps:
    """Row counts after each step, in order, for quality.json."""

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []

    def add(self, step: str, rows: int, editors: dict[str, int], enabled: bool = True, **extra: Any) -> None:
        """One step: its rows, and of them the edits by IP editors, temporary accounts and
        registered editors (:mod:`kitrain.editors`), which add up to the rows."""
        if sum(editors.values()) != rows:
            raise RuntimeError(f"{step}: editor counts {editors} do not add up to {rows} rows")
        previous = self.steps[-1]["rows"] if self.steps else rows
        entry = {"step": step, "enabled": enabled, "rows": rows, "dropped": previous - rows,
                 "editors": dict(editors), **extra}
        self.steps.append(entry)
        logger.info("%-16s %8d rows (%d dropped; ip %d, temporary %d, registered %d)", step, rows,
                    previous - rows, editors["ip"], editors["temporary"], editors["registered"])


#: The view history_extract.sql reads: the rows of history_scan.sql, cached (:func:`history_rows`).
HISTORY_SCAN_VIEW = "history_since_window_start"


@contextlib.contextmanager
def history_rows(spark: Any, snapshot: str, wiki: str, start: str, end: str) -> Iterator[Any]:
    """The history extract of ``wiki``'s window ``[start, end)`` (history_extract.sql), from ONE
    scan of ``wmf.mediawiki_history``.

    The extract reads the window's rows and looks up the revisions that reverted them: both come
    from the wiki's revisions since the window's start (history_scan.sql), which are read once,
    cached (spilling to disk) and counted (logged) here, then put behind :data:`HISTORY_SCAN_VIEW` for the
    extract to read twice. Run the extract's jobs inside the block: the cache and the view are
    dropped when it ends.
    """
    from pyspark import StorageLevel

    scan = run_sql(spark, "history_scan", snapshot=snapshot, wiki_db=wiki, start_ts=start, end_ts=end,
                   timestamp_format=TIMESTAMP_FORMAT).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        scanned = scan.count()  # the one scan of the table, which fills the cache
        scan.createOrReplaceTempView(HISTORY_SCAN_VIEW)
        logger.info("%s: %d history rows from %s on scanned for the window %s..%s", wiki, scanned, start, start, end)
        yield run_sql(spark, "history_extract")
    finally:
        spark.catalog.dropTempView(HISTORY_SCAN_VIEW)
        scan.unpersist()


def history_extract(spark: Any, cfg: CollectConfig, paths: RunPaths, fs: HadoopFS,
                    source_report: dict[str, Any]) -> Any:
    """The SQL extract of the language's revisions over both modes' windows, cached per snapshot.

    Always written to the cache; read back from it instead of querying when ``use_cache`` is set and
    a cache covering the window exists.
    """
    cache_dir = paths.history_cache(cfg.snapshot, cfg.lang)
    start, end = cfg.extract_window
    meta = {"snapshot": cfg.snapshot, "wiki_db": wiki_db(cfg.lang), "start": start, "end": end,
            "source": cfg.source, "extract_version": EXTRACT_VERSION}
    if cfg.use_cache:
        if fs.exists(f"{cache_dir}/{CACHE_META}"):
            cached = json.loads(fs.read_text(f"{cache_dir}/{CACHE_META}"))
            if cached.get("extract_version") != EXTRACT_VERSION:
                logger.warning("cached extract %s was written by an older kitrain: querying again", cache_dir)
            elif cached.get("start", "9") <= start and cached.get("end", "0") >= end:
                logger.info("reusing cached history extract %s", cache_dir)
                return spark.read.parquet(cache_dir)
            logger.warning("cached extract %s covers %s..%s, not %s..%s: querying again",
                           cache_dir, cached.get("start"), cached.get("end"), start, end)
        else:
            logger.warning("no cached history extract at %s: querying the source", cache_dir)
    if cfg.source == "dumps":
        source_report.update(dumps.register_history(spark, cfg.dumps_dir, cfg.snapshot, wiki_db(cfg.lang),
                                                    start, end, HISTORY_TABLE))
    tmp = f"{cache_dir.rsplit('/', 1)[0]}/.{cfg.lang}.tmp-{uuid.uuid4().hex}"
    with history_rows(spark, cfg.snapshot, wiki_db(cfg.lang), start, end) as extract:
        extract.write.mode("overwrite").parquet(tmp)
    fs.write_text(f"{tmp}/{CACHE_META}", json.dumps(meta, sort_keys=True))
    fs.publish_dir(tmp, cache_dir)
    return spark.read.parquet(cache_dir)


def read_texts(spark: Any, cfg: CollectConfig) -> Any:
    """``revision_id, revision_text, text_hidden`` of the language's main-namespace revisions from
    the run's text source: the content history table at the snapshot :func:`run_collect` put behind
    :data:`kitrain.spark.CONTENT_VIEW`, or the legacy wikitext table at its snapshot (also the table
    the XML dumps are read into)."""
    if cfg.reads_content_table:
        return run_sql(spark, "content_history", wiki_db=wiki_db(cfg.lang))
    return run_sql(spark, "wikitext", wikitext_snapshot=cfg.wikitext_snapshot, wiki_db=wiki_db(cfg.lang))


def check_source_files(cfg: CollectConfig) -> dict[str, Any]:
    """What can be checked of the source without Spark: with the dumps, the history files of the
    windows and the XML dump to read (the first full-history dump dated on or after the end of both
    windows, or ``xml_dump``). Called before Spark starts; raises naming what is missing."""
    if cfg.source != "dumps":
        return {}
    start, end = cfg.extract_window
    return dumps.check_dumps(cfg.dumps_dir, cfg.snapshot, wiki_db(cfg.lang), start, end, cfg.xml_dump)


#: The settings every mode of one :func:`collect_language` call must share: one history extract
#: (snapshot, both windows) and one text read (the source, its text table and snapshot, the XML
#: dump) serve them all.
LANGUAGE_FIELDS = ("lang", "source", "source_dir", "dumps_dir", "snapshot", "extract_window",
                   "text_source", "wikitext_snapshot", "xml_dump")


def check_language_configs(configs: list[CollectConfig]) -> None:
    """Refuse modes that cannot share one history extract and one text read: they differ in a
    field of :data:`LANGUAGE_FIELDS`, or pin two different content snapshots. Raised before Spark
    reads anything."""
    if not configs:
        raise ConfigError("collect_language needs at least one CollectConfig")
    first = configs[0]
    for cfg in configs[1:]:
        for name in LANGUAGE_FIELDS:
            if getattr(cfg, name) != getattr(first, name):
                raise ConfigError(
                    f"the modes of one collection read one history extract and one text source: "
                    f"{name} is {getattr(first, name)!r} for {first.mode}, {getattr(cfg, name)!r} for {cfg.mode}")
    pins = sorted({cfg.content_snapshot_id for cfg in configs if cfg.content_snapshot_id is not None})
    if len(pins) > 1:
        raise ConfigError(f"the modes of one collection read one content snapshot; they pin {pins}")


def same_content_snapshot(configs: list[CollectConfig], snapshot: int | None) -> list[CollectConfig]:
    """``configs`` reading the content table at ``snapshot``, the one the collection read and
    recorded: the content history table changes daily, and a language's train and hold-out
    collections must hold texts of one day. Recorded in each later mode's config (a rerun of that
    mode alone reads the same texts); None (not Iceberg) changes nothing."""
    if snapshot is None:
        return configs
    return [dataclasses.replace(cfg, content_snapshot_id=snapshot) if cfg.reads_content_table else cfg
            for cfg in configs]


@dataclasses.dataclass
class _Selection:
    """One mode after its selection (up to the sampling): the rows whose texts it needs."""

    cfg: CollectConfig
    steps: _Steps
    source_report: dict[str, Any]
    #: The sampled rows, with the published base columns; the texts are attached next.
    selected: Any
    #: Persisted frames to release once the mode is published.
    persisted: list[Any]


def select_mode(cfg: CollectConfig, extract: Any, source_report: dict[str, Any]) -> _Selection:
    """The mode's rows up to and including ``sample_down``, every step counted: the revisions
    whose texts the mode needs. Raises :class:`EmptyCollectionError` (with nothing left
    persisted) when the window holds fewer than ``min_rows`` revisions."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    steps = _Steps()
    start, end = cfg.window
    candidates = classify_editors(window_candidates(extract, start, end)).persist(StorageLevel.MEMORY_AND_DISK)
    read = candidates.select(
        F.count(F.lit(1)).alias("all"),
        F.sum(malformed_timestamp().cast("int")).alias("malformed"),
        F.sum((F.col("reverting_revision_missing") & ~malformed_timestamp()).cast("int")).alias("reverting_missing"),
        F.struct(*editor_sums()).alias("read_editors"),
        F.struct(*editor_sums(~malformed_timestamp())).alias("well_formed_editors"),
        F.sum(editors.spark_is_imported().cast("int")).alias("imported"),
    ).first()
    malformed = int(read["malformed"] or 0)
    well_formed = int(read["all"]) - malformed
    # reverted revisions whose reverting revision is not in the table keep their label; the
    # reverting facts default to "not reverted again" and "no group"
    steps.add("read", int(read["all"]), editors=editor_counts(read["read_editors"]),
              reverting_revision_missing=int(read["reverting_missing"] or 0),
              imported_edits=int(read["imported"] or 0))
    steps.add("malformed_timestamps", well_formed, editors=editor_counts(read["well_formed_editors"]),
              timestamp_format=TIMESTAMP_FORMAT)
    if malformed:
        logger.warning("%s: %d revision(s) with a timestamp not in %s dropped", cfg.lang, malformed,
                       TIMESTAMP_FORMAT)
    try:
        check_window_rows(cfg, well_formed, malformed)  # before anything is written or published
    except EmptyCollectionError:
        candidates.unpersist()
        raise
    well_timed = drop_malformed_timestamps(candidates)
    # one distinct serves both the deduplication and the count of conflicting copies
    distinct = well_timed.distinct().persist(StorageLevel.MEMORY_AND_DISK)
    base = add_labels_and_flags(drop_duplicate_revisions(well_timed, distinct)).persist(StorageLevel.MEMORY_AND_DISK)
    df = base
    unique, unique_editors = count_editors(df)
    distinct_rows = unique + conflicting_copies(well_timed, distinct)
    steps.add("duplicate_revisions", unique, editors=unique_editors,
              identical_copies=well_formed - distinct_rows, conflicting_copies=distinct_rows - unique)
    # base is computed and cached: the window's rows are not needed in memory any more
    candidates.unpersist()
    distinct.unpersist()

    if cfg.filter_rw:
        df = drop_revision_wars(df)
    steps.add("revision_wars", *count_editors(df), enabled=cfg.filter_rw)
    df = drop_bots(df)
    steps.add("bots", *count_editors(df))
    df = drop_creations(df)
    steps.add("creations", *count_editors(df))
    if cfg.filter_anon:
        df = keep_anonymous(df)
    rows, anon_editors = count_editors(df)
    steps.add("anonymous_filter", rows, anon_editors, enabled=cfg.filter_anon)
    df = sample_down(df, rows, cfg.max_records, cfg.seed)
    steps.add("sampling", *count_editors(df), enabled=rows > cfg.max_records, max_records=cfg.max_records)
    return _Selection(cfg, steps, source_report, df.select(*names(COLLECTED_BASE_COLUMNS)), [base])


def read_texts_once(spark: Any, selections: list[_Selection], dump_files: dict[str, Any], paths: RunPaths) -> str:
    """Read the language's text source once for every mode and write the texts the modes need
    (their revisions and parents, one text per id: :func:`one_text_per_id`) to the run's scratch
    directory; return that directory, which every mode attaches its texts from.

    The ids are a few hundred thousand at most (the modes' samples), so they are broadcast to the
    scan of the text table, which is never shuffled. With the dumps, the XML files are streamed
    once, for the ids of all modes; each mode's ``source`` report counts its own ids, as if it had
    read them alone. The table is written, not persisted: a lost cache block would read the text
    table again, and a written table cannot be lost. It is written in row groups of
    :data:`COLLECTED_ROW_GROUP_BYTES` (the writer holds a row group, each mode's reader a batch of
    :data:`TEXT_BATCH_ROWS` rows: :func:`text_batches`).
    """
    from pyspark.sql import functions as F

    cfg = selections[0].cfg
    if cfg.source == "dumps":
        # the XML dumps are streamed for the texts of these revisions and their parents only
        wanted = {str(index): [value for row in sel.selected.select("revision_id", "revision_parent_id").collect()
                               for value in row]
                  for index, sel in enumerate(selections)}
        read = dumps.register_wikitext(spark, dump_files["xml_files"], cfg.wikitext_snapshot, wiki_db(cfg.lang),
                                       [value for ids in wanted.values() for value in ids], WIKITEXT_TABLE,
                                       groups=wanted)
        for index, sel in enumerate(selections):
            sel.source_report["xml_dump"] = dump_files["xml_dump"]
            sel.source_report.update({"xml_files": read["xml_files"], **read["groups"][str(index)]})
    needed = functools.reduce(lambda a, b: a.union(b), [wanted_ids(sel.selected) for sel in selections]).distinct()
    path = f"{paths.scratch()}/collect/{cfg.lang}-texts-{uuid.uuid4().hex}"
    write_published(one_text_per_id(read_texts(spark, cfg), F.broadcast(needed)), path)
    logger.info("%s: the texts of %s read once into %s", cfg.lang,
                ", ".join(f"{sel.cfg.prefix}/{sel.cfg.mode}" for sel in selections), path)
    return path


def finish_mode(spark: Any, sel: _Selection, texts: Any, dump_files: dict[str, Any], paths: RunPaths,
                fs: HadoopFS) -> dict[str, Any]:
    """Attach the mode's texts from ``texts`` (:func:`read_texts_once`), drop and count the rows
    without texts or with invalid UTF-8, diff, publish the mode's directory atomically and write
    its ``quality.json``; return the report."""
    from pyspark.sql import functions as F

    cfg, steps, source_report = sel.cfg, sel.steps, sel.source_report
    start, end = cfg.window
    with_text = attach_one_texts(sel.selected, texts).persist(text_storage())
    sel.persisted.append(with_text)
    both_texts = F.col("revision_text").isNotNull() & F.col("parent_text").isNotNull()
    missing = with_text.select(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.col("revision_text").isNull().cast("int")).alias("revision"),
        F.sum(F.col("parent_text").isNull().cast("int")).alias("parent"),
        F.sum((F.col("revision_text").isNull() | F.col("parent_text").isNull()).cast("int")).alias("any"),
        F.sum(F.coalesce(F.col(HIDDEN_COLUMNS[0]), F.lit(False)).cast("int")).alias("revision_hidden"),
        F.sum(F.coalesce(F.col(HIDDEN_COLUMNS[1]), F.lit(False)).cast("int")).alias("parent_hidden"),
        F.struct(*editor_sums(both_texts)).alias("editors"),
    ).first()
    with_text_ok = with_text.where(both_texts).drop(*HIDDEN_COLUMNS)
    rows_with_text = int(missing["rows"]) - int(missing["any"] or 0)
    steps.add("missing_text", rows_with_text, editor_counts(missing["editors"]),
              missing_revision_text=int(missing["revision"] or 0),
              missing_parent_text=int(missing["parent"] or 0),
              hidden_revision_text=int(missing["revision_hidden"] or 0),
              hidden_parent_text=int(missing["parent_hidden"] or 0))
    if rows_with_text == 0 and int(missing["any"] or 0) > 0:
        # every revision lacking text is a wrong wikitext snapshot or source, not data to drop
        where = (f"XML dump {dump_files['xml_dump']}: check --xml-dump" if cfg.source == "dumps" else
                 f"snapshot {cfg.wikitext_snapshot} of the wikitext table: check --wikitext-snapshot"
                 if cfg.reads_wikitext_snapshot else
                 f"the content history table {CONTENT_TABLE}: is {wiki_db(cfg.lang)} there?")
        raise SourceError(
            f"{cfg.lang}: none of the {int(missing['any'])} selected revisions has its wikitext in {where}"
        )

    repairable = string_columns(with_text_ok)
    invalid = with_text_ok.select(
        *[F.sum((~F.is_valid_utf8(F.col(name))).cast("int")).alias(name) for name in TEXT_COLUMNS + tuple(repairable)],
        F.sum((~_texts_valid()).cast("int")).alias("_rows"),
        F.struct(*editor_sums(_texts_valid())).alias("_editors"),
    ).first().asDict()
    valid = repair_utf8(drop_invalid_utf8_texts(with_text_ok))
    steps.add("invalid_utf8", rows_with_text - int(invalid["_rows"] or 0), editor_counts(invalid["_editors"]),
              invalid_revision_text=int(invalid["revision_text"] or 0),
              invalid_parent_text=int(invalid["parent_text"] or 0),
              repaired={name: int(invalid[name] or 0) for name in repairable if invalid[name]})

    partitions = cfg.diff_partitions or spark.sparkContext.defaultParallelism * 4
    with diff_batches(spark):  # the job that computes (and caches) the diff
        diffed = compute_diffs(valid, cfg.lang, partitions, cfg.max_diff_chars,
                               cfg.text_rules).persist(text_storage())
        sel.persisted.append(diffed)
        errors = {
            row[DIFF_ERROR]: int(row["count"])
            for row in diffed.where(F.col(DIFF_ERROR).isNotNull()).groupBy(DIFF_ERROR).count().collect()
        }
    good = diffed.where(F.col(DIFF_ERROR).isNull())
    written, written_editors = count_editors(good)
    steps.add("diff_failures", written, written_editors, errors=dict(sorted(errors.items())))
    out = to_output(good).repartition(cfg.output_files, "revision_id").sortWithinPartitions("revision_id")

    final = paths.collected(cfg.prefix, cfg.mode, cfg.lang)
    # a hidden name: readers globbing collected/<prefix>/<mode>/* never see unfinished output
    tmp = f"{paths.collected_mode(cfg.prefix, cfg.mode)}/.{cfg.lang}.tmp-{uuid.uuid4().hex}"
    with diff_batches(spark):  # recomputes the diff of any cached block that was lost
        write_published(out, tmp)
    if sum(errors.values()):
        logger.warning("%s: %d revision(s) failed to diff: %s", cfg.lang, sum(errors.values()), errors)
    fs.publish_dir(tmp, final)

    report = {
        "lang": cfg.lang,
        "wiki_db": wiki_db(cfg.lang),
        "mode": cfg.mode,
        "window": {"start": start, "end": end},
        "output": final,
        "rows": written,
        "revert_rate": _revert_rate(spark, final),
        "steps": steps.steps,
        "source": source_report,
        "config": cfg.to_dict(),
        "versions": _versions(spark),
    }
    fs.write_text(paths.collect_quality(cfg.prefix, cfg.mode, cfg.lang),
                  json.dumps(report, indent=2, sort_keys=False) + "\n")
    for frame in sel.persisted:
        frame.unpersist()
    logger.info("%s %s: %d revisions published to %s", cfg.lang, cfg.mode, written, final)
    return report


def collect_language(spark: Any, configs: list[CollectConfig], run_dir: str) -> list[dict[str, Any]]:
    """Collect one language in every mode of ``configs`` into ``run_dir``; return their quality
    reports, in order.

    The modes share the reads (their settings must agree on :data:`LANGUAGE_FIELDS`): one history
    extract, one snapshot of the content table (recorded in every mode's ``quality.json``; the
    later modes' configs record it as their pin), and ONE read of the text source: each mode first
    selects its rows (everything up to the sampling, counted), then the texts of the union of the
    modes' revisions and parents are read once (:func:`read_texts_once`), and each mode attaches
    its own from that table and goes on as alone: missing texts, invalid UTF-8, the diff,
    publishing ``collected/<prefix>/<mode>/<lang>/`` atomically and writing
    ``quality/collect/<prefix>/<mode>/<lang>/quality.json``. Each mode's rows and quality report
    are those of a collection of that mode alone.

    Since every selection comes first, a mode whose window holds fewer than ``min_rows`` revisions
    (:class:`EmptyCollectionError`) stops the collection before any mode publishes anything, and
    before any text is read. A source error found later (no revision of a mode has its text) stops
    it at that mode, the modes before it being published.
    """
    configs = list(configs)
    check_language_configs(configs)
    diffmod.self_check()
    dump_files = check_source_files(configs[0])  # before anything is read
    paths = RunPaths(run_dir)
    fs = HadoopFS(spark, paths.run_dir)
    first = configs[0]
    register_sources(spark, first.source, first.source_dir, first.dumps_dir, first.text_source)
    reports_source: dict[str, Any] = {"source": first.source}
    if first.reads_content_table:  # before the history is read: a snapshot that is gone fails now
        pinned = next((cfg.content_snapshot_id for cfg in configs if cfg.content_snapshot_id is not None), None)
        reports_source["content_snapshot_id"] = register_content_view(spark, pinned, batch_rows=TEXT_BATCH_ROWS)
        configs = [first, *same_content_snapshot(configs[1:], reports_source["content_snapshot_id"])]

    # one history extract for every mode; the modes that would have queried the source alone
    # (the first, and any without use_cache) record what was read
    history_report: dict[str, Any] = {}
    shared = dataclasses.replace(first, use_cache=all(cfg.use_cache for cfg in configs))
    extract = history_extract(spark, shared, paths, fs, history_report)
    selections: list[_Selection] = []
    texts_dir = None
    try:
        for index, cfg in enumerate(configs):
            source_report = dict(reports_source)
            if index == 0 or not cfg.use_cache:
                source_report.update(history_report)
            selections.append(select_mode(cfg, extract, source_report))
        with text_batches(spark):  # every job from here on carries texts
            texts_dir = read_texts_once(spark, selections, dump_files, paths)
            texts = spark.read.parquet(texts_dir)
            return [finish_mode(spark, sel, texts, dump_files, paths, fs) for sel in selections]
    finally:
        for sel in selections:
            for frame in sel.persisted:
                frame.unpersist()
        if texts_dir is not None:
            fs.delete(texts_dir)


def run_collect(spark: Any, cfg: CollectConfig, run_dir: str) -> dict[str, Any]:
    """Collect one language in one mode into ``run_dir``; return the quality report
    (:func:`collect_language` with one mode).

    Publishes ``collected/<prefix>/<mode>/<lang>/`` atomically (a rerun replaces it whole) and
    writes ``quality/collect/<prefix>/<mode>/<lang>/quality.json``. A window holding fewer than
    ``cfg.min_rows`` revisions raises :class:`EmptyCollectionError` before either is touched.
    """
    return collect_language(spark, [cfg], run_dir)[0]


def _revert_rate(spark: Any, path: str) -> float | None:
    from pyspark.sql import functions as F

    row = spark.read.parquet(path).select(F.avg(LABEL).alias("rate")).first()
    return None if row["rate"] is None else round(float(row["rate"]), 6)


def _versions(spark: Any) -> dict[str, str]:
    import mwedittypes
    import mwparserfromhell

    return {
        "kitrain": __version__,
        "spark": spark.version,
        "mwedittypes": mwedittypes.__version__,
        "mwparserfromhell": mwparserfromhell.__version__,
    }
