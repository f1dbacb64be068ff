"""kitrain plan-cost: each stage's wall time from the measured unit costs.

The expected hours are worked out here by hand from the figures of benchmarks/README.md ("The
paper's job, extrapolated"), not from the module's table."""

from __future__ import annotations

import pytest

from kitrain import cli
from kitrain.config import ConfigError
from kitrain.plancost import Job, estimate

PAPER = Job(languages=47, train_rows=257_447, holdout_rows=142_553)


def _stages(job, gpus):
    return {stage: (low, high) for stage, low, high, _ in estimate(job, gpus)}


def test_the_papers_job_on_one_gpu_is_the_readme_extrapolation():
    stages = _stages(PAPER, 1)
    rows = 47 * 400_000  # 18.8M
    train = 47 * 257_447  # 12.1M
    assert stages["collect"][0] == pytest.approx(rows * 1016 / 157_000 / 16 / 3600)  # ~2.1 h on 16 cores
    assert stages["prepare"][0] == pytest.approx(rows * 15.3e-6 / 3600)  # ~4.8 min
    # 0.4-1.0M examples a target at 12.1M train rows, 5 epochs at 172.7 samples/s, four targets in a row
    low, high = stages["finetune"]
    assert low == pytest.approx(4 * train * 0.4 / 12.1 * 5 / 172.7 / 3600)
    assert high == pytest.approx(4 * train * 1.0 / 12.1 * 5 / 172.7 / 3600)
    assert 12 < low < 14 and 31 < high < 33
    # 50-100M distinct texts at 18.8M rows, 6,133 texts/s
    assert stages["features"][0] == pytest.approx(rows * 50 / 18.8 / 6133 / 3600)
    assert stages["features"][1] == pytest.approx(rows * 100 / 18.8 / 6133 / 3600)
    # 6M classifier rows x 5,000 iterations at 0.6 s per iteration per 1M rows on 2 threads, 16 cores
    assert stages["train"][0] == pytest.approx(train / 2 * 5000 * 0.6e-6 * 2 / 16 / 3600)
    assert stages["evaluate"][0] == pytest.approx(47 * 142_553 * 14.6e-6 / 3600)


def test_more_gpus_divide_the_gpu_stages_only():
    one, four, eight = _stages(PAPER, 1), _stages(PAPER, 4), _stages(PAPER, 8)
    # the four targets side by side on four GPUs; eight GPUs idle half of them at finetune_gpus 1
    assert four["finetune"][0] == pytest.approx(one["finetune"][0] / 4)
    assert eight["finetune"] == pytest.approx(four["finetune"])
    # ... unless each fine-tuning runs on two
    two_each = _stages(Job(47, 257_447, 142_553, finetune_gpus=2), 8)
    assert two_each["finetune"][0] == pytest.approx(one["finetune"][0] / 8)
    assert eight["features"][0] == pytest.approx(one["features"][0] / 8)
    # the current model rescores a quarter of the texts (assumed), mapped the same way
    assert one["compare"][0] == pytest.approx(one["features"][0] / 4)
    assert eight["compare"][0] == pytest.approx(one["compare"][0] / 8)
    for stage in ("collect", "prepare", "train", "evaluate"):
        assert eight[stage] == one[stage], stage


def test_impossible_jobs_are_refused():
    with pytest.raises(ConfigError, match="finetune_gpus 4 is more than the 2 GPU"):
        estimate(Job(47, 1, 1, finetune_gpus=4), 2)
    with pytest.raises(ConfigError, match="languages"):
        Job(0, 1, 1)


def test_the_command_prints_the_table_with_its_sources(capsys):
    assert cli.main(["plan-cost", "--gpus", "1,4,8"]) == 0
    out = capsys.readouterr().out
    assert "47 languages x (257,447 train + 142,553 hold-out) = 18,800,000 rows" in out
    assert "| stage | 1 GPU(s) | 4 GPU(s) | 8 GPU(s) |" in out
    assert "| finetune | 12.9 h - 32.2 h | 3.2 h - 8.0 h | 3.2 h - 8.0 h |" in out
    assert "measured: H100" in out and "assumed" in out
    assert cli.main(["plan-cost", "--languages", "uk,ja", "--gpus", "1"]) == 0
    assert "job: 2 languages" in capsys.readouterr().out
    assert cli.main(["plan-cost", "--gpus", "one"]) == 2
    assert "--gpus must be whole numbers" in capsys.readouterr().err
