"""What a run's sources still lack: the logic behind the DAG's sensors.

A scheduled run starts on the first of the month, but its inputs come later: the Hive tables'
snapshot is written days into the month, and the full-history XML dump of the 1st takes weeks for
the largest wikis. The sensors call :func:`missing_inputs` on every poke (hourly, for weeks), so it
only looks at a few directory entries and small status files, never at the data, and it never
raises for something that is not there yet: it returns one short line per missing input, and the
empty list once everything the run's collection reads is complete. It raises
(:class:`ReadinessError`) only when it cannot look at all (an HDFS client that cannot start, a
permission error), since that would otherwise be reported as "missing" until the sensor times out.

What "complete" means, per source:

- ``hive``: the job that writes ``wmf.mediawiki_history`` writes a ``_SUCCESS`` flag in the
  snapshot's directory once every partition is there. The texts: with ``text_source``
  ``content_history`` (the default), ``wmf_content.mediawiki_content_history_v1`` has no snapshots
  and is updated daily, so it is ready once it holds, for every language, a revision at or after
  the end of the run's windows: one query per wiki (``sql/content_latest.sql``), through a Spark
  session with the metastore (the only check that asks Spark). A run that pins an Iceberg snapshot
  (``content_snapshot_id``) is asked about that snapshot, which never changes: if it lacks
  revisions, the sensor fails at once (:class:`PinnedSnapshotError`) instead of waiting for weeks.
  With ``wikitext_history``, the
  legacy table's snapshot needs its ``_SUCCESS`` flag and each language's ``wiki_db=...``
  partition (looked at once the flag is there: before, the flag's line says it all).
- ``parquet``: the copies in ``source_dir`` hold the snapshots' directories (as
  :func:`kitrain.spark.register_parquet_sources` reads them): a table partitioned by directory
  needs the snapshot's ``snapshot=YYYY-MM`` directory (and each language's ``wiki_db=...`` one,
  where the snapshot is partitioned so); a table whose files hold the partition columns needs at
  least one ``.parquet`` file.
- ``dumps``: each language's history files and the full-history XML dump its collection reads,
  complete as the dump's ``dumpstatus.json`` says: the meta-history job of the format there is
  ``done`` and every file it lists is there with the listed size.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kitrain.config import ConfigError
from kitrain.dumps.files import (
    CONTENT_EXPORT_DIR,
    XML_DIR,
    XML_FORMATS,
    DumpError,
    choose_xml_dump,
    dump_folders,
    first_full_history_day,
    full_history_dumps,
    history_files,
    xml_files,
    xml_part_name,
)
from kitrain.languages import wiki_db
from kitrain.plan import PipelineConfig
from kitrain.spark import CONTENT_TABLE, HISTORY_TABLE, SOURCE_SUBDIRS, TEXT_TABLES, WIKITEXT_TABLE, SourceError

logger = logging.getLogger(__name__)

#: The flag the Hive tables' jobs write in a snapshot's directory once it is complete.
SUCCESS_FLAG = "_SUCCESS"
#: The status file of a dump run, in the run's date folder (``<wiki>/<YYYYMMDD>/``).
DUMPSTATUS = "dumpstatus.json"
#: The jobs of a dump run that make the full-history files, by their files' compression, as
#: ``dumpstatus.json`` names them (wikimedia/operations-dumps, ``xmldumps-backup``). The site
#: publishes no plain XML: a plain part is taken for a decompressed ``.bz2`` download.
METAHISTORY_JOBS = {".bz2": "metahistorybz2dump", ".7z": "metahistory7zdump", "": "metahistorybz2dump"}
#: How many of a dump's incomplete files one line names.
NAMED_FILES = 3


class ReadinessError(SourceError):
    """A source that cannot be looked at (not: is not there yet); the message names the location."""


class PinnedSnapshotError(SourceError):
    """The pinned snapshot of the content table lacks revisions of the windows: it never will have them."""


#: The newest revision of each wiki in the content history table: wikis -> ``YYYY-MM-DD HH:MM:SS``
#: (UTC) or None where the table holds none of that wiki's.
ContentLatest = Callable[[list[str]], dict[str, str | None]]


def missing_inputs(cfg: PipelineConfig, content_latest: ContentLatest | None = None) -> list[str]:
    """One short line per input the run's collection of ``cfg.languages`` still lacks; empty when
    everything is there and complete. Raises :class:`ReadinessError` when a location cannot be
    looked at, and :class:`~kitrain.config.ConfigError` for an unknown source.

    ``content_latest`` answers for the content history table of a ``hive`` run (default:
    :func:`spark_content_latest`, a Spark session with the metastore, asked about the pinned
    ``content_snapshot_id`` if there is one)."""
    if cfg.source == "hive":
        missing = _hive_missing(cfg, content_latest or functools.partial(
            spark_content_latest, snapshot_id=cfg.content_snapshot_id))
    elif cfg.source == "parquet":
        missing = _parquet_missing(cfg)
    elif cfg.source == "dumps":
        missing = _dumps_missing(cfg)
    else:
        raise ConfigError(f"unknown source {cfg.source!r}")
    logger.info("source %s: %s", cfg.source, describe_missing(missing) if missing else "ready")
    return missing


def describe_missing(missing: list[str], limit: int = 5) -> str:
    """One line for a sensor's timeout error: how many inputs are missing and the first ``limit``."""
    if not missing:
        return "no input missing"
    count = len(missing)
    shown = "; ".join(missing[:limit])
    more = f"; and {count - limit} more" if count > limit else ""
    return f"{count} input{'s' if count != 1 else ''} missing: {shown}{more}"


