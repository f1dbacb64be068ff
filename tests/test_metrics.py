"""Metric functions against values computed by hand on tiny inputs, and against scikit-learn and
scipy called directly (the functions are theirs, with None for what is undefined)."""

import numpy as np
import pytest

from kitrain import metrics


def test_auc_by_hand():
    # pairs (pos, neg): (0.8,0.1) (0.8,0.4) (0.35,0.1) (0.35,0.4) -> 3 of 4 ordered right
    assert metrics.roc_auc([1, 0, 1, 0], [0.8, 0.1, 0.35, 0.4]) == pytest.approx(0.75)


def test_auc_counts_ties_as_half():
    # one positive and one negative with the same score: a coin flip
    assert metrics.roc_auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)
    assert metrics.roc_auc([1, 1, 0], [0.9, 0.5, 0.5]) == pytest.approx(0.75)


def test_auc_undefined_with_one_class():
    assert metrics.roc_auc([1, 1], [0.2, 0.9]) is None


def test_auc_matches_the_trapezoid_of_the_curve():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.random(200), 1)  # many ties
    fpr, tpr = metrics.roc_curve(y, s)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert metrics.roc_auc(y, s) == pytest.approx(np.trapezoid(tpr, fpr))


def test_precision_at_recall_by_hand():
    # scores sorted: 0.9(1) 0.8(0) 0.7(1) 0.6(1) 0.5(0) 0.4(1); 4 positives
    # recall above 0.75, as the notebooks' np.where(recall > 0.75): 0.6 gives exactly 0.75 (3 of
    # 4), so the threshold is 0.4, after 6 flagged -> precision 4/6
    y = [1, 0, 1, 1, 0, 1]
    s = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    assert metrics.precision_at_recall(y, s, 0.75) == pytest.approx(4 / 6)
    # above 0.5: at 0.6 (recall 3/4) after 4 flagged -> 3/4
    assert metrics.precision_at_recall(y, s, 0.5) == pytest.approx(0.75)
    # nothing is above a recall of 1
    assert metrics.precision_at_recall(y, s, 1.0) is None


def test_precision_at_recall_takes_ties_together():
    # the two 0.7s are flagged together: 3 flagged, 2 positives of 2 -> 2/3
    assert metrics.precision_at_recall([1, 0, 1], [0.9, 0.7, 0.7], 0.75) == pytest.approx(2 / 3)


def test_threshold_metrics_by_hand():
    # predictions at 0.5: 1 1 0 0; labels 1 0 1 0 -> tp 1, fp 1, fn 1, tn 1
    out = metrics.threshold_metrics([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1])
    assert out == {"accuracy": 0.5, "precision": 0.5, "recall": 0.5, "f1": 0.5}
    # nothing predicted positive: precision undefined, not zero
    assert metrics.threshold_metrics([1, 0], [0.1, 0.2])["precision"] is None


def test_f1_is_scikit_learns_2tp_over_2tp_fp_fn():
    # nothing flagged while one revision is reverted: precision is undefined (None), recall 0, and
    # F1 = 2 tp / (2 tp + fp + fn) = 0 / 1 = 0, as scikit-learn (and the original notebooks) give it
    assert metrics.threshold_metrics([1, 0], [0.1, 0.2]) == {"accuracy": 0.5, "precision": None,
                                                            "recall": 0.0, "f1": 0.0}
    # nothing reverted and nothing flagged: recall and F1 undefined too
    assert metrics.threshold_metrics([0, 0], [0.1, 0.2]) == {"accuracy": 1.0, "precision": None,
                                                            "recall": None, "f1": None}
    # only revisions flagged wrongly: precision 0, recall undefined, F1 0
    assert metrics.threshold_metrics([0, 0], [0.9, 0.2]) == {"accuracy": 0.5, "precision": 0.0,
                                                            "recall": None, "f1": 0.0}
    assert metrics.threshold_metrics([], []) == {"accuracy": None, "precision": None, "recall": None,
                                                 "f1": None}


def test_the_metrics_are_scikit_learns():
    from scipy.stats import spearmanr
    from sklearn import metrics as skm

    rng = np.random.default_rng(1)
    for n in (7, 50, 400):
        y = rng.integers(0, 2, n)
        s = np.round(rng.random(n), 1)  # many ties, and scores exactly at the threshold
        assert metrics.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=1e-15)
        precision, recall, _ = skm.precision_recall_curve(y, s)
        assert metrics.precision_at_recall(y, s) == precision[np.where(recall > 0.75)[0][-1]]
        got_recall, got_precision = metrics.pr_curve(y, s)
        np.testing.assert_array_equal(got_recall, recall[::-1])
        np.testing.assert_array_equal(got_precision, precision[::-1])
        fpr, tpr, _ = skm.roc_curve(y, s)
        np.testing.assert_array_equal(np.stack(metrics.roc_curve(y, s)), np.stack([fpr, tpr]))
        predicted = (s > 0.5).astype(int)
        assert metrics.threshold_metrics(y, s) == pytest.approx({
            "accuracy": skm.accuracy_score(y, predicted), "precision": skm.precision_score(y, predicted),
            "recall": skm.recall_score(y, predicted), "f1": skm.f1_score(y, predicted)})
        x = rng.integers(0, 5, n)
        assert metrics.spearman(x, s) == pytest.approx(spearmanr(x, s).statistic)


