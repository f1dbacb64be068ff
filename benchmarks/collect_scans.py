"""How often one language's multi-mode collection scans each source table, from Spark's own metrics.

Generates the parquet demo source for one language (``kitrain.demo.generate_demo``), collects it
in the given modes in one Spark session the way the DAG's ``spark_collect`` application does (the
modes' configs as the run plan builds them, ``use_cache`` on), and reports per source table how
many times Spark scanned it, with the rows and bytes the scans read, and the wall time.

How the scans are counted: a ``SparkListener`` cannot be written in Python, and the status
tracker only knows jobs and stages, not which table a stage read. Spark's SQL listener, though,
keeps every SQL execution's plan graph and metric values in the session's status store
(``SparkSession.sharedState.statusStore``: what the UI's SQL tab shows; it is filled with the UI
off too, up to ``spark.sql.ui.retainedExecutions`` executions), which pyspark 4 reaches through
py4j: ``executionsList()``, ``planGraph(id)`` and ``executionMetrics(id)``, after waiting for the
event bus to hand the listener every event (``SparkContext.listenerBus().waitUntilEmpty()``). Each file-source scan is a plan
node named ``Scan <format> <table>`` with the metrics ``number of files read`` (a driver metric,
posted when the scan lists its files, i.e. when it runs) and ``number of output rows``. A node
counts as a scan of its table when, in that execution, either is set and non-zero. A persisted
frame's plan is in the graph of every execution that uses it, but its scan nodes get values only
in the execution that computed it: reading a cached frame is not counted as a scan, while a cached
frame recomputed after eviction would be (it does read the table again). Scans in executions named
``isEmpty`` are the one-row probes with which the parquet source is registered
(``kitrain.spark.register_parquet_sources``); they are reported apart (``probes``), as they read
one batch, not the table.

Runs on the code checked out, whichever it is: ``collect.collect_language`` (one text read for all
modes) where it exists, else ``run_collect`` once per mode, as ``spark_collect`` used to.

    python benchmarks/collect_scans.py --revisions 400 --modes train test
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

log = logging.getLogger("benchmarks.collect_scans")

#: Prefix of a file-source scan node's name in Spark's plan graph: ``Scan parquet <table>``.
SCAN_PREFIX = "Scan "
#: What :func:`executed_scans` calls a scan of files read by path (``spark.read.parquet``), whose
#: plan node names no table.
PATH_SCAN = "<path>"
#: Execution description (call site) of the one-row probes of the source registration.
PROBE = "isEmpty"


def last_execution_id(spark: Any) -> int:
    """The id of the latest SQL execution in the status store (-1 when there is none): executions
    after it are the ones :func:`executed_scans` counts."""
    wait_for_listeners(spark)
    executions = spark._jsparkSession.sharedState().statusStore().executionsList()
    return max((executions.apply(i).executionId() for i in range(executions.size())), default=-1)


def wait_for_listeners(spark: Any) -> None:
    """The status store is filled by a listener on Spark's event bus: wait until it has every
    event posted so far, or the last execution's metrics may be missing."""
    spark.sparkContext._jsc.sc().listenerBus().waitUntilEmpty()


def _metric_number(text: str | None) -> int:
    """A metric value as the status store formats it (``1,000``; ``5.5 KiB``: the bytes are
    taken from the plain number before any unit) as an int; 0 when absent."""
    if not text:
        return 0
    head = text.split("\n")[-1].split(" (")[0].strip()
    number, _, unit = head.partition(" ")
    try:
        value = float(number.replace(",", ""))
    except ValueError:
        return 0
    scale = {"": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}.get(unit, 1)
    return int(value * scale)


def executed_scans(spark: Any, after: int = -1) -> list[dict[str, Any]]:
    """Every file-source scan that ran in the SQL executions with an id above ``after``:
    ``{"execution", "description", "table", "rows", "files", "bytes"}`` (``table`` as the plan node
    names it: ``spark_catalog.wmf.mediawiki_history``, or the path-less ``parquet`` of a plain
    ``spark.read.parquet``)."""
    wait_for_listeners(spark)
    store = spark._jsparkSession.sharedState().statusStore()
    executions = store.executionsList()
    scans = []
    for i in range(executions.size()):
        execution = executions.apply(i)
        eid = execution.executionId()
        if eid <= after:
            continue
        values = store.executionMetrics(eid)
        nodes = store.planGraph(eid).allNodes()
        for j in range(nodes.size()):
            node = nodes.apply(j)
            name = node.name()
            if not name.startswith(SCAN_PREFIX):
                continue
            metrics = {}
            for k in range(node.metrics().size()):
                metric = node.metrics().apply(k)
                value = values.get(metric.accumulatorId())
                metrics[metric.name()] = value.get() if value.isDefined() else None
            rows = _metric_number(metrics.get("number of output rows"))
            files = _metric_number(metrics.get("number of files read"))
            if rows == 0 and files == 0:
                continue  # a cached frame's plan, read from the cache in this execution
            scans.append({"execution": int(eid), "description": execution.description().split(" at ")[0],
                          "table": name.split(" ", 2)[-1] or PATH_SCAN, "rows": rows, "files": files,
                          "bytes": _metric_number(metrics.get("size of files read"))})
    return sorted(scans, key=lambda s: s["execution"])


