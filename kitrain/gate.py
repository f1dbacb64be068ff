"""The quality gate: a new model is promoted only when it is not worse than the published one.

Every run writes its bundle to ``RUN_DIR/bundle/``. What a serving system deploys is different: the
*current* model, kept under a models directory::

    MODELS_DIR/
      current -> bundles/<name>     the last bundle that passed (a relative link, swapped atomically)
      bundles/<name>/               copies of promoted bundles (name: "<snapshot>__<run id>")
      runs/<name>.json              one record per gated run: both models' figures and the decision
      history.html                  every gated run over time (:mod:`kitrain.history`)

:func:`run_compare` scores the new run's hold-out with the current model (its own four text
models and classifier, loaded from its bundle and verified; the prepared rows streamed one shard at
a time, or a seeded stratified sample of them with ``sample_rows``) and takes the new model's
scores of the same revisions from the evaluation (the bundle holds exactly the evaluated classifier and text
models, so scoring it again would give the same numbers at the cost of a second GPU pass; a test
checks that it does). Both are measured the same way: overall and per-language ROC AUC and
PR@R0.75 for all and for anonymous editors, and the disparate impact of the predictions
(anonymous against registered editors at the threshold, as in the report). :func:`decide` holds a
new model that is worse beyond the limits; ``force_publish`` promotes it all the same, and the
record says so. :func:`run_promote` copies the bundle, swaps the link and writes the record; a held
run writes its record and leaves ``current`` where it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import html
import logging
import os
import re
import shutil
import uuid
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kitrain import __version__
from kitrain.atomic import atomic_dir, file_lock, read_json, write_json, write_text
from kitrain.config import (
    ConfigError, EvaluateConfig, _check_bool, _check_int, _check_non_negative_float, _Config, check_device,
)
from kitrain.paths import RunPaths
from kitrain.schema import IS_ANONYMOUS, LABEL

logger = logging.getLogger(__name__)

CURRENT = "current"
BUNDLES = "bundles"
RUNS = "runs"
#: The splits the gate compares on, in order of preference: the hold-out week collected on its
#: own (``full_test``), else the test rows of the train window.
GATE_SPLITS = ("full_test", "test")
#: Decisions of a gated run.
PROMOTED, HELD, FORCED = "promoted", "held", "forced"
#: The gate's part of the run report: between these markers in ``report/index.html``, replaced on
#: a rerun.
_REPORT_START, _REPORT_END = "<!-- kitrain-gate -->", "<!-- /kitrain-gate -->"
#: Floating-point slack of the comparisons: a drop of exactly the limit passes.
_EPS = 1e-12
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class GateError(RuntimeError):
    """The gate cannot compare or promote; the message names what is missing."""


@dataclasses.dataclass(frozen=True)
class GateConfig(_Config):
    """The limits of the gate (the DAG params of the same names)."""

    models_dir: str
    max_auc_drop: float = 0.01
    max_language_auc_drop: float = 0.03
    max_dir_increase: float = 0.10
    #: Languages with fewer hold-out rows are not held to ``max_language_auc_drop`` (their AUC
    #: moves too much between two samples); the run's ``min_language_rows``.
    min_language_rows: int = EvaluateConfig.min_language_rows
    force_publish: bool = False
    #: Compare on a seeded sample of this many hold-out rows, stratified by language, label and
    #: anonymous editor, when the hold-out is larger (0: every row, as before). At the paper's
    #: scale the hold-out is 4.7M revisions, each rescored by the current model's four text models.
    sample_rows: int = 0
    #: The run's seed: it draws the sample.
    seed: int = 42
    #: Where the current model's text models rescore the hold-out (the run's ``device``).
    device: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.models_dir, str) or not self.models_dir.strip():
            raise ConfigError("models_dir must name a directory")
        for name in ("max_auc_drop", "max_language_auc_drop", "max_dir_increase"):
            _check_non_negative_float(name, getattr(self, name))
        _check_int("min_language_rows", self.min_language_rows, 1)
        _check_bool("force_publish", self.force_publish)
        _check_int("sample_rows", self.sample_rows, 0)
        _check_int("seed", self.seed, 0)
        check_device(self.device)

    @property
    def limits(self) -> dict[str, Any]:
        return {"max_auc_drop": self.max_auc_drop, "max_language_auc_drop": self.max_language_auc_drop,
                "max_dir_increase": self.max_dir_increase, "min_language_rows": self.min_language_rows}


def model_name(snapshot: str, run_id: str) -> str:
    """The name of a run's bundle copy and record: ``<snapshot>__<run id as a safe name>``."""
    safe = _UNSAFE.sub("_", run_id).strip("._")
    if not safe:
        raise GateError(f"run id {run_id!r} gives an empty name")
    return f"{snapshot}__{safe[:180]}"


