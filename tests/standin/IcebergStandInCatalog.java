package kitrain.standin;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.catalyst.analysis.NoSuchTableException;
import org.apache.spark.sql.connector.catalog.DelegatingCatalogExtension;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.connector.catalog.SupportsRead;
import org.apache.spark.sql.connector.catalog.Table;
import org.apache.spark.sql.connector.catalog.TableCapability;
import org.apache.spark.sql.connector.read.ScanBuilder;
import org.apache.spark.sql.execution.datasources.parquet.ParquetFileFormat;
import org.apache.spark.sql.execution.datasources.v2.parquet.ParquetTable;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.sql.util.CaseInsensitiveStringMap;

/**
 * A test stand-in for Iceberg's session catalog (org.apache.iceberg.spark.SparkSessionCatalog),
 * which Wikimedia's cluster uses for wmf_content.mediawiki_content_history_v1. The Iceberg runtime
 * is published on Maven only, which the test machines cannot reach; this catalog gives Spark what
 * kitrain relies on, the way Iceberg gives it:
 *
 * - a table served from OPTION snapshots-dir/DB.TABLE/ holds one directory of parquet files per
 *   snapshot id, and a file "current" naming the current one;
 * - its properties are Iceberg's: provider "iceberg", format "iceberg/parquet" and
 *   "current-snapshot-id" (Iceberg's SparkTable.properties());
 * - loadTable(ident, version), what Spark calls for VERSION AS OF and the versionAsOf read option,
 *   reads that snapshot, and fails naming the id when there is none, as Iceberg does.
 *
 * Every other table goes to the session catalog (the Hive metastore), as with SparkSessionCatalog.
 */
public class IcebergStandInCatalog extends DelegatingCatalogExtension {
  private Path root;

  @Override
  public void initialize(String name, CaseInsensitiveStringMap options) {
    super.initialize(name, options);
    String dir = options.get("snapshots-dir");
    root = dir == null ? null : Paths.get(dir);
  }

  private Path tableDir(Identifier ident) {
    if (root == null || ident.namespace().length != 1) {
      return null;
    }
    Path dir = root.resolve(ident.namespace()[0] + "." + ident.name());
    return Files.isDirectory(dir) ? dir : null;
  }

  private static String current(Path dir) {
    try {
      return Files.readString(dir.resolve("current")).trim();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Table snapshot(Identifier ident, Path dir, String id) {
    Path data = dir.resolve(id);
    if (!id.matches("[0-9]+") || !Files.isDirectory(data)) {
      throw new IllegalArgumentException("Cannot find snapshot with ID " + id);
    }
    ParquetTable parquet = new ParquetTable(
        ident.toString(), SparkSession.active(), CaseInsensitiveStringMap.empty(),
        scala.jdk.javaapi.CollectionConverters.asScala(List.of(data.toString())).toSeq(),
        scala.Option.empty(), ParquetFileFormat.class);
    Map<String, String> properties = Map.of(
        "provider", "iceberg", "format", "iceberg/parquet", "current-snapshot-id", current(dir));
    return new SnapshotTable(ident.toString(), parquet, properties);
  }

  @Override
  public Table loadTable(Identifier ident) throws NoSuchTableException {
    Path dir = tableDir(ident);
    return dir == null ? super.loadTable(ident) : snapshot(ident, dir, current(dir));
  }

  @Override
  public Table loadTable(Identifier ident, String version) throws NoSuchTableException {
    Path dir = tableDir(ident);
    return dir == null ? super.loadTable(ident, version) : snapshot(ident, dir, version);
  }

  @Override
  public boolean tableExists(Identifier ident) {
    return tableDir(ident) != null || super.tableExists(ident);
  }

  /** One snapshot: the parquet files' scan under Iceberg's table properties. */
  static final class SnapshotTable implements Table, SupportsRead {
    private final String name;
    private final ParquetTable parquet;
    private final Map<String, String> properties;

    SnapshotTable(String name, ParquetTable parquet, Map<String, String> properties) {
      this.name = name;
      this.parquet = parquet;
      this.properties = properties;
    }

    @Override
    public String name() {
      return name;
    }

    @Override
    @SuppressWarnings("deprecation")
    public StructType schema() {
      return parquet.schema();
    }

    @Override
    public Set<TableCapability> capabilities() {
      return EnumSet.of(TableCapability.BATCH_READ);
    }

    @Override
    public Map<String, String> properties() {
      return properties;
    }

    @Override
    public ScanBuilder newScanBuilder(CaseInsensitiveStringMap options) {
      return parquet.newScanBuilder(options);
    }
  }
}
