"""The classifier's training settings, on a tiny hand-made frame (no Spark, no run directory)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kitrain.classifier import balanced_class_weights, train_variant
from kitrain.config import TrainConfig
from kitrain.prepare import IS_TEXT_TRAIN
from kitrain.schema import LABEL, variant_features


def frame(rows: int = 100, positives: int = 20, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data = {name: rng.integers(0, 3, rows) for name in variant_features("all+base")}
    data["wiki_db"] = rng.choice(["ukwiki", "jawiki"], rows)
    data[LABEL] = [1] * positives + [0] * (rows - positives)
    data[IS_TEXT_TRAIN] = 0
    return pd.DataFrame(data)


def test_balanced_class_weights_are_scikit_learns():
    # n / (2 n_c): 90 rows, 72 negative and 18 positive
    assert balanced_class_weights(pd.Series([0] * 72 + [1] * 18)) == {0: 0.625, 1: 2.5}


def test_the_original_training_settings_by_default():
    cfg = TrainConfig(iterations=25, seed=1)
    assert cfg.early_stopping_rounds == 0
    model, metrics = train_variant(frame(), "all+base", cfg)
    params = model.get_all_params()
    # the stratified 10 % leaves 90 fit rows, 18 of them positive: weights 90 / (2 * 72), 90 / (2 * 18)
    assert metrics["rows"] == {"fit": 90, "eval": 10}
    assert params["class_weights"] == pytest.approx([0.625, 2.5])
    # every iteration runs; the evaluation Logloss picks the best one
    assert params["eval_metric"] == "Logloss" and params["use_best_model"] is True
    assert len(model.get_evals_result()["validation"]["Logloss"]) == 25
    assert "od_wait" not in params or params.get("od_type") != "Iter"


def test_early_stopping_is_an_option_on_auc():
    model, _ = train_variant(frame(), "all+base", TrainConfig(iterations=400, early_stopping_rounds=5, seed=1))
    params = model.get_all_params()
    assert params["eval_metric"] == "AUC" and params["od_type"] == "Iter" and params["od_wait"] == 5
    assert len(model.get_evals_result()["validation"]["AUC"]) < 400  # stopped early on noise


def test_anon_variants_train_on_the_anonymous_only_collection(tmp_path, caplog):
    from kitrain.classifier import run_train
    from kitrain.paths import RunPaths
    from kitrain.schema import IS_ANONYMOUS

    paths = RunPaths(str(tmp_path))
    train = frame(100, 20, seed=1).assign(**{IS_ANONYMOUS: [1] * 50 + [0] * 50})
    anon = frame(60, 12, seed=2).assign(**{IS_ANONYMOUS: 1})
    anon.loc[:9, IS_TEXT_TRAIN] = 1  # pages the language models saw: never classifier rows
    for split, rows in (("train", train), ("anon_train", anon)):
        Path(paths.features(split)).mkdir(parents=True)
        rows.to_parquet(Path(paths.features(split), "uk.parquet"), index=False)
    results = run_train(TrainConfig(variants=("all+base", "anon+base"), iterations=5), str(tmp_path))
    assert results["all+base"]["training_split"] == "train"
    assert sum(results["all+base"]["rows"].values()) == 100
    # the anon variant: the 50 classifier rows of the anonymous-only collection, not the 50
    # anonymous rows of the all-users one
    assert results["anon+base"]["training_split"] == "anon_train"
    assert sum(results["anon+base"]["rows"].values()) == 50
    # without that collection it falls back to the anonymous rows of train, and says so
    for file in Path(paths.features("anon_train")).iterdir():
        file.unlink()
    results = run_train(TrainConfig(variants=("anon+base",), iterations=5), str(tmp_path))
    assert results["anon+base"]["training_split"] == "train" and sum(results["anon+base"]["rows"].values()) == 50
    assert "no anonymous-only collection" in caplog.text
