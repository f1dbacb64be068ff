"""Writes public-dump-format files: the demo's dumps source (``kitrain demo-data --dumps-out``) and
the dumps source's tests, whose reader is checked against files that reproduce what Wikimedia's
writers produce, feature by feature.

- ``mediawiki_history`` TSV, as ``MediawikiEvent.toTSVLine`` (wikimedia/analytics-refinery-source)
  writes it: no header, the column order of the layout (70, 74, 76, 77 or 78 fields), ``true`` /
  ``false``, Java ``Timestamp.toString`` times, an empty field for null; TAB, LF and CR inside the
  free-text columns written as ``\\t``, ``\\n``, ``\\r`` (backslashes left alone); arrays joined by
  commas with commas inside items escaped by a backslash. One file per period (``all-time``, a year
  or a month), plain or ``.bz2``.
- XML ``pages-meta-history`` as MediaWiki's ``XmlDumpWriter`` writes schema 0.11 (or 0.10): the root
  element over several lines, ``<siteinfo>``, ``<redirect title=".."/>``, ``<parentid>`` only where a
  revision has a parent, ``<contributor>`` with ``<username>`` and ``<id>`` or ``<ip>`` (or
  ``deleted="deleted"``), ``<minor/>``, no ``<comment>`` for an empty summary, ``<origin>``,
  ``<text bytes=".." sha1=".." xml:space="preserve">``, deleted text as
  ``<text bytes=".." sha1=".." deleted="deleted" />`` followed by ``<sha1/>``; split over several
  files, plain, ``.bz2`` or ``.7z`` (one member, LZMA as the dumps site's 7za writes it).
- ``dumpstatus.json`` beside the XML files, as the dumps' ``StatusAPI`` (wikimedia/operations-dumps,
  ``xmldumps-backup/dumps/runstatusapi.py``, version 0.8) writes it: ``{"jobs": {<job>: {"status",
  "updated", "files": {<name>: {"size", "url", "md5", "sha1"}}}}, "version": "0.8"}``, both
  meta-history jobs (``metahistorybz2dump``, ``metahistory7zdump``) done and listing every part.
"""

from __future__ import annotations

import bz2
import datetime as dt
import hashlib
import io
import json
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from kitrain.schema import HISTORY_DUMP_ESCAPED_COLUMNS, HISTORY_DUMP_LAYOUTS

XMLNS = "http://www.mediawiki.org/xml/export-{version}/"


def escape_text(text: str) -> str:
    """``MediawikiEvent.escape``: TAB, LF, CR as two characters each; nothing else escaped."""
    return text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def tsv_field(value: object, name: str = "") -> str:
    """One field as the dump writer prints it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return escape_text(",".join(str(item).replace(",", "\\,") for item in value))
    if name in HISTORY_DUMP_ESCAPED_COLUMNS:
        return escape_text(str(value))
    return str(value)


def _layout_value(row: dict, name: str) -> object:
    """A row's value for a column of a newer layout that the demo tables do not have."""
    if name in row:
        return row[name]
    if name in ("event_user_central_id", "user_central_id"):
        return row.get(name.replace("central_", ""))
    if name == "event_user_is_cross_wiki":
        return None if row.get("event_user_is_anonymous") is None else False
    return None  # event_log_id: null for revision events


def tsv_line(row: dict, width: int) -> str:
    return "\t".join(tsv_field(_layout_value(row, name), name) for name, _ in HISTORY_DUMP_LAYOUTS[width])


def seven_zip_bytes(name: str, text: str) -> bytes:
    """A .7z archive holding one member ``name``, the text compressed with LZMA."""
    import py7zr

    buffer = io.BytesIO()
    with py7zr.SevenZipFile(buffer, "w", filters=[{"id": py7zr.FILTER_LZMA}]) as out:
        out.writestr(text.encode("utf-8"), name)
    return buffer.getvalue()


def write_7z(path: Path, text: str) -> Path:
    """``path``.7z holding one member, the XML file ``path``'s name, compressed with LZMA."""
    archive = path.with_name(path.name + ".7z")
    archive.write_bytes(seven_zip_bytes(path.name, text))
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


