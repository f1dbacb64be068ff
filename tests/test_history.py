"""The gate's history page, from records written by hand.

Four runs of three snapshots: one promoted, two held, one forced; two runs of the same snapshot
whose evaluation times are written with different UTC offsets (their strings sort the other way
round) and whose file names sort the other way round too; a snapshot gated last (a backfill), so
evaluation time alone would misorder it; two languages, one missing from a run; null figures.
Beside them: files that are no records. Every expected value is written here, never taken from
kitrain. The page is parsed with html.parser, as the run report's is in test_evaluate_numbers.py.
"""

from __future__ import annotations

import html
import json
import logging
import os
from html.parser import HTMLParser
from pathlib import Path

import pytest

from kitrain import cli
from kitrain.history import HistoryError, current_name, read_records, render_history, run_history
from kitrain.report import PALETTE

HOSTILE = '<script>alert("x")</script>'
LIMITS = {"max_auc_drop": 0.01, "max_language_auc_drop": 0.03, "max_dir_increase": 0.1,
          "min_language_rows": 10000}


def metrics(roc, pr, anon_pr, di, languages):
    """A METRICS block; ``languages`` maps a wiki to its ROC AUC."""
    return {"n": 1200, "anonymous_n": 300, "roc_auc": roc, "pr_at_recall": pr,
            "anonymous": {"roc_auc": 0.7, "pr_at_recall": anon_pr}, "disparate_impact": di,
            "languages": {w: {"n": 600, "anonymous_n": 150, "roc_auc": auc, "pr_at_recall": 0.5,
                              "anonymous": {"roc_auc": None, "pr_at_recall": None}}
                          for w, auc in languages.items()}}


def record(name, snapshot, run_id, evaluated_at, decision, reasons, compared_with, new):
    return {"kitrain": "0.1.0", "name": name, "snapshot": snapshot, "run_id": run_id,
            "run_dir": f"/runs/{snapshot}", "evaluated_at": evaluated_at, "split": "full_test",
            "decision": decision, "reasons": reasons,
            "bundle": None if decision == "held" else f"bundles/{name}", "compared_with": compared_with,
            "limits": LIMITS, "new": new, "current": None if compared_with is None else new}


# In the order the page must show them: by snapshot, then by evaluation time.
MAY = record("2022-05__scheduled__2022-06-01T00_00_00", "2022-05", "scheduled__2022-06-01T00:00:00+00:00",
             "2026-06-02T03:00:00+00:00", "promoted", [], None, metrics(0.8, 0.4, 0.3, 2.5, {"dewiki": 0.78, "ukwiki": 0.82}))
JULY_HELD = record("2022-07__scheduled__2022-08-01T00_00_00", "2022-07",
                   "scheduled__2022-08-01T00:00:00+00:00",
                   "2026-08-02T05:00:00+02:00",  # 03:00 UTC: before JULY_FORCED though its string sorts after
                   "held", [f"reason one {HOSTILE}", "reason two"], MAY["name"],
                   metrics(0.79, 0.41, 0.25, 1.9, {"dewiki": None, "ukwiki": 0.81}))
JULY_FORCED = record("2022-07__manual__2022-08-09T10_00_00", "2022-07", "manual__2022-08-09T10:00:00+00:00",
                     "2026-08-02T04:00:00+00:00", "forced", ["forced by the operator"], MAY["name"],
                     metrics(0.81, 0.45, 0.35, 1.5, {"dewiki": 0.8, "ukwiki": 0.83}))
JUNE = record("2022-06__manual__hostile", "2022-06", f"manual__{HOSTILE}",
              "2026-09-01T12:00:00+00:00",  # gated after all the others: a backfill
              "held", ["overall ROC AUC 0.712 is 0.098 below the current model's 0.810 (max_auc_drop 0.01)"],
              JULY_FORCED["name"], metrics(0.712, None, 0.2, None, {"ukwiki": 0.7}))  # dewiki not evaluated
RECORDS = [MAY, JUNE, JULY_HELD, JULY_FORCED]


