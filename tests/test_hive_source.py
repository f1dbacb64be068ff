"""``--source hive``: the same SQL against real metastore tables named wmf.mediawiki_history and
wmf.mediawiki_wikitext_history, as on the analytics cluster.

A local Derby metastore stands in for the cluster's Hive metastore; it is configured the way a
cluster user configures Spark, through ``SPARK_CONF_DIR/spark-defaults.conf``. Runs in child
processes because a session's catalog cannot change once the JVM runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from kitrain.collect import run_collect
from kitrain.config import CollectConfig
from kitrain.demo import generate_demo

pytestmark = [pytest.mark.spark, pytest.mark.slow]

CREATE_TABLES = textwrap.dedent(
    """
    import sys
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.master("local[1]").enableHiveSupport().getOrCreate()
    spark.sql("CREATE DATABASE IF NOT EXISTS wmf")
    for table, path in (("wmf.mediawiki_history", sys.argv[1] + "/mediawiki_history"),
                        ("wmf.mediawiki_wikitext_history", sys.argv[1] + "/mediawiki_wikitext_history")):
        spark.catalog.createTable(table, path=path, source="parquet")
        spark.catalog.recoverPartitions(table)
    spark.stop()
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


def test_hive_source_gives_the_parquet_source_rows(spark, tmp_path):
    source = tmp_path / "source"
    generate_demo(source, languages=["uk"], revisions_per_language=100, seed=3)
    env = metastore_env(tmp_path)
    subprocess.run([sys.executable, "-c", CREATE_TABLES, str(source)], env=env, cwd=tmp_path,
                   check=True, capture_output=True)
    run = subprocess.run(
        [sys.executable, "-m", "kitrain", "collect", "-l", "uk", "-m", "test", "--source", "hive",
         "--run-dir", str(tmp_path / "hive_run"), "--master", "local[1]"],
        env=env, cwd=tmp_path, capture_output=True, text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]

    cfg = CollectConfig(lang="uk", mode="test", source="parquet", source_dir=str(source))
    parquet_report = run_collect(spark, cfg, str(tmp_path / "parquet_run"))

    def rows(path):
        frame = pq.read_table(path).to_pandas().sort_values("revision_id")
        return frame.to_json(orient="records", force_ascii=False)

    hive_out = tmp_path / "hive_run" / "collected" / "full_test" / "test" / "uk"
    assert rows(hive_out) == rows(parquet_report["output"])
    assert parquet_report["rows"] > 0


def test_hive_source_without_tables_is_named(tmp_path):
    # no wmf tables in the metastore: one line saying what is missing and what to use instead
    env = metastore_env(tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "kitrain", "collect", "-l", "uk", "--source", "hive",
         "--run-dir", str(tmp_path / "run"), "--master", "local[1]"],
        env=env, cwd=tmp_path, capture_output=True, text=True,
    )
    assert run.returncode == 2
    assert "Hive table wmf.mediawiki_history not found" in run.stderr
