"""Collection throughput and driver memory.

1. Revisions per second of ``kitrain collect`` (the diff in Arrow batches through ``mapInPandas``)
   against a row-at-a-time Python UDF variant of the same code, on the same generated language,
   both on ``local[2]`` in this process. One warm-up run (the Arrow variant, so that the JVM, the
   Python workers and their pandas/pyarrow imports are warm for both) is timed and discarded; then
   ``--repeats`` pairs of runs in alternating order (row, arrow, arrow, row, row, arrow, ...: ABBA),
   so neither variant always profits from running second. Reported per variant: the median rate
   and each run's rate; the ratio of the medians and the ratio within each pair (min, max).
2. Peak resident memory of the driver (the Python process and its JVM, polled from /proc) when
   ``kitrain collect`` runs as its own process at two sizes: it must stay flat, since no rows are
   collected to the driver (the original pulled everything into pandas there).

Logs each run, ends with one JSON line.

    python benchmarks/collect.py --revisions 20000 --repeats 3 --memory-sizes 2000 50000
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kitrain import collect  # noqa: E402
from kitrain.config import CollectConfig  # noqa: E402
from kitrain.demo import generate_demo  # noqa: E402
from kitrain.spark import get_spark  # noqa: E402

log = logging.getLogger("benchmarks.collect")

VARIANTS = ("row_udf", "arrow")
WARMUP_VARIANT = "arrow"  # warms the JVM, the Python workers and their pandas/pyarrow imports


def alternating_order(repeats: int, first: str = VARIANTS[0], second: str = VARIANTS[1]) -> list[tuple[str, str]]:
    """``repeats`` pairs of runs, the order flipped in every other pair (ABBA ABBA ...).

    Each pair holds each variant once; its ratio compares two neighbouring runs. With an even
    number of pairs each variant runs first in as many pairs as the other; with an odd number,
    ``first`` leads in one pair more.
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    return [(first, second) if i % 2 == 0 else (second, first) for i in range(repeats)]


def summarize(rates: dict[str, list[float]], pairs: list[tuple[str, str]]) -> dict[str, object]:
    """Medians, each run's figure and the per-pair ratio (arrow / row UDF) of rates in pair order.

    ``rates[variant][i]`` is the rate of ``variant`` in pair ``i`` (each pair runs each variant once).
    """
    medians = {v: statistics.median(rates[v]) for v in VARIANTS}
    ratios = [rates["arrow"][i] / rates["row_udf"][i] for i in range(len(pairs))]
    out: dict[str, object] = {}
    for v in VARIANTS:
        out[f"{v}_rev_per_s"] = round(medians[v], 1)
        out[f"{v}_rev_per_s_runs"] = [round(r, 1) for r in rates[v]]
        out[f"{v}_rev_per_s_min"] = round(min(rates[v]), 1)
        out[f"{v}_rev_per_s_max"] = round(max(rates[v]), 1)
    out["speedup"] = round(medians["arrow"] / medians["row_udf"], 3)
    out["speedup_pairs"] = [round(r, 3) for r in ratios]
    out["speedup_min"] = round(min(ratios), 3)
    out["speedup_max"] = round(max(ratios), 3)
    return out