# the runs table's rows, cell by cell
EXPECTED_ROWS = [
    ["2022-05", "scheduled__2022-06-01T00:00:00+00:00", "2026-06-02T03:00:00+00:00", "promoted", "",
     "full_test", "1200", "0.800", "0.400", "0.300", "2.500", "–", ""],
    ["2022-06", f"manual__{HOSTILE}", "2026-09-01T12:00:00+00:00", "held",
     "overall ROC AUC 0.712 is 0.098 below the current model's 0.810 (max_auc_drop 0.01)",
     "full_test", "1200", "0.712", "–", "0.200", "–", JULY_FORCED["name"], ""],
    ["2022-07", "scheduled__2022-08-01T00:00:00+00:00", "2026-08-02T05:00:00+02:00", "held",
     f"reason one {HOSTILE}; reason two", "full_test", "1200", "0.790", "0.410", "0.250", "1.900",
     MAY["name"], ""],
    ["2022-07", "manual__2022-08-09T10:00:00+00:00", "2026-08-02T04:00:00+00:00", "forced",
     "forced by the operator", "full_test", "1200", "0.810", "0.450", "0.350", "1.500", MAY["name"],
     "current"],
]


def models_dir(tmp_path: Path, current: str | None = JULY_FORCED["name"]) -> Path:
    """The records, written in a shuffled order, and files that are no records."""
    root = tmp_path / "models"
    runs = root / "runs"
    runs.mkdir(parents=True)
    for r in (JULY_FORCED, MAY, JULY_HELD, JUNE):
        (runs / f"{r['name']}.json").write_text(json.dumps(r), encoding="utf-8")
    (runs / "broken.json").write_text('{"name": "2022-08__x", "snapshot": ', encoding="utf-8")
    (runs / "wrong.json").write_text(json.dumps({**MAY, "name": "other", "decision": HOSTILE}),
                                     encoding="utf-8")
    (runs / "nofigures.json").write_text(json.dumps({**MAY, "name": "nofig", "new": {**MAY["new"],
                                                                                      "roc_auc": "0.8"}}))
    (runs / "folder.json").mkdir()  # unreadable as a file
    (runs / f".{MAY['name']}.json.0123abcd.tmp").write_text("{", encoding="utf-8")  # the gate writing one
    (runs / "notes.txt").write_text("not a record", encoding="utf-8")
    if current:
        (root / "bundles" / current).mkdir(parents=True)
        os.symlink(f"bundles/{current}", root / "current")
    return root


class Page(HTMLParser):
    """The page as a list of (kind, content): headings, paragraphs, tables (rows of cell texts) and
    SVGs (label, texts, polylines, markers and rings with their attributes and tooltips)."""

    def __init__(self):
        super().__init__()
        self.items: list[tuple[str, object]] = []
        self.text: list[str] | None = None
        self.row: list[str] | None = None
        self.rows: list[list[str]] | None = None
        self.svg: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("h1", "h2", "h3", "p", "td", "th") or (tag in ("text", "title") and self.svg is not None):
            self.text = []
        if tag == "table":
            self.rows = []
        elif tag == "tr":
            self.row = []
        elif tag == "svg":
            self.svg = {"label": attrs.get("aria-label"), "texts": [], "polylines": [], "markers": [],
                        "keys": [], "rings": []}
        elif self.svg is not None and tag in ("circle", "rect") and "class" in attrs:
            kind, *classes = attrs["class"].split()
            if kind == "marker":
                self.svg["markers"].append({"tag": tag, "decision": classes[0], **attrs})
            elif kind == "key":
                self.svg["keys"].append({"tag": tag, "decision": classes[0], **attrs})
            elif kind == "current":
                self.svg["rings"].append(attrs)
        elif self.svg is not None and tag == "polyline":
            points = [tuple(map(float, p.split(","))) for p in attrs["points"].split()]
            self.svg["polylines"].append((attrs["stroke"], points))

    def handle_data(self, data):
        if self.text is not None:
            self.text.append(data)

    def handle_endtag(self, tag):
        text = "".join(self.text or [])
        if tag in ("h1", "h2", "h3", "p"):
            self.items.append((tag, text))
            self.text = None
        elif tag in ("td", "th"):
            self.row.append(text)
            self.text = None
        elif tag == "tr":
            self.rows.append(self.row)
        elif tag == "table":
            self.items.append(("table", self.rows))
        elif tag == "text" and self.svg is not None:
            self.svg["texts"].append(text)
            self.text = None
        elif tag == "title" and self.svg is not None:
            self.svg["markers"][-1]["title"] = text
            self.text = None
        elif tag == "svg":
            self.items.append(("svg", self.svg))
            self.svg = None


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser


