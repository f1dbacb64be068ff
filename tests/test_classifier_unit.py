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


def test_integer_categories_give_the_model_that_strings_gave():
    # CatBoost hashes a categorical value's decimal text: the flags go in as integers (no Python
    # string per cell) and the model is the one trained on their strings, prediction for prediction
    from catboost import CatBoostClassifier, Pool

    from kitrain.classifier import model_matrix
    from kitrain.schema import categorical_of

    data = frame(rows=300, positives=60, seed=4)
    features = variant_features("all+base")
    categorical = list(categorical_of(features))
    as_strings = data.loc[:, list(features)].astype({name: str for name in categorical})
    matrix = model_matrix(data, features)
    assert matrix[categorical[1]].dtype.kind == "i" and list(matrix.columns) == list(features)
    predictions = []
    for table in (as_strings, matrix):
        model = CatBoostClassifier(iterations=40, random_seed=3, thread_count=1, verbose=False,
                                   allow_writing_files=False)
        model.fit(Pool(table, data[LABEL], cat_features=categorical))
        predictions.append(model.predict_proba(Pool(table, cat_features=categorical))[:, 1])
    np.testing.assert_array_equal(predictions[0], predictions[1])
    # other types (a CSV's floats, booleans) still go as strings, as CatBoost requires
    mixed = data.assign(**{categorical[1]: data[categorical[1]].astype(float)})
    assert model_matrix(mixed, features)[categorical[1]].tolist()[:2] == [str(float(v)) for v in
                                                                          data[categorical[1]][:2]]


def test_training_reads_only_its_columns_and_its_rows(tmp_path):
    # kitrain train loads the variants' features, the label and the two keys, and only the rows
    # the classifier may see (is_text_train = 0), file by file
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kitrain.classifier import read_features, training_columns
    from kitrain.paths import RunPaths
    from kitrain.schema import IS_ANONYMOUS

    split = Path(RunPaths(str(tmp_path)).features("train"))
    split.mkdir(parents=True)
    for k, lang in enumerate(("ja", "uk")):
        part = frame(rows=10, positives=2, seed=k).assign(**{IS_TEXT_TRAIN: [0, 1] * 5, IS_ANONYMOUS: 1,
                                                             "page_title": "T", "title_s_0": 0.5})
        part["revision_id"] = np.arange(10) + 100 * k
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), split / f"{lang}-00000.parquet")
    columns = training_columns(("all+base", "anon+base"))
    assert "page_title" not in columns and "title_s_0" not in columns
    got = read_features(str(tmp_path), "train", columns, classifier_rows=True)
    assert list(got.columns) == columns
    assert len(got) == 10 and (got[IS_TEXT_TRAIN] == 0).all()
    assert read_features(str(tmp_path), "train")["revision_id"].tolist() == list(range(10)) + list(range(100, 110))


def test_a_features_file_without_a_column_train_reads_is_named_not_called_corrupt(tmp_path):
    # features written by an older kitrain lack a column: the error names the file and the
    # column, and the CLI reports it in one line (not "not a complete parquet file")
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kitrain.atomic import MissingColumnsError
    from kitrain.classifier import read_features, training_columns
    from kitrain.paths import RunPaths

    split = Path(RunPaths(str(tmp_path)).features("train"))
    split.mkdir(parents=True)
    part = frame(rows=10, positives=2, seed=0).assign(**{IS_TEXT_TRAIN: 0})  # no is_anonymous
    pq.write_table(pa.Table.from_pandas(part, preserve_index=False), split / "uk-00000.parquet")
    with pytest.raises(MissingColumnsError, match=r"uk-00000.parquet has no column\(s\) \['is_anonymous'\]"):
        read_features(str(tmp_path), "train", training_columns(("all+base",)), classifier_rows=True)


def test_each_variant_is_trained_from_its_own_columns_and_rows_to_the_model_of_the_whole_frame(tmp_path, monkeypatch):
    # run_train reads one variant at a time: its features, the label and the two keys, the
    # classifier rows (and for an anon variant the anonymous ones) kept in Arrow, the numbers as
    # 32-bit floats, and the frame dropped once the pools hold the features. The models are
    # those of train_variant on the whole split held in pandas (64-bit floats, every column).
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kitrain import classifier
    from kitrain.paths import RunPaths
    from kitrain.schema import IS_ANONYMOUS, categorical_of
    from tests.test_seeds import model_content

    variants = ("all+user+mlm", "anon+mlm")
    rng = np.random.default_rng(3)
    rows = 400
    data = {}
    for name in classifier.training_columns(variants):
        categorical = name in categorical_of(variant_features("all+user+mlm"))
        # decimals that a 32-bit float rounds, and counts
        data[name] = rng.integers(0, 4, rows) if categorical or name.startswith(("insert", "remove", "change")) \
            else rng.normal(size=rows) * 1000 / 7
    data["wiki_db"] = rng.choice(["ukwiki", "jawiki"], rows)
    data[LABEL] = (rng.random(rows) < 0.3).astype(int)
    data[IS_TEXT_TRAIN] = (rng.random(rows) < 0.25).astype(int)
    data[IS_ANONYMOUS] = (rng.random(rows) < 0.5).astype(int)
    data["revision_id"] = np.arange(rows)
    data["page_title"] = "T"
    whole = pd.DataFrame(data)
    split = Path(RunPaths(str(tmp_path)).features("train"))
    split.mkdir(parents=True)
    for k, part in enumerate((whole.iloc[:150], whole.iloc[150:])):
        pq.write_table(pa.Table.from_pandas(part, preserve_index=False), split / f"p-{k:05d}.parquet")

    read, pooled = [], []
    from kitrain import atomic

    real_read, real_pools = atomic.read_table, classifier.variant_pools

    def read_table(path, columns=None):
        read.append(list(columns))
        return real_read(path, columns)

    def variant_pools(frame, variant, cfg):
        pooled.append((variant, len(frame), set(frame[IS_ANONYMOUS]), set(frame[IS_TEXT_TRAIN])))
        return real_pools(frame, variant, cfg)

    monkeypatch.setattr(atomic, "read_table", read_table)
    monkeypatch.setattr(classifier, "variant_pools", variant_pools)
    cfg = TrainConfig(variants=variants, iterations=20, seed=5, thread_count=1)
    classifier.run_train(cfg, str(tmp_path))
    assert read == [classifier.variant_columns(v) for v in variants for _ in range(2)]
    assert "page_title" not in read[0] and "revision_id" not in read[0]
    classifier_rows = whole[whole[IS_TEXT_TRAIN] == 0]
    anonymous = classifier_rows[classifier_rows[IS_ANONYMOUS] == 1]
    assert pooled == [("all+user+mlm", len(classifier_rows), {0, 1}, {0}), ("anon+mlm", len(anonymous), {1}, {0})]
    monkeypatch.undo()
    for variant in variants:
        published = classifier.load_cbm(Path(RunPaths(str(tmp_path)).classifier(variant)) / classifier.MODEL_FILE)
        in_memory, _ = classifier.train_variant(whole, variant, cfg)
        in_memory.save_model(str(tmp_path / "in_memory.cbm"), format="cbm")  # as published: the same rounding
        assert model_content(published) == model_content(classifier.load_cbm(tmp_path / "in_memory.cbm")), variant
