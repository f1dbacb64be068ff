"""Data-parallel fine-tuning on the CPU: two gloo processes under torchrun against one process.

The parity the README states: with the same global batch and seed, and dropout off (each process
draws its own dropout masks, as two seeds would), the training loss and every final weight of two
processes match one process within TOLERANCE (what differs is the order of float sums of the
averaged gradients).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kitrain.config import ConfigError, FinetuneConfig
from kitrain.distributed import DistributedError, run_finetune_parallel
from kitrain.paths import RunPaths

pytestmark = pytest.mark.spark  # builds on the collected demo run

#: Largest absolute difference allowed between a weight (and the loss) of one and of two processes.
TOLERANCE = 1e-5


def _copy_without_dropout(run: str, dest: Path) -> str:
    """The prepared run and its base model, the model's dropout set to 0."""
    for part in ("prepared", "base-model"):
        shutil.copytree(Path(run) / part, dest / part)
    config = dest / "base-model" / "config.json"
    values = json.loads(config.read_text())
    values.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    config.write_text(json.dumps(values))
    return str(dest)


def _weights(run_dir: str, target: str) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(Path(RunPaths(run_dir).mlm(target), "model.safetensors")))


def _cfg(run_dir: str, **kw) -> FinetuneConfig:
    values = dict(target="inserts", base_model=RunPaths(run_dir).base_model(), max_steps=6, batch_size=2,
                  max_length=64, device="cpu", learning_rate=1e-3)
    values.update(kw)
    return FinetuneConfig(**values)


def test_two_gloo_processes_match_one_process_at_the_same_global_batch(demo_features, tmp_path):
    one = _copy_without_dropout(demo_features[0], tmp_path / "one")
    two = _copy_without_dropout(demo_features[0], tmp_path / "two")
    alone = run_finetune_parallel(_cfg(one), one, nproc=1)
    parallel = run_finetune_parallel(_cfg(two), two, nproc=2)
    assert (alone["processes"], parallel["processes"]) == (1, 2)
    assert alone["global_step"] == parallel["global_step"] == 6
    # several batches an epoch: the order the examples are drawn in is the same in both
    assert alone["examples"]["train"] >= 2 * 2
    assert abs(alone["train_loss"] - parallel["train_loss"]) <= TOLERANCE
    a, b = _weights(one, "inserts"), _weights(two, "inserts")
    assert a.keys() == b.keys()
    # the learning rate is high enough that 6 steps move every trained weight visibly ...
    base = _weights_of_base(one)
    moved = max(float(np.abs(a[k] - base[k]).max()) for k in a if k in base)
    assert moved > 100 * TOLERANCE
    # ... and the two runs land on the same weights
    worst = max(float(np.abs(a[k] - b[k]).max()) for k in a)
    assert worst <= TOLERANCE, worst
    # process 0 alone published, and the checkpoints are gone
    assert json.loads(Path(RunPaths(two).mlm("inserts"), "kitrain_finetune.json").read_text())["processes"] == 2
    assert not Path(RunPaths(two).mlm_work("inserts")).exists()


def _weights_of_base(run_dir: str) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(Path(RunPaths(run_dir).base_model(), "model.safetensors")))


def test_a_batch_the_processes_cannot_split_evenly_is_refused_before_launching(tmp_path):
    with pytest.raises(ConfigError, match="batch_size 6 is not a multiple of nproc 4"):
        run_finetune_parallel(FinetuneConfig(target="inserts", base_model="x", batch_size=6), str(tmp_path), 4)


def test_a_failing_process_is_one_line_naming_it(demo_features, tmp_path):
    run = _copy_without_dropout(demo_features[0], tmp_path / "run")
    with pytest.raises(DistributedError, match=r"in 2 processes failed .*process 0: ModelLoadError"):
        run_finetune_parallel(_cfg(run, base_model=str(tmp_path / "no-such-model")), run, nproc=2)


def test_the_command_line_refuses_an_uneven_split_in_one_line(tmp_path, capsys):
    from kitrain import cli

    rc = cli.main(["finetune", "--run-dir", str(tmp_path), "--target", "inserts", "--nproc", "4",
                   "--batch-size", "6", "--device", "cpu"])
    assert rc == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "kitrain finetune: error: batch_size 6 is not a multiple of nproc 4: each step's global batch is "
        "split evenly across the processes")


def test_the_dag_runs_each_finetuning_in_the_planned_processes(demo_features, tmp_path, monkeypatch):
    # pipeline.finetune (the DAG task's body) launches finetune_gpus processes
    import datetime as dt

    from kitrain import distributed, pipeline

    run = _copy_without_dropout(demo_features[0], tmp_path / "run")
    seen = []

    def launched(cfg, run_dir, nproc=1):
        seen.append((cfg.target, cfg.device, nproc))
        return {"metrics": {}}

    monkeypatch.setattr(distributed, "run_finetune_parallel", launched)
    plan = pipeline.plan_run({"languages": ["uk"], "run_dir": run, "finetune_gpus": 2, "device": "cpu"},
                             dt.datetime(2022, 7, 1, tzinfo=dt.timezone.utc), "manual__x", finetune_slots=2)
    pipeline.finetune(plan, "removes", RunPaths(run).base_model())
    assert seen == [("removes", "cpu", 2)]