def after(page: Page, heading: str, kind: str) -> list:
    """The items of one kind under an h2 heading."""
    out, inside = [], False
    for k, content in page.items:
        if k == "h2":
            inside = content == heading
        elif inside and k == kind:
            out.append(content)
    return out


def svg(page: Page, label: str) -> dict:
    (found,) = [c for k, c in page.items if k == "svg" and c["label"] == label]
    return found


def built(tmp_path: Path, current: str | None = JULY_FORCED["name"]) -> Page:
    root = models_dir(tmp_path, current)
    return parse(run_history(root).read_text(encoding="utf-8"))


def test_records_sort_by_snapshot_then_evaluation_time(tmp_path):
    records, skipped = read_records(models_dir(tmp_path))
    assert [r["name"] for r in records] == [r["name"] for r in RECORDS]
    assert records == RECORDS  # as written: nothing added or changed
    assert [s["file"] for s in skipped] == ["runs/broken.json", "runs/folder.json", "runs/nofigures.json",
                                            "runs/wrong.json"]


def test_every_run_has_its_row(tmp_path):
    page = built(tmp_path)
    (runs,) = after(page, "Runs", "table")
    assert runs[0] == ["snapshot", "run id", "evaluated at", "decision", "reasons", "split", "n", "ROC AUC",
                       "PR@R0.75", "PR@R0.75 anon", "disparate impact", "compared with", "now"]
    assert runs[1:] == EXPECTED_ROWS
    summary = next(c for k, c in page.items if k == "p")
    assert summary.startswith("4 gated run(s) of 3 snapshot(s): 1 promoted, 1 forced, 2 held.")


# the charts: (label, one list of values per series, in the order of RECORDS)
CHARTS = [
    ("ROC AUC by snapshot", [[r["new"]["roc_auc"] for r in RECORDS]]),
    ("PR@R0.75 by snapshot", [[r["new"]["pr_at_recall"] for r in RECORDS],
                              [r["new"]["anonymous"]["pr_at_recall"] for r in RECORDS]]),
    ("Disparate impact by snapshot", [[r["new"]["disparate_impact"] for r in RECORDS]]),
    ("ROC AUC per language by snapshot", [[0.78, None, None, 0.8], [0.82, 0.7, 0.81, 0.83]]),
]
MARKERS = {"promoted": ("circle", "filled"), "forced": ("rect", "filled"), "held": ("circle", "hollow")}


@pytest.mark.parametrize(("label", "series"), CHARTS)
def test_markers_show_each_decision(tmp_path, label, series):
    chart = svg(built(tmp_path), label)
    for s, values in enumerate(series):
        color = PALETTE[s]
        markers = [m for m in chart["markers"] if m["stroke"] == color]
        runs = [r for r, v in zip(RECORDS, values) if v is not None]  # no marker for an undefined value
        assert [m["decision"] for m in markers] == [r["decision"] for r in runs]
        for m, r in zip(markers, runs):
            shape, fill = MARKERS[r["decision"]]
            assert m["tag"] == shape
            assert (m["fill"] == color) == (fill == "filled"), m
            assert m["title"].startswith(f"{r['snapshot']} {r['run_id']} ({r['decision']})")
    # the legend says which marker is which
    keys = [k for k in chart["keys"] if k["decision"] in MARKERS]
    assert [(k["tag"], k["decision"], k["fill"] == "#fff") for k in keys] == [
        ("circle", "promoted", False), ("rect", "forced", False), ("circle", "held", True)]
    for text in ("promoted: filled circle", "forced: filled square", "held: hollow circle",
                 "ring: the current model"):
        assert text in chart["texts"]


