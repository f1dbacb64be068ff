"""Every figure of the evaluation and of its HTML report, against scikit-learn and counts by hand.

A predictions frame written out by hand: two wikis with overlapping revision ids, anonymous and
registered editors in each, known labels and scores (some exactly at the 0.5 threshold), the
balanced sample set by hand, and the rows in a scrambled order (the wikis interleaved). The
expected values are computed here, row by row, from scikit-learn's functions and numpy counts, never
from kitrain's. The last test recomputes a real run's figures from its ``predictions.parquet``.
"""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from kitrain.config import EvaluateConfig
from kitrain.evaluate import balanced_anonymous, evaluate_scores, external_comparison, text_models
from kitrain.report import prediction_curves, render

THRESHOLD = 0.5
A, R = 1, 0  # anonymous, registered

# (wiki, revision id, anonymous, reverted, score of variant v1, score of variant v2, balanced)
# dewiki: v1 separates well; ukwiki: v1 barely does. Scores of exactly 0.5 are not flagged.
ROWS = [
    ("dewiki", 100, A, 1, 0.95, 0.40, 1),
    ("dewiki", 101, A, 1, 0.80, 0.70, 1),
    ("dewiki", 102, A, 1, 0.50, 0.90, 1),
    ("dewiki", 103, A, 0, 0.60, 0.20, 1),
    ("dewiki", 104, A, 0, 0.30, 0.65, 1),
    ("dewiki", 105, A, 0, 0.20, 0.10, 0),
    ("dewiki", 106, A, 0, 0.10, 0.55, 0),
    ("dewiki", 107, A, 0, 0.05, 0.30, 0),
    ("dewiki", 108, R, 1, 0.90, 0.60, 1),
    ("dewiki", 109, R, 1, 0.40, 0.35, 1),
    ("dewiki", 110, R, 0, 0.50, 0.45, 1),
    ("dewiki", 111, R, 0, 0.35, 0.80, 1),
    ("dewiki", 112, R, 0, 0.25, 0.15, 0),
    ("dewiki", 113, R, 0, 0.15, 0.50, 1),
    ("dewiki", 114, R, 0, 0.12, 0.05, 0),
    ("dewiki", 115, R, 0, 0.02, 0.25, 0),
    ("ukwiki", 100, A, 1, 0.55, 0.85, 1),
    ("ukwiki", 101, A, 1, 0.30, 0.60, 1),
    ("ukwiki", 102, A, 1, 0.70, 0.35, 1),
    ("ukwiki", 103, A, 0, 0.65, 0.20, 1),
    ("ukwiki", 104, A, 0, 0.50, 0.75, 0),
    ("ukwiki", 105, A, 0, 0.45, 0.10, 0),
    ("ukwiki", 106, R, 1, 0.45, 0.95, 1),
    ("ukwiki", 107, R, 0, 0.60, 0.40, 1),
    ("ukwiki", 108, R, 0, 0.20, 0.50, 1),
    ("ukwiki", 109, R, 0, 0.52, 0.30, 0),
    ("ukwiki", 110, R, 0, 0.10, 0.05, 0),
    ("ukwiki", 111, R, 0, 0.50, 0.15, 1),
]

# external scores (e.g. ORES) of some revisions, keyed by (wiki, revision id), in no particular
# order; (ukwiki, 115) and (frwiki, 100) are in no frame row: dewiki's 115 and 100 must not take them
EXTERNAL = [
    ("ukwiki", 109, 0.60), ("dewiki", 110, 0.20), ("ukwiki", 115, 0.99), ("dewiki", 100, 0.70),
    ("ukwiki", 104, 0.50), ("dewiki", 108, 0.30), ("ukwiki", 100, 0.90), ("frwiki", 100, 0.01),
    ("dewiki", 103, 0.65), ("ukwiki", 107, 0.25), ("dewiki", 111, 0.55), ("ukwiki", 101, 0.15),
    ("dewiki", 102, 0.40), ("ukwiki", 111, 0.45), ("dewiki", 104, 0.10), ("ukwiki", 106, 0.80),
    ("ukwiki", 103, 0.35),
]

