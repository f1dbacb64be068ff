"""The public dumps as a collection source, for everyone outside the Wikimedia cluster.

Two dumps stand in for the two analytics tables:

- ``mediawiki_history`` monthly TSV dumps (no header, one file per wiki and period, ``.tsv`` or
  ``.tsv.bz2``) for ``wmf.mediawiki_history``. Their column order changed as columns were added;
  each file's layout is recognised by its number of fields (:data:`HISTORY_DUMP_LAYOUTS`);
- the XML ``pages-meta-history`` dumps (``.xml``, ``.xml.bz2`` or ``.xml.7z``, the last read with
  the pure-Python py7zr, no 7-Zip binary) for ``wmf.mediawiki_wikitext_history``.

Both are turned into tables of the analytics tables' names and columns in the session's own catalog,
so the same SQL files and the same diff code run on them. Only the history files whose period
overlaps the window are read, and only from the window's start on (a revision is always reverted
later, never earlier); the XML dumps are streamed file by file on the executors, keeping the text of
the selected revisions and their parents only. A malformed line, a truncated compressed file or a
broken XML file stops the run with an error naming the file (and the line); a revision whose text
the XML does not carry is counted, and the collection's missing-text step drops and counts it.

Which XML dump: full-history dumps are made only by the dump run that starts on the first of a
month, and hold revisions up to about that day. The texts of a window ending on day E are therefore
only in a full-history dump dated on or after E, and the collection reads, by default, the first
such dump of the wiki (``xml_dump`` pins another).

Layout of ``--dumps-dir DIR`` (as on the dumps site)::

    DIR/mediawiki_history/<snapshot>/<wiki_db>/<snapshot>.<wiki_db>.<period>.tsv[.bz2]
    DIR/xmldumps/<wiki_db>/<YYYYMMDD>/<wiki_db>-<YYYYMMDD>-pages-meta-history*.xml[.bz2|.7z]
"""

from __future__ import annotations

import bz2
import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kitrain.config import check_xml_dump
from kitrain.schema import (
    HISTORY_COLUMNS,
    HISTORY_DUMP_ESCAPED_COLUMNS,
    HISTORY_DUMP_LAYOUTS,
    HISTORY_EXTRA_COLUMNS,
    WIKITEXT_COLUMNS,
)
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
#: Free-text columns whose empty field means the empty string (an edit without summary), not null:
#: the writer prints null and the empty string alike, and MediaWiki stores an empty summary.
EMPTY_IS_EMPTY_STRING = ("event_comment",)
#: The columns of the session's ``wmf.mediawiki_history`` built from the dumps: the table's, with
#: the temporary-account flags (null from files that predate them). Other columns of newer layouts
#: (central ids, cross-wiki flag, log id) are read, checked and dropped: nothing uses them.
TABLE_COLUMNS = HISTORY_COLUMNS + HISTORY_EXTRA_COLUMNS
#: The day of the month whose dump run makes the full-history (``pages-meta-history``) dumps.
FULL_HISTORY_DAY = 1


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


# -- which XML dump --------------------------------------------------------------------------------


def first_full_history_day(window_end: str) -> dt.date:
    """The date of the first full-history dump run that can hold a window ending on ``window_end``
    (exclusive): the first day of a month on or after it."""
    end = dt.date.fromisoformat(window_end)
    if end.day == FULL_HISTORY_DAY:
        return end
    return dt.date(end.year + (end.month == 12), end.month % 12 + 1, FULL_HISTORY_DAY)


def _dump_parts(dump: Path) -> dict[str, dict[str, Path]]:
    """``pages-meta-history`` parts of one dump folder: part name -> {extension: path}."""
    parts: dict[str, dict[str, Path]] = {}
    if dump.is_dir():
        for entry in sorted(dump.iterdir()):
            match = XML_NAME.match(entry.name)
            if match is not None:
                ext = match["ext"] or ""
                parts.setdefault(entry.name[: len(entry.name) - len(ext)], {})[ext] = entry
    return parts


