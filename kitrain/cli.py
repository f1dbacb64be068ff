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

from kitrain.config import (
    MODES,
    SOURCES,
    TEXT_RULES,
    TEXT_SOURCES,
    DEFAULT_TEXT_SOURCE,
    CollectConfig,
    ConfigError,
    check_local_run_dir,
    EvaluateConfig,
    FeaturesConfig,
    PrepareConfig,
    TrainConfig,
)
from kitrain.languages import LanguageError
from kitrain.models import DEVICES, GPU_WORKER_ENV

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
                   help="hive: wmf.* tables; parquet: local copies in --source-dir; dumps: the public "
                   "dumps in --dumps-dir (default: parquet with --source-dir, dumps with --dumps-dir, "
                   "else hive)")
    p.add_argument("--source-dir", help="directory with parquet copies: mediawiki_history/ and "
                   "mediawiki_content_history_v1/ (or mediawiki_wikitext_history/ with "
                   "--text-source wikitext_history)")
    p.add_argument("--dumps-dir", help="directory with mediawiki_history/ TSV dumps and xmldumps/ "
                   "XML history dumps, laid out as on the dumps site (see `kitrain dumps plan`)")
    p.add_argument("--run-dir", required=True, help="run directory (local path or Hadoop URI)")
    p.add_argument("--snapshot", default="2022-07", help="history snapshot YYYY-MM (default 2022-07)")
    p.add_argument("--text-source", choices=TEXT_SOURCES, default=DEFAULT_TEXT_SOURCE,
                   help="with --source hive and parquet, the table the texts come from: "
                   "content_history (wmf_content.mediawiki_content_history_v1, updated daily) or "
                   "wikitext_history (the retired wmf.mediawiki_wikitext_history, read at "
                   "--wikitext-snapshot) (default %(default)s)")
    p.add_argument("--content-snapshot-id", type=int, default=None, metavar="ID",
                   help="with --source hive and --text-source content_history: the Iceberg snapshot "
                   "of the content table to read, as a collection's quality.json records it "
                   "(source.content_snapshot_id), so that a rerun reads the same texts "
                   "(default: the current one)")
    p.add_argument("--wikitext-snapshot", default="2022-11",
                   help="with --text-source wikitext_history: the wikitext snapshot YYYY-MM "
                   "(default 2022-11)")
    p.add_argument("--xml-dump", default=None, metavar="YYYYMMDD",
                   help="with --dumps-dir: the XML dump to read (default: the first full-history "
                   "dump dated on or after the end of both windows)")
    p.add_argument("--train-start", default="2022-01-01", help="train window start (inclusive)")
    p.add_argument("--train-end", default="2022-08-01", help="train window end (exclusive)")
    p.add_argument("--test-start", default="2022-07-01", help="hold-out window start (inclusive)")
    p.add_argument("--test-end", default="2022-07-08", help="hold-out window end (exclusive)")
    p.add_argument("--seed", type=int, default=42, help="seed of the sampling (default 42)")
    p.add_argument("--output-files", type=_positive_int, default=4,
                   help="parquet files per language (default 4)")
    p.add_argument("--max-diff-chars", type=_positive_int, default=CollectConfig.max_diff_chars,
                   help="longest changed span diffed (characters, both sides); longer edits are "
                   "counted as DiffTooLarge and dropped (default %(default)s)")
    p.add_argument("--text-rules", choices=TEXT_RULES, default=CollectConfig.text_rules,
                   help="how the diff cuts and compares sentences: paper (the original scripts' "
                   "rules) or multiscript (also the full stops of CJK, Devanagari and Arabic "
                   "scripts; marks and empty sentences dropped) (default %(default)s)")
    p.add_argument("--min-rows", type=_positive_int, default=CollectConfig.min_rows, metavar="N",
                   help="fail, publishing nothing, when the window holds fewer than N revisions "
                   "as read from the source: a missing or partial snapshot (default %(default)s)")
    p.add_argument("--master", default=None,
                   help="Spark master, e.g. local[4], yarn, spark://host:7077 "
                   "(default: spark-submit's, else local[*])")
    p.set_defaults(func=_cmd_collect)


