"""Performance and fairness metrics: scikit-learn's, with the conventions of the report.

The performance metrics (ROC AUC and curve, precision-recall curve, accuracy, precision, recall,
F1) are scikit-learn's; what it does not have (the rate ratios of disparate impact, the AUC
difference between groups) is composed here from them and checked by hand in the tests. Spearman's
correlation is scipy's.

Conventions: ``labels`` are 0/1 (1 = reverted), ``scores`` the predicted probability of a revert.
A metric that is undefined on its input (one class only, an empty group, no flagged revision for
precision) is ``None``, never a made-up number (scikit-learn would warn and return 0 or raise).
A revision is flagged when its score is above the threshold, strictly (``y_pred > t``, as the
original notebooks predict).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats
from sklearn import metrics as skm


def _arrays(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.shape} vs {s.shape}")
    return y, s


def _both_classes(y: np.ndarray) -> bool:
    positives = int(y.sum())
    return 0 < positives < len(y)


def _defined(value: Any) -> float | None:
    """A float, or None for scikit-learn's NaN of an undefined metric."""
    value = float(value)
    return None if math.isnan(value) else value


def roc_auc(labels: Any, scores: Any) -> float | None:
    """scikit-learn's ``roc_auc_score`` (tied scores count half); None with one class only."""
    y, s = _arrays(labels, scores)
    if not _both_classes(y):
        return None
    return float(skm.roc_auc_score(y, s))


def spearman(x: Any, y: Any) -> float | None:
    """scipy's Spearman rank correlation (average ranks for ties); None for fewer than three pairs
    or a constant side."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"x and y differ in length: {a.shape} vs {b.shape}")
    if len(a) < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return None
    return _defined(stats.spearmanr(a, b)[0])


def roc_curve(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's (false positive rate, true positive rate), from (0, 0) to (1, 1); the
    diagonal where one class is missing (the curve is undefined there)."""
    y, s = _arrays(labels, scores)
    if not _both_classes(y):
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    fpr, tpr, _ = skm.roc_curve(y, s)
    return fpr, tpr


def pr_curve(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's precision-recall curve as (recall, precision), highest threshold first, from
    (0, 1); a line from (0, 1) to (1, 0) where there is no positive (recall is undefined)."""
    y, s = _arrays(labels, scores)
    if int(y.sum()) == 0:
        return np.array([0.0, 1.0]), np.array([1.0, 0.0])
    precision, recall, _ = skm.precision_recall_curve(y, s)
    return recall[::-1], precision[::-1]


def precision_at_recall(labels: Any, scores: Any, recall: float = 0.75) -> float | None:
    """Precision at the highest threshold whose recall is above ``recall`` (PR@R0.75 by default),
    exactly as the original notebooks compute it from scikit-learn's curve:
    ``precision[np.where(recall > 0.75)[0][-1]]``. A threshold reaching exactly 0.75 does not
    count; revisions with the same score are flagged together. None where no threshold gets above
    it (or there is no positive)."""
    y, s = _arrays(labels, scores)
    if int(y.sum()) == 0:
        return None
    precisions, recalls, _ = skm.precision_recall_curve(y, s)
    above = np.where(recalls > recall)[0]
    if len(above) == 0:
        return None
    return float(precisions[above[-1]])


def flagged(scores: Any, threshold: float) -> np.ndarray:
    """1 where a score is above the threshold, as the original notebooks predict (``y_pred > t``)."""
    return (np.asarray(scores, dtype=np.float64) > threshold).astype(np.int64)


def threshold_metrics(labels: Any, scores: Any, threshold: float = 0.5) -> dict[str, float | None]:
    """scikit-learn's accuracy, precision, recall and F1 of ``score > threshold`` (the original
    notebooks flag a revision whose score is above the threshold, not at it). Precision is None when
    nothing is flagged, recall when nothing is reverted, F1 (``2 tp / (2 tp + fp + fn)``) when
    neither; everything on an empty input."""
    y, s = _arrays(labels, scores)
    if len(y) == 0:
        return {"accuracy": None, "precision": None, "recall": None, "f1": None}
    predicted = flagged(s, threshold)
    # binary metrics of class 1 whichever classes are present; NaN (not 0) where undefined
    kw = {"labels": [0, 1], "pos_label": 1, "average": "binary", "zero_division": np.nan}
    return {"accuracy": float(skm.accuracy_score(y, predicted)),
            "precision": _defined(skm.precision_score(y, predicted, **kw)),
            "recall": _defined(skm.recall_score(y, predicted, **kw)),
            "f1": _defined(skm.f1_score(y, predicted, **kw))}


def rate_ratio(outcomes: Any, group: Any, outcome: int = 1) -> float | None:
    """P(outcome | group) / P(outcome | the rest); None when a side is empty or its rate is 0."""
    o = np.asarray(outcomes, dtype=np.int64)
    g = np.asarray(group, dtype=bool)
    if o.shape != g.shape:
        raise ValueError(f"outcomes and group differ in length: {o.shape} vs {g.shape}")
    if g.sum() == 0 or (~g).sum() == 0:
        return None
    rest_rate = float(np.mean(o[~g] == outcome))
    if rest_rate == 0:
        return None
    return float(np.mean(o[g] == outcome)) / rest_rate


def disparate_impact(reverted: Any, anonymous: Any) -> float | None:
    """The paper's disparate impact: P(reverted | anonymous) / P(reverted | registered), of labels
    or of predictions at a threshold (the paper: 7.93 for the labels, 9.54 for its model, 20.0 for
    ORES). 1 is parity; above 1, anonymous edits are reverted (or flagged) more often."""
    return rate_ratio(reverted, anonymous, outcome=1)


def not_reverted_ratio(reverted: Any, anonymous: Any) -> float | None:
    """P(not reverted | anonymous) / P(not reverted | registered): the "favourable outcome" ratio
    of the usual disparate-impact definition, with keeping an edit as the favourable outcome."""
    return rate_ratio(reverted, anonymous, outcome=0)


def auc_difference(labels: Any, scores: Any, group: Any) -> float | None:
    """ROC AUC of the group minus ROC AUC of the rest (anonymous minus registered)."""
    y, s = _arrays(labels, scores)
    g = np.asarray(group, dtype=bool)
    inside, outside = roc_auc(y[g], s[g]), roc_auc(y[~g], s[~g])
    if inside is None or outside is None:
        return None
    return inside - outside
