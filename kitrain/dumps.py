"""The public dumps as a collection source, for everyone outside the Wikimedia cluster.

Two dumps stand in for the two analytics tables:

- ``mediawiki_history`` monthly TSV dumps (no header, one file per wiki and period, ``.tsv`` or
  ``.tsv.bz2``; 70 columns, or 74 in newer dumps) for ``wmf.mediawiki_history``;
- the XML ``pages-meta-history`` dumps (``.xml``, ``.xml.bz2`` or ``.xml.7z``, the last read with
  the pure-Python py7zr, no 7-Zip binary) for ``wmf.mediawiki_wikitext_history``.

Both are turned into tables of the analytics tables' names and columns in the session's own catalog,
so the same SQL files and the same diff code run on them. Only the history files whose period
overlaps the window are read, and only from the window's start on (a revision is always reverted
later, never earlier); the XML dumps are streamed file by file on the executors, keeping the text of
the selected revisions and their parents only. A malformed line, a truncated compressed file or a
broken XML file stops the run with an error naming the file (and the line); a revision whose text
the XML does not carry is counted, and the collection's missing-text step drops and counts it.

Layout of ``--dumps-dir DIR`` (as on the dumps site)::

    DIR/mediawiki_history/<snapshot>/<wiki_db>/<snapshot>.<wiki_db>.<period>.tsv[.bz2]
    DIR/xmldumps/<wiki_db>/<YYYYMMDD>/<wiki_db>-<YYYYMMDD>-pages-meta-history*.xml[.bz2|.7z]
"""

from __future__ import annotations

import bz2
import dataclasses
import datetime as dt
import logging
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kitrain.schema import HISTORY_COLUMNS, HISTORY_EXTRA_COLUMNS, WIKITEXT_COLUMNS
from kitrain.spark import SourceError, drop_source_table, malformed_timestamp

logger = logging.getLogger(__name__)

HISTORY_DIR = "mediawiki_history"
XML_DIR = "xmldumps"
DEFAULT_BASE_URL = "https://dumps.wikimedia.org"

TSV_NAME = re.compile(
    r"^(?P<snapshot>\d{4}-\d{2})\.(?P<wiki>[a-z0-9_]+)\.(?P<period>all-time|\d{4}|\d{4}-\d{2})\.tsv(?P<bz2>\.bz2)?$"
)
#: Formats of one XML dump part, in the order of preference when several are there (plain text
#: costs no decompression; bz2 is read by the standard library; 7z needs py7zr).
XML_FORMATS = ("", ".bz2", ".7z")
#: The compressions the dumps site offers each XML part in (``kitrain dumps plan --xml-format``).
XML_DOWNLOAD_FORMATS = ("bz2", "7z")
XML_NAME = re.compile(
    r"^(?P<wiki>[a-z0-9_]+)-(?P<date>\d{8})-pages-meta-history\d*\.xml(?:-p\d+p\d+)?(?P<ext>\.bz2|\.7z)?$"
)
#: A comma that separates array items (not one escaped with a backslash inside an item).
ARRAY_SEPARATOR = r"(?<!\\),"
#: Free-text columns whose empty field means the empty string (an edit without summary), not null.
EMPTY_IS_EMPTY_STRING = ("event_comment",)


class DumpError(SourceError):
    """A dump file that is missing, malformed or truncated; the message names it."""


@dataclasses.dataclass(frozen=True)
class HistoryFile:
    path: str
    period: str

    @property
    def bounds(self) -> tuple[dt.date, dt.date] | None:
        """``[start, end)`` of the period, or None for ``all-time``."""
        return period_bounds(self.period)


def period_bounds(period: str) -> tuple[dt.date, dt.date] | None:
    if period == "all-time":
        return None
    if re.fullmatch(r"\d{4}", period):
        year = int(period)
        return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    year, month = (int(part) for part in period.split("-"))
    end = dt.date(year + (month == 12), month % 12 + 1, 1)
    return dt.date(year, month, 1), end


def overlaps(period: str, start: str, end: str) -> bool:
    """Whether a dump period overlaps the window ``[start, end)`` or comes after its start (where
    the reverting revisions of the window's revisions may lie)."""
    bounds = period_bounds(period)
    if bounds is None:
        return True
    return bounds[1] > dt.date.fromisoformat(start)