def _cmd_collect(args: argparse.Namespace) -> int:
    from kitrain.collect import check_source_files, run_collect
    from kitrain.paths import RunPaths
    from kitrain.spark import get_spark

    source = args.source or ("parquet" if args.source_dir else "dumps" if args.dumps_dir else "hive")
    cfg = CollectConfig(
        lang=args.lang, mode=args.mode, source=source, source_dir=args.source_dir,
        dumps_dir=args.dumps_dir,
        snapshot=args.snapshot, wikitext_snapshot=args.wikitext_snapshot,
        train_start=args.train_start, train_end=args.train_end,
        test_start=args.test_start, test_end=args.test_end,
        filter_anon=args.filter_anon, filter_rw=args.filter_rw, max_records=args.max_records,
        use_cache=args.use_cache, prefix=args.prefix, seed=args.seed,
        output_files=args.output_files, max_diff_chars=args.max_diff_chars, xml_dump=args.xml_dump,
        text_rules=args.text_rules, min_rows=args.min_rows, text_source=args.text_source,
        content_snapshot_id=args.content_snapshot_id,
    )
    check_source_files(cfg)  # missing or unusable dump files stop here, before Spark starts
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
        description="Write synthetic parquet copies of wmf.mediawiki_history, "
        "wmf_content.mediawiki_content_history_v1 and wmf.mediawiki_wikitext_history (usable with "
        "--source parquet --source-dir OUT). A snapshot after a wiki's rollout of temporary "
        "accounts gives most of its logged-out edits to temporary accounts.",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--languages", nargs="+", default=list(DEMO_LANGUAGES),
                   help=f"language codes (default: {' '.join(DEMO_LANGUAGES)})")
    p.add_argument("--revisions-per-language", type=_positive_int, default=300,
                   help="about this many article revisions per language (default 300)")
    p.add_argument("--seed", type=int, default=42, help="seed (default 42)")
    p.add_argument("--snapshot", default="2022-07",
                   help="history snapshot YYYY-MM: the revisions fall in the six months before it "
                   "and in its month (default 2022-07, the paper's; e.g. 2026-04 for today's data)")
    p.add_argument("--wikitext-snapshot", default=None,
                   help="snapshot YYYY-MM of the legacy wikitext table's copy (default: 2022-11 for "
                   "snapshot 2022-07, else the snapshot)")
    p.add_argument("--dumps-out", default=None, metavar="DIR",
                   help="also write the data as a dumps source in DIR (for --dumps-dir): history TSVs "
                   "in the 78-field layout and the full-history XML dump the snapshot's windows need")
    p.set_defaults(func=_cmd_demo_data)


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from kitrain.demo import generate_demo

    wikitext_snapshot = args.wikitext_snapshot or ("2022-11" if args.snapshot == "2022-07" else args.snapshot)
    summary = generate_demo(args.out, languages=args.languages,
                            revisions_per_language=args.revisions_per_language, seed=args.seed,
                            snapshot=args.snapshot, wikitext_snapshot=wikitext_snapshot,
                            dumps_dir=args.dumps_out)
    logger.info("demo data written to %s: %s", args.out, json.dumps(summary, sort_keys=True))
    return 0


def _add_prepare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare",
        help="split every collected language into train, test, full_test (and anon_train)",
        description="Fan in every language collected in RUN_DIR into RUN_DIR/prepared/{train,test,"
        "full_test,anon_train}/ with the balance and fine-tuning keys.",
    )
    p.add_argument("--run-dir", required=True, help="run directory")
    p.add_argument("--prefix", default="all_users", help="train-mode collection prefix (default all_users)")
    p.add_argument("--test-prefix", default="full_test",
                   help="test-mode collection prefix (default full_test)")
    p.add_argument("--anon-prefix", default=PrepareConfig.anon_prefix,
                   help="prefix of the anonymous-only train-mode collection, prepared into "
                   "anon_train when it is there (default %(default)s)")
    p.add_argument("--validation-date", default="2022-07-01",
                   help="train rows before it, test rows from it on (default 2022-07-01)")
    p.add_argument("--filter-rw", type=_flag, default=True, metavar="{0,1}",
                   help="1: drop revisions whose revert was reverted (default 1)")
    p.add_argument("--text-train-share", type=float, default=0.6,
                   help="share of page titles for the language-model fine-tuning (default 0.6)")
    p.add_argument("--seed", type=int, default=42, help="seed (default 42)")
    p.set_defaults(func=_cmd_prepare)