def test_undefined_curves_and_ranks_are_not_made_up():
    # one class: no AUC, no PR@R0.75 without a positive, the diagonal as the ROC "curve"
    assert metrics.roc_auc([0, 0, 0], [0.1, 0.5, 0.9]) is None
    assert metrics.precision_at_recall([0, 0], [0.1, 0.9]) is None
    np.testing.assert_array_equal(np.stack(metrics.roc_curve([1, 1], [0.2, 0.3])), [[0, 1], [0, 1]])
    assert metrics.spearman([1, 2, 3], [5, 5, 5]) is None


def test_disparate_impact_by_hand():
    # the paper's: reverted 3 of 4 anonymous (0.75), 1 of 4 registered (0.25) -> 3
    outcomes = [1, 1, 1, 0, 0, 0, 0, 1]
    anon = [True, True, True, True, False, False, False, False]
    assert metrics.disparate_impact(outcomes, anon) == pytest.approx(3)
    # the favourable-outcome ratio: not reverted 1 of 4 anonymous, 3 of 4 registered -> 1/3
    assert metrics.not_reverted_ratio(outcomes, anon) == pytest.approx(1 / 3)
    # an empty group, or no registered edit reverted, gives no ratio
    assert metrics.disparate_impact([0, 1], [False, False]) is None
    assert metrics.disparate_impact([1, 0, 0], [True, False, False]) is None


def test_auc_difference_by_hand():
    y = [1, 0, 1, 0, 1, 0, 1, 0]
    s = [0.9, 0.1, 0.8, 0.2, 0.3, 0.7, 0.6, 0.4]
    group = [True] * 4 + [False] * 4
    # anonymous AUC 1.0, registered AUC: pos 0.3, 0.6 vs neg 0.7, 0.4 -> 1 of 4 -> 0.25
    assert metrics.auc_difference(y, s, group) == pytest.approx(0.75)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ in length"):
        metrics.roc_auc([1, 0], [0.5])


def test_fairness_of_labels_and_predictions_by_hand():
    import numpy as np

    from kitrain.config import EvaluateConfig
    from kitrain.evaluate import fairness

    # anonymous: labels 1 1 0 0, scores .9 .6 .7 .2 -> predicted (> 0.5) 1 1 1 0
    # registered: labels 1 0 0 0, scores .8 .4 .1 .3 -> predicted 1 0 0 0
    labels = np.array([1, 1, 0, 0, 1, 0, 0, 0])
    scores = np.array([0.9, 0.6, 0.7, 0.2, 0.8, 0.4, 0.1, 0.3])
    anon = np.array([True] * 4 + [False] * 4)
    got = fairness(labels, scores, anon, EvaluateConfig())
    assert got["disparate_impact_labels"] == pytest.approx(0.5 / 0.25)  # 2 of 4 vs 1 of 4
    assert got["disparate_impact_predictions"] == pytest.approx(0.75 / 0.25)  # 3 of 4 vs 1 of 4
    assert got["not_reverted_ratio_labels"] == pytest.approx(0.5 / 0.75)
    assert got["not_reverted_ratio_predictions"] == pytest.approx(0.25 / 0.75)
    # AUC: anonymous 3 of 4 positive-negative pairs ranked right (.9>.7, .9>.2, .6<.7, .6>.2);
    # registered 1.0 (0.8 above every negative)
    assert got["roc_auc_difference"] == pytest.approx(0.75 - 1.0)


def test_a_score_at_the_threshold_is_not_flagged():
    # the notebooks' y_pred > 0.5: a score of exactly 0.5 is not a predicted revert
    out = metrics.threshold_metrics([1, 0, 1], [0.5, 0.2, 0.9])
    assert out["recall"] == 0.5 and out["precision"] == 1.0
    assert list(metrics.flagged([0.5, 0.51, 0.49], 0.5)) == [0, 1, 0]


