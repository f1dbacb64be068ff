"""Writes public-dump-format files, for the dumps source's tests: the reader is tested against files
that reproduce what Wikimedia's writers produce, feature by feature.

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
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pyarrow.parquet as pq

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


def _rows(source: Path, subdir: str, wiki_db: str, snapshot: str) -> list[dict]:
    table = pq.read_table(source / subdir, filters=[("snapshot", "=", snapshot)])
    return [row for row in table.to_pylist() if row["wiki_db"] == wiki_db]


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


def write_history_dump(source: Path, out: Path, wiki_db: str, snapshot: str = "2022-07",
                       split: str = "all-time", columns: int = 74, compress: bool = True) -> list[Path]:
    """One wiki's history from the demo parquet tables in dump files."""
    return write_history_lines(_rows(source, "mediawiki_history", wiki_db, snapshot), out, wiki_db,
                               snapshot, split, columns, compress)


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


def write_xml_dump(source: Path, out: Path, wiki_db: str, wikitext_snapshot: str = "2022-11",
                   dump_date: str = "20220801", parts: int = 2, compress: bool | str = True,
                   edit: Callable[[dict], dict | None] | None = None) -> list[Path]:
    """One wiki's wikitext as ``parts`` XML history files and their ``dumpstatus.json`` (see
    :func:`write_xml_parts`). ``edit`` may change or drop (None) a revision's row before it is
    written."""
    pages: dict[int, list[dict]] = {}
    for row in _rows(source, "mediawiki_wikitext_history", wiki_db, wikitext_snapshot):
        row = edit(row) if edit else row
        if row is not None:
            pages.setdefault(row["page_id"], []).append(row)
    return write_xml_parts(pages, out, wiki_db, dump_date, parts, compress)


# -- history lines from an export ------------------------------------------------------------------


def history_from_export(xml_text: str, wiki_db: str) -> tuple[list[dict], dict[int, dict]]:
    """What ``mediawiki_history`` says of the revisions of one XML export, derived from it: one
    revision event per revision, IP contributors anonymous, identity reverts found by sha1 (a
    revision whose text equals an earlier one of its page that is not its parent reverts every
    revision between them), as the history reconstruction defines them. Returns the history rows
    and the revisions (id -> parsed fields) for checking."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml_text)
    local = lambda el: el.tag.rsplit("}", 1)[-1]  # noqa: E731
    rows: list[dict] = []
    revisions: dict[int, dict] = {}
    for page in (el for el in root if local(el) == "page"):
        fields = {local(child): child for child in page}
        page_id, ns, title = int(fields["id"].text), int(fields["ns"].text), fields["title"].text
        history: list[dict] = []
        for rev in (el for el in page if local(el) == "revision"):
            parts = {local(child): child for child in rev}
            contributor = {local(c): c.text for c in parts["contributor"]} if "contributor" in parts else {}
            text_el = parts.get("text")
            text = None if text_el is None or text_el.get("deleted") else (text_el.text or "")
            item = {
                "revision_id": int(parts["id"].text),
                "revision_parent_id": int(parts["parentid"].text) if "parentid" in parts else None,
                "timestamp": dt.datetime.strptime(parts["timestamp"].text, "%Y-%m-%dT%H:%M:%SZ"),
                "user_text": contributor.get("username") or contributor.get("ip"),
                "user_id": int(contributor["id"]) if contributor.get("id") else None,
                "anonymous": "ip" in contributor,
                "comment": parts["comment"].text if "comment" in parts else "",
                "minor": "minor" in parts,
                "sha1": (parts["sha1"].text or None) if "sha1" in parts else None,
                "text": text,
                "bytes": len(text.encode("utf-8")) if text is not None else None,
                "ns": ns, "page_id": page_id, "title": title,
            }
            history.append(item)
            revisions[item["revision_id"]] = item
        history.sort(key=lambda r: (r["timestamp"], r["revision_id"]))
        reverted_by: dict[int, dict] = {}
        for index, item in enumerate(history):
            earlier = [i for i in range(index - 1) if item["sha1"] and history[i]["sha1"] == item["sha1"]]
            if earlier:
                for between in history[earlier[-1] + 1: index]:
                    reverted_by.setdefault(between["revision_id"], item)
        previous_bytes = 0
        for count, item in enumerate(history, start=1):
            reverting = reverted_by.get(item["revision_id"])
            ts = item["timestamp"]
            size = item["bytes"] or 0
            rows.append({
                "wiki_db": wiki_db, "event_entity": "revision", "event_type": "create",
                "event_timestamp": f"{ts:%Y-%m-%d %H:%M:%S}.0", "event_comment": item["comment"],
                "event_user_id": item["user_id"], "event_user_text_historical": item["user_text"],
                "event_user_text": item["user_text"], "event_user_groups": [], "event_user_groups_historical": [],
                "event_user_is_bot_by": [], "event_user_is_bot_by_historical": [],
                "event_user_blocks": [], "event_user_blocks_historical": [],
                "event_user_is_anonymous": item["anonymous"],
                "event_user_is_temporary": False, "event_user_is_permanent": not item["anonymous"],
                "event_user_seconds_since_previous_revision": None,
                "page_id": item["page_id"], "page_title_historical": item["title"], "page_title": item["title"],
                "page_namespace_historical": item["ns"], "page_namespace": item["ns"],
                "page_namespace_is_content": item["ns"] == 0, "page_namespace_is_content_historical": item["ns"] == 0,
                "page_is_redirect": False, "page_is_deleted": False, "page_revision_count": count,
                "revision_id": item["revision_id"], "revision_parent_id": item["revision_parent_id"] or 0,
                "revision_minor_edit": item["minor"], "revision_deleted_parts": [],
                "revision_deleted_parts_are_suppressed": False, "revision_text_bytes": size,
                "revision_text_bytes_diff": size - previous_bytes, "revision_text_sha1": item["sha1"],
                "revision_content_model": "wikitext", "revision_content_format": "text/x-wiki",
                "revision_is_deleted_by_page_deletion": False,
                "revision_is_identity_reverted": reverting is not None,
                "revision_first_identity_reverting_revision_id": reverting["revision_id"] if reverting else None,
                "revision_seconds_to_identity_revert":
                    int((reverting["timestamp"] - ts).total_seconds()) if reverting else None,
                "revision_is_identity_revert": any(r is item for r in reverted_by.values()),
                "revision_is_from_before_page_creation": False, "revision_tags": [],
            })
            previous_bytes = size
    return rows, revisions

