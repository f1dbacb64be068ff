"""The ``kitrain`` command line: one subcommand per stage.

Flags of ``kitrain collect`` keep the original collection script's short names (``-l``, ``-m``,
``-f1``, ``-f2``, ``-n``, ``-uc``, ``-p``) beside long ones. Every value is validated by the stage's
config before Spark starts; a bad value ends the command with one line naming it and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from kitrain.config import MODES, SOURCES, CollectConfig, ConfigError
from kitrain.languages import LanguageError

logger = logging.getLogger("kitrain")


def _flag(value: str) -> bool:
    if value not in ("0", "1"):
        raise argparse.ArgumentTypeError(f"expected 0 or 1, got {value!r}")
    return value == "1"


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {value!r}")
    return number


def _add_collect(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "collect",
        help="collect one language's labelled revisions and edit diffs with Spark",
        description="Collect one language's labelled revisions with their edit diffs into "
        "RUN_DIR/collected/<prefix>/<mode>/<lang>/ and write a quality report.",
    )
    p.add_argument("-l", "--lang", required=True, help="language code, e.g. uk")
    p.add_argument("-m", "--mode", choices=MODES, default="train",
                   help="train: the training window; test: the hold-out week (default: train)")
    p.add_argument("-f1", "--filter-anon", type=_flag, default=False, metavar="{0,1}",
                   help="1: keep anonymous editors only (default 0)")
    p.add_argument("-f2", "--filter-rw", type=_flag, default=None, metavar="{0,1}",
                   help="1: drop revisions whose revert was reverted (default: 0 train, 1 test)")
    p.add_argument("-n", "--max-records", type=_positive_int, default=None,
                   help="sample down to about N revisions (default: 300000 train, 100000 test)")
    p.add_argument("-uc", "--use-cache", type=_flag, default=False, metavar="{0,1}",
                   help="1: reuse this snapshot's cached history extract (default 0)")
    p.add_argument("-p", "--prefix", default=None,
                   help="output sub-directory (default: all_users train, full_test test)")
    p.add_argument("--source", choices=SOURCES, default=None,
                   help="hive: wmf.* tables; parquet: local copies in --source-dir "
                   "(default: parquet when --source-dir is given, else hive)")
    p.add_argument("--source-dir", help="directory with mediawiki_history/ and "
                   "mediawiki_wikitext_history/ parquet copies")
    p.add_argument("--run-dir", required=True, help="run directory (local path or Hadoop URI)")
    p.add_argument("--snapshot", default="2022-07", help="history snapshot YYYY-MM (default 2022-07)")
    p.add_argument("--wikitext-snapshot", default="2022-11",
                   help="wikitext snapshot YYYY-MM (default 2022-11)")
    p.add_argument("--train-start", default="2022-01-01", help="train window start (inclusive)")
    p.add_argument("--train-end", default="2022-08-01", help="train window end (exclusive)")
    p.add_argument("--test-start", default="2022-07-01", help="hold-out window start (inclusive)")
    p.add_argument("--test-end", default="2022-07-08", help="hold-out window end (exclusive)")
    p.add_argument("--seed", type=int, default=42, help="seed of the sampling (default 42)")
    p.add_argument("--output-files", type=_positive_int, default=4,
                   help="parquet files per language (default 4)")
    p.add_argument("--master", default=None,
                   help="Spark master, e.g. local[4], yarn, spark://host:7077 "
                   "(default: spark-submit's, else local[*])")
    p.set_defaults(func=_cmd_collect)


def _cmd_collect(args: argparse.Namespace) -> int:
    from kitrain.collect import run_collect
    from kitrain.paths import RunPaths
    from kitrain.spark import get_spark

    source = args.source or ("parquet" if args.source_dir else "hive")
    cfg = CollectConfig(
        lang=args.lang, mode=args.mode, source=source, source_dir=args.source_dir,
        snapshot=args.snapshot, wikitext_snapshot=args.wikitext_snapshot,
        train_start=args.train_start, train_end=args.train_end,
        test_start=args.test_start, test_end=args.test_end,
        filter_anon=args.filter_anon, filter_rw=args.filter_rw, max_records=args.max_records,
        use_cache=args.use_cache, prefix=args.prefix, seed=args.seed,
        output_files=args.output_files,
    )
    paths = RunPaths(args.run_dir)
    spark = get_spark(f"kitrain collect {cfg.lang} {cfg.mode}", master=args.master,
                      hive=cfg.source == "hive", scratch_dir=paths.scratch() + "/warehouse")
    report = run_collect(spark, cfg, paths.run_dir)
    summary = {s["step"]: s["rows"] for s in report["steps"]}
    logger.info("quality: %s", json.dumps(summary))
    logger.info("collected %d revisions of %s (%s) into %s",
                report["rows"], cfg.lang, cfg.mode, report["output"])
    return 0


def _add_demo_data(sub: argparse._SubParsersAction) -> None:
    from kitrain.demo import DEMO_LANGUAGES

    p = sub.add_parser(
        "demo-data",
        help="write generated parquet copies of the two source tables",
        description="Write synthetic wmf.mediawiki_history and wmf.mediawiki_wikitext_history "
        "parquet copies (usable with --source parquet --source-dir OUT).",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--languages", nargs="+", default=list(DEMO_LANGUAGES),
                   help=f"language codes (default: {' '.join(DEMO_LANGUAGES)})")
    p.add_argument("--revisions-per-language", type=_positive_int, default=300,
                   help="about this many article revisions per language (default 300)")
    p.add_argument("--seed", type=int, default=42, help="seed (default 42)")
    p.set_defaults(func=_cmd_demo_data)


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from kitrain.demo import generate_demo

    summary = generate_demo(args.out, languages=args.languages,
                            revisions_per_language=args.revisions_per_language, seed=args.seed)
    logger.info("demo data written to %s: %s", args.out, json.dumps(summary, sort_keys=True))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kitrain", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_collect(sub)
    _add_demo_data(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from kitrain.spark import JavaMissingError, SourceError

    try:
        return int(args.func(args))
    except (ConfigError, LanguageError, SourceError, JavaMissingError) as exc:
        print(f"kitrain {args.command}: error: {exc}", file=sys.stderr)  # noqa: T201 (CLI edge)
        return 2


if __name__ == "__main__":
    sys.exit(main())
