"""The XML ``pages-meta-history`` dumps streamed into the session's ``wmf.mediawiki_wikitext_history``.

Plain, ``.bz2`` or ``.7z`` (the last read with the pure-Python py7zr, no 7-Zip binary), one Spark
task per file, keeping the texts of the wanted revisions only.
"""

from __future__ import annotations

import bz2
import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from kitrain.dumps.files import DumpError
from kitrain.schema import WIKITEXT_COLUMNS
from kitrain.spark import drop_source_table

logger = logging.getLogger(__name__)

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
            # anyway, as it gets every other format
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
                      wanted: Iterable[int], table: str,
                      groups: Mapping[str, Iterable[int | None]] | None = None) -> dict[str, Any]:
    """Stream the XML dump files of one wiki on the executors (one task per file) into ``table``
    (partition ``wikitext_snapshot``), keeping the revisions in ``wanted`` only.

    ``groups`` (name -> ids, each within ``wanted``): the report's counts for each group's ids
    alone as well, under ``groups``: the modes of a collection read the XML once for all of them,
    and each mode's report counts its own revisions, as if it had read the dump alone."""
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
        found = ([] if not groups else
                 [(row["revision_id"], row["_kind"]) for row in
                  frame.where(F.col("_kind") != "error").select("revision_id", "_kind").collect()])
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
    if groups:
        report["groups"] = {name: _found_counts(ids, found) for name, ids in groups.items()}
    return report


def _found_counts(ids: Iterable[int | None], found: list[tuple[int, str]]) -> dict[str, int]:
    """:func:`register_wikitext`'s counts for the revisions ``ids`` alone, from the ``(revision id,
    kind)`` of every wanted revision the dump holds (the ids of a few hundred thousand rows at
    most: the collection's samples)."""
    wanted = frozenset(int(i) for i in ids if i is not None)
    with_text = sum(1 for revision, kind in found if kind == "text" and revision in wanted)
    without_text = sum(1 for revision, kind in found if kind == "no_text" and revision in wanted)
    return {"wanted_revisions": len(wanted), "revisions_with_text": with_text,
            "revisions_without_text": without_text,
            "revisions_not_in_dump": len(wanted) - with_text - without_text}


def _spark_type(kind: str) -> Any:
    from pyspark.sql.types import BooleanType, IntegerType, LongType, StringType

    return {"bigint": LongType(), "int": IntegerType(), "string": StringType(),
            "boolean": BooleanType()}[kind]


