"""The task bodies of the Airflow DAG: one function per task, each taking paths and returning one.

The DAG file only wires these together; everything a task does happens here, so it is tested
without Airflow. The first task (:func:`plan_run`) resolves the run's params and data interval
into a :class:`kitrain.plan.PipelineConfig` and writes it to ``RUN_DIR/plans/<run id>.json``;
every later task receives that path and builds its stage config from the file, so all tasks of a
run (and their retries) see the same settings.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kitrain.atomic import read_json, write_json
from kitrain.config import ConfigError
from kitrain.paths import RunPaths
from kitrain.plan import PipelineConfig, config_from_params

logger = logging.getLogger(__name__)


def load_plan(plan_path: str) -> PipelineConfig:
    """The run's settings, as :func:`plan_run` wrote them."""
    data = read_json(plan_path)
    if data is None:
        raise ConfigError(f"run plan {plan_path} does not exist: the DAG's plan task writes it")
    return PipelineConfig.from_dict(data)


def collect_args(cfg: PipelineConfig, lang: str) -> list[str]:
    """The application arguments of one language's ``spark-submit`` (both modes, one JVM)."""
    args = ["--lang", lang, "--run-dir", RunPaths(cfg.run_dir).run_dir]
    for collect in cfg.collect_configs(lang):
        args += ["--config", json.dumps(collect.to_dict(), sort_keys=True)]
    return args


def plan_run(
    params: Mapping[str, Any],
    interval_start: dt.date | dt.datetime | None,
    run_id: str,
    finetune_slots: int | None = None,
) -> str:
    """Resolve the run's params against its data interval, write the plan, return its path.

    ``finetune_slots``: the ``gpu`` pool slots each finetune task holds (the DAG's); a run asking
    for more GPUs per fine-tuning is refused here, before hours of collection, rather than running
    more processes than the pool counts."""
    cfg = config_from_params(params, interval_start)
    if finetune_slots is not None and cfg.finetune_gpus > finetune_slots:
        raise ConfigError(f"finetune_gpus {cfg.finetune_gpus} is more than the {finetune_slots} slot(s) of pool "
                          "gpu a finetune task holds: set KITRAIN_FINETUNE_GPUS="
                          f"{cfg.finetune_gpus} where the DAG is parsed (scheduler, dag processor, workers)")
    if finetune_slots is not None and cfg.finetune_gpus < finetune_slots:
        logger.warning("finetune_gpus %d: each finetune task holds %d gpu pool slots and uses %d GPU(s)",
                       cfg.finetune_gpus, finetune_slots, cfg.finetune_gpus)
    paths = RunPaths(cfg.run_dir)
    plan_path = paths.plan(run_id)
    write_json(plan_path, cfg.to_dict())
    logger.info("run %s: snapshot %s, %d language(s) to collect, run directory %s", run_id,
                cfg.snapshot, len(cfg.languages), paths.run_dir)
    return plan_path


def missing_inputs(plan_path: str) -> list[str]:
    """What the run's sources still lack, one line each (empty: ready to collect)."""
    from kitrain.readiness import missing_inputs as missing

    return missing(load_plan(plan_path))


def claim_snapshot(plan_path: str, run_id: str, dag_id: str, is_active) -> str | None:
    """Claim the run directory for this run; the run id of the active run holding it, or None."""
    from kitrain.snapshot_lock import claim

    return claim(RunPaths(load_plan(plan_path).run_dir).run_dir, run_id, dag_id, is_active)


def collect_arguments(plan_path: str) -> list[list[str]]:
    """One ``spark-submit`` argument list per language this run collects.

    A list, because the DAG maps the collection over it; each entry is a few hundred bytes of
    settings, never data.
    """
    cfg = load_plan(plan_path)
    return [collect_args(cfg, lang) for lang in cfg.languages]


def retrain_requested(plan_path: str) -> bool:
    """False when the run only collects (``retrain: false``)."""
    cfg = load_plan(plan_path)
    if not cfg.retrain:
        logger.info("retrain is false: stopping after collection")
    return cfg.retrain


