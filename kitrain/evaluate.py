"""Performance and fairness evaluation of every trained variant (``kitrain evaluate``).

On ``test`` and ``full_test``: unbalanced ROC AUC and precision at recall 0.75 for all and for
anonymous editors; the same plus accuracy, F1, precision and recall at the threshold on each
language's balanced sample (``is_balanced``; anonymous editors: a balanced sample of each
language's anonymous edits); per-language ROC AUC with counts, revert rate and anonymous share;
each text model's own score as a classifier; fairness between anonymous (unprivileged) and registered (privileged) editors; and
baselines side by side (``is_anonymous`` as a score, external scores from a CSV). Writes
``report/metrics.json`` and ``report/predictions.parquet``.

The metrics themselves are scikit-learn's (:mod:`kitrain.metrics`); this module picks the rows
each is computed on.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kitrain import __version__
from kitrain.atomic import atomic_dir, read_json, write_json
from kitrain.classifier import load_classifier_dir, predict
from kitrain.config import EvaluateConfig
from kitrain.metrics import (
    auc_difference,
    disparate_impact,
    flagged,
    not_reverted_ratio,
    precision_at_recall,
    roc_auc,
    spearman,
    threshold_metrics,
)
from kitrain.paths import RunPaths
from kitrain.prepare import PrepareError, language_rng
from kitrain.report import render
from kitrain.editors import GROUPS, groups_of_arrays
from kitrain.schema import IS_ANONYMOUS, IS_TEMPORARY, LABEL, MISSING_TEXT_SCORE, TITLE_FEATURES, VARIANTS

#: The score of each text model that stands for it alone: the largest probability of "reverted"
#: among a revision's texts (the title model gives one score per revision).
TEXT_MODEL_SCORES = {"inserts": "insert_p_1_max", "removes": "remove_p_1_max", "changes": "change_p_1_max",
                     "title": TITLE_FEATURES[0]}

logger = logging.getLogger(__name__)

EVAL_SPLITS = ("test", "full_test")
PREDICTION_COLUMNS = ("split", "variant", "wiki_db", "revision_id", "label", "is_anonymous", "is_temporary",
                      "score")


class ExternalScoresError(ValueError):
    """An external score file that cannot be used; the message names the file and the problem."""


def unbalanced(labels: np.ndarray, scores: np.ndarray, anon: np.ndarray, cfg: EvaluateConfig) -> dict:
    return {
        "all": {"n": int(len(labels)), "roc_auc": roc_auc(labels, scores),
                "pr_at_recall": precision_at_recall(labels, scores, cfg.recall_target)},
        "anonymous": {"n": int(anon.sum()), "roc_auc": roc_auc(labels[anon], scores[anon]),
                      "pr_at_recall": precision_at_recall(labels[anon], scores[anon], cfg.recall_target)},
    }


def balanced(labels: np.ndarray, scores: np.ndarray, sample: np.ndarray, anon_sample: np.ndarray,
             cfg: EvaluateConfig) -> dict:
    """Metrics on balanced samples: ``sample`` (each language's ``is_balanced`` rows) for all
    editors, ``anon_sample`` (:func:`balanced_anonymous`) for anonymous editors."""
    def block(mask: np.ndarray) -> dict:
        y, s = labels[mask], scores[mask]
        return {"n": int(mask.sum()), "roc_auc": roc_auc(y, s),
                "pr_at_recall": precision_at_recall(y, s, cfg.recall_target),
                **threshold_metrics(y, s, cfg.threshold)}

    return {"all": block(sample), "anonymous": block(anon_sample)}


def balanced_anonymous(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """True for a balanced sample of each language's anonymous edits, as the original notebook's
    ``get_balanced_anon`` draws it: the smaller class whole and a seeded sample of the same size of
    the larger one (usually all reverted edits and as many of the others; on a wiki where most
    anonymous edits are reverted, all kept ones and as many reverts). A wiki with one class only
    gives none. Not the anonymous rows of the all-editors sample, which hold few of them."""
    mask = np.zeros(len(frame), dtype=bool)
    anonymous = frame[IS_ANONYMOUS].to_numpy().astype(bool)
    labels = frame[LABEL].to_numpy()
    revision_ids = frame["revision_id"].to_numpy()
    for wiki, idx in frame.groupby("wiki_db", sort=True).indices.items():
        rows = idx[anonymous[idx]]
        rows = rows[np.argsort(revision_ids[rows], kind="stable")]  # the draw follows no file order
        reverted, kept = rows[labels[rows] == 1], rows[labels[rows] != 1]
        size = min(len(reverted), len(kept))
        rng = language_rng(seed, wiki, "balance-anonymous")
        for part in (reverted, kept):
            mask[part if len(part) == size else rng.choice(part, size=size, replace=False)] = True
    return mask


def text_models(frame: pd.DataFrame) -> dict[str, Any]:
    """Each fine-tuned text model's own score as a classifier, on the revisions that have its kind
    of text (the others carry -1), with how many revisions have it."""
    labels = frame[LABEL].to_numpy().astype(np.int64)
    out = {}
    for target, feature in TEXT_MODEL_SCORES.items():
        values = frame[feature].to_numpy().astype(np.float64)
        has = values != MISSING_TEXT_SCORE if target != "title" else np.ones(len(frame), dtype=bool)
        out[target] = {"feature": feature, "revisions_with_text": int(has.sum()),
                       "share_with_text": float(has.mean()) if len(has) else None,
                       "roc_auc": roc_auc(labels[has], values[has])}
    return out


def fairness(labels: np.ndarray, scores: np.ndarray, anon: np.ndarray, cfg: EvaluateConfig) -> dict:
    """Anonymous against registered editors: the paper's disparate impact (P(reverted | anonymous)
    / P(reverted | registered)) of the labels and of the predictions at the threshold, the same
    with "not reverted" as the outcome, and the ROC AUC difference."""
    predicted = flagged(scores, cfg.threshold)
    return {
        "disparate_impact_labels": disparate_impact(labels, anon),
        "disparate_impact_predictions": disparate_impact(predicted, anon),
        "not_reverted_ratio_labels": not_reverted_ratio(labels, anon),
        "not_reverted_ratio_predictions": not_reverted_ratio(predicted, anon),
        "roc_auc_difference": auc_difference(labels, scores, anon),
    }


def editor_groups(frame: pd.DataFrame, scores: np.ndarray, cfg: EvaluateConfig) -> dict[str, Any]:
    """The same model on the three editor groups (:mod:`kitrain.editors`): IP editors, temporary
    accounts and registered editors, each with its rows, revert rate, unbalanced ROC AUC, PR@R0.75
    and prediction rate (the share flagged at the threshold). Since 2025 most logged-out edits are
    made with temporary accounts, so this shows whether the model serves them as it served IP
    editors."""
    labels = frame[LABEL].to_numpy().astype(np.int64)
    groups = groups_of_arrays(frame[IS_ANONYMOUS].to_numpy(), frame[IS_TEMPORARY].to_numpy())
    predicted = flagged(scores, cfg.threshold)
    out = {}
    for group in GROUPS:
        mask = groups == group
        n = int(mask.sum())
        out[group] = {"n": n, "revert_rate": float(labels[mask].mean()) if n else None,
                      "roc_auc": roc_auc(labels[mask], scores[mask]),
                      "pr_at_recall": precision_at_recall(labels[mask], scores[mask], cfg.recall_target),
                      "prediction_rate": float(predicted[mask].mean()) if n else None}
    return out


def per_language(frame: pd.DataFrame, scores: np.ndarray) -> list[dict[str, Any]]:
    rows = []
    for wiki, idx in frame.groupby("wiki_db", sort=True).indices.items():
        y = frame[LABEL].to_numpy()[idx]
        rows.append({
            "wiki_db": wiki, "n": int(len(idx)), "revert_rate": float(y.mean()),
            "anonymous_share": float(frame[IS_ANONYMOUS].to_numpy()[idx].mean()),
            "roc_auc": roc_auc(y, scores[idx]),
        })
    return sorted(rows, key=lambda r: (r["roc_auc"] is None, -(r["roc_auc"] or 0.0), r["wiki_db"]))


def language_comparison(rows: list[dict[str, Any]], min_rows: int) -> dict[str, Any]:
    """The languages with at least ``min_rows`` rows, and the Spearman correlation between their
    anonymous share and their ROC AUC (the paper's question: is a wiki with more anonymous edits
    served worse?)."""
    kept = [r for r in rows if r["n"] >= min_rows and r["roc_auc"] is not None]
    return {"min_rows": min_rows, "wikis": sorted(r["wiki_db"] for r in kept),
            "spearman_anonymous_share_roc_auc": spearman([r["anonymous_share"] for r in kept],
                                                         [r["roc_auc"] for r in kept])}


def evaluate_scores(frame: pd.DataFrame, scores: np.ndarray, cfg: EvaluateConfig) -> dict[str, Any]:
    """Every metric of one score column on one split."""
    labels = frame[LABEL].to_numpy().astype(np.int64)
    anon = frame[IS_ANONYMOUS].to_numpy().astype(bool)
    bal = frame["is_balanced"].to_numpy().astype(bool)
    return {
        "unbalanced": unbalanced(labels, scores, anon, cfg),
        "balanced": balanced(labels, scores, bal, balanced_anonymous(frame, cfg.seed), cfg),
        "per_language": (languages := per_language(frame, scores)),
        "languages": language_comparison(languages, cfg.min_language_rows),
        "fairness": fairness(labels, scores, anon, cfg),
        "editor_groups": editor_groups(frame, scores, cfg),
    }


def language_counts(part: pd.DataFrame) -> dict[str, Any]:
    """One wiki's rows, reverts and logged-out edits, and the share of those made with a temporary
    account (None without logged-out edits)."""
    anonymous = int(part[IS_ANONYMOUS].sum())
    temporary = int((part[IS_TEMPORARY].astype(bool) & part[IS_ANONYMOUS].astype(bool)).sum())
    return {"n": int(len(part)), "reverted": int(part[LABEL].sum()), "anonymous": anonymous,
            "temporary": temporary, "temporary_share_of_anonymous": temporary / anonymous if anonymous else None}


def read_external_scores(path: str) -> pd.DataFrame:
    """``revision_id, wiki_db, score`` rows; a bad file stops with its name and the problem."""
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ExternalScoresError(f"cannot read external scores {path}: {exc}") from exc
    missing = [c for c in ("revision_id", "wiki_db", "score") if c not in frame.columns]
    if missing:
        raise ExternalScoresError(f"external scores {path} lack column(s) {missing}")
    scores = pd.to_numeric(frame["score"], errors="coerce")
    bad = int(scores.isna().sum())
    if bad:
        logger.warning("external scores %s: %d row(s) without a numeric score ignored", path, bad)
    frame = frame.assign(score=scores).dropna(subset=["score"])
    duplicated = int(frame.duplicated(["revision_id", "wiki_db"]).sum())
    if duplicated:
        raise ExternalScoresError(f"external scores {path}: {duplicated} duplicated (revision_id, wiki_db)")
    return frame[["revision_id", "wiki_db", "score"]]


def trained_variants(run_dir: str) -> list[str]:
    root = Path(RunPaths(run_dir).classifiers())
    found = [v for v in VARIANTS if (root / v / "model.cbm").is_file()]
    if not found:
        raise PrepareError(f"no trained classifier in {root}: run `kitrain train` first")
    return found


#: The feature columns the metrics read beside the scores: the keys, the label, the editor flags,
#: the balanced sample and each text model's own score. Only these stay in memory for a split.
KEPT_COLUMNS: tuple[str, ...] = ("wiki_db", "revision_id", LABEL, IS_ANONYMOUS, IS_TEMPORARY, "is_balanced",
                                 *TEXT_MODEL_SCORES.values())


def split_scores(run_dir: str, split: str, models: dict[str, tuple[Any, dict[str, Any]]]
                 ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A split's :data:`KEPT_COLUMNS` and every variant's scores of its rows, in file order.

    The features are read one file (one shard of one language) at a time, with only the kept
    columns and the variants' features: each variant scores the shard and only its scores and the
    kept columns stay, a few dozen bytes a row instead of the whole feature table (at the paper's
    4.7M ``full_test`` rows, gigabytes)."""
    from kitrain.atomic import parquet_files, read_table

    path = RunPaths(run_dir).features(split)
    files = parquet_files(path)
    if not files:
        raise PrepareError(f"no features in {path}: run `kitrain features` first")
    columns = list(dict.fromkeys([*KEPT_COLUMNS, *(f for _, d in models.values() for f in d["features"])]))
    kept: list[pd.DataFrame] = []
    scores: dict[str, list[np.ndarray]] = {variant: [] for variant in models}
    for file in files:
        shard = read_table(file, columns=columns).replace_schema_metadata(None).to_pandas()
        for variant, (model, description) in models.items():
            scores[variant].append(predict(model, description, shard) if len(shard) else np.zeros(0))
        kept.append(shard.loc[:, list(KEPT_COLUMNS)])
        del shard
    frame = pd.concat(kept, ignore_index=True)
    return frame, {variant: np.concatenate(parts) for variant, parts in scores.items()}


