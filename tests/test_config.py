"""CollectConfig validation, mode defaults and the dict round trip."""

import pytest

from kitrain.config import CollectConfig, ConfigError
from kitrain.languages import LanguageError
from kitrain.paths import RunPaths


def test_defaults_reproduce_the_paper():
    cfg = CollectConfig(lang="uk")
    assert (cfg.snapshot, cfg.wikitext_snapshot) == ("2022-07", "2022-11")
    assert cfg.window == ("2022-01-01", "2022-08-01")
    assert CollectConfig(lang="uk", mode="test").window == ("2022-07-01", "2022-07-08")


def test_mode_defaults_follow_the_original_commands():
    # train: -f2 0 -n 300000 -p all_users; test: -f2 1 -n 100000 -p full_test
    train, test = CollectConfig(lang="uk"), CollectConfig(lang="uk", mode="test")
    assert (train.filter_rw, train.max_records, train.prefix) == (False, 300_000, "all_users")
    assert (test.filter_rw, test.max_records, test.prefix) == (True, 100_000, "full_test")
    # explicit values win over the mode's defaults
    assert CollectConfig(lang="uk", mode="test", filter_rw=False).filter_rw is False


def test_round_trip_through_dict():
    cfg = CollectConfig(lang="ja", mode="test", source="parquet", source_dir="/x", seed=7, min_rows=50)
    assert CollectConfig.from_dict(cfg.to_dict()) == cfg


def test_min_rows_defaults_to_one_and_comes_from_the_plan():
    from kitrain.plan import PipelineConfig

    assert CollectConfig(lang="uk").min_rows == 1  # an empty window fails by default
    plan = PipelineConfig(run_dir="/tmp/x", snapshot="2022-07", wikitext_snapshot="2022-11",
                          train_start="2022-01-01", train_end="2022-08-01", test_start="2022-07-01",
                          test_end="2022-07-08", validation_date="2022-07-01", languages=("uk",),
                          variants=("all+user+mlm", "anon+base"), min_rows=25)
    assert {c.min_rows for c in plan.collect_configs("uk")} == {25}  # both modes and the anonymous one


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lang": "en'; DROP TABLE x; --"}, "invalid language code"),  # hostile language
        ({"mode": "eval"}, "mode must be one of"),  # unknown mode
        ({"snapshot": "2022-13"}, "snapshot must look like YYYY-MM"),  # no 13th month
        ({"wikitext_snapshot": "2022/11"}, "wikitext_snapshot must look like YYYY-MM"),
        ({"train_start": "2022-02-30"}, "train_start must be a date"),  # impossible date
        ({"test_end": "2022-06-01"}, "test window end 2022-06-01 must be after"),  # end < start
        ({"max_records": 0}, "max_records must be an integer >= 1"),
        ({"max_records": -5}, "max_records must be an integer >= 1"),
        ({"source": "mysql"}, "source must be one of"),
        ({"source": "parquet"}, "needs source_dir"),  # parquet without a directory
        ({"prefix": "../etc"}, "prefix must be"),  # path traversal through the prefix
        ({"filter_anon": 1}, "filter_anon must be a boolean"),
        ({"output_files": 0}, "output_files must be an integer >= 1"),
        ({"max_diff_chars": 0}, "max_diff_chars must be an integer >= 1"),
        ({"min_rows": 0}, "min_rows must be an integer >= 1"),  # 0 would let an empty window through
        ({"min_rows": True}, "min_rows must be an integer >= 1"),
        ({"min_rows": "5"}, "min_rows must be an integer >= 1"),
    ],
)
def test_bad_values_fail_naming_the_field(kwargs, message):
    args = {"lang": "uk", **kwargs}
    with pytest.raises((ConfigError, LanguageError), match=message):
        CollectConfig(**args)


def test_unknown_dict_field_is_named():
    with pytest.raises(ConfigError, match="unknown CollectConfig field.*colour"):
        CollectConfig.from_dict({"lang": "uk", "colour": "red"})


def test_run_paths_layout(tmp_path):
    paths = RunPaths(str(tmp_path))
    assert paths.collected("all_users", "train", "uk") == f"{tmp_path}/collected/all_users/train/uk"
    assert paths.collect_quality("full_test", "test", "en").endswith(
        "quality/collect/full_test/test/en/quality.json"
    )
    with pytest.raises(ValueError, match="mode"):
        paths.collected("all_users", "dev", "uk")
    with pytest.raises(LanguageError):
        paths.collected("all_users", "train", "../../x")
