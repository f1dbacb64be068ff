"""The quality gate's history: one self-contained HTML page of every gated run over time.

The gate writes one JSON record per evaluated run under ``MODELS_DIR/runs/`` and points
``MODELS_DIR/current`` at the promoted bundle. Each record says why one run was promoted or held;
this page puts them side by side, by snapshot, so a reader sees how quality and fairness moved, which
runs were held and why, and which model serves now, without opening the records one by one.

Like the run report (kitrain.report) the page is plain HTML with inline SVG, no scripts and no
external files, and every value that comes from a record is escaped. A record that cannot be read is
left out of the tables and plots, but it is logged and listed on the page: a gap in the history is
never silent.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitrain.atomic import write_text
from kitrain.config import check_snapshot
from kitrain.report import PALETTE, esc, fmt, table

logger = logging.getLogger(__name__)

#: the gate's decisions, in the order the legends list them
DECISIONS = ("promoted", "forced", "held")
#: the page's file name in the models directory
PAGE = "history.html"


class HistoryError(ValueError):
    """A models directory the history cannot be built from; the message names it."""


# --- reading the records -----------------------------------------------------------------------

def _short(value: Any) -> str:
    """A value for an error message: a record may hold anything, and a message must stay a line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _get(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise ValueError(f"{where}{key} is missing")
    return data[key]


def _check_object(data: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = _get(data, key, where)
    if not isinstance(value, dict):
        raise ValueError(f"{where}{key} must be an object, got {_short(value)}")
    return value


def _check_number(data: dict[str, Any], key: str, where: str) -> None:
    value = _get(data, key, where)
    # JSON's true and false load as bool, which Python counts as int: not a figure
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"{where}{key} must be a number or null, got {_short(value)}")


def _check_metrics(metrics: dict[str, Any], where: str) -> None:
    n = _get(metrics, "n", where)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{where}n must be a count, got {_short(n)}")
    for key in ("roc_auc", "pr_at_recall", "disparate_impact"):
        _check_number(metrics, key, where)
    anonymous = _check_object(metrics, "anonymous", where)
    for key in ("roc_auc", "pr_at_recall"):
        _check_number(anonymous, key, f"{where}anonymous.")
    for wiki, language in _check_object(metrics, "languages", where).items():
        if not isinstance(language, dict):
            raise ValueError(f"{where}languages.{wiki} must be an object, got {_short(language)}")
        _check_number(language, "roc_auc", f"{where}languages.{wiki}.")


def evaluated_at(record: dict[str, Any]) -> dt.datetime:
    """When the gate evaluated the run, as an aware time: records sort by this within a snapshot.

    Comparing the strings would misorder times written with different offsets; a time without an
    offset is taken as UTC (the gate writes UTC).
    """
    value = record.get("evaluated_at")
    try:
        when = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None:
        raise ValueError(f"evaluated_at must be an ISO 8601 time, got {_short(value)}")
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)


def check_record(data: Any) -> None:
    """Raise ValueError naming the first field of a gate record the page cannot show.

    Only what the page reads is checked (the current model's metrics, the limits and the bundle are
    not shown), so a record the gate extends later still shows; a wrong type is an error rather
    than a crash halfway through the page.
    """
    if not isinstance(data, dict):
        raise ValueError(f"a record must be a JSON object, got {type(data).__name__}")
    for key in ("name", "snapshot", "run_id", "split"):
        value = _get(data, key, "")
        if not isinstance(value, str) or not value:
            raise ValueError(f"{key} must be a non-empty string, got {_short(value)}")
    check_snapshot("snapshot", data["snapshot"])
    evaluated_at(data)
    if _get(data, "decision", "") not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, got {_short(data['decision'])}")
    reasons = _get(data, "reasons", "")
    if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
        raise ValueError(f"reasons must be a list of strings, got {_short(reasons)}")
    compared = _get(data, "compared_with", "")
    if compared is not None and not isinstance(compared, str):
        raise ValueError(f"compared_with must be a string or null, got {_short(compared)}")
    _check_metrics(_check_object(data, "new", ""), "new.")


