"""The per-snapshot lock and the failure notifier (no Airflow run: the notifier is called with a
task context built here, and posts to a web server this test starts)."""

from __future__ import annotations

import http.server
import json
import logging
import threading

import pytest

from kitrain.ops.notify import FailureNotifier, failure_message, webhook_url
from kitrain.snapshot_lock import claim, holder


def test_a_free_run_directory_is_claimed_and_names_its_holder(tmp_path):
    assert claim(str(tmp_path), "manual__a", "dag", lambda run_id: True) is None
    assert holder(str(tmp_path))["run_id"] == "manual__a"
    # a retry of the same run claims it again
    assert claim(str(tmp_path), "manual__a", "dag", lambda run_id: True) is None


def test_an_active_holder_keeps_the_directory_and_a_finished_one_gives_it_up(tmp_path):
    claim(str(tmp_path), "scheduled__a", "dag", lambda run_id: True)
    asked = []

    def active(run_id):
        asked.append(run_id)
        return True

    assert claim(str(tmp_path), "manual__b", "dag", active) == "scheduled__a"
    assert asked == ["scheduled__a"] and holder(str(tmp_path))["run_id"] == "scheduled__a"
    # the holder finished (or failed, or was deleted): no release needed, the next claim takes over
    assert claim(str(tmp_path), "manual__b", "dag", lambda run_id: False) is None
    assert holder(str(tmp_path))["run_id"] == "manual__b"


def test_two_claims_at_once_give_the_directory_to_one(tmp_path):
    results = []
    barrier = threading.Barrier(8)

    def worker(i):
        barrier.wait()
        results.append((i, claim(str(tmp_path), f"run_{i}", "dag", lambda run_id: True)))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [i for i, held_by in results if held_by is None]
    assert len(winners) == 1 and holder(str(tmp_path))["run_id"] == f"run_{winners[0]}"
    assert {held_by for _, held_by in results if held_by is not None} == {f"run_{winners[0]}"}


class FakeTI:
    dag_id, run_id, task_id, map_index, try_number = "ki_multilingual_training", "manual__x", "collect", 3, 3
    rendered_map_index = "uk"
    log_url = "http://airflow/dags/ki/runs/manual__x"


@pytest.fixture()
def webhook():
    """A local web server that keeps what is posted to it."""
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the handler's API
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "auth": self.headers.get("Authorization"),
                             "body": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()


def test_a_failed_task_is_posted_to_the_connections_webhook(webhook, monkeypatch):
    url, received = webhook
    monkeypatch.setenv("AIRFLOW_CONN_KITRAIN_NOTIFY",
                       json.dumps({"conn_type": "http", "host": url + "/hooks/T1", "password": "tok"}))
    FailureNotifier().notify({"ti": FakeTI(), "exception": RuntimeError("ukwiki: 0 revisions")})
    assert len(received) == 1
    got = received[0]
    assert got["path"] == "/hooks/T1" and got["auth"] == "Bearer tok"
    assert got["body"]["text"] == ("kitrain: ki_multilingual_training manual__x: collect[uk] failed (try 3): "
                                   "RuntimeError: ukwiki: 0 revisions")
    assert (got["body"]["run_id"], got["body"]["name"], got["body"]["log_url"]) == \
        ("manual__x", "uk", FakeTI.log_url)


def test_no_connection_sends_nothing_and_says_so(webhook, monkeypatch, caplog):
    _, received = webhook
    monkeypatch.delenv("AIRFLOW_CONN_KITRAIN_NOTIFY", raising=False)
    with caplog.at_level(logging.INFO, logger="kitrain.ops.notify"):
        FailureNotifier().notify({"ti": FakeTI(), "exception": None})
    assert received == [] and "no Airflow connection 'kitrain_notify'" in caplog.text


def test_an_unreachable_webhook_is_logged_not_raised(monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW_CONN_KITRAIN_NOTIFY", json.dumps({"conn_type": "http", "host": "http://127.0.0.1:9/x"}))
    with caplog.at_level(logging.ERROR, logger="kitrain.ops.notify"):
        FailureNotifier(timeout_s=2).notify({"ti": FakeTI(), "exception": ValueError("x")})
    assert "not delivered" in caplog.text


def test_webhook_url_comes_from_the_host_or_the_extra():
    assert webhook_url("https://h/x", {}) == "https://h/x"
    assert webhook_url("h", {"url": "http://h/y"}) == "http://h/y"
    assert webhook_url("h", {}) is None


def test_unmapped_task_message_has_no_name():
    class TI(FakeTI):
        task_id, map_index, rendered_map_index = "train", -1, None

    message = failure_message({"ti": TI(), "exception": KeyError("k")})
    assert message["name"] is None and ": train failed (try 3): KeyError: 'k'" in message["text"]



def test_a_deleted_holder_run_is_told_from_other_api_errors():
    import httpx
    from airflow.sdk.api.client import ServerResponseError
    from airflow.sdk.exceptions import AirflowRuntimeError, ErrorType
    from airflow.sdk.execution_time.comms import ErrorResponse

    from kitrain.ops.sensors import run_not_found

    def client_error(status):
        request = httpx.Request("GET", "http://api/dag-runs/d/r/state")
        return ServerResponseError("x", request=request, response=httpx.Response(status, request=request))

    def worker_error(status):
        return AirflowRuntimeError(ErrorResponse(error=ErrorType.API_SERVER_ERROR, detail={"status_code": status}))

    assert run_not_found(client_error(404)) and run_not_found(worker_error(404))
    assert not run_not_found(client_error(500)) and not run_not_found(worker_error(503))
