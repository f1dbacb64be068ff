"""The DAG under the real Airflow components, driven only through the REST API.

One temporary Airflow home (SQLite, LocalExecutor) with the api-server, scheduler, dag-processor
and triggerer started as processes of their own, on free ports, once for the module. The DAG is
unpaused, the pools created and every run triggered, polled and checked through ``/api/v2``;
the test reads the files the runs write (run directories, the models directory) beside that.

* **A**: a one-language run (uk, the month 2022-07) whose source directory is empty when it
  starts: ``wait_for_sources`` goes ``up_for_reschedule``, the demo tables are then put in place,
  and the run goes on to promote its model (``current`` moves, the asset event is emitted).
* **B**: a second run of the same snapshot whose model is worse on purpose (one CatBoost
  iteration): the gate holds it by a wide margin, ``promote`` is skipped, ``current`` stays and
  no asset event is added. It starts once A has collected, in a run directory of its own, and
  compares after A has promoted (checked).
* **C**: a backfill of two months (2022-09 and 2022-10) created with ``POST /api/v2/backfills``,
  each run collecting its own snapshot into its own run directory. To keep the time down the
  backfill runs with ``retrain: false`` (plan, sensors and collection; the training tasks are
  skipped by ``retrain_requested``); it runs beside A and B.
* **The browser**: Debian's Chromium, headless, renders the mapped ``collect`` instances of A in
  the Airflow UI (named by their language, beside the run's grid), A's run report and the models
  directory's history page (with their SVG plots), and takes screenshots of each; they are kept under
  ``$KITRAIN_TEST_ARTIFACTS`` (default: pytest's temporary directory) and their paths printed.

A one-language run needs more rows than the session's ``demo_source`` holds for uk (160
revisions leave two ``changes`` examples, too few to split for fine-tuning), so the source is
generated here with the demo's default 300 revisions.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port

pytestmark = [pytest.mark.slow, pytest.mark.spark]

DAG_ID = "ki_multilingual_training"
BIN = str(Path(sys.executable).parent)
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
CHROMIUM = "/usr/bin/chromium"
#: Seconds between two looks at the API.
POLL_S = 2
#: Seconds between two looks of the sensors at the sources. Not shorter: Airflow fails a
#: reschedule sensor whose executor event for one poke arrives after its next poke is queued
#: (apache/airflow#71172, open); the workers here report a task's end within about a second
#: (``min_heartbeat_interval`` 1) and the scheduler loops every second or so.
POKE_S = 6
#: The demo tables: one language, the demo's default size (see the module's docstring).
LANG = "uk"
REVISIONS = 300
SEED = 7
#: The backfill: two monthly intervals, each its own history snapshot.
BACKFILL = ("2022-09-01T00:00:00Z", "2022-10-31T00:00:00Z")
BACKFILL_SNAPSHOTS = ("2022-09", "2022-10")

TERMINAL_RUN_STATES = ("success", "failed")


# -- processes ---------------------------------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, session id) of every live process, from /proc (zombies are dead: they
    wait for whoever inherited them to collect their exit status)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read().decode("utf-8", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # after "pid (comm) ": state, ppid, pgrp, session
        if fields[0] != "Z":
            table[int(entry)] = (int(fields[1]), int(fields[3]))
    return table


def _descendants(roots: set[int]) -> set[int]:
    """The live processes among ``roots`` and everything below them, by parent and by session (a
    process whose parent died is re-parented, but keeps the session it was started in)."""
    table = _proc_table()
    found = {pid for pid in roots if pid in table}
    found |= {pid for pid, (_, sid) in table.items() if sid in roots}
    while True:
        more = {pid for pid, (ppid, _) in table.items() if ppid in found} - found
        if not more:
            return found
        found |= more


def _signal_all(pids: set[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


class Airflow:
    """The components of one Airflow home and a small client of its REST API."""

    def __init__(self, home: Path, env: dict[str, str], port: int) -> None:
        self.home, self.env, self.port = home, env, port
        self.base = f"http://127.0.0.1:{port}"
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs = home / "components"
        self.logs.mkdir(exist_ok=True)

    # processes

    def start(self) -> None:
        for name in COMPONENTS:
            with open(self.logs / f"{name}.log", "wb") as log:
                # a session of its own: stop() ends the component with everything it started
                self.procs[name] = subprocess.Popen(
                    [sys.executable, "-m", "airflow", name], env=self.env, cwd=self.home,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> list[str]:
        """End every component and every process it started (spark-submit's JVM included):
        SIGTERM, then SIGKILL to whatever is left after 5 s (a task's process, its executor worker
        and the triggerer take longer to end gracefully; nothing of this Airflow home is kept).
        Returns the processes still alive after that (none, normally)."""
        roots = {proc.pid for proc in self.procs.values()}
        if not roots:
            return []
        seen = _descendants(roots)
        _signal_all(seen, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while True:
            for proc in self.procs.values():
                proc.poll()  # collects the exit status of a component that has ended
            seen |= _descendants(roots | seen)  # a process started meanwhile, one whose parent died
            alive = seen & set(_proc_table())
            if not alive or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        _signal_all(alive, signal.SIGKILL)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        time.sleep(0.3)
        survivors = []
        for pid in sorted(seen & set(_proc_table())):
            try:
                survivors.append(f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes()
                                 .replace(b"\0", b" ").decode("utf-8", "replace")[:200])
            except OSError:
                pass
        return survivors

    def check_alive(self) -> None:
        dead = {name: proc.returncode for name, proc in self.procs.items() if proc.poll() is not None}
        if dead:
            raise AssertionError(f"Airflow component(s) exited: {dead}\n" + self.log_tails())

    def log_tails(self, chars: int = 3000) -> str:
        out = []
        for name in COMPONENTS:
            path = self.logs / f"{name}.log"
            if path.exists():
                out.append(f"--- {path} (tail)\n" + path.read_text(errors="replace")[-chars:])
        return "\n".join(out)

    # the REST API

    def request(self, method: str, path: str, body: dict | None = None, timeout: float = 30) -> dict:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:2000]
            raise AssertionError(f"{method} {path} -> {exc.code}: {detail}") from None
        return json.loads(text) if text else {}

    def get(self, path: str, **query: object) -> dict:
        if query:
            path += "?" + urllib.parse.urlencode(query, doseq=True)
        return self.request("GET", path)

    def run_path(self, run_id: str) -> str:
        return f"/api/v2/dags/{DAG_ID}/dagRuns/{urllib.parse.quote(run_id, safe='')}"

    def run(self, run_id: str) -> dict:
        return self.get(self.run_path(run_id))

    def task_instances(self, run_id: str) -> list[dict]:
        return self.get(self.run_path(run_id) + "/taskInstances", limit=100)["task_instances"]

    def task_log(self, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        data = self.get(self.run_path(run_id) + f"/taskInstances/{task_id}/logs/{try_number}",
                        map_index=map_index, full_content="true")
        content = data.get("content")
        if isinstance(content, list):  # structured log lines
            return "\n".join(line.get("event", "") if isinstance(line, dict) else str(line)
                             for line in content)
        return str(content)

    def wait(self, what: str, check, timeout: float, diagnose=None):
        """Poll ``check()`` until it returns something true; fail after ``timeout`` seconds with
        the components' logs and ``diagnose()``."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            try:
                result = check()
            except (OSError, AssertionError) as exc:  # the API not up yet
                result, last = None, exc
            else:
                last = None
            if result:
                return result
            if time.monotonic() > deadline:
                extra = diagnose() if diagnose else ""
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} "
                                     f"(last error: {last})\n{extra}\n{self.log_tails()}")
            time.sleep(POLL_S)

    def wait_for_run(self, run_id: str, timeout: float) -> dict:
        def done():
            run = self.run(run_id)
            return run if run["state"] in TERMINAL_RUN_STATES else None

        run = self.wait(f"run {run_id} to end", done, timeout, lambda: self.describe(run_id))
        assert run["state"] == "success", self.describe(run_id)
        return run

    def wait_for_tasks(self, run_id: str, task_id: str, timeout: float) -> list[dict]:
        """Wait until every instance of ``task_id`` in the run succeeded; fail at once when the
        run ends first."""
        def done():
            tis = [ti for ti in self.task_instances(run_id) if ti["task_id"] == task_id]
            if tis and all(ti["state"] == "success" for ti in tis):
                return tis
            if self.run(run_id)["state"] in TERMINAL_RUN_STATES:
                raise RuntimeError(f"run {run_id} ended before {task_id} succeeded:\n"
                                   + self.describe(run_id))
            return None

        return self.wait(f"{task_id} of {run_id} to succeed", done, timeout, lambda: self.describe(run_id))

    def describe(self, run_id: str) -> str:
        """The run's task instances and the logs of the failed ones, for an assertion message."""
        try:
            tis = self.task_instances(run_id)
        except (OSError, AssertionError) as exc:
            return f"cannot list the task instances of {run_id}: {exc}"
        lines = [f"task instances of {run_id}:"]
        lines += [f"  {ti['task_id']}[{ti['map_index']}] {ti.get('rendered_map_index')}: {ti['state']} "
                  f"(try {ti['try_number']})" for ti in tis]
        for ti in tis:
            if ti["state"] in ("failed", "up_for_retry"):
                try:
                    log = self.task_log(run_id, ti["task_id"], max(1, ti["try_number"]), ti["map_index"])
                except (OSError, AssertionError) as exc:
                    log = f"(no log: {exc})"
                lines.append(f"--- log of {ti['task_id']}[{ti['map_index']}] (tail)\n{log[-4000:]}")
        return "\n".join(lines)

    def trigger(self, run_id: str, logical_date: str, conf: dict) -> dict:
        return self.request("POST", f"/api/v2/dags/{DAG_ID}/dagRuns",
                            {"dag_run_id": run_id, "logical_date": logical_date, "conf": conf})

    def asset_events(self) -> list[dict]:
        assets = self.get("/api/v2/assets", name_pattern="ki_revert_risk_model")["assets"]
        assert [a["name"] for a in assets] == ["ki_revert_risk_model"], assets
        return self.get("/api/v2/assets/events", asset_id=assets[0]["id"], limit=100)["asset_events"]


