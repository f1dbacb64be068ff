"""A stand-in for Iceberg's session catalog, for the tests of ``content_snapshot_id``.

Wikimedia's content history table is an Iceberg table; the Iceberg Spark runtime comes from Maven
only, which the test machines cannot reach. ``standin/IcebergStandInCatalog.java`` (compiled here
against pyspark's own jars, so it needs a JDK's ``javac``) gives Spark what kitrain relies on the
way Iceberg does: the ``current-snapshot-id`` table property and ``loadTable(ident, version)``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

SOURCE = Path(__file__).parent / "standin" / "IcebergStandInCatalog.java"
CATALOG_CLASS = "kitrain.standin.IcebergStandInCatalog"
CONTENT_DIR = "wmf_content.mediawiki_content_history_v1"


def javac() -> str | None:
    """The JDK's compiler (None with a JRE only)."""
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home, "bin", "javac") if home else None
    if candidate and candidate.is_file():
        return str(candidate)
    return shutil.which("javac")


def build_jar(workdir: Path) -> Path:
    """Compile the catalog against the installed pyspark's jars; the jar's path."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    classes = workdir / "classes"
    classes.mkdir(parents=True)
    subprocess.run([javac(), "-nowarn", "-d", str(classes), "-cp", f"{jars}/*", str(SOURCE)],
                   check=True, capture_output=True, text=True)
    jar = workdir / "iceberg-standin.jar"
    jar_tool = Path(javac()).with_name("jar")
    subprocess.run([str(jar_tool), "cf", str(jar), "-C", str(classes), "."], check=True,
                   capture_output=True, text=True)
    return jar


def spark_conf(jar: Path, snapshots_dir: Path) -> str:
    """``spark-defaults.conf`` lines making the catalog the session catalog, as Wikimedia's
    ``spark.sql.catalog.spark_catalog org.apache.iceberg.spark.SparkSessionCatalog`` does."""
    return (f"spark.jars {jar}\n"
            f"spark.sql.catalog.spark_catalog {CATALOG_CLASS}\n"
            f"spark.sql.catalog.spark_catalog.snapshots-dir {snapshots_dir}\n")


def write_snapshot(table_dir: Path, snapshot_id: int, content_copy: Path, before: str | None = None,
                   current: bool = False) -> None:
    """One snapshot of the content table: the parquet copy's files (``wiki_id=`` directories
    kept), holding only the revisions made before ``before`` (``YYYY-MM-DD HH:MM:SS``, UTC) when
    given, as an older snapshot of the daily table does."""
    target = table_dir / str(snapshot_id)
    for path in sorted(content_copy.rglob("*.parquet")):
        table = pq.ParquetFile(path).read()  # the file alone, without the wiki_id= of its directory
        if before is not None:
            limit = pc.strptime(before, format="%Y-%m-%d %H:%M:%S", unit="us", error_is_null=False)
            limit = pc.cast(limit, table.schema.field("revision_dt").type)
            table = table.filter(pc.less(table["revision_dt"], limit))
        out = target / path.relative_to(content_copy)
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out)
    if current:
        (table_dir / "current").write_text(f"{snapshot_id}\n", encoding="utf-8")
