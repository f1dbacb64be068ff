"""Crashes: a stage killed with SIGKILL in the middle of writing leaves the previous output whole
(or none at all on a first run), no later stage reads partial output, and a rerun gives the same
bytes as an uninterrupted run."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kitrain.paths import RunPaths
from kitrain.prepare import PrepareError, read_split

pytestmark = pytest.mark.slow

#: Runs the CLI with one function patched to stop for good right after its N-th call
#: (``KITRAIN_TEST_STALL=pyarrow.parquet.write_table:1`` or ``os.replace:2``; a third field counts
#: only the calls whose arguments mention it): the process is killed there, half-way through
#: writing a stage's output or between two renames.
STALLING_CLI = """
import importlib, os, sys, time
target, nth, *match = os.environ["KITRAIN_TEST_STALL"].split(":", 2)
parts = target.split(".")
for cut in range(len(parts) - 1, 0, -1):
    try:
        owner = importlib.import_module(".".join(parts[:cut]))
        break
    except ImportError:
        continue
for name in parts[cut:-1]:
    owner = getattr(owner, name)
real = getattr(owner, parts[-1])
calls = [0]
def stalling(*args, **kwargs):
    result = real(*args, **kwargs)
    if not match or match[0] in repr(args):
        calls[0] += 1
        if calls[0] == int(nth):
            open(os.environ["KITRAIN_TEST_MARKER"], "w").close()
            time.sleep(600)
    return result
setattr(owner, parts[-1], stalling)
from kitrain.cli import main
sys.exit(main(sys.argv[1:]))
"""


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every visible file below ``root`` (following the output links)."""
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file() and not path.name.startswith(".")}


