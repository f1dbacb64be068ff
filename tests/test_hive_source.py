"""``--source hive``: the same SQL against real metastore tables named wmf.mediawiki_history and
wmf.mediawiki_wikitext_history, as on the analytics cluster.

A local Derby metastore stands in for the cluster's Hive metastore; it is configured the way a
cluster user configures Spark, through ``SPARK_CONF_DIR/spark-defaults.conf``. Runs in a child
process because a session's catalog cannot change once the JVM runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from kitrain.demo import generate_demo

pytestmark = [pytest.mark.spark, pytest.mark.slow]

#: One child process, one JVM with a Derby metastore: ``kitrain collect --source hive`` before the
#: tables exist (exit code 2, the missing table named), then the tables created over the parquet
#: copies with their partitions, then the same command again, then the command on the parquet copies
#: themselves (``--source-dir``). The command line's ``main`` runs in the process (not ``python -m
#: kitrain`` three times): more JVMs and metastore starts would only cost time.
HIVE_CHILD = textwrap.dedent(
    """
    import sys
    from pyspark.sql import SparkSession
    from kitrain.cli import main
    source, run_dir = sys.argv[1], sys.argv[2]
    args = ["collect", "-l", "uk", "-m", "test", "--source", "hive", "--master", "local[1]"]
    print(f"KITRAIN_NO_TABLES {main(args + ['--run-dir', run_dir + '/no-tables'])}", flush=True)
    spark = SparkSession.builder.enableHiveSupport().getOrCreate()
    spark.sql("CREATE DATABASE IF NOT EXISTS wmf")
    spark.sql("CREATE DATABASE IF NOT EXISTS wmf_content")
    for table, path in (("wmf.mediawiki_history", source + "/mediawiki_history"),
                        ("wmf.mediawiki_wikitext_history", source + "/mediawiki_wikitext_history"),
                        ("wmf_content.mediawiki_content_history_v1", source + "/mediawiki_content_history_v1")):
        spark.catalog.createTable(table, path=path, source="parquet")
        spark.catalog.recoverPartitions(table)
    print(f"KITRAIN_COLLECT {main(args + ['--run-dir', run_dir + '/hive'])}", flush=True)
    legacy = args + ["--text-source", "wikitext_history", "--run-dir", run_dir + "/hive-legacy"]
    print(f"KITRAIN_LEGACY {main(legacy)}", flush=True)
    parquet = ["collect", "-l", "uk", "-m", "test", "--source-dir", source, "--master", "local[1]"]
    print(f"KITRAIN_PARQUET {main(parquet + ['--run-dir', run_dir + '/parquet'])}", flush=True)
    """
)


def metastore_env(tmp_path):
    """Environment of a child process whose Spark uses a Derby metastore under ``tmp_path``."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text(
        f"spark.sql.warehouse.dir {tmp_path}/warehouse\n"
        f"spark.hadoop.javax.jdo.option.ConnectionURL "
        f"jdbc:derby:;databaseName={tmp_path}/metastore_db;create=true\n"
        f"spark.driver.extraJavaOptions -Dderby.system.home={tmp_path}\n"
        "spark.ui.enabled false\n"
    )
    return {**os.environ, "SPARK_CONF_DIR": str(conf), "PYSPARK_PYTHON": sys.executable}


@pytest.fixture(scope="module")
def hive_run(tmp_path_factory):
    """(source, run root, the child's exit codes by step, its stderr)."""
    tmp_path = tmp_path_factory.mktemp("hive")
    source = tmp_path / "source"
    generate_demo(source, languages=["uk"], revisions_per_language=100, seed=3)
    run = subprocess.run([sys.executable, "-c", HIVE_CHILD, str(source), str(tmp_path / "runs")],
                         env=metastore_env(tmp_path), cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    codes = dict(line.split()[0:2] for line in run.stdout.splitlines() if line.startswith("KITRAIN_"))
    return source, tmp_path / "runs", codes, run.stderr


def test_hive_source_gives_the_parquet_source_rows(hive_run):
    _, runs, codes, stderr = hive_run
    assert codes["KITRAIN_COLLECT"] == codes["KITRAIN_PARQUET"] == "0", stderr[-3000:]

    def rows(path):
        frame = pq.read_table(path).to_pandas().sort_values("revision_id")
        return len(frame), frame.to_json(orient="records", force_ascii=False)

    hive, legacy, parquet = (rows(runs / run / "collected" / "full_test" / "test" / "uk")
                             for run in ("hive", "hive-legacy", "parquet"))
    assert hive == parquet and parquet[0] > 0
    # the retired wikitext table (--text-source wikitext_history) gives the same rows
    assert codes["KITRAIN_LEGACY"] == "0" and legacy == hive


def test_hive_source_without_tables_is_named(hive_run):
    # no wmf tables in the metastore: one line saying what is missing and what to use instead
    _, runs, codes, stderr = hive_run
    assert codes["KITRAIN_NO_TABLES"] == "2"
    assert "kitrain collect: error: Hive table wmf.mediawiki_history not found" in stderr
    assert not (runs / "no-tables" / "collected").exists()
