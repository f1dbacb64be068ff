"""The dumps source's test files: the writers live in :mod:`kitrain.dumps.write` (the demo writes its
dumps source with them); here, what only the tests and benchmarks need: writing a demo source's
tables as dump files, and the history lines derived from a real MediaWiki export.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from kitrain.dumps.write import (
    DUMPSTATUS,
    METAHISTORY_JOBS,
    XMLNS,
    export_xml,
    metahistory_jobs,
    seven_zip_bytes,
    sha1_base36,
    tsv_field,
    tsv_line,
    write_7z,
    write_dumpstatus,
    write_history_lines,
    write_xml_parts,
)

#: The writers the tests take from here, beside this module's own.
__all__ = [
    "DUMPSTATUS", "METAHISTORY_JOBS", "XMLNS", "export_xml", "history_from_export", "metahistory_jobs",
    "seven_zip_bytes", "sha1_base36", "tsv_field", "tsv_line", "write_7z", "write_dumpstatus",
    "write_history_dump", "write_history_lines", "write_xml_dump", "write_xml_parts",
]


def _rows(source: Path, subdir: str, wiki_db: str, snapshot: str) -> list[dict]:
    table = pq.read_table(source / subdir, filters=[("snapshot", "=", snapshot)])
    return [row for row in table.to_pylist() if row["wiki_db"] == wiki_db]


def write_history_dump(source: Path, out: Path, wiki_db: str, snapshot: str = "2022-07",
                       split: str = "all-time", columns: int = 74, compress: bool = True) -> list[Path]:
    """One wiki's history from the demo parquet tables in dump files."""
    return write_history_lines(_rows(source, "mediawiki_history", wiki_db, snapshot), out, wiki_db,
                               snapshot, split, columns, compress)


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
