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

import dataclasses
import json
import logging
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kitrain.atomic import atomic_dir, check_columns, filtered_tables, parquet_files, write_json
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
                  classifier_rows: bool = False, anonymous_only: bool = False,
                  float32: tuple[str, ...] = ()) -> pd.DataFrame:
    """A split's features: ``columns`` only (default: all), and with ``classifier_rows`` only the
    rows the classifier may train on (``is_text_train = 0``), with ``anonymous_only`` only the
    anonymous editors' rows (an ``anon`` variant's population), dropped file by file before pandas
    sees them. The ``float32`` columns are cast to 32-bit floats file by file (what CatBoost
    stores a number as, rounding the same way: the model is the same). Arrow's memory is handed
    to pandas column by column (``self_destruct``), so the frame is not held twice."""
    import pyarrow as pa
    import pyarrow.compute as pc

    path = RunPaths(run_dir).features(split)
    files = parquet_files(path)
    if not files:
        raise PrepareError(f"no features in {path}: run `kitrain features` first")
    where = {IS_TEXT_TRAIN: 0} if classifier_rows else {}
    if anonymous_only:
        where[IS_ANONYMOUS] = 1
    tables = []
    for table in filtered_tables(files, columns, where):
        for name in float32:
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, pc.cast(table[name], pa.float32()))
        tables.append(table)
    table = pa.concat_tables(tables)
    del tables
    frame = table.to_pandas(self_destruct=True, split_blocks=True)
    del table
    pa.default_memory_pool().release_unused()  # the files' buffers, back to the system
    return frame


def training_columns(variants: tuple[str, ...]) -> list[str]:
    """The feature columns ``kitrain train`` reads: the variants' features, the label, the text
    split key and the anonymous flag (the ``anon`` population); nothing else is loaded."""
    return list(dict.fromkeys(column for variant in variants for column in variant_columns(variant)))


def population(frame: pd.DataFrame, variant: str) -> pd.DataFrame:
    """The rows a variant is trained on: every editor, or anonymous editors only."""
    return frame[frame[IS_ANONYMOUS] == 1] if is_anonymous_variant(variant) else frame