def row_udf_diffs(df, lang, partitions, max_span_chars=None, text_rules=CollectConfig.text_rules):
    """The same diff as ``collect.compute_diffs``, one row at a time through a Python UDF."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    from kitrain import diff as diffmod
    from kitrain.schema import ACTION_KEYS

    result = T.StructType([
        T.StructField("texts_removed", T.ArrayType(T.StringType())),
        T.StructField("texts_insert", T.ArrayType(T.StringType())),
        T.StructField("texts_change", T.ArrayType(T.StructType([
            T.StructField("before", T.StringType()), T.StructField("after", T.StringType())]))),
        T.StructField("actions", T.MapType(T.StringType(), T.IntegerType())),
        T.StructField(collect.DIFF_ERROR, T.StringType()),
    ])

    def one(prev, curr):
        try:
            r = diffmod.edit_diff(prev, curr, lang, max_span_chars, text_rules)
        except Exception as exc:  # counted like the Arrow path
            return (None, None, None, None, type(exc).__name__)
        return (r.texts_removed, r.texts_insert, [(b, a) for b, a in r.texts_change],
                {k: r.actions[k] for k in ACTION_KEYS}, None)

    udf = F.udf(one, result)
    kept = [c for c in df.columns if c not in ("revision_text", "parent_text")]
    return (df.repartition(partitions, "revision_id")
            .withColumn("_d", udf("parent_text", "revision_text"))
            .select(*kept, "_d.*"))


def timed_collect(spark, source, run_dir, lang, variant):
    original = collect.compute_diffs
    if variant == "row_udf":
        collect.compute_diffs = row_udf_diffs
    try:
        start = time.perf_counter()
        report = collect.run_collect(spark, CollectConfig(lang=lang, source="parquet",
                                                          source_dir=str(source)), str(run_dir))
        return report["rows"], time.perf_counter() - start
    finally:
        collect.compute_diffs = original


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return 0
    return 0


def descendants(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            children = []
        for child in map(int, children):
            out.append(child)
            stack.append(child)
    return out


def driver_peak(source: Path, run_dir: Path, lang: str) -> dict[str, float]:
    """Peak RSS (MB) of the driver's Python process and of its JVM during one collection."""
    proc = subprocess.Popen([sys.executable, "-m", "kitrain", "collect", "-l", lang, "--source-dir",
                             str(source), "--run-dir", str(run_dir), "--master", "local[2]"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peaks = {"python": 0, "jvm": 0}

    def poll():
        while proc.poll() is None:
            peaks["python"] = max(peaks["python"], rss_kb(proc.pid))
            for child in descendants(proc.pid):
                try:
                    cmd = Path(f"/proc/{child}/cmdline").read_bytes()
                except OSError:
                    continue
                if b"java" in cmd.split(b"\0")[0]:
                    peaks["jvm"] = max(peaks["jvm"], rss_kb(child))
            time.sleep(0.2)

    thread = threading.Thread(target=poll)
    thread.start()
    proc.wait()
    thread.join()
    if proc.returncode:
        raise SystemExit(f"kitrain collect failed with exit code {proc.returncode}")
    return {k: round(v / 1024, 1) for k, v in peaks.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=20000)
    parser.add_argument("--memory-sizes", type=int, nargs="*", default=[2000, 50000])
    parser.add_argument("--lang", default="en")
    parser.add_argument("--repeats", type=int, default=3,
                        help="pairs of timed runs (one per variant each) in alternating order, after one "
                             "discarded warm-up run")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    log.setLevel(logging.INFO)
    work = Path(tempfile.mkdtemp(prefix="kitrain-bench-collect-"))
    result: dict[str, object] = {"benchmark": "collect", "lang": args.lang, "master": "local[2]"}
    load_start = os.getloadavg()[0]

    if not args.skip_throughput:
        source = work / f"source-{args.revisions}"
        generate_demo(source, languages=[args.lang], revisions_per_language=args.revisions)
        spark = get_spark("kitrain-bench-collect", master="local[2]", scratch_dir=str(work / "wh"))
        pairs = alternating_order(args.repeats)
        rows, seconds = timed_collect(spark, source, work / "run-warmup", args.lang, WARMUP_VARIANT)
        log.info("warm-up (discarded): %s, %d rows in %.1f s (%.1f rev/s)", WARMUP_VARIANT, rows, seconds,
                 rows / seconds)
        result["warmup"] = {"variant": WARMUP_VARIANT, "rows": rows, "s": round(seconds, 1)}
        rates: dict[str, list[float]] = {v: [] for v in VARIANTS}
        times: dict[str, list[float]] = {v: [] for v in VARIANTS}
        published: dict[str, set[int]] = {v: set() for v in VARIANTS}
        for i, pair in enumerate(pairs):
            for variant in pair:
                rows, seconds = timed_collect(spark, source, work / f"run-{i}-{variant}", args.lang, variant)
                rates[variant].append(rows / seconds)
                times[variant].append(seconds)
                published[variant].add(rows)
                log.info("pair %d/%d %-7s %d rows in %.1f s (%.1f rev/s)", i + 1, len(pairs), variant, rows,
                         seconds, rows / seconds)
        spark.stop()
        if len(set.union(*published.values())) != 1:
            raise SystemExit(f"the runs published different row counts: {published}")
        summary = summarize(rates, pairs)
        for variant in VARIANTS:
            result[f"{variant}_rows"] = rows
            result[f"{variant}_s"] = round(statistics.median(times[variant]), 1)  # median over the runs
            result[f"{variant}_s_runs"] = [round(t, 1) for t in times[variant]]
            log.info("%-7s median %.1f rev/s, runs %s", variant, summary[f"{variant}_rev_per_s"],
                     summary[f"{variant}_rev_per_s_runs"])
        log.info("arrow / row UDF: %.3f (ratio of medians), per pair %s", summary["speedup"], summary["speedup_pairs"])
        result.update({"revisions": args.revisions, "repeats": args.repeats,
                       "order": [variant for pair in pairs for variant in pair], **summary})
    for size in args.memory_sizes:
        source = work / f"source-{size}"
        generate_demo(source, languages=[args.lang], revisions_per_language=size)
        result[f"driver_peak_mb_{size}"] = driver_peak(source, work / f"mem-{size}", args.lang)
        log.info("driver peak RSS at %d revisions: %s MB", size, result[f"driver_peak_mb_{size}"])
    result["load_avg_1m"] = [round(load_start, 2), round(os.getloadavg()[0], 2)]  # other work on the machine
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))  # noqa: T201 (benchmark result)


if __name__ == "__main__":
    main()