#: a fixed scramble of the rows: the two wikis interleave and neither comes in order
ORDER = [17, 3, 26, 9, 0, 21, 14, 6, 19, 11, 24, 1, 27, 8, 15, 22, 4, 12, 20, 7, 25, 2, 18, 13, 23, 5,
         16, 10]


def hand_frame() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(frame, v1 scores, v2 scores) in the scrambled order."""
    assert sorted(ORDER) == list(range(len(ROWS)))
    rows = [ROWS[i] for i in ORDER]
    frame = pd.DataFrame({
        "wiki_db": [r[0] for r in rows], "revision_id": [r[1] for r in rows],
        "is_anonymous": [r[2] for r in rows], "revision_is_identity_reverted": [r[3] for r in rows],
        "is_balanced": [r[6] for r in rows],
        # every other anonymous revision (by id) was made with a temporary account
        "is_temporary": [int(r[2] == A and r[1] % 2 == 0) for r in rows],
        # each text model alone (-1: no such text); the title model scores every revision
        "insert_p_1_max": [(r[4] + r[5]) / 2 if r[1] % 3 else -1.0 for r in rows],
        "remove_p_1_max": [r[5] if r[1] % 2 else -1.0 for r in rows],
        "change_p_1_max": [-1.0] * len(rows),
        "title_s_0": [round(1 - r[4], 2) for r in rows],
    })
    return frame, np.array([r[4] for r in rows]), np.array([r[5] for r in rows])


CFG = EvaluateConfig(threshold=THRESHOLD, min_language_rows=13)  # dewiki (16 rows) only


# --- expected values, from scikit-learn and counts ---------------------------------------------

def auc(y, s):
    y, s = np.asarray(y), np.asarray(s)
    return roc_auc_score(y, s) if 0 < y.sum() < len(y) else None


def pr75(y, s):
    precision, recall, _ = precision_recall_curve(y, s)
    return precision[np.where(recall > 0.75)[0][-1]]


def at_threshold(y, s):
    predicted = (np.asarray(s) > THRESHOLD).astype(int)
    nan = {"zero_division": np.nan}
    return {"accuracy": accuracy_score(y, predicted), "precision": precision_score(y, predicted, **nan),
            "recall": recall_score(y, predicted, **nan), "f1": f1_score(y, predicted, **nan)}


def block(y, s):
    return {"n": len(y), "roc_auc": auc(y, s), "pr_at_recall": pr75(y, s), **at_threshold(y, s)}


def rate(outcome, mask):
    return np.mean(np.asarray(outcome)[mask])


def expected_fairness(y, s, anon):
    y, flagged = np.asarray(y), (np.asarray(s) > THRESHOLD).astype(int)
    return {
        "disparate_impact_labels": rate(y, anon) / rate(y, ~anon),
        "disparate_impact_predictions": rate(flagged, anon) / rate(flagged, ~anon),
        "not_reverted_ratio_labels": rate(1 - y, anon) / rate(1 - y, ~anon),
        "not_reverted_ratio_predictions": rate(1 - flagged, anon) / rate(1 - flagged, ~anon),
        "roc_auc_difference": auc(y[anon], s[anon]) - auc(y[~anon], s[~anon]),
    }


def expected_metrics(frame: pd.DataFrame, s: np.ndarray, anon_sample: np.ndarray) -> dict:
    """Every figure of evaluate_scores, recomputed; ``anon_sample`` is balanced_anonymous's mask."""
    y = frame["revision_is_identity_reverted"].to_numpy()
    anon = frame["is_anonymous"].to_numpy() == 1
    bal = frame["is_balanced"].to_numpy() == 1
    languages = []
    for wiki in ("dewiki", "ukwiki"):
        here = (frame["wiki_db"] == wiki).to_numpy()
        languages.append({"wiki_db": wiki, "n": int(here.sum()), "revert_rate": y[here].mean(),
                          "anonymous_share": anon[here].mean(), "roc_auc": auc(y[here], s[here])})
    return {
        "unbalanced": {
            "all": {"n": len(y), "roc_auc": auc(y, s), "pr_at_recall": pr75(y, s)},
            "anonymous": {"n": int(anon.sum()), "roc_auc": auc(y[anon], s[anon]),
                          "pr_at_recall": pr75(y[anon], s[anon])},
        },
        "balanced": {"all": block(y[bal], s[bal]), "anonymous": block(y[anon_sample], s[anon_sample])},
        "per_language": languages,
        "fairness": expected_fairness(y, s, anon),
        "editor_groups": expected_groups(frame, s),
    }


