"""The seeds: the same seed gives the same samples and models, another seed other ones.

``test_training_is_seeded`` elsewhere retrains with the same seed only, which a stage that ignores
its seed passes too (CatBoost is deterministic on its own). Here every seeded stage is also run with
different seeds, and must differ: ``prepare`` (the balance and fine-tuning keys), ``finetune`` (the
balanced examples and their evaluation split) and ``train`` (the evaluation split and CatBoost's own
randomness). All on small hand-made data: no Spark, no language model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kitrain import classifier
from kitrain.config import FinetuneConfig, PrepareConfig, TrainConfig
from kitrain.finetune import training_frames
from kitrain.paths import TARGETS, RunPaths
from kitrain.prepare import IS_BALANCED, IS_TEXT_TRAIN, prepare_language
from kitrain.schema import IS_ANONYMOUS, LABEL, variant_features
from tests.test_leaks import prepared_run
from tests.test_prepare import rows

SEEDS = (1, 2, 3, 4, 5, 6)


def distinct(values) -> int:
    return len({repr(v) for v in values})


# --- prepare ------------------------------------------------------------------------------------


def collected(n: int, start_id: int, titles: int = 40) -> pd.DataFrame:
    """n collected revisions (every 3rd reverted, months 1..8 in turn) over ``titles`` pages."""
    frame = rows(n, start_id=start_id, reverted_every=3)
    frame["page_title"] = [f"T{i % titles}" for i in range(n)]
    return frame


def prepared(seed: int) -> dict[str, pd.DataFrame]:
    splits, _ = prepare_language(collected(400, 1), collected(120, 5000), PrepareConfig(seed=seed), "uk",
                                 collected(120, 9000))
    return splits


def keyed(frame: pd.DataFrame, key: str) -> frozenset:
    return frozenset(frame.loc[frame[key] == 1, "revision_id"])


def test_prepare_same_seed_same_splits():
    first, again = prepared(7), prepared(7)
    assert set(first) == {"train", "test", "full_test", "anon_train"}
    for split in first:
        pd.testing.assert_frame_equal(first[split], again[split])


def test_prepare_seed_draws_the_balance_and_fine_tuning_keys():
    runs = {seed: prepared(seed) for seed in SEEDS}
    for split in ("train", "test", "full_test", "anon_train"):
        # the same rows whatever the seed: only the sampled keys move
        assert distinct(tuple(r[split]["revision_id"]) for r in runs.values()) == 1
        assert distinct(keyed(r[split], IS_BALANCED) for r in runs.values()) == len(SEEDS), split
    # 24 of the 40 titles go to the fine-tuning: another seed, other titles
    assert distinct(keyed(r["train"], IS_TEXT_TRAIN) for r in runs.values()) == len(SEEDS)
    assert distinct(keyed(r["anon_train"], IS_TEXT_TRAIN) for r in runs.values()) == len(SEEDS)


# --- finetune -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> str:
    run_dir = str(tmp_path_factory.mktemp("seeds"))
    prepared_run(run_dir)
    return run_dir


def example_ids(frame: pd.DataFrame) -> frozenset:
    """The examples of a frame: revisions (or, for the title model, pages)."""
    key = ["revision_id"] if "revision_id" in frame else ["wiki_db", "text"]
    return frozenset(map(tuple, frame[key].to_numpy().tolist()))


@pytest.mark.parametrize("target", TARGETS)
def test_finetune_same_seed_same_examples(run, target):
    first = training_frames(FinetuneConfig(target=target, seed=3), run)
    again = training_frames(FinetuneConfig(target=target, seed=3), run)
    for one, two in zip(first, again):
        pd.testing.assert_frame_equal(one, two)


@pytest.mark.parametrize("target", TARGETS)
def test_finetune_seed_draws_the_examples_and_their_evaluation_split(run, target):
    frames = {seed: training_frames(FinetuneConfig(target=target, seed=seed), run) for seed in SEEDS}
    # the evaluation examples (2 of 42 per class, 1 of 16 titles) change with the seed ...
    assert distinct(example_ids(ev) for _, ev in frames.values()) >= 3
    # ... and so does the training set: for the classifiers also the balanced sample (42 of the 54
    # revisions that were not reverted), for the title model the titles left out for evaluation
    assert distinct(example_ids(tr) for tr, _ in frames.values()) >= 3
    if target != "title":
        # the class balance is drawn anew, not only the split
        picked = {seed: example_ids(pd.concat([tr, ev])) for seed, (tr, ev) in frames.items()}
        assert distinct(picked.values()) == len(SEEDS)


@pytest.mark.parametrize("target", TARGETS)
def test_finetune_reads_the_fine_tuning_rows_and_one_text_column(run, target, tmp_path, monkeypatch):
    # the examples equal those built from the whole split, and the prepared files need hold no
    # other column: a run whose files keep only the target's column gives the same frames; the
    # text targets read in batches (of 7 rows here, of a row group in a run)
    import shutil

    from kitrain import finetune as finetune_module

    monkeypatch.setattr(finetune_module, "ROW_GROUP_ROWS", 7)

    import pyarrow.parquet as pq

    from kitrain.finetune import TARGET_COLUMNS, target_examples
    from kitrain.prepare import read_split
    from kitrain.textdata import build_examples

    whole = read_split(run, "train")
    expected = build_examples(target, whole[whole[IS_TEXT_TRAIN] == 1].reset_index(drop=True), 3)
    from kitrain import atomic, finetune

    read, seen = [], []
    real_read, real_batches, real_build = atomic.read_table, atomic.read_batches, finetune.build_examples
    monkeypatch.setattr(atomic, "read_table", lambda f, columns=None: read.append(columns) or real_read(f, columns))
    monkeypatch.setattr(atomic, "read_batches",
                        lambda f, columns, rows: read.append(columns) or real_batches(f, columns, rows))
    monkeypatch.setattr(finetune, "build_examples",
                        lambda t, df, m: seen.append(set(df[IS_TEXT_TRAIN])) or real_build(t, df, m))
    got, count = target_examples(target, run, 3)
    assert read and all(sorted(c) == sorted(["revision_id", "wiki_db", LABEL, IS_TEXT_TRAIN, TARGET_COLUMNS[target]])
                        for c in read)
    assert seen and all(keys == {1} for keys in seen)  # the classifier's rows never reach pandas
    assert count == int((whole[IS_TEXT_TRAIN] == 1).sum()) and not got.empty
    pd.testing.assert_frame_equal(got, expected)

    pruned = str(tmp_path / "pruned")
    shutil.copytree(run, pruned)
    keep = ["revision_id", "wiki_db", LABEL, IS_TEXT_TRAIN, TARGET_COLUMNS[target]]
    for file in Path(RunPaths(pruned).prepared("train")).glob("*.parquet"):
        pq.write_table(pq.read_table(file, columns=keep), file)
    for one, two in zip(training_frames(FinetuneConfig(target=target, seed=3), run),
                        training_frames(FinetuneConfig(target=target, seed=3), pruned)):
        pd.testing.assert_frame_equal(one, two)


# --- train --------------------------------------------------------------------------------------


def classifier_rows(n: int = 120, positives: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    data = {name: rng.integers(0, 3, n) for name in variant_features("all+base")}
    data["wiki_db"] = rng.choice(["ukwiki", "jawiki"], n)
    data[LABEL] = [1] * positives + [0] * (n - positives)
    data[IS_TEXT_TRAIN] = 0
    data[IS_ANONYMOUS] = rng.integers(0, 2, n)
    data["revision_id"] = np.arange(n)
    return pd.DataFrame(data)


def quick(seed: int) -> TrainConfig:
    return TrainConfig(variants=("all+base",), iterations=10, seed=seed, thread_count=1)


def model_content(model) -> dict:
    """The trained model as CatBoost's JSON, without what CatBoost stamps on every model however
    it was trained: a random GUID and the time training finished."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.json"
        model.save_model(str(path), format="json")
        content = json.loads(path.read_text())
    for stamp in ("model_guid", "train_finish_time"):
        content.get("model_info", {}).pop(stamp, None)
    return content


