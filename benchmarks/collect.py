"""Collection throughput and driver memory.

1. Revisions per second of ``kitrain collect`` (the diff in Arrow batches through ``mapInPandas``)
   against a row-at-a-time Python UDF variant of the same code, on the same generated language,
   both on ``local[2]`` in this process.
2. Peak resident memory of the driver (the Python process and its JVM, polled from /proc) when
   ``kitrain collect`` runs as its own process at two sizes: it must stay flat, since no rows are
   collected to the driver (the original pulled everything into pandas there).

Ends with one JSON line.

    python benchmarks/collect.py --revisions 20000 --memory-sizes 2000 50000
"""

from __future__ import annotations

import argparse
import json
import logging
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
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="kitrain-bench-collect-"))
    result: dict[str, object] = {"benchmark": "collect", "lang": args.lang, "master": "local[2]"}

    if not args.skip_throughput:
        source = work / f"source-{args.revisions}"
        generate_demo(source, languages=[args.lang], revisions_per_language=args.revisions)
        spark = get_spark("kitrain-bench-collect", master="local[2]", scratch_dir=str(work / "wh"))
        rates = {}
        for variant in ("row_udf", "arrow"):
            rows, seconds = timed_collect(spark, source, work / f"run-{variant}", args.lang, variant)
            rates[variant] = rows / seconds
            result[f"{variant}_rows"], result[f"{variant}_s"] = rows, round(seconds, 1)
        spark.stop()
        result.update({"revisions": args.revisions,
                       "arrow_rev_per_s": round(rates["arrow"], 1),
                       "row_udf_rev_per_s": round(rates["row_udf"], 1),
                       "speedup": round(rates["arrow"] / rates["row_udf"], 2)})
    for size in args.memory_sizes:
        source = work / f"source-{size}"
        generate_demo(source, languages=[args.lang], revisions_per_language=size)
        result[f"driver_peak_mb_{size}"] = driver_peak(source, work / f"mem-{size}", args.lang)
    print(json.dumps(result))  # noqa: T201 (benchmark result)


if __name__ == "__main__":
    main()