# -- file systems ------------------------------------------------------------------------------------


def _reason(exc: BaseException) -> str:
    """An exception's first line, short (pyarrow's HDFS errors list every path it tried)."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first if len(first) <= 200 else first[:200] + "..."


class _Location:
    """A directory given as a path or URL (``hdfs://``, ``file://``), looked at through fsspec;
    "not found" is None, any other error a :class:`ReadinessError` naming the place."""

    def __init__(self, url: str) -> None:
        import fsspec.core

        self.url = url.rstrip("/") or url
        try:
            self.fs, self.root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError, OSError, RuntimeError) as exc:
            raise ReadinessError(f"cannot open {url}: {_reason(exc)}") from exc
        self.root = self.root.rstrip("/")

    def show(self, *parts: str) -> str:
        return "/".join((self.url, *parts))

    def _path(self, parts: tuple[str, ...]) -> str:
        return "/".join((self.root, *parts)) or "/"

    def info(self, *parts: str) -> dict[str, Any] | None:
        try:
            return self.fs.info(self._path(parts))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ReadinessError(f"cannot look at {self.show(*parts)}: {_reason(exc)}") from exc

    def is_dir(self, *parts: str) -> bool:
        info = self.info(*parts)
        return info is not None and info.get("type") == "directory"

    def list(self, *parts: str) -> dict[str, str] | None:
        """Entry name -> type (``file``, ``directory``) of a directory; None if it is not there."""
        try:
            entries = self.fs.ls(self._path(parts), detail=True)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ReadinessError(f"cannot list {self.show(*parts)}: {_reason(exc)}") from exc
        return {entry["name"].rstrip("/").rsplit("/", 1)[-1]: entry.get("type", "") for entry in entries}


# -- hive ---------------------------------------------------------------------------------------------


def _hive_missing(cfg: PipelineConfig, content_latest: ContentLatest) -> list[str]:
    """The history snapshot's ``_SUCCESS`` flag, then the text table of ``cfg.text_source``."""
    missing = []
    history = _Location(cfg.hive_history_location)
    snapshot = f"snapshot={cfg.snapshot}"
    if history.info(snapshot, SUCCESS_FLAG) is None:
        missing.append(f"hive: {HISTORY_TABLE} snapshot {cfg.snapshot} not complete "
                       f"(no {history.show(snapshot, SUCCESS_FLAG)})")
    if cfg.text_source == "content_history":
        return missing + content_history_missing(cfg, content_latest)
    wikitext = _Location(cfg.hive_wikitext_location)
    snapshot = f"snapshot={cfg.wikitext_snapshot}"
    if wikitext.info(snapshot, SUCCESS_FLAG) is None:
        missing.append(f"hive: {WIKITEXT_TABLE} snapshot {cfg.wikitext_snapshot} not complete "
                       f"(no {wikitext.show(snapshot, SUCCESS_FLAG)})")
        return missing
    for lang in cfg.languages:
        partition = f"wiki_db={wiki_db(lang)}"
        if not wikitext.is_dir(snapshot, partition):
            missing.append(f"hive: {WIKITEXT_TABLE} snapshot {cfg.wikitext_snapshot} has no {wiki_db(lang)} "
                           f"partition (no {wikitext.show(snapshot, partition)})")
    return missing


def windows_end(cfg: PipelineConfig) -> str:
    """The later end of the run's two windows (``YYYY-MM-DD``, exclusive): the texts of every
    revision before it must be in the content table."""
    return max(cfg.train_end, cfg.test_end)


def content_history_missing(cfg: PipelineConfig, content_latest: ContentLatest) -> list[str]:
    """One line per language whose newest revision in the content history table is before the end
    of the windows (or that has none there yet). With a pinned snapshot such a line is final:
    :class:`PinnedSnapshotError`."""
    end = windows_end(cfg)
    wikis = [wiki_db(lang) for lang in cfg.languages]
    latest = content_latest(wikis)
    missing = []
    for wiki in wikis:
        newest = latest.get(wiki)
        if newest is None:
            missing.append(f"hive: {CONTENT_TABLE} holds no {wiki} revision yet (waiting for one at or "
                           f"after {end})")
        elif newest < end:
            missing.append(f"hive: {CONTENT_TABLE} holds {wiki} revisions up to {newest} only, not yet "
                           f"at or after the end of the windows, {end}")
    if missing and cfg.content_snapshot_id is not None:
        raise PinnedSnapshotError(
            f"the pinned snapshot {cfg.content_snapshot_id} of {CONTENT_TABLE} (content_snapshot_id) will "
            f"never hold what the run reads: {describe_missing(missing)}; pin a newer snapshot or none")
    return missing


def content_latest_from(spark: Any, wikis: list[str], snapshot_id: int | None = None) -> dict[str, str | None]:
    """:data:`ContentLatest` through a session that has the content table (one query per wiki), at
    its current snapshot or at ``snapshot_id``."""
    from kitrain.spark import register_content_view, run_sql

    register_content_view(spark, snapshot_id)
    return {wiki: run_sql(spark, "content_latest", wiki_db=wiki).first()["latest"] for wiki in wikis}


def spark_content_latest(wikis: list[str], snapshot_id: int | None = None) -> dict[str, str | None]:
    """:data:`ContentLatest` on the cluster: a Spark session with the Hive metastore, stopped after
    the queries (a sensor pokes in a new process each time). A session that cannot start, or a
    table that is not there, cannot be looked at: :class:`ReadinessError`."""
    from kitrain.spark import get_spark

    try:
        spark = get_spark("kitrain wait_for_sources", hive=True)
    except Exception as exc:  # the JVM or the metastore: any failure means "cannot look"
        raise ReadinessError(f"cannot start Spark to look at {CONTENT_TABLE}: {_reason(exc)}") from exc
    try:
        if not spark.catalog.tableExists(CONTENT_TABLE):
            raise ReadinessError(f"cannot look at {CONTENT_TABLE}: the metastore has no such table")
        return content_latest_from(spark, wikis, snapshot_id)
    finally:
        spark.stop()


# -- parquet ------------------------------------------------------------------------------------------


def _parquet_missing(cfg: PipelineConfig) -> list[str]:
    """The parquet copies in ``source_dir``, laid out as :data:`kitrain.spark.SOURCE_SUBDIRS`.

    A table partitioned by directory needs its snapshot's directory (``snapshot=YYYY-MM``); when
    that directory is itself partitioned by ``wiki_db=...``, each language's partition too. A
    table directory with no ``snapshot=...`` sub-directory holds the partition columns inside its
    files: it counts as there when it holds at least one ``.parquet`` file (which snapshots the
    files hold is not looked at: that would mean reading them).
    """
    if not cfg.source_dir:
        raise ConfigError("source 'parquet' needs source_dir")
    root = _Location(cfg.source_dir)
    if not root.is_dir():
        return [f"parquet: no source directory {root.url}"]
    missing = _snapshot_table_missing(root, HISTORY_TABLE, cfg.snapshot, cfg.languages)
    text_table = TEXT_TABLES[cfg.text_source]
    if text_table == CONTENT_TABLE:
        missing += _content_table_missing(root, cfg.languages)
    else:
        missing += _snapshot_table_missing(root, text_table, cfg.wikitext_snapshot, cfg.languages)
    return missing


def _snapshot_table_missing(root: _Location, table: str, snapshot: str, languages: tuple[str, ...]) -> list[str]:
    """A snapshot-partitioned copy (the history, the legacy wikitext table)."""
    subdir = SOURCE_SUBDIRS[table]
    entries = root.list(subdir)
    if entries is None:
        return [f"parquet: {table} not there (no directory {root.show(subdir)})"]
    if not any(name.startswith("snapshot=") for name in entries):
        if not any(name.endswith(".parquet") and kind == "file" for name, kind in entries.items()):
            return [f"parquet: {table} not there (no snapshot=... directory or parquet file "
                    f"in {root.show(subdir)})"]
        return []
    partition = f"snapshot={snapshot}"
    if entries.get(partition) != "directory":
        return [f"parquet: {table} snapshot {snapshot} not there (no {root.show(subdir, partition)})"]
    missing = []
    wikis = root.list(subdir, partition) or {}
    if any(name.startswith("wiki_db=") for name in wikis):
        for lang in languages:
            name = f"wiki_db={wiki_db(lang)}"
            if wikis.get(name) != "directory":
                missing.append(f"parquet: {table} snapshot {snapshot} has no {wiki_db(lang)} partition "
                               f"(no {root.show(subdir, partition, name)})")
    return missing


def _content_table_missing(root: _Location, languages: tuple[str, ...]) -> list[str]:
    """The content history copy: no snapshots; split by ``wiki_id=...`` directories (then each
    language's is needed) or parquet files holding ``wiki_id`` (then one file is enough to look)."""
    subdir = SOURCE_SUBDIRS[CONTENT_TABLE]
    entries = root.list(subdir)
    if entries is None:
        legacy = SOURCE_SUBDIRS[WIKITEXT_TABLE]
        hint = (f"; {root.show(legacy)} is there, which text_source wikitext_history reads"
                if root.is_dir(legacy) else "")
        return [f"parquet: {CONTENT_TABLE} not there (no directory {root.show(subdir)}){hint}"]
    if any(name.startswith("wiki_id=") for name in entries):
        return [f"parquet: {CONTENT_TABLE} has no {wiki_db(lang)} partition "
                f"(no {root.show(subdir, 'wiki_id=' + wiki_db(lang))})"
                for lang in languages if entries.get(f"wiki_id={wiki_db(lang)}") != "directory"]
    if not any(name.endswith(".parquet") and kind == "file" for name, kind in entries.items()):
        return [f"parquet: {CONTENT_TABLE} not there (no wiki_id=... directory or parquet file "
                f"in {root.show(subdir)})"]
    return []


# -- dumps --------------------------------------------------------------------------------------------


def _dumps_missing(cfg: PipelineConfig) -> list[str]:
    """Per language: the history files of the snapshot that cover the collection's windows
    (:func:`kitrain.dumps.history_files`) and the full-history XML dump the collection reads
    (:func:`kitrain.dumps.choose_xml_dump` for the later end of the two windows, or ``xml_dump``),
    complete (:func:`_xml_dump_missing`)."""
    if not cfg.dumps_dir:
        raise ConfigError("source 'dumps' needs dumps_dir")
    if not Path(cfg.dumps_dir).is_dir():
        return [f"dumps: no dumps directory {cfg.dumps_dir}"]
    missing = []
    for lang in cfg.languages:
        collect = cfg.collect_config(lang, "train")
        start, end = collect.extract_window  # what the collection checks and reads, both modes
        wiki = wiki_db(lang)
        try:
            history_files(cfg.dumps_dir, cfg.snapshot, wiki, start, end)
        except DumpError as exc:
            missing.append(f"dumps: {wiki} mediawiki_history snapshot {cfg.snapshot} not there ({exc})")
        wanted = cfg.xml_dump or first_full_history_day(end).strftime("%Y%m%d")
        try:
            date = choose_xml_dump(full_history_dumps(cfg.dumps_dir, wiki), wiki, end, cfg.xml_dump)
        except DumpError:
            folder = Path(cfg.dumps_dir, XML_DIR, wiki, wanted)
            missing.append(f"dumps: {wiki} full-history XML dump {wanted} not there "
                           f"(no pages-meta-history files in {folder})")
            continue
        line = _xml_dump_missing(cfg.dumps_dir, wiki, date)
        if line is not None:
            missing.append(line)
    return missing


def _xml_dump_missing(dumps_dir: str, wiki: str, date: str) -> str | None:
    """Why the full-history dump ``date`` of ``wiki`` in ``dumps_dir`` is not complete, or None.

    A content-table export (``mediawiki_content_history/<wiki>/<date>/``) follows the same rules
    where it has a ``dumpstatus.json``; without one, the ``_SUCCESS`` flag that Spark's job commit
    writes into its output folder marks it complete (Wikimedia's dumper writes it with Spark and
    publishes no status file of its own), and its parts are taken as they are.

    Its ``dumpstatus.json`` (as on the dumps site: ``{"jobs": {<job>: {"status", "updated",
    "files": {<name>: {"size", "url", "md5", "sha1"}}}}, "version"}``) must say that the
    meta-history job of each format the collection reads (:data:`METAHISTORY_JOBS`) is ``done``,
    and every file that job lists must be in the folder with the listed size, or its part there in
    another format (a plain part, whose size is not known, or the other compression, checked
    against its own job). Sizes only: checksums would mean reading every file on every poke.
    """
    head = f"dumps: {wiki} full-history XML dump {date}"
    folder = dump_folders(dumps_dir, wiki).get(date, Path(dumps_dir, XML_DIR, wiki, date))
    try:
        chosen = [Path(path) for path in xml_files(dumps_dir, wiki, date)]
    except DumpError:
        return f"{head} not there (no pages-meta-history files in {folder})"
    status_path = folder / DUMPSTATUS
    export = folder.parent.parent.name == CONTENT_EXPORT_DIR
    try:
        content = json.loads(status_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if export:
            flag = folder / SUCCESS_FLAG
            return None if flag.is_file() else f"{head} not complete (no {status_path} or {flag})"
        return f"{head} not complete (no {status_path})"
    except (OSError, UnicodeDecodeError) as exc:
        return f"{head} not complete (cannot read {status_path}: {_reason(exc)})"
    except json.JSONDecodeError as exc:
        return f"{head} not complete ({status_path} is not JSON: {exc.msg}, line {exc.lineno})"
    jobs = content.get("jobs") if isinstance(content, dict) else None
    if not isinstance(jobs, dict):
        return f"{head} not complete ({status_path} is malformed: no jobs)"
    parts = {_part(path.name) for path in folder.iterdir() if xml_part_name(path.name)}
    formats = {_format(path.name) for path in chosen}
    for job in dict.fromkeys(METAHISTORY_JOBS[ext] for ext in XML_FORMATS if ext in formats):
        entry = jobs.get(job)
        if not isinstance(entry, dict):
            return f"{head} not complete ({status_path} is malformed: no job {job})"
        status = entry.get("status")
        if not isinstance(status, str):
            return f"{head} not complete ({status_path} is malformed: no status of job {job})"
        if status != "done":
            return f"{head} not done ({status_path}: {job} {status[:40]})"
        problem = _files_problem(entry.get("files"), job, folder, parts)
        if problem is not None:
            return f"{head} not complete ({problem})"
    return None


def _format(name: str) -> str:
    return next((ext for ext in (".bz2", ".7z") if name.endswith(ext)), "")


def _part(name: str) -> str:
    ext = _format(name)
    return name[: len(name) - len(ext)] if ext else name


def _files_problem(files: object, job: str, folder: Path, parts: set[str]) -> str | None:
    """What keeps the files a done job lists from being complete in ``folder``, or None."""
    malformed = f"{folder / DUMPSTATUS} is malformed"
    if not isinstance(files, dict) or not files:
        return f"{malformed}: no files of job {job}"
    problems = []
    for name, info in sorted(files.items()):
        if not name or Path(name).name != name or name in (".", ".."):
            return f"{malformed}: {job} lists a file named {name[:60]!r}"
        size = info.get("size") if isinstance(info, dict) else None
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            return f"{malformed}: no size of {name} in job {job}"
        path = folder / name
        if path.is_file():
            actual = path.stat().st_size
            if actual != size:
                problems.append(f"{name} is {actual} bytes, not {size}")
        elif _part(name) not in parts:
            problems.append(f"{name} missing")
    if not problems:
        return None
    more = len(problems) - NAMED_FILES
    listed = ", ".join(problems[:NAMED_FILES]) + (f", and {more} more" if more > 0 else "")
    return f"{job} in {folder}: {listed}"
