"""``--source dumps``: the public TSV and XML dumps give exactly the rows of the parquet copies, and
broken dump files stop the run naming the file (and the line) or are counted, never dropped silently.
"""

from __future__ import annotations

import bz2
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from kitrain import cli, dumps
from kitrain.collect import run_collect
from kitrain.config import CollectConfig, ConfigError
from kitrain.dumps import DumpError, xmldump
from kitrain.paths import RunPaths
from tests.dumpfiles import export_xml, tsv_line, write_7z, write_history_dump, write_xml_dump


def as_dict(row: tuple) -> dict:
    """A ``parse_xml`` row by field name."""
    return dict(zip(("_kind", "_file", "_detail", *dumps.XML_FIELDS), row))


# -- pure parts ------------------------------------------------------------------------------------


def test_period_bounds_and_overlap():
    assert dumps.period_bounds("all-time") is None
    assert [d.isoformat() for d in dumps.period_bounds("2021")] == ["2021-01-01", "2022-01-01"]
    assert [d.isoformat() for d in dumps.period_bounds("2022-12")] == ["2022-12-01", "2023-01-01"]
    # a period before the window is skipped; later ones are read (reverts come after the revision)
    assert not dumps.overlaps("2021", "2022-01-01", "2022-08-01")
    assert not dumps.overlaps("2021-12", "2022-01-01", "2022-08-01")
    assert dumps.overlaps("2022-01", "2022-01-01", "2022-08-01")
    assert dumps.overlaps("2022-09", "2022-01-01", "2022-08-01")
    assert dumps.overlaps("all-time", "2022-01-01", "2022-08-01")


def test_history_files_picks_the_overlapping_periods(tmp_path):
    folder = tmp_path / "mediawiki_history" / "2022-07" / "ukwiki"
    folder.mkdir(parents=True)
    for period in ("2020", "2021", "2022"):
        (folder / f"2022-07.ukwiki.{period}.tsv.bz2").write_bytes(b"")
    (folder / "README.txt").write_text("not a dump")
    files = dumps.history_files(str(tmp_path), "2022-07", "ukwiki", "2021-06-01", "2022-01-01")
    assert [f.period for f in files] == ["2021", "2022"]
    with pytest.raises(DumpError, match="no mediawiki_history dump folder .*jawiki"):
        dumps.history_files(str(tmp_path), "2022-07", "jawiki", "2022-01-01", "2022-08-01")
    (folder / "2022-06.ukwiki.2022.tsv").write_bytes(b"")
    with pytest.raises(DumpError, match="does not belong in"):
        dumps.history_files(str(tmp_path), "2022-07", "ukwiki", "2022-01-01", "2022-08-01")


# -- which XML dump: the dump calendar -------------------------------------------------------------


def _dump_folder(root: Path, wiki: str, date: str, kind: str = "pages-meta-history1.xml-p1p9.bz2") -> Path:
    folder = root / "xmldumps" / wiki / date
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{wiki}-{date}-{kind}").write_bytes(b"")
    return folder


@pytest.fixture
def calendar(tmp_path):
    """The dumps of the 1st and the 20th of two months, as the dumps site has them: the runs of the
    1st hold pages-meta-history files, the runs of the 20th only current-revision dumps."""
    for date in ("20220701", "20220801"):
        _dump_folder(tmp_path, "ukwiki", date)
        _dump_folder(tmp_path, "ukwiki", date, "pages-meta-current.xml.bz2")
    for date in ("20220720", "20220820"):
        _dump_folder(tmp_path, "ukwiki", date, "pages-meta-current.xml.bz2")
        _dump_folder(tmp_path, "ukwiki", date, "pages-articles-multistream.xml.bz2")
    return tmp_path


def test_first_full_history_day():
    assert dumps.first_full_history_day("2022-08-01").isoformat() == "2022-08-01"
    assert dumps.first_full_history_day("2022-07-08").isoformat() == "2022-08-01"
    assert dumps.first_full_history_day("2022-12-02").isoformat() == "2023-01-01"


def test_the_first_full_history_dump_on_or_after_the_window_end_is_read(calendar):
    # the runs of the 20th have no full history
    assert dumps.full_history_dumps(str(calendar), "ukwiki") == ["20220701", "20220801"]
    chosen = {end: dumps.resolve_xml_dump(str(calendar), "ukwiki", end)[0]
              for end in ("2022-06-15", "2022-07-01", "2022-07-08", "2022-07-21", "2022-08-01")}
    # a window ending on the 1st is held by the dump of that day; one ending later in July only by
    # the dump of 08-01 (the dump of 07-20 has no full history)
    assert chosen == {"2022-06-15": "20220701", "2022-07-01": "20220701", "2022-07-08": "20220801",
                      "2022-07-21": "20220801", "2022-08-01": "20220801"}
    date, files = dumps.resolve_xml_dump(str(calendar), "ukwiki", "2022-08-01")
    assert [Path(f).name for f in files] == ["ukwiki-20220801-pages-meta-history1.xml-p1p9.bz2"]
    # past the newest full-history dump: the error names the newest and the dump to wait for
    with pytest.raises(DumpError, match=r"no full-history XML dump of ukwiki dated on or after 2022-08-02.*"
                                        r"newest there: 20220801.*dump of 20220901"):
        dumps.resolve_xml_dump(str(calendar), "ukwiki", "2022-08-02")
    # a pinned dump: taken if it can hold the window, refused naming its date and the window's end
    assert dumps.resolve_xml_dump(str(calendar), "ukwiki", "2022-06-01", "20220801")[0] == "20220801"
    with pytest.raises(ConfigError, match="XML dump 20220701 is dated before the end of the window, 2022-08-01"):
        dumps.resolve_xml_dump(str(calendar), "ukwiki", "2022-08-01", "20220701")
    with pytest.raises(DumpError, match=r"no full-history XML dump 20220820 of ukwiki.*there are: \['20220701', '20220801'\]"):
        dumps.resolve_xml_dump(str(calendar), "ukwiki", "2022-08-01", "20220820")
    with pytest.raises(DumpError, match="no full-history XML dump of jawiki"):
        dumps.resolve_xml_dump(str(calendar), "jawiki", "2022-08-01")


