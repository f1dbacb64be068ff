"""Scale benchmark: time and peak memory of the stages after collection, from 10k to 1M rows.

Writes synthetic prepared splits (the collected format plus the two split keys) of several
languages, with heavy-tailed texts, many revisions per page and the 92-entry ``actions`` map, then
runs a stage on each size in a child process of its own and reports its wall time, CPU seconds,
peak RSS and bytes of peak RSS per row, with the growth exponent of time and memory between two
sizes (``log(y2 / y1) / log(n2 / n1)``: 1 is linear, 0 is flat). Ends with one JSON line.

    python benchmarks/scale.py --stage features --rows 10000 100000 1000000
    python benchmarks/scale.py --stage features --rows 100000 --shard-rows 1000000000   # one shard a language

Stages so far: ``features`` (the tiny model stands in for the four fine-tuned ones: the benchmark
is about memory and the work that grows with the rows, not the model's arithmetic; see
``benchmarks/gpu_check.sh`` for the model's own speed on a GPU) and ``train`` (CatBoost on
synthetic feature rows, with its peak memory over the feature matrix it trains on) and
``evaluate`` (classifiers trained once on 20,000 synthetic rows score a ``test`` split of each size
and every metric and the report are computed) and ``prepare`` (collected languages in Spark's
layout, hashed into part files each sorted by revision id, into their splits).

    python benchmarks/scale.py --stage train --rows 100000 1000000
    python benchmarks/scale.py --stage evaluate --rows 100000 1000000
    python benchmarks/scale.py --stage prepare --rows 100000 1000000
    python benchmarks/scale.py --stage finetune --rows 100000 1000000     # one target, --max-steps steps
    python benchmarks/scale.py --stage compare --rows 100000 1000000      # the gate rescoring a hold-out

``chain`` runs every stage after collection in a row on one size (prepare, the four fine-tunings,
features, train, evaluate), each in its own child, and reports each stage's figures:

    python benchmarks/scale.py --stage chain --rows 1000000 --max-steps 20
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute  # noqa: E402,F401 (pa.compute)
import pyarrow.parquet as pq  # noqa: E402

from kitrain.collect import COLLECTED_ROW_GROUP_BYTES  # noqa: E402
from kitrain.paths import TARGETS, RunPaths  # noqa: E402
from kitrain.prepare import ROW_GROUP_ROWS  # noqa: E402
from kitrain.schema import (  # noqa: E402
    ACTION_KEYS,
    COLLECTED_COLUMNS,
    FEATURE_TABLE_COLUMNS,
    LABEL,
    MLM_FEATURES,
    TITLE_FEATURES,
    USER_ANONYMOUS,
    USER_TEMPORARY,
)

logger = logging.getLogger("benchmarks.scale")

_ARROW_TYPES = {
    "string": pa.string(), "bigint": pa.int64(), "int": pa.int32(), "boolean": pa.bool_(),
    "array<string>": pa.list_(pa.string()),
    "array<struct<before:string,after:string>>": pa.list_(
        pa.struct([("before", pa.string()), ("after", pa.string())])),
    "map<string,int>": pa.map_(pa.string(), pa.int32()),
}
#: The prepared files' schema: the collected columns and the two keys prepare adds.
PREPARED_SCHEMA = pa.schema([(name, _ARROW_TYPES[dtype]) for name, dtype in COLLECTED_COLUMNS]
                            + [("is_balanced", pa.int32()), ("is_text_train", pa.int32())])
LANGUAGES = ("en", "de", "uk", "ja")
WORDS = [f"w{i}" for i in range(5000)]


def _sentence(rng: np.random.Generator) -> str:
    """A sentence of log-normal length (median about 18 words), a few of them very long."""
    length = int(min(2000, max(1, rng.lognormal(math.log(18), 0.8))))
    return " ".join(WORDS[i] for i in rng.zipf(1.3, length) % len(WORDS)) + "."


def synthetic_rows(n: int, lang: str, seed: int, offset: int = 0) -> pa.Table:
    """``n`` prepared rows of one language, revision ids from ``offset`` on: pages with
    heavy-tailed revision counts, 0-4 inserted, removed and changed sentences per edit, the full
    ``actions`` map."""
    rng = np.random.default_rng(seed)
    pages = rng.zipf(1.6, n) % max(1, n // 5)
    columns: dict[str, list] = {name: [] for name in PREPARED_SCHEMA.names}
    ints = [f.name for f in PREPARED_SCHEMA if f.type == pa.int32() and f.name not in ("is_balanced",)]
    for i in range(n):
        inserts = [_sentence(rng) for _ in range(rng.poisson(1.5))]
        removes = [_sentence(rng) for _ in range(rng.poisson(0.8))]
        changes = [{"before": _sentence(rng), "after": _sentence(rng)} for _ in range(rng.poisson(0.7))]
        row = {
            "wiki_db": f"{lang}wiki", "event_comment": "edit", "event_user_text_historical": f"user{i % 97}",
            "event_user_seconds_since_previous_revision": int(rng.integers(0, 10**6)),
            "revision_id": 10**7 * (LANGUAGES.index(lang) + 1) + offset + i, "page_title": f"Page_{pages[i]}",
            "page_revision_count": int(rng.integers(1, 5000)),
            "revision_text_bytes_diff": int(rng.normal(0, 400)),
            "event_timestamp": f"2022-0{1 + i % 7}-{1 + i % 28:02d} 12:00:00",
            "revision_parent_id": 10**7 * (LANGUAGES.index(lang) + 1) + offset + i - 1,
            "revision_first_identity_reverting_revision_id": 0,
            "reverting_revision_is_reverted_revision": False,
            "texts_insert": inserts, "texts_removed": removes, "texts_change": changes,
            "actions": [(key, int(rng.integers(0, 3)) if rng.random() < 0.1 else 0) for key in ACTION_KEYS],
            "is_balanced": int(rng.random() < 0.3),
            # the pages of about half the titles are the language models' (prepare's text_train_share)
            "is_text_train": int(pages[i] % 2 == 0),
        }
        for name in ints:
            row.setdefault(name, 0)
        row[LABEL] = int(rng.random() < 0.12)
        row[USER_ANONYMOUS] = int(rng.random() < 0.2)
        row[USER_TEMPORARY] = int(row[USER_ANONYMOUS] and rng.random() < 0.9)
        for name in PREPARED_SCHEMA.names:
            columns[name].append(row[name])
    return pa.table(columns, schema=PREPARED_SCHEMA)


def write_prepared(run_dir: Path, rows: int, seed: int, split: str = "train") -> None:
    """``prepared/<split>/<lang>.parquet`` of ``rows`` rows over :data:`LANGUAGES` (a larger share
    for the first ones, as across Wikipedias), written in chunks and row groups as prepare does."""
    sizes = [rows * 4 // 10, rows * 3 // 10, rows * 2 // 10]
    sizes.append(rows - sum(sizes))
    out = Path(RunPaths(str(run_dir)).prepared(split))
    out.mkdir(parents=True)
    for k, (lang, n) in enumerate(zip(LANGUAGES, sizes)):
        with pq.ParquetWriter(out / f"{lang}.parquet", PREPARED_SCHEMA, compression="zstd") as writer:
            for start in range(0, n, 50_000):
                writer.write_table(synthetic_rows(min(50_000, n - start), lang, seed + 1000 * k + start, start),
                                   row_group_size=ROW_GROUP_ROWS)


#: Part files of one collected language, as Spark writes them (``output_files``).
COLLECTED_PARTS = 4


def write_collected(run_dir: Path, rows: int, seed: int, prefix: str = "all_users", mode: str = "train") -> None:
    """``collected/all_users/train/<lang>/part-*.parquet`` of ``rows`` rows over :data:`LANGUAGES`,
    laid out as the collection writes them: each language hashed by revision id into
    :data:`COLLECTED_PARTS` files, each sorted by revision id, in row groups of about
    ``kitrain.collect.COLLECTED_ROW_GROUP_BYTES`` of decoded data (a row group holds at most one
    write call's rows here: 50,000 rows hashed into the files)."""
    sizes = [rows * 4 // 10, rows * 3 // 10, rows * 2 // 10]
    sizes.append(rows - sum(sizes))
    schema = pa.schema([f for f in PREPARED_SCHEMA if f.name not in ("is_balanced", "is_text_train")])
    for k, (lang, n) in enumerate(zip(LANGUAGES, sizes)):
        out = Path(RunPaths(str(run_dir)).collected(prefix, mode, lang))
        out.mkdir(parents=True)
        writers = [pq.ParquetWriter(out / f"part-{j:05d}.zstd.parquet", schema, compression="zstd")
                   for j in range(COLLECTED_PARTS)]
        for start in range(0, n, 50_000):
            table = synthetic_rows(min(50_000, n - start), lang, seed + 1000 * k + start, start).select(schema.names)
            # row groups of COLLECTED_ROW_GROUP_BYTES decoded, as the collection's writer cuts them
            group_rows = max(1, COLLECTED_ROW_GROUP_BYTES * table.num_rows // max(1, table.nbytes))
            part = pa.array(table["revision_id"].to_numpy() % COLLECTED_PARTS)
            for j, writer in enumerate(writers):
                writer.write_table(table.filter(pa.compute.equal(part, j)), row_group_size=group_rows)
        for writer in writers:
            writer.close()
        (out / "_SUCCESS").write_text("")


def synthetic_features(n: int, lang: str, seed: int) -> pa.Table:
    """``n`` rows of ``features/<split>/`` (the features stage's output) of one language: sparse
    action counts, 0/1 flags, text-model scores; 12 % reverted, a fifth logged out."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    for name in FEATURE_TABLE_COLUMNS:
        if name in MLM_FEATURES or name in TITLE_FEATURES:
            columns[name] = rng.normal(0, 1, n)
        elif name == "revision_id":
            columns[name] = np.arange(n, dtype=np.int64) + 10**7 * (LANGUAGES.index(lang) + 1)
        elif name in ("page_title", "event_timestamp", "wiki_db"):
            continue
        elif name == "revision_text_bytes_diff":
            columns[name] = rng.normal(0, 400, n).astype(np.int64)
        elif name in ACTION_KEYS:
            columns[name] = (rng.poisson(0.3, n) * (rng.random(n) < 0.1)).astype(np.int32)
        else:
            columns[name] = (rng.random(n) < (0.12 if name == LABEL else 0.2)).astype(np.int32)
    columns["is_text_train"] = (rng.random(n) < 0.5).astype(np.int32)
    table = {name: columns.get(name) for name in FEATURE_TABLE_COLUMNS}
    table["page_title"] = pa.array([f"Page_{i % 5000}" for i in range(n)])
    table["event_timestamp"] = pa.array(["2022-05-01 12:00:00"] * n)
    table["wiki_db"] = pa.array([f"{lang}wiki"] * n)
    return pa.table(table)


def write_features(run_dir: Path, rows: int, seed: int, split: str = "train") -> None:
    """``features/<split>/<lang>-<shard>.parquet`` of ``rows`` rows over :data:`LANGUAGES`."""
    sizes = [rows * 4 // 10, rows * 3 // 10, rows * 2 // 10]
    sizes.append(rows - sum(sizes))
    out = Path(RunPaths(str(run_dir)).features(split))
    out.mkdir(parents=True)
    for k, (lang, n) in enumerate(zip(LANGUAGES, sizes)):
        for index, start in enumerate(range(0, n, 20_000)):
            pq.write_table(synthetic_features(min(20_000, n - start), lang, seed + 1000 * k + index),
                           out / f"{lang}-{index:05d}.parquet", compression="zstd")


def build_classifiers(root: Path, rows: int, variants: list[str], seed: int) -> Path:
    """Classifiers trained once on ``rows`` synthetic feature rows; each size's run links them."""
    from kitrain.classifier import run_train
    from kitrain.config import TrainConfig

    run_dir = root / "classifiers"
    write_features(run_dir, rows, seed + 99)
    run_train(TrainConfig(variants=tuple(variants), iterations=50, seed=seed), str(run_dir))
    return Path(RunPaths(str(run_dir)).classifiers())


def build_models(run_dir: Path, corpus_rows: int, seed: int) -> Path:
    """A tiny BERT built from a sample of the synthetic texts, saved once; each size's run links it
    as its four fine-tuned models."""
    from kitrain.tinymodel import build_tiny_model, read_corpus

    sample = run_dir / "corpus"
    write_prepared(sample, corpus_rows, seed)
    model = run_dir / "model"
    build_tiny_model(model, read_corpus(RunPaths(str(sample)).prepared("train")), vocab_size=4000,
                     hidden_size=32, layers=1)
    return model


def build_current_model(root: Path, model: Path, classifiers: Path, max_length: int) -> Path:
    """A models directory whose current model is a bundle of the tiny model (as its four text
    models) and the synthetic classifiers, built once; each size's compare rescores with it."""
    from kitrain.atomic import write_json
    from kitrain.bundle import run_bundle
    from kitrain.gate import swap_current

    run_dir = root / "current-run"
    paths = RunPaths(str(run_dir))
    for target in TARGETS:
        Path(paths.mlm(target)).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(model, paths.mlm(target))
    os.symlink(classifiers, paths.classifiers())
    write_json(paths.features_summary(), {"config": {"max_length": max_length}})
    bundle = run_bundle(str(run_dir))
    models = root / "models"
    (models / "bundles").mkdir(parents=True)
    os.replace(Path(bundle).resolve(), models / "bundles" / "current-model")
    swap_current(str(models), "current-model")
    return models


def write_holdout_predictions(run_dir: Path, seed: int) -> None:
    """The evaluation's predictions of the prepared ``full_test`` split, as compare reads them (the
    new model's scores: random here, the benchmark is about what the current model's rescoring
    costs)."""
    paths = RunPaths(str(run_dir))
    keys = pq.read_table(paths.prepared("full_test"), columns=["wiki_db", "revision_id", LABEL, USER_ANONYMOUS])
    n = keys.num_rows
    Path(paths.report()).mkdir(parents=True)
    pq.write_table(pa.table({
        "variant": ["all+user+mlm"] * n, "split": ["full_test"] * n, "wiki_db": keys["wiki_db"],
        "revision_id": keys["revision_id"], "label": keys[LABEL], "is_anonymous": keys[USER_ANONYMOUS],
        "score": np.random.default_rng(seed).random(n)}), Path(paths.report(), "predictions.parquet"))
    Path(paths.report(), "index.html").write_text("<html><body></body></html>")  # the gate adds its section


#: The child's own peak RSS: VmHWM starts afresh at exec, where ru_maxrss keeps the high-water
#: mark of the benchmark process that forked it (which has just written the input).
#: The child process of one stage: imports, then ``peak_mb`` (the process's own high-water mark,
#: VmHWM: ``ru_maxrss`` would keep the parent's across exec), the resident size once the imports
#: are done, the wall and CPU time around the stage call, and one JSON line: those figures and the
#: stage's own (``extra``, evaluated after the call). ``{setup}``, ``{call}`` and ``{extra}`` are
#: a stage's entries of :data:`STAGES`; ``run_dir`` and ``cfg_json`` are the child's arguments.
CHILD = """
import json, sys, time

def peak_mb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024

run_dir, cfg_json = sys.argv[1], json.loads(sys.argv[2])
{setup}
base = peak_mb()
wall, cpu = time.perf_counter(), time.process_time()
out = {call}
result = {{"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
          "peak_rss_mb": peak_mb(), "rss_after_imports_mb": base}}
result.update({extra})
print(json.dumps(result))
"""

#: Per stage: (setup: imports and config, call: the stage, extra: the JSON fields it adds).
STAGES = {
    "features": (
        "from kitrain.config import FeaturesConfig\nfrom kitrain.features import run_features\n"
        "cfg = FeaturesConfig(**cfg_json)",
        "run_features(cfg, run_dir)",
        '{"rows": out["rows"], "shards": out["shards"], "texts": out["texts"]}'),
    # the classifier on the features: its peak memory beside the feature matrix it trains on, as
    # the features files hold it (matrix_mb) and as handed to CatBoost, numbers as 32-bit floats
    # (matrix_as_trained_mb); both built after training, so that they do not add to the peak
    "train": (
        "import catboost, pandas\n"
        "from kitrain.classifier import model_matrix, read_features, run_train, training_columns\n"
        "from kitrain.classifier import categorical_of\n"
        "from kitrain.config import TrainConfig\nfrom kitrain.schema import variant_features\n"
        "cfg = TrainConfig(**cfg_json)\n"
        "def matrix_mb(float32):\n"
        "    features = variant_features(cfg.variants[0])\n"
        "    numeric = tuple(f for f in features if f not in categorical_of(features)) if float32 else ()\n"
        "    frame = read_features(run_dir, 'train', training_columns(cfg.variants), classifier_rows=True,\n"
        "                          float32=numeric)\n"
        "    return len(frame), model_matrix(frame, features).memory_usage(deep=True).sum() / 2**20\n"
        "def train_extra(result):\n"
        "    rows, stored = matrix_mb(False)\n"
        "    return {'classifier_rows': rows, 'matrix_mb': stored, 'matrix_as_trained_mb': matrix_mb(True)[1],\n"
        "            'peak_over_matrix': (result['peak_rss_mb'] - result['rss_after_imports_mb']) / stored}",
        "run_train(cfg, run_dir)",
        "train_extra(result)"),
    # one target's fine-tuning (a few steps of the tiny model): what grows with the rows is its
    # examples, read from the prepared split and encoded
    "finetune": (
        "from kitrain.config import FinetuneConfig\nfrom kitrain.finetune import run_finetune\n"
        "import torch, transformers\n"
        "cfg = FinetuneConfig(**cfg_json)",
        "run_finetune(cfg, run_dir)",
        '{"examples": out["examples"], "steps": out["global_step"], "device": out["device"]}'),
    # the collected languages into their splits
    "prepare": (
        "from kitrain.config import PrepareConfig\nfrom kitrain.prepare import run_prepare\n"
        "cfg = PrepareConfig(**cfg_json)",
        "run_prepare(cfg, run_dir)",
        '{"split_rows": {split: t["rows"] for split, t in out["totals"].items()}}'),
    # the quality gate: the current model (a bundle of the tiny model and synthetic classifiers)
    # rescores the whole hold-out, shard by shard, and both models are measured
    "compare": (
        "from kitrain.gate import GateConfig, run_compare\ncfg = GateConfig(**cfg_json)",
        "run_compare(run_dir, 'bench', '2022-07', 'all+user+mlm', cfg)",
        '{"compared_rows": out["sample"]["rows"], "shards": out["shards"], "decision": out["decision"]}'),
    # the evaluation of a hold-out: each variant scores it and the metrics are computed
    "evaluate": (
        "from kitrain.config import EvaluateConfig\nfrom kitrain.evaluate import run_evaluate\n"
        "cfg = EvaluateConfig(**cfg_json)",
        "run_evaluate(cfg, run_dir)",
        '{"variants": len(out["splits"]["test"]["variants"])}'),
}


def run_stage(stage: str, run_dir: Path, config: dict) -> dict:
    setup, call, extra = STAGES[stage]
    done = subprocess.run([sys.executable, "-c", CHILD.format(setup=setup, call=call, extra=extra), str(run_dir),
                           json.dumps(config)],
                          capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0:
        raise RuntimeError(f"{stage} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def exponent(n1: float, y1: float, n2: float, y2: float) -> float:
    """The growth exponent between two sizes: y grows like n ** exponent."""
    return round(math.log(y2 / y1) / math.log(n2 / n1), 3)


def growth(results: list[dict]) -> list[dict]:
    """Exponents of time and peak memory between consecutive sizes."""
    return [{"from": a["rows"], "to": b["rows"],
             "time_exponent": exponent(a["rows"], a["wall_s"], b["rows"], b["wall_s"]),
             "memory_exponent": exponent(a["rows"], a["peak_rss_mb"], b["rows"], b["peak_rss_mb"]),
             "memory_ratio": round(b["peak_rss_mb"] / a["peak_rss_mb"], 3)}
            for a, b in zip(results, results[1:])]


def run_chain(root: Path, rows: int, args: argparse.Namespace) -> list[dict]:
    """The stages after collection in a row, as the DAG runs them, each in a child process of its
    own: ``rows`` collected train-mode rows and a tenth as many hold-out rows, prepared, the four
    text models fine-tuned for ``--max-steps`` steps from a tiny base model, the features, the
    classifier and its evaluation. One result per stage, in order."""
    run_dir = root / f"chain-{rows}"
    start = time.perf_counter()
    write_collected(run_dir, rows, args.seed)
    write_collected(run_dir, max(1, rows // 10), args.seed + 1, prefix="full_test", mode="test")
    logger.info("%d + %d collected rows written in %.0f s", rows, rows // 10, time.perf_counter() - start)
    model = build_models(root, 2000, args.seed)
    stages: list[tuple[str, str, dict]] = [("prepare", "prepare", {"seed": args.seed})]
    for target in TARGETS:
        stages.append((f"finetune {target}", "finetune", {
            "target": target, "base_model": str(model), "max_steps": args.max_steps, "batch_size": 8,
            "max_length": args.max_length, "seed": args.seed}))
    stages += [("features", "features", {"max_length": args.max_length, "device": "cpu"}),
               ("train", "train", {"variants": ["all+user+mlm", "anon+user+mlm"], "iterations": args.iterations,
                                   "seed": args.seed}),
               ("evaluate", "evaluate", {"seed": args.seed})]
    results = []
    for name, stage, config in stages:
        result = run_stage(stage, run_dir, config)
        result["stage"] = name
        logger.info("%s", json.dumps(result))
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=(*STAGES, "chain"), default="features",
                        help="chain: every stage after collection in a row, on --rows collected rows")
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--shard-rows", type=int, default=None, help="features: rows per shard "
                        "(default: kitrain's); a huge value gives one shard per language")
    parser.add_argument("--max-length", type=int, default=64, help="features: tokens per text")
    parser.add_argument("--iterations", type=int, default=50, help="train: CatBoost iterations")
    parser.add_argument("--target", default="inserts", choices=TARGETS, help="finetune: the text model")
    parser.add_argument("--max-steps", type=int, default=20, help="finetune: optimizer steps")
    parser.add_argument("--variants", nargs="+", default=["all+user+mlm", "anon+base"],
                        help="evaluate: the variants trained (once, on 20000 rows) and evaluated")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", default=None, help="default: a temporary directory")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    root = Path(args.workdir or tempfile.mkdtemp(prefix="kitrain-scale-"))
    if args.stage == "chain":
        for rows in args.rows:
            stages = run_chain(root, rows, args)
            print(json.dumps({"stage": "chain", "rows": rows, "stages": stages,
                              "peak_rss_mb": max(r["peak_rss_mb"] for r in stages),
                              "wall_s": sum(r["wall_s"] for r in stages)}))
        return
    if args.stage == "features":
        model = build_models(root, 2000, args.seed)
        config = {"max_length": args.max_length, **({"shard_rows": args.shard_rows} if args.shard_rows else {})}
    elif args.stage == "evaluate":
        classifiers = build_classifiers(root, 20_000, args.variants, args.seed)
        config = {"seed": args.seed}
    elif args.stage == "prepare":
        config = {"seed": args.seed}
    elif args.stage == "compare":
        models = build_current_model(root, build_models(root, 2000, args.seed),
                                     build_classifiers(root, 20_000, ["all+user+mlm"], args.seed), args.max_length)
        config = {"models_dir": str(models), "device": "cpu", "min_language_rows": 10}
    elif args.stage == "finetune":
        model = build_models(root, 2000, args.seed)
        config = {"target": args.target, "base_model": str(model), "max_steps": args.max_steps, "batch_size": 8,
                  "max_length": args.max_length, "seed": args.seed}
    else:
        config = {"variants": ["all+user+mlm"], "iterations": args.iterations, "seed": args.seed}
    results = []
    for rows in sorted(args.rows):
        run_dir = root / f"{args.stage}-{rows}"
        start = time.perf_counter()
        if args.stage == "finetune":
            write_prepared(run_dir, rows, args.seed)
            written = Path(RunPaths(str(run_dir)).prepared("train"))
        elif args.stage == "features":
            write_prepared(run_dir, rows, args.seed)
            written = Path(RunPaths(str(run_dir)).prepared("train"))
            for target in TARGETS:
                Path(RunPaths(str(run_dir)).mlm(target)).parent.mkdir(parents=True, exist_ok=True)
                os.symlink(model, RunPaths(str(run_dir)).mlm(target))
        elif args.stage == "compare":
            write_prepared(run_dir, rows, args.seed, split="full_test")
            write_holdout_predictions(run_dir, args.seed)
            written = Path(RunPaths(str(run_dir)).prepared("full_test"))
        elif args.stage == "prepare":
            write_collected(run_dir, rows, args.seed)
            written = Path(RunPaths(str(run_dir)).collected_mode("all_users", "train"))
        elif args.stage == "evaluate":
            write_features(run_dir, rows, args.seed, split="test")
            os.symlink(classifiers, RunPaths(str(run_dir)).classifiers())
            written = Path(RunPaths(str(run_dir)).features("test"))
        else:
            write_features(run_dir, rows, args.seed)
            written = Path(RunPaths(str(run_dir)).features("train"))
        bytes_on_disk = sum(f.stat().st_size for f in written.rglob("*") if f.is_file())
        logger.info("%d rows written in %.0f s (%.0f MB of parquet)", rows, time.perf_counter() - start,
                    bytes_on_disk / 1e6)
        result = run_stage(args.stage, run_dir, config)
        if args.stage == "features":
            assert result["rows"]["train"] == rows, result["rows"]
        result.update(rows=rows, input_mb=round(bytes_on_disk / 1e6, 1),
                      peak_rss_bytes_per_row=round(result["peak_rss_mb"] * 2**20 / rows))
        logger.info("%s", json.dumps(result))
        results.append(result)
    print(json.dumps({"stage": args.stage, "config": config, "results": results,
                      "growth": growth(results)}))


if __name__ == "__main__":
    main()