# -- the figures -------------------------------------------------------------------------------

def _block(labels: np.ndarray, scores: np.ndarray, anon: np.ndarray, cfg: EvaluateConfig) -> dict[str, Any]:
    from kitrain.evaluate import unbalanced

    figures = unbalanced(labels, scores, anon, cfg)
    return {"n": figures["all"]["n"], "anonymous_n": figures["anonymous"]["n"],
            "roc_auc": figures["all"]["roc_auc"], "pr_at_recall": figures["all"]["pr_at_recall"],
            "anonymous": {"roc_auc": figures["anonymous"]["roc_auc"],
                          "pr_at_recall": figures["anonymous"]["pr_at_recall"]}}


def gate_metrics(frame: pd.DataFrame, scores: np.ndarray, cfg: EvaluateConfig) -> dict[str, Any]:
    """The figures the gate compares, of one model's scores on the hold-out rows: overall and per
    language ROC AUC and PR@R0.75 for all and anonymous editors (the report's unbalanced figures)
    and the disparate impact of the predictions at the threshold (None where undefined)."""
    from kitrain.evaluate import fairness

    labels = frame[LABEL].to_numpy().astype(np.int64)
    anon = frame[IS_ANONYMOUS].to_numpy().astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    out = _block(labels, scores, anon, cfg)
    out["disparate_impact"] = fairness(labels, scores, anon, cfg)["disparate_impact_predictions"]
    out["languages"] = {
        wiki: _block(labels[idx], scores[idx], anon[idx], cfg)
        for wiki, idx in sorted(frame.groupby("wiki_db", sort=True).indices.items())
    }
    return out


def decide(new: dict[str, Any], current: dict[str, Any] | None, cfg: GateConfig) -> tuple[str, list[str]]:
    """(decision, reasons): ``promoted`` when the new model is not worse than the current one
    beyond the limits (or there is no current model), else ``held`` with one reason per limit
    broken, or ``forced`` with the same reasons when ``force_publish`` is set.

    * overall ROC AUC: held when it drops by more than ``max_auc_drop``, or is undefined where the
      current model's is defined;
    * each language with at least ``min_language_rows`` hold-out rows: held when its ROC AUC drops
      by more than ``max_language_auc_drop``;
    * disparate impact of the predictions (anonymous over registered editors flagged, higher is
      more disparity against anonymous editors): held when it rises by more than
      ``max_dir_increase`` of the current value.
    """
    if current is None:
        return PROMOTED, []
    reasons = []
    new_auc, cur_auc = new.get("roc_auc"), current.get("roc_auc")
    if cur_auc is not None:
        if new_auc is None:
            reasons.append(f"overall ROC AUC is undefined on the hold-out; the current model's is {cur_auc:.4f}")
        elif cur_auc - new_auc > cfg.max_auc_drop + _EPS:
            reasons.append(f"overall ROC AUC {new_auc:.4f} is {cur_auc - new_auc:.4f} below the current "
                           f"model's {cur_auc:.4f} (max_auc_drop {cfg.max_auc_drop:g})")
    for wiki, lang in sorted(new.get("languages", {}).items()):
        before = current.get("languages", {}).get(wiki)
        if before is None or lang["n"] < cfg.min_language_rows:
            continue
        if lang["roc_auc"] is not None and before["roc_auc"] is not None \
                and before["roc_auc"] - lang["roc_auc"] > cfg.max_language_auc_drop + _EPS:
            reasons.append(f"{wiki} ROC AUC {lang['roc_auc']:.4f} is {before['roc_auc'] - lang['roc_auc']:.4f} "
                           f"below the current model's {before['roc_auc']:.4f} on {lang['n']} rows "
                           f"(max_language_auc_drop {cfg.max_language_auc_drop:g})")
    new_dir, cur_dir = new.get("disparate_impact"), current.get("disparate_impact")
    if new_dir is not None and cur_dir is not None and cur_dir > 0 \
            and new_dir > cur_dir * (1 + cfg.max_dir_increase) + _EPS:
        reasons.append(f"disparate impact {new_dir:.3f} is {100 * (new_dir / cur_dir - 1):.1f} % above the "
                       f"current model's {cur_dir:.3f} (max_dir_increase {cfg.max_dir_increase:g})")
    if not reasons:
        return PROMOTED, []
    return (FORCED if cfg.force_publish else HELD), reasons


