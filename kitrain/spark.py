"""Spark at the edge: the session, the source tables, the SQL files and the run directory's file system.

Stages receive a ``SparkSession``; this module makes one for the CLI (``local[*]`` unless told
otherwise or already configured by ``spark-submit``) and registers the source tables under the names
the SQL files use, whichever source the run reads.
"""

from __future__ import annotations

import importlib.resources
import logging
import os
import re
import shutil
import sys
import uuid
from typing import Any

from kitrain.schema import CONTENT_HISTORY_PARTITIONS, HISTORY_PARTITIONS, WIKITEXT_PARTITIONS

logger = logging.getLogger(__name__)

HISTORY_TABLE = "wmf.mediawiki_history"
WIKITEXT_TABLE = "wmf.mediawiki_wikitext_history"
CONTENT_TABLE = "wmf_content.mediawiki_content_history_v1"
#: Sub-directories of ``--source-dir`` holding the parquet copies.
SOURCE_SUBDIRS = {HISTORY_TABLE: "mediawiki_history", WIKITEXT_TABLE: "mediawiki_wikitext_history",
                  CONTENT_TABLE: "mediawiki_content_history_v1"}
#: The table each ``text_source`` reads the wikitext from, and the partition columns its parquet
#: copies must expose (by directory or in the files; the content table's ``wiki_id=`` directories
#: are optional).
TEXT_TABLES = {"content_history": CONTENT_TABLE, "wikitext_history": WIKITEXT_TABLE}
_PARTITIONS = {HISTORY_TABLE: HISTORY_PARTITIONS, WIKITEXT_TABLE: WIKITEXT_PARTITIONS,
               CONTENT_TABLE: CONTENT_HISTORY_PARTITIONS}
#: The option that reads each text table, for the error naming the one a source directory holds.
_TEXT_OPTIONS = {CONTENT_TABLE: "--text-source content_history (DAG param text_source: content_history)",
                 WIKITEXT_TABLE: "--text-source wikitext_history --wikitext-snapshot YYYY-MM "
                                 "(DAG params text_source: wikitext_history, wikitext_snapshot)"}

def _other_text_table(table: str) -> str | None:
    """The text table that is not ``table`` (None for the history table): named in the error when
    a source holds only that one."""
    if table not in TEXT_TABLES.values():
        return None
    return next(t for t in TEXT_TABLES.values() if t != table)


#: Columns of ``wmf.mediawiki_history`` that copies made before 2025 lack: the temporary-account flag
#: (analytics-refinery-source 4499e7e0). Added to a parquet copy's table as null, so one SQL file
#: reads every copy; :mod:`kitrain.editors` then tells temporary accounts by their name.
_ADDED_HISTORY_COLUMNS = {
    "event_user_is_temporary": "ALTER TABLE wmf.mediawiki_history ADD COLUMNS (event_user_is_temporary BOOLEAN)",
}

_DROP_STATEMENTS = {
    HISTORY_TABLE: "DROP TABLE IF EXISTS wmf.mediawiki_history",
    WIKITEXT_TABLE: "DROP TABLE IF EXISTS wmf.mediawiki_wikitext_history",
    CONTENT_TABLE: "DROP TABLE IF EXISTS wmf_content.mediawiki_content_history_v1",
}
#: The content table's properties: an Iceberg table names its current snapshot there.
_SHOW_CONTENT_PROPERTIES = "SHOW TBLPROPERTIES wmf_content.mediawiki_content_history_v1"
#: Iceberg's table property holding the snapshot a plain read sees (Iceberg's
#: ``SparkTable.properties()``; tables of other formats have no such property).
ICEBERG_SNAPSHOT_PROPERTY = "current-snapshot-id"
#: Spark's read option for a table's version (``spark.sql.timeTravelVersionKey``): Spark hands it
#: to the catalog's ``loadTable(ident, version)``, which is ``VERSION AS OF`` for Iceberg.
VERSION_OPTION = "versionAsOf"
#: Iceberg's read option for the rows of a vectorized reader's batch.
ICEBERG_BATCH_OPTION = "batch-size"
#: The view the content-table SQL files read: the table at the one snapshot the collection reads
#: (:func:`register_content_view`). A snapshot id cannot be a SQL parameter (``VERSION AS OF``
#: takes a literal), so the pinned table is put behind this fixed name instead.
CONTENT_VIEW = "content_history_at_snapshot"

