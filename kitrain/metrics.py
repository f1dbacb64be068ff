"""Performance and fairness metrics, in plain numpy so that each is checked by hand in the tests.

Conventions: ``labels`` are 0/1 (1 = reverted), ``scores`` the predicted probability of a revert.
A metric that is undefined on its input (one class only, an empty group) is ``None``, never a
made-up number.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _arrays(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=np.int64)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.shape} vs {s.shape}")
    return y, s


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    ranks = np.empty(len(values), dtype=np.float64)
    boundaries = np.flatnonzero(np.diff(sorted_values)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [len(values)]))
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2.0
    return ranks


def roc_auc(labels: Any, scores: Any) -> float | None:
    """Area under the ROC curve (Mann-Whitney U with tied scores counted half)."""
    y, s = _arrays(labels, scores)
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = _average_ranks(s)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def spearman(x: Any, y: Any) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None for fewer than three pairs or
    a constant side."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(a) < 3:
        return None
    ra, rb = _average_ranks(a), _average_ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denominator = float(np.sqrt((ra ** 2).sum() * (rb ** 2).sum()))
    return float((ra * rb).sum() / denominator) if denominator else None


def roc_curve(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate) at every distinct threshold, from (0, 0) to (1, 1)."""
    y, s = _arrays(labels, scores)
    positives, negatives = y.sum(), len(y) - y.sum()
    if positives == 0 or negatives == 0:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_threshold = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[last_of_threshold]
    fp = (last_of_threshold + 1) - tp
    return np.r_[0.0, fp / negatives], np.r_[0.0, tp / positives]


def pr_curve(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """(recall, precision) at every distinct threshold, highest first, from (0, 1)."""
    y, s = _arrays(labels, scores)
    positives = y.sum()
    if positives == 0:
        return np.array([0.0, 1.0]), np.array([1.0, 0.0])
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_threshold = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[last_of_threshold]
    flagged_count = last_of_threshold + 1
    return np.r_[0.0, tp / positives], np.r_[1.0, tp / flagged_count]


def precision_at_recall(labels: Any, scores: Any, recall: float = 0.75) -> float | None:
    """Precision at the highest threshold whose recall is above ``recall`` (PR@R0.75 by default),
    as the original notebooks compute it from scikit-learn's curve (``np.where(recall > 0.75)[0][-1]``):
    a threshold reaching exactly 0.75 does not count. None where no threshold gets above it.

    Revisions with the same score are flagged together, so a threshold takes all of its ties.
    """
    y, s = _arrays(labels, scores)
    positives = int(y.sum())
    if positives == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last_of_threshold = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[last_of_threshold]
    flagged = last_of_threshold + 1
    reached = np.flatnonzero(tp / positives > recall + 1e-12)
    if len(reached) == 0:
        return None
    first = reached[0]
    return float(tp[first] / flagged[first])


def flagged(scores: Any, threshold: float) -> np.ndarray:
    """1 where a score is above the threshold, as the original notebooks predict (``y_pred > t``)."""
    return (np.asarray(scores, dtype=np.float64) > threshold).astype(np.int64)


def threshold_metrics(labels: Any, scores: Any, threshold: float = 0.5) -> dict[str, float | None]:
    """Accuracy, precision, recall and F1 of ``score > threshold`` (the original notebooks flag a
    revision whose score is above the threshold, not at it)."""
    y, s = _arrays(labels, scores)
    if len(y) == 0:
        return {"accuracy": None, "precision": None, "recall": None, "f1": None}
    predicted = flagged(s, threshold)
    tp = int(np.sum((predicted == 1) & (y == 1)))
    fp = int(np.sum((predicted == 1) & (y == 0)))
    fn = int(np.sum((predicted == 0) & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = (2 * precision * recall / (precision + recall)
          if precision is not None and recall is not None and precision + recall else None)
    return {"accuracy": float(np.mean(predicted == y)), "precision": precision, "recall": recall,
            "f1": f1}


def rate_ratio(outcomes: Any, group: Any, outcome: int = 1) -> float | None:
    """P(outcome | group) / P(outcome | the rest); None when a side is empty or its rate is 0."""
    o = np.asarray(outcomes, dtype=np.int64)
    g = np.asarray(group, dtype=bool)
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