def _cmd_prepare(args: argparse.Namespace) -> int:
    from kitrain.prepare import run_prepare

    cfg = PrepareConfig(prefix=args.prefix, test_prefix=args.test_prefix, anon_prefix=args.anon_prefix,
                        validation_date=args.validation_date, filter_rw=args.filter_rw,
                        text_train_share=args.text_train_share, seed=args.seed)
    summary = run_prepare(cfg, args.run_dir)
    logger.info("prepared: %s", json.dumps(summary["totals"]))
    return 0


def _add_tiny_model(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tiny-model",
        help="build a small BERT and WordPiece tokenizer from a corpus (tests and the demo)",
        description="Train a WordPiece tokenizer on the texts of a prepared split and save a small, "
        "randomly initialised BERT beside it, loadable by path like any hub model.",
    )
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--corpus", required=True, help="prepared split directory, e.g. RUN_DIR/prepared/train")
    p.add_argument("--vocab-size", type=_positive_int, default=4000, help="(default 4000)")
    p.add_argument("--hidden-size", type=_positive_int, default=64, help="(default 64)")
    p.add_argument("--layers", type=_positive_int, default=2, help="(default 2)")
    p.add_argument("--seed", type=int, default=42, help="seed (default 42)")
    p.set_defaults(func=_cmd_tiny_model)


def _cmd_tiny_model(args: argparse.Namespace) -> int:
    from kitrain.tinymodel import build_tiny_model, read_corpus

    build_tiny_model(args.out, read_corpus(args.corpus), vocab_size=args.vocab_size,
                     hidden_size=args.hidden_size, layers=args.layers, seed=args.seed)
    return 0


def _add_finetune(sub: argparse._SubParsersAction) -> None:
    from kitrain.config import DEFAULT_BASE_MODEL, TARGETS

    p = sub.add_parser(
        "finetune",
        help="fine-tune one of the four language models",
        description="Fine-tune a multilingual base model for one target on the prepared train split "
        "(is_text_train = 1) into RUN_DIR/mlm/<target>/. A killed run resumes when started again.",
    )
    p.add_argument("--run-dir", required=True, help="run directory")
    p.add_argument("--target", required=True, choices=TARGETS, help="which model")
    p.add_argument("--base-model", default=DEFAULT_BASE_MODEL,
                   help=f"hub name or local directory (default {DEFAULT_BASE_MODEL})")
    p.add_argument("--epochs", type=float, default=5, help="(default 5)")
    p.add_argument("--learning-rate", type=float, default=2e-5, help="(default 2e-5)")
    p.add_argument("--weight-decay", type=float, default=0.01, help="(default 0.01)")
    p.add_argument("--batch-size", type=_positive_int, default=8, help="(default 8)")
    p.add_argument("--max-length", type=_positive_int, default=512, help="(default 512)")
    p.add_argument("--max-steps", type=int, default=0, help="stop after N steps (default 0: epochs)")
    p.add_argument("--save-steps", type=int, default=0,
                   help="checkpoint and evaluate every N steps (default 0: every epoch)")
    p.add_argument("--seed", type=int, default=42, help="seed (default 42)")
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="auto: CUDA when present, else the CPU, which a worker labelled "
                   f"{GPU_WORKER_ENV}=1 refuses (default auto)")
    p.add_argument("--nproc", type=_positive_int, default=1,
                   help="data-parallel processes under torchrun, one per GPU (NCCL; gloo on the CPU); "
                   "--batch-size is the global batch, split evenly across them (default 1: this process)")
    p.set_defaults(func=_cmd_finetune)


def _cmd_finetune(args: argparse.Namespace) -> int:
    from kitrain.config import FinetuneConfig
    from kitrain.distributed import run_finetune_parallel

    cfg = FinetuneConfig(target=args.target, base_model=args.base_model, epochs=args.epochs,
                         learning_rate=args.learning_rate, weight_decay=args.weight_decay,
                         batch_size=args.batch_size, max_length=args.max_length,
                         max_steps=args.max_steps, save_steps=args.save_steps, seed=args.seed,
                         device=args.device)
    result = run_finetune_parallel(cfg, args.run_dir, nproc=args.nproc)
    logger.info("%s metrics: %s", args.target, json.dumps(result["metrics"], sort_keys=True))
    return 0


