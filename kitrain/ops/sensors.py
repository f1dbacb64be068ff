"""The DAG's sensors: wait for the sources, then for the run directory.

Both run in ``mode="reschedule"``: between two looks the task gives its worker slot back, so a run
can wait the weeks a full-history XML dump takes without holding a slot. Their poke interval and
timeout are the run's params (``wait_poke_interval_s``, ``wait_timeout_s``), which exist only once
the run's plan is written; an operator's ``poke_interval`` and ``timeout`` are fixed when the DAG
file is parsed, so :class:`PlannedSensor` reads them from the plan at each try before the base
class uses them (the reschedule loop measures the timeout from the first try, kept by Airflow).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.api.client import ServerResponseError
from airflow.sdk.exceptions import AirflowRuntimeError, AirflowSensorTimeout

from kitrain import pipeline

#: The dag run states in which a run still holds its run directory.
ACTIVE_STATES = ("queued", "running")


def run_not_found(exc: Exception) -> bool:
    """Whether asking Airflow for a run's state failed because the run does not exist (deleted, or
    replaced by ``airflow dags test`` of the same date): a worker gets the API server's 404 as an
    :class:`AirflowRuntimeError`, ``dags test``'s in-process supervisor as the client's error."""
    if isinstance(exc, ServerResponseError):
        return exc.response is not None and exc.response.status_code == 404
    detail = getattr(getattr(exc, "error", None), "detail", None)
    return isinstance(detail, dict) and detail.get("status_code") == 404


class PlannedSensor(BaseSensorOperator):
    """A reschedule sensor whose poke interval and timeout come from the run's plan."""

    template_fields = ("plan_path",)

    def __init__(self, *, plan_path: Any, **kwargs: Any) -> None:
        kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.plan_path = plan_path

    def execute(self, context: Any) -> Any:
        cfg = pipeline.load_plan(self.plan_path)
        self.poke_interval = float(cfg.wait_poke_interval_s)
        self.timeout = float(cfg.wait_timeout_s)
        try:
            return super().execute(context)
        except AirflowSensorTimeout as exc:
            raise AirflowSensorTimeout(f"{self.waiting_for()} after {cfg.wait_timeout_s} s "
                                       f"(wait_timeout_s)") from exc

    def waiting_for(self) -> str:
        """One line: what the last look found missing (each sensor below says what it waits for)."""
        return f"{self.task_id}: still not met"


class SourcesSensor(PlannedSensor):
    """Waits until every source of the run is complete (:func:`kitrain.readiness.missing_inputs`):
    the Hive snapshots' ``_SUCCESS`` flags, the parquet snapshot directories, or the history files
    and a finished full-history XML dump of every language."""

    ui_color = "#e8f0fe"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._missing: list[str] = []

    def poke(self, context: Any) -> bool:
        self._missing = pipeline.missing_inputs(self.plan_path)
        for line in self._missing:
            self.log.info("still missing: %s", line)
        return not self._missing

    def waiting_for(self) -> str:
        from kitrain.readiness import describe_missing

        return describe_missing(self._missing)


class SnapshotLockSensor(PlannedSensor):
    """Waits until no other active run holds the run directory, then claims it for this run
    (:mod:`kitrain.snapshot_lock`): runs of one snapshot never overlap, runs of different
    snapshots run side by side."""

    ui_color = "#fef7e0"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._holder: str | None = None

    def poke(self, context: Any) -> bool:
        ti = context["ti"]
        dag_id = ti.dag_id

        def is_active(run_id: str) -> bool:
            try:
                state = ti.get_dagrun_state(dag_id, run_id)
            except (AirflowRuntimeError, ServerResponseError) as exc:
                if not run_not_found(exc):
                    raise
                self.log.info("the run %s that held the run directory no longer exists", run_id)
                return False
            return str(state) in ACTIVE_STATES

        self._holder = pipeline.claim_snapshot(self.plan_path, ti.run_id, dag_id, is_active)
        if self._holder is not None:
            self.log.info("the run directory is held by the active run %s: waiting", self._holder)
        return self._holder is None

    def waiting_for(self) -> str:
        return f"the run directory is still held by the run {self._holder}"