def expected_groups(frame: pd.DataFrame, s: np.ndarray) -> dict:
    """The three editor groups' figures, each on its own rows: IP = anonymous without a temporary
    account, temporary = with one, registered = not anonymous."""
    y = frame["revision_is_identity_reverted"].to_numpy()
    anon = frame["is_anonymous"].to_numpy() == 1
    temp = frame["is_temporary"].to_numpy() == 1
    out = {}
    for group, mask in (("ip", anon & ~temp), ("temporary", temp), ("registered", ~anon)):
        out[group] = {"n": int(mask.sum()), "revert_rate": y[mask].mean(), "roc_auc": auc(y[mask], s[mask]),
                      "pr_at_recall": pr75(y[mask], s[mask]), "prediction_rate": (s[mask] > THRESHOLD).mean()}
    return out


def assert_close(got, expected, where="metrics"):
    """Nested dicts and lists equal, floats to 1e-12, None only where None is expected."""
    if isinstance(expected, dict):
        assert isinstance(got, dict) and set(got) >= set(expected), (where, got)
        for key in expected:
            assert_close(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), (where, got)
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_close(g, e, f"{where}[{i}]")
    elif expected is None or (isinstance(expected, float) and math.isnan(expected)):
        assert got is None, (where, got)
    elif isinstance(expected, str):
        assert got == expected, (where, got, expected)
    else:
        assert got is not None, (where, expected)
        assert got == pytest.approx(float(expected), abs=1e-12), (where, got, expected)


def check_metrics(got: dict, expected: dict, where: str) -> None:
    """evaluate_scores' output against expected_metrics: per-language rows matched by wiki, and
    sorted by ROC AUC, the best first."""
    for part in ("unbalanced", "balanced", "fairness", "editor_groups"):
        assert_close(got[part], expected[part], f"{where}.{part}")
    by_wiki = {r["wiki_db"]: r for r in got["per_language"]}
    assert len(got["per_language"]) == len(by_wiki) == len(expected["per_language"]), where
    for row in expected["per_language"]:
        assert_close(by_wiki[row["wiki_db"]], row, f"{where}.per_language[{row['wiki_db']}]")
    aucs = [r["roc_auc"] for r in got["per_language"]]
    assert aucs == sorted(aucs, reverse=True), where


# --- the frame itself --------------------------------------------------------------------------

