"""Integrity of the Airflow DAG: it imports, it is wired as documented, its params reject bad input.

These parse the DAG file with Airflow's own DagBag and check the serialized form the scheduler and
the UI work from; no task runs here (tests/test_dag_run.py runs the whole DAG).
"""

from __future__ import annotations

import datetime as dt

import pytest

from kitrain.paths import TARGETS
from tests.conftest import REPO

DAG_ID = "ki_multilingual_training"
TASK_IDS = {"plan", "wait_for_sources", "claim_snapshot", "collect_arguments", "collect",
            "retrain_requested", "prepare", "base_model", "finetune", "feature_shards", "features",
            "assemble_features", "train", "evaluate",
            "bundle", "compare_shards", "compare_scores", "compare", "promote", "history"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags[DAG_ID]


@pytest.fixture(scope="module")
def serialized(dag):
    from airflow.serialization.serialized_objects import DagSerialization

    # what the scheduler and the API server load: the DAG must survive serialization
    return DagSerialization.from_dict(DagSerialization.to_dict(dag))


def test_dag_folder_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert list(dagbag.dags) == [DAG_ID]


def test_dag_settings(dag):
    from airflow.sdk import CronDataIntervalTimetable

    assert set(dag.tags) >= {"kitrain", "spark"}
    assert dag.doc_md and "collect" in dag.doc_md
    # monthly with data intervals (a run covers one month), no catch-up; runs of different
    # snapshots side by side (claim_snapshot keeps two runs of one snapshot apart)
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert dag.catchup is False and dag.max_active_runs > 1
    assert dag.start_date == dt.datetime(2022, 1, 1, tzinfo=dt.timezone.utc)


def test_expected_tasks_and_order(dag):
    assert set(dag.task_ids) == TASK_IDS
    upstream = {task.task_id: set(task.upstream_task_ids) for task in dag.tasks}
    # wait for the sources, then for the run directory, before anything is collected
    assert upstream["wait_for_sources"] == {"plan"} and upstream["claim_snapshot"] == {"plan", "wait_for_sources"}
    assert "claim_snapshot" in upstream["collect_arguments"]
    assert upstream["collect"] == {"collect_arguments"}
    # prepare waits for every collection (through the retrain gate)
    assert "collect" in upstream["retrain_requested"] and "retrain_requested" in upstream["prepare"]
    assert "prepare" in upstream["base_model"] and "base_model" in upstream["finetune"]
    for task_id, before in [("feature_shards", "finetune"), ("features", "feature_shards"),
                            ("assemble_features", "features"), ("train", "assemble_features"), ("evaluate", "train"),
                            ("bundle", "evaluate"), ("compare_shards", "bundle"), ("compare_scores", "compare_shards"),
                            ("compare", "compare_scores"), ("promote", "compare"),
                            ("history", "promote")]:
        assert before in upstream[task_id]
    # the history page is written whether the gate promoted the model or held it (promote skipped)
    assert dag.get_task("history").trigger_rule == "none_failed"


def test_sensors_reschedule_and_take_their_timing_from_the_plan(dag, tmp_path):
    import copy

    from kitrain import pipeline
    from kitrain.ops.sensors import PlannedSensor

    plan_path = pipeline.plan_run({"run_dir": str(tmp_path / "{snapshot}"), "source": "parquet",
                                   "source_dir": str(tmp_path / "none"), "wait_poke_interval_s": 7,
                                   "wait_timeout_s": 11},
                                  dt.date(2022, 7, 1), "manual__t")
    for task_id in ("wait_for_sources", "claim_snapshot"):
        sensor = dag.get_task(task_id)
        assert isinstance(sensor, PlannedSensor) and sensor.mode == "reschedule", task_id
    sensor = copy.deepcopy(dag.get_task("wait_for_sources"))  # the module's DAG stays as parsed
    sensor.plan_path = plan_path
    seen = {}

    def poke(context):
        seen.update(poke_interval=sensor.poke_interval, timeout=sensor.timeout)
        sensor._missing = ["parquet: no source directory x"]
        return False

    sensor.poke = poke

    class TI:
        def get_first_reschedule_date(self, context):
            return dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)  # waiting since long ago

    from airflow.sdk.exceptions import AirflowSensorTimeout

    with pytest.raises(AirflowSensorTimeout) as failed:
        sensor.execute({"ti": TI()})
    assert seen == {"poke_interval": 7.0, "timeout": 11.0}
    # one line saying what is still missing
    assert str(failed.value) == "1 input missing: parquet: no source directory x after 11 s (wait_timeout_s)"
    assert "\n" not in str(failed.value)


