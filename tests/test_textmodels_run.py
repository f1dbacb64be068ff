"""Preparation, the tiny model, fine-tuning of the four targets and the features, on demo data.

Builds on the session's collected demo run (two languages, both modes). Every model trains for a
step or a few: enough to prove each target trains, saves, reloads and feeds the features.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from kitrain import cli
from kitrain.config import FeaturesConfig, FinetuneConfig
from kitrain.features import run_features
from kitrain.finetune import run_finetune
from kitrain.models import ModelLoadError, load_classifier, load_tokenizer
from kitrain.paths import TARGETS, RunPaths
from kitrain.schema import FEATURE_TABLE_COLUMNS, text_feature_names
from kitrain.textdata import NoExamplesError

pytestmark = pytest.mark.spark  # builds on the collected demo run


@pytest.fixture(scope="module")
def run(demo_features):
    """The demo run, prepared, with a tiny base model, four models and features (conftest)."""
    return demo_features[0]


@pytest.fixture
def scratch_run(run, tmp_path):
    """A copy of the prepared run and its base model, for tests that retrain: the shared run's
    models stay the ones its features and bundle were built from."""
    import shutil

    copy = tmp_path / "run"
    for part in ("prepared", "base-model"):
        shutil.copytree(Path(run) / part, copy / part)
    return str(copy)


def quick(target: str, run_dir: str, **kw) -> FinetuneConfig:
    return FinetuneConfig(target=target, base_model=RunPaths(run_dir).base_model(), max_steps=1,
                          batch_size=4, max_length=64, **kw)


@pytest.fixture(scope="module")
def finetuned(demo_features):
    return demo_features[1]


@pytest.mark.parametrize("target", TARGETS)
def test_each_target_trains_saves_and_reloads(run, finetuned, target):
    out = Path(RunPaths(run).mlm(target))
    # safetensors weights and the tokenizer, with the metrics and the config beside them
    assert {"model.safetensors", "config.json", "tokenizer.json", "metrics.json",
            "kitrain_finetune.json"} <= {p.name for p in out.iterdir()}
    assert not any("checkpoint" in str(p) for p in out.rglob("*"))
    record = json.loads((out / "kitrain_finetune.json").read_text())
    assert record["global_step"] == 1 and record["device"] == "cpu" and record["dtype"] == "float32"
    metrics = json.loads((out / "metrics.json").read_text())
    assert ("rmse" if target == "title" else "accuracy") in metrics
    # reloads by path like any hub model, with the right head
    model = load_classifier(str(out), 1 if target == "title" else 2)
    assert model.config.num_labels == (1 if target == "title" else 2)
    assert load_tokenizer(str(out))("a b c")["input_ids"]
    # the checkpoints were removed once the model was published
    assert not Path(RunPaths(run).mlm_work(target)).exists()


def test_features_from_the_four_models(run, demo_features):
    summary = demo_features[2]
    paths = RunPaths(run)
    for split in ("train", "test", "full_test"):
        prepared = pq.read_table(paths.prepared(split)).to_pandas()
        features = pq.read_table(paths.features(split)).to_pandas()
        assert summary["rows"][split] == len(prepared) == len(features)
        assert tuple(features.columns) == FEATURE_TABLE_COLUMNS
        # -1 exactly where a revision has no inserted text (the paper's text rules keep empty
        # sentences, which say nothing and are not scored)
        no_insert = features.revision_id.isin(
            prepared.loc[prepared.texts_insert.map(lambda texts: not any(t.strip() for t in texts)), "revision_id"])
        assert (features.loc[no_insert, "insert_s_0_max"] == -1).all()
        with_insert = features.loc[~no_insert]
        assert len(with_insert) and (with_insert["insert_p_0_max"] > 0).all()
        # mean probabilities of the two classes sum to one
        np.testing.assert_allclose(with_insert["insert_p_0_mean"] + with_insert["insert_p_1_mean"], 1,
                                   rtol=1e-5)
        assert features["title_s_0"].notna().all()
    # each distinct text was scored once
    assert summary["texts"]["title"]["distinct_texts"] < summary["texts"]["title"]["texts"]


def test_killed_finetuning_resumes_from_its_checkpoint(scratch_run):
    run = scratch_run
    from transformers import TrainerCallback

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 3:
                raise KeyboardInterrupt("simulated kill at step 3")

    cfg = FinetuneConfig(**{**quick("removes", run).to_dict(), "max_steps": 4, "save_steps": 2, "seed": 7})
    with pytest.raises(KeyboardInterrupt):
        run_finetune(cfg, run, callbacks=[Kill()])
    work = Path(RunPaths(run).mlm_work("removes"))
    assert (work / "checkpoint-2").is_dir()
    # started again, it continues at step 2 and ends with the same number of steps
    result = run_finetune(cfg, run)
    assert result["resumed_from_step"] == 2 and result["global_step"] == 4


def test_changed_configuration_does_not_resume(scratch_run, caplog):
    run = scratch_run
    from transformers import TrainerCallback

    class Kill(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            if state.global_step == 3:
                raise KeyboardInterrupt

    base = {**quick("inserts", run).to_dict(), "max_steps": 4, "save_steps": 2}
    with pytest.raises(KeyboardInterrupt):
        run_finetune(FinetuneConfig(**base), run, callbacks=[Kill()])
    # another learning rate: the old checkpoints are not reused
    result = run_finetune(FinetuneConfig(**{**base, "learning_rate": 1e-4}), run)
    assert result["resumed_from_step"] is None and "another configuration" in caplog.text


def test_no_examples_is_a_clear_error(run):
    with pytest.raises(NoExamplesError, match="no training examples for target 'title'"):
        run_finetune(quick("title", run, min_title_revisions=10_000), run)


def test_unavailable_hub_model_is_one_clear_line(run):
    with pytest.raises(ModelLoadError, match="not a local directory.*--base-model DIR"):
        run_finetune(FinetuneConfig(target="inserts", base_model="no-such-org/no-such-model",
                                    max_steps=1), run)


def test_cli_finetune_rejects_unknown_target(run, capsys):
    with pytest.raises(SystemExit):
        cli.main(["finetune", "--run-dir", run, "--target", "comments"])
    assert "invalid choice" in capsys.readouterr().err


def test_features_without_models_is_named(tmp_path, run):
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(Path(run) / "prepared", copy / "prepared")
    with pytest.raises(ModelLoadError, match="no fine-tuned inserts model.*kitrain finetune --target inserts"):
        run_features(FeaturesConfig(), str(copy))


def test_feature_names_are_the_published_ones():
    # the names of the published dataset, shared by training, evaluation and scoring
    assert text_feature_names("inserts")[:4] == ("insert_s_0_max", "insert_s_1_max", "insert_p_0_max",
                                                 "insert_p_1_max")
    assert text_feature_names("changes")[-1] == "change_p_1_mean"


@pytest.fixture
def features_copy(run, tmp_path):
    """A copy of the run's prepared splits and fine-tuned models, for features runs of its own."""
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(Path(run) / "prepared", copy / "prepared")
    for target in TARGETS:
        shutil.copytree(RunPaths(run).mlm(target), RunPaths(str(copy)).mlm(target))
    return str(copy)


