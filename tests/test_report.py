"""The HTML report: self-contained, complete, and escaping everything that comes from data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kitrain.config import EvaluateConfig
from kitrain.evaluate import evaluate_scores
from kitrain.report import prediction_curves, render

HOSTILE = '<script>alert("x")</script>'


def fake_split(wiki: str) -> tuple[dict, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame({
        "wiki_db": [wiki, "ukwiki"] * (n // 2), "revision_id": np.arange(n),
        "revision_is_identity_reverted": rng.integers(0, 2, n), "is_anonymous": rng.integers(0, 2, n),
        "is_balanced": 1,
    })
    frame["is_temporary"] = frame.is_anonymous * rng.integers(0, 2, n)
    scores = rng.random(n)
    metrics = evaluate_scores(frame, scores, EvaluateConfig())
    results = {"variants": {"all+user+mlm": metrics}, "baselines": {"is_anonymous": metrics},
               "counts": {wiki: {"n": 30, "reverted": 10, "anonymous": 5}},
               "text_models": {"inserts": {"feature": "insert_p_1_max", "revisions_with_text": 12,
                                           "share_with_text": 0.2, "roc_auc": 0.61}}}
    predictions = pd.DataFrame({"split": "test", "variant": "all+user+mlm", "wiki_db": frame.wiki_db,
                                "revision_id": frame.revision_id,
                                "label": frame.revision_is_identity_reverted,
                                "is_anonymous": frame.is_anonymous, "is_temporary": frame.is_temporary,
                                "score": scores})
    return {"splits": {"test": results}}, predictions


def test_page_is_complete_and_self_contained():
    report, predictions = fake_split("enwiki")
    page = render(report, prediction_curves(predictions), {"all+user+mlm": {"insert_s_0_max": 3.0}},
                  {"run_dir": "/runs/2022-07", "versions": {"kitrain": "0.1.0"}})
    for part in ("Variants and baselines", "ROC, all editors (test)", "ROC, anonymous editors (test)",
                 "Precision-recall, all editors (test)", "Precision-recall, anonymous editors (test)",
                 "Each text model alone", "insert_p_1_max", "0.610",
                 "ROC AUC per language", "Fairness", "Data per language", "Feature importances",
                 "Configuration and versions", "<svg", "insert_s_0_max"):
        assert part in page, part
    # nothing is loaded from elsewhere and nothing runs
    assert "<script" not in page and "src=" not in page and "href=" not in page


def test_values_from_data_are_escaped():
    # a wiki name, a feature name and a config value carrying markup show as text
    report, predictions = fake_split(HOSTILE)
    page = render(report, prediction_curves(predictions), {"all+user+mlm": {HOSTILE: 1.0}}, {"run_dir": HOSTILE})
    assert HOSTILE not in page
    assert html_escaped(HOSTILE) in page


def html_escaped(text: str) -> str:
    import html

    return html.escape(text, quote=True)