def _export_folder(root: Path, wiki: str, folder: str, name: str) -> Path:
    path = root / "mediawiki_content_history" / wiki / folder
    path.mkdir(parents=True, exist_ok=True)
    (path / name).write_bytes(b"")
    return path


def test_content_table_exports_join_the_calendar(calendar):
    # Wikimedia's exports of the content history table: their own folder, any day, names without
    # pages-meta-history; the same rule picks the first export on or after the windows' end
    _export_folder(calendar, "ukwiki", "20220805", "ukwiki-2022-08-05-p1p279900.xml.bz2")
    _export_folder(calendar, "ukwiki", "2022-09-02", "ukwiki-2022-09-02-p13327093r4988r10803.xml")
    _export_folder(calendar, "ukwiki", "20220910", "ukwiki-20220910-pages-meta-current.xml.bz2")  # no history
    assert dumps.full_history_dumps(str(calendar), "ukwiki") == ["20220701", "20220801", "20220805", "20220902"]
    assert dumps.resolve_xml_dump(str(calendar), "ukwiki", "2022-08-02")[0] == "20220805"
    date, files = dumps.resolve_xml_dump(str(calendar), "ukwiki", "2022-08-06")
    assert date == "20220902"
    assert files == [str(calendar / "mediawiki_content_history" / "ukwiki" / "2022-09-02"
                         / "ukwiki-2022-09-02-p13327093r4988r10803.xml")]
    assert dumps.resolve_xml_dump(str(calendar), "ukwiki", "2022-08-01", "20220805")[0] == "20220805"
    # the classic dump of a day wins over an export of the same day
    _export_folder(calendar, "ukwiki", "20220801", "ukwiki-2022-08-01-p1p9.xml.bz2")
    assert dumps.resolve_xml_dump(str(calendar), "ukwiki", "2022-08-01")[1] == [
        str(calendar / "xmldumps" / "ukwiki" / "20220801" / "ukwiki-20220801-pages-meta-history1.xml-p1p9.bz2")]