def test_pr_curve_by_hand():
    # scores .9 (pos) .8 (neg) .8 (pos) .3 (neg): thresholds .9, .8 (ties flagged together), .3
    recall, precision = metrics.pr_curve([1, 0, 1, 0], [0.9, 0.8, 0.8, 0.3])
    np.testing.assert_allclose(recall, [0, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(precision, [1, 1.0, 2 / 3, 0.5])


def test_balanced_anonymous_sample_by_hand():
    import pandas as pd

    from kitrain.evaluate import balanced_anonymous

    # as the original get_balanced_anon: the smaller class whole, as many of the larger
    # ukwiki: 6 anonymous edits, 2 reverted -> the 2 and 2 of the 4 others; 3 registered, never in
    # jawiki: 4 anonymous, 3 reverted -> the one kept edit and 1 of the 3 reverts
    # frwiki: 2 anonymous, both reverted -> nothing to pair them with: none
    frame = pd.DataFrame({
        "wiki_db": ["ukwiki"] * 9 + ["jawiki"] * 4 + ["frwiki"] * 2, "revision_id": range(15),
        "revision_is_identity_reverted": [1, 1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 1],
        "is_anonymous": [1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1],
    })
    mask = balanced_anonymous(frame, seed=42)
    chosen = frame[mask]
    assert chosen.is_anonymous.all()
    uk = chosen[chosen.wiki_db == "ukwiki"]
    assert set(uk.revision_id) >= {0, 1} and len(uk) == 4
    ja = chosen[chosen.wiki_db == "jawiki"]
    assert 11 in set(ja.revision_id) and len(ja) == 2 and ja.revision_is_identity_reverted.sum() == 1
    assert chosen[chosen.wiki_db == "frwiki"].empty
    # seeded: the same sample again, another with another seed over many draws
    assert (balanced_anonymous(frame, seed=42) == mask).all()
    assert any((balanced_anonymous(frame, seed=s) != mask).any() for s in range(1, 20))
    # the rows' order in the file does not change the draw
    shuffled = frame.sample(frac=1.0, random_state=3)
    assert set(shuffled[balanced_anonymous(shuffled, seed=42)].revision_id) == set(chosen.revision_id)


def test_each_text_model_alone_by_hand():
    import pandas as pd

    from kitrain.evaluate import text_models

    # insert scores: -1 means no inserted text; of the three with one, AUC 1.0 (0.9 > 0.2, 0.9 > 0.1)
    frame = pd.DataFrame({
        "revision_is_identity_reverted": [1, 0, 0, 1],
        "insert_p_1_max": [0.9, 0.2, 0.1, -1.0], "remove_p_1_max": [-1.0] * 4,
        "change_p_1_max": [0.3, 0.6, -1.0, -1.0], "title_s_0": [0.1, 0.2, 0.3, 0.4],
    })
    got = text_models(frame)
    assert got["inserts"] == {"feature": "insert_p_1_max", "revisions_with_text": 3, "share_with_text": 0.75,
                              "roc_auc": 1.0}
    assert got["removes"]["revisions_with_text"] == 0 and got["removes"]["roc_auc"] is None
    assert got["changes"]["roc_auc"] == 0.0  # the reverted one scored lower
    # the title model scores every revision: reverted .1, .4 against .2, .3 -> 2 of 4 pairs
    assert got["title"]["revisions_with_text"] == 4 and got["title"]["roc_auc"] == 0.5


def test_spearman_by_hand():
    # ranks x 1 2 3 4, y 2 1 4 3: d = (1, 1, 1, 1), 1 - 6 * 4 / (4 * 15) = 0.6
    assert metrics.spearman([10, 20, 30, 40], [0.2, 0.1, 0.4, 0.3]) == pytest.approx(0.6)
    assert metrics.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert metrics.spearman([1, 2], [1, 2]) is None and metrics.spearman([1, 1, 1], [1, 2, 3]) is None


def test_language_comparison_keeps_the_large_wikis():
    from kitrain.evaluate import language_comparison

    rows = [{"wiki_db": "enwiki", "n": 50_000, "anonymous_share": 0.1, "roc_auc": 0.9},
            {"wiki_db": "dewiki", "n": 20_000, "anonymous_share": 0.3, "roc_auc": 0.8},
            {"wiki_db": "ukwiki", "n": 12_000, "anonymous_share": 0.2, "roc_auc": 0.85},
            {"wiki_db": "xxwiki", "n": 500, "anonymous_share": 0.9, "roc_auc": 0.99},
            {"wiki_db": "yywiki", "n": 30_000, "anonymous_share": 0.5, "roc_auc": None}]
    got = language_comparison(rows, 10_000)
    # the small wiki and the one without an AUC are left out; share and AUC fall together: -1
    assert got == {"min_rows": 10_000, "wikis": ["dewiki", "enwiki", "ukwiki"],
                   "spearman_anonymous_share_roc_auc": pytest.approx(-1.0)}
