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
from kitrain.dumps import DumpError
from kitrain.paths import RunPaths
from tests.dumpfiles import write_7z, write_history_dump, write_xml_dump


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


def test_xml_files_take_the_newest_dump_of_the_month(tmp_path):
    for date in ("20221101", "20221120", "20221201"):
        folder = tmp_path / "xmldumps" / "ukwiki" / date
        folder.mkdir(parents=True)
        (folder / f"ukwiki-{date}-pages-meta-history1.xml-p1p9.bz2").write_bytes(b"")
        (folder / f"ukwiki-{date}-pages-meta-current.xml.bz2").write_bytes(b"")
    assert [Path(p).name for p in dumps.xml_files(str(tmp_path), "ukwiki", "2022-11")] == \
        ["ukwiki-20221120-pages-meta-history1.xml-p1p9.bz2"]
    with pytest.raises(DumpError, match="no XML dump of ukwiki from 2022-10 .*found: .*20221101"):
        dumps.xml_files(str(tmp_path), "ukwiki", "2022-10")
    # each part is read once: .bz2 where the site offers both, .7z where only that is there
    december = tmp_path / "xmldumps" / "ukwiki" / "20221201"
    (december / "ukwiki-20221201-pages-meta-history1.xml-p1p9.7z").write_bytes(b"")
    (december / "ukwiki-20221201-pages-meta-history2.xml-p10p20.7z").write_bytes(b"")
    assert [Path(p).name for p in dumps.xml_files(str(tmp_path), "ukwiki", "2022-12")] == \
        ["ukwiki-20221201-pages-meta-history1.xml-p1p9.bz2", "ukwiki-20221201-pages-meta-history2.xml-p10p20.7z"]
    for entry in december.iterdir():
        entry.unlink()
    with pytest.raises(DumpError, match=r"no ukwiki-20221201-pages-meta-history\*\.xml\[\.bz2\|\.7z\] file"):
        dumps.xml_files(str(tmp_path), "ukwiki", "2022-12")


def test_xml_parser_keeps_wanted_revisions_and_reports_missing_text(tmp_path):
    xml = tmp_path / "ukwiki-20221101-pages-meta-history1.xml"
    xml.write_text(
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.11/"><page><title>Київ &amp; Co</title>'
        "<ns>0</ns><id>5</id>"
        "<revision><id>10</id><timestamp>2022-07-01T10:00:00Z</timestamp><text bytes=\"3\">abc</text></revision>"
        "<revision><id>11</id><parentid>10</parentid><timestamp>2022-07-02T10:00:00Z</timestamp>"
        '<text bytes="0" deleted="deleted" /></revision>'
        "<revision><id>12</id><parentid>11</parentid><timestamp>2022-07-03T10:00:00Z</timestamp>"
        "<text>zzz</text></revision></page></mediawiki>",
        encoding="utf-8",
    )
    rows = list(dumps.parse_xml(str(xml), {10, 11}))
    # revision 12 is not wanted; 11 has no text in the dump
    assert [(r[0], r[6]) for r in rows] == [("text", 10), ("no_text", 11)]
    assert rows[0][3:6] == (5, 0, "Київ & Co")
    assert rows[0][8] == "2022-07-01 10:00:00.0" and rows[0][12] == "abc"
    assert rows[1][7] == 10  # parent id


def test_xml_parser_reports_broken_files_with_their_position(tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text("<mediawiki><page><title>x</title>\n<ns>0</ns><id>1</id><revision><id>2", encoding="utf-8")
    (row,) = dumps.parse_xml(str(broken), {2})
    assert row[0] == "error" and "line 2" in row[2]
    truncated = tmp_path / "t.xml.bz2"
    truncated.write_bytes(bz2.compress(("<mediawiki>" + "<page>" * 5000).encode())[:60])
    (row,) = dumps.parse_xml(str(truncated), {2})
    assert row[0] == "error" and "ends early" in row[2]


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
    assert [(r[0], r[6]) for r in rows[".xml"]] == [("text", 1), ("text", 200), ("text", 399)]
    assert [r[3:] for r in rows[".7z"]] == [r[3:] for r in rows[".xml"]] == [r[3:] for r in rows[".bz2"]]
    assert rows[".7z"][2][12].endswith("слово 399")


def test_7z_is_handed_over_in_bounded_pieces(tmp_path, monkeypatch):
    # py7zr hands over what it decompressed at once; the parser gets it a chunk at a time
    monkeypatch.setattr(dumps, "CHUNK_BYTES", 4096)
    packed = write_7z(tmp_path / "d.xml", SMALL_DUMP)
    pieces = list(dumps._chunks(str(packed)))
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
    chunks = dumps._chunks(str(packed))
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
        "300 ukwiki/20220701/ukwiki-20220701-pages-meta-history1.xml-p1p9.bz2\n"
        "400 ukwiki/20220701/ukwiki-20220701-pages-meta-history2.xml-p10p20.bz2\n"
        "999 ukwiki/20220701/ukwiki-20220701-pages-meta-history1.xml-p1p9.7z\n"
        "700 ukwiki/20220601/ukwiki-20220601-pages-meta-history1.xml-p1p9.bz2\n"
    )
    result = dumps.plan("uk", "2022-07", "2022-01-01", "2022-08-01", "2022-07",
                        listing=dumps.read_listing(str(listing)))
    assert [f["local"] for f in result["files"]] == [
        "mediawiki_history/2022-07/ukwiki/2022-07.ukwiki.2022.tsv.bz2",
        "xmldumps/ukwiki/20220701/ukwiki-20220701-pages-meta-history1.xml-p1p9.bz2",
        "xmldumps/ukwiki/20220701/ukwiki-20220701-pages-meta-history2.xml-p10p20.bz2",
    ]
    assert result["files"][0]["url"] == \
        "https://dumps.wikimedia.org/other/mediawiki_history/2022-07/ukwiki/2022-07.ukwiki.2022.tsv.bz2"
    assert result["total_bytes"] == 2700
    # the same dump as .7z: only the part the listing has in that format
    packed = dumps.plan("uk", "2022-07", "2022-01-01", "2022-08-01", "2022-07",
                        listing=dumps.read_listing(str(listing)), xml_format="7z")
    assert [f["local"] for f in packed["files"] if f["kind"] == "xml"] == \
        ["xmldumps/ukwiki/20220701/ukwiki-20220701-pages-meta-history1.xml-p1p9.7z"]
    assert packed["total_bytes"] == 2000 + 999