def prepare(plan_path: str) -> str:
    """Fan in every language collected in the run directory; return the prepared directory."""
    from kitrain.prepare import run_prepare

    cfg = load_plan(plan_path)
    summary = run_prepare(cfg.prepare_config(), cfg.run_dir)
    logger.info("prepared %s", json.dumps(summary["totals"], sort_keys=True))
    return str(Path(RunPaths(cfg.run_dir).prepared_summary()).parent)


def base_model(plan_path: str) -> str:
    """The base model every fine-tuning starts from: a hub id or directory as given, or the tiny
    model built from this run's own corpus (``base_model: tiny``)."""
    cfg = load_plan(plan_path)
    if not cfg.uses_tiny_model:
        return cfg.base_model
    from kitrain.tinymodel import build_tiny_model, read_corpus

    paths = RunPaths(cfg.run_dir)
    build_tiny_model(paths.base_model(), read_corpus(paths.prepared("train")), seed=cfg.seed)
    return paths.base_model()


def _gpus(cfg: PipelineConfig, count: int, what: str) -> Any:
    """The GPU lease of a task on the ``gpu`` queue (:mod:`kitrain.gpus`); none with device cpu."""
    from kitrain.gpus import gpu_lease

    return gpu_lease(count, what) if cfg.device != "cpu" else contextlib.nullcontext()


def finetune(plan_path: str, target: str, base_model_path: str) -> str:
    """Fine-tune one of the four language models; return its published directory."""
    from kitrain.distributed import run_finetune_parallel

    cfg = load_plan(plan_path)
    with _gpus(cfg, cfg.finetune_gpus, f"finetune {target}"):
        result = run_finetune_parallel(cfg.finetune_config(target, base_model_path), cfg.run_dir,
                                       nproc=cfg.finetune_gpus)
    logger.info("%s: %s", target, json.dumps(result["metrics"], sort_keys=True))
    return RunPaths(cfg.run_dir).mlm(target)


def feature_shards(plan_path: str) -> list[str]:
    """Name the shards the text models score (``<split>/<language>-<index>``), one mapped task
    each; a list of short names, never data."""
    from kitrain.features import plan_feature_shards

    cfg = load_plan(plan_path)
    return plan_feature_shards(cfg.features_config(), cfg.run_dir)


def feature_shard(plan_path: str, shard: str) -> str:
    """Score one shard with the four models (on a GPU worker); return its file."""
    from kitrain.features import score_feature_shard

    cfg = load_plan(plan_path)
    with _gpus(cfg, 1, f"features {shard}"):
        return score_feature_shard(cfg.features_config(), cfg.run_dir, shard)


def features(plan_path: str) -> str:
    """Assemble the scored shards into the classifier features; return the features directory."""
    from kitrain.features import assemble_features

    cfg = load_plan(plan_path)
    summary = assemble_features(cfg.features_config(), cfg.run_dir)
    logger.info("features: %s", json.dumps(summary["rows"], sort_keys=True))
    return str(Path(RunPaths(cfg.run_dir).features_summary()).parent)


def train(plan_path: str) -> str:
    """Train the run's classifier variants; return the classifier directory."""
    from kitrain.classifier import run_train

    cfg = load_plan(plan_path)
    results = run_train(cfg.train_config(), cfg.run_dir)
    for variant, metrics in results.items():
        logger.info("%s: eval ROC AUC %s", variant, metrics["eval_roc_auc"])
    return RunPaths(cfg.run_dir).classifiers()


def evaluate(plan_path: str) -> str:
    """Evaluate every trained variant; return the report directory."""
    from kitrain.evaluate import run_evaluate

    cfg = load_plan(plan_path)
    run_evaluate(cfg.evaluate_config(), cfg.run_dir)
    return RunPaths(cfg.run_dir).report()


def bundle(plan_path: str) -> str:
    """Assemble and verify the bundle of the production variant; return its directory."""
    from kitrain.bundle import load_bundle, run_bundle

    cfg = load_plan(plan_path)
    root = run_bundle(cfg.run_dir, cfg.production_variant)
    load_bundle(root)
    return str(root)