# -- the models directory ----------------------------------------------------------------------

def current_bundle(models_dir: str) -> Path | None:
    """The current model's bundle directory, or None when nothing was promoted yet."""
    link = Path(models_dir, CURRENT)
    if not link.is_symlink() and not link.exists():
        return None
    target = link.resolve()
    if not target.is_dir():
        raise GateError(f"{link} points at {target}, which is not a bundle directory: fix or remove the link")
    return target


def current_name(models_dir: str) -> str | None:
    """The name of the current model (``bundles/<name>`` as the link says), or None."""
    link = Path(models_dir, CURRENT)
    return Path(os.readlink(link)).name if link.is_symlink() else None


@contextlib.contextmanager
def models_lock(models_dir: str) -> Iterator[None]:
    """Serialise promotions of runs that finish together (runs of different snapshots run side
    by side): the link swap, the copy and the record of one run happen under one lock."""
    with file_lock(Path(models_dir, ".lock")):
        yield


def swap_current(models_dir: str, name: str) -> None:
    """Point ``current`` at ``bundles/<name>`` in one ``os.replace``: a reader sees the old model or
    the new one, never none."""
    root = Path(models_dir)
    tmp = root / f".{CURRENT}.link-{uuid.uuid4().hex}"
    os.symlink(f"{BUNDLES}/{name}", tmp)
    os.replace(tmp, root / CURRENT)


# -- the stages --------------------------------------------------------------------------------

#: The evaluation's prediction columns the gate reads (of the bundled variant's rows only).
HOLDOUT_COLUMNS = ["split", "wiki_db", "revision_id", "label", "is_anonymous", "score"]
#: What the sample is stratified by: each language's reverted and kept edits of anonymous and
#: registered editors keep their shares, so every per-language and anonymous figure has its rows.
SAMPLE_STRATA = ("wiki_db", LABEL, IS_ANONYMOUS)