def _features(run_dir):
    paths = RunPaths(run_dir)
    return {split: pq.read_table(paths.features(split)).to_pandas().sort_values("revision_id")
            .reset_index(drop=True) for split in ("train", "test", "full_test")}


def test_features_in_shards_resume_after_a_crash_and_equal_one_run(run, demo_features, features_copy,
                                                                  monkeypatch):
    # shards of 7 rows (the demo run's features: one shard per language and split); the run dies
    # while writing its fourth shard; the rerun keeps the three finished ones, scores only the
    # rest, and publishes what one unsharded run published (one text per batch: the same numbers
    # for a text whatever else its batch holds)
    import kitrain.features as features

    cfg = FeaturesConfig(batch_size=1, max_length=64, shard_rows=7)
    scored, crashes = [], []
    real = features.feature_shard

    def dies_on_the_fourth(table, *args, **kwargs):
        scored.append(table["revision_id"].to_pylist())
        if len(scored) == 4 and not crashes:
            crashes.append(1)
            raise MemoryError("killed")
        return real(table, *args, **kwargs)

    monkeypatch.setattr(features, "feature_shard", dies_on_the_fourth)
    with pytest.raises(MemoryError):
        run_features(cfg, features_copy)
    assert not Path(RunPaths(features_copy).features_root()).exists()  # nothing published
    finished = scored[:3]
    scored.clear()
    summary = run_features(cfg, features_copy)
    assert summary["resumed_shards"] == 3
    rescored = {r for shard in scored for r in shard}
    assert not rescored & {r for shard in finished for r in shard}
    total = sum(summary["shards"].values())
    assert len(scored) == total - 3 and total > len(demo_features[2]["rows"]) * 2  # really sharded
    assert summary["rows"] == demo_features[2]["rows"]
    assert not Path(RunPaths(features_copy).features_work()).exists()
    one_run = _features(run)
    for split, frame in _features(features_copy).items():
        assert frame.equals(one_run[split]), split


