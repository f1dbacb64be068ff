"""``kitrain dumps plan``: what to download for a language, and from where."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from kitrain.dumps.files import (
    HISTORY_DIR,
    TSV_NAME,
    XML_DIR,
    XML_NAME,
    DumpError,
    choose_xml_dump,
    first_full_history_day,
    overlaps,
)

DEFAULT_BASE_URL = "https://dumps.wikimedia.org"
#: The compressions the dumps site offers each XML part in (``kitrain dumps plan --xml-format``).
XML_DOWNLOAD_FORMATS = ("bz2", "7z")
#: A dump run's status file, beside its files: which jobs are done and each file's size (what
#: :mod:`kitrain.readiness` checks the downloaded XML files against).
DUMPSTATUS = "dumpstatus.json"
DUMPSTATUS_NOTE = "the dump's status: get it once its metahistory jobs are done (the XML files are checked against it)"


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
    offers each of its parts as ``.bz2`` and as ``.7z`` (``xml_format``); only one is needed. The
    dump's ``dumpstatus.json`` comes last (kind ``status``; its size only if the listing has it,
    and then in the total): the DAG's sensor checks the XML files against it.

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
        files.append(_status_file(base, wiki, expected, None))
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
        files.append(_status_file(base, wiki, date, listing.get(f"{wiki}/{date}/{DUMPSTATUS}")))
    result["total_bytes"] = sum(f["size"] for f in files if f["size"] is not None)
    return result


def _status_file(base: str, wiki: str, date: str, size: int | None) -> dict[str, Any]:
    key = f"{wiki}/{date}/{DUMPSTATUS}"
    return {"kind": "status", "url": f"{base}/{key}", "local": f"{XML_DIR}/{key}", "size": size,
            "note": DUMPSTATUS_NOTE}