def test_the_hand_frame_has_what_the_checks_need():
    frame, v1, v2 = hand_frame()
    # the counts split_report writes by hand: (anonymous, of them temporary accounts) per wiki
    for wiki, anonymous, temporary in (("dewiki", 8, 4), ("ukwiki", 6, 3)):
        here = frame[frame.wiki_db == wiki]
        assert (here.is_anonymous.sum(), here.is_temporary.sum()) == (anonymous, temporary)
    # each of the three editor groups holds reverted and kept edits
    temp = frame.is_temporary == 1
    for group in (frame.is_anonymous.eq(1) & ~temp, temp, frame.is_anonymous.eq(0)):
        assert set(frame[group].revision_is_identity_reverted) == {0, 1}
    anon = frame.is_anonymous == 1
    # both wikis hold both kinds of editors, each with reverted and kept edits
    for wiki in ("dewiki", "ukwiki"):
        for group in (anon, ~anon):
            labels = frame[(frame.wiki_db == wiki) & group].revision_is_identity_reverted
            assert set(labels) == {0, 1}
    # the two wikis' AUCs differ, and the order of the rows is scrambled
    de, uk = (frame.wiki_db == "dewiki").to_numpy(), (frame.wiki_db == "ukwiki").to_numpy()
    y = frame.revision_is_identity_reverted.to_numpy()
    assert auc(y[de], v1[de]) - auc(y[uk], v1[uk]) > 0.2
    assert not frame.wiki_db.is_monotonic_increasing and not frame.revision_id.is_monotonic_increasing
    # a score exactly at the threshold, reverted and not, among the anonymous and the registered
    at = v1 == THRESHOLD
    assert set(y[at]) == {0, 1} and set(frame.is_anonymous[at]) == {0, 1}
    # the hand-set balanced sample: every reverted revision and as many others, per wiki
    bal = frame[frame.is_balanced == 1]
    for wiki, part in bal.groupby("wiki_db"):
        reverted = part.revision_is_identity_reverted.sum()
        assert reverted == (frame[frame.wiki_db == wiki].revision_is_identity_reverted.sum())
        assert len(part) == 2 * reverted


# --- evaluate_scores ---------------------------------------------------------------------------

def test_balanced_anonymous_sample_is_balanced_per_wiki():
    frame, _, _ = hand_frame()
    mask = balanced_anonymous(frame, CFG.seed)
    anon = frame.is_anonymous.to_numpy() == 1
    y = frame.revision_is_identity_reverted.to_numpy()
    assert not mask[~anon].any()  # anonymous rows only
    assert mask[anon & (y == 1)].all()  # every anonymous revert
    for wiki in ("dewiki", "ukwiki"):
        here = mask & (frame.wiki_db == wiki).to_numpy()
        reverted_anonymous = anon & (y == 1) & (frame.wiki_db == wiki).to_numpy()
        assert (y[here] == 1).sum() == (y[here] == 0).sum() == reverted_anonymous.sum()
    assert (balanced_anonymous(frame, CFG.seed) == mask).all()  # seeded


@pytest.mark.parametrize("variant", [0, 1])
def test_every_figure_of_evaluate_scores(variant):
    frame, v1, v2 = hand_frame()
    scores = (v1, v2)[variant]
    got = evaluate_scores(frame, scores, CFG)
    expected = expected_metrics(frame, scores, balanced_anonymous(frame, CFG.seed))

    # per language: each row's figures are its own wiki's, sorted by AUC (the best first)
    check_metrics(got, expected, f"v{variant + 1}")
    # the languages compared: only dewiki has 13 rows or more; no correlation from fewer than 3
    assert got["languages"] == {"min_rows": 13, "wikis": ["dewiki"],
                                "spearman_anonymous_share_roc_auc": None}