def scans_by_table(scans: list[dict[str, Any]], tables: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Per role (``tables``: role -> table name as in the catalog, e.g. ``wmf.mediawiki_history``)
    the scans of that table, the probes among them, and the rows and bytes they read."""
    out = {}
    for role, table in tables.items():
        mine = [s for s in scans if s["table"].endswith("." + table) or s["table"] == table]
        full = [s for s in mine if s["description"] != PROBE]
        out[role] = {"table": table, "scans": len(full), "probes": len(mine) - len(full),
                     "rows_read": sum(s["rows"] for s in full), "bytes_read": sum(s["bytes"] for s in full),
                     "executions": [f"{s['execution']}:{s['description']}" for s in full]}
    return out


def other_scans(scans: list[dict[str, Any]], tables: dict[str, str]) -> dict[str, int]:
    """Scans of anything but the source tables (the history cache, the run's scratch files), by
    the name their plan node gives (:data:`PATH_SCAN` for files read by path)."""
    out: dict[str, int] = {}
    for scan in scans:
        if not any(scan["table"].endswith("." + t) or scan["table"] == t for t in tables.values()):
            out[scan["table"]] = out.get(scan["table"], 0) + 1
    return out


def collect_modes(spark: Any, configs: list[Any], run_dir: str) -> tuple[str, list[dict[str, Any]]]:
    """Collect one language in every mode of ``configs`` as the ``spark_collect`` application does."""
    import dataclasses

    from kitrain import collect

    if hasattr(collect, "collect_language"):
        return "collect_language", collect.collect_language(spark, configs, run_dir)
    reports = []  # the code before collect_language: one run_collect per mode
    for index, cfg in enumerate(configs):
        if index and reports[0]["source"].get("content_snapshot_id") is not None:
            cfg = dataclasses.replace(cfg, content_snapshot_id=reports[0]["source"]["content_snapshot_id"])
        reports.append(collect.run_collect(spark, cfg, run_dir))
    return "run_collect per mode", reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lang", default="uk")
    parser.add_argument("--modes", nargs="+", default=["train", "test"], choices=["train", "test"])
    parser.add_argument("--revisions", type=int, default=400, help="demo revisions of the language")
    parser.add_argument("--text-source", default="content_history",
                        choices=["content_history", "wikitext_history"])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--work", default=None, help="folder for the source and the run (default: a temporary one)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")

    from kitrain.config import CollectConfig
    from kitrain.demo import generate_demo
    from kitrain.spark import HISTORY_TABLE, TEXT_TABLES, get_spark

    work = Path(args.work or tempfile.mkdtemp(prefix="kitrain-scans-"))
    source = work / "source"
    if not source.exists():
        generate_demo(source, languages=[args.lang], revisions_per_language=args.revisions, seed=7)
    run_dir = work / f"run-{time.time_ns()}"
    spark = get_spark("kitrain collect_scans", master=args.master, scratch_dir=str(work / "warehouse"),
                      conf={"spark.ui.enabled": "false"})
    configs = [CollectConfig(lang=args.lang, mode=mode, source="parquet", source_dir=str(source),
                             use_cache=True, text_source=args.text_source) for mode in args.modes]
    after = last_execution_id(spark)
    start = time.perf_counter()
    code, reports = collect_modes(spark, configs, str(run_dir))
    wall = time.perf_counter() - start
    scans = executed_scans(spark, after)
    tables = {"history": HISTORY_TABLE, "text": TEXT_TABLES[args.text_source]}
    result = {
        "lang": args.lang, "modes": args.modes, "revisions": args.revisions, "code": code,
        "master": args.master, "text_source": args.text_source,
        "rows": {r["mode"]: r["rows"] for r in reports},
        "wall_s": round(wall, 2),
        "tables": scans_by_table(scans, tables),
        "other_scans": other_scans(scans, tables),
    }
    spark.stop()
    print(json.dumps(result))  # noqa: T201 (the benchmark's result line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
