"""Training samples per second of ``kitrain finetune`` against the original's ``TrainingArguments``.

Same data (a target's examples from a prepared run), same model size built from a config (random
weights, nothing downloaded), same number of steps. The original trained in fp32, batch 8, random
batches; kitrain trains in bf16 (fp16 where bf16 is missing) with length-grouped batches padded to
a multiple of 8 on CUDA, fp32 on the CPU. Only optimizer steps are timed (evaluation and
checkpoints excluded, the first steps skipped as warm-up). Ends with one JSON line.

    python benchmarks/finetune.py --run-dir RUN_DIR --target inserts --size base --steps 300 [--nproc 1]

With ``--nproc N`` it also runs kitrain's fine-tuning under torchrun in N processes (DDP; one GPU
each) at the same batch per process, and reports both runs' samples/s as the Trainer counts them:
with ``--nproc 1`` the cost of torchrun and DDP themselves (the GPU check's target: within 5 %).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._models import build_model  # noqa: E402
from kitrain.config import FinetuneConfig  # noqa: E402
from kitrain.finetune import encode, run_finetune, training_frames  # noqa: E402
from kitrain.models import load_classifier, load_tokenizer  # noqa: E402

WARMUP_STEPS = 10


def step_timer():
    import torch
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        """Sums the wall time of optimizer steps after the warm-up."""

        def __init__(self):
            self.total, self.steps, self.started = 0.0, 0, None

        def _sync(self):
            if torch.cuda.is_available():
                torch.cuda.synchronize()

        def on_step_begin(self, args, state, control, **kw):
            self._sync()
            self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            self._sync()
            if state.global_step > WARMUP_STEPS:
                self.total += time.perf_counter() - self.started
                self.steps += 1

    return StepTimer()


def baseline(run_dir: str, model_path: str, target: str, steps: int, batch: int, seed: int):
    """The original's set-up: fp32, batch 8, random sampler, dynamic padding, same examples."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    cfg = FinetuneConfig(target=target, base_model=model_path, max_steps=steps, batch_size=batch,
                         seed=seed)
    train_frame, _ = training_frames(cfg, run_dir)  # exactly kitrain's examples
    tokenizer = load_tokenizer(model_path)
    model = load_classifier(model_path, 1 if cfg.is_regression else 2)
    out = tempfile.mkdtemp(prefix="kitrain-bench-baseline-")
    args = TrainingArguments(output_dir=out, max_steps=steps, per_device_train_batch_size=batch,
                             learning_rate=2e-5, weight_decay=0.01, save_strategy="no",
                             eval_strategy="no", report_to="none", seed=seed,
                             use_cpu=not __import__("torch").cuda.is_available())
    timer = step_timer()
    Trainer(model=model, args=args, processing_class=tokenizer,
            train_dataset=encode(tokenizer, train_frame, cfg.max_length, cfg.is_regression),
            data_collator=DataCollatorWithPadding(tokenizer), callbacks=[timer]).train()
    shutil.rmtree(out, ignore_errors=True)
    return timer, len(train_frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run-dir", required=True, help="a prepared run directory (demo data)")
    parser.add_argument("--target", default="inserts", choices=("inserts", "removes", "changes", "title"))
    parser.add_argument("--size", choices=("tiny", "base"), default="base")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--nproc", type=int, default=0,
                        help="also fine-tune under torchrun in this many processes (DDP) and compare "
                        "the Trainer's samples/s with the one-process run's (0: not)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    if args.steps <= WARMUP_STEPS:
        parser.error(f"--steps must exceed the {WARMUP_STEPS} warm-up steps")

    model_path = build_model(args.size, str(Path(args.run_dir) / "prepared" / "train"))
    base_timer, examples = baseline(args.run_dir, model_path, args.target, args.steps,
                                    args.batch_size, args.seed)

    run_copy = Path(tempfile.mkdtemp(prefix="kitrain-bench-run-"))
    shutil.copytree(Path(args.run_dir) / "prepared", run_copy / "prepared")
    timer = step_timer()
    record = run_finetune(
        FinetuneConfig(target=args.target, base_model=model_path, max_steps=args.steps,
                       batch_size=args.batch_size, seed=args.seed),
        str(run_copy), callbacks=[timer])
    ours = timer.steps * args.batch_size / timer.total
    theirs = base_timer.steps * args.batch_size / base_timer.total
    parallel = {}
    if args.nproc:
        from kitrain.distributed import run_finetune_parallel

        ddp_copy = Path(tempfile.mkdtemp(prefix="kitrain-bench-ddp-"))
        shutil.copytree(Path(args.run_dir) / "prepared", ddp_copy / "prepared")
        ddp = run_finetune_parallel(
            FinetuneConfig(target=args.target, base_model=model_path, max_steps=args.steps,
                           batch_size=args.batch_size * args.nproc, seed=args.seed),
            str(ddp_copy), nproc=args.nproc, torchrun=True)
        # the Trainer's own figure on both sides (the whole training, warm-up included): the
        # one-process run above against torchrun's processes at the same batch per process
        alone = record["train_samples_per_second"]
        parallel = {"torchrun_nproc": args.nproc, "torchrun_processes": ddp["processes"],
                    "trainer_samples_per_s_one_process": alone,
                    "trainer_samples_per_s_torchrun": ddp["train_samples_per_second"],
                    "torchrun_ratio": round(ddp["train_samples_per_second"] / alone, 3)}
    print(json.dumps({  # noqa: T201 (benchmark result)
        "benchmark": "finetune", "size": args.size, "target": args.target,
        "device": record["device"], "dtype": record["dtype"], "examples": examples,
        "timed_steps": timer.steps, "batch_size": args.batch_size,
        "kitrain_samples_per_s": round(ours, 1), "baseline_samples_per_s": round(theirs, 1),
        "speedup": round(ours / theirs, 2),
        "kitrain_eval": record["metrics"], **parallel,
    }))


if __name__ == "__main__":
    main()
