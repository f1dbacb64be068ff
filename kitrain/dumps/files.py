"""The layout of ``--dumps-dir``: which history files and which XML dump a collection reads.

Full-history XML dumps are made only by the dump run that starts on the first of a month, and hold
revisions up to about that day. The texts of a window ending on day E are therefore only in a
full-history dump dated on or after E, and the collection reads, by default, the first such dump
of the wiki (``xml_dump`` pins another).

Two kinds of full-history export are read, by the same rules:

* the classic dumps, ``xmldumps/<wiki>/<YYYYMMDD>/<wiki>-<YYYYMMDD>-pages-meta-history*.xml*``;
* the exports Wikimedia makes from the content history table since 2025 (analytics-refinery-source
  ``MediawikiDumper``, commit cac40da7: folder ``mediawiki_content_history/<wiki_id>/<date>/``, file
  names without ``pages-meta-history``: ``<wiki>-<YYYY-MM-DD>-p<first page>p<last page>.xml.bz2``,
  or ``-p<page>r<first revision>r<last revision>`` for a page split over several files). Their
  folder date is read as ``YYYYMMDD`` or ``YYYY-MM-DD``; both kinds share one calendar of dates.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kitrain.config import check_xml_dump
from kitrain.spark import SourceError

logger = logging.getLogger(__name__)

HISTORY_DIR = "mediawiki_history"
XML_DIR = "xmldumps"
#: The content-table exports' folder (``<wiki_id>/<date>/`` under it).
CONTENT_EXPORT_DIR = "mediawiki_content_history"

TSV_NAME = re.compile(
    r"^(?P<snapshot>\d{4}-\d{2})\.(?P<wiki>[a-z0-9_]+)\.(?P<period>all-time|\d{4}|\d{4}-\d{2})\.tsv(?P<bz2>\.bz2)?$"
)
#: Formats of one XML dump part, in the order of preference when several are there (plain text
#: costs no decompression; bz2 is read by the standard library; 7z needs py7zr).
XML_FORMATS = ("", ".bz2", ".7z")
XML_NAME = re.compile(
    r"^(?P<wiki>[a-z0-9_]+)-(?P<date>\d{8})-pages-meta-history\d*\.xml(?:-p\d+p\d+)?(?P<ext>\.bz2|\.7z)?$"
)
#: A part of a content-table export: the dumper's ``publishUntil`` date in the name, a page range
#: (or one page's revision range), and its default ``.bz2`` (plain: a decompressed download).
CONTENT_XML_NAME = re.compile(
    r"^(?P<wiki>[a-z0-9_]+)-(?P<date>\d{4}-\d{2}-\d{2})-p\d+(?:p\d+|r\d+r\d+)\.xml(?P<ext>\.bz2)?$"
)
#: Folder names of a content-table export's date.
_EXPORT_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
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


def first_full_history_day(window_end: str) -> dt.date:
    """The date of the first full-history dump run that can hold a window ending on ``window_end``
    (exclusive): the first day of a month on or after it."""
    end = dt.date.fromisoformat(window_end)
    if end.day == FULL_HISTORY_DAY:
        return end
    return dt.date(end.year + (end.month == 12), end.month % 12 + 1, FULL_HISTORY_DAY)


def xml_part_name(name: str) -> re.Match[str] | None:
    """A full-history XML file's name, as either kind of export names it (None: not one)."""
    return XML_NAME.match(name) or CONTENT_XML_NAME.match(name)


def _dump_parts(dump: Path) -> dict[str, dict[str, Path]]:
    """Full-history parts of one dump folder (``pages-meta-history`` files, or a content-table
    export's parts): part name -> {extension: path}."""
    parts: dict[str, dict[str, Path]] = {}
    if dump.is_dir():
        for entry in sorted(dump.iterdir()):
            match = xml_part_name(entry.name)
            if match is not None:
                ext = match["ext"] or ""
                parts.setdefault(entry.name[: len(entry.name) - len(ext)], {})[ext] = entry
    return parts


def dump_folders(dumps_dir: str, wiki_db: str) -> dict[str, Path]:
    """The full-history exports of ``wiki_db`` in ``dumps_dir``: date (``YYYYMMDD``) -> folder. The
    classic dumps' folders hold ``pages-meta-history`` files (the runs of the 1st of a month; the
    runs of the 20th make none); a content-table export's folder holds its parts. Where both kinds
    are there for one date, the classic dump is read (and the other named in the log)."""
    found: dict[str, Path] = {}
    exports = Path(dumps_dir, CONTENT_EXPORT_DIR, wiki_db)
    if exports.is_dir():
        for folder in sorted(exports.iterdir()):
            date = _EXPORT_DATE.match(folder.name)
            if folder.is_dir() and date is not None and _dump_parts(folder):
                found["".join(date.groups())] = folder
    classic = Path(dumps_dir, XML_DIR, wiki_db)
    if classic.is_dir():
        for folder in sorted(classic.iterdir()):
            if folder.is_dir() and re.fullmatch(r"\d{8}", folder.name) and _dump_parts(folder):
                if folder.name in found:
                    logger.info("%s and %s hold the full history of %s: reading the first", folder,
                                found[folder.name], folder.name)
                found[folder.name] = folder
    return dict(sorted(found.items()))


def full_history_dumps(dumps_dir: str, wiki_db: str) -> list[str]:
    """Dates (``YYYYMMDD``) of the full-history exports of ``wiki_db`` (:func:`dump_folders`)."""
    return list(dump_folders(dumps_dir, wiki_db))


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
                            f"files in {XML_DIR}/{wiki_db}/{pinned}/, or a content-table export in "
                            f"{CONTENT_EXPORT_DIR}/{wiki_db}/{pinned}/); there are: {dates or 'none'}")
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
    """The full-history files of one export of ``wiki_db``, each part once (the dumps site offers
    each part as .bz2 and as .7z: plain is taken, else .bz2, else .7z)."""
    dump = dump_folders(dumps_dir, wiki_db).get(dump_date, Path(dumps_dir, XML_DIR, wiki_db, dump_date))
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