def _order(record: dict[str, Any]) -> tuple[str, dt.datetime, str]:
    # snapshots are YYYY-MM, so their strings sort by time; the name settles exact ties
    return record["snapshot"], evaluated_at(record), record["name"]


def read_records(models_dir: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Every readable record of ``MODELS_DIR/runs/``, by snapshot then evaluation time, and the
    files skipped, each ``{"file": "runs/<name>.json", "error": why}``.

    A record that is not JSON, not UTF-8, unreadable, or lacks a field the page shows is skipped
    with a warning naming the file, so one bad file never hides the rest of the history. No
    ``runs/`` at all means no run was gated yet: no records, no error. Only ``*.json`` files are
    records (the gate's temporary files end in ``.tmp``).
    """
    models_dir = Path(models_dir)
    runs = models_dir / "runs"
    if not runs.exists():
        return [], []
    if not runs.is_dir():
        raise HistoryError(f"{runs} is not a directory")
    records: list[dict[str, Any]] = []
    skipped: list[dict[str, str]] = []
    for path in sorted(runs.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            check_record(data)
        except json.JSONDecodeError as exc:
            problem = f"not valid JSON: {exc}"
        except UnicodeDecodeError as exc:
            problem = f"not UTF-8 text: {exc}"
        except (OSError, ValueError) as exc:
            problem = str(exc) or type(exc).__name__
        else:
            records.append(data)
            continue
        logger.warning("skipping gate record %s: %s", path, problem)
        skipped.append({"file": path.relative_to(models_dir).as_posix(), "error": problem})
    records.sort(key=_order)
    return records, skipped


def current_name(models_dir: str | os.PathLike[str]) -> str | None:
    """The name of the bundle ``MODELS_DIR/current`` points at, or None where there is no link.

    The link is read, not resolved: its last component is the record's name. A ``current`` that
    is not a link, or a link to nothing, is logged, since the page would otherwise show no current
    model, or one that is gone, without saying why.
    """
    link = Path(models_dir) / "current"
    if not link.is_symlink():
        if link.exists():
            logger.warning("%s is not a symbolic link to a bundle: the history shows no current model", link)
        return None
    target = Path(os.readlink(link))
    if not link.exists():
        logger.warning("%s points at %s, which does not exist", link, target)
    return target.name


# --- the line chart ----------------------------------------------------------------------------

@dataclass(frozen=True)
class RunPoint:
    """One gated run on a chart's x axis: its position, decision and the words of its tooltip."""

    x: float
    decision: str
    label: str
    current: bool = False


def _value(value: Any) -> float | None:
    """A figure to show, None where it is undefined (null, or a NaN or infinity that slipped
    through, e.g. a disparate impact over a group with no positive rate)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _ticks(lo: float, hi: float, count: int = 5) -> tuple[list[float], int]:
    """Round axis ticks covering [lo, hi] with a margin (no marker sits on the frame), and the
    decimals their labels need."""
    pad = (hi - lo) * 0.05 if hi > lo else abs(lo) * 0.05 or 0.05
    # every figure here (AUC, precision, a ratio) is >= 0: an axis of them does not go below 0
    lo, hi = (lo - pad if lo - pad >= 0 or lo < 0 else 0.0), hi + pad
    raw = (hi - lo) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))
    start = math.floor(lo / step + 1e-9) * step
    end = math.ceil(hi / step - 1e-9) * step
    ticks = [start + i * step for i in range(round((end - start) / step) + 1)]
    digits = next((d for d in range(7) if abs(round(step, d) - step) < 1e-9 * max(1.0, step)), 6)
    return ticks, digits


def _marker(decision: str, cx: float, cy: float, color: str, css: str, tip: str | None = None) -> str:
    """Promoted: a filled circle; forced: a filled square; held: a hollow circle."""
    title = f"<title>{esc(tip)}</title>" if tip is not None else ""
    if decision == "forced":
        return (f'<rect class="{css} forced" x="{cx - 4:.1f}" y="{cy - 4:.1f}" width="8" height="8" '
                f'fill="{color}" stroke="{color}">{title}</rect>')
    fill = color if decision == "promoted" else "#fff"
    return (f'<circle class="{css} {decision}" cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{fill}" '
            f'stroke="{color}" stroke-width="1.5">{title}</circle>')


def series_svg(title: str, categories: list[str], runs: list[RunPoint],
               series: list[tuple[str, list[float | None]]], y_label: str,
               reference: tuple[float, str] | None = None) -> str:
    """Lines over snapshots: one per series, a marker per run whose kind says its decision.

    ``categories`` are the snapshots, evenly spaced; a run's ``x`` is its snapshot's index plus a
    small offset, so reruns of one snapshot stand side by side in evaluation order. Each series has
    one value per run (None: undefined, no marker, and the line breaks there rather than bridging
    a gap). The current model's markers get a ring. ``reference`` is a dashed line, e.g. parity.
    """
    left, top, plot_h, bottom, legend_w = 60, 30, 200, 44, 230
    plot_w = max(300, 64 * len(categories))
    values = [v for _, vs in series for v in vs if v is not None]
    if reference is not None:
        values.append(reference[0])
    ticks, digits = _ticks(min(values), max(values)) if values else ([0.0, 1.0], 1)
    lo, hi = ticks[0], ticks[-1]

    def px(x: float) -> float:
        return left + (x + 0.5) / max(1, len(categories)) * plot_w

    def py(v: float) -> float:
        return top + (hi - v) / (hi - lo) * plot_h

    legend_rows = len(series) + len(DECISIONS) + 1
    height = max(top + plot_h + bottom, top + 16 * legend_rows + 8)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + plot_w + legend_w}" height="{height}" '
             f'role="img" aria-label="{esc(title)}">',
             f'<text x="{left}" y="{top - 12}" font-size="13">{esc(title)}</text>']
    for tick in ticks:
        y = py(tick)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 5}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
                     f'{tick:.{digits}f}</text>')
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    for i, category in enumerate(categories):
        parts.append(f'<text x="{px(i):.1f}" y="{top + plot_h + 16}" font-size="11" text-anchor="middle">'
                     f'{esc(category)}</text>')
    parts.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h + 36}" font-size="11" '
                 f'text-anchor="middle">snapshot</text>')
    parts.append(f'<text x="14" y="{top + plot_h / 2}" font-size="11" text-anchor="middle" '
                 f'transform="rotate(-90 14 {top + plot_h / 2})">{esc(y_label)}</text>')
    if reference is not None:
        y = py(reference[0])
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#888" '
                     'stroke-dasharray="4 4"/>')
        parts.append(f'<text x="{left + plot_w - 4}" y="{y - 4:.1f}" font-size="10" text-anchor="end">'
                     f'{esc(reference[1])}</text>')
    if not values:
        parts.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h / 2}" font-size="12" '
                     'text-anchor="middle">no defined values</text>')
    for s, (name, vs) in enumerate(series):
        color = PALETTE[s % len(PALETTE)]
        segment: list[str] = []
        for run, v in [*zip(runs, vs), (None, None)]:
            if v is not None:
                segment.append(f"{px(run.x):.1f},{py(v):.1f}")
            elif segment:
                if len(segment) > 1:
                    parts.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{color}" '
                                 'stroke-width="1.5"/>')
                segment = []
        for run, v in zip(runs, vs):
            if v is None:
                continue
            if run.current:
                parts.append(f'<circle class="current" cx="{px(run.x):.1f}" cy="{py(v):.1f}" r="8" '
                             'fill="none" stroke="#222"/>')
            parts.append(_marker(run.decision, px(run.x), py(v), color, "marker",
                                 f"{run.label} ({run.decision}): {name} {fmt(v)}"))
    x0, y0 = left + plot_w + 16, top
    for s, (name, _) in enumerate(series):
        color, y = PALETTE[s % len(PALETTE)], y0 + 16 * s
        parts.append(f'<line x1="{x0}" y1="{y}" x2="{x0 + 20}" y2="{y}" stroke="{color}" '
                     'stroke-width="1.5"/>')
        parts.append(f'<text x="{x0 + 26}" y="{y + 4}" font-size="11">{esc(name)}</text>')
    shapes = {"promoted": "filled circle", "forced": "filled square", "held": "hollow circle"}
    for k, decision in enumerate(DECISIONS):
        y = y0 + 16 * (len(series) + k) + 6
        parts.append(_marker(decision, x0 + 10, y, "#555", "key"))
        parts.append(f'<text x="{x0 + 26}" y="{y + 4}" font-size="11">{decision}: {shapes[decision]}</text>')
    y = y0 + 16 * (len(series) + len(DECISIONS)) + 6
    parts.append(f'<circle class="key current" cx="{x0 + 10}" cy="{y}" r="8" fill="none" stroke="#222"/>')
    parts.append(f'<text x="{x0 + 26}" y="{y + 4}" font-size="11">ring: the current model</text>')
    parts.append("</svg>")
    return "".join(parts)


# --- the page ----------------------------------------------------------------------------------

def _positions(records: list[dict[str, Any]]) -> tuple[list[str], list[float]]:
    """The snapshots (the x axis's categories) and each record's x: reruns of one snapshot are
    spread around its slot in the records' order (evaluation order), so none hides another."""
    snapshots = sorted({r["snapshot"] for r in records})
    index = {s: i for i, s in enumerate(snapshots)}
    counts = {s: sum(r["snapshot"] == s for r in records) for s in snapshots}
    seen: dict[str, int] = {}
    xs = []
    for r in records:
        k, j = counts[r["snapshot"]], seen.get(r["snapshot"], 0)
        seen[r["snapshot"]] = j + 1
        xs.append(index[r["snapshot"]] + (j - (k - 1) / 2) * min(0.25, 0.6 / k))
    return snapshots, xs


def _languages_table(records: list[dict[str, Any]], languages: list[str]) -> str:
    rows = []
    for r in records:
        per = r["new"]["languages"]
        rows.append([r["snapshot"], r["run_id"], r["decision"],
                     *(_value(per[w]["roc_auc"]) if w in per else "" for w in languages)])
    return '<div class="languages">' + table(["snapshot", "run id", "decision", *languages], rows) + "</div>"


STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}"
         "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;"
         "padding:3px 8px;font-size:13px;text-align:right;vertical-align:top}th{background:#f3f3f3}"
         "td:first-child{text-align:left}.runs td:nth-child(-n+6),.runs td:nth-child(n+12),"
         ".languages td:nth-child(-n+3),.skipped td{text-align:left}.runs,.plot{overflow-x:auto}"
         ".warn{color:#a40000}")


def render_history(records: list[dict[str, Any]], skipped: list[dict[str, str]], current: str | None) -> str:
    """The whole page. ``records`` in read_records's order; ``current`` the current model's name."""
    decisions = [r["decision"] for r in records]
    sections = ["<h1>kitrain model history</h1>",
                f"<p>{len(records)} gated run(s) of {len({r['snapshot'] for r in records})} snapshot(s): "
                + ", ".join(f"{decisions.count(d)} {d}" for d in DECISIONS) + ". Current model: "
                + (f"<code>{esc(current)}</code>" if current else "none (no <code>current</code> link)")
                + ".</p>"]
    if current and not any(r["name"] == current for r in records):
        sections.append(f'<p class="warn">The current model <code>{esc(current)}</code> has no readable '
                        "record in runs/.</p>")
    if skipped:
        sections.append("<h2>Skipped records</h2><p class=\"warn\">These files in runs/ could not be read "
                        "as gate records; they are left out of everything below.</p>"
                        '<div class="skipped">'
                        + table(["file", "problem"], [[s["file"], s["error"]] for s in skipped]) + "</div>")
    if not records:
        sections.append("<p>There are no gated runs yet: runs/ holds no readable record.</p>")
    else:
        sections.append("<h2>Runs</h2><p>Oldest snapshot first; several runs of one snapshot in the order "
                        "the gate evaluated them. The figures are the new model's on the gate's split; "
                        "PR@R0.75: precision at recall 0.75; disparate impact: anonymous against registered "
                        "editors, 1 is parity; \u2013: undefined; compared with: the model that was "
                        "current when the run was gated.</p>")
        rows = []
        for r in records:
            new = r["new"]
            rows.append([r["snapshot"], r["run_id"], r["evaluated_at"], r["decision"],
                         "; ".join(r["reasons"]), r["split"], new["n"], _value(new["roc_auc"]),
                         _value(new["pr_at_recall"]), _value(new["anonymous"]["pr_at_recall"]),
                         _value(new["disparate_impact"]),
                         r["compared_with"], "current" if r["name"] == current else ""])
        sections.append('<div class="runs">' + table(
            ["snapshot", "run id", "evaluated at", "decision", "reasons", "split", "n", "ROC AUC", "PR@R0.75",
             "PR@R0.75 anon", "disparate impact", "compared with", "now"], rows) + "</div>")

        categories, xs = _positions(records)
        runs = [RunPoint(x, r["decision"], f"{r['snapshot']} {r['run_id']}", r["name"] == current)
                for x, r in zip(xs, records)]

        def figures(*keys: str) -> list[float | None]:
            out = []
            for r in records:
                value: Any = r["new"]
                for key in keys:
                    value = value[key]
                out.append(_value(value))
            return out

        sections.append("<h2>By snapshot</h2><p>One marker per gated run: promoted runs filled circles, "
                        "forced ones filled squares, held ones hollow circles; a ring marks the current "
                        "model. Lines break where a figure is undefined.</p>")
        plots = [
            series_svg("ROC AUC by snapshot", categories, runs, [("all editors", figures("roc_auc"))],
                       "ROC AUC"),
            series_svg("PR@R0.75 by snapshot", categories, runs,
                       [("all editors", figures("pr_at_recall")),
                        ("anonymous editors", figures("anonymous", "pr_at_recall"))],
                       "precision at recall 0.75"),
            series_svg("Disparate impact by snapshot", categories, runs,
                       [("disparate impact", figures("disparate_impact"))], "disparate impact",
                       reference=(1.0, "1 = parity")),
        ]
        sections.extend(f'<div class="plot">{svg}</div>' for svg in plots)

        languages = sorted({w for r in records for w in r["new"]["languages"]})
        sections.append("<h2>ROC AUC per language</h2><p>One line per language; an empty cell: the language "
                        "was not in that run's evaluation.</p>")
        if languages:
            lines = [(w, [_value(r["new"]["languages"][w]["roc_auc"]) if w in r["new"]["languages"] else None
                          for r in records]) for w in languages]
            sections.append('<div class="plot">' + series_svg(
                "ROC AUC per language by snapshot", categories, runs, lines, "ROC AUC") + "</div>")
            sections.append(_languages_table(records, languages))
        else:
            sections.append("<p>No run has per-language figures.</p>")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>kitrain model history</title>"
            f"<style>{STYLE}</style></head><body>" + "".join(sections) + "</body></html>\n")


def run_history(models_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None = None) -> Path:
    """Write the history page (``MODELS_DIR/history.html`` unless ``out``) atomically; its path.

    A models directory that does not exist is an error (a mistyped path should not yield a page
    saying nothing was gated); one without gated runs yet gives a page that says so.
    """
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        raise HistoryError(f"no models directory {models_dir}")
    records, skipped = read_records(models_dir)
    page = render_history(records, skipped, current_name(models_dir))
    target = Path(out) if out is not None else models_dir / PAGE
    write_text(target, page)
    return target