def _add_plan_cost(sub: argparse._SubParsersAction) -> None:
    from kitrain.plancost import Job

    defaults = Job(languages=47, train_rows=257_447, holdout_rows=142_553)
    p = sub.add_parser(
        "plan-cost",
        help="estimate each stage's wall time for a job, from the measured unit costs",
        description="Each stage's estimated wall time for LANGUAGES x (TRAIN_ROWS + HOLDOUT_ROWS) "
        "collected rows on the given Spark cores, CPU cores and GPU counts, from the unit costs the "
        "benchmarks measured (each named with its source; assumed ones say so). The defaults are the "
        "paper's job: 47 languages, 12.1M train and 6.7M hold-out rows.",
    )
    p.add_argument("--languages", default="paper",
                   help="'paper' (its 47), a number, or a comma-separated list of codes (default paper)")
    p.add_argument("--train-rows", type=_positive_int, default=defaults.train_rows,
                   help=f"train rows per language (default {defaults.train_rows:,}: 12.1M / 47)")
    p.add_argument("--holdout-rows", type=_positive_int, default=defaults.holdout_rows,
                   help=f"test and full_test rows per language (default {defaults.holdout_rows:,}: 6.7M / 47)")
    p.add_argument("--gpus", default="1,4,8", help="GPU counts to compare, comma-separated (default 1,4,8)")
    p.add_argument("--spark-cores", type=_positive_int, default=defaults.spark_cores, help="(default 16)")
    p.add_argument("--cpu-cores", type=_positive_int, default=defaults.cpu_cores,
                   help="cores of the classifier's worker (default 16)")
    p.add_argument("--finetune-gpus", type=_positive_int, default=1, help="GPUs of each fine-tuning (default 1)")
    p.add_argument("--classifier-iterations", type=_positive_int, default=defaults.classifier_iterations,
                   help="(default 5000)")
    p.set_defaults(func=_cmd_plan_cost)


def _cmd_plan_cost(args: argparse.Namespace) -> int:
    from kitrain.config import ConfigError
    from kitrain.languages import PAPER_LANGUAGES, validate_languages
    from kitrain.plancost import Job, render

    if args.languages == "paper":
        languages = len(PAPER_LANGUAGES)
    elif args.languages.isdigit():
        languages = int(args.languages)
    else:
        languages = len(validate_languages([c.strip() for c in args.languages.split(",")]))
    try:
        gpus = [int(g) for g in args.gpus.split(",")]
    except ValueError:
        raise ConfigError(f"--gpus must be whole numbers separated by commas, got {args.gpus!r}") from None
    job = Job(languages=languages, train_rows=args.train_rows, holdout_rows=args.holdout_rows,
              spark_cores=args.spark_cores, cpu_cores=args.cpu_cores, finetune_gpus=args.finetune_gpus,
              classifier_iterations=args.classifier_iterations)
    sys.stdout.write(render(job, gpus) + "\n")
    return 0


def _add_features(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "features",
        help="score every text with the fine-tuned models and build the classifier features",
        description="Build RUN_DIR/features/{train,test,full_test}/ from the prepared splits and the "
        "four fine-tuned models. By default in one process; --plan-shards, --shard and --assemble run "
        "the three steps the DAG maps (the same settings for all three).",
    )
    p.add_argument("--run-dir", required=True, help="run directory")
    p.add_argument("--batch-size", type=_positive_int, default=512,
                   help="most texts per batch (default 512)")
    p.add_argument("--max-batch-tokens", type=_positive_int, default=32768,
                   help="most padded tokens per batch (default 32768)")
    p.add_argument("--length-band", type=float, default=FeaturesConfig.length_band,
                   help="a batch ends where texts get shorter than this share of its longest "
                   "(default %(default)s; 0: off)")
    p.add_argument("--max-length", type=_positive_int, default=512, help="(default 512)")
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="auto: CUDA when present (default)")
    p.add_argument("--shard-rows", type=_positive_int, default=FeaturesConfig.shard_rows, metavar="N",
                   help="rows of one language of one split scored and written together: memory "
                   "holds one shard; a rerun after a crash keeps the finished ones (default %(default)s)")
    step = p.add_mutually_exclusive_group()
    step.add_argument("--plan-shards", action="store_true",
                      help="only name the shards (one per line), for scoring them on several machines")
    step.add_argument("--shard", metavar="ID", help="only score this planned shard (e.g. train/uk-00000)")
    step.add_argument("--assemble", action="store_true", help="only publish the scored shards")
    p.set_defaults(func=_cmd_features)


