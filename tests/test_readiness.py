"""What the sensors see: :func:`kitrain.readiness.missing_inputs` on layouts built in tmp_path, one
missing piece at a time, for each source. Fast: no Spark, no demo tables."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from kitrain.config import ConfigError
from kitrain.plan import PipelineConfig, interval_settings
from kitrain.readiness import ReadinessError, describe_missing, missing_inputs
from tests.dumpfiles import metahistory_jobs, write_dumpstatus, write_history_lines, write_xml_parts

H = "wmf.mediawiki_history"
W = "wmf.mediawiki_wikitext_history"
C = "wmf_content.mediawiki_content_history_v1"


def _config(tmp_path: Path, **settings) -> PipelineConfig:
    # the paper's interval: snapshot 2022-07, windows up to 2022-08-01 (the XML dump 20220801)
    # the legacy text table unless a test says otherwise: the content history table's check asks
    # Spark (a test gives it an answer of its own instead)
    values = {**interval_settings(dt.date(2022, 7, 1)), "wikitext_snapshot": "2022-11",
              "languages": ("uk", "ja"), "run_dir": str(tmp_path / "run"), "text_source": "wikitext_history",
              **settings}
    return PipelineConfig(**values)


# -- describe_missing ---------------------------------------------------------------------------------


def test_describe_missing_counts_and_names_the_first_few():
    assert describe_missing([]) == "no input missing"
    assert describe_missing(["a"]) == "1 input missing: a"
    assert describe_missing(["a", "b"]) == "2 inputs missing: a; b"
    lines = [f"line {i}" for i in range(7)]
    assert describe_missing(lines) == "7 inputs missing: line 0; line 1; line 2; line 3; line 4; and 2 more"
    assert describe_missing(lines, limit=2) == "7 inputs missing: line 0; line 1; and 5 more"
    assert describe_missing(lines[:5]) == "5 inputs missing: line 0; line 1; line 2; line 3; line 4"


def test_unknown_source_is_a_configuration_error(tmp_path):
    cfg = _config(tmp_path, source="parquet", source_dir=str(tmp_path))
    object.__setattr__(cfg, "source", "ftp")  # past the config's own check
    with pytest.raises(ConfigError, match="unknown source 'ftp'"):
        missing_inputs(cfg)


# -- hive ---------------------------------------------------------------------------------------------


@pytest.fixture
def hive(tmp_path):
    """The two tables' locations with complete snapshots 2022-07 and 2022-11 (and an older one)."""
    history, wikitext = tmp_path / "history", tmp_path / "wikitext"
    for root, snapshot in ((history, "2022-07"), (history, "2022-06"), (wikitext, "2022-11")):
        (root / f"snapshot={snapshot}").mkdir(parents=True)
        (root / f"snapshot={snapshot}" / "_SUCCESS").write_bytes(b"")
    (history / "snapshot=2022-07" / "part-00000.parquet").write_bytes(b"PAR1")
    for wiki in ("ukwiki", "jawiki", "enwiki"):
        (wikitext / "snapshot=2022-11" / f"wiki_db={wiki}").mkdir()
        (wikitext / "snapshot=2022-11" / f"wiki_db={wiki}" / "part-0.avro").write_bytes(b"Obj")
    return history, wikitext


def _hive_config(tmp_path, history, wikitext, url):
    history_location = f"file://{history}" if url else str(history)
    wikitext_location = f"file://{wikitext}/" if url else str(wikitext)
    return _config(tmp_path, hive_history_location=history_location, hive_wikitext_location=wikitext_location,
                   text_source="wikitext_history")


@pytest.mark.parametrize("url", [False, True], ids=["path", "file-url"])
def test_hive_ready(tmp_path, hive, url):
    assert missing_inputs(_hive_config(tmp_path, *hive, url)) == []


@pytest.mark.parametrize("url", [False, True], ids=["path", "file-url"])
def test_hive_history_snapshot_without_success_flag(tmp_path, hive, url):
    history, wikitext = hive
    (history / "snapshot=2022-07" / "_SUCCESS").unlink()
    shown = f"file://{history}" if url else str(history)
    assert missing_inputs(_hive_config(tmp_path, history, wikitext, url)) == [
        f"hive: {H} snapshot 2022-07 not complete (no {shown}/snapshot=2022-07/_SUCCESS)"]


