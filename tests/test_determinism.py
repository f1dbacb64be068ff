"""Two complete runs with the same seed under different PYTHONHASHSEED: identical collected data,
byte-identical prepared data, and classifier predictions equal within 1e-9.

Collected data comes from Spark's parquet writer (parquet-mr), whose footers list each column's
encodings in the iteration order of a Java ``HashSet`` of enum values, which follows identity hash
codes and so changes from one JVM to the next: those files are compared by content (rows, order,
schema, key-value metadata, row groups), everything else by bytes."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kitrain.config import CollectConfig
from kitrain.paths import RunPaths

pytestmark = [pytest.mark.slow, pytest.mark.spark]


def content_digests(root: Path) -> list[str]:
    """sha256 of every data file below ``root``, by relative folder and content (Spark's part
    file names carry a random job id, so names are left out)."""
    return sorted(f"{path.parent.relative_to(root)}:{hashlib.sha256(path.read_bytes()).hexdigest()}"
                  for path in root.rglob("*") if path.is_file() and not path.name.startswith((".", "_")))


def parquet_contents(root: Path) -> list[tuple[str, object, object, int]]:
    """Every parquet file below ``root`` by folder and part number: its table, its key-value
    metadata and its row-group count."""
    import pyarrow.parquet as pq

    out = []
    for path in sorted(root.rglob("*.parquet")):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        part = path.name.split("-")[1] if path.name.startswith("part-") else path.name
        meta = pq.read_metadata(path)
        out.append((f"{path.parent.relative_to(root)}/{part}", pq.read_table(path), meta.metadata,
                    meta.num_row_groups))
    return out


#: Runs the steps of one chain in this one process, each through its own command line's entry
#: point (what Airflow's tasks and a shell user call): the hash seed is the process's, and starting
#: Python, torch and the JVM once per chain rather than once per step saves a minute per chain.
CHAIN_SCRIPT = """
import json, sys
from kitrain import cli
from kitrain.entrypoints import spark_collect
for entry, args in json.loads(sys.argv[1]):
    code = (spark_collect.main if entry == "spark_collect" else cli.main)(args)
    if code:
        sys.exit(f"{entry} {' '.join(args[:2])} exited with {code}")
"""


def run_chain(source: Path, run_dir: Path, hash_seed: str) -> None:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "HF_HUB_OFFLINE": "1"}
    paths = RunPaths(str(run_dir))
    configs = [CollectConfig(lang="uk", mode=mode, source="parquet", source_dir=str(source),
                             use_cache=True, output_files=2).to_dict() for mode in ("train", "test")]
    steps = [
        ["spark_collect", ["--lang", "uk", "--run-dir", str(run_dir),
                           *[arg for cfg in configs for arg in ("--config", json.dumps(cfg))]]],
        ["kitrain", ["prepare", "--run-dir", str(run_dir)]],
        ["kitrain", ["tiny-model", "--out", paths.base_model(), "--corpus", paths.prepared("train"),
                     "--vocab-size", "1500", "--hidden-size", "32", "--layers", "1"]],
        *[["kitrain", ["finetune", "--run-dir", str(run_dir), "--target", target, "--base-model",
                       paths.base_model(), "--max-steps", "2", "--batch-size", "4", "--max-length", "64"]]
          for target in ("inserts", "removes", "changes", "title")],
        ["kitrain", ["features", "--run-dir", str(run_dir), "--max-length", "64", "--device", "cpu"]],
        ["kitrain", ["train", "--run-dir", str(run_dir), "--iterations", "30"]],
        ["kitrain", ["evaluate", "--run-dir", str(run_dir)]],
    ]
    done = subprocess.run([sys.executable, "-c", CHAIN_SCRIPT, json.dumps(steps)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"PYTHONHASHSEED={hash_seed}:\n{done.stderr[-3000:]}"


def test_same_seed_same_results_under_any_hash_seed(tmp_path):
    from kitrain.demo import generate_demo

    # one language with enough revisions for all four fine-tuning targets
    source = tmp_path / "source"
    generate_demo(source, languages=("uk",), revisions_per_language=500, seed=3)
    runs = {seed: tmp_path / f"run-{seed}" for seed in ("1", "4242")}
    for seed, run_dir in runs.items():
        run_chain(source, run_dir, seed)
    first, second = (RunPaths(str(run)) for run in runs.values())
    collected = [parquet_contents(Path(p.run_dir, "collected")) for p in (first, second)]
    assert collected[0] and len(collected[0]) == len(collected[1])
    for (name_a, table_a, meta_a, groups_a), (name_b, table_b, meta_b, groups_b) in zip(*collected):
        assert (name_a, meta_a, groups_a) == (name_b, meta_b, groups_b)
        assert table_a.equals(table_b, check_metadata=True), name_a
    prepared = [content_digests(Path(p.prepared_root())) for p in (first, second)]
    assert prepared[0] and prepared[0] == prepared[1]
    preds = [pd.read_parquet(Path(p.report(), "predictions.parquet")) for p in (first, second)]
    keys = ["split", "variant", "wiki_db", "revision_id"]
    left, right = (frame.sort_values(keys).reset_index(drop=True) for frame in preds)
    assert len(left) > 0 and left[keys].equals(right[keys])
    assert np.max(np.abs(left["score"].to_numpy() - right["score"].to_numpy())) <= 1e-9