def test_plan_command_without_listing(capsys):
    assert cli.main(["dumps", "plan", "--lang", "uk", "--snapshot", "2022-07"]) == 0
    out = capsys.readouterr().out
    assert "window 2022-01-01..2022-08-01" in out
    assert "other/mediawiki_history/2022-07/ukwiki/2022-07.ukwiki.all-time.tsv.bz2" in out
    assert "mediawiki_history/2022-07/ukwiki/2022-07.ukwiki.2022-03.tsv.bz2" in out
    assert "xmldumps/ukwiki/202207DD/ukwiki-202207DD-pages-meta-history" in out
    # a bad language stops before anything
    assert cli.main(["dumps", "plan", "--lang", "xx", "--snapshot", "2022-07"]) == 2


def test_dumps_source_needs_its_directory():
    with pytest.raises(ConfigError, match="source 'dumps' needs dumps_dir"):
        CollectConfig(lang="uk", source="dumps")


# -- collection from dump files --------------------------------------------------------------------

@pytest.fixture(scope="module")
def dumps_dir(demo_source, tmp_path_factory):
    """uk: yearly .bz2 files in the 74-column layout and XML in two .7z parts; ja: one plain
    all-time file of 70 columns and one plain XML part (.bz2 XML: the broken-input tests)."""
    out = tmp_path_factory.mktemp("dumps")
    write_history_dump(demo_source, out, "ukwiki", split="year", columns=74, compress=True)
    write_history_dump(demo_source, out, "jawiki", split="all-time", columns=70, compress=False)
    write_xml_dump(demo_source, out, "ukwiki", parts=2, compress="7z")
    write_xml_dump(demo_source, out, "jawiki", parts=1, compress=False)
    return out


def _collect(spark, dumps_root: Path, run_dir: Path, lang: str, mode: str) -> dict:
    cfg = CollectConfig(lang=lang, mode=mode, source="dumps", dumps_dir=str(dumps_root))
    return run_collect(spark, cfg, str(run_dir))


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
    assert source["source"] == "dumps"
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


@pytest.mark.spark
def test_tsv_fields_arrays_nulls_and_both_layouts(spark, tmp_path):
    from kitrain.schema import HISTORY_COLUMNS, HISTORY_EXTRA_COLUMNS

    names = [name for name, _ in HISTORY_COLUMNS + HISTORY_EXTRA_COLUMNS]

    def line(width, **values):
        return "\t".join(values.get(name, "") for name in names[:width])

    row = {"wiki_db": "ukwiki", "event_entity": "revision", "event_timestamp": "2022-07-02 10:00:00.0",
           "revision_id": "7", "revision_tags": "a\\,b,mobile edit", "event_user_is_anonymous": "true",
           "page_namespace": "0"}
    for width in (70, 74):
        path = tmp_path / f"{width}.tsv"
        extra = {"user_is_permanent": "false"} if width == 74 else {}
        path.write_text(line(width, **row, **extra) + "\n" + line(width, **{**row, "revision_id": "8",
                        "event_timestamp": "2021-01-01 00:00:00.0"}) + "\n"
                        + line(width, **{**row, "revision_id": "9", "event_timestamp": "01.01.2021"}) + "\n",
                        encoding="utf-8")
        rows = dumps.read_history(spark, [dumps.HistoryFile(str(path), "all-time")], "2022-01-01").collect()
        # the row before the window start is not read; a malformed timestamp cannot be placed, so
        # its row is read for the collection to count and drop
        assert sorted(r["revision_id"] for r in rows) == [7, 9]
        got = next(r for r in rows if r["revision_id"] == 7)
        # an escaped comma stays inside its item
        assert got["revision_tags"] == ["a,b", "mobile edit"]
        assert got["revision_id"] == 7 and got["event_user_is_anonymous"] is True
        # empty fields: null, an empty array, and the empty edit summary
        assert got["revision_parent_id"] is None and got["event_user_groups"] == []
        assert got["event_comment"] == ""
        assert got["user_is_permanent"] is (False if width == 74 else None)
    bad = tmp_path / "bad.tsv"
    bad.write_text(line(70, **{**row, "revision_id": "seven"}) + "\n", encoding="utf-8")
    with pytest.raises(DumpError, match=rf"{bad}, line 1: a number or boolean field does not parse"):
        dumps.read_history(spark, [dumps.HistoryFile(str(bad), "all-time")], "2022-01-01")
