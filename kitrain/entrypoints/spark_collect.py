"""spark-submit application: collect one language in one or more modes in one Spark application.

    spark-submit [--master ...] spark_collect.py --lang uk --run-dir RUN_DIR \
        --config '{"lang": "uk", "mode": "train", ...}' --config '{"lang": "uk", "mode": "test", ...}'

Each ``--config`` is a :class:`kitrain.config.CollectConfig` as JSON (the DAG builds them from the
run's plan with ``to_dict``), so the application needs nothing but its arguments: it runs the same
on the Airflow worker (client mode) as on a cluster's driver. Both modes share one JVM and one
history extract (``use_cache``), which halves the start-up cost per language. Exit code 2 and one
line for a bad argument, before Spark starts, and for a source error: among them a mode's window
holding fewer than ``min_rows`` revisions (:class:`kitrain.collect.EmptyCollectionError`), which
publishes nothing for that mode and fails the language's task; the modes after it are not run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from typing import Any

logger = logging.getLogger("kitrain.collect")


def same_content_snapshot(configs: list[Any], report: dict[str, Any]) -> list[Any]:
    """The modes still to collect, reading the content table at the snapshot the first one read.

    The content history table changes daily; unpinned, each mode would read the snapshot current
    when it starts, and a language's train and hold-out collections could hold texts of two days.
    """
    snapshot = report.get("source", {}).get("content_snapshot_id")
    if snapshot is None:
        return configs
    return [dataclasses.replace(cfg, content_snapshot_id=snapshot) if cfg.reads_content_table else cfg
            for cfg in configs]


def main(argv: list[str] | None = None) -> int:
    from kitrain.collect import check_source_files, run_collect
    from kitrain.config import CollectConfig, ConfigError
    from kitrain.languages import LanguageError, validate_language
    from kitrain.paths import RunPaths
    from kitrain.spark import JavaMissingError, SourceError, get_spark

    parser = argparse.ArgumentParser(prog="spark_collect.py", description=__doc__.splitlines()[0])
    parser.add_argument("--lang", required=True)
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--config", action="append", required=True,
                        help="a CollectConfig as JSON; repeat for each mode")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        lang = validate_language(args.lang)
        configs = []
        for text in args.config:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"--config is not JSON: {exc}") from None
            if not isinstance(data, dict):
                raise ConfigError("--config must be a JSON object")
            cfg = CollectConfig.from_dict(data)
            if cfg.lang != lang:
                raise ConfigError(f"--config is for language {cfg.lang!r}, not --lang {lang!r}")
            configs.append(cfg)
        for cfg in configs:
            check_source_files(cfg)  # missing or unusable dump files stop here, before Spark starts
        paths = RunPaths(args.run_dir)
        spark = get_spark(f"kitrain collect {lang}", hive=configs[0].source == "hive",
                          scratch_dir=paths.scratch() + "/warehouse")
        for index, cfg in enumerate(configs):
            report = run_collect(spark, cfg, paths.run_dir)
            configs[index + 1:] = same_content_snapshot(configs[index + 1:], report)
            logger.info("collected %d revisions of %s (%s) into %s", report["rows"], lang, cfg.mode,
                        report["output"])
    except (ConfigError, LanguageError, JavaMissingError, SourceError, TypeError) as exc:
        print(f"spark_collect: error: {exc}", file=sys.stderr)  # noqa: T201 (application edge, as in cli.main)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
