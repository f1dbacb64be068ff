"""
### Knowledge Integrity multilingual revert-risk model: monthly retraining

Retrains Wikipedia's multilingual revert-risk model (*Fair Multilingual Vandalism Detection System
for Wikipedia*, KDD 2023) from one monthly snapshot of the edit history.

1. **plan** resolves the params against the run's data interval (the month it starts in is the
   history snapshot; the train window covers the six months before it and the month itself; the
   validation date and the one-week hold-out start on its first day) and writes
   `RUN_DIR/plans/<run id>.json`.
2. **collect** runs once per language (one mapped instance each, named by its language) as a
   `spark-submit` against the `spark_default` connection, collecting the train window and the
   hold-out week in one Spark application. Pool `spark` bounds how many run at once.
3. **retrain_requested** stops here when `retrain` is false.
4. **prepare** fans in every language collected for the snapshot (by this run or an earlier one).
5. **base_model** is the given hub id or directory, or a tiny BERT built from the run's texts.
6. **finetune** runs once per target (inserts, removes, changes, title) in pool and queue `gpu`.
7. **features**, **train** (CatBoost variants), **evaluate** (performance and fairness report) and
   **bundle**, which publishes the model and emits the `ki_revert_risk_model` asset.

Every task calls one function of `kitrain.pipeline` and passes paths, never data. A manual run with
`{"languages": ["uk"]}` re-collects only `uk` and retrains on every collected language.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag, get_current_context, task

from kitrain import pipeline
from kitrain.entrypoints import SPARK_COLLECT_APP
from kitrain.paths import TARGETS
from kitrain.plan import param_specs

#: The published model; each bundle task instance adds an event with the bundle's path.
MODEL_ASSET = Asset(name="ki_revert_risk_model", uri="file:///kitrain/ki_revert_risk_model/bundle")

#: Retries of every task, and seconds between them (tests and the demo change them through the
#: environment of the scheduler and workers).
RETRIES = int(os.environ.get("KITRAIN_RETRIES", "2"))
RETRY_DELAY = dt.timedelta(seconds=int(os.environ.get("KITRAIN_RETRY_DELAY_S", "300")))

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
    max_active_runs=1,
    tags=["kitrain", "revert-risk", "spark", "ml"],
    doc_md=__doc__,
    default_args={"owner": "kitrain", "retries": RETRIES, "retry_delay": RETRY_DELAY},
    params={name: Param(**spec) for name, spec in param_specs().items()},
)
def ki_multilingual_training():
    @task
    def plan(params=None, data_interval_start=None, run_id=None) -> str:
        return pipeline.plan_run(dict(params), data_interval_start, run_id)

    @task
    def collect_arguments(plan_path: str) -> list[list[str]]:
        return pipeline.collect_arguments(plan_path)

    plan_path = plan()

    collect = SparkSubmitOperator.partial(
        task_id="collect",
        conn_id="spark_default",
        application=SPARK_COLLECT_APP,
        name="kitrain-collect",
        conf=SPARK_CONF,
        pool="spark",
        map_index_template="{{ task.application_args[1] }}",
    ).expand(application_args=collect_arguments(plan_path))

    @task.short_circuit
    def retrain_requested(plan_path: str) -> bool:
        return pipeline.retrain_requested(plan_path)

    @task
    def prepare(plan_path: str) -> str:
        return pipeline.prepare(plan_path)

    @task
    def base_model(plan_path: str) -> str:
        return pipeline.base_model(plan_path)

    @task(pool="gpu", queue="gpu", map_index_template="{{ target }}")
    def finetune(target: str, plan_path: str, base_model_path: str) -> str:
        get_current_context()["target"] = target
        return pipeline.finetune(plan_path, target, base_model_path)

    @task
    def features(plan_path: str, models: list[str]) -> str:
        return pipeline.features(plan_path)

    @task
    def train(plan_path: str, features_dir: str) -> str:
        return pipeline.train(plan_path)

    @task
    def evaluate(plan_path: str, classifier_dir: str) -> str:
        return pipeline.evaluate(plan_path)

    @task(outlets=[MODEL_ASSET])
    def bundle(plan_path: str, report_dir: str, outlet_events=None) -> str:
        path = pipeline.bundle(plan_path)
        outlet_events[MODEL_ASSET].extra = {"bundle": path}
        return path

    gate = retrain_requested(plan_path)
    collect >> gate
    prepared = prepare(plan_path)
    gate >> prepared
    base = base_model(plan_path)
    prepared >> base
    models = finetune.partial(plan_path=plan_path, base_model_path=base).expand(target=list(TARGETS))
    report = evaluate(plan_path, train(plan_path, features(plan_path, models)))
    bundle(plan_path, report)


ki_multilingual_training()
