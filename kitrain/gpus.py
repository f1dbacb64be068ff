"""Which GPUs of a worker a task uses: leases, so that tasks sharing a multi-GPU worker never
share a GPU.

A Celery worker on a machine with G GPUs runs up to G tasks of queue ``gpu`` at once (its
``--concurrency``), and pool ``gpu`` counts one slot a GPU across all workers. Without more, every
task process would use ``cuda:0``. A worker that lists its GPUs in ``KITRAIN_WORKER_GPUS``
(``0,1,2,3``) makes each GPU task lease as many of them as it uses (a features shard one, a
fine-tuning ``finetune_gpus``) before anything touches CUDA: an exclusive ``flock`` on one file per
GPU in ``KITRAIN_GPU_LOCK_DIR``, which the kernel releases when the process ends, however it ends.
The task then sees only its GPUs (``CUDA_VISIBLE_DEVICES``), numbered from 0, and torchrun's
processes one each. A worker without ``KITRAIN_WORKER_GPUS`` leases nothing: its tasks see what
the worker sees, as on a one-GPU machine.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import sys
import tempfile
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path

from kitrain.models import DeviceError

logger = logging.getLogger(__name__)

#: The GPU ids (as CUDA numbers them on the machine) that the worker's tasks share.
WORKER_GPUS_ENV = "KITRAIN_WORKER_GPUS"
#: Where the lock files live (one machine: every worker process on it must use the same).
LOCK_DIR_ENV = "KITRAIN_GPU_LOCK_DIR"
#: How long a task waits for free GPUs of its worker before it fails (its retry tries again).
DEFAULT_WAIT_S = 3600.0


def worker_gpus(environ: MutableMapping[str, str] = os.environ) -> list[str] | None:
    """The worker's GPU ids from ``KITRAIN_WORKER_GPUS``; None when it does not lease."""
    value = environ.get(WORKER_GPUS_ENV, "").strip()
    if not value:
        return None
    ids = [part.strip() for part in value.split(",")]
    if not all(part.isdigit() for part in ids) or len(set(ids)) != len(ids):
        raise DeviceError(f"{WORKER_GPUS_ENV}={value!r} on worker {socket.gethostname()} is not a list of "
                          "distinct GPU numbers such as 0,1,2,3")
    return ids


def _lock_dir(environ: MutableMapping[str, str]) -> Path:
    path = Path(environ.get(LOCK_DIR_ENV) or Path(tempfile.gettempdir(), "kitrain-gpu-locks"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding the exclusive lock of ``path``; None when another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _release(fds: list[int]) -> None:
    for fd in fds:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextlib.contextmanager
def gpu_lease(count: int, what: str, wait_s: float = DEFAULT_WAIT_S, poll_s: float = 5.0,
              environ: MutableMapping[str, str] = os.environ) -> Iterator[list[str] | None]:
    """Hold ``count`` GPUs of this worker for the block, visible to it (and its children) alone.

    Yields the leased ids, or None on a worker that does not lease (``KITRAIN_WORKER_GPUS``
    unset: nothing changes). Waits up to ``wait_s`` for enough free GPUs, then fails in one line
    naming the worker; CUDA must not be initialised in this process yet (it would keep the GPUs it
    saw first)."""
    ids = worker_gpus(environ)
    if ids is None:
        yield None
        return
    host = socket.gethostname()
    if count > len(ids):
        raise DeviceError(f"{what} needs {count} GPUs but worker {host} has {len(ids)} ({WORKER_GPUS_ENV}="
                          f"{','.join(ids)}): run it on a larger worker or ask for fewer")
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise DeviceError(f"{what}: CUDA was initialised in this process before its GPUs were leased on "
                          f"worker {host}: it would not see only its own")
    locks = _lock_dir(environ)
    deadline, waiting = time.monotonic() + wait_s, False
    while True:
        held: list[tuple[str, int]] = []
        for gpu in ids:
            fd = _try_lock(locks / f"gpu-{gpu}.lock")
            if fd is not None:
                held.append((gpu, fd))
                if len(held) == count:
                    break
        if len(held) == count:
            break
        _release([fd for _, fd in held])
        if time.monotonic() >= deadline:
            raise DeviceError(f"{what}: no {count} free GPU(s) of {','.join(ids)} on worker {host} after "
                              f"{wait_s:.0f} s (more GPU tasks run on it than it has GPUs: size its "
                              "--concurrency and pool gpu to its GPUs)")
        if not waiting:
            logger.warning("%s: waiting for %d free GPU(s) of %s on worker %s", what, count, ",".join(ids), host)
            waiting = True
        time.sleep(poll_s)
    leased = [gpu for gpu, _ in held]
    previous = environ.get("CUDA_VISIBLE_DEVICES")
    environ["CUDA_VISIBLE_DEVICES"] = ",".join(leased)
    logger.info("%s: GPU(s) %s of worker %s", what, ",".join(leased), host)
    try:
        yield leased
    finally:
        if previous is None:
            environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            environ["CUDA_VISIBLE_DEVICES"] = previous
        _release([fd for _, fd in held])
