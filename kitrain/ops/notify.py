"""Failure notifications through Airflow's notifier mechanism.

:class:`FailureNotifier` is every task's ``on_failure_callback``: when a task fails for good (its
retries spent) it posts one JSON message to the webhook of the Airflow connection
``kitrain_notify``: its host is the webhook's whole URL (a Slack, Mattermost or Matrix hook, or
anything that takes a JSON POST), or its extra ``url``; a password, if set, is sent as a bearer
token. The connection is configured like any other (the UI, a secrets backend, or
``AIRFLOW_CONN_KITRAIN_NOTIFY='{"conn_type": "http", "host": "https://hooks.example.org/T/B/X"}'``;
the JSON form, because a URI's path would be read as the connection's schema); without it
nothing is sent and the task log says so. A notification that cannot be delivered is logged, never raised: the
task has failed already, and its failure must not be hidden behind the notifier's.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from airflow.sdk import BaseHook, BaseNotifier
from airflow.sdk.exceptions import AirflowNotFoundException

logger = logging.getLogger(__name__)

CONN_ID = "kitrain_notify"


def failure_message(context: Any) -> dict[str, Any]:
    """The message of one failed task instance: which run, which task (with its language or
    target), which try, the error and the log's address."""
    ti = context["ti"]
    name = getattr(ti, "rendered_map_index", None) or (ti.map_index if ti.map_index >= 0 else None)
    task = ti.task_id + (f"[{name}]" if name is not None else "")
    exception = context.get("exception")
    error = f"{type(exception).__name__}: {exception}" if exception is not None else "unknown error"
    return {
        "text": f"kitrain: {ti.dag_id} {ti.run_id}: {task} failed (try {ti.try_number}): {error}",
        "dag_id": ti.dag_id, "run_id": ti.run_id, "task_id": ti.task_id, "map_index": ti.map_index,
        "name": name, "try_number": ti.try_number, "error": error,
        "log_url": getattr(ti, "log_url", None),
    }


def webhook_url(host: str | None, extra: dict[str, Any] | None) -> str | None:
    """The URL to post to: the connection's host when it is a whole http(s) URL, else its extra
    ``url``; None when neither is."""
    for candidate in (host, (extra or {}).get("url")):
        if isinstance(candidate, str) and candidate.startswith(("http://", "https://")):
            return candidate
    return None


class FailureNotifier(BaseNotifier):
    """Posts :func:`failure_message` to the ``kitrain_notify`` connection's URL, if there is one."""

    template_fields = ()

    def __init__(self, conn_id: str = CONN_ID, timeout_s: float = 10.0) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.timeout_s = timeout_s

    def notify(self, context: Any) -> None:
        try:
            conn = BaseHook.get_connection(self.conn_id)
        except AirflowNotFoundException:
            logger.info("no Airflow connection %r: no failure notification sent", self.conn_id)
            return
        url = webhook_url(conn.host, conn.extra_dejson)
        if url is None:
            logger.error("the %r connection names no webhook: its host must be the URL "
                         "(http:// or https://) or its extra must hold \"url\"; no notification sent",
                         self.conn_id)
            return
        message = failure_message(context)
        request = urllib.request.Request(url, data=json.dumps(message).encode("utf-8"), method="POST",
                                         headers={"Content-Type": "application/json"})
        if conn.password:
            request.add_header("Authorization", f"Bearer {conn.password}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                logger.info("failure notification sent to the %r connection (HTTP %s)", self.conn_id,
                            response.status)
        except (urllib.error.URLError, OSError) as exc:
            logger.error("failure notification to the %r connection not delivered: %s", self.conn_id, exc)
