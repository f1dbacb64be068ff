"""The evaluation report: one self-contained HTML page (``report/index.html``).

Plain HTML with inline SVG charts and no scripts or external files, so it opens anywhere, from a
laptop to an artefact store. Every value that comes from data (wiki names, feature names, config
strings) is escaped.
"""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np
import pandas as pd

from kitrain.metrics import pr_curve, roc_curve

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return esc(value)


def _downsample(fpr: np.ndarray, tpr: np.ndarray, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    if len(fpr) <= points:
        return fpr, tpr
    idx = np.unique(np.linspace(0, len(fpr) - 1, points).astype(int))
    return fpr[idx], tpr[idx]


def roc_svg(curves: list[tuple[str, np.ndarray, np.ndarray]], title: str, size: int = 320,
            x_label: str = "false positive rate", y_label: str = "true positive rate",
            diagonal: bool = True) -> str:
    """Curves in the unit square (ROC by default; a precision-recall curve with its labels)."""
    pad = 40
    inner = size - 2 * pad
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{size + 170}" height="{size}" '
             f'role="img" aria-label="{esc(title)}">',
             f'<rect x="{pad}" y="{pad}" width="{inner}" height="{inner}" fill="none" stroke="#999"/>',
             f'<text x="{pad}" y="{pad - 12}" font-size="13">{esc(title)}</text>',
             f'<text x="{pad + inner / 2}" y="{size - 8}" font-size="11" text-anchor="middle">'
             f'{esc(x_label)}</text>',
             f'<text x="12" y="{pad + inner / 2}" font-size="11" text-anchor="middle" '
             f'transform="rotate(-90 12 {pad + inner / 2})">{esc(y_label)}</text>']
    if diagonal:
        parts.insert(2, f'<line x1="{pad}" y1="{pad + inner}" x2="{pad + inner}" y2="{pad}" stroke="#ccc" '
                        'stroke-dasharray="4 4"/>')
    for i, (name, fpr, tpr) in enumerate(curves):
        fpr, tpr = _downsample(fpr, tpr)
        points = " ".join(f"{pad + x * inner:.1f},{pad + (1 - y) * inner:.1f}" for x, y in zip(fpr, tpr))
        color = PALETTE[i % len(PALETTE)]
        parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="1.5"/>')
        parts.append(f'<rect x="{size - 20}" y="{pad + 16 * i}" width="10" height="10" fill="{color}"/>')
        parts.append(f'<text x="{size - 5}" y="{pad + 9 + 16 * i}" font-size="11">{esc(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(rows: list[tuple[str, float | None, int]], title: str, width: int = 520) -> str:
    """Horizontal bars (label, value in [0, 1], n), in the given order."""
    row_h, left, pad = 18, 150, 24
    height = pad * 2 + row_h * len(rows)
    inner = width - left - 60
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="{esc(title)}">', f'<text x="0" y="14" font-size="13">{esc(title)}</text>']
    for i, (label, value, n) in enumerate(rows):
        y = pad + i * row_h
        parts.append(f'<text x="{left - 6}" y="{y + 12}" font-size="11" text-anchor="end">'
                     f'{esc(label)} (n={n})</text>')
        if value is not None:
            parts.append(f'<rect x="{left}" y="{y + 2}" width="{value * inner:.1f}" height="{row_h - 5}" '
                         f'fill="{PALETTE[0]}"/>')
        parts.append(f'<text x="{left + (value or 0) * inner + 4:.1f}" y="{y + 12}" font-size="11">'
                     f'{fmt(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


#: Per split and variant: (labels, scores, anonymous flags) of its predictions, for the curves.
Curves = dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]]


def prediction_curves(predictions: pd.DataFrame) -> Curves:
    """The curves' inputs of a predictions table (``report/predictions.parquet``'s columns)."""
    out: Curves = {}
    for (split, variant), group in predictions.groupby(["split", "variant"], sort=True):
        out.setdefault(split, {})[variant] = (group["label"].to_numpy(), group["score"].to_numpy(),
                                              group["is_anonymous"].to_numpy() == 1)
    return out