def history_files(dumps_dir: str, snapshot: str, wiki_db: str, start: str, end: str) -> list[HistoryFile]:
    """The TSV files of ``wiki_db`` in ``snapshot`` whose period matters for the window."""
    folder = Path(dumps_dir, HISTORY_DIR, snapshot, wiki_db)
    if not folder.is_dir():
        raise DumpError(f"no mediawiki_history dump folder {folder}: see `kitrain dumps plan`")
    found, skipped = [], []
    for entry in sorted(folder.iterdir()):
        match = TSV_NAME.match(entry.name)
        if match is None or entry.name.startswith("."):
            skipped.append(entry.name)
            continue
        if match["snapshot"] != snapshot or match["wiki"] != wiki_db:
            raise DumpError(f"{entry} does not belong in {folder} (snapshot {snapshot}, wiki {wiki_db})")
        if overlaps(match["period"], start, end):
            found.append(HistoryFile(str(entry), match["period"]))
    if skipped:
        logger.warning("ignoring files that are not history dumps in %s: %s", folder, skipped)
    if not found:
        raise DumpError(f"no mediawiki_history file in {folder} covers {start}..{end}")
    return found


def xml_files(dumps_dir: str, wiki_db: str, wikitext_snapshot: str) -> list[str]:
    """The ``pages-meta-history`` files of the newest dump of ``wiki_db`` in the wikitext
    snapshot's month (``xmldumps/<wiki_db>/<YYYYMMDD>/``)."""
    folder = Path(dumps_dir, XML_DIR, wiki_db)
    month = wikitext_snapshot.replace("-", "")
    dates = sorted(d.name for d in folder.iterdir() if d.is_dir() and re.fullmatch(month + r"\d\d", d.name)) \
        if folder.is_dir() else []
    if not dates:
        available = sorted(d.name for d in folder.iterdir()) if folder.is_dir() else []
        raise DumpError(f"no XML dump of {wiki_db} from {wikitext_snapshot} in {folder} "
                        f"(found: {available or 'nothing'}): see `kitrain dumps plan`")
    dump = folder / dates[-1]
    # the dumps site offers each part as .bz2 and as .7z: read each part once, in one format
    parts: dict[str, dict[str, Path]] = {}
    for entry in sorted(dump.iterdir()):
        match = XML_NAME.match(entry.name)
        if match is not None:
            ext = match["ext"] or ""
            parts.setdefault(entry.name[: len(entry.name) - len(ext)], {})[ext] = entry
    if not parts:
        raise DumpError(f"no {wiki_db}-{dates[-1]}-pages-meta-history*.xml[.bz2|.7z] file in {dump}")
    files = []
    for part, formats in sorted(parts.items()):
        chosen = next(formats[ext] for ext in XML_FORMATS if ext in formats)
        if len(formats) > 1:
            logger.info("%s is there as %s; reading %s", part, sorted(formats), chosen.name)
        files.append(str(chosen))
    return files


# -- history TSV -----------------------------------------------------------------------------------


def _layout(path: str) -> int:
    """Number of fields of the file's first line (70 or 74)."""
    opener = bz2.open if path.endswith(".bz2") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="\n") as handle:
            first = handle.readline()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DumpError(f"cannot read {path}: truncated or corrupt file ({exc})") from None
    if not first:
        return len(HISTORY_COLUMNS)  # an empty file: nothing to read, any layout
    fields = first.rstrip("\n").count("\t") + 1
    if fields not in (len(HISTORY_COLUMNS), len(HISTORY_COLUMNS) + len(HISTORY_EXTRA_COLUMNS)):
        raise DumpError(f"{path}, line 1: {fields} fields, expected {len(HISTORY_COLUMNS)} or "
                        f"{len(HISTORY_COLUMNS) + len(HISTORY_EXTRA_COLUMNS)}")
    return fields


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