def test_hand_counts_of_the_figures():
    # a few of the figures worked out on paper, so that scikit-learn's conventions are pinned too
    frame, v1, _ = hand_frame()
    got = evaluate_scores(frame, v1, CFG)
    fair = got["fairness"]
    # labels: anonymous 6 reverted of 14, registered 3 of 14
    assert fair["disparate_impact_labels"] == pytest.approx((6 / 14) / (3 / 14))
    assert fair["not_reverted_ratio_labels"] == pytest.approx((8 / 14) / (11 / 14))
    # predictions (score > 0.5, so the 0.5s are not flagged): anonymous .95 .8 .6 .55 .7 .65 -> 6 of
    # 14; registered .9 .6 .52 -> 3 of 14
    assert fair["disparate_impact_predictions"] == pytest.approx((6 / 14) / (3 / 14))
    assert fair["not_reverted_ratio_predictions"] == pytest.approx((8 / 14) / (11 / 14))
    rows = {r["wiki_db"]: r for r in got["per_language"]}
    assert (rows["dewiki"]["n"], rows["ukwiki"]["n"]) == (16, 12)
    assert rows["dewiki"]["revert_rate"] == pytest.approx(5 / 16)
    assert rows["ukwiki"]["revert_rate"] == pytest.approx(4 / 12)
    assert rows["dewiki"]["anonymous_share"] == pytest.approx(8 / 16)
    assert rows["ukwiki"]["anonymous_share"] == pytest.approx(6 / 12)
    # dewiki: reverted .95 .8 .5 .9 .4 against 11 kept ones; pairs ranked wrong: .5 < .6,
    # .4 < .6 and .4 < .5, and .5 = .5 counts half: 55 pairs, 3.5 wrong
    assert rows["dewiki"]["roc_auc"] == pytest.approx((55 - 3.5) / 55)
    # balanced all editors (20 rows): flagged .95 .8 .9 .6 | .55 .7 .65 .6 -> tp 5, fp 3; 9 reverted
    bal = got["balanced"]["all"]
    assert bal["n"] == 18
    assert bal["precision"] == pytest.approx(5 / 8) and bal["recall"] == pytest.approx(5 / 9)
    assert bal["f1"] == pytest.approx(2 * 5 / (2 * 5 + 3 + 4))
    assert bal["accuracy"] == pytest.approx((5 + 6) / 18)


def test_external_comparison_keeps_each_score_with_its_revision():
    frame, v1, v2 = hand_frame()
    external = pd.DataFrame(EXTERNAL, columns=["wiki_db", "revision_id", "score"])
    predictions = {"v1": v1, "v2": v2}
    got = external_comparison(frame, external, ["v1", "v2"], predictions, CFG)

    # the expected subset, looked up row by row by (wiki, revision id)
    lookup = {(w, r): s for w, r, s in EXTERNAL}
    keep = np.array([(w, r) in lookup for w, r in zip(frame.wiki_db, frame.revision_id)])
    subset = frame[keep].reset_index(drop=True)
    ext = np.array([lookup[w, r] for w, r in zip(subset.wiki_db, subset.revision_id)])
    assert got["n"] == len(subset) == 15
    anon_sample = balanced_anonymous(subset, CFG.seed)
    check_metrics(got["score"], expected_metrics(subset, ext, anon_sample), "external score")
    assert set(got["variants_on_same_rows"]) == {"v1", "v2"}
    for name, scores in (("v1", v1[keep]), ("v2", v2[keep])):
        check_metrics(got["variants_on_same_rows"][name], expected_metrics(subset, scores, anon_sample),
                      name)
    # the same with index labels that are not the row positions (here: reversed)
    relabelled = frame.set_axis(np.arange(len(frame))[::-1])
    again = external_comparison(relabelled, external, ["v1", "v2"], predictions, CFG)
    check_metrics(again["score"], expected_metrics(subset, ext, anon_sample), "relabelled external score")
    check_metrics(again["variants_on_same_rows"]["v2"], expected_metrics(subset, v2[keep], anon_sample),
                  "relabelled v2")
    # the figures differ from those on the first 15 rows of the frame (a positional mix-up)
    y = subset.revision_is_identity_reverted.to_numpy()
    y15 = frame.revision_is_identity_reverted.to_numpy()[:15]
    assert roc_auc_score(y, ext) != pytest.approx(roc_auc_score(y15, ext))
    assert roc_auc_score(y, v1[keep]) != pytest.approx(roc_auc_score(y15, v1[:15]))
    # nothing matches: a note, no figures
    none = external.assign(revision_id=external.revision_id + 10_000)
    assert external_comparison(frame, none, ["v1"], predictions, CFG)["n"] == 0


# --- the HTML report ---------------------------------------------------------------------------