def render(report: dict[str, Any], curves: Curves, importances: dict[str, dict[str, float]],
           context: dict[str, Any]) -> str:
    """The whole page. ``curves`` are the predictions behind the ROC and precision-recall curves
    (arrays, not a table: at the paper's scale a split has millions of rows per variant);
    ``context`` holds the run's configs and versions, shown verbatim (escaped)."""
    sections = ["<h1>kitrain evaluation report</h1>",
                f"<p>Run directory: <code>{esc(context.get('run_dir', ''))}</code></p>"]
    for split, results in report["splits"].items():
        sections.append(f"<h2>Split: {esc(split)}</h2>")
        rows = []
        for name, m in [*results["variants"].items(), *((f"baseline: {k}", v) for k, v in
                                                          results["baselines"].items() if "unbalanced" in v)]:
            u, b = m["unbalanced"], m["balanced"]
            rows.append([name, u["all"]["n"], u["all"]["roc_auc"], u["all"]["pr_at_recall"],
                         u["anonymous"]["roc_auc"], u["anonymous"]["pr_at_recall"], b["all"]["accuracy"],
                         b["all"]["roc_auc"], b["all"]["f1"], b["all"]["precision"], b["all"]["recall"],
                         b["anonymous"]["roc_auc"]])
        sections.append("<h3>Variants and baselines</h3>" + table(
            ["model", "n", "ROC AUC", "PR@R0.75", "ROC AUC anon", "PR@R0.75 anon", "bal. accuracy",
             "bal. ROC AUC", "bal. F1", "bal. precision", "bal. recall", "bal. ROC AUC anon"], rows))
        for name, external in results["baselines"].items():
            if "variants_on_same_rows" in external:
                def headline(label: str, m: dict) -> list:
                    u, b, f = m["unbalanced"], m["balanced"], m["fairness"]
                    return [label, u["all"]["n"], u["all"]["roc_auc"], u["all"]["pr_at_recall"],
                            u["anonymous"]["roc_auc"], b["all"]["roc_auc"], b["all"]["f1"],
                            b["anonymous"]["roc_auc"], f["disparate_impact_predictions"], f["roc_auc_difference"]]

                ext_rows = [headline(f"baseline: {name}", external["score"])]
                ext_rows += [headline(v, m) for v, m in external["variants_on_same_rows"].items()]
                sections.append(f"<h3>Against {esc(name)} on the revisions it scored (the paper's comparison "
                                f"set)</h3>" + table(
                                    ["model", "n", "ROC AUC", "PR@R0.75", "ROC AUC anon", "bal. ROC AUC",
                                     "bal. F1", "bal. ROC AUC anon", "DI of predictions", "ROC AUC difference"],
                                    ext_rows))
        curves_all, curves_anon, pr_all, pr_anon = [], [], [], []
        for variant, (labels, scores, anon) in sorted(curves.get(split, {}).items()):
            curves_all.append((variant, *roc_curve(labels, scores)))
            curves_anon.append((variant, *roc_curve(labels[anon], scores[anon])))
            pr_all.append((variant, *pr_curve(labels, scores)))
            pr_anon.append((variant, *pr_curve(labels[anon], scores[anon])))
        pr = {"x_label": "recall", "y_label": "precision", "diagonal": False}
        sections.append('<div class="row">' + roc_svg(curves_all, f"ROC, all editors ({split})")
                        + roc_svg(curves_anon, f"ROC, anonymous editors ({split})") + "</div>")
        sections.append('<div class="row">' + roc_svg(pr_all, f"Precision-recall, all editors ({split})", **pr)
                        + roc_svg(pr_anon, f"Precision-recall, anonymous editors ({split})", **pr) + "</div>")
        if "text_models" in results:
            sections.append("<h3>Each text model alone</h3><p>The model's largest probability of "
                            "\u201creverted\u201d over a revision's texts, on the revisions that have that "
                            "kind of text.</p>" + table(
                                ["text model", "score", "revisions with its text", "share", "ROC AUC"],
                                [[t, m["feature"], m["revisions_with_text"], m["share_with_text"], m["roc_auc"]]
                                 for t, m in results["text_models"].items()]))
        for variant, m in results["variants"].items():
            bars = [(r["wiki_db"], r["roc_auc"], r["n"]) for r in m["per_language"]]
            sections.append(bars_svg(bars, f"ROC AUC per language, {variant} ({split}), sorted"))
            if "languages" in m:
                lang = m["languages"]
                sections.append(f"<p>{esc(variant)}: over the {len(lang['wikis'])} languages with at least "
                                f"{fmt(lang['min_rows'])} rows, Spearman correlation of anonymous share and "
                                f"ROC AUC: {fmt(lang['spearman_anonymous_share_roc_auc'])}.</p>")
        fair = [(v, m["fairness"]) for v, m in results["variants"].items()]
        fair_rows = [[v, f["disparate_impact_labels"], f["disparate_impact_predictions"],
                      f["not_reverted_ratio_labels"], f["not_reverted_ratio_predictions"], f["roc_auc_difference"]]
                     for v, f in fair]
        sections.append("<h3>Fairness: anonymous vs registered editors</h3>"
                        "<p>Disparate impact as the paper defines it: P(reverted | anonymous) / "
                        "P(reverted | registered), of the labels and of the predictions at the threshold; "
                        "1 is parity (the paper: 7.93 for its labels, 9.54 for its model). Not-reverted "
                        "ratio: P(not reverted | anonymous) / P(not reverted | registered). AUC difference: "
                        "anonymous minus registered.</p>"
                        + table(["model", "DI of labels", "DI of predictions", "not-reverted ratio of labels",
                                 "not-reverted ratio of predictions", "ROC AUC difference"], fair_rows))
        group_rows = [[v, group, g["n"], g["revert_rate"], g["roc_auc"], g["pr_at_recall"], g["prediction_rate"]]
                      for v, m in results["variants"].items() if "editor_groups" in m
                      for group, g in m["editor_groups"].items()]
        if group_rows:
            sections.append("<h3>Editor groups: IP editors, temporary accounts, registered editors</h3>"
                            "<p>Anonymous editors are the logged-out ones: IP editors and, on each wiki "
                            "since its rollout of temporary accounts (2024-2026), temporary accounts. "
                            "Prediction rate: the share flagged at the threshold.</p>"
                            + table(["model", "editors", "n", "revert rate", "ROC AUC", "PR@R0.75",
                                     "prediction rate"], group_rows))
        count_rows = [[wiki, c["n"], c["reverted"], c["anonymous"], c.get("temporary"),
                       c.get("temporary_share_of_anonymous")] for wiki, c in results["counts"].items()]
        sections.append("<h3>Data per language</h3>" + table(
            ["wiki", "revisions", "reverted", "anonymous (logged out)", "of them temporary accounts",
             "temporary-account share of logged-out edits"], count_rows))
    for variant, values in importances.items():
        top = sorted(values.items(), key=lambda kv: -kv[1])[:25]
        sections.append(f"<h2>Feature importances: {esc(variant)} (top 25)</h2>"
                        + table(["feature", "importance"], [[k, v] for k, v in top]))
    sections.append("<h2>Configuration and versions</h2><pre>"
                    + esc(json.dumps(context, indent=2, ensure_ascii=False, default=str)) + "</pre>")
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}"
             "table{border-collapse:collapse;margin:0.5em 0 1.5em}td,th{border:1px solid #ccc;"
             "padding:3px 8px;font-size:13px;text-align:right}th{background:#f3f3f3}"
             "td:first-child{text-align:left}.row{display:flex;flex-wrap:wrap;gap:1em}"
             "pre{background:#f7f7f7;padding:1em;font-size:12px;overflow:auto}")
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<title>kitrain evaluation report</title>"
            f"<style>{style}</style></head><body>" + "".join(sections) + "</body></html>\n")