def _cmd_features(args: argparse.Namespace) -> int:
    from kitrain.features import assemble_features, plan_feature_shards, run_features, score_feature_shard

    cfg = FeaturesConfig(batch_size=args.batch_size, max_batch_tokens=args.max_batch_tokens,
                         length_band=args.length_band,
                         max_length=args.max_length, device=args.device, shard_rows=args.shard_rows)
    if args.plan_shards:
        sys.stdout.write("".join(f"{shard}\n" for shard in plan_feature_shards(cfg, args.run_dir)))
        return 0
    if args.shard:
        score_feature_shard(cfg, args.run_dir, args.shard, progress=True)
        return 0
    if args.assemble:
        summary = assemble_features(cfg, args.run_dir)
    else:
        summary = run_features(cfg, args.run_dir, progress=True)
    logger.info("features: %s", json.dumps(summary["rows"]))
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
    from kitrain.schema import PRODUCTION_VARIANT, VARIANTS

    p = sub.add_parser(
        "train",
        help="train the CatBoost classifier variants",
        description="Train CatBoost on features/train rows with is_text_train = 0 into "
        "RUN_DIR/classifier/<variant>/.",
    )
    p.add_argument("--run-dir", required=True, help="run directory")
    p.add_argument("--variant", action="append", choices=VARIANTS, default=None,
                   help=f"variant to train, repeatable (default {PRODUCTION_VARIANT})")
    p.add_argument("--all-variants", action="store_true", help="train all eight variants")
    p.add_argument("--features-csv", default=None,
                   help="train from a CSV in the published KI dataset's format instead of the run's "
                   "features (outputs still go to --run-dir)")
    p.add_argument("--iterations", type=_positive_int, default=5000, help="(default 5000)")
    p.add_argument("--learning-rate", type=float, default=0.01, help="(default 0.01)")
    p.add_argument("--early-stopping-rounds", type=int, default=TrainConfig.early_stopping_rounds,
                   help="stop after N rounds without a better evaluation AUC; 0 (the original's): "
                   "run every iteration, keep the best by evaluation Logloss (default %(default)s)")
    p.add_argument("--seed", type=int, default=42, help="seed (default 42)")
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from kitrain.classifier import run_train
    from kitrain.schema import PRODUCTION_VARIANT, VARIANTS

    variants = VARIANTS if args.all_variants else tuple(args.variant or (PRODUCTION_VARIANT,))
    cfg = TrainConfig(variants=variants, iterations=args.iterations, learning_rate=args.learning_rate,
                      early_stopping_rounds=args.early_stopping_rounds, seed=args.seed)
    results = run_train(cfg, args.run_dir, features_csv=args.features_csv)
    for variant, metrics in results.items():
        logger.info("%s: eval ROC AUC %s", variant, metrics["eval_roc_auc"])
    return 0


def _add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="performance and fairness of every trained variant on test and full_test",
        description="Write RUN_DIR/report/metrics.json and predictions.parquet.",
    )
    p.add_argument("--run-dir", required=True, help="run directory")
    p.add_argument("--threshold", type=float, default=0.5, help="decision threshold (default 0.5)")
    p.add_argument("--external-scores", default=None,
                   help="CSV with revision_id, wiki_db, score (e.g. ORES) to compare side by side")
    p.add_argument("--external-name", default="external", help="its name in the report")
    p.add_argument("--seed", type=int, default=42,
                   help="seed of the balanced sample of anonymous edits (default 42)")
    p.add_argument("--min-language-rows", type=_positive_int, default=EvaluateConfig.min_language_rows,
                   help="languages with fewer rows are left out of the per-language comparison "
                   "(default %(default)s)")
    p.set_defaults(func=_cmd_evaluate)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from kitrain.evaluate import run_evaluate

    cfg = EvaluateConfig(threshold=args.threshold, external_scores=args.external_scores,
                         external_name=args.external_name, seed=args.seed,
                         min_language_rows=args.min_language_rows)
    report = run_evaluate(cfg, args.run_dir)
    for split, results in report["splits"].items():
        for variant, metrics in results["variants"].items():
            logger.info("%s %s: ROC AUC %s, PR@R0.75 %s", split, variant,
                        metrics["unbalanced"]["all"]["roc_auc"], metrics["unbalanced"]["all"]["pr_at_recall"])
    return 0