def holdout(run_dir: str, variant: str) -> tuple[str, pd.DataFrame, np.ndarray]:
    """(split, the evaluated hold-out rows: ``wiki_db``, ``revision_id``, the label and the
    anonymous flag, the new model's scores of them), from the evaluation's predictions of the
    bundled variant: six columns of that variant's rows, nothing of the prepared split."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = RunPaths(run_dir)
    predictions_path = Path(paths.report(), "predictions.parquet")
    if not predictions_path.is_file():
        raise GateError(f"no predictions in {paths.report()}: the evaluate task writes them")
    try:
        table = pq.read_table(predictions_path, columns=HOLDOUT_COLUMNS, filters=[("variant", "==", variant)])
    except (pa.ArrowInvalid, OSError) as exc:
        raise GateError(f"cannot read {predictions_path} ({exc}): run the evaluation again") from None
    predictions = table.to_pandas()
    for split in GATE_SPLITS:
        ours = predictions[predictions["split"] == split]
        if len(ours):
            break
    else:
        raise GateError(f"the evaluation in {paths.report()} has no {' or '.join(GATE_SPLITS)} predictions "
                        f"of {variant}")
    frame = pd.DataFrame({"wiki_db": ours["wiki_db"].to_numpy(), "revision_id": ours["revision_id"].to_numpy(),
                          LABEL: ours["label"].to_numpy(), IS_ANONYMOUS: ours["is_anonymous"].to_numpy()})
    return split, frame, ours["score"].to_numpy(dtype=np.float64)


def sample_holdout(frame: pd.DataFrame, rows: int, seed: int) -> np.ndarray:
    """True for a seeded sample of ``rows`` rows stratified by :data:`SAMPLE_STRATA`, or for every
    row when ``rows`` is 0 or the frame is not larger.

    Each stratum gets its share of ``rows`` rounded down, and the rows left over go to the strata
    with the largest remainders (ties: in stratum order), so the sample has exactly ``rows`` rows
    and no stratum is more than one row off its share. Within a stratum the rows are drawn by
    revision id, not by their order in the files, with one generator seeded by ``seed``.
    """
    mask = np.zeros(len(frame), dtype=bool)
    if rows == 0 or len(frame) <= rows:
        mask[:] = True
        return mask
    groups = sorted(frame.groupby(list(SAMPLE_STRATA), sort=True).indices.items())
    sizes = np.array([len(idx) for _, idx in groups], dtype=np.int64)
    exact = sizes * rows / len(frame)
    counts = np.floor(exact).astype(np.int64)
    leftover = rows - int(counts.sum())
    order = np.lexsort((np.arange(len(groups)), -(exact - counts)))  # largest remainder first
    counts[order[:leftover]] += 1
    rng = np.random.default_rng([seed, zlib.crc32(b"gate-sample")])
    revision_ids = frame["revision_id"].to_numpy()
    for (_, idx), count in zip(groups, counts):
        idx = idx[np.argsort(revision_ids[idx], kind="stable")]
        mask[rng.choice(idx, size=int(count), replace=False)] = True
    return mask


def _wanted(rows: pd.DataFrame) -> dict[str, Any]:
    """The revision ids of ``rows`` per wiki, as Arrow arrays for ``is_in``."""
    import pyarrow as pa

    return {wiki: pa.array(ids, pa.int64())
            for wiki, ids in rows.groupby("wiki_db", sort=True)["revision_id"].agg(list).items()}


def _picked(table: Any, wanted: dict[str, Any]) -> Any:
    """The rows of ``table`` whose (wiki, revision) is wanted; None when none can be."""
    import pyarrow.compute as pc

    keep = None
    for wiki in pc.unique(table["wiki_db"]).to_pylist():
        if wiki in wanted:
            mine = pc.and_(pc.equal(table["wiki_db"], wiki), pc.is_in(table["revision_id"], wanted[wiki]))
            keep = mine if keep is None else pc.or_(keep, mine)
    return None if keep is None else table.filter(keep)


class _BundleScorer:
    """A bundle's four text models and classifier, loaded (and verified) once, scoring prepared rows
    with the same code as ``kitrain features`` and ``kitrain score``."""

    def __init__(self, bundle_dir: str | Path, device: str) -> None:
        from kitrain.bundle import load_bundle
        from kitrain.classifier import load_cbm
        from kitrain.features import Scorers

        self.bundle = load_bundle(bundle_dir)
        self.features_cfg = self.bundle.features_config(device=device)
        self.scorers = Scorers(self.bundle.mlm, self.features_cfg)
        self.model = load_cbm(self.bundle.classifier)

    def scores(self, frame: pd.DataFrame) -> pd.DataFrame:
        from kitrain.classifier import predict
        from kitrain.features import assemble, text_model_features

        mlm, _, _ = text_model_features({"shard": frame}, self.bundle.mlm, self.features_cfg, scorers=self.scorers)
        scores = predict(self.model, self.bundle.description, assemble(frame, mlm["shard"]))
        return pd.DataFrame({"wiki_db": frame["wiki_db"].to_numpy(), "revision_id": frame["revision_id"].to_numpy(),
                             "score": scores})


def _compare_columns() -> tuple[str, ...]:
    from kitrain.features import INPUT_COLUMNS

    return tuple(dict.fromkeys(("revision_id", "wiki_db", *INPUT_COLUMNS)))


def _prepared_files(run_dir: str, split: str) -> list[Path]:
    from kitrain.atomic import parquet_files

    path = RunPaths(run_dir).prepared(split)
    files = parquet_files(path)
    if not files:
        raise GateError(f"no prepared {split} rows in {path}: the run directory changed after the "
                        "evaluation; rerun it")
    return files


def _in_order(rows: pd.DataFrame, scored: pd.DataFrame, split: str) -> np.ndarray:
    """The scores of ``rows`` (``wiki_db``, ``revision_id``) in their order, from ``scored``; an
    error when a revision is scored twice or not at all."""
    duplicated = scored.duplicated(["wiki_db", "revision_id"])
    if duplicated.any():
        first = scored[duplicated].iloc[0]
        raise GateError(f"the prepared {split} split holds revision {first['revision_id']} of "
                        f"{first['wiki_db']} more than once: prepare the run again")
    keys = rows[["wiki_db", "revision_id"]].reset_index(drop=True)
    merged = keys.merge(scored.astype({"revision_id": keys["revision_id"].dtype}), how="left",
                        on=["wiki_db", "revision_id"], validate="one_to_one")
    missing = merged["score"].isna()
    if missing.any():
        first = merged[missing].iloc[0]
        raise GateError(f"{int(missing.sum())} evaluated {split} revisions are not in the prepared split "
                        f"(e.g. {first['wiki_db']} {first['revision_id']}): the run directory changed after "
                        "the evaluation; rerun it")
    return merged["score"].to_numpy(dtype=np.float64)


def _no_scores() -> pd.DataFrame:
    return pd.DataFrame({"wiki_db": pd.Series([], dtype=object), "revision_id": pd.Series([], dtype=np.int64),
                         "score": pd.Series([], dtype=np.float64)})


def score_with_bundle(bundle_dir: str | Path, run_dir: str, split: str, rows: pd.DataFrame,
                      device: str = "auto") -> np.ndarray:
    """A bundle's scores of the prepared ``split`` rows named by ``rows`` (``wiki_db``,
    ``revision_id``), in their order: its own four text models, then its classifier (the same
    code as ``kitrain features`` and ``kitrain score``).

    The prepared files are read one language at a time, in shards of the bundle's ``shard_rows``
    and only the columns the features use; the rows asked for are picked out of each shard before
    it is scored, so memory is bounded by a shard whatever the size of the hold-out."""
    from kitrain.features import shard_tables

    scorer = _BundleScorer(bundle_dir, device)
    wanted = _wanted(rows)
    found: list[pd.DataFrame] = []
    for file in _prepared_files(run_dir, split):
        for table in shard_tables(file, scorer.features_cfg.shard_rows, _compare_columns()):
            picked = _picked(table, wanted)
            if picked is None or picked.num_rows == 0:
                continue
            found.append(scorer.scores(picked.to_pandas()))
            logger.info("compare: scored %d %s rows of %s with the current model", picked.num_rows, split, file.name)
    return _in_order(rows, pd.concat(found, ignore_index=True) if found else _no_scores(), split)


#: Files of ``work/compare/``: the plan (split, sample, the current bundle, the shards) and the
#: compared rows with the new model's scores; beside them one ``<shard>.parquet`` per scored shard.
COMPARE_PLAN = "plan.json"
COMPARE_ROWS = "rows.parquet"


def plan_compare_shards(run_dir: str, variant: str, cfg: GateConfig) -> list[str]:
    """The first of the compare's three steps as the DAG maps them: choose the compared rows (the
    evaluated hold-out, or its sample), pin the current bundle, and name the prepared shards
    holding those rows (``<split>/<language>-<index>``, of the current bundle's ``shard_rows``), one
    mapped task each; none when nothing was promoted yet. Only the key columns are read here."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kitrain.features import shard_id, shard_tables

    paths = RunPaths(run_dir)
    split, frame, new_scores = holdout(run_dir, variant)
    chosen = sample_holdout(frame, cfg.sample_rows, cfg.seed)
    sample = {"rows": int(chosen.sum()), "of": int(len(frame)), "sampled": bool(not chosen.all()),
              "seed": cfg.seed, "stratified_by": list(SAMPLE_STRATA), "sample_rows": cfg.sample_rows}
    if sample["sampled"]:
        logger.info("compare: a stratified sample of %d of the %d %s rows (seed %d)", sample["rows"],
                    sample["of"], split, cfg.seed)
    frame = frame[chosen].reset_index(drop=True)
    frame["new_score"] = new_scores[chosen]
    current_dir = current_bundle(cfg.models_dir)
    work = Path(paths.compare_work())
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), work / COMPARE_ROWS)
    shards: list[str] = []
    shard_rows = None
    if current_dir is not None:
        from kitrain.bundle import load_bundle

        shard_rows = load_bundle(current_dir).features_config(device=cfg.device).shard_rows
        wanted = _wanted(frame)
        for file in _prepared_files(run_dir, split):
            for index, table in enumerate(shard_tables(file, shard_rows, ("revision_id", "wiki_db"))):
                picked = _picked(table, wanted)
                if picked is not None and picked.num_rows:
                    shards.append(shard_id(split, file, index))
    write_json(work / COMPARE_PLAN, {
        "split": split, "variant": variant, "sample": sample, "shard_rows": shard_rows, "shards": shards,
        "current": str(current_dir) if current_dir is not None else None,
        "compared_with": current_name(cfg.models_dir) if current_dir is not None else None,
    })
    logger.info("compare: %d shard(s) of %s to score with the current model%s", len(shards), split,
                "" if current_dir is not None else " (none: nothing was promoted yet)")
    return shards


