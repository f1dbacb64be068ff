"""Training from a CSV of the published KI dataset, in both namings, and broken files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from kitrain.classifier import run_train
from kitrain.config import TrainConfig
from kitrain.kidataset import DatasetError, read_ki_csv
from kitrain.schema import (
    ACTION_FEATURES,
    ALL_FEATURES,
    MLM_FEATURES,
    TAG_FEATURES,
    USER_GROUPS,
    text_feature_names,
)

PRODUCTION = ("all+user+mlm",)


def published_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Rows as the published dataset writes them (its column names, hyphenated group flags,
    Python-literal texts and actions, no Character counts)."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    frame = pd.DataFrame({
        "wiki_db": rng.choice(["enwiki", "ukwiki"], n), "revision_id": np.arange(n),
        "revision_is_identity_reverted": label, "revision_text_bytes_diff": rng.integers(-500, 500, n),
        "event_comment": "", "page_title": "Kyiv", "is_balanced": 1, "is_anon": label,
        "texts_insert": ["['a sentence']"] * n, "texts_removed": ["[]"] * n,
        "texts_change": ["[('a', 'b')]"] * n,
        "actions": [str({"insert_Text": int(x), "remove_Word": 2}) for x in rng.integers(0, 5, n)],
        "title_p_0": 1.0,
    })
    extra = {name: rng.integers(0, 2, n) for name in TAG_FEATURES}
    extra.update({name: rng.random(n) + label for name in MLM_FEATURES})  # some signal
    extra["is_anonymous"] = label
    extra.update({f"is_{group}": rng.integers(0, 2, n) for group in USER_GROUPS})
    extra.update({name: rng.integers(0, 3, n) for name in ACTION_FEATURES if not name.endswith("Character")})
    return pd.concat([frame, pd.DataFrame(extra)], axis=1)


def simplified_frame(frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The names the original train_model_simplified.py reads (of ``frame``, published_frame's
    rows by default)."""
    frame = published_frame() if frame is None else frame
    renames = {"is_anonymous": "user_is_anonymous", "title_s_0": "bert_title_score"}
    for kind in ("inserts", "removes", "changes"):
        for name in text_feature_names(kind):
            prefix, stat, index, agg = name.split("_")
            renames[name] = f"bert_{prefix}_{stat}{index}_{agg}"
    for name in ACTION_FEATURES:
        action, ctype = name.split("_", 1)
        renames[name] = f"{ctype}_{action}"
    return frame.rename(columns=renames).drop(columns=["is_anon", "title_p_0"])


def test_published_names_map_onto_the_schema(tmp_path):
    path = tmp_path / "train.csv"
    published_frame().to_csv(path, index=False)
    frame = read_ki_csv(str(path), PRODUCTION)
    assert set(ALL_FEATURES) <= set(frame.columns)
    # hyphenated groups become ours; Character (newer than the dataset) counts 0
    assert "is_ipblock_exempt" in frame.columns and frame["insert_Character"].eq(0).all()
    assert frame["is_text_train"].eq(0).all()  # the published file has no such column


def test_simplified_script_names_map_to_the_same_values(tmp_path):
    published, simplified = tmp_path / "a.csv", tmp_path / "b.csv"
    published_frame().to_csv(published, index=False)
    simplified_frame().to_csv(simplified, index=False)
    one = read_ki_csv(str(published), PRODUCTION)[list(ALL_FEATURES)]
    two = read_ki_csv(str(simplified), PRODUCTION)[list(ALL_FEATURES)]
    pd.testing.assert_frame_equal(one, two)