def _add_bundle(sub: argparse._SubParsersAction) -> None:
    from kitrain.schema import PRODUCTION_VARIANT, VARIANTS

    p = sub.add_parser(
        "bundle",
        help="assemble the published model bundle",
        description="Write RUN_DIR/bundle/: the four language models, the classifier, a model card "
        "and a manifest with versions, configs, metrics and the sha256 of every file.",
    )
    p.add_argument("--run-dir", required=True, help="run directory")
    p.add_argument("--variant", default=PRODUCTION_VARIANT, choices=VARIANTS,
                   help=f"classifier variant (default {PRODUCTION_VARIANT})")
    p.set_defaults(func=_cmd_bundle)


def _cmd_bundle(args: argparse.Namespace) -> int:
    from kitrain.bundle import load_bundle, run_bundle

    root = run_bundle(args.run_dir, args.variant)
    load_bundle(root)  # the bundle just written must verify
    logger.info("bundle: %s", root)
    return 0


def _add_score(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="score revisions (JSON lines) with a bundle",
        description="Score revisions given as JSON lines (revision_id, wiki_db, page_title, "
        "parent_text, revision_text, event_user_is_anonymous, and optionally event_user_groups, "
        "revision_tags, revision_text_bytes_diff) with a verified bundle. A revision whose edit diff "
        "fails (e.g. a changed span over the bundle's max_diff_chars) gets an output line with "
        "\"error\" in place of \"score\".",
    )
    p.add_argument("--bundle", required=True, help="bundle directory")
    p.add_argument("--input", required=True, help="revisions as JSON lines")
    p.add_argument("--output", default=None, help="output JSON lines (default: standard output)")
    p.add_argument("--device", choices=DEVICES, default="auto", help="(default auto)")
    p.set_defaults(func=_cmd_score)


def _cmd_score(args: argparse.Namespace) -> int:
    from kitrain.score import run_score

    summary = run_score(args.bundle, args.input, args.output, device=args.device)
    logger.info("scored %d revisions, answered %d with an error (diff failed), skipped %d line(s)",
                summary["scored"], summary["errors"], len(summary["skipped"]))
    return 0


def _add_dumps(sub: argparse._SubParsersAction) -> None:
    from kitrain.dumps import XML_DOWNLOAD_FORMATS

    p = sub.add_parser(
        "dumps",
        help="the public dumps as a source: what to download",
        description="Work with the public mediawiki_history and XML history dumps.",
    )
    dsub = p.add_subparsers(dest="dumps_command", required=True, metavar="COMMAND")
    plan = dsub.add_parser(
        "plan",
        help="print the dump files a language needs, with the local layout --dumps-dir expects",
        description="Print the files to download for one language, snapshot and window: the "
        "mediawiki_history TSV dumps and the XML pages-meta-history dumps, each as URL, local path "
        "under --dumps-dir and size (with --listing). Downloads nothing.",
    )
    plan.add_argument("--lang", required=True, help="language code, e.g. uk")
    plan.add_argument("--snapshot", required=True, help="history snapshot YYYY-MM")
    plan.add_argument("--start", default=None,
                      help="window start YYYY-MM-DD (default: six months before the snapshot month)")
    plan.add_argument("--end", default=None,
                      help="window end YYYY-MM-DD, exclusive (default: the month after the snapshot)")
    plan.add_argument("--base-url", default="https://dumps.wikimedia.org", help="dumps site")
    plan.add_argument("--listing", default=None,
                      help="a listing of the dumps site, lines 'SIZE PATH': exact files and total size")
    plan.add_argument("--xml-format", choices=XML_DOWNLOAD_FORMATS, default=XML_DOWNLOAD_FORMATS[0],
                      help="which of the XML dump's two compressions to download (7z files are "
                      "several times smaller; both are read)")
    plan.add_argument("--xml-dump", default=None, metavar="YYYYMMDD",
                      help="the XML dump to read (default: the first full-history dump dated on or "
                      "after --end, as the collection chooses)")
    plan.add_argument("--dumps-dir", default=None,
                      help="also say which of these files are already in DIR and which dump a "
                      "collection from DIR would read")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")
    plan.set_defaults(func=_cmd_dumps_plan)


