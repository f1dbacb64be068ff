"""SQL files ship inside the package and receive every value as a named parameter."""

import importlib.resources

import pytest

from kitrain.spark import load_sql, run_sql, sql_parameters


class RecordingSpark:
    """Stands in for a SparkSession: records what reaches ``spark.sql``."""

    def __init__(self):
        self.calls = []

    def sql(self, text, args=None):
        self.calls.append((text, args))
        return "frame"


def test_sql_files_are_package_resources():
    # loaded from the installed package kitrain.sql, not from the working directory
    files = {p.name for p in importlib.resources.files("kitrain.sql").iterdir()}
    assert {"history_extract.sql", "wikitext.sql"} <= files


def test_parameters_of_each_file():
    assert sql_parameters(load_sql("history_scan")) == {"snapshot", "wiki_db", "start_ts", "end_ts", "timestamp_format"}
    assert sql_parameters(load_sql("history_extract")) == set()
    assert sql_parameters(load_sql("wikitext")) == {"wikitext_snapshot", "wiki_db"}


def test_hostile_value_never_reaches_the_query_text():
    # the value travels in args; the text Spark parses is the file, byte for byte
    spark = RecordingSpark()
    hostile = "enwiki'; DROP TABLE wmf.mediawiki_history; --"
    assert run_sql(spark, "wikitext", wikitext_snapshot="2022-11", wiki_db=hostile) == "frame"
    (text, args), = spark.calls
    assert text == load_sql("wikitext") and hostile not in text
    assert args == {"wikitext_snapshot": "2022-11", "wiki_db": hostile}


def test_missing_or_extra_parameters_fail():
    with pytest.raises(ValueError, match=r"takes parameters \['wiki_db', 'wikitext_snapshot'\]"):
        run_sql(RecordingSpark(), "wikitext", wiki_db="ukwiki")
    with pytest.raises(ValueError, match="takes parameters"):
        run_sql(RecordingSpark(), "wikitext", wiki_db="ukwiki", wikitext_snapshot="2022-11", x=1)


def test_unknown_file_is_named():
    with pytest.raises(FileNotFoundError, match="no SQL file nope.sql"):
        load_sql("nope")


def test_no_sql_text_is_built_by_formatting():
    # the library never formats SQL: spark.sql takes a file's text or a fixed literal
    import re

    import kitrain

    formatted = re.compile(r"spark\.sql\(\s*(f[\"']|[^)]*\.format\(|[^)]*%)")
    root = importlib.resources.files(kitrain)
    offenders = []
    for path in root.iterdir():
        if path.name.endswith(".py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if formatted.search(line):
                    offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []


def test_the_content_table_is_read_in_small_iceberg_batches(monkeypatch):
    # Iceberg's vectorized reader holds a batch of 5,000 rows by default (the table's
    # read.parquet.vectorization.batch-size): the collection's read of the content table asks for
    # its own batch size with Iceberg's batch-size read option, beside the pinned snapshot
    from kitrain import spark as sparkmod

    class Reader:
        def __init__(self):
            self.options = {}

        def option(self, key, value):
            self.options[key] = value
            return self

        def table(self, name):
            self.table_name = name
            return type("Frame", (), {"createOrReplaceTempView": lambda _self, view: setattr(self, "view", view)})()

    class Session:
        def __init__(self):
            self.read = Reader()

    monkeypatch.setattr(sparkmod, "content_table_snapshot", lambda spark: 42)
    session = Session()
    assert sparkmod.register_content_view(session, batch_rows=16) == 42
    assert session.read.options == {"versionAsOf": "42", "batch-size": "16"}
    assert (session.read.table_name, session.read.view) == (sparkmod.CONTENT_TABLE, sparkmod.CONTENT_VIEW)
    session = Session()  # without batch_rows, the table's own setting
    sparkmod.register_content_view(session, pinned=41)
    assert session.read.options == {"versionAsOf": "41"}
