"""The ``mediawiki_history`` TSV dumps read into the session's ``wmf.mediawiki_history``.

Each file is read in its own layout (:data:`kitrain.schema.HISTORY_DUMP_LAYOUTS`, recognised by
its number of fields) and the writer's escaping is undone; a broken line stops the run naming the
file and the line.
"""

from __future__ import annotations

import bz2
import logging
import re
from typing import Any

from kitrain.dumps.files import DumpError, HistoryFile, history_files
from kitrain.schema import (
    HISTORY_COLUMNS,
    HISTORY_DUMP_ESCAPED_COLUMNS,
    HISTORY_DUMP_LAYOUTS,
    HISTORY_EXTRA_COLUMNS,
)
from kitrain.spark import drop_source_table, malformed_timestamp

logger = logging.getLogger(__name__)

#: A comma that separates array items (not one escaped with a backslash inside an item).
ARRAY_SEPARATOR = r"(?<!\\),"
#: Free-text columns whose empty field means the empty string (an edit without summary), not null:
#: the writer prints null and the empty string alike, and MediaWiki stores an empty summary.
EMPTY_IS_EMPTY_STRING = ("event_comment",)
#: The columns of the session's ``wmf.mediawiki_history`` built from the dumps: the table's, with
#: the temporary-account flags (null from files that predate them). Other columns of newer layouts
#: (central ids, cross-wiki flag, log id) are read, checked and dropped: nothing uses them.
TABLE_COLUMNS = HISTORY_COLUMNS + HISTORY_EXTRA_COLUMNS

def _layout(path: str) -> tuple[tuple[str, str], ...]:
    """The column layout of a history dump file, recognised by the number of fields of its first
    line (an empty file: any layout, it has no rows)."""
    opener = bz2.open if path.endswith(".bz2") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="\n") as handle:
            first = handle.readline()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DumpError(f"cannot read {path}: truncated or corrupt file ({exc})") from None
    if not first:
        return HISTORY_COLUMNS
    fields = first.rstrip("\n").count("\t") + 1
    if fields not in HISTORY_DUMP_LAYOUTS:
        known = ", ".join(str(width) for width in sorted(HISTORY_DUMP_LAYOUTS))
        raise DumpError(f"{path}, line 1: {fields} fields, not a known mediawiki_history dump layout "
                        f"({known} fields)")
    return HISTORY_DUMP_LAYOUTS[fields]


def _line_number(path: str, line: str) -> int | None:
    """Line number of the first line equal to ``line`` (only on the error path)."""
    opener = bz2.open if path.endswith(".bz2") else open
    with opener(path, "rt", encoding="utf-8", errors="replace", newline="\n") as handle:
        for number, text in enumerate(handle, start=1):
            if text.rstrip("\n") == line:
                return number
    return None


def _local(path: str) -> str:
    return re.sub(r"^file:/*", "/", path)


def _spark_read_error(exc: Exception) -> DumpError | None:
    match = re.search(r"reading file (\S+?)\.?\s", str(exc))
    if "FAILED_READ_FILE" in str(exc) and match:
        return DumpError(f"cannot read {_local(match[1])}: truncated or corrupt file "
                         f"(download it again)")
    return None


def _unescaped(column: Any) -> Any:
    """The dump writer's escaping undone: ``\\t``, ``\\n``, ``\\r`` become TAB, LF and CR again.
    The writer leaves backslashes as they are, so a text that held a backslash before ``t``, ``n`` or
    ``r`` cannot be told from an escaped character; like every reader of these dumps, this one
    takes it for the escape."""
    from pyspark.sql import functions as F

    for escaped, character in ((r"\\t", "\t"), (r"\\n", "\n"), (r"\\r", "\r")):
        column = F.regexp_replace(column, escaped, character)
    return column