def test_actions_only_as_a_dict_literal(tmp_path):
    # no action columns: the counts come from the `actions` literal
    frame = published_frame().drop(columns=[c for c in ACTION_FEATURES if c in published_frame().columns])
    path = tmp_path / "c.csv"
    frame.to_csv(path, index=False)
    out = read_ki_csv(str(path), PRODUCTION)
    assert out["remove_Word"].eq(2).all() and out["insert_Text"].between(0, 4).all()


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: f.drop(columns=["insert_s_0_max"]), r"lacks column\(s\) needed by .*insert_s_0_max"),
        (lambda f: f.assign(colour="red"), r"unknown column\(s\): \['colour'\]"),
        (lambda f: f.assign(revision_is_identity_reverted=7), "must be 0/1"),
        (lambda f: f.assign(bert_title_score=0.1), "names the same feature twice"),
    ],
)
def test_broken_files_are_named(tmp_path, change, message):
    path = tmp_path / "broken.csv"
    change(published_frame()).to_csv(path, index=False)
    with pytest.raises(DatasetError, match=message):
        read_ki_csv(str(path), PRODUCTION)


def test_bad_actions_literal_names_the_line(tmp_path):
    frame = published_frame().drop(columns=[c for c in ACTION_FEATURES if c in published_frame().columns])
    frame.loc[4, "actions"] = "{'insert_Text': "
    path = tmp_path / "d.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DatasetError, match="d.csv line 6: `actions` is not a dict literal"):
        read_ki_csv(str(path), PRODUCTION)


def test_base_variant_needs_no_text_features(tmp_path):
    # a file without text-model features still trains the base variant
    path = tmp_path / "e.csv"
    published_frame().drop(columns=list(MLM_FEATURES)).to_csv(path, index=False)
    assert "wiki_db" in read_ki_csv(str(path), ("all+base",)).columns
    with pytest.raises(DatasetError, match="lacks column"):
        read_ki_csv(str(path), PRODUCTION)


def test_train_from_csv_writes_the_run_outputs(tmp_path):
    path = tmp_path / "train.csv"
    simplified_frame().to_csv(path, index=False)
    results = run_train(TrainConfig(iterations=30, early_stopping_rounds=0), str(tmp_path / "run"),
                        features_csv=str(path))
    assert (tmp_path / "run" / "classifier" / "all+user+mlm" / "model.cbm").is_file()
    # the label is planted in is_anonymous and every text feature here; that each text feature
    # reaches the model under its own name is test_a_text_feature_trains_the_model_under_its_schema_name's
    assert results["all+user+mlm"]["eval_roc_auc"] > 0.7


def test_anonymous_variants_need_the_anonymous_flag(tmp_path):
    # an anon+ variant does not use is_anonymous as a feature, but picks its rows by it: a file
    # without it is refused by name, not with a KeyError in the middle of training
    path = tmp_path / "f.csv"
    published_frame().drop(columns=["is_anonymous"]).to_csv(path, index=False)
    for variant in ("anon+base", "anon+user+mlm"):
        with pytest.raises(DatasetError, match=r"lacks column\(s\) needed by .*\['is_anonymous'\]"):
            read_ki_csv(str(path), (variant,))
    assert "is_anonymous" not in read_ki_csv(str(path), ("all+base",)).columns