def full_history_dumps(dumps_dir: str, wiki_db: str) -> list[str]:
    """Dates (``YYYYMMDD``) of the dump folders of ``wiki_db`` that hold ``pages-meta-history``
    files: the runs of the 1st of a month (the runs of the 20th make none)."""
    folder = Path(dumps_dir, XML_DIR, wiki_db)
    if not folder.is_dir():
        return []
    return sorted(d.name for d in folder.iterdir()
                  if d.is_dir() and re.fullmatch(r"\d{8}", d.name) and _dump_parts(d))


def choose_xml_dump(dates: Iterable[str], wiki_db: str, window_end: str, pinned: str | None = None) -> str:
    """The full-history dump to read for a window ending on ``window_end``, from the dates there
    are: ``pinned`` if given (refused if dated before the window's end: it cannot hold the window's
    last revisions), else the first dated on or after the window's end; when there is none, the
    error says which dump to wait for.
    """
    dates = sorted(dates)
    wanted = first_full_history_day(window_end).strftime("%Y%m%d")
    if pinned is not None:
        check_xml_dump("dumps", pinned, window_end)
        if pinned not in dates:
            raise DumpError(f"no full-history XML dump {pinned} of {wiki_db} (pages-meta-history "
                            f"files in {XML_DIR}/{wiki_db}/{pinned}/); there are: {dates or 'none'}")
        return pinned
    later = [date for date in dates if date >= window_end.replace("-", "")]
    if not later:
        raise DumpError(
            f"no full-history XML dump of {wiki_db} dated on or after {window_end}, the end of the "
            f"window (newest there: {dates[-1] if dates else 'none'}): the texts are first in the "
            f"dump of {wanted} ({XML_DIR}/{wiki_db}/{wanted}/); wait for it and download it "
            f"(`kitrain dumps plan`)"
        )
    return later[0]


def xml_files(dumps_dir: str, wiki_db: str, dump_date: str) -> list[str]:
    """The ``pages-meta-history`` files of one dump of ``wiki_db``, each part once (the dumps site
    offers each part as .bz2 and as .7z: plain is taken, else .bz2, else .7z)."""
    dump = Path(dumps_dir, XML_DIR, wiki_db, dump_date)
    parts = _dump_parts(dump)
    if not parts:
        raise DumpError(f"no {wiki_db}-{dump_date}-pages-meta-history*.xml[.bz2|.7z] file in {dump}")
    files = []
    for part, formats in sorted(parts.items()):
        chosen = next(formats[ext] for ext in XML_FORMATS if ext in formats)
        if len(formats) > 1:
            logger.info("%s is there as %s; reading %s", part, sorted(formats), chosen.name)
        files.append(str(chosen))
    return files


def resolve_xml_dump(dumps_dir: str, wiki_db: str, window_end: str, pinned: str | None = None) -> tuple[str, list[str]]:
    """The date and files of the XML dump a collection reads (checked before Spark reads a text)."""
    date = choose_xml_dump(full_history_dumps(dumps_dir, wiki_db), wiki_db, window_end, pinned)
    return date, xml_files(dumps_dir, wiki_db, date)


def check_dumps(dumps_dir: str, snapshot: str, wiki_db: str, start: str, end: str,
                xml_dump: str | None = None) -> dict[str, Any]:
    """Everything about the dump files a collection can check before Spark starts: the history
    files of the window and the XML dump to read. Raises :class:`DumpError` naming what is wrong."""
    files = history_files(dumps_dir, snapshot, wiki_db, start, end)
    date, xml = resolve_xml_dump(dumps_dir, wiki_db, end, xml_dump)
    return {"history_files": [f.path for f in files], "xml_dump": date, "xml_files": xml}


# -- history TSV -----------------------------------------------------------------------------------


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


# -- XML pages-meta-history ------------------------------------------------------------------------