@pytest.mark.parametrize("url", [False, True], ids=["path", "file-url"])
def test_hive_wikitext_snapshot_without_success_flag(tmp_path, hive, url):
    history, wikitext = hive
    (wikitext / "snapshot=2022-11" / "_SUCCESS").unlink()
    shown = f"file://{wikitext}" if url else str(wikitext)
    assert missing_inputs(_hive_config(tmp_path, history, wikitext, url)) == [
        f"hive: {W} snapshot 2022-11 not complete (no {shown}/snapshot=2022-11/_SUCCESS)"]


def test_hive_snapshots_not_written_yet(tmp_path, hive):
    history, wikitext = hive
    cfg = _hive_config(tmp_path, history, wikitext, False)
    cfg = dataclasses.replace(cfg, snapshot="2022-08", wikitext_snapshot="2022-12")
    # one line per table: the languages' partitions are looked at once the snapshot is complete
    assert missing_inputs(cfg) == [
        f"hive: {H} snapshot 2022-08 not complete (no {history}/snapshot=2022-08/_SUCCESS)",
        f"hive: {W} snapshot 2022-12 not complete (no {wikitext}/snapshot=2022-12/_SUCCESS)",
    ]


@pytest.mark.parametrize("url", [False, True], ids=["path", "file-url"])
def test_hive_language_partition_missing(tmp_path, hive, url):
    history, wikitext = hive
    partition = wikitext / "snapshot=2022-11" / "wiki_db=jawiki"
    (partition / "part-0.avro").unlink()
    partition.rmdir()
    shown = f"file://{wikitext}" if url else str(wikitext)
    assert missing_inputs(_hive_config(tmp_path, history, wikitext, url)) == [
        f"hive: {W} snapshot 2022-11 has no jawiki partition (no {shown}/snapshot=2022-11/wiki_db=jawiki)"]
    # a run of uk alone does not wait for it
    cfg = dataclasses.replace(_hive_config(tmp_path, history, wikitext, url), languages=("uk",))
    assert missing_inputs(cfg) == []


