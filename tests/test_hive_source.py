"""``--source hive``: the same SQL against real metastore tables named wmf.mediawiki_history and
wmf.mediawiki_wikitext_history, as on the analytics cluster.

A local Derby metastore stands in for the cluster's Hive metastore; it is configured the way a
cluster user configures Spark, through ``SPARK_CONF_DIR/spark-defaults.conf``. Runs in a child
process because a session's catalog cannot change once the JVM runs. With a JDK, the same child
then serves the content table as an Iceberg table with two snapshots (tests/iceberg_standin.py) for
``content_snapshot_id``: recorded, pinned, refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from kitrain.demo import generate_demo
from tests import iceberg_standin

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
    if len(sys.argv) > 3:  # the content table as an Iceberg table (tests/iceberg_standin.py)
        import os
        prepared, served, old = sys.argv[3], sys.argv[4], sys.argv[5]
        pin = ["--run-dir", run_dir + "/pin-plain", "--content-snapshot-id", old]
        print(f"KITRAIN_PIN_PLAIN {main(args + pin)}", flush=True)
        os.rename(prepared, served)
        # the DAG's application, both modes in one collection: one read of the content table
        import json
        from kitrain.config import CollectConfig
        from kitrain.entrypoints import spark_collect
        modes = [arg for mode in ("test", "train") for arg in
                 ("--config", json.dumps(CollectConfig(lang="uk", mode=mode, source="hive").to_dict()))]
        code = spark_collect.main(["--lang", "uk", "--run-dir", run_dir + "/iceberg", *modes])
        print(f"KITRAIN_ICEBERG {code}", flush=True)
        pin = ["--run-dir", run_dir + "/pinned", "--content-snapshot-id", old]
        print(f"KITRAIN_PINNED {main(args + pin)}", flush=True)
        pin = ["--run-dir", run_dir + "/gone", "--content-snapshot-id", "12345"]
        print(f"KITRAIN_GONE {main(args + pin)}", flush=True)
        from kitrain.readiness import content_latest_from
        latest = content_latest_from(spark, ["ukwiki"])["ukwiki"].replace(" ", "T")
        print(f"KITRAIN_LATEST {latest}", flush=True)
        latest = content_latest_from(spark, ["ukwiki"], int(old))["ukwiki"].replace(" ", "T")
        print(f"KITRAIN_LATEST_PINNED {latest}", flush=True)
    """
)


def metastore_env(tmp_path, extra_conf=""):
    """Environment of a child process whose Spark uses a Derby metastore under ``tmp_path``."""
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text(
        f"spark.sql.warehouse.dir {tmp_path}/warehouse\n"
        f"spark.hadoop.javax.jdo.option.ConnectionURL "
        f"jdbc:derby:;databaseName={tmp_path}/metastore_db;create=true\n"
        f"spark.driver.extraJavaOptions -Dderby.system.home={tmp_path}\n"
        "spark.ui.enabled false\n" + extra_conf
    )
    return {**os.environ, "SPARK_CONF_DIR": str(conf), "PYSPARK_PYTHON": sys.executable}


#: The content table's snapshots served by the Iceberg stand-in: the current one (all of the demo's
#: revisions; an id of 19 digits, as Iceberg's are) and an older one, of the day before
#: :data:`OLD_SNAPSHOT_BEFORE`, which lacks the revisions made from then on.
CURRENT_SNAPSHOT, OLD_SNAPSHOT = 7301234567890123456, 4101234567890123456
OLD_SNAPSHOT_BEFORE = "2022-07-04 00:00:00"


@pytest.fixture(scope="module")
def hive_run(tmp_path_factory):
    """(source, run root, the child's exit codes and other printed values by step, its stderr).

    With a JDK, the content table is then served as an Iceberg table with two snapshots."""
    tmp_path = tmp_path_factory.mktemp("hive")
    source = tmp_path / "source"
    generate_demo(source, languages=["uk"], revisions_per_language=100, seed=3)
    argv, extra_conf = [], ""
    if iceberg_standin.javac():
        snapshots = tmp_path / "iceberg"
        prepared = tmp_path / "prepared" / iceberg_standin.CONTENT_DIR
        copy = source / "mediawiki_content_history_v1"
        iceberg_standin.write_snapshot(prepared, CURRENT_SNAPSHOT, copy, current=True)
        iceberg_standin.write_snapshot(prepared, OLD_SNAPSHOT, copy, before=OLD_SNAPSHOT_BEFORE)
        snapshots.mkdir()
        extra_conf = iceberg_standin.spark_conf(iceberg_standin.build_jar(tmp_path / "standin"), snapshots)
        argv = [str(prepared), str(snapshots / iceberg_standin.CONTENT_DIR), str(OLD_SNAPSHOT)]
    run = subprocess.run([sys.executable, "-c", HIVE_CHILD, str(source), str(tmp_path / "runs"), *argv],
                         env=metastore_env(tmp_path, extra_conf), cwd=tmp_path, capture_output=True,
                         text=True)
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