class Page(HTMLParser):
    """The page as a list of (kind, content): headings, paragraphs, tables (rows of cell texts)
    and SVGs (label, polyline points, texts)."""

    def __init__(self):
        super().__init__()
        self.items: list[tuple[str, object]] = []
        self.text: list[str] | None = None
        self.row: list[str] | None = None
        self.rows: list[list[str]] | None = None
        self.svg: dict | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("h2", "h3", "p", "td", "th") or (tag == "text" and self.svg is not None):
            self.text = []
        if tag == "table":
            self.rows = []
        elif tag == "tr":
            self.row = []
        elif tag == "svg":
            self.svg = {"label": attrs.get("aria-label"), "polylines": [], "texts": []}
        elif tag == "polyline" and self.svg is not None:
            points = [tuple(map(float, p.split(","))) for p in attrs["points"].split()]
            self.svg["polylines"].append(points)

    def handle_data(self, data):
        if self.text is not None:
            self.text.append(data)

    def handle_endtag(self, tag):
        text = "".join(self.text or [])
        if tag in ("h2", "h3", "p"):
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
        elif tag == "svg":
            self.items.append(("svg", self.svg))
            self.svg = None


def shown(value) -> str:
    """How the page shows a figure: three decimals, a dash for an undefined one."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, (int, np.integer)):
        return str(value)
    return f"{float(value):.3f}"


def split_report():
    """Two splits, two variants, both baselines, built with kitrain's own functions; and the
    frames and scores each split was made of. full_test swaps the variants' scores."""
    frame, v1, v2 = hand_frame()
    external = pd.DataFrame(EXTERNAL, columns=["wiki_db", "revision_id", "score"])
    report, predictions, inputs = {"splits": {}}, [], {}
    for split, scores in (("test", {"v1": v1, "v2": v2}), ("full_test", {"v1": v2, "v2": v1})):
        parts = [pd.DataFrame({"split": split, "variant": v, "wiki_db": frame.wiki_db,
                               "revision_id": frame.revision_id,
                               "label": frame.revision_is_identity_reverted,
                               "is_anonymous": frame.is_anonymous, "is_temporary": frame.is_temporary,
                               "score": s}) for v, s in scores.items()]
        predictions += parts
        report["splits"][split] = {
            "variants": {v: evaluate_scores(frame, s, CFG) for v, s in scores.items()},
            "baselines": {"is_anonymous": evaluate_scores(frame, frame.is_anonymous.to_numpy(float), CFG),
                          "ores": external_comparison(frame, external, list(scores), scores, CFG)},
            "text_models": text_models(frame),
            "counts": {wiki: {"n": n, "reverted": reverted, "anonymous": anonymous, "temporary": temporary,
                              "temporary_share_of_anonymous": temporary / anonymous}
                       for wiki, n, reverted, anonymous, temporary in (("dewiki", 16, 5, 8, 4),
                                                                       ("ukwiki", 12, 4, 6, 3))},
        }
        inputs[split] = scores
    return report, pd.concat(predictions, ignore_index=True), frame, inputs


def sections(page: Page) -> dict[str, list]:
    """The page's items under each ``Split: ...`` heading."""
    out, current = {}, None
    for kind, content in page.items:
        if kind == "h2":
            current = content.removeprefix("Split: ") if content.startswith("Split: ") else None
            if current:
                out[current] = []
        elif current:
            out[current].append((kind, content))
    return out


def table_after(items: list, heading_start: str) -> list[list[str]]:
    for i, (kind, content) in enumerate(items):
        if kind == "h3" and content.startswith(heading_start):
            return next(c for k, c in items[i + 1:] if k == "table")
    raise AssertionError(f"no table under {heading_start!r}")


def svg(items: list, label: str) -> dict:
    return next(c for k, c in items if k == "svg" and c["label"] == label)


