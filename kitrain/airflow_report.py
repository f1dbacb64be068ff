"""What ``make demo`` prints at the end: the headline figures of the run and the time of each task.

    python -m kitrain.airflow_report RUN_DIR [--dag-id ki_multilingual_training]

Reads the task instances of the DAG's newest run from Airflow's metadata database (the
``AIRFLOW_HOME`` of the environment), so it runs after ``airflow dags test`` with the same
environment. The only kitrain module that imports Airflow besides the DAG file.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

DAG_ID = "ki_multilingual_training"


def task_times(dag_id: str = DAG_ID) -> dict[str, Any]:
    """The newest run of ``dag_id``: its id, state and each task instance's seconds."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.run_after.desc()).limit(1)
        ).first()
        if run is None:
            raise LookupError(f"no run of {dag_id} in the Airflow database")
        rows = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run.run_id)
        ).all()
        tasks = []
        for ti in sorted(rows, key=lambda t: (t.start_date is None, t.start_date)):
            seconds = (ti.end_date - ti.start_date).total_seconds() if ti.start_date and ti.end_date else None
            tasks.append({"task": ti.task_id + (f"[{ti.rendered_map_index or ti.map_index}]"
                                                if ti.map_index >= 0 else ""),
                          "state": str(ti.state), "seconds": seconds})
        started = [ti.start_date for ti in rows if ti.start_date]
        ended = [ti.end_date for ti in rows if ti.end_date]
        wall = (max(ended) - min(started)).total_seconds() if started and ended else None
        return {"run_id": run.run_id, "state": str(run.state), "wall_seconds": wall, "tasks": tasks}


def format_times(times: dict[str, Any]) -> str:
    lines = [f"run {times['run_id']}: {times['state']}", f"{'task':<28} {'state':<10} {'seconds':>8}"]
    for task in times["tasks"]:
        seconds = "" if task["seconds"] is None else f"{task['seconds']:.1f}"
        lines.append(f"{task['task']:<28} {task['state']:<10} {seconds:>8}")
    if times["wall_seconds"] is not None:
        lines.append(f"{'whole DAG (first start to last end)':<39} {times['wall_seconds']:>8.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from kitrain.pipeline import gate_line, headline

    parser = argparse.ArgumentParser(prog="python -m kitrain.airflow_report", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--dag-id", default=DAG_ID)
    args = parser.parse_args(argv)
    times = task_times(args.dag_id)
    sys.stdout.write(format_times(times) + "\n\n")
    summary = headline(args.run_dir)
    sys.stdout.write(gate_line(summary) + "\n\n")
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    return 0 if times["state"] == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