def _cmd_dumps_plan(args: argparse.Namespace) -> int:
    import datetime as dt

    from kitrain import dumps
    from kitrain.config import check_snapshot, check_snapshot_holds, check_window, check_xml_dump
    from kitrain.languages import validate_language
    from kitrain.plan import interval_settings

    validate_language(args.lang)
    year, month = (int(v) for v in check_snapshot("snapshot", args.snapshot).split("-"))
    derived = interval_settings(dt.date(year, month, 1))
    start, end = args.start or derived["train_start"], args.end or derived["train_end"]
    check_window("window", start, end)
    check_snapshot_holds("snapshot", args.snapshot, end)
    check_xml_dump("dumps", args.xml_dump, end)
    listing = dumps.read_listing(args.listing) if args.listing else None
    result = dumps.plan(args.lang, args.snapshot, start, end, args.base_url, listing,
                        xml_format=args.xml_format, xml_dump=args.xml_dump)
    if args.dumps_dir:
        try:
            result["in_dumps_dir"] = dumps.check_dumps(args.dumps_dir, args.snapshot, result["wiki_db"],
                                                       start, end, args.xml_dump)
        except dumps.DumpError as exc:
            result["in_dumps_dir"] = {"error": str(exc)}
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return 0
    lines = [f"# {result['wiki_db']}: history snapshot {args.snapshot}, window {start}..{end}, "
             f"XML dump {result['xml_dump']}; local paths are relative to --dumps-dir"]
    for item in result["files"]:
        size = "" if item["size"] is None else f"\t{item['size']}"
        note = f"\t# {item['note']}" if item.get("note") else ""
        lines.append(f"{item['url']}\t{item['local']}{size}{note}")
    if result["total_bytes"] is not None:
        lines.append(f"# total: {result['total_bytes']} bytes ({result['total_bytes'] / 2**30:.2f} GiB)")
    if result["wait_for"]:
        where = "is not in the listing" if listing is not None else "is not made yet"
        lines.append(f"# wait: the XML dump of {result['wait_for']} {where}. Full-history dumps are "
                     f"made by the run of the 1st of each month and take days to weeks; download it "
                     f"once its dumpstatus.json says the metahistory jobs are done")
    local = result.get("in_dumps_dir")
    if local is not None:
        lines.append(f"# --dumps-dir {args.dumps_dir}: " + (
            local["error"] if "error" in local else
            f"ready; a collection reads XML dump {local['xml_dump']} ({len(local['xml_files'])} file(s)) "
            f"and {len(local['history_files'])} history file(s)"))
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _add_history(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "history",
        help="one HTML page of every gated run over time",
        description="Write MODELS_DIR/history.html from the quality gate's records in MODELS_DIR/runs/: "
        "every gated run's decision, reasons and figures, plots by snapshot and per language, and "
        "which model is current. Records that cannot be read are listed on the page.",
    )
    p.add_argument("--models-dir", required=True, help="the gate's models directory")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write the page here instead (default MODELS_DIR/history.html)")
    p.set_defaults(func=_cmd_history)


def _cmd_history(args: argparse.Namespace) -> int:
    from kitrain.history import run_history

    logger.info("history: %s", run_history(args.models_dir, args.out))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kitrain", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_collect(sub)
    _add_demo_data(sub)
    _add_prepare(sub)
    _add_tiny_model(sub)
    _add_finetune(sub)
    _add_features(sub)
    _add_train(sub)
    _add_evaluate(sub)
    _add_bundle(sub)
    _add_score(sub)
    _add_dumps(sub)
    _add_history(sub)
    _add_plan_cost(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from kitrain.distributed import DistributedError
    from kitrain.models import DeviceError, ModelLoadError
    from kitrain.prepare import PrepareError
    from kitrain.spark import JavaMissingError, SourceError
    from kitrain.bundle import BundleError
    from kitrain.evaluate import ExternalScoresError
    from kitrain.kidataset import DatasetError
    from kitrain.score import InputLineError
    from kitrain.textdata import NoExamplesError
    from kitrain.atomic import CorruptFileError, MissingColumnsError
    from kitrain.history import HistoryError

    try:
        if args.command != "collect" and getattr(args, "run_dir", None):
            check_local_run_dir(args.run_dir, "--run-dir")
        return int(args.func(args))
    except (ConfigError, LanguageError, SourceError, JavaMissingError, PrepareError,
            ModelLoadError, DeviceError, DistributedError, NoExamplesError, ExternalScoresError, BundleError, InputLineError, DatasetError,
            CorruptFileError, MissingColumnsError, HistoryError) as exc:
        print(f"kitrain {args.command}: error: {exc}", file=sys.stderr)  # noqa: T201 (CLI edge)
        return 2


if __name__ == "__main__":
    sys.exit(main())
