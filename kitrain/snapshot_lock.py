"""One run at a time per run directory: the per-snapshot lock.

Runs of different snapshots write to different run directories and run side by side; two runs of
the same snapshot (a scheduled run and a manual one, a backfill over a month already run) would
write the same collections and models. Before collecting, a run claims its run directory: the
claim file ``RUN_DIR/lock.json`` names the run that holds it, and a claim succeeds when nobody
holds it, the holder is this run (a retry), or the holder is no longer active (it finished,
failed or was deleted: a run never has to release the lock, so a crash cannot leave it stuck).
Whether the holder is active is asked of Airflow by the caller (:func:`claim` takes the answer as
a function), so this module is tested without Airflow.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path

from kitrain.atomic import file_lock, read_json, write_json

logger = logging.getLogger(__name__)

LOCK_FILE = "lock.json"


def holder(run_dir: str) -> dict | None:
    """The claim on a run directory (``run_id``, ``dag_id``, ``claimed_at``), or None."""
    return read_json(Path(run_dir, LOCK_FILE))


def claim(run_dir: str, run_id: str, dag_id: str, is_active: Callable[[str], bool]) -> str | None:
    """Claim ``run_dir`` for ``run_id``; return None when it is now ours, or the run id of the
    active run that holds it (the caller waits and tries again)."""
    root = Path(run_dir)
    with file_lock(root / ".lock"):  # two runs cannot both read the claim as free
        current = holder(run_dir)
        if current and current.get("run_id") != run_id:
            if is_active(current["run_id"]):
                return current["run_id"]
            logger.info("run %s held %s and is no longer active: taking it over", current["run_id"], run_dir)
        write_json(root / LOCK_FILE, {
            "run_id": run_id, "dag_id": dag_id,
            "claimed_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        })
    return None