@pytest.fixture
def eval_rows(monkeypatch):
    """The revision ids of every evaluation split the classifier draws, in order."""
    drawn: list[frozenset] = []
    real = classifier.stratified_mask
    frame = classifier_rows()

    def spy(labels, *args, **kwargs):
        mask = real(labels, *args, **kwargs)
        # train_variant draws over the rows of the population in frame order: all rows here
        drawn.append(frozenset(frame["revision_id"].to_numpy()[mask]))
        return mask

    monkeypatch.setattr(classifier, "stratified_mask", spy)
    return drawn


def test_train_seed_draws_the_evaluation_split(eval_rows):
    frame = classifier_rows()
    for seed in (1, 1, *SEEDS[1:]):
        _, metrics = classifier.train_variant(frame, "all+base", quick(seed))
        assert metrics["rows"] == {"fit": 108, "eval": 12}
    assert len(eval_rows) == len(SEEDS) + 1
    assert eval_rows[0] == eval_rows[1]  # the same seed: the same 12 rows
    assert distinct(eval_rows[1:]) == len(SEEDS)  # each seed its own


def test_train_seed_seeds_catboost(monkeypatch):
    # one evaluation split for every seed: what is left to differ is CatBoost's own randomness
    real = classifier.stratified_mask
    monkeypatch.setattr(classifier, "stratified_mask",
                        lambda labels, share, rng, *a, **kw: real(labels, share, np.random.default_rng(0), *a, **kw))
    frame = classifier_rows()
    models = {}
    for seed in (1, 2, 3):
        model, _ = classifier.train_variant(frame, "all+base", quick(seed))
        assert model.get_all_params()["random_seed"] == seed
        models[seed] = model_content(model)
    again, _ = classifier.train_variant(frame, "all+base", quick(1))
    assert model_content(again) == models[1]
    assert models[1] != models[2] and models[1] != models[3] and models[2] != models[3]


def test_run_train_same_seed_same_model_another_seed_another(tmp_path):
    from pathlib import Path

    run_dir = str(tmp_path)
    features = Path(RunPaths(run_dir).features("train"))
    features.mkdir(parents=True)
    classifier_rows().to_parquet(features / "uk.parquet", index=False)

    def trained(seed: int) -> tuple[dict, dict]:
        classifier.run_train(quick(seed), run_dir)
        out = Path(RunPaths(run_dir).classifier("all+base"))
        model = classifier.load_cbm(out / classifier.MODEL_FILE)
        return model_content(model), json.loads((out / "train_config.json").read_text())

    first, config = trained(11)
    assert config["seed"] == 11
    assert trained(11)[0] == first
    assert trained(12)[0] != first