def centre(marker: dict) -> tuple[float, float]:
    if marker["tag"] == "rect":
        return float(marker["x"]) + 4, float(marker["y"]) + 4
    return float(marker["cx"]), float(marker["cy"])


def segments(values: list) -> list[int]:
    """The lengths of the runs of consecutive defined values: a chart's lines, when two or more."""
    lengths, n = [], 0
    for v in [*values, None]:
        if v is None:
            if n > 1:
                lengths.append(n)
            n = 0
        else:
            n += 1
    return lengths


@pytest.mark.parametrize(("label", "series"), CHARTS)
def test_points_follow_snapshots(tmp_path, label, series):
    chart = svg(built(tmp_path), label)
    # the x axis: the snapshots in order
    assert [t for t in chart["texts"] if t[:4] == "2022"] == ["2022-05", "2022-06", "2022-07"]
    for s, values in enumerate(series):
        markers = [m for m in chart["markers"] if m["stroke"] == PALETTE[s]]
        runs = [r["run_id"] for r, v in zip(RECORDS, values) if v is not None]
        assert [m["title"].split(" (")[0].split(" ", 1)[1] for m in markers] == runs
        xs = [centre(m)[0] for m in markers]
        assert xs == sorted(xs) and len(set(xs)) == len(xs), xs  # reruns side by side, in order
        # a line joins consecutive defined values through their markers and breaks at an undefined one
        lines = [line for stroke, line in chart["polylines"] if stroke == PALETTE[s]]
        assert [len(line) for line in lines] == segments(values)
        joined = [point for line in lines for point in line]
        assert all(any(abs(x - cx) < 0.05 and abs(y - cy) < 0.05 for cx, cy in map(centre, markers))
                   for x, y in joined)


def test_a_line_breaks_at_an_undefined_value():
    # the expectations above, spelled out for the PR chart: all editors undefined in June
    assert segments([0.4, None, 0.41, 0.45]) == [2]
    assert segments([0.3, 0.2, 0.25, 0.35]) == [4]
    assert segments([0.78, None, None, 0.8]) == []


def test_per_language_table(tmp_path):
    page = built(tmp_path)
    (languages,) = after(page, "ROC AUC per language", "table")
    assert languages == [
        ["snapshot", "run id", "decision", "dewiki", "ukwiki"],
        ["2022-05", MAY["run_id"], "promoted", "0.780", "0.820"],
        ["2022-06", JUNE["run_id"], "held", "", "0.700"],  # dewiki not evaluated: empty
        ["2022-07", JULY_HELD["run_id"], "held", "–", "0.810"],  # undefined: a dash
        ["2022-07", JULY_FORCED["run_id"], "forced", "0.800", "0.830"],
    ]
    chart = svg(page, "ROC AUC per language by snapshot")
    assert "dewiki" in chart["texts"] and "ukwiki" in chart["texts"]


def test_values_from_records_are_escaped(tmp_path):
    root = models_dir(tmp_path)
    text = run_history(root).read_text(encoding="utf-8")
    assert HOSTILE not in text
    assert html.escape(HOSTILE, quote=True) in text
    assert "<script" not in text and "src=" not in text and "href=" not in text  # self-contained
    page = parse(text)
    (runs,) = after(page, "Runs", "table")
    assert runs[2][1] == f"manual__{HOSTILE}" and runs[3][4] == f"reason one {HOSTILE}; reason two"
    titles = [m["title"] for m in svg(page, "ROC AUC by snapshot")["markers"]]
    assert titles[1] == f"2022-06 manual__{HOSTILE} (held): all editors 0.712"