# --- the text-model features reach the model under their own names ---------------------------


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC (Mann-Whitney, ties counted half), computed here so the test needs no kitrain code."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    pos, neg = scores[labels == 1], scores[labels == 0]
    return float(((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum())
                 / (len(pos) * len(neg)))


def noise_frame(n: int, seed: int) -> pd.DataFrame:
    """published_frame's rows with a label of their own: every column, is_anonymous and the text
    features included, is noise with respect to it."""
    frame = published_frame(n, seed)
    frame["revision_is_identity_reverted"] = np.random.default_rng([seed, 1]).integers(0, 2, n)
    return frame


def signal(label: np.ndarray, seed: int) -> np.ndarray:
    """A score that separates the classes well (AUC about 0.9), not perfectly."""
    return label * 2.0 + np.random.default_rng([seed, 2]).normal(size=len(label))


def schema_frame(n: int, seed: int, column: str) -> pd.DataFrame:
    """Held-out rows in kitrain's own feature names, written from the schema's list: noise, with
    the signal in ``column``."""
    rng = np.random.default_rng([seed, 3])
    label = rng.integers(0, 2, n)
    frame = pd.DataFrame({name: rng.random(n) if name in MLM_FEATURES else rng.integers(0, 2, n)
                          for name in ALL_FEATURES})
    frame["wiki_db"] = rng.choice(["enwiki", "ukwiki"], n)
    frame["revision_text_bytes_diff"] = rng.integers(-500, 500, n)
    frame[column] = signal(label, seed)
    frame["revision_is_identity_reverted"] = label
    return frame


@pytest.mark.parametrize(
    "naming, csv_column, feature",
    [
        ("published", "change_p_1_mean", "change_p_1_mean"),
        ("simplified", "bert_insert_s1_max", "insert_s_1_max"),
        ("simplified", "bert_title_score", "title_s_0"),
    ],
)
def test_a_text_feature_trains_the_model_under_its_schema_name(tmp_path, naming, csv_column, feature):
    from kitrain.classifier import load_classifier_dir, predict

    # the label is planted in ONE text-model column of the CSV; is_anonymous and the rest are noise
    frame = noise_frame(600, seed=3)
    frame = frame if naming == "published" else simplified_frame(frame)
    assert csv_column in frame.columns
    frame[csv_column] = signal(frame["revision_is_identity_reverted"].to_numpy(), seed=3)
    path = tmp_path / f"{naming}.csv"
    frame.to_csv(path, index=False)
    run = tmp_path / "run"
    run_train(TrainConfig(iterations=60, learning_rate=0.1, depth=4, seed=5, thread_count=2), str(run),
              features_csv=str(path))
    out = run / "classifier" / "all+user+mlm"
    importances = json.loads((out / "importances.json").read_text())
    assert max(importances, key=importances.get) == feature
    # the model scores rows written in kitrain's names: it finds the signal in that feature, and
    # nothing once that feature is shuffled
    model, description = load_classifier_dir(out)
    held_out = schema_frame(400, seed=11, column=feature)
    label = held_out["revision_is_identity_reverted"].to_numpy()
    assert auc(label, predict(model, description, held_out)) > 0.8
    shuffled = held_out.assign(**{feature: np.random.default_rng(0).permutation(held_out[feature])})
    assert abs(auc(label, predict(model, description, shuffled)) - 0.5) < 0.1


def test_logged_out_editors_by_the_collections_definition(tmp_path):
    # the published 2022 file: is_anonymous as it is, no temporary accounts
    path = tmp_path / "published.csv"
    frame = published_frame(6)
    frame["is_anonymous"] = [1, 0, 0, 0, 0, 0]
    frame["is_ipblock-exempt"] = 1
    frame.to_csv(path, index=False)
    out = read_ki_csv(str(path), PRODUCTION)
    assert out["is_anonymous"].tolist() == [1, 0, 0, 0, 0, 0]
    assert out["is_temporary"].tolist() == [0] * 6
    assert out["is_ipblock_exempt"].tolist() == [0, 1, 1, 1, 1, 1]  # a logged-out editor has no groups
    # a newer file: a temporary-account flag, or only the user's name, makes the row logged out
    frame["event_user_is_temporary"] = [None, 1, 0, None, None, 0]
    frame["event_user_text_historical"] = ["203.0.113.1", "~2025-00001-01", "~2025-00002-02",
                                           "~2025-00003-03", "Editor", "imported>~2025-4"]
    frame.to_csv(path, index=False)
    out = read_ki_csv(str(path), PRODUCTION)
    assert out["is_anonymous"].tolist() == [1, 1, 0, 1, 0, 0]
    assert out["is_temporary"].tolist() == [0, 1, 0, 1, 0, 0]
    assert out["is_ipblock_exempt"].tolist() == [0, 0, 1, 0, 1, 1]