def gate_config(cfg: PipelineConfig):
    from kitrain.gate import GateConfig

    if not cfg.models_dir:
        raise ConfigError("the run has no models_dir: the plan task resolves it")
    return GateConfig(models_dir=cfg.models_dir, max_auc_drop=cfg.max_auc_drop,
                      max_language_auc_drop=cfg.max_language_auc_drop, max_dir_increase=cfg.max_dir_increase,
                      min_language_rows=cfg.min_language_rows, force_publish=cfg.force_publish,
                      sample_rows=cfg.compare_sample_rows, seed=cfg.seed, device=cfg.device)


def compare_shards(plan_path: str) -> list[str]:
    """Choose the compared hold-out rows, pin the current model, and name the prepared shards its
    text models rescore (one mapped task each; none when nothing was promoted yet)."""
    from kitrain.gate import plan_compare_shards

    cfg = load_plan(plan_path)
    return plan_compare_shards(cfg.run_dir, cfg.production_variant, gate_config(cfg))


def compare_shard(plan_path: str, shard: str) -> str:
    """Score one shard's compared rows with the current model (on a GPU worker); return its file."""
    from kitrain.gate import score_compare_shard

    cfg = load_plan(plan_path)
    with _gpus(cfg, 1, f"compare {shard}"):
        return score_compare_shard(cfg.run_dir, shard, cfg.device)


def compare(plan_path: str, run_id: str) -> str:
    """Decide from the new model's scores and the current model's scored shards; return the
    decision (``promoted``, ``held`` or ``forced``). Writes ``report/gate.json`` and the report's
    section."""
    from kitrain.gate import decide_compare

    cfg = load_plan(plan_path)
    result = decide_compare(cfg.run_dir, run_id, cfg.snapshot, gate_config(cfg), cfg.evaluate_config())
    return result["decision"]


def promote(plan_path: str) -> dict[str, Any]:
    """Act on the comparison: the record of the run, whose ``bundle`` (relative to models_dir) is
    None when the gate held the model."""
    from kitrain.gate import run_promote

    cfg = load_plan(plan_path)
    return run_promote(cfg.run_dir, gate_config(cfg))


def history(plan_path: str) -> str:
    """Write the models directory's history page; return its path."""
    from kitrain.history import run_history

    cfg = load_plan(plan_path)
    return str(run_history(cfg.models_dir))


def headline(run_dir: str) -> dict[str, Any]:
    """The figures a person looks at first after a run: where the report and the bundle are, the
    languages, and the production variant's ROC AUC and PR@R0.75 per split."""
    paths = RunPaths(run_dir)
    metrics = read_json(Path(paths.report(), "metrics.json"))
    if metrics is None:
        raise ConfigError(f"no evaluation in {paths.report()}: the run has not finished")
    manifest = read_json(Path(paths.bundle(), "manifest.json")) or {}
    variant = manifest.get("variant") or next(iter(metrics["splits"]["full_test"]["variants"]))
    result: dict[str, Any] = {
        "run_dir": paths.run_dir,
        "report": str(Path(paths.report(), "index.html")),
        "bundle": paths.bundle() if manifest else None,
        "variant": variant,
        "languages": manifest.get("languages"),
    }
    for split, data in metrics["splits"].items():
        overall = data["variants"][variant]["unbalanced"]["all"]
        result[split] = {"roc_auc": overall["roc_auc"], "pr_at_recall": overall["pr_at_recall"]}
    gate = read_json(Path(paths.report(), "gate.json"))
    if gate is not None:
        result["gate"] = {"decision": gate["decision"], "reasons": gate["reasons"],
                          "compared_with": gate["compared_with"], "split": gate["split"],
                          "roc_auc": gate["new"]["roc_auc"],
                          "current_roc_auc": (gate["current"] or {}).get("roc_auc")}
    return result


def gate_line(summary: dict[str, Any]) -> str:
    """The gate's decision in one line, as ``make demo`` prints it."""
    gate = summary.get("gate")
    if gate is None:
        return "gate: not run (no report/gate.json)"
    if gate["compared_with"] is None:
        why = "no current model: the first one is promoted"
    elif not gate["reasons"]:
        why = (f"ROC AUC {gate['roc_auc']:.4f} against the current model's {gate['current_roc_auc']:.4f} "
               f"({gate['compared_with']}): not worse beyond the limits")
    else:
        why = "; ".join(gate["reasons"])
    return f"gate: {gate['decision']} ({why})"