def _airflow_env(home: Path, port: int, runs: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # task processes at once (LocalExecutor): the three collections and two fine-tunings of
        # the test's runs side by side
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        # one secret for every component: the api-server signs the tasks' tokens with it
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(16),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        # find the DAG file at once; it does not change while the test runs
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
        # no run of the schedule itself: only the runs this test triggers and backfills
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        # a task's supervisor notices its process's end at its next look, every
        # min_heartbeat_interval seconds (default 5): each task would report 0-5 s late
        "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
        "AIRFLOW_CONN_SPARK_DEFAULT": json.dumps({"conn_type": "spark", "host": "local[2]"}),
        "PATH": BIN + os.pathsep + env.get("PATH", ""),  # spark-submit of the installed pyspark
        # the DAG and its tasks import kitrain from this checkout
        "PYTHONPATH": str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
        "KITRAIN_RETRIES": "0",
        "KITRAIN_RETRY_DELAY_S": "1",
        # nothing may land in ~/kitrain when a run lacks run_dir or models_dir
        "KITRAIN_RUNS_DIR": str(runs / "default-runs"),
        "KITRAIN_MODELS_DIR": str(runs / "default-models"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    })
    return env


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    """The four components on a fresh Airflow home, the DAG parsed and unpaused, the pools made;
    every process they started is ended afterwards."""
    home = tmp_path_factory.mktemp("airflow-components")
    port = free_port()
    env = _airflow_env(home, port, tmp_path_factory.mktemp("defaults"))
    done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, cwd=home,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    af = Airflow(home, env, port)
    began = time.monotonic()
    try:
        af.start()

        def healthy():
            health = af.get("/api/v2/monitor/health")
            return all((health.get(part) or {}).get("status") == "healthy"
                       for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

        af.wait("the components to be healthy", healthy, 180)
        af.wait(f"the DAG {DAG_ID} to be parsed", lambda: af.get(f"/api/v2/dags/{DAG_ID}"), 180,
                lambda: json.dumps(af.get("/api/v2/importErrors")))
        # more slots than the demo's (spark 2, gpu 1): the backfill's two collections beside A's
        # or B's, and the tiny models fine-tuning two at a time on the CPUs
        for name, slots, description in (("spark", 3, "concurrent Spark collections"),
                                         ("gpu", 2, "fine-tuning")):
            af.request("POST", "/api/v2/pools", {"name": name, "slots": slots, "description": description})
        assert af.request("PATCH", f"/api/v2/dags/{DAG_ID}", {"is_paused": False})["is_paused"] is False
        print(f"\nAirflow components up in {time.monotonic() - began:.0f} s (API on {af.base})")
        yield af
    finally:
        survivors = af.stop()
    assert not survivors, f"processes left after SIGKILL: {survivors}"


# -- the runs ----------------------------------------------------------------------------------


def _states(tis: list[dict]) -> dict[tuple[str, int], dict]:
    return {(ti["task_id"], ti["map_index"]): ti for ti in tis}


def _install(source: Path, target: Path) -> None:
    """Put the tables of ``source`` into the (existing) directory ``target`` one table at a time,
    each by one rename: the sensor never sees a half-copied table."""
    for table in sorted(p.name for p in source.iterdir()):
        staging = target / f".{table}.incoming"
        shutil.copytree(source / table, staging)
        os.rename(staging, target / table)


def _create_backfill(airflow: Airflow, conf: dict) -> dict:
    """POST /api/v2/backfills, again while SQLite is locked by another component (503)."""
    body = {"dag_id": DAG_ID, "from_date": BACKFILL[0], "to_date": BACKFILL[1], "dag_run_conf": conf,
            "max_active_runs": 2, "reprocess_behavior": "none"}
    deadline = time.monotonic() + 120
    while True:
        try:
            return airflow.request("POST", "/api/v2/backfills", body)
        except AssertionError as exc:
            if "-> 503" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(POLL_S)


@pytest.fixture(scope="module")
def runs(airflow, tmp_path_factory):
    """Scenarios A, B and C (C beside A and B, B once A has collected); what the checks look at
    afterwards."""
    from kitrain.demo import generate_demo

    root = tmp_path_factory.mktemp("scheduler-runs")
    demo = root / "demo-source"
    generate_demo(demo, languages=(LANG,), revisions_per_language=REVISIONS, seed=SEED)
    source = root / "source"
    source.mkdir()  # empty: the run's sensor waits until the tables appear
    models = root / "models"
    common = {
        "languages": [LANG], "source": "parquet", "base_model": "tiny", "finetune_max_steps": 2,
        "max_length": 64, "classifier_iterations": 30, "wait_poke_interval_s": POKE_S,
        "wait_timeout_s": 900,
    }
    conf_a = {**common, "source_dir": str(source), "run_dir": str(root / "runs-a" / "{snapshot}"),
              "models_dir": str(models), "wikitext_snapshot": "2022-11"}
    out: dict = {"root": root, "models": models, "conf_a": conf_a}

    # C's source: both months' snapshots, the wikitext snapshot following the history snapshot
    backfill_source = root / "backfill-source"
    for snapshot in BACKFILL_SNAPSHOTS:
        generate_demo(backfill_source, languages=(LANG,), revisions_per_language=REVISIONS, seed=SEED,
                      snapshot=snapshot, wikitext_snapshot=snapshot)
    conf_c = {**common, "source_dir": str(backfill_source), "run_dir": str(root / "runs-c" / "{snapshot}"),
              "models_dir": str(root / "models-c"), "retrain": False}
    out["conf_c"] = conf_c

    started = time.monotonic()
    # every wait ends before pytest-timeout's 900 s would (the flow takes about 3 minutes), so a
    # stuck run fails with its task instances and the components' logs
    deadline = started + 720

    def left() -> float:
        return max(10.0, deadline - time.monotonic())

    # C first, while the scheduler is idle: on SQLite the api-server refuses to create a backfill
    # while another component holds the database's write lock (503), which a busy scheduler often
    # does. Its two collections run beside A's (pool spark has three slots).
    out["backfill"] = _create_backfill(airflow, conf_c)

    # A: triggered with an empty source directory
    run_a, run_b = "scenario_a", "scenario_b"
    airflow.trigger(run_a, "2022-08-01T00:00:00Z", conf_a)
    seen_a: set[str] = set()

    def sensor_waits():
        ti = _states(airflow.task_instances(run_a)).get(("wait_for_sources", -1))
        if ti:
            seen_a.add(ti["state"] or "none")
        return ti is not None and ti["state"] == "up_for_reschedule"

    airflow.wait("A's wait_for_sources to be up_for_reschedule", sensor_waits, left(),
                 lambda: airflow.describe(run_a))
    out["a_waited_s"] = time.monotonic() - started
    # nothing after the sensor ran while the source was missing; then the source appears
    out["a_before_source"] = {key: ti["state"] for key, ti in _states(airflow.task_instances(run_a)).items()}
    _install(demo, source)
    out["a_seen_sensor_states"] = seen_a

    # B: the same snapshot again, a model made worse on purpose, in a run directory of its own,
    # started once A has collected: B runs the same tasks as A after its own collection, so it
    # reaches compare well after A has promoted (checked in test_b_...)
    conf_b = {**conf_a, "run_dir": str(root / "runs-b" / "{snapshot}"), "classifier_iterations": 1}
    out["conf_b"] = conf_b
    airflow.wait_for_tasks(run_a, "collect", left())
    airflow.trigger(run_b, "2022-08-02T00:00:00Z", conf_b)

    out["a_run"] = airflow.wait_for_run(run_a, left())
    out["a_tis"] = airflow.task_instances(run_a)
    out["a_current"] = os.readlink(models / "current") if (models / "current").is_symlink() else None
    out["a_events"] = airflow.asset_events()
    out["a_s"] = time.monotonic() - started

    out["b_run"] = airflow.wait_for_run(run_b, left())
    out["b_tis"] = airflow.task_instances(run_b)
    out["b_current"] = os.readlink(models / "current") if (models / "current").is_symlink() else None
    out["b_events"] = airflow.asset_events()
    out["b_s"] = time.monotonic() - started

    # C: both runs of the backfill
    def backfill_runs():
        listed = airflow.get(f"/api/v2/dags/{DAG_ID}/dagRuns", run_type="backfill", limit=10)["dag_runs"]
        if len(listed) == len(BACKFILL_SNAPSHOTS) and all(r["state"] in TERMINAL_RUN_STATES for r in listed):
            return listed
        return None

    out["c_runs"] = airflow.wait("the backfill's runs to end", backfill_runs, left(),
                                 lambda: "\n".join(airflow.describe(r["dag_run_id"]) for r in airflow.get(
                                     f"/api/v2/dags/{DAG_ID}/dagRuns", run_type="backfill")["dag_runs"]))
    out["c_tis"] = {r["dag_run_id"]: airflow.task_instances(r["dag_run_id"]) for r in out["c_runs"]}
    out["c_backfill"] = airflow.get(f"/api/v2/backfills/{out['backfill']['id']}")
    out["all_s"] = time.monotonic() - started
    print(f"\nscheduler test timings (s): A waited {out['a_waited_s']:.0f}, A done {out['a_s']:.0f}, "
          f"B done {out['b_s']:.0f}, all {out['all_s']:.0f}; load average {os.getloadavg()}")
    return out


# -- scenario A ----------------------------------------------------------------------------------


def test_a_run_waits_for_its_source_then_promotes(airflow, runs):
    from kitrain.gate import model_name

    assert runs["a_run"]["state"] == "success"
    assert runs["a_run"]["data_interval_start"].startswith("2022-07-01")
    # the sensor waited: up for reschedule with the source missing, nothing collected before it
    assert "up_for_reschedule" in runs["a_seen_sensor_states"]
    before = runs["a_before_source"]
    assert before[("wait_for_sources", -1)] == "up_for_reschedule", before
    later = {state for (task, _), state in before.items() if task not in ("plan", "wait_for_sources")}
    assert later == {None}, before
    tis = _states(runs["a_tis"])
    sensor = tis[("wait_for_sources", -1)]
    assert sensor["state"] == "success" and sensor["try_number"] == 1  # rescheduled, not retried
    # more than one poke in that one try: the log says what was missing and that the task was
    # rescheduled, then that the source is ready
    log = airflow.task_log("scenario_a", "wait_for_sources", sensor["try_number"])
    first_ready = log.index("source parquet: ready")
    assert "still missing: parquet: wmf.mediawiki_history not there" in log[:first_ready], log[-3000:]
    assert "marking task as UP_FOR_RESCHEDULE" in log[:first_ready], log[-3000:]
    # every task succeeded but the current model's rescoring, skipped: nothing was promoted before A
    assert {ti["state"] for ti in runs["a_tis"] if ti["task_id"] != "compare_scores"} == {"success"}, \
        airflow.describe("scenario_a")
    assert {ti["state"] for ti in runs["a_tis"] if ti["task_id"] == "compare_scores"} == {"skipped"}
    assert [ti["rendered_map_index"] for ti in runs["a_tis"] if ti["task_id"] == "collect"] == [LANG]

    # the model was promoted: current points at this run's bundle copy, and the asset was emitted
    name = model_name("2022-07", "scenario_a")
    assert runs["a_current"] == f"bundles/{name}"
    record = json.loads((runs["models"] / "runs" / f"{name}.json").read_text())
    assert record["decision"] == "promoted" and record["compared_with"] is None
    assert (runs["models"] / "bundles" / name / "manifest.json").is_file()
    events = runs["a_events"]
    assert len(events) == 1, events
    assert events[0]["source_run_id"] == "scenario_a" and events[0]["source_task_id"] == "promote"
    assert events[0]["extra"] == {"bundle": f"bundles/{name}", "decision": "promoted"}
    # the run's report carries the gate's section
    report = runs["root"] / "runs-a" / "2022-07" / "report" / "index.html"
    assert '<section id="gate"><h2>Quality gate: promoted</h2>' in report.read_text()


# -- scenario B ----------------------------------------------------------------------------------


def test_b_worse_model_is_held(runs):
    from kitrain.gate import model_name

    assert runs["b_run"]["state"] == "success"
    tis = _states(runs["b_tis"])
    assert tis[("compare", -1)]["state"] == "success"
    assert tis[("promote", -1)]["state"] == "skipped"
    # A's model rescored B's compared rows on the gpu queue, one instance per shard, named by it
    rescored = [ti for ti in runs["b_tis"] if ti["task_id"] == "compare_scores"]
    assert [(ti["state"], ti["rendered_map_index"]) for ti in rescored] == [("success", f"full_test/{LANG}-00000")]
    assert tis[("history", -1)]["state"] == "success"
    # B compared once A's model was current (the test started B while A was training)
    a_promoted = dt.datetime.fromisoformat(_states(runs["a_tis"])[("promote", -1)]["end_date"])
    assert dt.datetime.fromisoformat(tis[("compare", -1)]["start_date"]) > a_promoted
    record = json.loads((runs["models"] / "runs" / f"{model_name('2022-07', 'scenario_b')}.json").read_text())
    assert record["decision"] == "held" and record["bundle"] is None
    assert record["compared_with"] == model_name("2022-07", "scenario_a")
    # held by a wide margin, for its overall ROC AUC
    assert record["reasons"] and record["reasons"][0].startswith("overall ROC AUC"), record["reasons"]
    drop = record["current"]["roc_auc"] - record["new"]["roc_auc"]
    assert drop > 5 * record["limits"]["max_auc_drop"], (drop, record["reasons"])
    # current did not move, and no event was added
    assert runs["b_current"] == runs["a_current"]
    assert [e["id"] for e in runs["b_events"]] == [e["id"] for e in runs["a_events"]]
    report = runs["root"] / "runs-b" / "2022-07" / "report" / "index.html"
    assert "<h2>Quality gate: held</h2>" in report.read_text()


# -- scenario C ----------------------------------------------------------------------------------

#: What a run with ``retrain: false`` runs and what it skips.
COLLECTION_TASKS = ("plan", "wait_for_sources", "claim_snapshot", "collect_arguments", "collect",
                    "retrain_requested")
TRAINING_TASKS = ("prepare", "base_model", "finetune", "feature_shards", "features", "assemble_features",
                  "train", "evaluate", "bundle", "compare_shards", "compare_scores", "compare", "promote",
                  "history")


def test_c_backfill_runs_each_month_into_its_own_run_directory(runs):
    from kitrain.paths import RunPaths

    c_runs = sorted(runs["c_runs"], key=lambda r: r["logical_date"])
    assert [r["state"] for r in c_runs] == ["success", "success"]
    assert [r["run_type"] for r in c_runs] == ["backfill", "backfill"]
    assert [r["data_interval_start"][:10] for r in c_runs] == ["2022-09-01", "2022-10-01"]
    assert runs["c_backfill"]["completed_at"] is not None
    for run, snapshot in zip(c_runs, BACKFILL_SNAPSHOTS):
        tis = runs["c_tis"][run["dag_run_id"]]
        assert {ti["state"] for ti in tis if ti["task_id"] in COLLECTION_TASKS} == {"success"}
        assert {ti["state"] for ti in tis if ti["task_id"] in TRAINING_TASKS} == {"skipped"}
        run_dir = RunPaths(str(runs["root"] / "runs-c" / snapshot))
        plans = list(Path(run_dir.run_dir, "plans").glob("*.json"))
        assert len(plans) == 1
        plan = json.loads(plans[0].read_text())
        assert (plan["snapshot"], plan["wikitext_snapshot"], plan["run_dir"]) == \
            (snapshot, snapshot, run_dir.run_dir)
        quality = json.loads(Path(run_dir.collect_quality("all_users", "train", LANG)).read_text())
        assert quality["config"]["snapshot"] == snapshot and quality["rows"] > 0
        assert Path(run_dir.collected("all_users", "train", LANG)).is_dir()
        assert Path(run_dir.collected("full_test", "test", LANG)).is_dir()
        assert not Path(run_dir.bundle()).exists()


# -- the browser -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def artefacts(tmp_path_factory):
    given = os.environ.get("KITRAIN_TEST_ARTIFACTS")
    out = Path(given) if given else tmp_path_factory.mktemp("artefacts")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _chromium(url: str, tmp: Path, *, screenshot: Path | None = None, size: str = "1400,1000",
              budget_ms: int = 15000) -> str:
    """The DOM of ``url`` after ``budget_ms`` of virtual time (or a screenshot of it)."""
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={tmp}", f"--virtual-time-budget={budget_ms}",
            f"--window-size={size}"]
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    done = subprocess.run(args + [url], capture_output=True, text=True, timeout=180,
                          start_new_session=True)
    assert done.returncode == 0, done.stderr[-3000:]
    if screenshot:
        assert screenshot.is_file() and screenshot.stat().st_size > 1000, done.stderr[-3000:]
    return done.stdout


