"""Writes public-dump-format files from the demo tables, for the dumps source's tests.

- ``mediawiki_history`` TSV: no header, the table's column order, ``true``/``false``, arrays joined
  by commas with commas inside items escaped by a backslash, an empty field for null; one file per
  period (``all-time``, a year or a month), plain or ``.bz2``, with the 70- or the 74-column layout.
- XML ``pages-meta-history`` (export schema 0.11): pages with their revisions, split over several
  files, plain, ``.bz2`` or ``.7z`` (one member, LZMA as the dumps site's 7za writes it).
"""

from __future__ import annotations

import bz2
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pyarrow.parquet as pq

from kitrain.schema import HISTORY_COLUMNS, HISTORY_EXTRA_COLUMNS

XMLNS = "http://www.mediawiki.org/xml/export-0.11/"


def tsv_field(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(item).replace(",", "\\,") for item in value)
    return str(value)


def _rows(source: Path, subdir: str, wiki_db: str, snapshot: str) -> list[dict]:
    table = pq.read_table(source / subdir, filters=[("snapshot", "=", snapshot)])
    return [row for row in table.to_pylist() if row["wiki_db"] == wiki_db]


def write_7z(path: Path, text: str) -> Path:
    """``path``.7z holding one member, the XML file ``path``'s name, compressed with LZMA."""
    import py7zr

    archive = path.with_name(path.name + ".7z")
    with py7zr.SevenZipFile(archive, "w", filters=[{"id": py7zr.FILTER_LZMA}]) as out:
        out.writestr(text.encode("utf-8"), path.name)
    return archive


def _write(path: Path, text: str, compress: bool | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress == "7z":
        return write_7z(path, text)
    if compress:
        path = path.with_name(path.name + ".bz2")
        path.write_bytes(bz2.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def write_history_dump(source: Path, out: Path, wiki_db: str, snapshot: str = "2022-07",
                       split: str = "all-time", columns: int = 74, compress: bool = True) -> list[Path]:
    """One wiki's history in dump files: ``split`` is ``all-time``, ``year`` or ``month``."""
    names = [name for name, _ in (HISTORY_COLUMNS + HISTORY_EXTRA_COLUMNS)][:columns]
    periods: dict[str, list[str]] = {}
    for row in sorted(_rows(source, "mediawiki_history", wiki_db, snapshot), key=lambda r: r["event_timestamp"]):
        ts = row["event_timestamp"]
        period = {"all-time": "all-time", "year": ts[:4], "month": ts[:7]}[split]
        periods.setdefault(period, []).append("\t".join(tsv_field(row.get(name)) for name in names))
    folder = out / "mediawiki_history" / snapshot / wiki_db
    return [_write(folder / f"{snapshot}.{wiki_db}.{period}.tsv", "\n".join(lines) + "\n", compress)
            for period, lines in sorted(periods.items())]


def write_xml_dump(source: Path, out: Path, wiki_db: str, wikitext_snapshot: str = "2022-11",
                   dump_date: str = "20221101", parts: int = 2, compress: bool | str = True,
                   edit: Callable[[dict], dict | None] | None = None) -> list[Path]:
    """One wiki's wikitext as ``parts`` XML history files, plain (``compress=False``), ``.bz2``
    (``True``) or ``.7z`` (``"7z"``). ``edit`` may change or drop (None) a revision's row before it
    is written."""
    pages: dict[int, list[dict]] = {}
    for row in _rows(source, "mediawiki_wikitext_history", wiki_db, wikitext_snapshot):
        row = edit(row) if edit else row
        if row is not None:
            pages.setdefault(row["page_id"], []).append(row)
    page_ids = sorted(pages)
    written = []
    for part in range(parts):
        chosen = page_ids[part::parts]
        lines = [f'<mediawiki xmlns="{XMLNS}" version="0.11" xml:lang="en">',
                 "  <siteinfo><sitename>Wikipedia</sitename><dbname>" + wiki_db + "</dbname></siteinfo>"]
        for page_id in chosen:
            revisions = sorted(pages[page_id], key=lambda r: (r["revision_timestamp"], r["revision_id"]))
            first = revisions[0]
            lines += ["  <page>", f"    <title>{escape(first['page_title'])}</title>",
                      f"    <ns>{first['page_namespace']}</ns>", f"    <id>{page_id}</id>"]
            for rev in revisions:
                lines += ["    <revision>", f"      <id>{rev['revision_id']}</id>"]
                if rev["revision_parent_id"]:
                    lines.append(f"      <parentid>{rev['revision_parent_id']}</parentid>")
                ts = rev["revision_timestamp"].split(".")[0].replace(" ", "T") + "Z"
                lines += [f"      <timestamp>{ts}</timestamp>",
                          f"      <contributor><username>{escape(rev['user_text'] or 'x')}</username></contributor>"]
                if rev.get("revision_comment"):
                    lines.append(f"      <comment>{escape(rev['revision_comment'])}</comment>")
                lines += ["      <model>wikitext</model>", "      <format>text/x-wiki</format>"]
                if rev["revision_text"] is None:
                    lines.append('      <text bytes="0" deleted="deleted" />')
                else:
                    text = rev["revision_text"]
                    lines.append(f'      <text bytes="{len(text.encode())}" xml:space="preserve">{escape(text)}</text>')
                lines += [f"      <sha1>{escape(rev['revision_text_sha1'] or '')}</sha1>", "    </revision>"]
            lines.append("  </page>")
        lines.append("</mediawiki>")
        name = f"{wiki_db}-{dump_date}-pages-meta-history{part + 1}.xml-p{part}p{part}"
        written.append(_write(out / "xmldumps" / wiki_db / dump_date / name, "\n".join(lines) + "\n", compress))
    return written
