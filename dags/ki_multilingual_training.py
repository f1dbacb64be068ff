"""
### Knowledge Integrity multilingual revert-risk model: monthly retraining

Retrains Wikipedia's multilingual revert-risk model (*Fair Multilingual Vandalism Detection System
for Wikipedia*, KDD 2023) from one monthly snapshot of the edit history.

1. **plan** resolves the params against the run's data interval (the month it starts in is the
   history snapshot; the train window covers the six months before it and the month itself; the
   validation date and the one-week hold-out start on its first day) and writes
   `RUN_DIR/plans/<run id>.json`.
2. **wait_for_sources** waits (reschedule mode: no worker slot held) until the run's sources are
   complete: the Hive snapshots' `_SUCCESS` flags, the parquet snapshot directories, or the history
   files and a finished full-history XML dump of every language; every `wait_poke_interval_s`,
   failing after `wait_timeout_s` with what is still missing. **claim_snapshot** then waits until
   no other active run holds the run directory (runs of one snapshot never overlap; runs of
   different snapshots run side by side).
3. **collect** runs once per language (one mapped instance each, named by its language) as a
   `spark-submit` against the `spark_default` connection, collecting the train window and the
   hold-out week in one Spark application. Pool `spark` bounds how many run at once. A language
   whose window holds fewer than `min_rows` revisions fails here, alone.
4. **retrain_requested** stops here when `retrain` is false.
5. **prepare** fans in every language collected for the snapshot (by this run or an earlier one).
6. **base_model** is the given hub id or directory, or a tiny BERT built from the run's texts.
7. **finetune** runs once per target (inserts, removes, changes, title) in pool and queue `gpu`,
   each in `finetune_gpus` data-parallel processes (torchrun) holding `KITRAIN_FINETUNE_GPUS` slots.
8. **feature_shards** names the shards of the prepared splits (at most `feature_shard_rows` rows of one
   language of one split); **features** scores each (one mapped instance per shard, named by it, in
   pool and queue `gpu`; a failed shard is retried alone); **assemble_features** publishes them.
9. **train** (CatBoost variants), **evaluate** (performance and fairness report) and **bundle**,
   which writes `RUN_DIR/bundle/`.
10. **compare_shards** pins the current model (`models_dir/current`) and names the prepared
    shards of the compared hold-out rows; **compare_scores** rescores each with it (mapped, pool and
    queue `gpu`; none before the first promotion); **compare** takes the new model's scores from
    the evaluation and decides; **promote** copies the bundle, moves `current` and emits the
    `ki_revert_risk_model` asset only when the new model is not worse beyond `max_auc_drop`,
    `max_language_auc_drop` and `max_dir_increase` (or `force_publish` is set), and is skipped
    with the reasons otherwise; **history** rewrites `models_dir/history.html`.

A task that fails for good posts to the `kitrain_notify` connection's webhook, if there is one.

Every task calls one function of `kitrain.pipeline` and passes paths, never data. A manual run with
`{"languages": ["uk"]}` re-collects only `uk` and retrains on every collected language.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from kitrain import pipeline
from kitrain.entrypoints import SPARK_COLLECT_APP
from kitrain.ops.notify import FailureNotifier
from kitrain.ops.sensors import SnapshotLockSensor, SourcesSensor
from kitrain.paths import TARGETS
from kitrain.plan import param_specs

#: The published model; each promotion adds an event with the promoted bundle's path.
MODEL_ASSET = Asset(name="ki_revert_risk_model", uri="file:///kitrain/ki_revert_risk_model/bundle")

#: Retries of every task, and seconds between them (tests and the demo change them through the
#: environment of the scheduler and workers).
RETRIES = int(os.environ.get("KITRAIN_RETRIES", "2"))
RETRY_DELAY = dt.timedelta(seconds=int(os.environ.get("KITRAIN_RETRY_DELAY_S", "300")))
#: Runs at once: runs of different snapshots go side by side (a manual run or a backfill is not
#: held behind a scheduled run waiting weeks for its dump); the pools bound the Spark applications
#: and the GPU, and claim_snapshot keeps two runs of one snapshot apart.
MAX_ACTIVE_RUNS = int(os.environ.get("KITRAIN_MAX_ACTIVE_RUNS", "8"))
#: Slots of pool ``gpu`` (one a GPU) each finetune task holds: the most GPUs the param
#: ``finetune_gpus`` may ask for (the plan refuses more). Pool slots are fixed when the DAG is
#: parsed, so this is read from the environment, not from the run's params.
FINETUNE_GPUS = int(os.environ.get("KITRAIN_FINETUNE_GPUS", "1"))

#: The Python that runs collection on the driver and the executors: this one unless the Airflow
#: Variables say otherwise (e.g. ``./environment/bin/python`` from an archive shipped to YARN).
SPARK_CONF = {
    "spark.pyspark.python": "{{ var.value.get('kitrain_spark_python', '%s') }}" % sys.executable,
    "spark.pyspark.driver.python":
        "{{ var.value.get('kitrain_spark_driver_python', '%s') }}" % sys.executable,
}


@dag(
    dag_id="ki_multilingual_training",
    schedule=CronDataIntervalTimetable("@monthly", timezone="UTC"),
    start_date=dt.datetime(2022, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=MAX_ACTIVE_RUNS,
    tags=["kitrain", "revert-risk", "spark", "ml"],
    doc_md=__doc__,
    default_args={"owner": "kitrain", "retries": RETRIES, "retry_delay": RETRY_DELAY,
                  "on_failure_callback": [FailureNotifier()]},
    params={name: Param(**spec) for name, spec in param_specs().items()},
)
def ki_multilingual_training():
    @task
    def plan(params=None, data_interval_start=None, run_id=None) -> str:
        return pipeline.plan_run(dict(params), data_interval_start, run_id, finetune_slots=FINETUNE_GPUS)

    @task
    def collect_arguments(plan_path: str) -> list[list[str]]:
        return pipeline.collect_arguments(plan_path)

    plan_path = plan()
    sources = SourcesSensor(task_id="wait_for_sources", plan_path=plan_path)
    claimed = SnapshotLockSensor(task_id="claim_snapshot", plan_path=plan_path)
    arguments = collect_arguments(plan_path)
    sources >> claimed >> arguments

    collect = SparkSubmitOperator.partial(
        task_id="collect",
        conn_id="spark_default",
        application=SPARK_COLLECT_APP,
        name="kitrain-collect",
        conf=SPARK_CONF,
        pool="spark",
        map_index_template="{{ task.application_args[1] }}",
    ).expand(application_args=arguments)

    @task.short_circuit
    def retrain_requested(plan_path: str) -> bool:
        return pipeline.retrain_requested(plan_path)

    @task
    def prepare(plan_path: str) -> str:
        return pipeline.prepare(plan_path)

    @task
    def base_model(plan_path: str) -> str:
        return pipeline.base_model(plan_path)

    @task(pool="gpu", pool_slots=FINETUNE_GPUS, queue="gpu", map_index_template="{{ target }}")
    def finetune(target: str, plan_path: str, base_model_path: str) -> str:
        get_current_context()["target"] = target
        return pipeline.finetune(plan_path, target, base_model_path)

    @task
    def feature_shards(plan_path: str, models: list[str]) -> list[str]:
        return pipeline.feature_shards(plan_path)

    @task(pool="gpu", queue="gpu", map_index_template="{{ shard }}")
    def features(shard: str, plan_path: str) -> str:
        get_current_context()["shard"] = shard
        return pipeline.feature_shard(plan_path, shard)

    @task
    def assemble_features(plan_path: str, shard_files: list[str]) -> str:
        return pipeline.features(plan_path)

    @task
    def train(plan_path: str, features_dir: str) -> str:
        return pipeline.train(plan_path)

    @task
    def evaluate(plan_path: str, classifier_dir: str) -> str:
        return pipeline.evaluate(plan_path)

    @task
    def bundle(plan_path: str, report_dir: str) -> str:
        return pipeline.bundle(plan_path)

    @task
    def compare_shards(plan_path: str, bundle_dir: str) -> list[str]:
        return pipeline.compare_shards(plan_path)

    @task(pool="gpu", queue="gpu", map_index_template="{{ shard }}")
    def compare_scores(shard: str, plan_path: str) -> str:
        get_current_context()["shard"] = shard
        return pipeline.compare_shard(plan_path, shard)

    # none_failed: before the first promotion there is no current model and no shard to score, so
    # the mapped compare_scores is skipped and the gate decides on the new model alone
    @task(trigger_rule="none_failed")
    def compare(plan_path: str, run_id=None) -> str:
        return pipeline.compare(plan_path, run_id)

    @task(outlets=[MODEL_ASSET])
    def promote(plan_path: str, decision: str, outlet_events=None) -> str:
        record = pipeline.promote(plan_path)
        if record["bundle"] is None:
            raise AirflowSkipException("the gate held the model: " + "; ".join(record["reasons"]))
        outlet_events[MODEL_ASSET].extra = {"bundle": record["bundle"], "decision": record["decision"]}
        return record["bundle"]

    @task(trigger_rule="none_failed")
    def history(plan_path: str) -> str:
        return pipeline.history(plan_path)

    gate = retrain_requested(plan_path)
    collect >> gate
    prepared = prepare(plan_path)
    gate >> prepared
    base = base_model(plan_path)
    prepared >> base
    models = finetune.partial(plan_path=plan_path, base_model_path=base).expand(target=list(TARGETS))
    shards = features.partial(plan_path=plan_path).expand(shard=feature_shards(plan_path, models))
    report = evaluate(plan_path, train(plan_path, assemble_features(plan_path, shards)))
    scored = compare_scores.partial(plan_path=plan_path).expand(shard=compare_shards(plan_path, bundle(plan_path, report)))
    decided = compare(plan_path)
    scored >> decided
    promoted = promote(plan_path, decided)
    promoted >> history(plan_path)


ki_multilingual_training()