def test_collection_refuses_a_window_past_the_dumps_before_spark(calendar, tmp_path, monkeypatch, capsys):
    import kitrain.spark

    history = calendar / "mediawiki_history" / "2022-08" / "ukwiki"
    history.mkdir(parents=True)
    (history / "2022-08.ukwiki.all-time.tsv").write_text("")

    def no_spark(*args, **kwargs):
        raise AssertionError("Spark was started")

    monkeypatch.setattr(kitrain.spark, "get_spark", no_spark)
    # snapshot 2022-08: the train window ends 2022-09-01, after the newest full-history dump
    code = cli.main(["collect", "-l", "uk", "--dumps-dir", str(calendar), "--snapshot", "2022-08",
                     "--train-start", "2022-03-01", "--train-end", "2022-09-01", "--test-start",
                     "2022-08-01", "--test-end", "2022-08-08", "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "dated on or after 2022-09-01" in err and "dump of 20220901" in err
    # a pinned dump before the window's end: one line from the config, before any file is opened
    code = cli.main(["collect", "-l", "uk", "--dumps-dir", str(calendar), "--xml-dump", "20220701",
                     "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and "XML dump 20220701 is dated before the end of the window, 2022-08-01" in err
    assert not (tmp_path / "run").exists()


def test_snapshots_that_cannot_hold_the_window_are_refused():
    # snapshot 2022-07 holds events up to 2022-07-31: a window ending 2022-08-02 needs 2022-08
    for source, extra in (("hive", {}), ("parquet", {"source_dir": "x"}), ("dumps", {"dumps_dir": "x"})):
        with pytest.raises(ConfigError, match=r"snapshot 2022-07 holds events up to 2022-07-31, but the window "
                                              r"ends 2022-08-02: use snapshot 2022-08 or later"):
            CollectConfig(lang="uk", source=source, train_end="2022-08-02", **extra)
    CollectConfig(lang="uk", train_end="2022-08-01")  # the paper's: the last day of the month
    # the legacy wikitext table's snapshot likewise (hive, parquet); the dumps choose their XML dump
    # by date, and the content history table has no snapshots
    with pytest.raises(ConfigError, match="wikitext_snapshot 2022-06 holds events up to 2022-06-30"):
        CollectConfig(lang="uk", wikitext_snapshot="2022-06", text_source="wikitext_history")
    CollectConfig(lang="uk", source="dumps", dumps_dir="x", wikitext_snapshot="2022-06")
    CollectConfig(lang="uk", wikitext_snapshot="2022-06")  # text_source content_history
    with pytest.raises(ConfigError, match="xml_dump .* needs source 'dumps'"):
        CollectConfig(lang="uk", xml_dump="20220801")
    with pytest.raises(ConfigError, match="xml_dump must be a dump date YYYYMMDD"):
        CollectConfig(lang="uk", source="dumps", dumps_dir="x", xml_dump="2022-08-01")
    with pytest.raises(ConfigError, match="XML dump 20220731 is dated before the end of the window, 2022-08-01"):
        CollectConfig(lang="uk", source="dumps", dumps_dir="x", xml_dump="20220731")


def test_the_dag_interval_2022_07_reads_the_dump_of_08_01(calendar, tmp_path):
    import datetime as dt

    from kitrain import pipeline
    from kitrain.collect import check_source_files

    history = calendar / "mediawiki_history" / "2022-07" / "ukwiki"
    history.mkdir(parents=True)
    (history / "2022-07.ukwiki.2022.tsv.bz2").write_bytes(b"")
    plan = pipeline.plan_run({"languages": ["uk"], "source": "dumps", "dumps_dir": str(calendar),
                              "run_dir": str(tmp_path / "runs" / "{snapshot}")},
                             dt.datetime(2022, 7, 1, tzinfo=dt.timezone.utc), "scheduled__2022-08-01")
    (args,) = pipeline.collect_arguments(plan)
    configs = [CollectConfig.from_dict(json.loads(args[i + 1])) for i, a in enumerate(args) if a == "--config"]
    assert {(c.mode, c.snapshot, c.xml_dump) for c in configs} == {("train", "2022-07", None), ("test", "2022-07", None)}
    for cfg in configs:
        found = check_source_files(cfg)
        assert found["xml_dump"] == "20220801"
        assert found["xml_files"] == [str(calendar / "xmldumps/ukwiki/20220801/ukwiki-20220801-pages-meta-history1.xml-p1p9.bz2")]
        assert found["history_files"] == [str(history / "2022-07.ukwiki.2022.tsv.bz2")]
    # the param pins another dump
    plan = pipeline.plan_run({"languages": ["uk"], "source": "dumps", "dumps_dir": str(calendar),
                              "xml_dump": "20220901", "run_dir": str(tmp_path / "runs" / "{snapshot}")},
                             dt.datetime(2022, 7, 1, tzinfo=dt.timezone.utc), "manual")
    (args,) = pipeline.collect_arguments(plan)
    assert '"xml_dump": "20220901"' in args[5]
    with pytest.raises(DumpError, match="no full-history XML dump 20220901 of ukwiki"):
        check_source_files(CollectConfig.from_dict(json.loads(args[5])))


def test_xml_files_read_each_part_once(tmp_path):
    december = _dump_folder(tmp_path, "ukwiki", "20221201")
    (december / "ukwiki-20221201-pages-meta-history1.xml-p1p9.7z").write_bytes(b"")
    (december / "ukwiki-20221201-pages-meta-history2.xml-p10p20.7z").write_bytes(b"")
    # each part is read once: .bz2 where the site offers both, .7z where only that is there
    assert [Path(p).name for p in dumps.xml_files(str(tmp_path), "ukwiki", "20221201")] == \
        ["ukwiki-20221201-pages-meta-history1.xml-p1p9.bz2", "ukwiki-20221201-pages-meta-history2.xml-p10p20.7z"]
    for entry in december.iterdir():
        entry.unlink()
    with pytest.raises(DumpError, match=r"no ukwiki-20221201-pages-meta-history\*\.xml\[\.bz2\|\.7z\] file"):
        dumps.xml_files(str(tmp_path), "ukwiki", "20221201")


# -- XML as MediaWiki writes it --------------------------------------------------------------------


def _revision(rev_id, parent, text, **extra):
    return {"revision_id": rev_id, "revision_parent_id": parent, "revision_text": text,
            "revision_timestamp": f"2022-07-0{rev_id % 9 + 1} 10:00:00.0", "page_title": "Київ & Co",
            "page_namespace": 0, "user_text": "Someone", "user_id": 7, "revision_comment": "",
            "revision_text_sha1": None, **extra}


def _export_pages(version: str) -> str:
    """Every element listed in the export format, written by the project's writer. The real files
    that showed them: the simplewiki sample written by Wikimedia's dumper
    (analytics-refinery-source, refinery-job/src/test/resources/mediawikidumper/
    MediawikiDumperOutputTest.Simplewiki.Sample.xml: ``<text deleted="deleted"/>`` then ``<sha1 />``,
    ``<contributor deleted="deleted" />``, ``<comment deleted="deleted" />``, ``<minor />``, IP
    contributors); a dumpBackup.php export of MediaWiki 1.39 (joatca/ldnont-wiki, ldnont-full.xml.xz:
    schema 0.11, ``<text bytes sha1 xml:space>``, self-closing empty texts, ``<origin>``, ``<minor/>``,
    ``<redirect title>``, no ``<parentid>`` on first revisions, pages of namespaces 0, 4, 8, 10, 14);
    MediaWiki's XmlDumpWriter for ``<content>`` slots and ``<text bytes=".."/>`` without content
    where a text could not be loaded; pywikibot's tests/data/xml/article-pear-0.10.xml (0.10)."""
    article = [
        _revision(11, None, "Перший текст", page_redirect_title="Kyiv (city)", revision_comment="нова"),
        _revision(12, 11, "Другий\tтекст\n", user_text="192.0.2.7", user_id=None, revision_minor_edit=True),
        _revision(13, 12, None, user_deleted=True, comment_deleted=True),  # text deleted
        _revision(14, 13, "", revision_minor_edit=True),  # blanked: an empty text, not a missing one
        _revision(15, 14, "", text_not_loaded=True, revision_text_bytes=40),
        _revision(16, 15, "Перший текст", extra_slots=[("mediainfo", '{"labels": {}}')]),
    ]
    talk = [{**_revision(21, None, "talk"), "page_namespace": 1, "page_title": "Talk:Київ"},
            {**_revision(22, 21, "talk 2"), "page_namespace": 1, "page_title": "Talk:Київ"}]
    other = [{**_revision(31, None, "file page"), "page_namespace": 0, "upload": True}]
    return export_xml({5: article, 6: talk, 8: other}, "ukwiki", version=version)


@pytest.mark.parametrize("version", ["0.10", "0.11"])
def test_xml_reader_takes_each_element_as_mediawiki_writes_it(tmp_path, version):
    xml = tmp_path / "ukwiki-20220801-pages-meta-history1.xml"
    xml.write_text(_export_pages(version), encoding="utf-8")
    rows = {r["revision_id"]: r for r in map(as_dict, dumps.parse_xml(str(xml), {11, 12, 13, 14, 15, 16, 22, 31, 99}))}
    # 22 is on a page of namespace 1 (skipped whole); 99 is in no page
    assert sorted(rows) == [11, 12, 13, 14, 15, 16, 31]
    assert {i: r["_kind"] for i, r in rows.items()} == {11: "text", 12: "text", 13: "no_text", 14: "text",
                                                        15: "no_text", 16: "text", 31: "text"}
    first = rows[11]
    assert (first["page_id"], first["page_namespace"], first["page_title"]) == (5, 0, "Київ & Co")
    assert first["page_redirect_title"] == "Kyiv (city)" and first["revision_parent_id"] is None
    assert first["revision_timestamp"] == "2022-07-03 10:00:00.0" and first["revision_comment"] == "нова"
    assert (first["user_id"], first["user_text"], first["revision_minor_edit"]) == (7, "Someone", False)
    assert first["revision_text"] == "Перший текст" and first["revision_text_bytes"] == len("Перший текст".encode())
    assert first["revision_content_model"] == "wikitext" and first["revision_content_format"] == "text/x-wiki"
    assert len(first["revision_text_sha1"]) == 31
    # an IP editor, a minor edit, a tab and a newline in the text; no comment element: empty summary
    assert (rows[12]["user_id"], rows[12]["user_text"]) == (None, "192.0.2.7")
    assert rows[12]["revision_minor_edit"] is True and rows[12]["revision_text"] == "Другий\tтекст\n"
    assert rows[12]["revision_parent_id"] == 11 and rows[12]["revision_comment"] == ""
    # deleted text, user and comment: no text (counted), <sha1/> empty
    assert rows[13]["revision_text"] is None and rows[13]["revision_text_sha1"] is None
    assert rows[13]["user_text"] is None and rows[13]["revision_comment"] is None
    # a blanked page is an empty text; a text MediaWiki could not load is a missing one
    assert rows[14]["revision_text"] == "" and rows[14]["revision_minor_edit"] is True
    assert rows[15]["revision_text"] is None and rows[15]["revision_text_bytes"] == 40
    # the main slot's text, not the extra slot's
    assert rows[16]["revision_text"] == "Перший текст"
    assert rows[31]["revision_text"] == "file page"  # <upload> elements skipped


def test_xml_reader_ignores_elements_it_does_not_know(tmp_path):
    text = _export_pages("0.11").replace(
        "<ns>0</ns>", "<ns>0</ns>\n    <discussionthreadinginfo><ThreadSubject>x</ThreadSubject></discussionthreadinginfo>"
    ).replace("<model>wikitext</model>", "<future attr=\"1\"><id>999</id><text>not this</text></future>\n"
              "      <model>wikitext</model>").replace("</siteinfo>", "</siteinfo>\n  <logitem><id>1</id>"
              "<text>log text</text></logitem>")
    xml = tmp_path / "d.xml"
    xml.write_text(text, encoding="utf-8")
    rows = {r["revision_id"]: r for r in map(as_dict, dumps.parse_xml(str(xml), {11, 12, 999, 1}))}
    assert sorted(rows) == [11, 12]
    assert rows[11]["revision_text"] == "Перший текст" and rows[12]["revision_id"] == 12


def test_xml_reader_skips_the_texts_it_does_not_keep(tmp_path):
    # a revision that is not wanted, or on a page of another namespace, never has its text joined
    from kitrain.dumps.xmldump import _ExportReader

    joined = []

    class Recording(list):
        def append(self, item):
            joined.append(item)
            super().append(item)

    reader = _ExportReader("x", {12})
    original_start = reader.start

    def start(tag, attrs):
        original_start(tag, attrs)
        if reader.buffer is not None and tag == "text":
            reader.buffer = Recording()

    reader.start = start
    from xml.parsers import expat

    parser = expat.ParserCreate()
    parser.StartElementHandler, parser.EndElementHandler = reader.start, reader.end
    parser.CharacterDataHandler = reader.data
    parser.Parse(_export_pages("0.11").encode(), True)
    assert "".join(joined) == "Другий\tтекст\n"
    assert [as_dict(r)["revision_id"] for r in reader.rows] == [12]


def test_xml_parser_reports_broken_files_with_their_position(tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text("<mediawiki><page><title>x</title>\n<ns>0</ns><id>1</id><revision><id>2", encoding="utf-8")
    (row,) = dumps.parse_xml(str(broken), {2})
    assert row[0] == "error" and "line 2" in row[2]
    truncated = tmp_path / "t.xml.bz2"
    truncated.write_bytes(bz2.compress(("<mediawiki>" + "<page>" * 5000).encode())[:60])
    (row,) = dumps.parse_xml(str(truncated), {2})
    assert row[0] == "error" and "ends early" in row[2]
    no_id = tmp_path / "no_id.xml"
    no_id.write_text("<mediawiki>\n<page><title>x</title><ns>0</ns><id>1</id>\n<revision><text>a</text>"
                     "</revision></page></mediawiki>", encoding="utf-8")
    (row,) = dumps.parse_xml(str(no_id), {2})
    assert row[0] == "error" and "line 3: a page or revision lacks a field" in row[2]


SMALL_DUMP = (
    '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/"><page><title>Київ</title><ns>0</ns><id>5</id>'
    + "".join(f"<revision><id>{i}</id><timestamp>2022-07-01T10:00:00Z</timestamp><text>{'слово ' * 400}{i}</text>"
              "</revision>" for i in range(1, 400))
    + "</page></mediawiki>"
)


def test_xml_parser_reads_7z_like_plain_and_bz2(tmp_path):
    plain = tmp_path / "ukwiki-20221101-pages-meta-history1.xml"
    plain.write_text(SMALL_DUMP, encoding="utf-8")
    (tmp_path / "packed").mkdir()
    packed = write_7z(tmp_path / "packed" / plain.name, SMALL_DUMP)
    squeezed = tmp_path / (plain.name + ".bz2")
    squeezed.write_bytes(bz2.compress(SMALL_DUMP.encode("utf-8")))
    wanted = {1, 200, 399, 1000}
    rows = {path.suffix: list(dumps.parse_xml(str(path), wanted)) for path in (plain, packed, squeezed)}
    # the same three revisions (1000 is not in the dump), the same texts, whatever the compression
    assert [(r[0], as_dict(r)["revision_id"]) for r in rows[".xml"]] == [("text", 1), ("text", 200), ("text", 399)]
    assert [r[3:] for r in rows[".7z"]] == [r[3:] for r in rows[".xml"]] == [r[3:] for r in rows[".bz2"]]
    assert as_dict(rows[".7z"][2])["revision_text"].endswith("слово 399")


def test_7z_is_handed_over_in_bounded_pieces(tmp_path, monkeypatch):
    # py7zr hands over what it decompressed at once; the parser gets it a chunk at a time
    monkeypatch.setattr(xmldump, "CHUNK_BYTES", 4096)
    packed = write_7z(tmp_path / "d.xml", SMALL_DUMP)
    pieces = list(xmldump._chunks(str(packed)))
    assert len(pieces) > 10 and max(len(p) for p in pieces) <= 4096
    assert b"".join(pieces) == SMALL_DUMP.encode("utf-8")


def _threads() -> set[str]:
    import threading

    return {t.name for t in threading.enumerate() if t.name.startswith("7z:")}


def test_broken_7z_files_are_named_and_stop_their_reader(tmp_path):
    packed = write_7z(tmp_path / "ukwiki-20221101-pages-meta-history1.xml", SMALL_DUMP)
    truncated = tmp_path / "truncated.xml.7z"
    truncated.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
    (row,) = dumps.parse_xml(str(truncated), {1})
    assert row[0] == "error" and row[1] == str(truncated) and "not a readable .7z archive" in row[2]
    # XML broken inside a good archive: the position is named and the extraction thread ends
    broken = write_7z(tmp_path / "broken.xml", SMALL_DUMP[:5000] + "</mediawiki>" + SMALL_DUMP[5000:])
    rows = list(dumps.parse_xml(str(broken), {1, 399}))
    assert rows[-1][0] == "error" and "line 1, column" in rows[-1][2] and "mismatched tag" in rows[-1][2]
    assert not _threads()
    # a reader that stops early stops the extraction too
    chunks = xmldump._chunks(str(packed))
    next(chunks)
    chunks.close()
    assert not _threads()
    two = tmp_path / "two.xml.7z"
    import py7zr

    with py7zr.SevenZipFile(two, "w") as out:
        out.writestr(b"<mediawiki/>", "a.xml")
        out.writestr(b"<mediawiki/>", "b.xml")
    (row,) = dumps.parse_xml(str(two), {1})
    assert row[0] == "error" and "holds one XML file, this one holds 2" in row[2]


def test_listing_plan_gives_exact_files_and_total(tmp_path):
    listing = tmp_path / "listing.txt"
    listing.write_text(
        "# size path\n"
        "1000 other/mediawiki_history/2022-07/ukwiki/2022-07.ukwiki.2021.tsv.bz2\n"
        "2000 other/mediawiki_history/2022-07/ukwiki/2022-07.ukwiki.2022.tsv.bz2\n"
        "50 other/mediawiki_history/2022-07/ukwiki/2022-07.ukwiki.2020.tsv.bz2\n"
        "300 ukwiki/20220801/ukwiki-20220801-pages-meta-history1.xml-p1p9.bz2\n"
        "400 ukwiki/20220801/ukwiki-20220801-pages-meta-history2.xml-p10p20.bz2\n"
        "999 ukwiki/20220801/ukwiki-20220801-pages-meta-history1.xml-p1p9.7z\n"
        "30 ukwiki/20220801/dumpstatus.json\n"
        "700 ukwiki/20220701/ukwiki-20220701-pages-meta-history1.xml-p1p9.bz2\n"
        "800 ukwiki/20220901/ukwiki-20220901-pages-meta-history1.xml-p1p9.bz2\n"
        "90 ukwiki/20220720/ukwiki-20220720-pages-meta-current.xml.bz2\n"
    )
    result = dumps.plan("uk", "2022-07", "2022-01-01", "2022-08-01", listing=dumps.read_listing(str(listing)))
    # the dump the collection reads: the first full-history dump on or after the window's end
    assert result["xml_dump"] == "20220801" and result["wait_for"] is None
    assert [f["local"] for f in result["files"]] == [
        "mediawiki_history/2022-07/ukwiki/2022-07.ukwiki.2022.tsv.bz2",
        "xmldumps/ukwiki/20220801/ukwiki-20220801-pages-meta-history1.xml-p1p9.bz2",
        "xmldumps/ukwiki/20220801/ukwiki-20220801-pages-meta-history2.xml-p10p20.bz2",
        "xmldumps/ukwiki/20220801/dumpstatus.json",
    ]
    assert result["files"][0]["url"] == \
        "https://dumps.wikimedia.org/other/mediawiki_history/2022-07/ukwiki/2022-07.ukwiki.2022.tsv.bz2"
    assert result["files"][1]["url"] == \
        "https://dumps.wikimedia.org/ukwiki/20220801/ukwiki-20220801-pages-meta-history1.xml-p1p9.bz2"
    # the dump's status file, last: the sensor checks the XML files against it
    assert result["files"][-1]["kind"] == "status" and result["files"][-1]["size"] == 30
    assert result["files"][-1]["url"] == "https://dumps.wikimedia.org/ukwiki/20220801/dumpstatus.json"
    assert result["total_bytes"] == 2730
    # the same dump as .7z: only the part the listing has in that format
    packed = dumps.plan("uk", "2022-07", "2022-01-01", "2022-08-01",
                        listing=dumps.read_listing(str(listing)), xml_format="7z")
    assert [f["local"] for f in packed["files"] if f["kind"] == "xml"] == \
        ["xmldumps/ukwiki/20220801/ukwiki-20220801-pages-meta-history1.xml-p1p9.7z"]
    assert packed["total_bytes"] == 2000 + 999 + 30
    pinned = dumps.plan("uk", "2022-07", "2022-01-01", "2022-08-01", listing=dumps.read_listing(str(listing)),
                        xml_dump="20220901")
    # a status file the listing does not have: listed without a size, left out of the total
    assert pinned["xml_dump"] == "20220901" and pinned["total_bytes"] == 2800
    assert pinned["files"][-1]["local"] == "xmldumps/ukwiki/20220901/dumpstatus.json"
    assert pinned["files"][-1]["size"] is None
    # a window past the listing's newest full-history dump: the day to wait for
    later = dumps.plan("uk", "2022-07", "2022-01-01", "2022-07-08", listing=dumps.read_listing(str(listing)))
    assert later["xml_dump"] == "20220801"
    waiting = dumps.plan("uk", "2022-09", "2022-04-01", "2022-09-20", listing={
        "other/mediawiki_history/2022-09/ukwiki/2022-09.ukwiki.2022.tsv.bz2": 5, **dumps.read_listing(str(listing))})
    assert waiting["wait_for"] == "20221001" and [f["kind"] for f in waiting["files"]] == ["history"]


def test_plan_command_without_listing(capsys, tmp_path):
    assert cli.main(["dumps", "plan", "--lang", "uk", "--snapshot", "2022-07"]) == 0
    out = capsys.readouterr().out
    assert "window 2022-01-01..2022-08-01, XML dump 20220801" in out
    assert "other/mediawiki_history/2022-07/ukwiki/2022-07.ukwiki.all-time.tsv.bz2" in out
    assert "mediawiki_history/2022-07/ukwiki/2022-07.ukwiki.2022-03.tsv.bz2" in out
    assert "https://dumps.wikimedia.org/ukwiki/20220801/ukwiki-20220801-pages-meta-history*.xml-p*p*.bz2\t" \
           "xmldumps/ukwiki/20220801/ukwiki-20220801-pages-meta-history" in out
    assert "https://dumps.wikimedia.org/ukwiki/20220801/dumpstatus.json\txmldumps/ukwiki/20220801/dumpstatus.json\t" \
           "# the dump's status: get it once its metahistory jobs are done" in out
    assert "# wait" not in out
    # a dump not made yet: the day to wait for
    today = __import__("datetime").date.today()
    snapshot = f"{today.year:04d}-{today.month:02d}"
    assert cli.main(["dumps", "plan", "--lang", "uk", "--snapshot", snapshot, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["wait_for"] == result["xml_dump"] > today.strftime("%Y%m%d")
    # what a collection from --dumps-dir would read, or why it cannot
    folder = _dump_folder(tmp_path, "ukwiki", "20220801")
    history = tmp_path / "mediawiki_history" / "2022-07" / "ukwiki"
    history.mkdir(parents=True)
    (history / "2022-07.ukwiki.all-time.tsv.bz2").write_bytes(b"")
    assert cli.main(["dumps", "plan", "--lang", "uk", "--snapshot", "2022-07", "--dumps-dir", str(tmp_path)]) == 0
    assert f"# --dumps-dir {tmp_path}: ready; a collection reads XML dump 20220801 (1 file(s)) and 1 history " \
           "file(s)" in capsys.readouterr().out
    for entry in folder.iterdir():
        entry.unlink()
    assert cli.main(["dumps", "plan", "--lang", "uk", "--snapshot", "2022-07", "--dumps-dir", str(tmp_path)]) == 0
    assert "no full-history XML dump of ukwiki dated on or after 2022-08-01" in capsys.readouterr().out
    # refused before anything: a bad language, a pinned dump before the window's end
    assert cli.main(["dumps", "plan", "--lang", "xx", "--snapshot", "2022-07"]) == 2
    assert cli.main(["dumps", "plan", "--lang", "uk", "--snapshot", "2022-07", "--xml-dump", "20220720"]) == 2
    assert "XML dump 20220720 is dated before the end of the window, 2022-08-01" in capsys.readouterr().err


def test_dumps_source_needs_its_directory():
    with pytest.raises(ConfigError, match="source 'dumps' needs dumps_dir"):
        CollectConfig(lang="uk", source="dumps")


# -- collection from dump files --------------------------------------------------------------------

@pytest.fixture(scope="module")
def dumps_dir(demo_source, tmp_path_factory):
    """uk: yearly .bz2 files in the 78-field layout and XML in two .7z parts; ja: one plain
    all-time file of 70 fields and one plain XML part (.bz2 XML: the broken-input tests).

    Beside the dump of 08-01 that the windows need, uk has the dumps a user would find next to it:
    the full-history dump of 07-01 (without the revisions made after it), the runs of the 20th
    (no full history) and the full-history dump of 09-01, here broken: reading it would fail.
    """
    out = tmp_path_factory.mktemp("dumps")
    write_history_dump(demo_source, out, "ukwiki", split="year", columns=78, compress=True)
    write_history_dump(demo_source, out, "jawiki", split="all-time", columns=70, compress=False)
    write_xml_dump(demo_source, out, "ukwiki", parts=2, compress="7z")
    write_xml_dump(demo_source, out, "jawiki", parts=1, compress=False)
    write_xml_dump(demo_source, out, "ukwiki", dump_date="20220701", parts=1,
                   edit=lambda rev: rev if rev["revision_timestamp"] < "2022-07-01" else None)
    for date in ("20220720", "20220820"):
        _dump_folder(out, "ukwiki", date, "pages-meta-current.xml.bz2")
    _dump_folder(out, "ukwiki", "20220901", "pages-meta-history1.xml-p1p9")
    return out


def _collect(spark, dumps_root: Path, run_dir: Path, lang: str, mode: str) -> dict:
    cfg = CollectConfig(lang=lang, mode=mode, source="dumps", dumps_dir=str(dumps_root))
    return run_collect(spark, cfg, str(run_dir))


@pytest.mark.spark
def test_a_content_table_export_gives_the_rows_of_the_classic_dump(spark, demo_source, demo_run, tmp_path):
    # ja's texts as a content-table export (mediawiki_content_history/jawiki/2022-08-01/, parts
    # named without pages-meta-history, Spark's _SUCCESS and no dumpstatus.json): the same rows
    from tests.test_readiness import as_content_export

    out = tmp_path / "dumps"
    write_history_dump(demo_source, out, "jawiki", split="all-time", columns=78, compress=True)
    write_xml_dump(demo_source, out, "jawiki", parts=2, compress=True)
    export = as_content_export(out, "jawiki", "20220801", "2022-08-01")
    (export / "_SUCCESS").write_bytes(b"")
    report = _collect(spark, out, tmp_path / "run", "ja", "test")
    assert report["source"]["xml_dump"] == "20220801"
    assert all("/mediawiki_content_history/jawiki/2022-08-01/" in path for path in report["source"]["xml_files"])
    got = pd.read_parquet(RunPaths(str(tmp_path / "run")).collected("full_test", "test", "ja"))
    want = pd.read_parquet(RunPaths(str(demo_run[0])).collected("full_test", "test", "ja"))
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.spark
@pytest.mark.parametrize(("lang", "mode"), [("uk", "train"), ("uk", "test"), ("ja", "train")])
def test_dumps_give_exactly_the_rows_of_the_parquet_copies(spark, demo_run, dumps_dir, tmp_path, lang, mode):
    parquet_run, parquet_reports = demo_run
    report = _collect(spark, dumps_dir, tmp_path / "run", lang, mode)
    expected = parquet_reports[lang, mode]
    assert [(s["step"], s["rows"]) for s in report["steps"]] == [(s["step"], s["rows"]) for s in expected["steps"]]
    prefix = "all_users" if mode == "train" else "full_test"
    got = pd.read_parquet(RunPaths(str(tmp_path / "run")).collected(prefix, mode, lang))
    want = pd.read_parquet(RunPaths(str(parquet_run)).collected(prefix, mode, lang))
    assert len(got) > 0
    pd.testing.assert_frame_equal(got, want)
    source = report["source"]
    assert source["source"] == "dumps" and source["xml_dump"] == "20220801"
    assert all("/20220801/" in path for path in source["xml_files"])
    assert source["history_files"] and source["xml_files"]
    assert source["revisions_with_text"] + source["revisions_without_text"] + source["revisions_not_in_dump"] \
        == source["wanted_revisions"]


@pytest.mark.spark
@pytest.mark.parametrize("broken", ["first stream", "later stream"])
def test_truncated_history_bz2_names_the_file(spark, demo_source, tmp_path, broken):
    out = tmp_path / "dumps"
    (path,) = write_history_dump(demo_source, out, "ukwiki", split="all-time", compress=True)
    write_xml_dump(demo_source, out, "ukwiki", parts=1)
    if broken == "first stream":
        # cut in the middle of the only bz2 stream: even the first line cannot be read
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        # a complete first stream (the first line, as in multi-stream dumps) and a cut second
        # one: the layout check reads fine, Spark's read of the whole file fails
        first, rest = bz2.decompress(path.read_bytes()).split(b"\n", 1)
        tail = bz2.compress(rest)
        path.write_bytes(bz2.compress(first + b"\n") + tail[: len(tail) // 2])
    with pytest.raises(DumpError, match=f"cannot read {path}: truncated or corrupt"):
        _collect(spark, out, tmp_path / "run", "uk", "test")
    assert not Path(RunPaths(str(tmp_path / "run")).collected("full_test", "test", "uk")).exists()


@pytest.mark.spark
def test_tsv_row_with_wrong_field_count_names_file_and_line(spark, demo_source, tmp_path):
    out = tmp_path / "dumps"
    (path,) = write_history_dump(demo_source, out, "ukwiki", split="all-time", compress=False)
    write_xml_dump(demo_source, out, "ukwiki", parts=1)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[-3] = lines[-3].rsplit("\t", 1)[0]  # a late row (inside the window) loses its last field
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DumpError, match=rf"{path}, line {len(lines) - 2}: 73 fields where the file's first line has 74"):
        _collect(spark, out, tmp_path / "run", "uk", "test")


@pytest.mark.spark
def test_missing_xml_texts_are_counted_not_silent(spark, demo_source, demo_run, tmp_path):
    parquet_run, parquet_reports = demo_run
    out = tmp_path / "dumps"
    write_history_dump(demo_source, out, "ukwiki", split="all-time")
    collected = pd.read_parquet(RunPaths(str(parquet_run)).collected("full_test", "test", "uk"))
    row = collected.iloc[0]
    no_text, absent = int(row["revision_id"]), int(row["revision_parent_id"])

    def edit(rev):
        # one revision's text deleted in the dump, another revision (a parent) absent from it
        if rev["revision_id"] == absent:
            return None
        if rev["revision_id"] == no_text:
            return {**rev, "revision_text": None}
        return rev

    write_xml_dump(demo_source, out, "ukwiki", parts=1, edit=edit)
    report = _collect(spark, out, tmp_path / "run", "uk", "test")
    missing = {s["step"]: s for s in report["steps"]}["missing_text"]
    baseline = {s["step"]: s for s in parquet_reports["uk", "test"]["steps"]}["missing_text"]
    assert missing["missing_revision_text"] >= baseline["missing_revision_text"] + 1
    assert missing["missing_parent_text"] >= baseline["missing_parent_text"] + 1
    assert missing["dropped"] >= baseline["dropped"] + 1
    assert report["source"]["revisions_without_text"] >= 1
    assert report["source"]["revisions_not_in_dump"] >= 1
    quality = json.loads(Path(RunPaths(str(tmp_path / "run")).collect_quality("full_test", "test", "uk")).read_text())
    assert quality["source"]["revisions_without_text"] == report["source"]["revisions_without_text"]


@pytest.mark.spark
def test_truncated_xml_bz2_names_the_file(spark, demo_source, tmp_path):
    out = tmp_path / "dumps"
    write_history_dump(demo_source, out, "ukwiki", split="all-time")
    (path,) = write_xml_dump(demo_source, out, "ukwiki", parts=1, compress=True)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DumpError, match=f"{path}: the compressed file ends early"):
        _collect(spark, out, tmp_path / "run", "uk", "test")


@pytest.mark.spark
def test_cli_collects_from_dumps(dumps_dir, tmp_path, capsys):
    code = cli.main(["collect", "-l", "ja", "-m", "test", "--dumps-dir", str(dumps_dir),
                     "--run-dir", str(tmp_path / "run"), "--master", "local[2]"])
    assert code == 0
    assert Path(RunPaths(str(tmp_path / "run")).collected("full_test", "test", "ja")).is_dir()
    shutil.rmtree(tmp_path / "run")


# The real lines behind these rows: enwiki lines of the 70-field layout quoted in the tests of a
# public third-party reader of these dumps: a bot's AWB edit summary holding ``\t`` and ``\n``
# (escaped by the writer), ``event_user_groups`` ``bot``, ``event_user_is_bot_by`` ``name,group``,
# ``extendedconfirmed,ipblock-exempt``, ``2001-01-15 19:27:13.0`` timestamps, empty fields for
# nulls and empty arrays. Positions of the newer layouts: MediawikiEvent.toTSVLine at each commit.
HISTORY_ROW = {
    "wiki_db": "ukwiki", "event_log_id": 555, "event_entity": "revision", "event_type": "create",
    "event_timestamp": "2022-07-02 10:00:00.0",
    "event_comment": "/* top */ fixes, replaced: | nationality\t= [[X]]\n| → |\r C:\\dir\\",
    "event_user_id": 42, "event_user_central_id": 99, "event_user_text_historical": "Bot\tOne",
    "event_user_text": "Bot One", "event_user_groups": ["bot", "a,b", "tab\there"],
    "event_user_groups_historical": [], "event_user_is_bot_by": ["name", "group"],
    "event_user_is_anonymous": False, "event_user_is_temporary": True, "event_user_is_permanent": False,
    "event_user_is_cross_wiki": False, "event_user_registration_timestamp": "2011-12-30 00:06:00.0",
    "event_user_revision_count": 1582672, "page_id": 62661703, "page_title": "Заголовок\nдругий",
    "page_namespace": 0, "user_id": 7, "user_central_id": 8, "user_is_anonymous": False,
    "user_is_temporary": False, "user_is_permanent": True, "revision_id": 1136732310,
    "revision_parent_id": None, "revision_minor_edit": False, "revision_text_bytes": 5750,
    "revision_text_bytes_diff": -3, "revision_text_sha1": "b8tfg7j7xkyxfhj7e5qluocr33clvyb",
    "revision_is_identity_reverted": True, "revision_tags": [],
}


#: The comment as the writer prints it: TAB, LF and CR as two characters, backslashes as they are.
ESCAPED_COMMENT = r"/* top */ fixes, replaced: | nationality\t= [[X]]\n| → |\r C:\dir" + "\\"
REGISTERED = "2011-12-30 00:06:00.0"


@pytest.mark.parametrize(("width", "positions"), [
    # 0-based positions, counted off MediawikiEvent.toTSVLine at each layout's commit
    (70, {4: ESCAPED_COMMENT, 5: "42", 17: "false", 18: REGISTERED, 23: "62661703", 36: "7",
          52: "1136732310"}),
    (74, {17: "false", 18: "true", 19: "false", 20: REGISTERED, 25: "62661703", 38: "7", 51: "false",
          52: "true", 56: "1136732310"}),
    (76, {6: "99", 18: "false", 19: "true", 20: "false", 21: REGISTERED, 26: "62661703", 39: "7", 40: "8",
          53: "false", 54: "true", 58: "1136732310"}),
    (77, {6: "99", 19: "true", 20: "false", 21: "false", 22: REGISTERED, 27: "62661703", 40: "7", 41: "8",
          54: "false", 55: "true", 59: "1136732310"}),
    (78, {1: "555", 5: ESCAPED_COMMENT, 6: "42", 7: "99", 19: "false", 20: "true", 21: "false", 22: "false",
          23: REGISTERED, 28: "62661703", 41: "7", 42: "8", 55: "false", 56: "true", 60: "1136732310"}),
])
def test_the_writer_puts_each_column_where_refinery_does(width, positions):
    fields = tsv_line(HISTORY_ROW, width).split("\t")
    assert len(fields) == width and fields[0] == "ukwiki"
    assert {index: fields[index] for index in positions} == positions


@pytest.mark.spark
@pytest.mark.parametrize("width", [70, 74, 76, 77, 78])
def test_tsv_layouts_and_the_writers_escaping(spark, tmp_path, width):
    path = tmp_path / f"{width}.tsv"
    rows = [HISTORY_ROW, {**HISTORY_ROW, "revision_id": 8, "event_timestamp": "2021-01-01 00:00:00.0"},
            {**HISTORY_ROW, "revision_id": 9, "event_timestamp": "01.01.2021"},
            {**HISTORY_ROW, "revision_id": 10, "event_timestamp": "2022-07-03 11:00:00.123456789"}]
    path.write_text("".join(tsv_line(row, width) + "\n" for row in rows), encoding="utf-8")
    # written escaped: no tab, newline or carriage return inside a field
    assert path.read_text(encoding="utf-8").count("\t") == 4 * (width - 1)
    assert path.read_text(encoding="utf-8").count("\n") == 4 and "\r" not in path.read_text(encoding="utf-8")
    frame = dumps.read_history(spark, [dumps.HistoryFile(str(path), "all-time")], "2022-01-01")
    got = {r["revision_id"]: r.asDict() for r in frame.collect()}
    frame.unpersist()
    # the row before the window start is not read; a malformed timestamp cannot be placed, so its
    # row is read for the collection to count and drop; nine fraction digits are a real time
    assert sorted(got) == [9, 10, 1136732310]
    assert [r["revision_id"] for r in frame.where(__import__("kitrain.spark").spark.malformed_timestamp()).collect()] == [9]
    row = got[1136732310]
    assert row["event_comment"] == "/* top */ fixes, replaced: | nationality\t= [[X]]\n| → |\r C:\\dir\\"
    assert row["event_user_text_historical"] == "Bot\tOne" and row["page_title"] == "Заголовок\nдругий"
    # arrays: an escaped comma and an escaped tab stay inside their item; empty field: empty array
    assert row["event_user_groups"] == ["bot", "a,b", "tab\there"]
    assert row["event_user_is_bot_by"] == ["name", "group"] and row["revision_tags"] == []
    assert row["event_user_groups_historical"] == [] and row["user_groups"] == []
    assert (row["event_user_id"], row["page_id"], row["page_namespace"], row["revision_text_bytes_diff"]) == \
        (42, 62661703, 0, -3)
    assert row["revision_parent_id"] is None and row["revision_is_identity_reverted"] is True
    assert row["event_user_is_anonymous"] is False and row["event_timestamp"] == "2022-07-02 10:00:00.0"
    assert row["revision_text_sha1"] == "b8tfg7j7xkyxfhj7e5qluocr33clvyb"
    flags = {name: row[name] for name in ("event_user_is_temporary", "event_user_is_permanent",
                                          "user_is_temporary", "user_is_permanent")}
    assert flags == ({name: None for name in flags} if width == 70 else
                     {"event_user_is_temporary": True, "event_user_is_permanent": False,
                      "user_is_temporary": False, "user_is_permanent": True})
    # the columns the collection does not use are read and dropped
    assert not {"event_log_id", "event_user_central_id", "user_central_id", "event_user_is_cross_wiki"} & set(row)
    assert list(row) == [name for name, _ in dumps.TABLE_COLUMNS]


@pytest.mark.spark
def test_unknown_layouts_and_bad_values_name_file_and_line(spark, tmp_path):
    unknown = tmp_path / "75.tsv"
    unknown.write_text(tsv_line(HISTORY_ROW, 74) + "\tx\n", encoding="utf-8")
    with pytest.raises(DumpError, match=rf"{unknown}, line 1: 75 fields, not a known mediawiki_history dump "
                                        rf"layout \(70, 74, 76, 77, 78 fields\)"):
        dumps.read_history(spark, [dumps.HistoryFile(str(unknown), "all-time")], "2022-01-01")
    bad = tmp_path / "bad.tsv"
    # a boolean where a number belongs: a dropped column of the layout is checked too
    bad.write_text(tsv_line(HISTORY_ROW, 78) + "\n" + tsv_line({**HISTORY_ROW, "event_log_id": "seven"}, 78) + "\n",
                   encoding="utf-8")
    with pytest.raises(DumpError, match=rf"{bad}, line 2: a number or boolean field does not parse"):
        dumps.read_history(spark, [dumps.HistoryFile(str(bad), "all-time")], "2022-01-01")
