"""Shared fixtures: one local Spark session and one collected demo run for the whole test session.

The JVM starts once, and the demo data of two languages (Cyrillic and CJK) is collected once in both
modes; the collection tests check it and the later stages (prepare, fine-tuning, features) build on
it, as they would in a real run.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import socket
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# nothing in the tests may reach a model hub
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Every JVM of the tests (the session's, spark-submit's, Airflow's collections, the standalone
# cluster) lives seconds to minutes on tiny data: its JIT's optimising compiler and parallel
# collector cost more CPU than they save (a demo collection: 38 s of CPU with them, 20 s with C1
# alone and the serial collector). A developer's own setting wins.
os.environ.setdefault("JAVA_TOOL_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")

# py4j logs its connection close from __del__ at interpreter exit, after pytest closed the streams
logging.getLogger("py4j").setLevel(logging.WARNING)

# Airflow reads its home when first imported: the tests get their own, never the user's ~/airflow
AIRFLOW_HOME = tempfile.mkdtemp(prefix="kitrain-test-airflow-")
atexit.register(shutil.rmtree, AIRFLOW_HOME, True)
os.environ["AIRFLOW_HOME"] = AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")

DEMO_LANGS = ("uk", "ja")

#: The session fixtures that start the JVM, directly or through another: a test using one is a
#: Spark test whatever its marks say, so ``make test-fast`` (``-m "not spark and not slow"``) never
#: starts a Spark session.
SPARK_FIXTURES = frozenset({"spark", "demo_run", "demo_features", "trained", "bundle"})


def pytest_itemcollected(item):
    """Marks each test as it is collected, before ``-m`` deselects."""
    if SPARK_FIXTURES.intersection(getattr(item, "fixturenames", ())) and not item.get_closest_marker("spark"):
        item.add_marker(pytest.mark.spark)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for the servers the tests start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from kitrain.spark import get_spark

    session = get_spark(
        "kitrain-tests",
        master="local[2]",
        scratch_dir=str(tmp_path_factory.mktemp("warehouse")),
        conf={"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2",
              "spark.ui.enabled": "false"},
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def demo_source(tmp_path_factory):
    """Demo source tables for the two languages."""
    from kitrain.demo import generate_demo

    out = tmp_path_factory.mktemp("source")
    generate_demo(out, languages=DEMO_LANGS, revisions_per_language=160, seed=7)
    return out


@pytest.fixture(scope="session")
def demo_run(spark, demo_source, tmp_path_factory):
    """(run_dir, reports): both languages collected in both modes with the default settings."""
    from kitrain.collect import run_collect
    from kitrain.config import CollectConfig

    run_dir = tmp_path_factory.mktemp("run")
    reports = {}
    for lang in DEMO_LANGS:
        for mode in ("train", "test"):
            cfg = CollectConfig(lang=lang, mode=mode, source="parquet", source_dir=str(demo_source))
            reports[lang, mode] = run_collect(spark, cfg, str(run_dir))
    return run_dir, reports


@pytest.fixture(scope="session")
def demo_features(demo_run):
    """The demo run carried through the text-model stages: prepared, a tiny base model, the four
    language models fine-tuned for one step each, and the features of every split."""
    from kitrain.config import FeaturesConfig, FinetuneConfig, PrepareConfig
    from kitrain.features import run_features
    from kitrain.finetune import run_finetune
    from kitrain.paths import TARGETS, RunPaths
    from kitrain.prepare import run_prepare
    from kitrain.tinymodel import build_tiny_model, read_corpus

    run_dir = str(demo_run[0])
    paths = RunPaths(run_dir)
    run_prepare(PrepareConfig(), run_dir)
    build_tiny_model(paths.base_model(), read_corpus(paths.prepared("train")), vocab_size=2000,
                     hidden_size=32, layers=1)
    finetuned = {
        target: run_finetune(FinetuneConfig(target=target, base_model=paths.base_model(), max_steps=1,
                                            batch_size=4, max_length=64), run_dir)
        for target in TARGETS
    }
    # one text per batch: the same computation for a text whatever else is scored with it, so that
    # scoring a subset later (kitrain score) reproduces these numbers exactly; batches of different
    # composition differ by float noise, which can flip a tree split of the classifier
    summary = run_features(FeaturesConfig(batch_size=1, max_length=64), run_dir)
    return run_dir, finetuned, summary


@pytest.fixture(scope="session")
def trained(demo_features):
    """(run_dir, results): two classifier variants trained on the demo features, one of each
    training set (all editors with every feature, anonymous editors with the base features)."""
    from kitrain.classifier import run_train
    from kitrain.config import TrainConfig

    run_dir = demo_features[0]
    results = run_train(TrainConfig(variants=("all+user+mlm", "anon+base"), iterations=60,
                                    early_stopping_rounds=20), run_dir)
    return run_dir, results


@pytest.fixture(scope="session")
def bundle(trained):
    """The production variant's bundle, after an evaluation with the default settings."""
    from kitrain.bundle import run_bundle
    from kitrain.config import EvaluateConfig
    from kitrain.evaluate import run_evaluate

    run_dir, _ = trained
    run_evaluate(EvaluateConfig(), run_dir)
    return run_bundle(run_dir, "all+user+mlm")