def test_report_shows_the_figures_of_the_metrics():
    report, predictions, frame, inputs = split_report()
    page = Page()
    page.feed(render(report, prediction_curves(predictions), {"v1": {"is_anonymous": 2.0}}, {"run_dir": "/runs/x"}))
    found = sections(page)
    assert set(found) == {"test", "full_test"}

    y = frame.revision_is_identity_reverted.to_numpy()
    anon = frame.is_anonymous.to_numpy() == 1
    bal = frame.is_balanced.to_numpy() == 1
    anon_sample = balanced_anonymous(frame, CFG.seed)
    lookup = {(w, r): s for w, r, s in EXTERNAL}
    keep = np.array([(w, r) in lookup for w, r in zip(frame.wiki_db, frame.revision_id)])
    ext = np.array([lookup[w, r] for w, r in zip(frame.wiki_db[keep], frame.revision_id[keep])])
    sub_anon_sample = balanced_anonymous(frame[keep].reset_index(drop=True), CFG.seed)
    ys, anons, bals = y[keep], anon[keep], bal[keep]

    for split, items in found.items():
        models = {**inputs[split], "baseline: is_anonymous": anon.astype(float)}
        # the variant table: every cell is the figure recomputed from the scores
        variants = table_after(items, "Variants and baselines")
        assert variants[0] == ["model", "n", "ROC AUC", "PR@R0.75", "ROC AUC anon", "PR@R0.75 anon",
                               "bal. accuracy", "bal. ROC AUC", "bal. F1", "bal. precision", "bal. recall",
                               "bal. ROC AUC anon"]
        assert [r[0] for r in variants[1:]] == list(models)
        for row in variants[1:]:
            s = models[row[0]]
            b = at_threshold(y[bal], s[bal])
            assert row[1:] == [shown(v) for v in (
                len(y), auc(y, s), pr75(y, s), auc(y[anon], s[anon]), pr75(y[anon], s[anon]),
                b["accuracy"], auc(y[bal], s[bal]), b["f1"], b["precision"], b["recall"],
                auc(y[anon_sample], s[anon_sample]))], (split, row[0])
        # against the external scores, on the revisions they scored
        against = table_after(items, "Against ores")
        on_rows = {"baseline: ores": ext, **{v: s[keep] for v, s in inputs[split].items()}}
        assert [r[0] for r in against[1:]] == list(on_rows)
        for row in against[1:]:
            s = on_rows[row[0]]
            fair = expected_fairness(ys, s, anons)
            assert row[1:] == [shown(v) for v in (
                len(ys), auc(ys, s), pr75(ys, s), auc(ys[anons], s[anons]), auc(ys[bals], s[bals]),
                at_threshold(ys[bals], s[bals])["f1"], auc(ys[sub_anon_sample], s[sub_anon_sample]),
                fair["disparate_impact_predictions"], fair["roc_auc_difference"])], (split, row[0])
        # each text model alone
        texts = table_after(items, "Each text model alone")
        models_alone = [("inserts", "insert_p_1_max"), ("removes", "remove_p_1_max"),
                        ("changes", "change_p_1_max"), ("title", "title_s_0")]
        assert len(texts) == 1 + len(models_alone)
        for row, (target, column) in zip(texts[1:], models_alone):
            values = frame[column].to_numpy()
            has = values != -1 if target != "title" else np.ones(len(values), bool)
            assert row == [target, column, shown(int(has.sum())), shown(has.mean()),
                           shown(auc(y[has], values[has]))]
        # fairness
        fairness = table_after(items, "Fairness")
        assert [r[0] for r in fairness[1:]] == list(inputs[split])
        for row in fairness[1:]:
            fair = expected_fairness(y, inputs[split][row[0]], anon)
            assert row[1:] == [shown(fair[k]) for k in (
                "disparate_impact_labels", "disparate_impact_predictions", "not_reverted_ratio_labels",
                "not_reverted_ratio_predictions", "roc_auc_difference")]
        # counts per language
        assert table_after(items, "Data per language")[1:] == [["dewiki", "16", "5", "8", "4", "0.500"],
                                                                ["ukwiki", "12", "4", "6", "3", "0.500"]]
        # the three editor groups of every variant, each figure on the group's own rows
        groups = table_after(items, "Editor groups")
        assert groups[0] == ["model", "editors", "n", "revert rate", "ROC AUC", "PR@R0.75", "prediction rate"]
        expected_rows = [[variant, group, shown(g["n"]), *(shown(g[k]) for k in (
            "revert_rate", "roc_auc", "pr_at_recall", "prediction_rate"))]
            for variant, s in inputs[split].items() for group, g in expected_groups(frame, s).items()]
        assert groups[1:] == expected_rows
        for variant, s in inputs[split].items():
            # the per-language bars: each wiki with its own n and AUC, the best first
            bars = svg(items, f"ROC AUC per language, {variant} ({split}), sorted")["texts"][1:]
            shown_bars = list(zip(bars[::2], bars[1::2]))
            expected = []
            for wiki in ("dewiki", "ukwiki"):
                here = (frame.wiki_db == wiki).to_numpy()
                expected.append((auc(y[here], s[here]), f"{wiki} (n={here.sum()})"))
            expected.sort(reverse=True)
            assert shown_bars == [(label, shown(value)) for value, label in expected]
            assert f"{variant}: over the 1 languages with at least 13 rows" in "".join(
                c for k, c in items if k == "p")
        # the curves: scikit-learn's points, drawn in a 240-pixel square from (40, 40)
        for who, rows in (("all editors", np.ones(len(y), bool)), ("anonymous editors", anon)):
            roc_lines = svg(items, f"ROC, {who} ({split})")["polylines"]
            pr_lines = svg(items, f"Precision-recall, {who} ({split})")["polylines"]
            for i, variant in enumerate(sorted(inputs[split])):
                s = inputs[split][variant]
                fpr, tpr, _ = roc_curve(y[rows], s[rows])
                np.testing.assert_allclose(roc_lines[i], np.c_[40 + fpr * 240, 40 + (1 - tpr) * 240],
                                           atol=0.051)
                precision, recall, _ = precision_recall_curve(y[rows], s[rows])
                np.testing.assert_allclose(pr_lines[i], np.c_[40 + recall[::-1] * 240,
                                                              40 + (1 - precision[::-1]) * 240], atol=0.051)