_DATABASE_STATEMENTS = {"wmf": "CREATE DATABASE IF NOT EXISTS wmf",
                        "wmf_content": "CREATE DATABASE IF NOT EXISTS wmf_content"}

_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")

JAVA_HINT = (
    "Java 17 is required by Spark but no `java` was found: install it "
    "(Debian/Ubuntu: `sudo apt-get install openjdk-17-jre-headless`; macOS: `brew install openjdk@17`) "
    "or set JAVA_HOME"
)


class JavaMissingError(RuntimeError):
    pass


class SourceError(ValueError):
    """The source tables cannot be found or read."""


def require_java() -> None:
    """Raise one clear line when Java is missing, instead of Spark's gateway traceback."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.path.exists(os.path.join(java_home, "bin", "java")):
        return
    if shutil.which("java") is None:
        raise JavaMissingError(JAVA_HINT)


def get_spark(
    app_name: str,
    master: str | None = None,
    hive: bool = False,
    scratch_dir: str | None = None,
    conf: dict[str, str] | None = None,
) -> Any:
    """Get or create the session.

    ``master`` wins when given; otherwise a master set by ``spark-submit`` (``spark.master``) is kept,
    and plain ``python -m kitrain`` runs on ``local[*]``. ``hive`` enables the Hive metastore (the
    Wikimedia cluster's ``wmf`` database); without it, tables live in an in-memory catalog whose
    warehouse is ``scratch_dir``, so nothing is written into the working directory.
    """
    require_java()
    # Python workers must run this interpreter (the one with pyarrow and mwedittypes), not the
    # first python3 on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    submitted = _submitted_conf()
    if master:
        builder = builder.master(master)
    elif "spark.master" not in submitted:
        builder = builder.master("local[*]")
    effective_master = master or submitted.get("spark.master", "local[*]")
    if effective_master.startswith("local") and "spark.sql.shuffle.partitions" not in submitted:
        # 200 shuffle partitions (the cluster default) only add task overhead on one machine
        builder = builder.config("spark.sql.shuffle.partitions", str(4 * (os.cpu_count() or 2)))
    builder = builder.config("spark.sql.session.timeZone", "UTC")
    builder = builder.config("spark.ui.showConsoleProgress", "false")
    if scratch_dir and not hive:
        builder = builder.config("spark.sql.warehouse.dir", scratch_dir)
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    if hive:
        builder = builder.enableHiveSupport()
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def _submitted_conf() -> dict[str, str]:
    """Settings ``spark-submit`` gave the driver (its ``--master``, ``--conf`` ...), if any.

    Under ``spark-submit`` the JVM is already running and Python is told its gateway port in
    ``PYSPARK_GATEWAY_PORT``; the settings are the JVM's system properties, which a ``SparkConf``
    sees only once Python is connected to that JVM. Without the variable there is no such JVM, and
    connecting here would start one before the builder's settings are known.
    """
    if not os.environ.get("PYSPARK_GATEWAY_PORT"):
        return {}
    from pyspark import SparkConf, SparkContext

    SparkContext._ensure_initialized()
    return dict(SparkConf().getAll())


def malformed_timestamp(column: str = "event_timestamp") -> Any:
    """True where ``column`` is null or not a real time in :data:`kitrain.schema.TIMESTAMP_FORMAT`
    (``2022-02-30 ...``, ``2022-07-01T10:00:00Z``, ``03.07.2022``)."""
    from pyspark.sql import functions as F

    from kitrain.schema import TIMESTAMP_FORMAT

    return F.try_to_timestamp(F.col(column), F.lit(TIMESTAMP_FORMAT)).isNull()


def load_sql(name: str) -> str:
    """Text of ``sql/<name>.sql`` from the installed package."""
    resource = importlib.resources.files("kitrain.sql").joinpath(f"{name}.sql")
    if not resource.is_file():
        raise FileNotFoundError(f"kitrain ships no SQL file {name}.sql")
    return resource.read_text(encoding="utf-8")


def sql_parameters(text: str) -> set[str]:
    """Named parameters (``:name``) a SQL text uses, comments excluded."""
    code = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
    return set(_PARAM.findall(code))


def run_sql(spark: Any, name: str, **params: Any) -> Any:
    """Run a SQL file with named parameters bound by Spark (never formatted into the text).

    Every parameter the file uses must be given and every given one must be used, so a renamed
    parameter fails here rather than silently matching nothing.
    """
    text = load_sql(name)
    wanted = sql_parameters(text)
    if wanted != set(params):
        raise ValueError(
            f"{name}.sql takes parameters {sorted(wanted)}, got {sorted(params)}"
        )
    return spark.sql(text, args=params)


def register_parquet_sources(spark: Any, source_dir: str, text_source: str = "content_history") -> None:
    """Register parquet copies of ``wmf.mediawiki_history`` and of the text table of ``text_source``
    (``wmf_content.mediawiki_content_history_v1`` or ``wmf.mediawiki_wikitext_history``) in the
    session's (in-memory) catalog, under the names the SQL files use.

    The copies may be partitioned by directory (``snapshot=2022-07/``, ``wiki_id=ukwiki/``) or hold
    the partition columns inside the files; either way the tables expose the same columns as on the
    cluster. A directory holding only the other text table is named with the option that reads it.
    """
    for table in (HISTORY_TABLE, TEXT_TABLES[text_source]):
        subdir = SOURCE_SUBDIRS[table]
        path = source_dir.rstrip("/") + "/" + subdir
        if "://" not in path and not os.path.isdir(path):
            other = _other_text_table(table)
            if other and os.path.isdir(source_dir.rstrip("/") + "/" + SOURCE_SUBDIRS[other]):
                raise SourceError(
                    f"parquet source table {table} not found: no directory {path}; {source_dir} holds "
                    f"{SOURCE_SUBDIRS[other]}/ ({other}), which {_TEXT_OPTIONS[other]} reads"
                )
            raise SourceError(f"parquet source table {table} not found: no directory {path}")
        drop_source_table(spark, table)
        spark.catalog.createTable(table, path=os.path.abspath(path) if "://" not in path else path,
                                  source="parquet")
        if any(c.isPartition for c in spark.catalog.listColumns(table)):
            spark.catalog.recoverPartitions(table)  # find the snapshot=... directories
        columns = set(spark.table(table).columns)
        partitions = _PARTITIONS[table]
        missing = [c for c in partitions if c not in columns]
        if missing:
            raise SourceError(
                f"parquet source {path} has no column(s) {missing}: partition it by directory "
                f"({'/'.join(p + '=...' for p in partitions)}) or store them in the files"
            )
        if spark.table(table).isEmpty():
            raise SourceError(f"parquet source {path} holds no rows")
        if table == HISTORY_TABLE:
            for column, statement in _ADDED_HISTORY_COLUMNS.items():
                if column not in columns:
                    logger.warning("parquet source %s has no column %s (a copy made before 2025): "
                                   "read as null; temporary accounts are told by their names", path, column)
                    spark.sql(statement)
        logger.info("registered %s from %s", table, path)


def content_table_snapshot(spark: Any) -> int | None:
    """The current Iceberg snapshot of the content history table, or None when the table is not
    an Iceberg table (parquet copies, a plain Hive table), which has no snapshots."""
    properties = {row["key"]: row["value"] for row in spark.sql(_SHOW_CONTENT_PROPERTIES).collect()}
    value = properties.get(ICEBERG_SNAPSHOT_PROPERTY)
    if value is None:
        return None
    if not value.isdigit():  # Iceberg says "none" before the first commit
        raise SourceError(f"{CONTENT_TABLE} is an Iceberg table without a snapshot "
                          f"({ICEBERG_SNAPSHOT_PROPERTY}: {value!r}): it holds no revision yet")
    return int(value)


def register_content_view(spark: Any, pinned: int | None = None, batch_rows: int | None = None) -> int | None:
    """Put the content history table behind :data:`CONTENT_VIEW` at one snapshot and return its id.

    ``batch_rows`` sets the rows of a batch of Iceberg's vectorized reader (its ``batch-size``
    read option; the table's ``read.parquet.vectorization.batch-size``, 5,000, otherwise): the
    collection's reader holds a batch of texts at once (``kitrain.collect.TEXT_BATCH_ROWS``).

    On Iceberg the table changes every day, so every read is pinned: to ``pinned`` (a run's
    ``content_snapshot_id``) or else to the current snapshot, whose id the collection records in
    ``quality.json`` for a rerun to pin. A table that is not Iceberg is read as it is (None); a pin
    on it, or a snapshot the table no longer has (Iceberg expires old ones), is a :class:`SourceError`.
    """
    from pyspark.errors import AnalysisException, IllegalArgumentException

    current = content_table_snapshot(spark)
    if current is None:
        if pinned is not None:
            raise SourceError(f"content_snapshot_id {pinned} pins an Iceberg snapshot, but {CONTENT_TABLE} "
                              "is not an Iceberg table here (it has no snapshots): run without it")
        spark.table(CONTENT_TABLE).createOrReplaceTempView(CONTENT_VIEW)
        return None
    snapshot = current if pinned is None else pinned
    try:
        reader = spark.read.option(VERSION_OPTION, str(snapshot))
        if batch_rows is not None:
            reader = reader.option(ICEBERG_BATCH_OPTION, str(batch_rows))
        table = reader.table(CONTENT_TABLE)
    except (AnalysisException, IllegalArgumentException) as exc:
        raise SourceError(
            f"{CONTENT_TABLE} cannot be read at snapshot {snapshot} (content_snapshot_id; the current "
            f"one is {current}, and Iceberg expires old ones): {str(exc).splitlines()[0]}"
        ) from exc
    table.createOrReplaceTempView(CONTENT_VIEW)
    logger.info("reading %s at snapshot %d%s", CONTENT_TABLE, snapshot,
                " (pinned)" if pinned is not None else " (its current one)")
    return snapshot


def drop_source_table(spark: Any, table: str) -> None:
    """Drop one of the source tables from the session's catalog (fixed statements: no SQL text
    is ever built from a value)."""
    spark.sql(_DATABASE_STATEMENTS[table.split(".", 1)[0]])
    spark.sql(_DROP_STATEMENTS[table])


def register_sources(spark: Any, source: str, source_dir: str | None, dumps_dir: str | None = None,
                     text_source: str = "content_history") -> None:
    """Make the source tables available under their cluster names: the history and the text
    table of ``text_source``.

    The dumps are read later, once it is known which files and which revisions are needed
    (:func:`kitrain.dumps.register_history`, :func:`kitrain.dumps.register_wikitext`).
    """
    if source == "dumps":
        if not dumps_dir or not os.path.isdir(dumps_dir):
            raise SourceError(f"dumps directory {dumps_dir!r} not found (--dumps-dir DIR)")
        return
    if source == "parquet":
        if not source_dir:
            raise SourceError("source 'parquet' needs --source-dir")
        register_parquet_sources(spark, source_dir, text_source)
    elif source == "hive":
        for table in (HISTORY_TABLE, TEXT_TABLES[text_source]):
            if not spark.catalog.tableExists(table):
                other = _other_text_table(table)
                hint = (f"; {other} is there, which {_TEXT_OPTIONS[other]} reads"
                        if other and spark.catalog.tableExists(other) else "")
                raise SourceError(
                    f"Hive table {table} not found{hint}: run on the analytics cluster with Hive "
                    "support, or use --source parquet --source-dir DIR"
                )
        columns = set(spark.table(HISTORY_TABLE).columns)
        missing = [c for c in _ADDED_HISTORY_COLUMNS if c not in columns]
        if missing:
            raise SourceError(
                f"Hive table {HISTORY_TABLE} has no column(s) {missing}, which mediawiki_history has "
                "had since 2025-01 (temporary accounts): read an older copy with --source parquet"
            )
    else:
        raise SourceError(f"unknown source {source!r}")


class HadoopFS:
    """The run directory's file system (local, HDFS, S3 ...) through Spark's Hadoop client.

    Collection writes where its executors can write, so publishing (rename into place) and the small
    JSON reports go through the same file system API.
    """

    def __init__(self, spark: Any, path: str) -> None:
        jvm = spark.sparkContext._jvm
        self._jvm = jvm
        conf = spark.sparkContext._jsc.hadoopConfiguration()
        self._fs = jvm.org.apache.hadoop.fs.Path(path).getFileSystem(conf)
        self._fs.setWriteChecksum(False)  # no .crc companions beside the reports

    def _p(self, path: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(path)

    def exists(self, path: str) -> bool:
        return bool(self._fs.exists(self._p(path)))

    def delete(self, path: str) -> None:
        self._fs.delete(self._p(path), True)

    def mkdirs(self, path: str) -> None:
        self._fs.mkdirs(self._p(path))

    def rename(self, src: str, dst: str) -> None:
        if not self._fs.rename(self._p(src), self._p(dst)):
            raise OSError(f"could not rename {src} to {dst}")

    def write_text(self, path: str, text: str) -> None:
        """Write a small text file atomically (temp file, then rename over the target)."""
        parent = path.rsplit("/", 1)[0]
        self.mkdirs(parent)
        tmp = f"{parent}/.{path.rsplit('/', 1)[1]}.{uuid.uuid4().hex}.tmp"
        stream = self._fs.create(self._p(tmp), True)
        try:
            stream.write(bytearray(text.encode("utf-8")))
        finally:
            stream.close()
        if self.exists(path):
            self.delete(path)
        self.rename(tmp, path)

    def read_text(self, path: str) -> str:
        stream = self._fs.open(self._p(path))
        try:
            reader = self._jvm.java.io.BufferedReader(
                self._jvm.java.io.InputStreamReader(stream, "UTF-8")
            )
            lines = []
            line = reader.readLine()
            while line is not None:
                lines.append(line)
                line = reader.readLine()
            return "\n".join(lines)
        finally:
            stream.close()

    def publish_dir(self, tmp: str, final: str) -> None:
        """Move a finished output directory into place, replacing an older one.

        Readers see either the old complete output or the new complete output, never a partial one.
        A process killed in between leaves hidden directories only (``.<name>.tmp-*`` being written,
        ``.<name>.old-*`` moved aside; the output itself is then missing, never partial): the next
        publish of the same name removes them.
        """
        parent, name = final.rsplit("/", 1)
        self.mkdirs(parent)
        old = f"{parent}/.{name}.old-{uuid.uuid4().hex}"
        if self.exists(final):
            self.rename(final, old)
        self.rename(tmp, final)
        if self.exists(old):
            self.delete(old)
        for leftover in self.glob(f"{parent}/.{name}.old-*") + self.glob(f"{parent}/.{name}.tmp-*"):
            logger.warning("removing %s, left by an interrupted run", leftover)
            self.delete(leftover)

    def glob(self, pattern: str) -> list[str]:
        """Paths matching a Hadoop glob pattern (none when nothing matches)."""
        found = self._fs.globStatus(self._p(pattern))
        return [] if found is None else sorted(str(status.getPath()) for status in found)
