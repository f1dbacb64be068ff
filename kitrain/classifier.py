"""CatBoost classifier (``kitrain train``): one model per variant of the paper's ablation.

A variant is a population (``all`` editors or ``anon`` only) and a feature set (``base``: edit
metadata and action counts; ``mlm``: plus the text-model features; ``user``: plus the user features;
``user+mlm``: everything). Training reads ``features/train`` rows with ``is_text_train = 0`` (the
titles the language models never saw), holds out a stratified 10 % whose Logloss picks the best
iteration (as the original ``train_model.py``; AUC-based early stopping is an option), weighs the
classes ``n / (2 n_c)``, and saves ``classifier/<variant>/model.cbm`` (CatBoost's own format, never
pickle) with the feature list, metrics and importances, atomically.
"""

from __future__ import annotations

import json
import logging
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kitrain.atomic import atomic_dir, parquet_files, read_table, write_json
from kitrain.config import ANON_PREFIX, TrainConfig
from kitrain.metrics import roc_auc, threshold_metrics
from kitrain.paths import ANON_SPLIT, RunPaths
from kitrain.prepare import IS_TEXT_TRAIN, PrepareError
from kitrain.schema import IS_ANONYMOUS, LABEL, categorical_of, is_anonymous_variant, variant_features
from kitrain.textdata import stratified_mask

logger = logging.getLogger(__name__)

MODEL_FILE = "model.cbm"
FEATURES_FILE = "features.json"


def read_features(run_dir: str, split: str, columns: list[str] | None = None,
                  classifier_rows: bool = False) -> pd.DataFrame:
    """A split's features: ``columns`` only (default: all), and with ``classifier_rows`` only the
    rows the classifier may train on (``is_text_train = 0``), dropped file by file before pandas
    sees them. Arrow's memory is handed to pandas column by column (``self_destruct``), so the
    frame is not held twice."""
    import pyarrow as pa
    import pyarrow.compute as pc

    path = RunPaths(run_dir).features(split)
    files = parquet_files(path)
    if not files:
        raise PrepareError(f"no features in {path}: run `kitrain features` first")
    tables = []
    for file in files:
        table = read_table(file, columns=columns)
        if classifier_rows:
            table = table.filter(pc.equal(table[IS_TEXT_TRAIN], 0))
        tables.append(table.replace_schema_metadata(None))
    table = pa.concat_tables(tables)
    del tables
    return table.to_pandas(self_destruct=True, split_blocks=True)


def training_columns(variants: tuple[str, ...]) -> list[str]:
    """The feature columns ``kitrain train`` reads: the variants' features, the label, the text
    split key and the anonymous flag (the ``anon`` population); nothing else is loaded."""
    needed = [LABEL, IS_TEXT_TRAIN, IS_ANONYMOUS]
    for variant in variants:
        needed += variant_features(variant)
    return list(dict.fromkeys(needed))


def population(frame: pd.DataFrame, variant: str) -> pd.DataFrame:
    """The rows a variant is trained on: every editor, or anonymous editors only."""
    return frame[frame[IS_ANONYMOUS] == 1] if is_anonymous_variant(variant) else frame


def model_matrix(frame: pd.DataFrame, features: tuple[str, ...], rows: np.ndarray | None = None) -> pd.DataFrame:
    """The feature columns in order, of the ``rows`` (a boolean mask; default all): one copy of
    those columns and rows only. CatBoost takes a categorical value as an integer or a string and
    hashes its decimal text either way, so integer and string columns go as they are (the same
    model as with strings, without a Python string per cell: at the paper's 12.1M rows those
    strings alone took over 15 GB); other types (floats from a CSV, booleans) become strings."""
    missing = [f for f in features if f not in frame.columns]
    if missing:
        raise PrepareError(f"features missing from the data: {missing}")
    categorical = set(categorical_of(features))
    columns = {}
    for name in features:
        values = frame[name].to_numpy()
        values = values[rows] if rows is not None else values.copy()
        if name in categorical and values.dtype.kind not in "iuO":
            values = values.astype(str)
        columns[name] = values
    return pd.DataFrame(columns, copy=False)


def balanced_class_weights(labels: pd.Series) -> dict[int, float]:
    """scikit-learn's ``compute_class_weight("balanced")``, as the original used it: each class
    weighs ``n / (2 n_c)``, so both classes weigh ``n / 2`` in all (CatBoost's own "Balanced"
    weighs the larger class 1 instead, which changes how strongly its leaf regularisation acts)."""
    counts = labels.astype(int).value_counts()
    return {int(c): float(len(labels) / (len(counts) * n)) for c, n in sorted(counts.items())}