#: Columns of the wikitext rows the XML dumps give (the rest of the table's columns are null).
XML_FIELDS = ("page_id", "page_namespace", "page_title", "page_redirect_title", "user_id", "user_text",
              "revision_id", "revision_parent_id", "revision_timestamp", "revision_minor_edit",
              "revision_comment", "revision_text_bytes", "revision_text_sha1", "revision_text",
              "revision_content_model", "revision_content_format")
#: The namespace whose pages are read; revisions of other pages are skipped without keeping text.
ARTICLE_NAMESPACE = 0


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


#: Elements whose text is read: the page's (children of ``<page>``), the revision's (children of
#: ``<revision>``; ``<text>`` only for a wanted revision) and the contributor's.
_PAGE_FIELDS = frozenset({"title", "ns", "id"})
_REVISION_FIELDS = frozenset({"id", "parentid", "timestamp", "comment", "model", "format", "sha1", "text"})
_CONTRIBUTOR_FIELDS = frozenset({"username", "id", "ip"})


class _ExportReader:
    """The handlers of an expat parser over one MediaWiki XML export (``pages-meta-history``).

    Only the structure matters, never the schema version (0.3 to 0.11 share it): ``<page>`` holds
    ``<title>``, ``<ns>``, ``<id>``, an optional ``<redirect title=".."/>`` and its revisions; a
    ``<revision>`` holds ``<id>`` first, then ``<parentid>`` (not on a page's first revision),
    ``<timestamp>``, ``<contributor>`` (``<username>`` and ``<id>``, or ``<ip>``; or
    ``deleted="deleted"``), ``<minor/>``, ``<comment>`` (or ``deleted="deleted"``), ``<origin>``,
    ``<model>``, ``<format>``, ``<text>`` and ``<sha1>``. Elements are found by their place, so the
    ``<text>`` of a non-main slot (inside ``<content>``) or of a ``<logitem>`` is never taken for the
    revision's, and elements the reader does not know (``<origin>``, ``<upload>``,
    ``<discussionthreadinginfo>``, ...) are ignored. Text is kept only for wanted revisions of pages
    in the article namespace; the character data of every other revision is dropped as it arrives.
    """

    def __init__(self, path: str, wanted: frozenset[int] | set[int]) -> None:
        self.path = path
        self.wanted = wanted
        self.rows: list[tuple[Any, ...]] = []
        self.stack: list[str] = []
        self.page: dict[str, Any] = {}
        self.revision: dict[str, Any] | None = None
        self.buffer: list[str] | None = None  # the character data being kept, if any

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        name = tag.rpartition(":")[2]
        stack = self.stack
        stack.append(name)
        depth = len(stack)  # 1: <mediawiki>, 2: <page>, 3: its fields and <revision>s
        if depth == 2 and name == "page":
            self.page = {}
        elif depth == 3 and stack[1] == "page":
            if name == "revision":
                if self.page.get("ns", ARTICLE_NAMESPACE) == ARTICLE_NAMESPACE:
                    self.revision = {"minor": False}
            elif name in _PAGE_FIELDS:
                self.buffer = []
            elif name == "redirect":
                self.page["redirect"] = attrs.get("title")
        elif self.revision is not None and depth == 4:
            if name == "minor":
                self.revision["minor"] = True
            elif name == "contributor":
                self.revision["user_deleted"] = "deleted" in attrs
            elif name == "text":
                self.revision["text_attrs"] = attrs
                # the id comes first; a revision without one yet is kept until it is known
                revision_id = self.revision.get("id")
                if revision_id is None or int(revision_id) in self.wanted:
                    self.buffer = []
            elif name in _REVISION_FIELDS:
                if "deleted" in attrs:
                    self.revision[name + "_deleted"] = True
                self.buffer = []
        elif self.revision is not None and depth == 5 and stack[3] == "contributor" \
                and name in _CONTRIBUTOR_FIELDS:
            self.buffer = []

    def data(self, text: str) -> None:
        if self.buffer is not None:
            self.buffer.append(text)

    def end(self, tag: str) -> None:
        stack = self.stack
        depth = len(stack)
        name = stack.pop()
        buffer, self.buffer = self.buffer, None
        if depth == 3 and stack[1] == "page":
            if name == "revision":
                if self.revision is not None:
                    self._finish_revision(self.revision)
                self.revision = None
            elif buffer is not None:
                value = "".join(buffer)
                self.page[name] = int(value) if name in ("ns", "id") else value
        elif self.revision is not None and buffer is not None:
            key = "user_" + name if depth == 5 else name
            self.revision[key] = "".join(buffer)

    def _finish_revision(self, revision: dict[str, Any]) -> None:
        revision_id = int(revision["id"])
        if revision_id not in self.wanted:
            return
        attrs = revision.get("text_attrs")
        text = revision.get("text")
        size = attrs.get("bytes") if attrs is not None else None
        if attrs is None or "deleted" in attrs or text is None:
            text = None
        elif not text and size not in (None, "", "0"):
            # MediaWiki writes <text bytes="N"/> without content where it could not load the text
            text = None
        user_id = revision.get("user_id")
        row = (
            # exports before schema 0.6 have no <ns>; a wanted revision is an article's anyway
            self.page["id"], self.page.get("ns", ARTICLE_NAMESPACE), self.page.get("title"),
            self.page.get("redirect"),
            int(user_id) if user_id and revision.get("user_username") is not None else None,
            revision.get("user_username", revision.get("user_ip")),
            revision_id,
            int(revision["parentid"]) if revision.get("parentid") else None,
            _timestamp(revision.get("timestamp")),
            revision["minor"],
            None if revision.get("comment_deleted") else revision.get("comment", ""),
            int(size) if size else None,
            revision.get("sha1") or None,
            text,
            revision.get("model"),
            revision.get("format"),
        )
        self.rows.append(("text" if text is not None else "no_text", self.path, None, *row))


