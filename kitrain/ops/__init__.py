"""Airflow operators and callbacks of the kitrain DAG.

The only part of the library that imports Airflow: sensors whose poke interval and timeout come
from the run's params (:mod:`kitrain.ops.sensors`) and the failure notifier
(:mod:`kitrain.ops.notify`). What they decide is plain library code (:mod:`kitrain.readiness`,
:mod:`kitrain.snapshot_lock`), tested without Airflow.
"""