def train_variant(train: pd.DataFrame, variant: str, cfg: TrainConfig) -> tuple[Any, dict[str, Any]]:
    """Fit one variant on classifier rows; return the model and its evaluation-split metrics."""
    from catboost import CatBoostClassifier, Pool

    text_train = train[IS_TEXT_TRAIN] != 0
    rows = population(train[~text_train] if text_train.any() else train, variant)
    if rows[LABEL].nunique() < 2:
        raise PrepareError(f"variant {variant}: the training rows hold one class only ({len(rows)} rows)")
    rng = np.random.default_rng([cfg.seed, zlib.crc32(variant.encode())])
    labels = rows[LABEL].to_numpy()
    eval_mask = stratified_mask(labels, cfg.eval_share, rng)
    fit_labels, eval_labels = pd.Series(labels[~eval_mask]), pd.Series(labels[eval_mask])
    features = variant_features(variant)
    categorical = list(categorical_of(features))
    # each matrix is built from the rows it needs and handed to CatBoost, which keeps its own copy
    fit_pool = Pool(model_matrix(rows, features, ~eval_mask), fit_labels, cat_features=categorical)
    eval_pool = Pool(model_matrix(rows, features, eval_mask), eval_labels, cat_features=categorical)
    # the original train_model.py: scikit-learn's balanced weights n / (2 n_c) of the fit rows,
    # Logloss on the evaluation split picks the best iteration, every iteration is run; kitrain's
    # option (early_stopping_rounds > 0) stops once the evaluation AUC stops improving
    early = cfg.early_stopping_rounds > 0
    model = CatBoostClassifier(
        iterations=cfg.iterations, learning_rate=cfg.learning_rate, depth=cfg.depth,
        class_weights=balanced_class_weights(fit_labels), random_seed=cfg.seed,
        thread_count=cfg.thread_count, eval_metric="AUC" if early else "Logloss", use_best_model=True,
        allow_writing_files=False, verbose=False,
        od_type="Iter" if early else None, od_wait=cfg.early_stopping_rounds if early else None,
    )
    model.fit(fit_pool, eval_set=eval_pool)
    scores = model.predict_proba(eval_pool)[:, 1]
    metrics = {
        "rows": {"fit": len(fit_labels), "eval": len(eval_labels)},
        "best_iteration": int(model.get_best_iteration() or 0),
        "eval_roc_auc": roc_auc(eval_labels, scores),
        **{f"eval_{k}": v for k, v in threshold_metrics(eval_labels, scores).items()},
    }
    return model, metrics


def run_train(cfg: TrainConfig, run_dir: str, features_csv: str | None = None) -> dict[str, Any]:
    """Train every variant of ``cfg`` and publish each to ``classifier/<variant>/``.

    The training rows come from the run's ``features/train`` (the ``anon+`` variants': from
    ``features/anon_train``, the anonymous-only collection, as the paper's), or from a CSV in the
    published KI dataset's format (``features_csv``), mapped onto the same schema.
    """
    paths = RunPaths(run_dir)
    anon_train = None
    if features_csv:
        from kitrain.kidataset import read_ki_csv

        train = read_ki_csv(features_csv, cfg.variants)
    else:
        columns = training_columns(cfg.variants)
        train = read_features(run_dir, "train", columns, classifier_rows=True)
        if any(is_anonymous_variant(v) for v in cfg.variants):
            if parquet_files(paths.features(ANON_SPLIT)):
                anon_train = read_features(run_dir, ANON_SPLIT, columns, classifier_rows=True)
            else:
                logger.warning("no anonymous-only collection (prefix %s) in %s: the anon variants train on "
                               "the anonymous rows of the all-users collection, not on their own as the "
                               "paper's did", ANON_PREFIX, paths.run_dir)
    results = {}
    for variant in cfg.variants:
        own = anon_train is not None and is_anonymous_variant(variant)
        model, metrics = train_variant(anon_train if own else train, variant, cfg)
        metrics["training_split"] = ANON_SPLIT if own else "train"
        features = variant_features(variant)
        importances = dict(zip(features, (float(x) for x in model.get_feature_importance())))
        with atomic_dir(paths.classifier(variant)) as tmp:
            model.save_model(str(tmp / MODEL_FILE), format="cbm")
            write_json(tmp / FEATURES_FILE, {"variant": variant, "features": list(features),
                                             "categorical": list(categorical_of(features))})
            write_json(tmp / "metrics.json", metrics)
            write_json(tmp / "importances.json",
                       dict(sorted(importances.items(), key=lambda kv: -kv[1])))
            write_json(tmp / "train_config.json", cfg.to_dict())
        results[variant] = metrics
        logger.info("%s: eval AUC %s after %d iterations", variant, metrics["eval_roc_auc"],
                    metrics["best_iteration"])
    return results


def load_classifier_dir(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """A trained variant: the CatBoost model and its feature description."""
    path = Path(path)
    if not (path / MODEL_FILE).is_file():
        raise PrepareError(f"no trained classifier in {path}: run `kitrain train` first")
    return load_cbm(path / MODEL_FILE), json.loads((path / FEATURES_FILE).read_text(encoding="utf-8"))


def load_cbm(path: str | Path) -> Any:
    """A CatBoost model from its own ``.cbm`` format (never pickle)."""
    from catboost import CatBoostClassifier

    model = CatBoostClassifier()
    model.load_model(str(path), format="cbm")
    return model


def predict(model: Any, description: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    """Probability of a revert for each row, with the variant's own feature list."""
    from catboost import Pool

    features = tuple(description["features"])
    pool = Pool(model_matrix(frame, features), cat_features=list(description["categorical"]))
    return model.predict_proba(pool)[:, 1]
