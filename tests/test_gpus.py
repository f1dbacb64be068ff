"""GPU leases on a multi-GPU worker (kitrain.gpus): tasks sharing a worker never share a GPU.

No GPU is needed: a lease is a lock file per GPU number and the CUDA_VISIBLE_DEVICES it sets.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time

import pytest

from kitrain import pipeline
from kitrain.gpus import LOCK_DIR_ENV, WORKER_GPUS_ENV, gpu_lease
from kitrain.models import DeviceError


@pytest.fixture
def worker(tmp_path, monkeypatch):
    """A worker with GPUs 0-3 and its own lock directory; returns its environment."""
    monkeypatch.setenv(WORKER_GPUS_ENV, "0,1,2,3")
    monkeypatch.setenv(LOCK_DIR_ENV, str(tmp_path / "locks"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3")
    return os.environ


def test_leases_on_one_worker_never_share_a_gpu(worker):
    with gpu_lease(1, "a") as a, gpu_lease(2, "b") as b:
        assert len(a) == 1 and len(b) == 2 and not set(a) & set(b)
        # the block sees its own GPUs only (b's lease set them last)
        assert worker["CUDA_VISIBLE_DEVICES"] == ",".join(b)
        with gpu_lease(1, "c") as c:
            assert not set(c) & (set(a) | set(b))
            # all four are held: a fifth task waits, then fails in one line naming the worker
            with pytest.raises(DeviceError, match=r"e: no 1 free GPU\(s\) of 0,1,2,3 on worker .* after 0 s"):
                with gpu_lease(1, "e", wait_s=0.2, poll_s=0.05):
                    pass
    # released on leaving: the worker's own setting is back, and all four are free again
    assert worker["CUDA_VISIBLE_DEVICES"] == "0,1,2,3"
    with gpu_lease(4, "d") as d:
        assert sorted(d) == ["0", "1", "2", "3"]


def test_a_waiting_task_gets_the_gpu_once_it_is_free(worker):
    got = []
    with gpu_lease(4, "all"):
        waiter = threading.Thread(target=lambda: got.append(_lease_once(worker)))
        waiter.start()
        time.sleep(0.3)
        assert got == []  # still waiting
    waiter.join(5)
    assert got and len(got[0]) == 1


def _lease_once(environ):
    with gpu_lease(1, "late", wait_s=5, poll_s=0.05, environ=dict(environ)) as ids:
        return ids


def test_more_gpus_than_the_worker_has_is_refused_at_once(worker):
    with pytest.raises(DeviceError, match="needs 8 GPUs but worker .* has 4"):
        with gpu_lease(8, "finetune inserts"):
            pass


def test_a_worker_without_the_list_leases_nothing(monkeypatch):
    monkeypatch.delenv(WORKER_GPUS_ENV, raising=False)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5")
    with gpu_lease(2, "x") as ids:
        assert ids is None and os.environ["CUDA_VISIBLE_DEVICES"] == "5"


@pytest.mark.parametrize("value", ["0,0", "gpu0", "0;1"])
def test_a_bad_gpu_list_is_named(monkeypatch, value):
    monkeypatch.setenv(WORKER_GPUS_ENV, value)
    with pytest.raises(DeviceError, match=WORKER_GPUS_ENV):
        with gpu_lease(1, "x"):
            pass


def _plan(tmp_path, **params):
    return pipeline.plan_run({"languages": ["uk"], "run_dir": str(tmp_path / "run"), **params},
                             dt.datetime(2022, 7, 1, tzinfo=dt.timezone.utc), "manual__x")


@pytest.mark.parametrize("device", ["auto", "cpu"])
def test_the_gpu_tasks_run_inside_their_lease(worker, tmp_path, monkeypatch, device):
    from kitrain import distributed, features, gate

    seen = {}
    monkeypatch.setattr(features, "score_feature_shard",
                        lambda cfg, run_dir, shard: seen.setdefault("shard", os.environ["CUDA_VISIBLE_DEVICES"]))
    monkeypatch.setattr(gate, "score_compare_shard",
                        lambda run_dir, shard, device: seen.setdefault("compare", os.environ["CUDA_VISIBLE_DEVICES"]))
    monkeypatch.setattr(distributed, "run_finetune_parallel",
                        lambda cfg, run_dir, nproc: seen.setdefault("finetune", os.environ["CUDA_VISIBLE_DEVICES"])
                        and {"metrics": {}})
    plan = _plan(tmp_path, device=device, finetune_gpus=2)
    # another task process of the worker holds GPUs 0 and 1 (its own environment): these get 2 and 3
    with gpu_lease(2, "other task", environ=dict(worker)):
        pipeline.feature_shard(plan, "train/uk-00000")
        pipeline.finetune(plan, "inserts", "base")
        pipeline.compare_shard(plan, "full_test/uk-00000")
    if device == "cpu":  # nothing leased: the worker's setting
        assert seen == {"shard": "0,1,2,3", "finetune": "0,1,2,3", "compare": "0,1,2,3"}
    else:
        assert seen == {"shard": "2", "finetune": "2,3", "compare": "2"}
