"""Data-parallel fine-tuning: ``kitrain finetune --nproc N`` runs N processes under ``torchrun``.

At the paper's scale one target takes hours on one GPU. With N processes (one per GPU, NCCL; on a
machine without a GPU, gloo on the CPU) each step's global batch of ``batch_size`` examples is the
one a single process would take, split evenly across the processes (Accelerate's
``split_batches``), and DDP averages the gradients: the same optimisation as one process at the
same batch and seed, up to the order of float sums (and dropout, whose random masks each process
draws for its own part of the batch). The processes read the prepared split each, process 0 alone
writes checkpoints and publishes ``RUN_DIR/mlm/<target>/``.

The parent process (the Airflow task or the CLI) launches ``torch.distributed.run`` with
:mod:`kitrain.entrypoints.finetune_ddp`, waits for it, and raises the first process's error in one
line.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from kitrain.config import ConfigError, FinetuneConfig, _check_int

logger = logging.getLogger(__name__)

WORKER_MODULE = "kitrain.entrypoints.finetune_ddp"
#: Written by each process that fails, in the launcher's scratch directory: ``error-<rank>.txt``.
ERROR_FILE = "error-{rank}.txt"
RESULT_FILE = "result.json"


class DistributedError(RuntimeError):
    """A data-parallel fine-tuning that did not finish."""


def process_rank() -> tuple[int, int, int]:
    """(rank, local rank, world size) of this process as torchrun set them; (0, 0, 1) alone."""
    return (int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")),
            int(os.environ.get("WORLD_SIZE", "1")))


def check_nproc(nproc: object, batch_size: int) -> None:
    """A process count that splits the global batch evenly (the parity with one process needs it)."""
    _check_int("nproc", nproc, 1)
    if batch_size % nproc:
        raise ConfigError(f"batch_size {batch_size} is not a multiple of nproc {nproc}: each step's global "
                          "batch is split evenly across the processes")


def torchrun_command(nproc: int, config_file: Path, run_dir: str, scratch: Path) -> list[str]:
    """``python -m torch.distributed.run`` on this machine (``--standalone``: a free port of its own),
    running the fine-tuning entrypoint in ``nproc`` processes."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", WORKER_MODULE, "--config", str(config_file), "--run-dir", run_dir,
            "--scratch", str(scratch)]


def run_finetune_parallel(cfg: FinetuneConfig, run_dir: str, nproc: int = 1,
                          torchrun: bool | None = None) -> dict[str, Any]:
    """Fine-tune ``cfg.target`` in ``nproc`` data-parallel processes: under torchrun when more than
    one (or ``torchrun`` is True: the GPU check's one process under torchrun), else in this one."""
    from kitrain.finetune import run_finetune

    check_nproc(nproc, cfg.batch_size)
    if not (nproc > 1 if torchrun is None else torchrun):
        return run_finetune(cfg, run_dir)
    with tempfile.TemporaryDirectory(prefix=f"kitrain-ddp-{cfg.target}-") as tmp:
        scratch = Path(tmp)
        config_file = scratch / "config.json"
        config_file.write_text(json.dumps(cfg.to_dict()))
        env = dict(os.environ)
        # the CPU's cores shared by the processes (gloo), not each of them taking all
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
        command = torchrun_command(nproc, config_file, run_dir, scratch)
        logger.info("%s: fine-tuning in %d data-parallel processes: %s", cfg.target, nproc, " ".join(command))
        code = subprocess.run(command, env=env, check=False).returncode
        errors = sorted(scratch.glob(ERROR_FILE.format(rank="*")))
        if code != 0 or errors:
            first = errors[0].read_text().strip() if errors else "no process left an error (see the log above)"
            raise DistributedError(f"fine-tuning {cfg.target} in {nproc} processes failed (torchrun exit "
                                   f"{code}): {first}")
        result = json.loads((scratch / RESULT_FILE).read_text())
    return result
