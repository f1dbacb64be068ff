"""The run plan: data interval -> settings, params -> validated config, and the DAG task bodies
that need no Spark (plan, collect arguments, the retrain gate, the spark-submit application's
argument checks)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from kitrain import pipeline
from kitrain.config import CollectConfig, ConfigError
from kitrain.entrypoints import spark_collect
from kitrain.languages import PAPER_LANGUAGES, LanguageError
from kitrain.plan import (
    INTERVAL_FIELDS,
    PARAM_FIELDS,
    PipelineConfig,
    config_from_params,
    default_interval_start,
    interval_settings,
    param_specs,
    plan_file_name,
    resolve_run_dir,
)

PAPER = {
    "snapshot": "2022-07", "wikitext_snapshot": "2022-07", "train_start": "2022-01-01",
    "train_end": "2022-08-01", "validation_date": "2022-07-01", "test_start": "2022-07-01",
    "test_end": "2022-07-08",
}


def test_interval_starting_2022_07_01_gives_the_papers_settings():
    assert interval_settings(dt.date(2022, 7, 1)) == PAPER
    # a timestamp (Airflow's data_interval_start) works the same
    assert interval_settings(dt.datetime(2022, 7, 1, tzinfo=dt.timezone.utc)) == PAPER


def test_interval_settings_cross_year_boundaries():
    # February: the train window starts in the previous year
    feb = interval_settings(dt.date(2023, 2, 1))
    assert (feb["snapshot"], feb["train_start"], feb["train_end"]) == ("2023-02", "2022-08-01", "2023-03-01")
    # December: the train window ends in the next year
    dec = interval_settings(dt.date(2022, 12, 1))
    assert (dec["train_start"], dec["train_end"], dec["test_end"]) == ("2022-06-01", "2023-01-01", "2022-12-08")
    # an interval starting mid-month still means its month
    assert interval_settings(dt.date(2022, 7, 15))["snapshot"] == "2022-07"


def test_default_interval_is_the_last_complete_month():
    assert default_interval_start(dt.datetime(2026, 11, 27, tzinfo=dt.timezone.utc)) == dt.date(2026, 10, 1)
    assert default_interval_start(dt.datetime(2027, 1, 3, tzinfo=dt.timezone.utc)) == dt.date(2026, 12, 1)


def test_params_resolve_against_the_interval(tmp_path):
    cfg = config_from_params({"run_dir": str(tmp_path / "{snapshot}")}, dt.date(2022, 7, 1))
    assert {name: getattr(cfg, name) for name in INTERVAL_FIELDS} == PAPER
    assert cfg.run_dir == str(tmp_path / "2022-07")
    # the default language list is the paper's 47
    assert cfg.languages == PAPER_LANGUAGES and len(cfg.languages) == 47


def test_params_override_the_interval(tmp_path):
    # a given snapshot re-derives the windows from it; the wikitext snapshot follows unless given
    cfg = config_from_params({"snapshot": "2021-03", "run_dir": str(tmp_path / "{snapshot}")},
                             dt.date(2022, 7, 1))
    assert (cfg.snapshot, cfg.wikitext_snapshot, cfg.train_start) == ("2021-03", "2021-03", "2020-09-01")
    assert cfg.run_dir.endswith("2021-03")
    # single settings win over derived ones; None and "" mean "derive"
    cfg = config_from_params({"wikitext_snapshot": "2022-11", "test_end": "2022-07-15", "train_start": None,
                              "validation_date": "", "run_dir": str(tmp_path)}, dt.date(2022, 7, 1))
    assert (cfg.wikitext_snapshot, cfg.test_end, cfg.train_start, cfg.validation_date) == \
        ("2022-11", "2022-07-15", "2022-01-01", "2022-07-01")


def test_default_run_dir_is_per_snapshot():
    # $KITRAIN_RUNS_DIR/<snapshot>, or ~/kitrain/runs/<snapshot> without it
    assert resolve_run_dir(None, "2022-07", {"KITRAIN_RUNS_DIR": "/data/ki/"}) == "/data/ki/2022-07"
    assert resolve_run_dir("", "2022-07", {}).endswith("/kitrain/runs/2022-07")
    # a fixed directory stays fixed
    assert resolve_run_dir("/x/run", "2022-07", {}) == "/x/run"


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"languages": ["xx"]}, LanguageError, "unknown language code 'xx'"),
        ({"languages": ["en'; DROP TABLE x; --"]}, LanguageError, "invalid language code"),
        ({"languages": []}, LanguageError, "language list is empty"),
        ({"snapshot": "2022-13"}, ConfigError, "snapshot must look like YYYY-MM"),
        ({"train_start": "2022-08-01", "train_end": "2022-01-01"}, ConfigError, "train window end"),
        ({"max_records": 0}, ConfigError, "max_records must be an integer >= 1"),
        ({"max_diff_chars": -5}, ConfigError, "max_diff_chars must be an integer >= 1"),
        ({"classifier_iterations": -5}, ConfigError, "classifier_iterations"),
        ({"source": "parquet"}, ConfigError, "needs source_dir"),
        ({"variants": ["all+base"]}, ConfigError, "must include the bundled variant"),
        ({"languges": ["uk"]}, ConfigError, "unknown param.*languges"),
        ({"retrain": "no"}, ConfigError, "retrain must be a boolean"),
        ({"xml_dump": "20220801"}, ConfigError, "xml_dump .* needs source 'dumps', not 'hive'"),
        ({"text_rules": "fancy"}, ConfigError, "text_rules must be one of \\('paper', 'multiscript'\\)"),
        ({"source": "dumps", "dumps_dir": "/d", "xml_dump": "20220701"}, ConfigError,
         "XML dump 20220701 is dated before the end of the window, 2022-08-01"),
        ({"source": "dumps", "dumps_dir": "/d", "xml_dump": "2022-08-01"}, ConfigError,
         "xml_dump must be a dump date YYYYMMDD"),
        # a history snapshot that cannot hold the windows
        ({"snapshot": "2022-07", "train_end": "2022-08-15"}, ConfigError,
         "snapshot 2022-07 holds events up to 2022-07-31, but the window ends 2022-08-15"),
        ({"wikitext_snapshot": "2022-06", "text_source": "wikitext_history"}, ConfigError,
         "wikitext_snapshot 2022-06 holds events up to 2022-06-30"),
        ({"text_source": "wikitext"}, ConfigError, "text_source must be one of"),
        # an Iceberg snapshot of the content table: only where that table is read
        ({"content_snapshot_id": "123", "source": "parquet", "source_dir": "/s"}, ConfigError,
         "content_snapshot_id \\(123\\) pins a snapshot of the Iceberg table .* needs source 'hive', not 'parquet'"),
        ({"content_snapshot_id": "123", "text_source": "wikitext_history"}, ConfigError,
         "needs text_source 'content_history', not 'wikitext_history'"),
        ({"content_snapshot_id": "-3"}, ConfigError, "content_snapshot_id must be an Iceberg snapshot id"),
        ({"content_snapshot_id": str(2**63)}, ConfigError, "content_snapshot_id must be an Iceberg snapshot id"),
    ],
)
def test_bad_params_are_rejected_with_the_value_named(tmp_path, params, error, match):
    with pytest.raises(error, match=match):
        config_from_params({"run_dir": str(tmp_path), **params}, dt.date(2022, 7, 1))


def test_config_round_trips_and_builds_every_stage_config(tmp_path):
    cfg = config_from_params({"run_dir": str(tmp_path), "languages": ["uk", "ja"], "source": "parquet",
                              "source_dir": "/src", "max_records": 500, "max_records_test": 50,
                              "base_model": "tiny", "finetune_max_steps": 3, "max_length": 64,
                              "variants": ["all+user+mlm", "anon+base"], "seed": 7,
                              "max_diff_chars": 1000}, dt.date(2022, 7, 1))
    again = PipelineConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    train, test, anon = cfg.collect_configs("uk")  # anon+base: the anonymous-only collection too
    assert anon.filter_anon and anon.prefix == "anon_users"
    # the modes share the history cache; each mode keeps its own defaults and record limit
    assert (train.mode, train.max_records, train.filter_rw, train.prefix, train.use_cache) == \
        ("train", 500, False, "all_users", True)
    assert (test.mode, test.max_records, test.filter_rw, test.prefix) == ("test", 50, True, "full_test")
    assert train.seed == test.seed == 7 and train.source_dir == "/src"
    assert train.max_diff_chars == test.max_diff_chars == 1000
    assert cfg.prepare_config().validation_date == "2022-07-01"
    assert cfg.prepare_config().seed == 7
    ft = cfg.finetune_config("title", "/models/base")
    assert (ft.max_steps, ft.max_length, ft.base_model, ft.seed) == (3, 64, "/models/base", 7)
    assert cfg.train_config().variants == ("all+user+mlm", "anon+base")
    assert cfg.features_config().max_length == 64
    assert cfg.uses_tiny_model


def test_param_specs_cover_exactly_the_config_fields():
    specs = param_specs()
    assert set(specs) == set(PARAM_FIELDS) | set(INTERVAL_FIELDS) | {"run_dir", "models_dir"}
    # the defaults of the form resolve to a valid config
    defaults = {name: spec["default"] for name, spec in specs.items()}
    cfg = config_from_params({**defaults, "run_dir": "/tmp/x"}, dt.date(2022, 7, 1))
    assert cfg.source == "hive" and cfg.max_records == 300_000 and cfg.retrain is True
    # the defaults: an hour between looks, 21 days of waiting, at least one row, the gate
    assert (cfg.wait_poke_interval_s, cfg.wait_timeout_s, cfg.min_rows) == (3600, 21 * 24 * 3600, 1)
    assert (cfg.max_auc_drop, cfg.max_language_auc_drop, cfg.max_dir_increase, cfg.force_publish) == \
        (0.01, 0.03, 0.10, False)
    assert cfg.compare_sample_rows == 0  # every hold-out row, as before the sample existed
    # every spec has a title for the trigger form
    assert all(spec.get("title") for spec in specs.values())


def test_models_dir_comes_from_the_param_the_environment_or_the_home():
    from kitrain.plan import resolve_models_dir

    assert resolve_models_dir("/m", {"KITRAIN_MODELS_DIR": "/env"}) == "/m"
    assert resolve_models_dir(None, {"KITRAIN_MODELS_DIR": "/env"}) == "/env"
    assert resolve_models_dir("", {}).endswith("/kitrain/models")
    cfg = config_from_params({"run_dir": "/tmp/x", "models_dir": "/models"}, dt.date(2022, 7, 1))
    assert cfg.models_dir == "/models"


@pytest.mark.parametrize("field, value", [
    ("wait_poke_interval_s", 0), ("wait_timeout_s", -1), ("min_rows", 0), ("max_auc_drop", -0.1),
    ("max_language_auc_drop", "x"), ("max_dir_increase", True), ("force_publish", "yes"),
    ("hive_history_location", " "), ("models_dir", "https://user:secret@host/models"),
    ("compare_sample_rows", -1), ("compare_sample_rows", 1.5), ("device", "gpu"),
    ("feature_shard_rows", 0), ("feature_shard_rows", "20000"), ("finetune_gpus", 0), ("finetune_gpus", 1.5),
])
def test_bad_wait_and_gate_settings_are_refused_by_name(field, value):
    with pytest.raises(ConfigError, match=field):
        config_from_params({"run_dir": "/tmp/x", field: value}, dt.date(2022, 7, 1))


def test_plan_file_name_is_safe():
    assert plan_file_name("scheduled__2022-08-01T00:00:00+00:00") == "scheduled__2022-08-01T00_00_00_00_00.json"
    assert "/" not in plan_file_name("../../etc/passwd")
    with pytest.raises(ConfigError, match="empty file name"):
        plan_file_name("///")


def test_plan_task_writes_the_plan_and_the_collect_arguments(tmp_path):
    params = {"languages": ["uk", "ja"], "source": "parquet", "source_dir": "/src",
              "run_dir": str(tmp_path / "runs" / "{snapshot}"), "retrain": False}
    path = pipeline.plan_run(params, dt.datetime(2022, 7, 1, tzinfo=dt.timezone.utc), "manual__x")
    assert path == str(tmp_path / "runs" / "2022-07" / "plans" / "manual__x.json")
    assert pipeline.load_plan(path).languages == ("uk", "ja")
    args = pipeline.collect_arguments(path)
    # one argument list per language, named by its language at index 1 (the UI's map index)
    assert [a[1] for a in args] == ["uk", "ja"]
    configs = [CollectConfig.from_dict(json.loads(v)) for v, k in zip(args[0][1:], args[0]) if k == "--config"]
    assert [c.mode for c in configs] == ["train", "test"] and all(c.lang == "uk" for c in configs)
    # retrain: false stops after collection
    assert pipeline.retrain_requested(path) is False


def test_the_plan_refuses_more_gpus_than_a_finetune_task_holds(tmp_path, caplog):
    params = {"languages": ["uk"], "run_dir": str(tmp_path / "{snapshot}"), "finetune_gpus": 4}
    start = dt.datetime(2022, 7, 1, tzinfo=dt.timezone.utc)
    # the DAG's finetune task holds 2 slots of pool gpu: 4 processes would use GPUs the pool never counted
    with pytest.raises(ConfigError, match="finetune_gpus 4 is more than the 2 slot.* KITRAIN_FINETUNE_GPUS=4"):
        pipeline.plan_run(params, start, "manual__x", finetune_slots=2)
    assert not (tmp_path / "2022-07" / "plans").exists()
    path = pipeline.plan_run(params, start, "manual__y", finetune_slots=4)
    assert pipeline.load_plan(path).finetune_gpus == 4
    # fewer is allowed, with a warning that slots stay idle
    path = pipeline.plan_run({**params, "finetune_gpus": 1}, start, "manual__z", finetune_slots=4)
    assert "holds 4 gpu pool slots and uses 1" in caplog.text
    assert pipeline.load_plan(path).finetune_gpus == 1
    # outside Airflow (no slots given) any number is planned
    assert pipeline.load_plan(pipeline.plan_run(params, start, "manual__w")).finetune_gpus == 4


def test_missing_plan_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="run plan .* does not exist"):
        pipeline.load_plan(str(tmp_path / "nope.json"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lang", "xx", "--run-dir", "/r", "--config", "{}"], "unknown language code 'xx'"),
        (["--lang", "uk", "--run-dir", "/r", "--config", "not json"], "--config is not JSON"),
        (["--lang", "uk", "--run-dir", "/r", "--config", '{"lang": "ja"}'], "for language 'ja', not --lang 'uk'"),
        (["--lang", "uk", "--run-dir", "/r", "--config", '{"lang": "uk", "colour": 1}'], "unknown CollectConfig field"),
        (["--lang", "uk", "--run-dir", "/r", "--config", '[1]'], "must be a JSON object"),
    ],
)
def test_spark_application_rejects_bad_arguments_before_spark(argv, message, capsys):
    assert spark_collect.main(argv) == 2
    assert message in capsys.readouterr().err


def test_spark_application_fails_on_a_window_below_min_rows(monkeypatch, capsys):
    # the mapped collect task of the language fails (non-zero exit) with the one line; all modes
    # go to one collect_language call, which selects every mode's rows before any publishes
    # (tests/test_collect_once.py); Spark itself is not needed to show it
    import kitrain.collect
    import kitrain.spark
    from kitrain.collect import EmptyCollectionError

    ran = []

    def empty_train(spark, configs, run_dir):
        ran.append([cfg.mode for cfg in configs])
        raise EmptyCollectionError("parquet source, snapshot 2022-07, ukwiki, window "
                                   "2022-01-01..2022-08-01 (train): 0 revisions, fewer than min_rows=1")

    monkeypatch.setattr(kitrain.collect, "collect_language", empty_train)
    monkeypatch.setattr(kitrain.spark, "get_spark", lambda *args, **kwargs: object())
    configs = [json.dumps(CollectConfig(lang="uk", mode=mode, source="parquet",
                                        source_dir="/s").to_dict()) for mode in ("train", "test")]
    assert spark_collect.main(["--lang", "uk", "--run-dir", "/r", "--config", configs[0],
                               "--config", configs[1]]) == 2
    assert ran == [["train", "test"]]
    err = capsys.readouterr().err
    assert err == ("spark_collect: error: parquet source, snapshot 2022-07, ukwiki, window "
                   "2022-01-01..2022-08-01 (train): 0 revisions, fewer than min_rows=1\n")


def test_xml_dump_param(tmp_path):
    params = {"run_dir": str(tmp_path), "source": "dumps", "dumps_dir": "/d"}
    # empty: the collection finds the first full-history dump on or after the windows' end
    assert config_from_params({**params, "xml_dump": ""}, dt.date(2022, 7, 1)).xml_dump is None
    cfg = config_from_params({**params, "xml_dump": "20220901"}, dt.date(2022, 7, 1))
    assert cfg.xml_dump == "20220901"
    assert {c.xml_dump for c in cfg.collect_configs("uk")} == {"20220901"}


def test_a_run_dir_on_a_cluster_file_system_is_refused_at_plan_time(tmp_path):
    # collection writes through Hadoop's file system, the later stages do not: a DAG run with an
    # hdfs:// run_dir would collect and then fail at prepare, so the plan refuses it in one line
    with pytest.raises(ConfigError, match=(
            "run_dir: run directory hdfs:///user/ki/2022-07 is not a local path: only collection "
            "writes through Hadoop's file system; prepare, finetune, features, train, evaluate, "
            "bundle, publish need a local path")):
        config_from_params({"run_dir": "hdfs:///user/ki/{snapshot}"}, dt.date(2022, 7, 1))


@pytest.mark.parametrize("command", ["prepare", "features", "train", "evaluate"])
def test_the_local_stages_refuse_a_uri_run_dir(command, tmp_path, monkeypatch, capsys):
    # without the check, Path("s3://bucket/run") is the local directory "s3:/bucket/run"
    from kitrain import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main([command, "--run-dir", "s3://bucket/run"]) == 2
    assert (f"kitrain {command}: error: --run-dir: run directory s3://bucket/run is not a "
            "local path") in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_content_snapshot_id_param_reaches_every_collection(tmp_path):
    # given as text (19 digits are more than the UI's JavaScript numbers hold exactly), read as
    # the exact number; empty: the current snapshot
    params = {"run_dir": str(tmp_path)}
    assert config_from_params({**params, "content_snapshot_id": ""}, dt.date(2026, 4, 1)).content_snapshot_id is None
    cfg = config_from_params({**params, "content_snapshot_id": "7301234567890123457"}, dt.date(2026, 4, 1))
    assert {c.content_snapshot_id for c in cfg.collect_configs("uk")} == {7301234567890123457}
    assert PipelineConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_the_modes_of_a_language_read_the_content_snapshot_the_first_one_read(monkeypatch, tmp_path):
    # one spark-submit collects train and hold-out in one collect_language call, which reads the
    # content table once, at one snapshot, and records it in every mode's report; the later
    # modes' configs record it as their pin (the table changes daily)
    import kitrain.collect
    import kitrain.spark
    from kitrain.collect import same_content_snapshot

    calls = []

    def collect(spark, configs, run_dir):
        calls.append(configs)
        return [{"rows": 1, "mode": cfg.mode, "output": f"{run_dir}/collected",
                 "source": {"source": "hive", "content_snapshot_id": 7301234567890123457}} for cfg in configs]

    monkeypatch.setattr(kitrain.collect, "collect_language", collect)
    monkeypatch.setattr(kitrain.spark, "get_spark", lambda *args, **kwargs: object())
    configs = [CollectConfig(lang="uk", mode=mode) for mode in ("train", "test")]
    assert spark_collect.main(["--lang", "uk", "--run-dir", str(tmp_path),
                               *[arg for cfg in configs for arg in ("--config", json.dumps(cfg.to_dict()))]]) == 0
    assert calls == [configs]
    assert [c.content_snapshot_id for c in same_content_snapshot(configs[1:], 7301234567890123457)] == \
        [7301234567890123457]
    assert same_content_snapshot(configs[1:], None) == configs[1:]
    legacy = CollectConfig(lang="uk", mode="test", text_source="wikitext_history")
    assert same_content_snapshot([legacy], 7301234567890123457) == [legacy]


def test_modes_that_cannot_share_their_reads_are_refused_before_spark(monkeypatch, capsys):
    import kitrain.spark

    monkeypatch.setattr(kitrain.spark, "get_spark", lambda *args, **kwargs: pytest.fail("Spark started"))
    train = CollectConfig(lang="uk", mode="train", source="parquet", source_dir="/s")
    for other, message in (
            (CollectConfig(lang="uk", mode="test", source="parquet", source_dir="/t"),
             "source_dir is '/s' for train, '/t' for test"),
            (CollectConfig(lang="uk", mode="test", source="parquet", source_dir="/s", test_end="2022-08-02",
                           snapshot="2022-08"), "snapshot is '2022-07' for train, '2022-08' for test")):
        assert spark_collect.main(["--lang", "uk", "--run-dir", "/r", "--config", json.dumps(train.to_dict()),
                                   "--config", json.dumps(other.to_dict())]) == 2
        assert message in capsys.readouterr().err
    pinned = [CollectConfig(lang="uk", mode=mode, content_snapshot_id=pin) for mode, pin in (("train", 1), ("test", 2))]
    assert spark_collect.main(["--lang", "uk", "--run-dir", "/r",
                               *[arg for cfg in pinned for arg in ("--config", json.dumps(cfg.to_dict()))]]) == 2
    assert "they pin [1, 2]" in capsys.readouterr().err


def test_text_rules_param_reaches_every_collection(tmp_path):
    cfg = config_from_params({"run_dir": str(tmp_path)}, dt.date(2022, 7, 1))
    assert {c.text_rules for c in cfg.collect_configs("uk")} == {"paper"}  # the original's by default
    cfg = config_from_params({"run_dir": str(tmp_path), "text_rules": "multiscript"}, dt.date(2022, 7, 1))
    assert {c.text_rules for c in cfg.collect_configs("uk")} == {"multiscript"}


def test_anonymous_variants_add_the_anonymous_only_collection(tmp_path):
    cfg = config_from_params({"run_dir": str(tmp_path)}, dt.date(2022, 7, 1))
    assert [(c.mode, c.prefix, c.filter_anon) for c in cfg.collect_configs("uk")] == \
        [("train", "all_users", False), ("test", "full_test", False)]
    cfg = config_from_params({"run_dir": str(tmp_path), "variants": ["all+user+mlm", "anon+base"],
                              "max_records": 500}, dt.date(2022, 7, 1))
    train, test, anon = cfg.collect_configs("uk")
    assert (anon.mode, anon.prefix, anon.filter_anon, anon.max_records) == ("train", "anon_users", True, 500)
    # the same windows and history extract as the all-users train collection
    assert (anon.train_start, anon.train_end, anon.use_cache) == (train.train_start, train.train_end, True)
    assert cfg.prepare_config().anon_prefix == "anon_users"


def test_evaluation_settings_come_from_the_params(tmp_path):
    cfg = config_from_params({"run_dir": str(tmp_path), "min_language_rows": 20, "seed": 5}, dt.date(2022, 7, 1))
    assert (cfg.evaluate_config().min_language_rows, cfg.evaluate_config().seed) == (20, 5)
    assert config_from_params({"run_dir": str(tmp_path)}, dt.date(2022, 7, 1)).evaluate_config().min_language_rows == 10_000
