"""What a user's install gets: the console script, the SQL files inside the wheel, the Java hint."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kitrain import spark as sparkmod

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_ships_the_sql_files(tmp_path):
    # a regular (non-editable) build puts sql/*.sql inside the package as kitrain/sql/; built from
    # a copy of the tracked files, so that a build/ folder left in the checkout cannot hide a
    # module that pyproject does not list
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, check=True, capture_output=True, text=True)
    source = tmp_path / "source"
    for name in tracked.stdout.splitlines():
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(source)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("kitrain-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for sql in (ROOT / "sql").glob("*.sql"):
        assert f"kitrain/sql/{sql.name}" in names
    assert "kitrain/cli.py" in names
    # every module of the package and its sub-packages (pyproject lists the packages one by one)
    for module in (ROOT / "kitrain").rglob("*.py"):
        assert f"kitrain/{module.relative_to(ROOT / 'kitrain').as_posix()}" in names, module
    # the application the DAG hands to spark-submit ships too
    assert "kitrain/entrypoints/spark_collect.py" in names


def test_missing_java_is_one_clear_line(monkeypatch):
    # no java on PATH and no JAVA_HOME: one message that says how to install it
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(sparkmod.shutil, "which", lambda name: None)
    with pytest.raises(sparkmod.JavaMissingError, match="Java 17 is required.*apt-get install"):
        sparkmod.require_java()


def test_cli_reports_missing_java_with_exit_code_2(monkeypatch, tmp_path, capsys):
    from kitrain import cli

    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(sparkmod.shutil, "which", lambda name: None)
    code = cli.main(["collect", "-l", "uk", "--source-dir", str(tmp_path), "--run-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "Java 17 is required" in err and len(err.strip().splitlines()) == 1


def test_console_script_help_lists_the_original_flags():
    # the original script's short flags are kept beside the long ones
    run = subprocess.run([sys.executable, "-m", "kitrain", "collect", "--help"],
                         capture_output=True, text=True, check=True)
    for flag in ("-l LANG, --lang LANG", "-m {train,test}, --mode", "-f1 {0,1}, --filter-anon",
                 "-f2 {0,1}, --filter-rw", "-n MAX_RECORDS, --max-records", "-uc {0,1}, --use-cache",
                 "-p PREFIX, --prefix", "--source {hive,parquet,dumps}", "--source-dir", "--dumps-dir", "--run-dir",
                 "--master", "--snapshot", "--wikitext-snapshot", "--xml-dump", "--train-start", "--test-end",
                 "--text-rules {paper,multiscript}"):
        assert flag in run.stdout, flag


@pytest.mark.parametrize(
    "args, message",
    [
        (["-f1", "2"], "expected 0 or 1"),  # a flag that is neither 0 nor 1
        (["-n", "0"], "expected a number > 0"),  # no rows wanted
        (["-m", "eval"], "invalid choice"),  # unknown mode
    ],
)
def test_cli_rejects_bad_flags(args, message, tmp_path, capsys):
    from kitrain import cli

    with pytest.raises(SystemExit) as info:
        cli.main(["collect", "-l", "uk", "--run-dir", str(tmp_path), *args])
    assert info.value.code == 2 and message in capsys.readouterr().err


def test_cli_rejects_bad_snapshot_and_window(tmp_path, capsys):
    from kitrain import cli

    assert cli.main(["collect", "-l", "uk", "--run-dir", str(tmp_path), "--snapshot", "2022-7"]) == 2
    assert "snapshot must look like YYYY-MM" in capsys.readouterr().err
    assert cli.main(["collect", "-l", "uk", "--run-dir", str(tmp_path),
                     "--test-start", "2022-07-08", "--test-end", "2022-07-01"]) == 2
    assert "test window end 2022-07-01 must be after its start" in capsys.readouterr().err