def parse_xml(path: str, wanted: frozenset[int] | set[int]) -> Iterator[tuple[Any, ...]]:
    """Stream one ``pages-meta-history`` file; yield a row per revision in ``wanted``.

    Rows are ``(kind, file, detail, *XML_FIELDS)``: kind ``text`` for a revision with its text,
    ``no_text`` for a wanted revision whose text the dump does not carry (deleted or missing), and
    ``error`` (with the reason in ``detail``) when the file is truncated or not well-formed, after
    which the file is not read further. Memory stays bounded: the decompressed bytes are fed to
    expat a chunk at a time, and only the wanted revisions' texts are ever joined.
    """
    from xml.parsers import expat

    empty = (None,) * len(XML_FIELDS)
    reader = _ExportReader(path, wanted)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.data

    def taken() -> list[tuple[Any, ...]]:
        rows, reader.rows = reader.rows, []
        return rows

    try:
        for chunk in _chunks(path):
            parser.Parse(chunk, False)
            yield from taken()
        parser.Parse(b"", True)
        yield from taken()
    except expat.ExpatError as exc:
        yield ("error", path, f"line {exc.lineno}, column {exc.offset}: {expat.ErrorString(exc.code)}", *empty)
    except EOFError:
        yield ("error", path, "the compressed file ends early (truncated download?)", *empty)
    except DumpError as exc:
        yield ("error", path, str(exc).removeprefix(f"{path}: "), *empty)
    except OSError as exc:
        yield ("error", path, f"cannot read: {exc}", *empty)
    except (KeyError, TypeError, ValueError) as exc:
        yield ("error", path, f"line {parser.CurrentLineNumber}: a page or revision lacks a field or "
                              f"has a malformed one ({exc!r})", *empty)