class _BrokenFS:
    """Stands in for a file system whose client starts but cannot reach its servers."""

    protocol = "brokenfs"

    def __init__(self, *args, **kwargs):
        pass

    @classmethod
    def _strip_protocol(cls, path):
        return path.split("://", 1)[-1]

    @staticmethod
    def _get_kwargs_from_urls(path):
        return {}

    def info(self, path, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    def ls(self, path, detail=True, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")


class _NoClientFS(_BrokenFS):
    """Stands in for HDFS without its client: pyarrow fails to start, with a long message."""

    protocol = "noclientfs"

    def __init__(self, *args, **kwargs):
        raise OSError("Unable to load libjvm\n" + "dlopen(...) failed\n" * 50)


@pytest.fixture
def fake_filesystems():
    import fsspec

    fsspec.register_implementation("brokenfs", _BrokenFS, clobber=True)
    fsspec.register_implementation("noclientfs", _NoClientFS, clobber=True)
    yield
    from fsspec.registry import _registry

    for name in ("brokenfs", "noclientfs"):
        _registry.pop(name, None)


@pytest.mark.parametrize(("location", "message"), [
    ("brokenfs://cluster/wmf/history", ("cannot look at brokenfs://cluster/wmf/history/snapshot=2022-07/_SUCCESS: "
                                        "[Errno 111] Connection refused")),
    ("noclientfs://cluster/wmf/history", "cannot open noclientfs://cluster/wmf/history: Unable to load libjvm"),
    ("nosuchfs://cluster/wmf/history", "cannot open nosuchfs://cluster/wmf/history: Protocol not known: nosuchfs"),
])
def test_hive_location_that_cannot_be_looked_at_raises(tmp_path, hive, fake_filesystems, location, message):
    # not "missing" for three weeks: the sensor fails at once, naming the location
    cfg = _config(tmp_path, hive_history_location=location, hive_wikitext_location=str(hive[1]))
    with pytest.raises(ReadinessError) as raised:
        missing_inputs(cfg)
    assert str(raised.value) == message


def test_hive_through_pyarrow_as_hdfs_goes(tmp_path, hive):
    # hdfs:// goes through fsspec's wrapper of a pyarrow file system: the same wrapper over
    # pyarrow's local one, under a protocol of its own
    import fsspec
    import pyarrow.fs
    from fsspec.implementations.arrow import ArrowFSWrapper
    from fsspec.registry import _registry

    class ArrowLocal(ArrowFSWrapper):
        protocol = "arrowlocal"

        def __init__(self, *args, **kwargs):
            super().__init__(pyarrow.fs.LocalFileSystem(), **kwargs)

        @classmethod
        def _strip_protocol(cls, path):
            return path.split("://", 1)[-1]

    history, wikitext = hive
    fsspec.register_implementation("arrowlocal", ArrowLocal, clobber=True)
    try:
        cfg = _config(tmp_path, hive_history_location=f"arrowlocal://{history}",
                      hive_wikitext_location=f"arrowlocal://{wikitext}")
        assert missing_inputs(cfg) == []
        (history / "snapshot=2022-07" / "_SUCCESS").unlink()
        (wikitext / "snapshot=2022-11" / "wiki_db=ukwiki" / "part-0.avro").unlink()
        (wikitext / "snapshot=2022-11" / "wiki_db=ukwiki").rmdir()
        assert missing_inputs(cfg) == [
            f"hive: {H} snapshot 2022-07 not complete (no arrowlocal://{history}/snapshot=2022-07/_SUCCESS)",
            (f"hive: {W} snapshot 2022-11 has no ukwiki partition "
             f"(no arrowlocal://{wikitext}/snapshot=2022-11/wiki_db=ukwiki)"),
        ]
    finally:
        _registry.pop("arrowlocal", None)


def test_permission_error_raises(tmp_path, hive, monkeypatch):
    from fsspec.implementations.local import LocalFileSystem

    history, wikitext = hive

    def denied(self, path, **kwargs):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(LocalFileSystem, "info", denied)
    with pytest.raises(ReadinessError) as raised:
        missing_inputs(_hive_config(tmp_path, history, wikitext, False))
    assert str(raised.value) == f"cannot look at {history}/snapshot=2022-07/_SUCCESS: [Errno 13] Permission denied: " \
                                f"'{history}/snapshot=2022-07/_SUCCESS'"


def test_hive_content_history_waits_for_revisions_at_the_windows_end(tmp_path, hive):
    # the default text source: no wikitext snapshot is waited for (its flag is gone here); the
    # content table is ready for a language once it holds a revision at or after 2022-08-01
    history, wikitext = hive
    (wikitext / "snapshot=2022-11" / "_SUCCESS").unlink()
    cfg = dataclasses.replace(_hive_config(tmp_path, history, wikitext, False), text_source="content_history")
    asked = []

    def latest(newest):
        def answer(wikis):
            asked.append(wikis)
            return {wiki: newest.get(wiki) for wiki in wikis}
        return answer

    assert missing_inputs(cfg, latest({"ukwiki": "2022-08-01 00:00:00", "jawiki": "2022-09-30 23:59:59"})) == []
    assert asked == [["ukwiki", "jawiki"]]
    assert missing_inputs(cfg, latest({"ukwiki": "2022-07-31 23:59:59"})) == [
        f"hive: {C} holds ukwiki revisions up to 2022-07-31 23:59:59 only, not yet at or after the end "
        "of the windows, 2022-08-01",
        f"hive: {C} holds no jawiki revision yet (waiting for one at or after 2022-08-01)"]
    # the history snapshot is still waited for as before
    (history / "snapshot=2022-07" / "_SUCCESS").unlink()
    assert missing_inputs(cfg, latest({"ukwiki": "2022-08-02 10:00:00", "jawiki": "2022-08-02 10:00:00"})) == [
        f"hive: {H} snapshot 2022-07 not complete (no {history}/snapshot=2022-07/_SUCCESS)"]


def test_a_pinned_content_snapshot_that_lacks_revisions_fails_at_once(tmp_path, hive):
    # content_snapshot_id: that snapshot never changes, so what it lacks it will always lack; the
    # sensor fails naming it instead of waiting until its timeout
    from kitrain.readiness import PinnedSnapshotError

    history, wikitext = hive
    cfg = dataclasses.replace(_hive_config(tmp_path, history, wikitext, False), text_source="content_history",
                              content_snapshot_id=4101234567890123456)
    ready = {"ukwiki": "2022-08-01 00:00:00", "jawiki": "2022-08-03 00:00:00"}
    assert missing_inputs(cfg, lambda wikis: {w: ready[w] for w in wikis}) == []
    with pytest.raises(PinnedSnapshotError, match=(
            f"the pinned snapshot 4101234567890123456 of {C} \\(content_snapshot_id\\) will never hold "
            f"what the run reads: 1 input missing: hive: {C} holds jawiki revisions up to 2022-07-03 00:00:00 only")):
        missing_inputs(cfg, lambda wikis: {**ready, "jawiki": "2022-07-03 00:00:00"})


@pytest.mark.spark
def test_content_latest_query_on_a_content_table(spark, demo_source):
    # the sensor's query (sql/content_latest.sql) on the demo's copy of the content table: the
    # newest revision of each wiki, in UTC, and None for a wiki the table does not hold
    import pyarrow.parquet as pq

    from kitrain.readiness import content_latest_from
    from kitrain.spark import register_parquet_sources

    register_parquet_sources(spark, str(demo_source), "content_history")
    got = content_latest_from(spark, ["ukwiki", "jawiki", "dewiki"])
    history = pq.read_table(demo_source / "mediawiki_history").to_pandas()
    for wiki in ("ukwiki", "jawiki"):
        revisions = history[(history.wiki_db == wiki) & (history.event_entity == "revision")]
        assert got[wiki] == revisions.event_timestamp.max()[:19]
    assert got["dewiki"] is None


# -- parquet ------------------------------------------------------------------------------------------


@pytest.fixture
def source(tmp_path):
    """Parquet copies laid out as the demo writes them: history partitioned by snapshot (one file
    per wiki), wikitext by snapshot and wiki_db."""
    root = tmp_path / "source"
    history = root / "mediawiki_history" / "snapshot=2022-07"
    history.mkdir(parents=True)
    (root / "mediawiki_history" / "snapshot=2022-06").mkdir()
    for wiki in ("ukwiki", "jawiki"):
        (history / f"{wiki}.parquet").write_bytes(b"PAR1")
        texts = root / "mediawiki_wikitext_history" / "snapshot=2022-11" / f"wiki_db={wiki}"
        texts.mkdir(parents=True)
        (texts / "part-0.parquet").write_bytes(b"PAR1")
    return root


def _parquet_config(tmp_path, root, url=False, text_source="wikitext_history"):
    return _config(tmp_path, source="parquet", source_dir=f"file://{root}" if url else str(root),
                   text_source=text_source)


@pytest.mark.parametrize("url", [False, True], ids=["path", "file-url"])
def test_parquet_ready(tmp_path, source, url):
    assert missing_inputs(_parquet_config(tmp_path, source, url)) == []


@pytest.mark.parametrize("url", [False, True], ids=["path", "file-url"])
def test_parquet_source_dir_missing(tmp_path, url):
    root = tmp_path / "nowhere"
    shown = f"file://{root}" if url else str(root)
    assert missing_inputs(_parquet_config(tmp_path, root, url)) == [f"parquet: no source directory {shown}"]


def test_parquet_table_directory_missing(tmp_path, source):
    for path in sorted((source / "mediawiki_wikitext_history").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (source / "mediawiki_wikitext_history").rmdir()
    assert missing_inputs(_parquet_config(tmp_path, source)) == [
        f"parquet: {W} not there (no directory {source}/mediawiki_wikitext_history)"]


def test_parquet_snapshot_directory_missing(tmp_path, source):
    cfg = dataclasses.replace(_parquet_config(tmp_path, source), snapshot="2022-08", train_end="2022-08-01")
    assert missing_inputs(cfg) == [
        f"parquet: {H} snapshot 2022-08 not there (no {source}/mediawiki_history/snapshot=2022-08)"]


@pytest.mark.parametrize("url", [False, True], ids=["path", "file-url"])
def test_parquet_language_partition_missing(tmp_path, source, url):
    partition = source / "mediawiki_wikitext_history" / "snapshot=2022-11" / "wiki_db=ukwiki"
    (partition / "part-0.parquet").unlink()
    partition.rmdir()
    shown = f"file://{source}" if url else str(source)
    assert missing_inputs(_parquet_config(tmp_path, source, url)) == [
        (f"parquet: {W} snapshot 2022-11 has no ukwiki partition "
         f"(no {shown}/mediawiki_wikitext_history/snapshot=2022-11/wiki_db=ukwiki)")]
    cfg = dataclasses.replace(_parquet_config(tmp_path, source, url), languages=("ja",))
    assert missing_inputs(cfg) == []


def test_parquet_files_holding_the_partition_columns(tmp_path):
    # no snapshot=... directories: the files hold the columns; one parquet file makes the table
    root = tmp_path / "flat"
    for subdir in ("mediawiki_history", "mediawiki_wikitext_history"):
        (root / subdir).mkdir(parents=True)
        (root / subdir / "_SUCCESS").write_bytes(b"")
    (root / "mediawiki_history" / "part-00000.snappy.parquet").write_bytes(b"PAR1")
    assert missing_inputs(_parquet_config(tmp_path, root)) == [
        f"parquet: {W} not there (no snapshot=... directory or parquet file in {root}/mediawiki_wikitext_history)"]
    (root / "mediawiki_wikitext_history" / "part-00000.snappy.parquet").write_bytes(b"PAR1")
    assert missing_inputs(_parquet_config(tmp_path, root)) == []


def _content_table(root, wikis=("ukwiki", "jawiki")):
    for wiki in wikis:
        partition = root / "mediawiki_content_history_v1" / f"wiki_id={wiki}"
        partition.mkdir(parents=True)
        (partition / "part-0.parquet").write_bytes(b"PAR1")


@pytest.mark.parametrize("url", [False, True], ids=["path", "file-url"])
def test_parquet_content_history_waits_for_no_wikitext_snapshot(tmp_path, source, url):
    # the default text source: the content table has no snapshots; the legacy table is not looked at
    cfg = _parquet_config(tmp_path, source, url, text_source="content_history")
    shown = f"file://{source}" if url else str(source)
    assert missing_inputs(cfg) == [
        f"parquet: {C} not there (no directory {shown}/mediawiki_content_history_v1); "
        f"{shown}/mediawiki_wikitext_history is there, which text_source wikitext_history reads"]
    _content_table(source, ("jawiki",))
    assert missing_inputs(cfg) == [
        f"parquet: {C} has no ukwiki partition (no {shown}/mediawiki_content_history_v1/wiki_id=ukwiki)"]
    _content_table(source, ("ukwiki",))
    for path in sorted((source / "mediawiki_wikitext_history").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    assert missing_inputs(cfg) == []


def test_parquet_content_history_in_flat_files(tmp_path):
    root = tmp_path / "flat"
    (root / "mediawiki_history" / "snapshot=2022-07").mkdir(parents=True)
    (root / "mediawiki_content_history_v1").mkdir()
    cfg = _parquet_config(tmp_path, root, text_source="content_history")
    assert missing_inputs(cfg) == [f"parquet: {C} not there (no wiki_id=... directory or parquet file in "
                                   f"{root}/mediawiki_content_history_v1)"]
    (root / "mediawiki_content_history_v1" / "part-00000.snappy.parquet").write_bytes(b"PAR1")
    assert missing_inputs(cfg) == []


# -- dumps --------------------------------------------------------------------------------------------


def _revision(page_id: int, revision_id: int, parent: int, timestamp: str) -> dict:
    return {"page_id": page_id, "page_title": f"Page {page_id}", "page_namespace": 0,
            "revision_id": revision_id, "revision_parent_id": parent, "revision_timestamp": timestamp,
            "user_text": "192.0.2.1", "user_id": None, "revision_minor_edit": False,
            "revision_comment": "edit", "revision_text": f"text {revision_id} " * 20}


def _pages(count: int = 4) -> dict[int, list[dict]]:
    return {page: [_revision(page, page * 10, 0, "2022-03-01 10:00:00.0"),
                   _revision(page, page * 10 + 1, page * 10, "2022-07-02 10:00:00.0")]
            for page in range(1, count + 1)}


def _history(out: Path, wiki: str) -> None:
    rows = [{"wiki_db": wiki, "event_entity": "revision", "event_type": "create",
             "event_timestamp": "2022-03-01 10:00:00.0", "revision_id": 10, "page_id": 1}]
    write_history_lines(rows, out, wiki, snapshot="2022-07", split="all-time")


@pytest.fixture
def dumps_root(tmp_path):
    """uk: history and the XML dump 20220801 in two .bz2 parts; ja: history and one plain part;
    both with the dumps site's dumpstatus.json. Beside them, uk's older full-history dump."""
    out = tmp_path / "dumps"
    for wiki in ("ukwiki", "jawiki"):
        _history(out, wiki)
    write_xml_parts(_pages(), out, "ukwiki", "20220801", parts=2, compress=True)
    write_xml_parts(_pages(), out, "jawiki", "20220801", parts=1, compress=False)
    write_xml_parts(_pages(), out, "ukwiki", "20220701", parts=1, compress=True)
    return out


def _dumps_config(tmp_path, root, **settings):
    return _config(tmp_path, source="dumps", dumps_dir=str(root), **settings)


def _folder(root: Path, wiki: str = "ukwiki", date: str = "20220801") -> Path:
    return root / "xmldumps" / wiki / date


def _part(root: Path, number: int, wiki: str = "ukwiki", ext: str = ".bz2") -> Path:
    return _folder(root, wiki) / f"{wiki}-20220801-pages-meta-history{number}.xml-p{number - 1}p{number - 1}{ext}"


def _edit_status(root: Path, edit, wiki: str = "ukwiki") -> Path:
    path = _folder(root, wiki) / "dumpstatus.json"
    content = json.loads(path.read_text())
    edit(content)
    path.write_text(json.dumps(content))
    return path


def test_dumps_ready(tmp_path, dumps_root):
    assert missing_inputs(_dumps_config(tmp_path, dumps_root)) == []


@pytest.mark.parametrize("compress", [True, "7z", False], ids=["bz2", "7z", "plain"])
def test_dumps_ready_in_each_format(tmp_path, compress):
    out = tmp_path / "dumps"
    _history(out, "ukwiki")
    write_xml_parts(_pages(), out, "ukwiki", "20220801", parts=3, compress=compress)
    assert missing_inputs(_dumps_config(tmp_path, out, languages=("uk",))) == []


def test_dumps_directory_missing(tmp_path):
    assert missing_inputs(_dumps_config(tmp_path, tmp_path / "nowhere")) == [
        f"dumps: no dumps directory {tmp_path / 'nowhere'}"]


def test_dumps_history_missing_for_one_language(tmp_path, dumps_root):
    folder = dumps_root / "mediawiki_history" / "2022-07" / "jawiki"
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    assert missing_inputs(_dumps_config(tmp_path, dumps_root)) == [
        (f"dumps: jawiki mediawiki_history snapshot 2022-07 not there (no mediawiki_history dump folder "
         f"{folder}: see `kitrain dumps plan`)")]


def test_dumps_xml_dump_not_there_yet(tmp_path, dumps_root):
    folder = _folder(dumps_root, "jawiki")
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    assert missing_inputs(_dumps_config(tmp_path, dumps_root)) == [
        f"dumps: jawiki full-history XML dump 20220801 not there (no pages-meta-history files in {folder})"]
    # uk's dump of 07-01 cannot stand in for the one of 08-01 either
    for path in _folder(dumps_root).iterdir():
        path.unlink()
    assert missing_inputs(_dumps_config(tmp_path, dumps_root, languages=("uk",))) == [
        (f"dumps: ukwiki full-history XML dump 20220801 not there (no pages-meta-history files in "
         f"{_folder(dumps_root)})")]


def test_dumps_pinned_xml_dump_not_there(tmp_path, dumps_root):
    cfg = _dumps_config(tmp_path, dumps_root, languages=("uk",), xml_dump="20220901")
    assert missing_inputs(cfg) == [
        (f"dumps: ukwiki full-history XML dump 20220901 not there (no pages-meta-history files in "
         f"{_folder(dumps_root, 'ukwiki', '20220901')})")]


def test_dumps_status_file_missing(tmp_path, dumps_root):
    path = _folder(dumps_root) / "dumpstatus.json"
    path.unlink()
    assert missing_inputs(_dumps_config(tmp_path, dumps_root)) == [
        f"dumps: ukwiki full-history XML dump 20220801 not complete (no {path})"]


def test_dumps_job_in_progress(tmp_path, dumps_root):
    def in_progress(content):
        content["jobs"]["metahistorybz2dump"]["status"] = "in-progress"

    path = _edit_status(dumps_root, in_progress)
    assert missing_inputs(_dumps_config(tmp_path, dumps_root)) == [
        f"dumps: ukwiki full-history XML dump 20220801 not done ({path}: metahistorybz2dump in-progress)"]


def test_dumps_only_the_job_of_the_local_format_counts(tmp_path, dumps_root):
    # the .7z recompression runs after the .bz2 job: the .bz2 files are complete without it
    def recompressing(content):
        content["jobs"]["metahistory7zdump"] = {"status": "in-progress", "updated": "2022-08-20 10:00:00",
                                                "files": {"x.7z": {"size": 10}}}

    _edit_status(dumps_root, recompressing)
    assert missing_inputs(_dumps_config(tmp_path, dumps_root)) == []


def test_dumps_plain_parts_are_checked_against_the_bz2_job(tmp_path, dumps_root):
    # ja's one part is plain XML: a .bz2 download decompressed; its job must be done too
    def failed(content):
        content["jobs"]["metahistorybz2dump"]["status"] = "failed"

    path = _edit_status(dumps_root, failed, "jawiki")
    assert missing_inputs(_dumps_config(tmp_path, dumps_root)) == [
        f"dumps: jawiki full-history XML dump 20220801 not done ({path}: metahistorybz2dump failed)"]


def test_dumps_listed_file_missing(tmp_path, dumps_root):
    _part(dumps_root, 2).unlink()
    assert missing_inputs(_dumps_config(tmp_path, dumps_root)) == [
        (f"dumps: ukwiki full-history XML dump 20220801 not complete (metahistorybz2dump in "
         f"{_folder(dumps_root)}: ukwiki-20220801-pages-meta-history2.xml-p1p1.bz2 missing)")]


def test_dumps_listed_file_of_the_wrong_size(tmp_path, dumps_root):
    part = _part(dumps_root, 1)
    size = part.stat().st_size
    part.write_bytes(part.read_bytes()[:100])  # a download cut short
    assert missing_inputs(_dumps_config(tmp_path, dumps_root)) == [
        (f"dumps: ukwiki full-history XML dump 20220801 not complete (metahistorybz2dump in "
         f"{_folder(dumps_root)}: ukwiki-20220801-pages-meta-history1.xml-p0p0.bz2 is 100 bytes, not {size})")]


def test_dumps_many_incomplete_files_in_one_line(tmp_path):
    out = tmp_path / "dumps"
    _history(out, "ukwiki")
    write_xml_parts(_pages(6), out, "ukwiki", "20220801", parts=6, compress=True)
    for number in (2, 3, 4, 5, 6):
        _part(out, number).unlink()
    (line,) = missing_inputs(_dumps_config(tmp_path, out, languages=("uk",)))
    assert line == (f"dumps: ukwiki full-history XML dump 20220801 not complete (metahistorybz2dump in "
                    f"{_folder(out)}: ukwiki-20220801-pages-meta-history2.xml-p1p1.bz2 missing, "
                    f"ukwiki-20220801-pages-meta-history3.xml-p2p2.bz2 missing, "
                    f"ukwiki-20220801-pages-meta-history4.xml-p3p3.bz2 missing, and 2 more)")


def test_dumps_parts_in_both_compressions(tmp_path, dumps_root):
    # part 2 downloaded as .7z instead: each part is checked against its own format's job
    part = _part(dumps_root, 2)
    status = json.loads((_folder(dumps_root) / "dumpstatus.json").read_text())
    seven = status["jobs"]["metahistory7zdump"]["files"][part.name[: -len(".bz2")] + ".7z"]
    part.unlink()
    _part(dumps_root, 2, ext=".7z").write_bytes(b"7" * seven["size"])
    assert missing_inputs(_dumps_config(tmp_path, dumps_root)) == []

    def recompressing(content):
        content["jobs"]["metahistory7zdump"]["status"] = "in-progress"

    path = _edit_status(dumps_root, recompressing)
    assert missing_inputs(_dumps_config(tmp_path, dumps_root)) == [
        f"dumps: ukwiki full-history XML dump 20220801 not done ({path}: metahistory7zdump in-progress)"]


@pytest.mark.parametrize(("text", "reason"), [
    ('{"jobs": ', "is not JSON: Expecting value, line 1"),
    ("[]", "is malformed: no jobs"),
    ('{"jobs": [], "version": "0.8"}', "is malformed: no jobs"),
    ('{"jobs": {"metahistory7zdump": {"status": "done", "files": {}}}}', "is malformed: no job metahistorybz2dump"),
    ('{"jobs": {"metahistorybz2dump": {"files": {}}}}', "is malformed: no status of job metahistorybz2dump"),
    ('{"jobs": {"metahistorybz2dump": {"status": "done"}}}', "is malformed: no files of job metahistorybz2dump"),
    ('{"jobs": {"metahistorybz2dump": {"status": "done", "files": {"a.bz2": {"url": "/a"}}}}}',
     "is malformed: no size of a.bz2 in job metahistorybz2dump"),
    ('{"jobs": {"metahistorybz2dump": {"status": "done", "files": {"../x.bz2": {"size": 1}}}}}',
     "is malformed: metahistorybz2dump lists a file named '../x.bz2'"),
])
def test_dumps_malformed_status_file(tmp_path, dumps_root, text, reason):
    path = _folder(dumps_root) / "dumpstatus.json"
    path.write_text(text)
    assert missing_inputs(_dumps_config(tmp_path, dumps_root)) == [
        f"dumps: ukwiki full-history XML dump 20220801 not complete ({path} {reason})"]


def test_dumps_unreadable_status_file(tmp_path, dumps_root):
    path = _folder(dumps_root) / "dumpstatus.json"
    path.write_bytes(b"\xff\xfe not utf-8")
    (line,) = missing_inputs(_dumps_config(tmp_path, dumps_root))
    assert line.startswith(f"dumps: ukwiki full-history XML dump 20220801 not complete (cannot read {path}: ")


def test_dumps_status_written_while_the_job_runs(tmp_path):
    # the status file of a run still writing its parts: sizes of what is written so far
    out = tmp_path / "dumps"
    _history(out, "ukwiki")
    write_xml_parts(_pages(), out, "ukwiki", "20220801", parts=2, compress=True)
    texts = {_part(out, n).name[: -len(".bz2")]: "<mediawiki/>\n" for n in (1, 2)}
    write_dumpstatus(_folder(out), metahistory_jobs("ukwiki", "20220801", texts, status="in-progress"))
    assert missing_inputs(_dumps_config(tmp_path, out, languages=("uk",))) == [
        (f"dumps: ukwiki full-history XML dump 20220801 not done ({_folder(out) / 'dumpstatus.json'}: "
         f"metahistorybz2dump in-progress)")]


def test_dumps_status_describes_the_two_languages(tmp_path, dumps_root):
    (_folder(dumps_root) / "dumpstatus.json").unlink()
    (_folder(dumps_root, "jawiki") / "dumpstatus.json").unlink()
    missing = missing_inputs(_dumps_config(tmp_path, dumps_root))
    assert [line.split(" full-history")[0] for line in missing] == ["dumps: ukwiki", "dumps: jawiki"]
    assert describe_missing(missing, limit=1) == f"2 inputs missing: {missing[0]}; and 1 more"


# -- content-table exports (mediawiki_content_history/<wiki>/<date>/) ------------------------------------


def as_content_export(out: Path, wiki: str, date: str, folder_date: str) -> Path:
    """Move a written classic dump into the layout of Wikimedia's content-table exports: folder
    ``mediawiki_content_history/<wiki>/<folder_date>/``, parts named ``<wiki>-<YYYY-MM-DD>-p<a>p<b>``,
    no dumpstatus.json."""
    classic = out / "xmldumps" / wiki / date
    export = out / "mediawiki_content_history" / wiki / folder_date
    export.mkdir(parents=True)
    day = f"{date[:4]}-{date[4:6]}-{date[6:]}"
    for i, path in enumerate(sorted(p for p in classic.iterdir() if "pages-meta-history" in p.name)):
        ext = ".bz2" if path.name.endswith(".bz2") else ""
        path.rename(export / f"{wiki}-{day}-p{i * 10 + 1}p{i * 10 + 9}.xml{ext}")
    (classic / "dumpstatus.json").unlink()
    classic.rmdir()
    return export


@pytest.mark.parametrize("folder_date", ["20220801", "2022-08-01"])
def test_content_exports_wait_for_their_success_flag(tmp_path, folder_date):
    out = tmp_path / "dumps"
    _history(out, "ukwiki")
    write_xml_parts(_pages(), out, "ukwiki", "20220801", parts=2, compress=True)
    export = as_content_export(out, "ukwiki", "20220801", folder_date)
    cfg = _dumps_config(tmp_path, out, languages=("uk",))
    assert missing_inputs(cfg) == [
        (f"dumps: ukwiki full-history XML dump 20220801 not complete (no {export}/dumpstatus.json or "
         f"{export}/_SUCCESS)")]
    (export / "_SUCCESS").write_bytes(b"")
    assert missing_inputs(cfg) == []
