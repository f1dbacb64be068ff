"""The whole DAG on demo data, as Airflow runs it (``dag.test()``, SQLite, Spark through
``spark-submit``), and the collection on a real Spark standalone cluster.

The DAG runs in a child process with its own migrated Airflow home: Airflow configures logging and
its database for the whole process, which must not leak into the other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from kitrain.paths import SPLITS, TARGETS, RunPaths
from tests.conftest import REPO, free_port

pytestmark = [pytest.mark.slow, pytest.mark.spark]

DAG_ID = "ki_multilingual_training"
BIN = str(Path(sys.executable).parent)

#: Runs the DAG once with dag.test() and prints its task instances as JSON.
RUN_SCRIPT = """
import datetime as dt, json, sys
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder=sys.argv[1]).dags[sys.argv[2]]
run = dag.test(logical_date=dt.datetime.fromisoformat(sys.argv[3]), run_conf=json.loads(sys.argv[4]))
tis = [{"task_id": ti.task_id, "map_index": ti.map_index, "name": ti.rendered_map_index,
        "state": str(ti.state), "try_number": ti.try_number} for ti in run.get_task_instances()]
print("KITRAIN_RESULT " + json.dumps({"state": str(run.state), "run_id": run.run_id,
                                      "interval_start": run.data_interval_start.isoformat(),
                                      "task_instances": tis}))
"""


#: Clears one mapped collection and everything downstream of it in an existing run, as "Clear" with
#: "Downstream" on that task instance does in the UI, then drives the run to its end the way
#: dag.test() does (dag.test() itself clears the whole run first, so it cannot resume one).
RESUME_SCRIPT = """
import json, sys, time
from airflow import settings
from airflow.dag_processing.dagbag import DagBag
from airflow.models.dagrun import DagRun
from airflow.sdk import timezone
from airflow.sdk.definitions.dag import _run_task
from airflow.serialization.serialized_objects import DagSerialization
from airflow.utils.state import DagRunState, TaskInstanceState

dag = DagBag(dag_folder=sys.argv[1]).dags[sys.argv[2]]
run_id, task_id, map_index = sys.argv[3], sys.argv[4], int(sys.argv[5])
scheduler_dag = DagSerialization.deserialize_dag(DagSerialization.serialize_dag(dag))
downstream = set(scheduler_dag.partial_subset(task_ids=[task_id], include_downstream=True,
                                              include_upstream=False).task_dict) - {task_id}
session = settings.Session()
cleared = scheduler_dag.clear(task_ids=[(task_id, map_index), *sorted(downstream)], run_id=run_id,
                              session=session)
session.commit()
dr = session.query(DagRun).filter(DagRun.run_id == run_id).one()
dr.dag = scheduler_dag
dr.state = DagRunState.RUNNING
session.commit()
while dr.state == DagRunState.RUNNING:
    session.expire_all()
    schedulable, _ = dr.update_state(session=session)
    for ti in schedulable:
        if ti.state != TaskInstanceState.UP_FOR_RESCHEDULE:
            ti.try_number += 1
        ti.state = TaskInstanceState.SCHEDULED
        ti.scheduled_dttm = timezone.utcnow()
    session.commit()
    scheduled = [ti for ti in dr.get_task_instances(session=session) if ti.state == TaskInstanceState.SCHEDULED]
    for ti in scheduled:
        _run_task(ti=ti, task=dag.task_dict[ti.task_id], run_triggerer=True)
    if not scheduled:
        time.sleep(1)
tis = [{"task_id": ti.task_id, "map_index": ti.map_index, "name": ti.rendered_map_index,
        "state": str(ti.state), "try_number": ti.try_number} for ti in dr.get_task_instances()]
print("KITRAIN_RESULT " + json.dumps({"state": str(dr.state), "run_id": dr.run_id, "cleared": cleared,
                                      "interval_start": dr.data_interval_start.isoformat(),
                                      "task_instances": tis}))