def model_matrix(frame: pd.DataFrame, features: tuple[str, ...], rows: np.ndarray | None = None,
                 copy: bool = True) -> pd.DataFrame:
    """The feature columns in order, of the ``rows`` (a boolean mask; default all): one copy of
    those columns and rows only, or with ``copy=False`` (all rows) the frame's own arrays where
    their type needs no conversion (for a pool, which copies them anyway). CatBoost takes a categorical value as an integer or a string and
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
        if rows is not None:
            values = values[rows]
        elif copy:
            values = values.copy()
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


def variant_columns(variant: str) -> list[str]:
    """The feature columns one variant's training reads: its features, the label, the text split
    key and the anonymous flag (its population)."""
    return list(dict.fromkeys([LABEL, IS_TEXT_TRAIN, IS_ANONYMOUS, *variant_features(variant)]))


@dataclasses.dataclass
class VariantPools:
    """CatBoost's fit and evaluation pools of a variant, their labels, and the feature matrix
    they were cut from.

    CatBoost reads a numeric column of a pandas frame through the frame's own array, without
    copying it, and a slice of a pool reads it through the same reference without keeping the
    array alive: ``matrix`` must outlive the pools. (Dropping it gave a model with a border of
    1.2e12 on a feature of values 0 to 2, read from freed memory.)"""

    fit: Any
    eval: Any
    fit_labels: np.ndarray
    eval_labels: np.ndarray
    matrix: pd.DataFrame


def variant_pools(rows: pd.DataFrame, variant: str, cfg: TrainConfig) -> VariantPools:
    """The fit and evaluation pools of a variant's training ``rows`` (its population, the
    classifier rows only): a stratified ``eval_share`` drawn with the run's seed and the variant's
    name.

    One pool of every row is built on the frame's own arrays (:func:`model_matrix` without a
    copy), then cut into the two (``Pool.slice``, in row order: the same pools as built from the
    masked rows). No copy of the feature columns is made: the pools read the frame's arrays, and
    the rest of ``rows`` (the label, the keys) can be dropped as soon as this returns."""
    from catboost import Pool

    if rows[LABEL].nunique() < 2:
        raise PrepareError(f"variant {variant}: the training rows hold one class only ({len(rows)} rows)")
    rng = np.random.default_rng([cfg.seed, zlib.crc32(variant.encode())])
    labels = rows[LABEL].to_numpy()
    eval_mask = stratified_mask(labels, cfg.eval_share, rng)
    features = variant_features(variant)
    matrix = model_matrix(rows, features, copy=False)
    whole = Pool(matrix, labels, cat_features=list(categorical_of(features)))
    return VariantPools(whole.slice(np.flatnonzero(~eval_mask)), whole.slice(np.flatnonzero(eval_mask)),
                        labels[~eval_mask], labels[eval_mask], matrix)


def fit_variant(pools: VariantPools, cfg: TrainConfig) -> tuple[Any, dict[str, Any]]:
    """Fit a model on the pools of :func:`variant_pools`; return it and its evaluation-split metrics."""
    from catboost import CatBoostClassifier

    # the original train_model.py: scikit-learn's balanced weights n / (2 n_c) of the fit rows,
    # Logloss on the evaluation split picks the best iteration, every iteration is run; kitrain's
    # option (early_stopping_rounds > 0) stops once the evaluation AUC stops improving
    early = cfg.early_stopping_rounds > 0
    model = CatBoostClassifier(
        iterations=cfg.iterations, learning_rate=cfg.learning_rate, depth=cfg.depth,
        class_weights=balanced_class_weights(pd.Series(pools.fit_labels)), random_seed=cfg.seed,
        thread_count=cfg.thread_count, eval_metric="AUC" if early else "Logloss", use_best_model=True,
        allow_writing_files=False, verbose=False,
        od_type="Iter" if early else None, od_wait=cfg.early_stopping_rounds if early else None,
    )
    model.fit(pools.fit, eval_set=pools.eval)
    scores = model.predict_proba(pools.eval)[:, 1]
    eval_labels = pd.Series(pools.eval_labels)
    metrics = {
        "rows": {"fit": len(pools.fit_labels), "eval": len(eval_labels)},
        "best_iteration": int(model.get_best_iteration() or 0),
        "eval_roc_auc": roc_auc(eval_labels, scores),
        **{f"eval_{k}": v for k, v in threshold_metrics(eval_labels, scores).items()},
    }
    return model, metrics


def train_variant(train: pd.DataFrame, variant: str, cfg: TrainConfig) -> tuple[Any, dict[str, Any]]:
    """Fit one variant on ``train`` (any rows: those of the language models' titles and, for an
    ``anon`` variant, of registered editors are left out here); return the model and its
    evaluation-split metrics."""
    text_train = train[IS_TEXT_TRAIN] != 0
    rows = population(train[~text_train] if text_train.any() else train, variant)
    return fit_variant(variant_pools(rows, variant, cfg), cfg)


def train_split_variant(run_dir: str, split: str, variant: str, cfg: TrainConfig) -> tuple[Any, dict[str, Any]]:
    """:func:`train_variant` on the classifier rows of the run's features ``split``, reading only
    the variant's columns, and only its population's rows (both kept in Arrow, file by file): the
    frame is dropped once CatBoost's pools hold the features, before the fit. At 1M rows the peak
    is within twice the variant's feature matrix (``benchmarks/scale.py --stage train``)."""
    features = variant_features(variant)
    categorical = categorical_of(features)
    numeric = tuple(name for name in features if name not in categorical)
    rows = read_features(run_dir, split, variant_columns(variant), classifier_rows=True,
                         anonymous_only=is_anonymous_variant(variant), float32=numeric)
    pools = variant_pools(rows, variant, cfg)
    del rows  # the pools keep the feature columns they read (pools.matrix)
    return fit_variant(pools, cfg)


def run_train(cfg: TrainConfig, run_dir: str, features_csv: str | None = None) -> dict[str, Any]:
    """Train every variant of ``cfg`` and publish each to ``classifier/<variant>/``.

    The training rows come from the run's ``features/train`` (the ``anon+`` variants': from
    ``features/anon_train``, the anonymous-only collection, as the paper's), or from a CSV in the
    published KI dataset's format (``features_csv``), mapped onto the same schema.
    """
    paths = RunPaths(run_dir)
    train = None
    anon_train = False
    if features_csv:
        from kitrain.kidataset import read_ki_csv

        train = read_ki_csv(features_csv, cfg.variants)
    else:
        # each variant reads its own columns and rows when it is trained (train_split_variant);
        # a file without a column some variant needs stops the run before any is trained
        files = parquet_files(paths.features("train"))
        if not files:
            raise PrepareError(f"no features in {paths.features('train')}: run `kitrain features` first")
        if any(is_anonymous_variant(v) for v in cfg.variants):
            anon_files = parquet_files(paths.features(ANON_SPLIT))
            files += anon_files
            anon_train = bool(anon_files)
            if not anon_train:
                logger.warning("no anonymous-only collection (prefix %s) in %s: the anon variants train on "
                               "the anonymous rows of the all-users collection, not on their own as the "
                               "paper's did", ANON_PREFIX, paths.run_dir)
        needed = training_columns(cfg.variants)
        for file in files:
            check_columns(file, needed)
    results = {}
    for variant in cfg.variants:
        own = anon_train and is_anonymous_variant(variant)
        if train is not None:
            model, metrics = train_variant(train, variant, cfg)
        else:
            model, metrics = train_split_variant(run_dir, ANON_SPLIT if own else "train", variant, cfg)
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