def _compare_plan(paths: RunPaths) -> tuple[Path, dict[str, Any]]:
    work = Path(paths.compare_work())
    plan = read_json(work / COMPARE_PLAN)
    if plan is None:
        raise GateError(f"no compare plan in {work}: plan the compare's shards first (the DAG's "
                        "compare_shards task)")
    return work, plan


def score_compare_shard(run_dir: str, shard: str, device: str = "auto") -> str:
    """Score the compared rows of one planned shard with the pinned current bundle and write
    ``work/compare/<shard>.parquet`` (atomically); return its path. A mapped task's body: a failed
    shard is retried alone, and a rerun rewrites the same scores."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import pyarrow.compute as pc

    from kitrain.features import parse_shard_id, shard_table, write_shard

    paths = RunPaths(run_dir)
    work, plan = _compare_plan(paths)
    if shard not in plan["shards"]:
        raise GateError(f"no shard {shard!r} among the {len(plan['shards'])} planned in {work}")
    scorer = _BundleScorer(plan["current"], device)  # first: a GPU task on a machine without one stops here
    split, file, index = parse_shard_id(paths, shard)
    table = shard_table(file, plan["shard_rows"], index, _compare_columns())
    # only the compared rows of this shard's wikis: each of the run's shard tasks reads its part
    rows = pq.read_table(work / COMPARE_ROWS, columns=["wiki_db", "revision_id"],
                         filters=[("wiki_db", "in", pc.unique(table["wiki_db"]).to_pylist())]).to_pandas()
    picked = _picked(table, _wanted(rows))
    scored = scorer.scores(picked.to_pandas()) if picked is not None and picked.num_rows else _no_scores()
    path = work / f"{shard}.parquet"
    write_shard(pa.Table.from_pandas(scored, preserve_index=False), path)
    logger.info("compare %s: %d rows scored with the current model", shard, len(scored))
    return str(path)


def decide_compare(run_dir: str, run_id: str, snapshot: str, cfg: GateConfig,
                   evaluate_cfg: EvaluateConfig | None = None) -> dict[str, Any]:
    """The fan-in of the compare: both models' figures on the planned rows (the current model's
    from the scored shards), the decision, ``RUN_DIR/report/gate.json`` and the report's section.
    Nothing is promoted here."""
    import pyarrow.parquet as pq

    evaluate_cfg = evaluate_cfg or EvaluateConfig(min_language_rows=cfg.min_language_rows)
    paths = RunPaths(run_dir)
    work, plan = _compare_plan(paths)
    frame = pq.read_table(work / COMPARE_ROWS).to_pandas()
    new_scores = frame.pop("new_score").to_numpy(dtype=np.float64)
    new = gate_metrics(frame, new_scores, evaluate_cfg)
    current = None
    if plan["current"] is not None:
        missing = [s for s in plan["shards"] if not (work / f"{s}.parquet").is_file()]
        if missing:
            raise GateError(f"{len(missing)} of the {len(plan['shards'])} compare shards are not scored yet "
                            f"(first: {missing[0]}): score them, then decide")
        parts = [pq.read_table(work / f"{s}.parquet").to_pandas() for s in plan["shards"]]
        scored = pd.concat(parts, ignore_index=True) if parts else _no_scores()
        manifest = read_json(Path(paths.bundle(), "manifest.json")) or {}
        theirs = read_json(Path(plan["current"], "manifest.json")) or {}
        if theirs.get("text_rules") and theirs.get("text_rules") != manifest.get("text_rules"):
            logger.warning("the current model was trained on %s diffs, this hold-out has %s diffs: its "
                           "figures here are for texts cut differently", theirs.get("text_rules"),
                           manifest.get("text_rules"))
        current = gate_metrics(frame, _in_order(frame, scored, plan["split"]), evaluate_cfg)
    decision, reasons = decide(new, current, cfg)
    result = {
        "kitrain": __version__, "name": model_name(snapshot, run_id), "snapshot": snapshot, "run_id": run_id,
        "run_dir": paths.run_dir, "evaluated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "split": plan["split"], "sample": plan["sample"], "decision": decision, "reasons": reasons,
        "compared_with": plan["compared_with"], "shards": len(plan["shards"]),
        "limits": cfg.limits, "new": new, "current": current,
    }
    write_json(Path(paths.report(), "gate.json"), result)
    add_to_report(Path(paths.report(), "index.html"), render_section(result))
    shutil.rmtree(work)
    log = logger.warning if decision != PROMOTED else logger.info
    log("gate: %s%s", decision, "".join(f"\n  - {r}" for r in reasons) or
        (" (no current model)" if current is None else " (not worse than the current model)"))
    return result


def run_compare(run_dir: str, run_id: str, snapshot: str, variant: str, cfg: GateConfig,
                evaluate_cfg: EvaluateConfig | None = None) -> dict[str, Any]:
    """Score the hold-out with the current model and take the new model's scores, decide, and write
    ``RUN_DIR/report/gate.json`` and the gate's section of the report, in one process: the three
    steps the DAG maps (:func:`plan_compare_shards`, :func:`score_compare_shard` per shard,
    :func:`decide_compare`). Nothing is promoted here."""
    for shard in plan_compare_shards(run_dir, variant, cfg):
        score_compare_shard(run_dir, shard, cfg.device)
    return decide_compare(run_dir, run_id, snapshot, cfg, evaluate_cfg)


def run_promote(run_dir: str, cfg: GateConfig) -> dict[str, Any]:
    """Act on the comparison: copy the bundle and swap ``current`` when the decision is
    ``promoted`` or ``forced``; write the run's record either way. Returns the record."""
    paths = RunPaths(run_dir)
    result = read_json(Path(paths.report(), "gate.json"))
    if result is None:
        raise GateError(f"no comparison in {paths.report()}/gate.json: the compare task writes it")
    from kitrain.bundle import load_bundle

    name = result["name"]
    root = Path(cfg.models_dir)
    record = {**result, "bundle": None}
    with models_lock(cfg.models_dir):
        if result["decision"] in (PROMOTED, FORCED):
            source = Path(paths.bundle()).resolve()
            with atomic_dir(root / BUNDLES / name) as tmp:
                shutil.copytree(source, tmp, dirs_exist_ok=True)
            load_bundle(root / BUNDLES / name)  # the copy is verified before anything points at it
            swap_current(cfg.models_dir, name)
            record["bundle"] = f"{BUNDLES}/{name}"
            logger.info("promoted %s: %s now points at %s", name, root / CURRENT, record["bundle"])
        else:
            logger.warning("held %s: %s stays at %s", name, root / CURRENT, result.get("compared_with"))
        write_json(root / RUNS / f"{name}.json", record)
    return record


