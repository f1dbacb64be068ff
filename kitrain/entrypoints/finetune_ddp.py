"""One process of a data-parallel fine-tuning, as ``torchrun`` starts it (see
:mod:`kitrain.distributed`): reads the stage config, fine-tunes, and leaves in the launcher's
scratch directory the result (process 0) or its error, which the launcher raises.

The process ends with ``os._exit`` once its result or error is written: releasing the DDP model
after the gloo process group can deadlock (the group's destructor, run with the GIL held, joins a
gloo thread that waits for the GIL to free a tensor), and a process that never exits hangs
torchrun and every other process with it. Nothing is left to clean up by then: the model is
published (process 0, before the final barrier) and the logs are flushed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from kitrain.config import FinetuneConfig
from kitrain.distributed import ERROR_FILE, RESULT_FILE, process_rank
from kitrain.finetune import run_finetune

logger = logging.getLogger("kitrain.entrypoints.finetune_ddp")


def _exit(code: int) -> None:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--scratch", required=True)
    args = parser.parse_args(argv)
    rank = process_rank()[0]
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format=f"%(asctime)s [rank {rank}] %(levelname)s %(name)s: %(message)s")
    scratch = Path(args.scratch)
    try:
        cfg = FinetuneConfig.from_dict(json.loads(Path(args.config).read_text()))
        result = run_finetune(cfg, args.run_dir)
        if rank == 0:
            (scratch / RESULT_FILE).write_text(json.dumps(result, default=str))
    except Exception as exc:  # every error: written for the launcher and logged with its traceback
        (scratch / ERROR_FILE.format(rank=rank)).write_text(f"process {rank}: {type(exc).__name__}: {exc}")
        logger.exception("fine-tuning failed in process %d", rank)
        _exit(1)
    _exit(0)
    return 0  # not reached: _exit ends the process


if __name__ == "__main__":
    sys.exit(main())