# -- the content table as an Iceberg table (content_snapshot_id) -----------------------------------


def _iceberg_run(hive_run):
    if not iceberg_standin.javac():
        pytest.skip("no javac (a JDK) to compile the Iceberg stand-in catalog (tests/iceberg_standin.py)")
    return hive_run


def _quality(runs, run, prefix="full_test", mode="test"):
    path = runs / run / "quality" / "collect" / prefix / mode / "uk" / "quality.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _collected(runs, run):
    return pq.read_table(runs / run / "collected" / "full_test" / "test" / "uk").to_pandas() \
        .sort_values("revision_id").reset_index(drop=True)


def _revision_times(source):
    table = pq.read_table(source / "mediawiki_content_history_v1", columns=["revision_id", "revision_dt"])
    frame = table.to_pandas()
    return dict(zip(frame["revision_id"], frame["revision_dt"].dt.strftime("%Y-%m-%d %H:%M:%S")))


def test_an_iceberg_content_table_is_read_at_its_current_snapshot_which_is_recorded(hive_run):
    source, runs, codes, stderr = _iceberg_run(hive_run)
    assert codes["KITRAIN_ICEBERG"] == "0", stderr[-3000:]
    assert _quality(runs, "iceberg")["source"]["content_snapshot_id"] == CURRENT_SNAPSHOT
    # the application collected both modes from that one snapshot: each records it, and the
    # later mode's config pins it (a rerun of that mode alone reads the same texts)
    train = _quality(runs, "iceberg", "all_users", "train")
    assert train["source"]["content_snapshot_id"] == CURRENT_SNAPSHOT
    assert train["config"]["content_snapshot_id"] == CURRENT_SNAPSHOT
    assert _quality(runs, "iceberg")["config"]["content_snapshot_id"] is None
    # the current snapshot holds every revision: the plain Hive table's rows, which record no
    # snapshot (a table that is not Iceberg has none)
    assert _collected(runs, "iceberg").equals(_collected(runs, "hive"))
    assert _quality(runs, "hive")["source"]["content_snapshot_id"] is None
    assert "content_snapshot_id" not in _quality(runs, "hive-legacy")["source"]


def test_a_pinned_snapshot_is_read_and_recorded(hive_run):
    # content_snapshot_id: the older snapshot lacks the revisions made from 2022-07-04 on, so a
    # collection pinned to it has no text for them (missing text) and keeps only older edits
    source, runs, codes, stderr = _iceberg_run(hive_run)
    assert codes["KITRAIN_PINNED"] == "0", stderr[-3000:]
    pinned = _quality(runs, "pinned")
    assert pinned["source"]["content_snapshot_id"] == OLD_SNAPSHOT
    assert pinned["config"]["content_snapshot_id"] == OLD_SNAPSHOT
    times = _revision_times(source)
    old, new = _collected(runs, "pinned"), _collected(runs, "iceberg")
    assert any(times[r] >= OLD_SNAPSHOT_BEFORE for r in new["revision_id"])  # the test's premise
    assert all(times[r] < OLD_SNAPSHOT_BEFORE for r in old["revision_id"])
    assert all(times[p] < OLD_SNAPSHOT_BEFORE for p in old["revision_parent_id"])
    assert set(old["revision_id"]) < set(new["revision_id"])
    step = {s["step"]: s for s in pinned["steps"]}["missing_text"]
    later = sum(times[r] >= OLD_SNAPSHOT_BEFORE for r in new["revision_id"])
    assert step["missing_revision_text"] >= later > 0


def test_a_pin_that_cannot_be_read_fails_naming_it(hive_run):
    source, runs, codes, stderr = _iceberg_run(hive_run)
    # the plain Hive table has no snapshots to pin
    assert codes["KITRAIN_PIN_PLAIN"] == "2"
    assert (f"content_snapshot_id {OLD_SNAPSHOT} pins an Iceberg snapshot, but "
            "wmf_content.mediawiki_content_history_v1 is not an Iceberg table here") in stderr
    # a snapshot the table does not have (expired): named with the current one; nothing published
    assert codes["KITRAIN_GONE"] == "2"
    assert (f"cannot be read at snapshot 12345 (content_snapshot_id; the current one is "
            f"{CURRENT_SNAPSHOT}") in stderr
    assert not (runs / "gone" / "collected").exists() and not (runs / "pin-plain" / "collected").exists()


def test_the_sensor_query_reads_the_pinned_snapshot(hive_run):
    source, runs, codes, stderr = _iceberg_run(hive_run)
    times = sorted(_revision_times(source).values())
    assert codes["KITRAIN_LATEST"] == times[-1].replace(" ", "T")
    assert codes["KITRAIN_LATEST_PINNED"] == max(t for t in times if t < OLD_SNAPSHOT_BEFORE).replace(" ", "T")