def parse_history_lines(lines: Any, path: str, layout: tuple[tuple[str, str], ...]) -> Any:
    """Lines of one history dump file (a ``value`` column) -> the table's columns and types.

    Besides the columns: ``_file``, ``_line``, ``_bad_width`` (the line's field count differs from
    the file's layout) and ``_bad_value`` (a number or boolean of any column of the layout, also
    one that is dropped, does not parse).
    """
    from pyspark.sql import functions as F

    fields = F.split(F.col("value"), "\t", -1)
    typed, checks = {}, []
    for index, (name, kind) in enumerate(layout):
        text = F.get(fields, index)
        value = F.when(text != "", text)
        if kind == "string":
            value = _unescaped(value) if name in HISTORY_DUMP_ESCAPED_COLUMNS else value
            typed[name] = F.coalesce(value, F.lit("")) if name in EMPTY_IS_EMPTY_STRING else value
        elif kind == "array<string>":
            typed[name] = F.when(value.isNull(), F.array().cast("array<string>")).otherwise(
                F.transform(F.split(value, ARRAY_SEPARATOR),
                            lambda item: _unescaped(F.regexp_replace(item, r"\\,", ","))))
        else:
            typed[name] = value.try_cast(kind)
            checks.append(value.isNotNull() & typed[name].isNull())
    bad_value = F.lit(False)
    for check in checks:
        bad_value = bad_value | check
    return lines.select(
        F.lit(path).alias("_file"), F.col("value").alias("_line"),
        (F.size(fields) != len(layout)).alias("_bad_width"), bad_value.alias("_bad_value"),
        *[typed.get(name, F.lit(None).cast(kind)).alias(name) for name, kind in TABLE_COLUMNS],
    )


def read_history(spark: Any, files: list[HistoryFile], start: str) -> Any:
    """The history TSV files as a DataFrame with the table's columns and types (persisted: the
    caller unpersists it once written).

    Each file is read in its own layout (its first line's field count); lines are split on tabs in
    Spark; a line with the wrong number of fields, or a number or boolean that does not parse,
    stops the run naming the file and the line.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    parsed = None
    for file in files:
        frame = parse_history_lines(spark.read.text(file.path), file.path, _layout(file.path))
        parsed = frame if parsed is None else parsed.unionByName(frame)
    # malformed timestamps are kept whatever their date: the collection counts and drops them
    parsed = parsed.where((F.col("event_timestamp") >= start) | malformed_timestamp()
                          | F.col("_bad_width") | F.col("_bad_value"))
    # kept for the table write that follows the check, so the (bz2) files are decompressed once
    parsed = parsed.persist(StorageLevel.MEMORY_AND_DISK)
    try:
        bad = parsed.where(F.col("_bad_width") | F.col("_bad_value")).select("_file", "_line", "_bad_width").first()
    except Exception as exc:  # noqa: BLE001 - a Spark read error is re-raised with the file named
        parsed.unpersist()
        error = _spark_read_error(exc)
        if error is None:
            raise
        raise error from None
    if bad is not None:
        parsed.unpersist()
        number = _line_number(bad["_file"], bad["_line"])
        where = f"{bad['_file']}, line {number}" if number else bad["_file"]
        if bad["_bad_width"]:
            fields = bad["_line"].count("\t") + 1
            raise DumpError(f"{where}: {fields} fields where the file's first line has "
                            f"{len(_layout(bad['_file']))}")
        raise DumpError(f"{where}: a number or boolean field does not parse: {bad['_line'][:200]!r}")
    return parsed.drop("_file", "_line", "_bad_width", "_bad_value")


def register_history(spark: Any, dumps_dir: str, snapshot: str, wiki_db: str, start: str, end: str,
                     table: str) -> dict[str, Any]:
    """Read the history dump of one wiki into ``table`` (partitioned by ``snapshot``)."""
    from pyspark.sql import functions as F

    files = history_files(dumps_dir, snapshot, wiki_db, start, end)
    parsed = read_history(spark, files, start)
    drop_source_table(spark, table)
    try:
        parsed.withColumn("snapshot", F.lit(snapshot)).write.partitionBy("snapshot").saveAsTable(table)
    except Exception as exc:  # noqa: BLE001 - a Spark read error is re-raised with the file named
        error = _spark_read_error(exc)
        if error is None:
            raise
        raise error from None
    finally:
        parsed.unpersist()
    rows = spark.table(table).count()
    logger.info("read %d history rows of %s from %d dump file(s)", rows, wiki_db, len(files))
    return {"history_files": [f.path for f in files], "history_rows": rows}