@pytest.mark.skipif(not Path(CHROMIUM).is_file(),
                    reason=f"Debian's Chromium is not installed ({CHROMIUM}): apt-get install chromium")
def test_browser_shows_the_runs_collections_report_and_history(airflow, runs, artefacts, tmp_path):
    profile = tmp_path / "chromium-profile"
    kept = []
    # the mapped collect instances of A, each named by its language (the page shows the run's
    # grid beside them)
    mapped = f"{airflow.base}/dags/{DAG_ID}/runs/scenario_a/tasks/collect/mapped"
    dom = _chromium(mapped, profile)
    kept.append(artefacts / "airflow-collect-mapped.html")
    kept[-1].write_text(dom)
    assert "1 Task Instance" in dom, dom[-3000:]
    assert re.search(rf'<a [^>]*href="[^"]*/tasks/collect/mapped/0"[^>]*>{LANG}</a>', dom), dom[-3000:]
    kept.append(artefacts / "airflow-grid-collect-mapped.png")
    _chromium(mapped, profile, screenshot=kept[-1])
    # A's report and the history page (after B), each with its plots
    report = runs["root"] / "runs-a" / "2022-07" / "report" / "index.html"
    history = runs["models"] / "history.html"
    for name, page, texts in (
        ("report", report, ("<h1>kitrain evaluation report</h1>", "<h2>Quality gate: promoted</h2>")),
        ("history", history, ("<h1>kitrain model history</h1>", "<h2>ROC AUC per language</h2>",
                              "scenario_a", "scenario_b", "overall ROC AUC")),
    ):
        dom = _chromium(page.as_uri(), profile, budget_ms=2000)
        assert dom.count("<svg") >= 2, dom[:2000]
        for text in texts:
            assert text in dom, (text, dom[:2000])
        kept.append(artefacts / f"{name}.png")
        _chromium(page.as_uri(), profile, screenshot=kept[-1], size="1200,2400", budget_ms=2000)
    print("\nbrowser artefacts:\n" + "\n".join(f"  {path}" for path in kept))