def read_history(spark: Any, files: list[HistoryFile], start: str) -> Any:
    """The history TSV files as a DataFrame with the table's 74 columns and types (persisted: the
    caller unpersists it once written).

    Lines are split on tabs in Spark; a line with the wrong number of fields, or a number or
    boolean that does not parse, stops the run naming the file and the line.
    """
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    all_columns = HISTORY_COLUMNS + HISTORY_EXTRA_COLUMNS
    frames = []
    for file in files:
        width = _layout(file.path)
        raw = spark.read.text(file.path).select(
            F.lit(file.path).alias("_file"), F.col("value").alias("_line"),
            F.split(F.col("value"), "\t", -1).alias("_fields"),
        )
        frames.append(raw.withColumn("_width", F.lit(width)))
    raw = frames[0]
    for frame in frames[1:]:
        raw = raw.unionByName(frame)

    cols, checks = [], []
    for index, (name, kind) in enumerate(all_columns):
        text = F.when(F.col("_width") > index, F.get(F.col("_fields"), index))
        value = F.when(text != "", text)
        if kind == "string":
            typed = F.coalesce(value, F.lit("")) if name in EMPTY_IS_EMPTY_STRING else value
        elif kind == "array<string>":
            typed = F.when(value.isNull(), F.array().cast("array<string>")).otherwise(
                F.transform(F.split(value, ARRAY_SEPARATOR), lambda item: F.regexp_replace(item, r"\\,", ",")))
        else:
            typed = value.try_cast(kind)
            checks.append(value.isNotNull() & typed.isNull())
        cols.append(typed.alias(name))
    bad_width = F.size("_fields") != F.col("_width")
    bad_value = F.lit(False)
    for check in checks:
        bad_value = bad_value | check
    parsed = raw.select("_file", "_line", bad_width.alias("_bad_width"), bad_value.alias("_bad_value"), *cols)
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
                            f"{_layout(bad['_file'])}")
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


# -- XML pages-meta-history ------------------------------------------------------------------------

#: Columns of the wikitext rows the XML dumps give (the rest of the table's columns are null).
XML_FIELDS = ("page_id", "page_namespace", "page_title", "revision_id", "revision_parent_id",
              "revision_timestamp", "revision_comment", "revision_text_bytes", "revision_text_sha1",
              "revision_text", "revision_content_model", "revision_content_format")