def write_history_lines(rows: list[dict], out: Path, wiki_db: str, snapshot: str = "2022-07",
                        split: str = "all-time", columns: int = 74, compress: bool = True) -> list[Path]:
    """History rows (dicts of table columns) as dump files: ``split`` is ``all-time``, ``year`` or
    ``month``. Rows without a timestamp are left out, as the dumper leaves them out."""
    periods: dict[str, list[str]] = {}
    for row in sorted((r for r in rows if r.get("event_timestamp")), key=lambda r: r["event_timestamp"]):
        ts = row["event_timestamp"]
        period = {"all-time": "all-time", "year": ts[:4], "month": ts[:7]}[split]
        periods.setdefault(period, []).append(tsv_line(row, columns))
    folder = out / "mediawiki_history" / snapshot / wiki_db
    return [_write(folder / f"{snapshot}.{wiki_db}.{period}.tsv", "\n".join(lines) + "\n", compress)
            for period, lines in sorted(periods.items())]


def sha1_base36(text: str) -> str:
    """MediaWiki's revision sha1: the SHA-1 of the UTF-8 text in base 36, 31 digits."""
    number = int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16)
    digits = ""
    while number:
        number, digit = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
    return digits.rjust(31, "0")


def _contributor(rev: dict) -> list[str]:
    if rev.get("user_deleted"):
        return ['      <contributor deleted="deleted" />']
    user_text = rev.get("user_text") or ""
    if rev.get("user_id"):
        return ["      <contributor>", f"        <username>{escape(user_text)}</username>",
                f"        <id>{rev['user_id']}</id>", "      </contributor>"]
    return ["      <contributor>", f"        <ip>{escape(user_text or '127.0.0.1')}</ip>", "      </contributor>"]


def export_xml(pages: dict[int, list[dict]], wiki_db: str, version: str = "0.11") -> str:
    """Pages (page id -> revision rows of the wikitext table) as one MediaWiki XML export."""
    xmlns = XMLNS.format(version=version)
    lines = [f'<mediawiki xmlns="{xmlns}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"',
             f'  xsi:schemaLocation="{xmlns} http://www.mediawiki.org/xml/export-{version}.xsd"',
             f'  version="{version}" xml:lang="en">',
             "  <siteinfo>", "    <sitename>Wikipedia</sitename>", f"    <dbname>{wiki_db}</dbname>",
             "    <namespaces>", '      <namespace key="0" case="first-letter" />',
             '      <namespace key="1" case="first-letter">Talk</namespace>', "    </namespaces>",
             "  </siteinfo>"]
    for page_id, revisions in sorted(pages.items()):
        revisions = sorted(revisions, key=lambda r: (r["revision_timestamp"], r["revision_id"]))
        first = revisions[0]
        lines += ["  <page>", f"    <title>{escape(first['page_title'])}</title>",
                  f"    <ns>{first['page_namespace']}</ns>", f"    <id>{page_id}</id>"]
        if first.get("page_redirect_title"):
            lines.append(f"    <redirect title={quoteattr(first['page_redirect_title'])} />")
        for rev in revisions:
            lines += ["    <revision>", f"      <id>{rev['revision_id']}</id>"]
            if rev["revision_parent_id"]:
                lines.append(f"      <parentid>{rev['revision_parent_id']}</parentid>")
            ts = rev["revision_timestamp"].split(".")[0].replace(" ", "T") + "Z"
            lines += [f"      <timestamp>{ts}</timestamp>", *_contributor(rev)]
            if rev.get("revision_minor_edit"):
                lines.append("      <minor/>" if rev["revision_id"] % 2 else "      <minor />")
            if rev.get("comment_deleted"):
                lines.append('      <comment deleted="deleted" />')
            elif rev.get("revision_comment"):
                lines.append(f"      <comment>{escape(rev['revision_comment'])}</comment>")
            if version >= "0.11":
                lines.append(f"      <origin>{rev['revision_id']}</origin>")
            lines += ["      <model>wikitext</model>", "      <format>text/x-wiki</format>"]
            text = rev["revision_text"]
            loaded = text is not None and not rev.get("text_not_loaded")
            size = len(text.encode("utf-8")) if loaded else rev.get("revision_text_bytes") or 17
            sha1 = sha1_base36(text) if text is not None else "0" * 31
            attrs = f'bytes="{size}"' + (f' sha1="{sha1}"' if version >= "0.11" else "")
            if rev.get("text_not_loaded"):  # XmlDumpWriter, where the text could not be loaded
                lines += [f"      <text {attrs} />", f"      <sha1>{sha1}</sha1>"]
            elif text is None:
                lines += [f'      <text {attrs} deleted="deleted" />', "      <sha1/>"]
            elif text == "":
                lines += [f'      <text {attrs} xml:space="preserve" />', f"      <sha1>{sha1}</sha1>"]
            else:
                lines += [f'      <text {attrs} xml:space="preserve">{escape(text)}</text>',
                          f"      <sha1>{sha1}</sha1>"]
            for role, slot_text in rev.get("extra_slots", ()):  # multi-content revisions (0.11)
                lines += ["      <content>", f"        <role>{role}</role>",
                          f"        <origin>{rev['revision_id']}</origin>", "        <model>json</model>",
                          "        <format>application/json</format>",
                          f'        <text bytes="{len(slot_text.encode())}" sha1="{sha1_base36(slot_text)}" '
                          f'xml:space="preserve">{escape(slot_text)}</text>', "      </content>"]
            lines.append("    </revision>")
        if first.get("upload"):  # file pages of a dump with uploads: elements the reader skips
            lines += ["    <upload>", "      <timestamp>2022-07-01T00:00:00Z</timestamp>",
                      "      <contributor><ip>127.0.0.1</ip></contributor>",
                      "      <comment>uploaded</comment>", "      <filename>A.png</filename>",
                      "      <src>https://example.org/A.png</src>", "      <size>10</size>", "    </upload>"]
        lines.append("  </page>")
    lines.append("</mediawiki>")
    return "\n".join(lines) + "\n"