"""


def _airflow_env(home: Path, spark_host: str = "local[2]", **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps({"conn_type": "spark", "host": spark_host}),
        "PATH": BIN + os.pathsep + env.get("PATH", ""),  # spark-submit of the installed pyspark
        "KITRAIN_RETRY_DELAY_S": "1",
        "HF_HUB_OFFLINE": "1",
        **extra,
    })
    return env


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-home")
    env = _airflow_env(home)
    airflow = [sys.executable, "-m", "airflow"]
    for command in (["db", "migrate"], ["pools", "set", "spark", "2", "collections"],
                    ["pools", "set", "gpu", "1", "fine-tuning"]):
        done = subprocess.run(airflow + command, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return home


#: The whole-DAG runs cover April 2026 (a manual run on 2026-05-01): today's data, with the
#: languages' logged-out editors on temporary accounts since their rollout (uk, ja: June 2025).
SNAPSHOT = "2026-04"
LOGICAL_DATE = "2026-05-01T00:00:00+00:00"


def run_dag(home: Path, conf: dict, logical_date: str = LOGICAL_DATE, **env: str) -> dict:
    return _child(home, RUN_SCRIPT, logical_date, json.dumps(conf), **env)


def _child(home: Path, script: str, *args: str, **env: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", script, str(REPO / "dags"), DAG_ID, *args],
        env=_airflow_env(home, **env), capture_output=True, text=True, timeout=1200,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("KITRAIN_RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-4000:] + done.stderr[-4000:]
    return json.loads(lines[-1].split(" ", 1)[1])


def states(result: dict) -> dict[tuple[str, int], tuple[str, str | None]]:
    return {(ti["task_id"], ti["map_index"]): (ti["state"], ti["name"]) for ti in result["task_instances"]}


def conf_for(demo_source: Path, runs: Path, **extra) -> dict:
    return {
        "source": "parquet", "source_dir": str(demo_source), "run_dir": str(runs / "{snapshot}"),
        "models_dir": str(runs.parent / f"{runs.name}-models"),
        # the snapshot, the windows and the validation date come from the data interval; the texts
        # from the default text source, the content history table
        "base_model": "tiny", "finetune_max_steps": 2, "max_length": 64, "classifier_iterations": 30,
        **extra,
    }


@pytest.fixture(scope="module")
def today_source(tmp_path_factory):
    """Demo tables of uk and ja for the snapshot 2026-04 (the session's demo source is 2022's)."""
    from kitrain.demo import generate_demo

    out = tmp_path_factory.mktemp("today-source")
    generate_demo(out, languages=("uk", "ja"), revisions_per_language=160, seed=7, snapshot=SNAPSHOT,
                  wikitext_snapshot=SNAPSHOT)
    return out


@pytest.fixture(scope="module")
def dag_runs(airflow_home, today_source, tmp_path_factory):
    """A run of two languages whose ja collection fails, then ja's collection cleared and rerun
    alone, which completes the run (training included); then a manual run for uk only.

    ja's content-history partition (the default text source) is there but empty (a copy cut
    short), so the sources sensor lets the run through and ja's collection fails (no retries: a retry would fail the same way, only
    later); a missing partition would keep the run waiting in wait_for_sources instead."""
    import shutil

    runs = tmp_path_factory.mktemp("runs")
    source = runs.parent / f"{runs.name}-source"
    shutil.copytree(today_source, source)
    ja_texts = source / "mediawiki_content_history_v1" / "wiki_id=jawiki"
    ja_kept = runs.parent / f"{runs.name}-ja-texts"
    ja_texts.rename(ja_kept)
    ja_texts.mkdir()
    run_dir = RunPaths(str(runs / SNAPSHOT))
    models = runs.parent / f"{runs.name}-models"
    conf = conf_for(source, runs, languages=["uk", "ja"], variants=["all+user+mlm", "anon+user+mlm"])
    failed = run_dag(airflow_home, conf, KITRAIN_RETRIES="0")
    uk_dir = Path(run_dir.collected("all_users", "train", "uk"))
    at_failure = {
        "uk_inode": uk_dir.stat().st_ino, "uk": pd.read_parquet(uk_dir),
        "ja_published": Path(run_dir.collected("all_users", "train", "ja")).exists(),
        "ja_partial": [p.name for p in Path(run_dir.collected_mode("all_users", "train")).iterdir()
                       if "ja" in p.name],
        "prepared": Path(run_dir.prepared_summary()).exists(), "bundle": Path(run_dir.bundle()).exists(),
    }
    # the cause is fixed, then only ja's collection (and what follows it) is cleared and rerun
    ja_texts.rmdir()
    ja_kept.rename(ja_texts)
    ja_index = next(ti["map_index"] for ti in failed["task_instances"]
                    if ti["task_id"] == "collect" and ti["name"] == "ja")
    first = _child(airflow_home, RESUME_SCRIPT, failed["run_id"], "collect", str(ja_index))
    collected = {lang: Path(run_dir.collected("all_users", "train", lang)) for lang in ("uk", "ja")}
    before = {
        "inode": {lang: path.stat().st_ino for lang, path in collected.items()},
        "uk": pd.read_parquet(collected["uk"]),
        "manifest": json.loads(Path(run_dir.bundle(), "manifest.json").read_text()),
        "bundle_inode": Path(run_dir.bundle()).stat().st_ino,
        "current": os.readlink(models / "current"),
        "failed": failed, "at_failure": at_failure, "ja_index": ja_index,
    }
    second = run_dag(airflow_home, conf_for(source, runs, languages=["uk"]))
    return run_dir, first, before, second


def test_the_first_model_is_promoted_and_the_next_compared_with_it(dag_runs):
    run_dir, first, before, second = dag_runs
    models = Path(run_dir.run_dir).parent.parent / f"{Path(run_dir.run_dir).parent.name}-models"
    from kitrain.gate import model_name

    first_name = model_name(SNAPSHOT, first["run_id"])
    assert before["current"] == f"bundles/{first_name}"
    record = json.loads((models / "runs" / f"{first_name}.json").read_text())
    assert record["decision"] == "promoted" and record["compared_with"] is None
    # the second run was compared with the first's model on its own hold-out rows
    second_record = json.loads((models / "runs" / f"{model_name(SNAPSHOT, second['run_id'])}.json").read_text())
    assert second_record["compared_with"] == first_name and second_record["current"] is not None
    # ... its text models rescoring the compared rows in one mapped task per prepared shard holding
    # them, each named by it; the first run had nothing to compare with: no shard, the task skipped
    rescored = sorted(name for (task, _), (state, name) in states(second).items()
                      if task == "compare_scores" and state == "success")
    assert rescored == [f"{second_record['split']}/{lang}-00000" for lang in ("ja", "uk")]
    assert second_record["shards"] == 2 and record["shards"] == 0
    assert {state for (task, _), (state, _) in states(first).items() if task == "compare_scores"} == {"skipped"}
    promote_state = states(second)[("promote", -1)][0]
    assert promote_state == ("success" if second_record["decision"] == "promoted" else "skipped")
    assert states(second)[("history", -1)][0] == "success"
    page = (models / "history.html").read_text()
    assert first_name.split("__", 1)[1][:20] in page or first["run_id"] in page
    # the report carries the gate's section
    assert '<section id="gate">' in Path(run_dir.report(), "index.html").read_text()


def test_whole_dag_runs_on_demo_data(dag_runs):
    run_dir, first, _, _ = dag_runs
    assert first["state"] == "success"
    ti = states(first)
    # every task succeeded, but the current model's rescoring: there was no current model yet
    assert {state for (task, _), (state, _) in ti.items() if task != "compare_scores"} == {"success"}
    # one mapped collection per language, named by it in the UI; one fine-tuning per target
    assert sorted(name for (task, _), (_, name) in ti.items() if task == "collect") == ["ja", "uk"]
    assert sorted(name for (task, _), (_, name) in ti.items() if task == "finetune") == sorted(TARGETS)
    # the features scored in one mapped instance per shard, named by it (the demo's languages
    # fit one shard each per split), then assembled into every split
    shards = sorted(name for (task, _), (_, name) in ti.items() if task == "features")
    assert shards == sorted(f"{split}/{lang}-00000" for split in SPLITS for lang in ("ja", "uk"))
    summary = json.loads(Path(run_dir.features_summary()).read_text())
    assert summary["shards"] == {split: 2 for split in SPLITS} and summary["devices"] == {"cpu/float32": 8}


def test_an_anonymous_variant_trains_on_the_anonymous_only_collection(dag_runs):
    # an anon+ variant requested: each language's application also collected the anonymous-only
    # train window, prepared into anon_train, and the anon variant was trained on it. In 2026 the
    # logged-out editors are mostly temporary accounts, which the history table does not flag
    # anonymous: the collection is not empty because it counts them as the paper's anonymous
    run_dir = dag_runs[0]
    for lang in ("uk", "ja"):
        anon = pd.read_parquet(run_dir.collected("anon_users", "train", lang))
        assert len(anon) > 0 and set(anon["event_user_is_anonymous"]) == {1}
        assert anon["event_user_is_temporary"].mean() > 0.8, lang
        quality = json.loads(Path(run_dir.collect_quality("anon_users", "train", lang)).read_text())
        read = quality["steps"][0]["editors"]
        assert read["temporary"] > read["ip"] > 0, lang
        config = json.loads(Path(run_dir.collect_quality("anon_users", "train", lang)).read_text())["config"]
        assert (config["filter_anon"], config["mode"]) == (True, "train")
    summary = json.loads(Path(run_dir.prepared_summary()).read_text())
    assert summary["totals"]["anon_train"]["rows"] > 0
    metrics = json.loads(Path(run_dir.classifier("anon+user+mlm"), "metrics.json").read_text())
    assert metrics["training_split"] == "anon_train"
    assert json.loads(Path(run_dir.classifier("all+user+mlm"), "metrics.json").read_text())["training_split"] == "train"


def test_run_settings_come_from_the_data_interval(dag_runs):
    run_dir, first, _, _ = dag_runs
    # the manual run at 2026-05-01 covers April 2026: its snapshot, the six months before it and the
    # month as the train window, the first week of the month as the hold-out (the paper's rule,
    # which gives its settings for the interval of 2022-07: tests/test_plan.py)
    assert first["interval_start"].startswith("2026-04-01")
    plans = sorted(Path(run_dir.run_dir, "plans").glob("*.json"))
    plan = json.loads(plans[0].read_text())
    assert (plan["snapshot"], plan["train_start"], plan["train_end"], plan["validation_date"],
            plan["test_start"], plan["test_end"]) == \
        ("2026-04", "2025-10-01", "2026-05-01", "2026-04-01", "2026-04-01", "2026-04-08")
    config = json.loads(Path(run_dir.collect_quality("all_users", "train", "uk")).read_text())["config"]
    assert (config["snapshot"], config["text_source"]) == ("2026-04", "content_history")


def test_whole_dag_publishes_a_verified_bundle(dag_runs):
    from kitrain.bundle import load_bundle

    run_dir, _, before, _ = dag_runs
    assert before["manifest"]["languages"] == ["ja", "uk"]
    bundle = load_bundle(run_dir.bundle())  # verifies every checksum
    assert bundle.manifest["variant"] == "all+user+mlm"
    for target in TARGETS:
        assert Path(run_dir.mlm(target), "model.safetensors").is_file()
    assert Path(run_dir.report(), "index.html").is_file()


def test_single_language_run_refreshes_the_model_from_all_collected_languages(dag_runs):
    run_dir, _, before, second = dag_runs
    assert second["state"] == "success"
    ti = states(second)
    assert [name for (task, _), (_, name) in ti.items() if task == "collect"] == ["uk"]
    # only uk was collected again (a new directory published in place) ...
    assert Path(run_dir.collected("all_users", "train", "ja")).stat().st_ino == before["inode"]["ja"]
    assert Path(run_dir.collected("all_users", "train", "uk")).stat().st_ino != before["inode"]["uk"]
    # ... with the same rows, since the seed and the snapshot are the same
    pd.testing.assert_frame_equal(pd.read_parquet(run_dir.collected("all_users", "train", "uk")), before["uk"])
    # and the model was rebuilt from both languages
    summary = json.loads(Path(run_dir.prepared_summary()).read_text())
    assert sorted(summary["languages"]) == ["ja", "uk"]
    assert Path(run_dir.bundle()).stat().st_ino != before["bundle_inode"]
    manifest = json.loads(Path(run_dir.bundle(), "manifest.json").read_text())
    assert manifest["languages"] == ["ja", "uk"]


def test_a_failed_language_is_cleared_and_rerun_alone(dag_runs):
    run_dir, first, before, _ = dag_runs
    failed, at_failure, ja_index = before["failed"], before["at_failure"], before["ja_index"]
    uk_index = 1 - ja_index
    ti = states(failed)
    assert failed["state"] == "failed"
    assert ti[("collect", ja_index)][0] == "failed" and ti[("collect", uk_index)][0] == "success"
    assert ti[("retrain_requested", -1)][0] == ti[("prepare", -1)][0] == "upstream_failed"
    # uk was published; of ja nothing, not even a partial directory; nothing after collection ran
    assert not at_failure["ja_published"] and at_failure["ja_partial"] == []
    assert not at_failure["prepared"] and not at_failure["bundle"]

    # cleared and rerun: the same run ended in success, training included
    assert first["run_id"] == failed["run_id"] and first["state"] == "success"
    tries = {(e["task_id"], e["map_index"]): e["try_number"] for e in failed["task_instances"]}
    after = {(e["task_id"], e["map_index"]): e for e in first["task_instances"]}
    # uk's collection did not run again: same try, same published directory and rows
    assert after[("collect", uk_index)]["try_number"] == tries[("collect", uk_index)]
    assert after[("collect", ja_index)]["try_number"] > tries[("collect", ja_index)]
    assert before["inode"]["uk"] == at_failure["uk_inode"]
    pd.testing.assert_frame_equal(before["uk"], at_failure["uk"])
    assert len(pd.read_parquet(run_dir.collected("all_users", "train", "ja"))) > 0
    # the tasks upstream of the collections were not cleared either
    for task in ("plan", "wait_for_sources", "claim_snapshot", "collect_arguments"):
        assert after[(task, -1)]["try_number"] == tries[(task, -1)], task


# -- a real Spark standalone cluster -------------------------------------------------------------


def _master_state(ui_port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def standalone_cluster(tmp_path):
    """A master and one worker started with the installed pyspark's spark-class; stopped after."""
    port, ui_port, worker_ui = free_port(), free_port(), free_port()
    props = tmp_path / "spark-standalone.conf"
    props.write_text("spark.master.rest.enabled false\n")
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PATH": BIN + os.pathsep + os.environ.get("PATH", "")}
    spark_class = str(Path(BIN, "spark-class"))
    logs = [open(tmp_path / "master.log", "w"), open(tmp_path / "worker.log", "w")]
    procs = [subprocess.Popen(
        [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
         "--webui-port", str(ui_port), "--properties-file", str(props)],
        env=env, stdout=logs[0], stderr=subprocess.STDOUT)]
    try:
        procs.append(subprocess.Popen(
            [spark_class, "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
             "--host", "127.0.0.1", "--cores", "2", "--memory", "2g", "--webui-port", str(worker_ui),
             "--work-dir", str(tmp_path / "work")],
            env=env, stdout=logs[1], stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 120
        while True:
            try:
                if sum(w["state"] == "ALIVE" for w in _master_state(ui_port)["workers"]) == 1:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("standalone cluster did not start:\n" +
                                     (tmp_path / "master.log").read_text()[-2000:] +
                                     (tmp_path / "worker.log").read_text()[-2000:])
            time.sleep(1)
        yield "spark://127.0.0.1", port, ui_port
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()


def test_collect_task_on_a_standalone_cluster_equals_local(standalone_cluster, dag_runs, tmp_path,
                                                           monkeypatch):
    """uk's collection of the DAG run above (spark-submit on local[2]) again with the same
    configuration, on the cluster: only the connection changes, and so do not the rows."""
    from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

    from kitrain.config import CollectConfig
    from kitrain.entrypoints import SPARK_COLLECT_APP

    host, port, ui_port = standalone_cluster
    dag_run_dir = dag_runs[0]
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_STANDALONE_TEST",
                       json.dumps({"conn_type": "spark", "host": host, "port": port}))
    monkeypatch.setenv("PATH", BIN + os.pathsep + os.environ.get("PATH", ""))
    recorded = json.loads(Path(dag_run_dir.collect_quality("all_users", "train", "uk")).read_text())["config"]
    cfg = CollectConfig.from_dict(recorded)
    assert (cfg.lang, cfg.mode, cfg.filter_anon) == ("uk", "train", False)
    run_dir = tmp_path / "run"
    operator = SparkSubmitOperator(
        task_id="collect", conn_id="spark_standalone_test", application=SPARK_COLLECT_APP,
        application_args=["--lang", "uk", "--run-dir", str(run_dir), "--config", json.dumps(cfg.to_dict())],
        conf={"spark.pyspark.python": sys.executable}, executor_memory="1g", total_executor_cores=2,
        name="kitrain-collect-standalone-test",
    )
    operator.execute(context={})
    # the application really ran on the cluster (not in a local master of its own)
    apps = _master_state(ui_port)["completedapps"]
    assert [app["name"] for app in apps] == ["kitrain collect uk"]
    local = pd.read_parquet(dag_run_dir.collected("all_users", "train", "uk"))
    cluster = pd.read_parquet(RunPaths(str(run_dir)).collected("all_users", "train", "uk"))
    assert len(cluster) == len(local) > 0
    pd.testing.assert_frame_equal(cluster.reset_index(drop=True), local.reset_index(drop=True))
