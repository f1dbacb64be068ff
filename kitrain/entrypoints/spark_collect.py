"""spark-submit application: collect one language in one or more modes in one Spark application.

    spark-submit [--master ...] spark_collect.py --lang uk --run-dir RUN_DIR \
        --config '{"lang": "uk", "mode": "train", ...}' --config '{"lang": "uk", "mode": "test", ...}'

Each ``--config`` is a :class:`kitrain.config.CollectConfig` as JSON (the DAG builds them from the
run's plan with ``to_dict``), so the application needs nothing but its arguments: it runs the same
on the Airflow worker (client mode) as on a cluster's driver. The modes share one JVM, one history
extract, one snapshot of the content table and one read of the text source
(:func:`kitrain.collect.collect_language`), which halves the start-up cost per language and reads
a wiki's texts once instead of once per mode. Exit code 2 and one line for a bad argument, before
Spark starts, and for a source error: among them a mode's window holding fewer than ``min_rows``
revisions (:class:`kitrain.collect.EmptyCollectionError`), found while the modes select their rows,
before any text is read: no mode publishes anything, and the language's task fails.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

logger = logging.getLogger("kitrain.collect")


def main(argv: list[str] | None = None) -> int:
    from kitrain.collect import check_language_configs, check_source_files, collect_language
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
        check_language_configs(configs)  # modes that cannot share the reads stop here
        for cfg in configs:
            check_source_files(cfg)  # missing or unusable dump files stop here, before Spark starts
        paths = RunPaths(args.run_dir)
        spark = get_spark(f"kitrain collect {lang}", hive=configs[0].source == "hive",
                          scratch_dir=paths.scratch() + "/warehouse")
        for report in collect_language(spark, configs, paths.run_dir):
            logger.info("collected %d revisions of %s (%s) into %s", report["rows"], lang, report["mode"],
                        report["output"])
    except (ConfigError, LanguageError, JavaMissingError, SourceError, TypeError) as exc:
        print(f"spark_collect: error: {exc}", file=sys.stderr)  # noqa: T201 (application edge, as in cli.main)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