def test_features_discard_the_shards_of_other_settings(features_copy, monkeypatch, caplog):
    import kitrain.features as features

    calls = []
    real = features.feature_shard

    def dies_on_the_second(table, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("killed")
        return real(table, *args, **kwargs)

    monkeypatch.setattr(features, "feature_shard", dies_on_the_second)
    with pytest.raises(MemoryError):
        run_features(FeaturesConfig(batch_size=1, max_length=64, shard_rows=7), features_copy)
    monkeypatch.setattr(features, "feature_shard", real)
    summary = run_features(FeaturesConfig(batch_size=1, max_length=64, shard_rows=5), features_copy)
    assert summary["resumed_shards"] == 0
    assert "holds shards of other settings or inputs: discarded" in caplog.text


def _shard_bytes(run_dir, shard):
    return (Path(RunPaths(run_dir).features_work()) / f"{shard}.parquet").read_bytes()


def test_features_mapped_shard_by_shard_equal_one_run_bit_for_bit(run, features_copy):
    # the DAG's way: a plan naming the shards, each scored alone (here in reverse order, as
    # workers finish them in any order), one scored twice, then the fan-in; the published features
    # equal the one-process run's (same device, same batch settings), and scoring a finished shard
    # again rewrites the same bytes
    from kitrain.features import assemble_features, plan_feature_shards, score_feature_shard

    cfg = FeaturesConfig(batch_size=1, max_length=64, shard_rows=5)
    shards = plan_feature_shards(cfg, features_copy)
    paths = RunPaths(features_copy)
    expected = []
    for split in ("train", "test", "full_test", "anon_train"):
        for file in sorted(Path(paths.prepared(split)).glob("*.parquet")):
            rows = pq.ParquetFile(file).metadata.num_rows
            expected += [f"{split}/{file.stem}-{i:05d}" for i in range((rows + 4) // 5)]
    assert shards == expected and len(shards) > 8  # really more than one shard a language and split
    for shard in reversed(shards):
        assert score_feature_shard(cfg, features_copy, shard).endswith(f"{shard}.parquet")
    first = _shard_bytes(features_copy, shards[0])
    score_feature_shard(cfg, features_copy, shards[0])
    assert _shard_bytes(features_copy, shards[0]) == first
    summary = assemble_features(cfg, features_copy)
    assert sum(summary["shards"].values()) == len(shards) and summary["devices"] == {"cpu/float32": len(shards)}
    assert summary["rows"] == json.loads(Path(RunPaths(run).features_summary()).read_text())["rows"]
    one_run = _features(run)
    for split, frame in _features(features_copy).items():
        assert frame.equals(one_run[split]), split


def test_a_shard_table_is_the_same_rows_as_the_streamed_shard(features_copy, tmp_path):
    # a mapped shard reads only its row groups: the same rows as the one-process stream gives,
    # wherever the shard starts and ends against the row groups (here 3 rows a group)
    import pyarrow as pa

    from kitrain.features import shard_table, shard_tables

    source = sorted(Path(RunPaths(features_copy).prepared("train")).glob("*.parquet"))[0]
    file = tmp_path / source.name
    pq.write_table(pq.read_table(source), file, row_group_size=3)
    assert pq.ParquetFile(file).metadata.num_row_groups > 3
    for shard_rows in (1, 2, 3, 4, 7, 1000):
        streamed = list(shard_tables(file, shard_rows))
        for index, table in enumerate(streamed):
            assert shard_table(file, shard_rows, index).equals(table), (shard_rows, index)
        with pytest.raises(Exception, match=f"no shard {len(streamed)} of {shard_rows} rows"):
            shard_table(file, shard_rows, len(streamed))
    assert isinstance(streamed[0], pa.Table)


def test_features_assemble_only_when_every_shard_is_scored(features_copy):
    from kitrain.features import assemble_features, plan_feature_shards, score_feature_shard
    from kitrain.prepare import PrepareError

    cfg = FeaturesConfig(batch_size=1, max_length=64, shard_rows=5)
    with pytest.raises(PrepareError, match="no shard plan in .*plan the shards again"):
        score_feature_shard(cfg, features_copy, "train/uk-00000")
    shards = plan_feature_shards(cfg, features_copy)
    for shard in shards[1:]:
        score_feature_shard(cfg, features_copy, shard)
    with pytest.raises(PrepareError, match=f"1 of the {len(shards)} feature shards are not scored yet "
                                           f"\\(first: {shards[0]}\\)"):
        assemble_features(cfg, features_copy)
    assert not Path(RunPaths(features_copy).features_root()).exists()  # nothing published
    for bad in ("train/zz-00000", "nosuch/uk-00000", "train/uk", "../x"):
        with pytest.raises(PrepareError, match="no shard|not a feature shard"):
            score_feature_shard(cfg, features_copy, bad)
    # another setting than the plan's: the shards are not of this plan
    with pytest.raises(PrepareError, match="no shard plan"):
        score_feature_shard(FeaturesConfig(batch_size=2, max_length=64, shard_rows=5), features_copy, shards[0])


def test_a_rerun_rescores_the_shards_of_another_device(features_copy, monkeypatch):
    # shards finished on a GPU worker are not kept by a CPU rerun: their scores differ in the
    # last digits, and the published features are of one device
    import kitrain.features as features

    cfg = FeaturesConfig(batch_size=1, max_length=64, shard_rows=7)
    shards = features.plan_feature_shards(cfg, features_copy)
    monkeypatch.setattr(features.Scorers, "precision", property(lambda self: "cuda/bfloat16"))
    features.score_feature_shard(cfg, features_copy, shards[0])
    monkeypatch.undo()
    summary = run_features(cfg, features_copy)
    assert summary["resumed_shards"] == 0 and summary["devices"] == {"cpu/float32": len(shards)}


def test_features_read_only_the_columns_they_use(features_copy):
    # the columns the features do not use (the comment, the user name, the reverting revision's
    # facts) stay on disk: the shards carry exactly INPUT_COLUMNS, in shards of the size asked
    from kitrain.features import INPUT_COLUMNS, shard_tables

    file = sorted(Path(RunPaths(features_copy).prepared("train")).glob("*.parquet"))[0]
    on_disk = pq.read_schema(file).names
    assert set(INPUT_COLUMNS) < set(on_disk)
    shards = list(shard_tables(file, 3))
    assert all(t.column_names == list(INPUT_COLUMNS) for t in shards)
    assert [t.num_rows for t in shards[:-1]] == [3] * (len(shards) - 1) and 0 < shards[-1].num_rows <= 3
    assert sum(t.num_rows for t in shards) == pq.ParquetFile(file).metadata.num_rows


@pytest.mark.parametrize("target", ["inserts", "changes"])
def test_examples_are_tokenised_when_fetched_to_the_ids_of_the_batch(run, target):
    # fine-tuning holds the texts, not every example's token lists (gigabytes at the paper's
    # scale): each example is tokenised when the Trainer fetches it, to the ids that tokenising
    # all of them at once gives (changes: text pairs)
    from kitrain.finetune import encode, training_frames

    tokenizer = load_tokenizer(RunPaths(run).base_model())
    train_frame, _ = training_frames(quick(target, run), run)
    calls = []

    def counting(*args, **kwargs):
        calls.append(len(args[0]) if isinstance(args[0], list) else 1)
        return tokenizer(*args, **kwargs)

    dataset = encode(counting, train_frame, 64, regression=False)
    assert calls == [] and len(dataset) == len(train_frame)
    pairs = train_frame["text_pair"].tolist() if "text_pair" in train_frame else None
    assert (pairs is not None) == (target == "changes")
    whole = tokenizer(train_frame["text"].tolist(), pairs, truncation=True, max_length=64)
    for i in range(len(dataset)):
        item = dataset[i]
        assert item.pop("labels") == int(train_frame["label"].iloc[i])
        assert item == {key: values[i] for key, values in whole.items()}
    assert calls == [1] * len(dataset)


def test_the_command_line_runs_the_three_steps_of_the_mapped_features(run, features_copy, capsys):
    # what an operator without Airflow runs on several GPU machines: plan, one shard each, assemble
    settings = ["--run-dir", features_copy, "--batch-size", "1", "--max-length", "64", "--shard-rows", "6",
                "--device", "cpu"]
    assert cli.main(["features", *settings, "--plan-shards"]) == 0
    shards = capsys.readouterr().out.split()
    assert shards and all("/" in s for s in shards)
    for shard in shards:
        assert cli.main(["features", *settings, "--shard", shard]) == 0
    assert cli.main(["features", *settings, "--assemble"]) == 0
    one_run = _features(run)
    for split, frame in _features(features_copy).items():
        assert frame.equals(one_run[split]), split
    # a step asked for with other settings than the plan's says so in one line
    assert cli.main(["features", *settings[:-2], "--device", "auto", "--assemble"]) == 2
    assert "no shard plan" in capsys.readouterr().err


def test_the_run_param_sets_the_shard_size():
    import datetime as dt

    from kitrain.plan import config_from_params

    cfg = config_from_params({"run_dir": "/tmp/x", "feature_shard_rows": 500}, dt.date(2022, 7, 1))
    assert cfg.features_config().shard_rows == 500
    assert config_from_params({"run_dir": "/tmp/x"}, dt.date(2022, 7, 1)).features_config().shard_rows == 20_000