def register_wikitext(spark: Any, files: list[str], wikitext_snapshot: str, wiki_db: str,
                      wanted: Iterable[int], table: str) -> dict[str, Any]:
    """Stream the XML dump files of one wiki on the executors (one task per file) into ``table``
    (partition ``wikitext_snapshot``), keeping the revisions in ``wanted`` only."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructField, StructType, StringType

    types = dict(WIKITEXT_COLUMNS)
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


def plan(lang: str, snapshot: str, start: str, end: str, base_url: str = DEFAULT_BASE_URL,
         listing: dict[str, int] | None = None, xml_format: str = "bz2", xml_dump: str | None = None,
         today: dt.date | None = None) -> dict[str, Any]:
    """What to download for one language: remote URL, local path under ``--dumps-dir`` and size.

    The XML dump is the one the collection reads: ``xml_dump`` if given, else the first
    full-history dump dated on or after ``end`` (the end of the collection's windows). The site
    offers each of its parts as ``.bz2`` and as ``.7z`` (``xml_format``); only one is needed.

    Without a listing the file names of the history dump depend on the wiki's size (one all-time
    file, one per year or one per month), so the plan gives the candidates; with a listing it gives
    the exact files and their total size. ``wait_for`` names the XML dump's date when it does not
    exist yet (after ``today``) or is not in the listing.
    """
    from kitrain.languages import wiki_db as wiki_db_of

    if xml_format not in XML_DOWNLOAD_FORMATS:
        raise DumpError(f"xml_format must be one of {XML_DOWNLOAD_FORMATS}, got {xml_format!r}")
    wiki = wiki_db_of(lang)
    base = base_url.rstrip("/")
    history_remote = f"other/mediawiki_history/{snapshot}/{wiki}"
    files: list[dict[str, Any]] = []
    today = today or dt.datetime.now(dt.timezone.utc).date()
    expected = xml_dump or first_full_history_day(end).strftime("%Y%m%d")
    result: dict[str, Any] = {"lang": lang, "wiki_db": wiki, "window": [start, end], "xml_dump": expected,
                              "files": files, "total_bytes": None, "wait_for": None}
    if listing is None:
        for period in history_periods(start, end):
            name = f"{snapshot}.{wiki}.{period}.tsv.bz2"
            files.append({"kind": "history", "url": f"{base}/{history_remote}/{name}",
                          "local": f"{HISTORY_DIR}/{snapshot}/{wiki}/{name}", "size": None,
                          "note": "one of: all-time, or each year, or each month, whichever exists"})
        pattern = f"{wiki}/{expected}/{wiki}-{expected}-pages-meta-history*.xml-p*p*.{xml_format}"
        files.append({"kind": "xml", "url": f"{base}/{pattern}", "local": f"{XML_DIR}/{pattern}",
                      "size": None, "note": f"every part of the full-history dump of {expected}"})
        if dt.datetime.strptime(expected, "%Y%m%d").date() >= today:  # a run of today has only begun
            result["wait_for"] = expected
        return result

    history = {}
    for key, size in listing.items():
        match = TSV_NAME.match(Path(key).name)
        if key.startswith(history_remote + "/") and match and overlaps(match["period"], start, end):
            history[match["period"]] = (key, size)
    if not history:
        raise DumpError(f"the listing has no history dump of {wiki} for snapshot {snapshot} covering "
                        f"{start}..{end}")
    # a wiki's history dump is either one all-time file, or one per year, or one per month
    chosen = ["all-time"] if "all-time" in history else sorted(history)
    for period in chosen:
        key, size = history[period]
        files.append({"kind": "history", "url": f"{base}/{key}",
                      "local": f"{HISTORY_DIR}/{snapshot}/{wiki}/{Path(key).name}", "size": size})
    wanted_ext = "." + xml_format
    parts: dict[str, list[str]] = {}
    for key in sorted(listing):
        path = Path(key).parts
        if len(path) == 3 and path[0] == wiki and (m := XML_NAME.match(path[2])) and m["ext"] == wanted_ext:
            parts.setdefault(path[1], []).append(key)
    try:
        date = choose_xml_dump(parts, wiki, end, xml_dump)
    except DumpError:
        result["wait_for"] = expected
    else:
        result["xml_dump"] = date
        for key in parts[date]:
            files.append({"kind": "xml", "url": f"{base}/{key}", "local": f"{XML_DIR}/{key}",
                          "size": listing[key]})
    result["total_bytes"] = sum(f["size"] for f in files)
    return result