def test_skipped_files_are_listed_and_logged(tmp_path, caplog):
    root = models_dir(tmp_path)
    with caplog.at_level(logging.WARNING, logger="kitrain.history"):
        page = parse(run_history(root).read_text(encoding="utf-8"))
    (skipped,) = after(page, "Skipped records", "table")
    assert [row[0] for row in skipped] == ["file", "runs/broken.json", "runs/folder.json",
                                           "runs/nofigures.json", "runs/wrong.json"]
    problems = dict(skipped[1:])
    assert problems["runs/broken.json"].startswith("not valid JSON")
    assert "Is a directory" in problems["runs/folder.json"]
    assert problems["runs/nofigures.json"] == "new.roc_auc must be a number or null, got '0.8'"
    assert problems["runs/wrong.json"] == f"decision must be one of promoted, forced, held, got {HOSTILE!r}"
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for name in ("broken.json", "folder.json", "nofigures.json", "wrong.json"):
        assert any(str(root / "runs" / name) in w for w in warned), name
    assert len(warned) == 4  # the gate's temporary file and notes.txt are no records


def test_the_current_model_is_marked(tmp_path):
    root = models_dir(tmp_path)
    assert current_name(root) == JULY_FORCED["name"]
    page = parse(run_history(root).read_text(encoding="utf-8"))
    (runs,) = after(page, "Runs", "table")
    assert [row[-1] for row in runs[1:]] == ["", "", "", "current"]
    summary = next(c for k, c in page.items if k == "p")
    assert summary.endswith(f"Current model: {JULY_FORCED['name']}.")
    for label, series in CHARTS:
        chart = svg(page, label)
        forced = [centre(m) for m in chart["markers"] if m["decision"] == "forced"]
        rings = [(float(r["cx"]), float(r["cy"])) for r in chart["rings"]]
        # one ring per line, on the forced run's marker
        assert len(rings) == len(forced) == len(series)
        assert all(abs(a - c) < 0.05 and abs(b - d) < 0.05 for (a, b), (c, d) in zip(rings, forced))


def test_a_current_model_without_record_and_none(tmp_path):
    root = models_dir(tmp_path / "a", current="2021-12__manual__old")
    page = parse(run_history(root).read_text(encoding="utf-8"))
    assert ("p", "The current model 2021-12__manual__old has no readable record in runs/.") in page.items
    assert all(not svg(page, label)["rings"] for label, _ in CHARTS)

    root = models_dir(tmp_path / "b", current=None)
    assert current_name(root) is None
    page = parse(run_history(root).read_text(encoding="utf-8"))
    summary = next(c for k, c in page.items if k == "p")
    assert summary.endswith("Current model: none (no current link).")
    (runs,) = after(page, "Runs", "table")
    assert [row[-1] for row in runs[1:]] == ["", "", "", ""]


@pytest.mark.parametrize("runs", ["empty", "missing"])
def test_no_gated_runs_yet(tmp_path, runs):
    root = tmp_path / "models"
    root.mkdir()
    if runs == "empty":
        (root / "runs").mkdir()
    assert read_records(root) == ([], [])
    page = parse(run_history(root).read_text(encoding="utf-8"))
    assert ("p", "There are no gated runs yet: runs/ holds no readable record.") in page.items
    assert not [c for k, c in page.items if k in ("svg", "table")]


def test_a_missing_models_dir_is_an_error(tmp_path, capsys):
    with pytest.raises(HistoryError, match="no models directory"):
        run_history(tmp_path / "nothing")
    assert cli.main(["history", "--models-dir", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"kitrain history: error: no models directory {tmp_path / 'nothing'}"
    assert not (tmp_path / "nothing").exists()


def test_cli_writes_the_page(tmp_path, capsys, caplog):
    root = models_dir(tmp_path)
    with caplog.at_level(logging.INFO, logger="kitrain"):
        assert cli.main(["history", "--models-dir", str(root)]) == 0
    page = root / "history.html"
    assert f"history: {page}" in [r.getMessage() for r in caplog.records]
    assert page.read_text(encoding="utf-8") == render_history(*read_records(root), current_name(root))
    out = tmp_path / "elsewhere" / "page.html"
    assert cli.main(["history", "--models-dir", str(root), "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == page.read_text(encoding="utf-8")
    assert capsys.readouterr().out == ""  # the path is logged, nothing printed
    # written atomically: no temporary file is left beside either page
    assert sorted(p.name for p in root.iterdir()) == ["bundles", "current", "history.html", "runs"]
    assert [p.name for p in out.parent.iterdir()] == ["page.html"]