def _local_name(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _timestamp(value: str | None) -> str | None:
    """``2022-07-01T12:00:00Z`` (XML) -> ``2022-07-01 12:00:00.0`` (the tables' format)."""
    if not value:
        return None
    return value.replace("T", " ").rstrip("Z") + ".0"


#: Bytes handed to the XML parser at a time.
CHUNK_BYTES = 1 << 20
#: Decompressed pieces of a ``.7z`` member waiting for the parser. py7zr hands over up to 128 MB at
#: a time, so a task reading a .7z holds at most about three of those (being parsed, waiting, being
#: decompressed), whatever the dump's size.
SEVEN_ZIP_QUEUE = 1


def _chunks(path: str) -> Iterator[bytes]:
    """The decompressed bytes of one XML dump file, chunk by chunk, whatever its compression."""
    if path.endswith(".7z"):
        for piece in _seven_zip_chunks(path):
            # py7zr decompresses up to 128 MB at a time: the parser gets it a chunk at a time
            # anyway, so the tree it builds before the finished pages are cleared stays small
            view = memoryview(piece)
            for offset in range(0, len(view), CHUNK_BYTES):
                yield view[offset: offset + CHUNK_BYTES]
        return
    opener = bz2.open if path.endswith(".bz2") else open
    with opener(path, "rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


class _Stopped(Exception):
    """Raised inside py7zr's extraction when the reader no longer wants its chunks."""


def _seven_zip_chunks(path: str) -> Iterator[bytes]:
    """Stream the one member of a ``.7z`` dump with py7zr (pure Python, no 7-Zip binary).

    py7zr pushes decompressed chunks into a writer instead of letting us pull them, and its
    ``read()`` would hold the whole member in memory, so its extraction runs in a thread whose
    writer hands each chunk over through a small bounded queue: at most a few chunks of the member
    are in memory at once. An error in the archive reaches the reader as ``DumpError``; a reader
    that stops early (a broken XML file) stops the extraction too.
    """
    import lzma
    import queue
    import threading

    try:
        import py7zr
        from py7zr.io import Py7zIO, WriterFactory
    except ImportError as exc:  # pragma: no cover - py7zr is a dependency of kitrain
        raise DumpError(f"{path}: reading .7z needs the py7zr package ({exc})") from exc

    handover: queue.Queue = queue.Queue(maxsize=SEVEN_ZIP_QUEUE)
    stopped = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        """Hand ``item`` to the reader; False once the reader has stopped."""
        while not stopped.is_set():
            try:
                handover.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    class Sink(Py7zIO):
        def __init__(self) -> None:
            self.written = 0

        def write(self, s: bytes | bytearray) -> int:
            if not put(("data", s)):  # py7zr does not reuse the buffer it passes
                raise _Stopped
            self.written += len(s)
            return len(s)

        def read(self, size: int | None = None) -> bytes:
            return b""

        def seek(self, offset: int, whence: int = 0) -> int:
            return 0

        def flush(self) -> None:
            return None

        def size(self) -> int:
            return self.written

    class Sinks(WriterFactory):
        def create(self, filename: str) -> Py7zIO:
            return Sink()

    def extract() -> None:
        try:
            with py7zr.SevenZipFile(path, "r") as archive:
                names = [entry.filename for entry in archive.list() if not entry.is_directory]
                if len(names) != 1:
                    raise DumpError(f"{path}: a pages-meta-history .7z holds one XML file, this one "
                                    f"holds {len(names)} ({names[:3]})")
                archive.extractall(factory=Sinks())
            put(("end", None))
        except _Stopped:
            return
        except DumpError as exc:
            put(("error", exc))
        except (py7zr.exceptions.ArchiveError, py7zr.PasswordRequired, lzma.LZMAError, EOFError,
                OSError, ValueError) as exc:
            put(("error", DumpError(f"{path}: not a readable .7z archive (truncated download?): "
                                    f"{type(exc).__name__}: {exc}")))
        except Exception as exc:  # not swallowed: handed to the reader, which raises it
            put(("error", exc))

    worker = threading.Thread(target=extract, name=f"7z:{Path(path).name}", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = handover.get()
            if kind == "data":
                yield value
            elif kind == "end":
                return
            else:
                raise value
    finally:
        stopped.set()
        worker.join()


def parse_xml(path: str, wanted: frozenset[int] | set[int]) -> Iterator[tuple[Any, ...]]:
    """Stream one ``pages-meta-history`` file; yield a row per revision in ``wanted``.

    Rows are ``(kind, file, detail, *XML_FIELDS)``: kind ``text`` for a revision with its text,
    ``no_text`` for a wanted revision whose text the dump does not carry (deleted or missing), and
    ``error`` (with the reason in ``detail``) when the file is truncated or not well-formed, after
    which the file is not read further. Memory stays bounded: the decompressed bytes are fed to an
    incremental parser a chunk at a time and each page's elements are cleared as soon as they are
    read, so only the wanted texts are kept.
    """
    import xml.etree.ElementTree as ET

    empty = (None,) * len(XML_FIELDS)
    parser = ET.XMLPullParser(events=("start", "end"))
    page: dict[str, Any] = {}
    depth = 0
    root = None

    def rows() -> Iterator[tuple[Any, ...]]:
        nonlocal page, depth, root
        for event, element in parser.read_events():
            name = _local_name(element.tag)
            if event == "start":
                depth += 1
                if root is None:
                    root = element
                if name == "page":
                    page = {}
                continue
            depth -= 1
            if name in ("title", "ns", "id") and depth == 2:  # page-level fields
                page[name] = element.text
            elif name == "revision":
                fields = {_local_name(child.tag): child for child in element}
                revision_id = int(fields["id"].text)
                if revision_id in wanted:
                    yield _revision_row(path, page, revision_id, fields)
                element.clear()
            elif name == "page" and root is not None:
                root.clear()  # drops the finished page itself, so memory stays flat

    try:
        for chunk in _chunks(path):
            parser.feed(chunk)
            yield from rows()
        parser.close()
        yield from rows()
    except ET.ParseError as exc:
        line, column = exc.position
        yield ("error", path, f"line {line}, column {column}: {exc}", *empty)
    except EOFError:
        yield ("error", path, "the compressed file ends early (truncated download?)", *empty)
    except DumpError as exc:
        yield ("error", path, str(exc).removeprefix(f"{path}: "), *empty)
    except OSError as exc:
        yield ("error", path, f"cannot read: {exc}", *empty)
    except (KeyError, TypeError, ValueError) as exc:
        yield ("error", path, f"a revision lacks a field or has a malformed one ({exc!r})", *empty)


def _revision_row(path: str, page: dict[str, Any], revision_id: int, fields: dict[str, Any]) -> tuple[Any, ...]:
    """The row of one wanted revision (``text`` or, where the dump lacks its text, ``no_text``)."""
    text_el = fields.get("text")
    text = None
    if text_el is not None and text_el.get("deleted") is None:
        text = text_el.text or ""
    parent = fields.get("parentid")
    row = (
        int(page["id"]), int(page["ns"]), page.get("title"), revision_id,
        int(parent.text) if parent is not None and parent.text else None,
        _timestamp(fields["timestamp"].text if "timestamp" in fields else None),
        fields["comment"].text if "comment" in fields else None,
        int(text_el.get("bytes")) if text_el is not None and text_el.get("bytes") else None,
        fields["sha1"].text if "sha1" in fields else None,
        text,
        fields["model"].text if "model" in fields else None,
        fields["format"].text if "format" in fields else None,
    )
    return ("text" if text is not None else "no_text", path, None, *row)


def register_wikitext(spark: Any, dumps_dir: str, wikitext_snapshot: str, wiki_db: str,
                      wanted: Iterable[int], table: str) -> dict[str, Any]:
    """Stream the XML dumps of one wiki on the executors (one task per file) into ``table``,
    keeping the revisions in ``wanted`` only."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructField, StructType, StringType

    types = dict(WIKITEXT_COLUMNS)
    files = xml_files(dumps_dir, wiki_db, wikitext_snapshot)
    wanted_ids = frozenset(int(i) for i in wanted if i is not None)
    shared = spark.sparkContext.broadcast(wanted_ids)
    rows = spark.sparkContext.parallelize(files, len(files)).flatMap(
        lambda path: parse_xml(path, shared.value))
    schema = StructType(
        [StructField("_kind", StringType()), StructField("_file", StringType()),
         StructField("_detail", StringType())]
        + [StructField(name, _spark_type(types[name])) for name in XML_FIELDS]
    )
    frame = spark.createDataFrame(rows, schema).persist()
    try:
        errors = frame.where(F.col("_kind") == "error").select("_file", "_detail").collect()
        if errors:
            first = errors[0]
            raise DumpError(f"{first['_file']}: {first['_detail']}")
        counts = {row["_kind"]: row["count"] for row in frame.groupBy("_kind").count().collect()}
        texts = frame.where(F.col("_kind") == "text")
        others = [F.lit(None).cast(kind).alias(name) for name, kind in WIKITEXT_COLUMNS if name not in XML_FIELDS]
        table_frame = texts.select(
            *[F.col(name) for name in XML_FIELDS], *others,
            F.lit(wikitext_snapshot).alias("snapshot"), F.lit(wiki_db).alias("wiki_db"),
        ).select(*[name for name, _ in WIKITEXT_COLUMNS], "snapshot", "wiki_db")
        drop_source_table(spark, table)
        table_frame.write.partitionBy("snapshot", "wiki_db").saveAsTable(table)
    finally:
        frame.unpersist()
        shared.unpersist()
    report = {
        "xml_files": files,
        "wanted_revisions": len(wanted_ids),
        "revisions_with_text": int(counts.get("text", 0)),
        "revisions_without_text": int(counts.get("no_text", 0)),
        "revisions_not_in_dump": len(wanted_ids) - int(counts.get("text", 0)) - int(counts.get("no_text", 0)),
    }
    logger.info("XML dumps of %s: %s", wiki_db, {k: v for k, v in report.items() if k != "xml_files"})
    return report


def _spark_type(kind: str) -> Any:
    from pyspark.sql.types import BooleanType, IntegerType, LongType, StringType

    return {"bigint": LongType(), "int": IntegerType(), "string": StringType(),
            "boolean": BooleanType()}[kind]


# -- kitrain dumps plan ----------------------------------------------------------------------------


def history_periods(start: str, end: str) -> list[str]:
    """Every period name a history dump file of the window may have, coarsest first."""
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end) - dt.timedelta(days=1)
    years = [str(y) for y in range(first.year, last.year + 1)]
    months, day = [], dt.date(first.year, first.month, 1)
    while day <= last:
        months.append(f"{day.year:04d}-{day.month:02d}")
        day = dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)
    return ["all-time", *years, *months]


def read_listing(path: str) -> dict[str, int]:
    """A listing of the dumps site: lines ``SIZE PATH`` or ``PATH SIZE`` (bytes, a path relative to
    the base URL, as ``rsync --list-only`` or a crawler prints them)."""
    sizes: dict[str, int] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts or line.lstrip().startswith("#"):
            continue
        numbers = [p for p in parts if p.isdigit()]
        paths = [p for p in parts if "/" in p or p.endswith((".bz2", ".7z", ".tsv", ".xml"))]
        if len(numbers) < 1 or len(paths) != 1:
            raise DumpError(f"{path}, line {number}: expected 'SIZE PATH', got {line[:120]!r}")
        sizes[paths[0].lstrip("./").lstrip("/")] = int(numbers[0])
    return sizes


def plan(lang: str, snapshot: str, start: str, end: str, wikitext_snapshot: str,
         base_url: str = DEFAULT_BASE_URL, listing: dict[str, int] | None = None,
         xml_format: str = "bz2") -> dict[str, Any]:
    """What to download for one language: remote URL, local path under ``--dumps-dir`` and size.

    The site offers each XML part as ``.bz2`` and as ``.7z`` (``xml_format``); only one is needed.

    Without a listing the file names of the history dump depend on the wiki's size (one all-time
    file, one per year or one per month) and the XML dump's date is unknown, so the plan gives the
    candidates and patterns; with a listing it gives the exact files and their total size.
    """
    from kitrain.languages import wiki_db as wiki_db_of

    if xml_format not in XML_DOWNLOAD_FORMATS:
        raise DumpError(f"xml_format must be one of {XML_DOWNLOAD_FORMATS}, got {xml_format!r}")
    wiki = wiki_db_of(lang)
    base = base_url.rstrip("/")
    history_remote = f"other/mediawiki_history/{snapshot}/{wiki}"
    files: list[dict[str, Any]] = []
    periods = history_periods(start, end)
    if listing is None:
        for period in periods:
            name = f"{snapshot}.{wiki}.{period}.tsv.bz2"
            files.append({"kind": "history", "url": f"{base}/{history_remote}/{name}",
                          "local": f"{HISTORY_DIR}/{snapshot}/{wiki}/{name}", "size": None,
                          "note": "one of: all-time, or each year, or each month, whichever exists"})
        month = wikitext_snapshot.replace("-", "")
        pattern = f"{wiki}/{month}DD/{wiki}-{month}DD-pages-meta-history*.xml-p*p*.{xml_format}"
        files.append({"kind": "xml", "url": f"{base}/{pattern}", "local": f"{XML_DIR}/{pattern}",
                      "size": None, "note": "every part of the newest dump of that month"})
        return {"lang": lang, "wiki_db": wiki, "window": [start, end], "files": files, "total_bytes": None}

    history = {}
    for key, size in listing.items():
        match = TSV_NAME.match(Path(key).name)
        if key.startswith(history_remote + "/") and match and overlaps(match["period"], start, end):
            history[match["period"]] = (key, size)
    # a wiki's history dump is either one all-time file, or one per year, or one per month
    chosen = ["all-time"] if "all-time" in history else sorted(history)
    for period in chosen:
        key, size = history[period]
        files.append({"kind": "history", "url": f"{base}/{key}",
                      "local": f"{HISTORY_DIR}/{snapshot}/{wiki}/{Path(key).name}", "size": size})
    month = wikitext_snapshot.replace("-", "")
    wanted_ext = "." + xml_format
    dates = sorted({Path(k).parts[1] for k in listing
                    if len(Path(k).parts) == 3 and Path(k).parts[0] == wiki
                    and re.fullmatch(month + r"\d\d", Path(k).parts[1])
                    and (m := XML_NAME.match(Path(k).name)) and m["ext"] == wanted_ext})
    if dates:
        for key in sorted(listing):
            parts = Path(key).parts
            if len(parts) == 3 and parts[0] == wiki and parts[1] == dates[-1] \
                    and (m := XML_NAME.match(parts[2])) and m["ext"] == wanted_ext:
                files.append({"kind": "xml", "url": f"{base}/{key}",
                              "local": f"{XML_DIR}/{wiki}/{dates[-1]}/{parts[2]}", "size": listing[key]})
    missing = [kind for kind in ("history", "xml") if not any(f["kind"] == kind for f in files)]
    if missing:
        raise DumpError(f"the listing has no {' and no '.join(missing)} dump of {wiki} for snapshot "
                        f"{snapshot} / wikitext {wikitext_snapshot}")
    return {"lang": lang, "wiki_db": wiki, "window": [start, end], "files": files,
            "total_bytes": sum(f["size"] for f in files)}