# --- a real run ----------------------------------------------------------------------------------

@pytest.mark.spark  # builds on the collected, fine-tuned and trained demo run
def test_metrics_json_agrees_with_predictions_parquet(trained):
    from kitrain.evaluate import run_evaluate
    from kitrain.paths import RunPaths

    run_dir, _ = trained
    run_evaluate(EvaluateConfig(), run_dir)
    report = Path(RunPaths(run_dir).report())
    metrics = json.loads((report / "metrics.json").read_text(encoding="utf-8"))
    predictions = pq.read_table(report / "predictions.parquet").to_pandas()
    checked = 0
    for split, results in metrics["splits"].items():
        assert set(results["variants"]) >= {"all+user+mlm", "anon+base"}
        for variant, m in results["variants"].items():
            part = predictions[(predictions.split == split) & (predictions.variant == variant)]
            y, s = part.label.to_numpy().astype(int), part.score.to_numpy()
            anon = part.is_anonymous.to_numpy() == 1
            assert m["unbalanced"]["all"]["n"] == len(part) > 0
            assert_close(m["unbalanced"]["all"]["roc_auc"], auc(y, s), f"{split}.{variant}.all")
            assert_close(m["unbalanced"]["anonymous"]["roc_auc"], auc(y[anon], s[anon]),
                         f"{split}.{variant}.anonymous")
            rows = {r["wiki_db"]: r for r in m["per_language"]}
            assert set(rows) == set(part.wiki_db)
            for wiki, here in part.groupby("wiki_db"):
                assert rows[wiki]["n"] == len(here)
                assert_close(rows[wiki]["roc_auc"], auc(here.label.astype(int), here.score),
                             f"{split}.{variant}.{wiki}")
            checked += 1
    assert checked >= 4  # two variants on two splits