def test_every_task_retries(dag):
    for task in dag.tasks:
        assert task.retries >= 2, task.task_id


def test_collect_is_a_spark_submit_mapped_over_the_languages(dag):
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
    from airflow.sdk.definitions.mappedoperator import MappedOperator

    collect = dag.get_task("collect")
    assert isinstance(collect, MappedOperator)
    assert collect.operator_class is SparkSubmitOperator
    assert collect.partial_kwargs["conn_id"] == "spark_default"
    assert collect.partial_kwargs["pool"] == "spark"
    assert collect.partial_kwargs["application"].endswith("kitrain/entrypoints/spark_collect.py")
    # mapped over the argument lists of collect_arguments, one per language, named by the language
    expand = collect.expand_input.value["application_args"]
    assert expand.operator.task_id == "collect_arguments"
    assert collect.map_index_template == "{{ task.application_args[1] }}"


def test_finetune_is_mapped_over_the_four_targets_on_the_gpu_queue(dag):
    finetune = dag.get_task("finetune")
    assert finetune.op_kwargs_expand_input.value == {"target": list(TARGETS)}
    assert finetune.partial_kwargs["pool"] == "gpu"
    assert finetune.partial_kwargs["queue"] == "gpu"
    assert finetune.map_index_template == "{{ target }}"
    # nothing else needs the GPU but the scoring of the features' and the compare's shards
    for task in dag.tasks:
        if task.task_id not in ("finetune", "features", "compare_scores"):
            assert task.queue != "gpu", task.task_id


def test_a_finetune_task_holds_the_gpu_slots_of_its_processes(dag, monkeypatch, tmp_path):
    import datetime as dt

    from airflow.dag_processing.dagbag import DagBag

    from kitrain.config import ConfigError

    assert dag.get_task("finetune").pool_slots == 1  # one GPU by default
    monkeypatch.setenv("KITRAIN_FINETUNE_GPUS", "4")
    four = DagBag(dag_folder=str(REPO / "dags")).dags[DAG_ID]
    assert four.get_task("finetune").pool_slots == 4
    assert four.get_task("features").pool_slots == 1  # a shard scores on one GPU
    # the plan task refuses a run asking each fine-tuning for more GPUs than its task holds
    plan = four.get_task("plan").python_callable
    start = dt.datetime(2022, 7, 1, tzinfo=dt.timezone.utc)
    params = {"languages": ["uk"], "run_dir": str(tmp_path / "{snapshot}")}
    with pytest.raises(ConfigError, match="finetune_gpus 8 is more than the 4 slot"):
        plan(params={**params, "finetune_gpus": 8}, data_interval_start=start, run_id="manual__a")
    assert plan(params={**params, "finetune_gpus": 4}, data_interval_start=start, run_id="manual__b")


def test_the_current_model_rescores_the_hold_out_in_shards_on_the_gpu_queue(dag):
    scores = dag.get_task("compare_scores")
    assert scores.op_kwargs_expand_input.value["shard"].operator.task_id == "compare_shards"
    assert scores.partial_kwargs["pool"] == "gpu" and scores.partial_kwargs["queue"] == "gpu"
    assert scores.map_index_template == "{{ shard }}"
    # the decision waits for every shard, and runs when there was none to score (no current model:
    # the mapped task is skipped), but not after a failure
    decide = dag.get_task("compare")
    assert decide.upstream_task_ids == {"plan", "compare_scores"} and decide.trigger_rule == "none_failed"
    assert dag.get_task("compare_shards").queue != "gpu"