def kill_mid_write(args: list[str], tmp_path: Path, stall: str = "pyarrow.parquet.write_table:1") -> None:
    marker = tmp_path / "marker"
    marker.unlink(missing_ok=True)
    env = {**os.environ, "KITRAIN_TEST_MARKER": str(marker), "KITRAIN_TEST_STALL": stall,
           "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", STALLING_CLI, *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert proc.poll() is None, f"{args} ended before writing (exit {proc.returncode})"
            assert time.monotonic() < deadline, "the stage never started writing"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def run_cli(args: list[str]) -> None:
    """The command line in this process: only the killed runs need a process of their own."""
    from kitrain.cli import main

    assert main(args) == 0, args


@pytest.fixture
def run_copy(demo_features, tmp_path):
    """A copy of the demo run with prepared data, models and features."""
    run_dir = tmp_path / "run"
    shutil.copytree(demo_features[0], run_dir, symlinks=True)
    return run_dir


#: prepare writes each split of a language through a ParquetWriter, row group by row group
PREPARE_WRITE = "pyarrow.parquet.ParquetWriter.write_table"


@pytest.mark.parametrize("stall", [f"{PREPARE_WRITE}:1", f"{PREPARE_WRITE}:4", "os.replace:1", "os.replace:2"])
def test_killed_prepare_shows_the_old_or_the_new_output_never_a_mix(run_copy, tmp_path, stall):
    prepared = Path(RunPaths(str(run_copy)).prepared_root())
    before = tree_digest(prepared)
    assert any(name.endswith(".parquet") for name in before)
    # what a complete run with another seed publishes (every split and the summary differ)
    other = tmp_path / "other"
    shutil.copytree(run_copy, other, symlinks=True)
    run_cli(["prepare", "--run-dir", str(other), "--seed", "7"])
    after = tree_digest(Path(RunPaths(str(other)).prepared_root()))
    assert after != before
    # killed while writing, or between the renames of a publish: all old, or all new
    kill_mid_write(["prepare", "--run-dir", str(run_copy), "--seed", "7"], tmp_path, stall)
    assert tree_digest(prepared) in (before, after)
    assert len(read_split(str(run_copy), "train")) > 0
    # run again to the end: exactly the uninterrupted run's bytes
    run_cli(["prepare", "--run-dir", str(run_copy), "--seed", "7"])
    assert tree_digest(prepared) == after


def test_killed_first_prepare_publishes_nothing(run_copy, tmp_path):
    paths = RunPaths(str(run_copy))
    expected = tree_digest(Path(paths.prepared_root()))
    Path(paths.prepared_root()).unlink()  # as if the run had never prepared
    kill_mid_write(["prepare", "--run-dir", str(run_copy)], tmp_path, f"{PREPARE_WRITE}:1")
    assert not os.path.lexists(paths.prepared_root())
    # a later stage says there is nothing to read, rather than reading a part
    with pytest.raises(PrepareError, match="no prepared split"):
        read_split(str(run_copy), "train")
    run_cli(["prepare", "--run-dir", str(run_copy)])
    assert tree_digest(Path(paths.prepared_root())) == expected


def test_killed_features_leave_the_previous_features(run_copy, tmp_path):
    features = Path(RunPaths(str(run_copy)).features_root())
    before = tree_digest(features)
    assert "summary.json" in before and any(name.startswith("full_test/") for name in before)
    args = ["features", "--run-dir", str(run_copy), "--batch-size", "1", "--max-length", "64"]
    kill_mid_write(args, tmp_path)
    assert tree_digest(features) == before
    run_cli(args)
    # same settings, same machine: the same bytes, summary included
    assert tree_digest(features) == before


@pytest.mark.spark
def test_killed_collection_leaves_the_language_missing_never_partial(run_copy, demo_source, spark, tmp_path):
    import pandas as pd

    from kitrain.collect import run_collect
    from kitrain.config import CollectConfig

    paths = RunPaths(str(run_copy))
    uk, ja = (Path(paths.collected("all_users", "train", lang)) for lang in ("uk", "ja"))
    before, ja_before = pd.read_parquet(uk), tree_digest(ja)
    args = ["collect", "-l", "uk", "--source-dir", str(demo_source), "--run-dir", str(run_copy),
            "--master", "local[1]"]
    # killed between the publish's two renames: the old directory moved aside, the new one not
    # yet in place (Hadoop's file systems cannot replace a directory in one step)
    kill_mid_write(args, tmp_path, "kitrain.spark.HadoopFS.rename:1:/collected/all_users/train/")
    hidden = [p.name for p in uk.parent.iterdir() if p.name.startswith(".uk.")]
    # the language is missing, never partial: a reader finds no uk at all; ja is untouched
    assert not uk.exists() and any(name.startswith(".uk.old-") for name in hidden)
    assert any(name.startswith(".uk.tmp-") for name in hidden)
    assert tree_digest(ja) == ja_before
    # collected again (in this process's Spark session: the command line's own run was killed
    # above): the same rows, and what the killed run left behind is gone
    run_collect(spark, CollectConfig(lang="uk", mode="train", source="parquet", source_dir=str(demo_source)),
                str(run_copy))
    pd.testing.assert_frame_equal(pd.read_parquet(uk), before)
    assert [p.name for p in uk.parent.iterdir() if p.name.startswith(".uk.")] == []


#: Fine-tuning killed right after it saved its first checkpoint.
STALLING_FINETUNE = """
import os, sys, time
from transformers import Trainer
real = Trainer._save_checkpoint
def stalling(self, *args, **kwargs):
    result = real(self, *args, **kwargs)
    open(os.environ["KITRAIN_TEST_MARKER"], "w").close()
    time.sleep(600)
    return result
Trainer._save_checkpoint = stalling
from kitrain.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_killed_finetune_resumes_from_its_checkpoint_to_the_same_step(run_copy, tmp_path):
    import json

    paths = RunPaths(str(run_copy))
    args = ["finetune", "--run-dir", str(run_copy), "--target", "inserts", "--base-model",
            paths.base_model(), "--max-steps", "6", "--save-steps", "2", "--batch-size", "4",
            "--max-length", "64"]
    published = Path(paths.mlm("inserts"), "kitrain_finetune.json")
    before = published.read_text()
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", STALLING_FINETUNE, *args],
                            env={**os.environ, "KITRAIN_TEST_MARKER": str(marker), "HF_HUB_OFFLINE": "1"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    # killed mid-training: the published model is still the previous one, a checkpoint waits
    assert published.read_text() == before
    assert (Path(paths.mlm_work("inserts")) / "checkpoint-2").is_dir()
    run_cli(args)
    record = json.loads(published.read_text())
    assert record["resumed_from_step"] == 2
    assert record["global_step"] == 6
    assert not Path(paths.mlm_work("inserts")).exists()  # checkpoints go once published


@pytest.mark.parametrize("split_file", ["prepared/train", "features/train"])
def test_corrupt_parquet_in_a_run_is_one_clear_error(run_copy, split_file, capsys):
    from kitrain import cli

    folder = run_copy / split_file
    victim = sorted(folder.glob("*.parquet"))[0]
    victim.write_bytes(victim.read_bytes()[:100])  # a truncated copy
    command = (["features", "--run-dir", str(run_copy), "--batch-size", "1"] if split_file.startswith("prepared")
               else ["train", "--run-dir", str(run_copy), "--iterations", "5"])
    assert cli.main(command) == 2
    err = capsys.readouterr().err
    assert f"cannot read {victim.resolve()}" in err or f"cannot read {victim}" in err
    assert "not a complete parquet file" in err