#: The jobs of a dump run that make the full-history files, by their files' compression, as
#: ``dumpstatus.json`` names them.
METAHISTORY_JOBS = {".bz2": "metahistorybz2dump", ".7z": "metahistory7zdump"}
DUMPSTATUS = "dumpstatus.json"


def job_updated(dump_date: str) -> str:
    """A job's ``updated``, as the dumps' ``TimeUtils.pretty_time`` writes it: here eleven days
    into the run (the full-history jobs of a large wiki take that long)."""
    day = dt.datetime.strptime(dump_date, "%Y%m%d") + dt.timedelta(days=11, hours=3, minutes=14, seconds=15)
    return day.strftime("%Y-%m-%d %H:%M:%S")


def dumpstatus_files(wiki_db: str, dump_date: str, files: dict[str, bytes]) -> dict[str, dict]:
    """A done job's ``files``: name -> size, the URL relative to the site, md5 and sha1."""
    return {name: {"size": len(data), "url": f"/{wiki_db}/{dump_date}/{name}",
                   "md5": hashlib.md5(data).hexdigest(), "sha1": hashlib.sha1(data).hexdigest()}
            for name, data in sorted(files.items())}


def metahistory_jobs(wiki_db: str, dump_date: str, texts: dict[str, str],
                     written: dict[str, bytes] | None = None, status: str = "done") -> dict[str, dict]:
    """Both meta-history jobs of a dump whose parts (file name without compression suffix -> XML
    text) are ``texts``: each job lists every part in its compression, with the bytes of the files
    in ``written`` where given (what the test wrote) and else the bytes the site would offer."""
    written = written or {}
    jobs = {}
    for ext, job in METAHISTORY_JOBS.items():
        files = {}
        for part, text in texts.items():
            name = part + ext
            if name in written:
                files[name] = written[name]
            elif ext == ".bz2":
                files[name] = bz2.compress(text.encode("utf-8"))
            else:
                files[name] = seven_zip_bytes(part, text)
        jobs[job] = {"status": status, "updated": job_updated(dump_date),
                     "files": dumpstatus_files(wiki_db, dump_date, files)}
    return jobs


def write_dumpstatus(folder: Path, jobs: dict[str, dict]) -> Path:
    """``folder/dumpstatus.json`` holding ``jobs``, compact JSON as the ``StatusAPI`` writes it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / DUMPSTATUS
    path.write_text(json.dumps({"jobs": jobs, "version": "0.8"}), encoding="utf-8")
    return path


def write_xml_parts(pages: dict[int, list[dict]], out: Path, wiki_db: str, dump_date: str = "20220801",
                    parts: int = 2, compress: bool | str = True) -> list[Path]:
    """Pages (page id -> revision rows) as ``parts`` XML history files, plain (``compress=False``),
    ``.bz2`` (``True``) or ``.7z`` (``"7z"``), and the dump's ``dumpstatus.json``: both meta-history
    jobs done (plain files stand for a .bz2 download decompressed)."""
    page_ids = sorted(pages)
    folder = out / "xmldumps" / wiki_db / dump_date
    written, texts = [], {}
    for part in range(parts):
        chosen = {page_id: pages[page_id] for page_id in page_ids[part::parts]}
        name = f"{wiki_db}-{dump_date}-pages-meta-history{part + 1}.xml-p{part}p{part}"
        texts[name] = export_xml(chosen, wiki_db)
        written.append(_write(folder / name, texts[name], compress))
    write_dumpstatus(folder, metahistory_jobs(wiki_db, dump_date, texts,
                                              {path.name: path.read_bytes() for path in written}))
    return written