def test_features_are_scored_in_shards_mapped_over_the_gpu_queue(dag):
    features = dag.get_task("features")
    # one instance per shard the plan task names, each named by its shard, in pool and queue gpu
    expand = features.op_kwargs_expand_input.value["shard"]
    assert expand.operator.task_id == "feature_shards"
    assert features.partial_kwargs["pool"] == "gpu" and features.partial_kwargs["queue"] == "gpu"
    assert features.map_index_template == "{{ shard }}"
    # the fan-in waits for every shard (all_success: one failed shard stops it), on the default queue
    assemble = dag.get_task("assemble_features")
    assert assemble.upstream_task_ids >= {"features"} and assemble.trigger_rule == "all_success"
    assert dag.get_task("feature_shards").queue != "gpu"


def test_only_promotion_emits_the_model_asset(dag):
    outlets = {task.task_id: [asset.name for asset in task.outlets] for task in dag.tasks if task.outlets}
    assert outlets == {"promote": ["ki_revert_risk_model"]}


def test_every_task_notifies_on_failure(dag):
    from kitrain.ops.notify import FailureNotifier

    for task in dag.tasks:
        callbacks = task.on_failure_callback
        callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
        assert any(isinstance(c, FailureNotifier) for c in callbacks), task.task_id


def test_params_are_the_documented_ones(serialized):
    from kitrain.plan import param_specs

    assert set(serialized.params.keys()) == set(param_specs())
    # the trigger form's defaults: all 47 languages of the paper
    assert len(serialized.params["languages"]) == 47


@pytest.mark.parametrize(
    ("conf", "match"),
    [
        ({"languages": ["xx"]}, "languages: 'xx' is not one of"),
        ({"languages": ["en'; DROP TABLE x; --"]}, "is not one of"),
        ({"languages": []}, "should be non-empty"),
        ({"snapshot": "2022-13"}, "snapshot: '2022-13' does not match"),
        ({"train_start": "2022-1-1"}, "train_start"),
        ({"max_records": 0}, "less than the minimum of 1"),
        ({"source": "mysql"}, "source: 'mysql' is not one of"),
        ({"variants": ["all+everything"]}, "variants: 'all\\+everything' is not one of"),
        ({"retrain": "yes"}, "retrain: 'yes' is not of type 'boolean'"),
        ({"xml_dump": "2022-08-01"}, "xml_dump: '2022-08-01' does not match"),
        ({"text_rules": "fancy"}, "text_rules: 'fancy' is not one of"),
    ],
)
def test_params_reject_bad_input_at_trigger_time(serialized, conf, match):
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match=match):
        serialized.params.deep_merge(conf).validate()


def test_params_accept_a_single_language_run(serialized):
    params = serialized.params.deep_merge({"languages": ["uk"], "retrain": False}).validate()
    assert params["languages"] == ["uk"] and params["retrain"] is False
    assert params["snapshot"] is None  # derived from the data interval


def test_data_interval_of_a_backfill_month(serialized):
    """The schedule gives run intervals of whole months; the interval starting 2022-07-01 maps to
    the paper's settings (tests/test_plan.py checks the mapping itself)."""
    from airflow.timetables.base import DataInterval
    from kitrain.plan import interval_settings

    start = dt.datetime(2022, 7, 1, tzinfo=dt.timezone.utc)
    interval = serialized.timetable.infer_manual_data_interval(run_after=dt.datetime(2022, 8, 1, 12, tzinfo=dt.timezone.utc))
    assert isinstance(interval, DataInterval)
    assert (interval.start, interval.end) == (start, dt.datetime(2022, 8, 1, tzinfo=dt.timezone.utc))
    assert interval_settings(interval.start)["snapshot"] == "2022-07"