# -- the report section ------------------------------------------------------------------------

def _f(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def render_section(result: dict[str, Any]) -> str:
    """The gate's part of the run report: the decision, its reasons, and both models' figures."""
    new, current = result["new"], result["current"]
    esc = html.escape
    rows = []
    for label, key in (("ROC AUC", "roc_auc"), ("PR@R0.75", "pr_at_recall")):
        rows.append((f"{label}, all editors", new[key], current[key] if current else None))
        rows.append((f"{label}, anonymous", new["anonymous"][key],
                     current["anonymous"][key] if current else None))
    rows.append(("disparate impact", new["disparate_impact"], current["disparate_impact"] if current else None))
    for wiki, lang in new["languages"].items():
        before = (current or {}).get("languages", {}).get(wiki)
        rows.append((f"{wiki} ROC AUC ({lang['n']} rows)", lang["roc_auc"], before["roc_auc"] if before else None))
        rows.append((f"{wiki} PR@R0.75", lang["pr_at_recall"], before["pr_at_recall"] if before else None))
    body = "".join(f"<tr><td>{esc(label)}</td><td>{_f(a)}</td><td>{_f(b)}</td></tr>" for label, a, b in rows)
    reasons = "".join(f"<li>{esc(r)}</li>" for r in result["reasons"])
    against = esc(result["compared_with"]) if result["compared_with"] else "no current model: the first one passes"
    return (f'{_REPORT_START}<section id="gate"><h2>Quality gate: {esc(result["decision"])}</h2>'
            f"<p>Compared on the {esc(result['split'])} rows{_sample_text(result.get('sample'))} with the "
            f"current model ({against}).</p>"
            + (f"<ul>{reasons}</ul>" if reasons else "")
            + "<table><tr><th>figure</th><th>new model</th><th>current model</th></tr>"
            + body + f"</table></section>{_REPORT_END}")


def _sample_text(sample: dict[str, Any] | None) -> str:
    if not sample or not sample.get("sampled"):
        return ""
    return (f" (a sample of {sample['rows']:,} of {sample['of']:,}, stratified by language, label and "
            f"anonymous editor, seed {sample['seed']})")


def add_to_report(page: Path, section: str) -> None:
    """Put the gate's section into the report page (replacing an older one), atomically."""
    if not page.is_file():
        raise GateError(f"no report page {page}: the evaluate task writes it")
    text = page.read_text(encoding="utf-8")
    start, end = text.find(_REPORT_START), text.find(_REPORT_END)
    if start >= 0 and end > start:
        text = text[:start] + text[end + len(_REPORT_END):]
    at = text.rfind("</body>")
    text = text[:at] + section + text[at:] if at >= 0 else text + section
    write_text(page, text)
