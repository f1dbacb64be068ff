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

The package: :mod:`.files` (the layout of ``--dumps-dir``, which files and which XML dump a
collection reads), :mod:`.history` (the TSV reader), :mod:`.xmldump` (the XML reader) and
:mod:`.plan` (``kitrain dumps plan``). Their public names are imported here.

Layout of ``--dumps-dir DIR`` (as on the dumps site)::

    DIR/mediawiki_history/<snapshot>/<wiki_db>/<snapshot>.<wiki_db>.<period>.tsv[.bz2]
    DIR/xmldumps/<wiki_db>/<YYYYMMDD>/<wiki_db>-<YYYYMMDD>-pages-meta-history*.xml[.bz2|.7z]
"""

from __future__ import annotations

from kitrain.dumps.files import (
    FULL_HISTORY_DAY,
    HISTORY_DIR,
    TSV_NAME,
    XML_DIR,
    XML_FORMATS,
    XML_NAME,
    DumpError,
    HistoryFile,
    check_dumps,
    choose_xml_dump,
    first_full_history_day,
    full_history_dumps,
    history_files,
    overlaps,
    period_bounds,
    resolve_xml_dump,
    xml_files,
)
from kitrain.dumps.history import (
    ARRAY_SEPARATOR,
    EMPTY_IS_EMPTY_STRING,
    TABLE_COLUMNS,
    parse_history_lines,
    read_history,
    register_history,
)
from kitrain.dumps.plan import DEFAULT_BASE_URL, XML_DOWNLOAD_FORMATS, history_periods, plan, read_listing
from kitrain.dumps.xmldump import ARTICLE_NAMESPACE, XML_FIELDS, parse_xml, register_wikitext

__all__ = [
    "ARRAY_SEPARATOR", "ARTICLE_NAMESPACE", "DEFAULT_BASE_URL", "EMPTY_IS_EMPTY_STRING", "FULL_HISTORY_DAY",
    "HISTORY_DIR", "TABLE_COLUMNS", "TSV_NAME", "XML_DIR", "XML_DOWNLOAD_FORMATS", "XML_FIELDS", "XML_FORMATS",
    "XML_NAME", "DumpError", "HistoryFile", "check_dumps", "choose_xml_dump", "first_full_history_day",
    "full_history_dumps", "history_files", "history_periods", "overlaps", "parse_history_lines", "parse_xml",
    "period_bounds", "plan", "read_history", "read_listing", "register_history", "register_wikitext",
    "resolve_xml_dump", "xml_files",
]