#: Rows of predictions converted and written at a time.
PREDICTION_CHUNK_ROWS = 100_000


class PredictionsWriter:
    """``report/predictions.parquet`` written split by split and variant by variant, a chunk of
    rows at a time, so a table of every split's predictions of every variant never exists in
    memory (at the paper's scale 8 variants of 6.7M hold-out rows)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None

    def add(self, split: str, variant: str, frame: pd.DataFrame, scores: np.ndarray) -> None:
        for start in range(0, max(1, len(frame)), PREDICTION_CHUNK_ROWS):
            part = frame.iloc[start:start + PREDICTION_CHUNK_ROWS]
            chunk = pd.DataFrame({
                "split": split, "variant": variant, "wiki_db": part["wiki_db"].to_numpy(),
                "revision_id": part["revision_id"].to_numpy(), "label": part[LABEL].to_numpy(),
                "is_anonymous": part[IS_ANONYMOUS].to_numpy(), "is_temporary": part[IS_TEMPORARY].to_numpy(),
                "score": scores[start:start + PREDICTION_CHUNK_ROWS],
            })
            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if self.writer is None:
                self.writer = pq.ParquetWriter(self.path, table.schema)
            self.writer.write_table(table.cast(self.writer.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def run_evaluate(cfg: EvaluateConfig, run_dir: str) -> dict[str, Any]:
    paths = RunPaths(run_dir)
    variants = trained_variants(run_dir)
    models = {variant: load_classifier_dir(paths.classifier(variant)) for variant in variants}
    external = read_external_scores(cfg.external_scores) if cfg.external_scores else None
    report: dict[str, Any] = {"kitrain": __version__, "config": cfg.to_dict(), "splits": {}}
    curves: dict[str, dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    with atomic_dir(paths.report()) as tmp:
        writer = PredictionsWriter(tmp / "predictions.parquet")
        for split in EVAL_SPLITS:
            try:
                frame, scores = split_scores(run_dir, split, models)
            except PrepareError:
                logger.warning("no %s features: %s not evaluated", split, split)
                continue
            results: dict[str, Any] = {"variants": {}, "baselines": {}}
            labels, anon = frame[LABEL].to_numpy(), frame[IS_ANONYMOUS].to_numpy() == 1
            for variant in variants:
                results["variants"][variant] = evaluate_scores(frame, scores[variant], cfg)
                writer.add(split, variant, frame, scores[variant])
                curves.setdefault(split, {})[variant] = (labels, scores[variant], anon)
            results["baselines"]["is_anonymous"] = evaluate_scores(
                frame, frame[IS_ANONYMOUS].to_numpy().astype(np.float64), cfg)
            if external is not None:
                results["baselines"][cfg.external_name] = external_comparison(frame, external, variants,
                                                                               scores, cfg)
            results["text_models"] = text_models(frame)
            results["counts"] = {wiki: language_counts(part) for wiki, part in frame.groupby("wiki_db", sort=True)}
            report["splits"][split] = results
        writer.close()
        if not report["splits"]:
            raise PrepareError("no test or full_test features to evaluate: run `kitrain features` first")
        importances = {v: json.loads(Path(paths.classifier(v), "importances.json").read_text(encoding="utf-8"))
                       for v in variants}
        page = render(report, curves, importances, run_context(run_dir, variants, cfg))
        write_json(tmp / "metrics.json", report)
        (tmp / "index.html").write_text(page, encoding="utf-8")
    return report


def run_context(run_dir: str, variants: list[str], cfg: EvaluateConfig) -> dict[str, Any]:
    """Configs and versions shown in the report: what produced these numbers."""
    import catboost
    import torch
    import transformers

    paths = RunPaths(run_dir)
    prepared = read_json(paths.prepared_summary())
    return {
        "run_dir": paths.run_dir,
        "versions": {"kitrain": __version__, "catboost": catboost.__version__,
                     "torch": torch.__version__, "transformers": transformers.__version__},
        "evaluate": cfg.to_dict(),
        "prepare": prepared.get("config") if prepared else None,
        "train": {v: read_json(Path(paths.classifier(v), "train_config.json")) for v in variants},
        "finetune": {t: (read_json(Path(paths.mlm(t), "kitrain_finetune.json")) or {}).get("config")
                     for t in ("inserts", "removes", "changes", "title")},
    }


def external_comparison(frame: pd.DataFrame, external: pd.DataFrame, variants: list[str],
                        scores: dict[str, np.ndarray], cfg: EvaluateConfig) -> dict:
    """The external score and every variant (``scores``: each variant's scores of the frame's rows)
    on the revisions that have an external score, keyed by
    (revision id, wiki): the rows keep the frame's order and each external score stays with its own
    revision whatever the file's order."""
    # "index" is the frame's row position (not its index label), which iloc and the scores take
    keyed = (frame[["revision_id", "wiki_db"]].reset_index(drop=True).reset_index()
             .merge(external, on=["revision_id", "wiki_db"], how="inner", validate="many_to_one")
             .sort_values("index", kind="stable"))
    if keyed.empty:
        return {"n": 0, "note": "no revision of this split has an external score"}
    positions = keyed["index"].to_numpy()
    subset = frame.iloc[positions].reset_index(drop=True)
    out = {"n": int(len(subset)), "score": evaluate_scores(subset, keyed["score"].to_numpy(), cfg),
           "variants_on_same_rows": {}}
    for variant in variants:
        out["variants_on_same_rows"][variant] = evaluate_scores(subset, scores[variant][positions], cfg)
    return out
