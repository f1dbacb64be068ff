"""CatBoost training of the variants and their evaluation, on the demo run's features."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from kitrain import cli
from kitrain.classifier import load_classifier_dir, predict, read_features, run_train
from kitrain.config import ConfigError, EvaluateConfig, TrainConfig
from kitrain.evaluate import PREDICTION_COLUMNS, ExternalScoresError, run_evaluate
from kitrain.paths import RunPaths
from kitrain.schema import variant_features

pytestmark = pytest.mark.spark  # builds on the collected demo run

VARIANTS = ("all+user+mlm", "anon+base")  # the variants of conftest's ``trained``


def test_each_variant_is_saved_without_pickle(trained):
    run_dir, results = trained
    for variant in VARIANTS:
        out = Path(RunPaths(run_dir).classifier(variant))
        assert sorted(p.name for p in out.iterdir()) == [
            "features.json", "importances.json", "metrics.json", "model.cbm", "train_config.json"]
        description = json.loads((out / "features.json").read_text())
        assert tuple(description["features"]) == variant_features(variant)
        assert "wiki_db" in description["categorical"]
        importances = json.loads((out / "importances.json").read_text())
        assert set(importances) == set(variant_features(variant))
        assert results[variant]["eval_roc_auc"] is not None


def test_anon_variant_trains_on_anonymous_rows_only(trained, demo_features):
    run_dir, results = trained
    train = read_features(run_dir, "train")
    classifier_rows = train[train.is_text_train == 0]
    anon_rows = int((classifier_rows.is_anonymous == 1).sum())
    fit_eval = results["anon+base"]["rows"]
    assert fit_eval["fit"] + fit_eval["eval"] == anon_rows < len(classifier_rows)


def test_training_is_seeded(trained):
    # the same seed gives the same predictions
    run_dir, _ = trained
    frame = read_features(run_dir, "test")
    model, description = load_classifier_dir(RunPaths(run_dir).classifier("all+user+mlm"))
    first = predict(model, description, frame)
    run_train(TrainConfig(variants=("all+user+mlm",), iterations=60, early_stopping_rounds=20), run_dir)
    model, description = load_classifier_dir(RunPaths(run_dir).classifier("all+user+mlm"))
    np.testing.assert_allclose(predict(model, description, frame), first, atol=1e-9)


def test_evaluate_writes_metrics_and_predictions(trained, tmp_path):
    run_dir, _ = trained
    test = read_features(run_dir, "test")
    # an external score for every other test revision, as an ORES export would give
    external = test.iloc[::2][["revision_id", "wiki_db"]].assign(score=np.linspace(0, 1, len(test.iloc[::2])))
    csv = tmp_path / "ores.csv"
    external.to_csv(csv, index=False)
    report = run_evaluate(EvaluateConfig(external_scores=str(csv), external_name="ores"), run_dir)

    saved = json.loads(Path(RunPaths(run_dir).report(), "metrics.json").read_text())
    assert saved["splits"].keys() == {"test", "full_test"}
    for split, results in report["splits"].items():
        assert set(results["variants"]) == set(VARIANTS)
        metrics = results["variants"]["all+user+mlm"]
        assert 0 <= metrics["unbalanced"]["all"]["roc_auc"] <= 1
        assert metrics["balanced"]["all"]["n"] <= metrics["unbalanced"]["all"]["n"]
        assert {"accuracy", "f1", "precision", "recall", "pr_at_recall"} <= set(metrics["balanced"]["all"])
        assert {r["wiki_db"] for r in metrics["per_language"]} == {"ukwiki", "jawiki"}
        assert set(metrics["fairness"]) == {"disparate_impact_labels", "disparate_impact_predictions",
                                            "not_reverted_ratio_labels", "not_reverted_ratio_predictions",
                                            "roc_auc_difference"}
        assert "is_anonymous" in results["baselines"]
        # each text model alone, on the revisions with its kind of text
        assert set(results["text_models"]) == {"inserts", "removes", "changes", "title"}
        assert results["text_models"]["title"]["revisions_with_text"] == metrics["unbalanced"]["all"]["n"]
        # the balanced anonymous figures come from a balanced sample of anonymous edits
        assert 0 < metrics["balanced"]["anonymous"]["n"] <= metrics["unbalanced"]["anonymous"]["n"]
    ores = report["splits"]["test"]["baselines"]["ores"]
    assert ores["n"] == len(external)
    assert set(ores["variants_on_same_rows"]) == set(VARIANTS)

    page = Path(RunPaths(run_dir).report(), "index.html").read_text(encoding="utf-8")
    assert all(v in page for v in VARIANTS) and "ores" in page and "ukwiki" in page
    predictions = pq.read_table(Path(RunPaths(run_dir).report(), "predictions.parquet")).to_pandas()
    assert tuple(predictions.columns) == PREDICTION_COLUMNS
    assert len(predictions) == len(VARIANTS) * (len(test) + len(read_features(run_dir, "full_test")))
    assert predictions.score.between(0, 1).all()


def test_evaluate_scores_the_features_file_by_file_with_only_the_columns_it_uses(trained, monkeypatch):
    # the same scores as the whole split in one frame; each file read with the kept columns and
    # the variants' features only (no titles, no timestamps), one file at a time
    from kitrain import atomic
    from kitrain.evaluate import KEPT_COLUMNS, split_scores

    run_dir, _ = trained
    paths = RunPaths(run_dir)
    models = {v: load_classifier_dir(paths.classifier(v)) for v in ("all+user+mlm", "anon+base")}
    whole = read_features(run_dir, "test")
    reads = []
    real = atomic.read_table
    monkeypatch.setattr(atomic, "read_table", lambda f, columns=None: reads.append((f, columns)) or real(f, columns))
    frame, scores = split_scores(run_dir, "test", models)
    assert len(reads) == len(list(Path(paths.features("test")).glob("*.parquet"))) >= 2
    assert all("page_title" not in columns and "event_timestamp" not in columns for _, columns in reads)
    pd.testing.assert_frame_equal(frame, whole.loc[:, list(KEPT_COLUMNS)])
    for variant, (model, description) in models.items():
        np.testing.assert_array_equal(scores[variant], predict(model, description, whole))


def test_broken_external_scores_are_named(trained, tmp_path):
    run_dir, _ = trained
    csv = tmp_path / "broken.csv"
    pd.DataFrame({"revision_id": [1], "score": [0.5]}).to_csv(csv, index=False)
    with pytest.raises(ExternalScoresError, match=r"broken.csv lack column\(s\) \['wiki_db'\]"):
        run_evaluate(EvaluateConfig(external_scores=str(csv)), run_dir)


def test_cli_train_and_evaluate(trained, capsys):
    run_dir, _ = trained
    assert cli.main(["train", "--run-dir", run_dir, "--variant", "all+base", "--iterations", "30"]) == 0
    assert Path(RunPaths(run_dir).classifier("all+base"), "model.cbm").is_file()
    assert cli.main(["evaluate", "--run-dir", run_dir]) == 0
    with pytest.raises(SystemExit):
        cli.main(["train", "--run-dir", run_dir, "--variant", "everyone+base"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"variants": ("all+magic",)}, "unknown variant"),
        ({"variants": ()}, "at least one variant"),
        ({"iterations": 0}, "iterations must be an integer >= 1"),
        ({"eval_share": 1.5}, "eval_share must be between 0 and 1"),
        ({"thread_count": 0}, "thread_count must be -1 or a positive integer"),
    ],
)
def test_bad_train_config(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        TrainConfig(**kwargs)


def test_bundle_round_trip(bundle):
    from kitrain.bundle import load_bundle

    loaded = load_bundle(bundle)
    manifest = loaded.manifest
    assert manifest["variant"] == "all+user+mlm" and manifest["languages"] == ["ja", "uk"]
    assert manifest["snapshots"] == ["2022-07"] and manifest["versions"]["mwedittypes"].startswith("3.")
    assert tuple(manifest["features"]) == variant_features("all+user+mlm")
    assert set(manifest["metrics"]) == {"test", "full_test"}
    # scoring reuses the features' settings (the demo run's max length is 64, not the default)
    assert loaded.features_config().max_length == 64
    # and the diff's text rules of the collections (the paper's by default); a bundle made before
    # the choice existed was diffed by the multiscript rules
    assert manifest["text_rules"] == loaded.text_rules == "paper"
    assert type(loaded)(loaded.root, {k: v for k, v in manifest.items() if k != "text_rules"}).text_rules == "multiscript"
    # every file but the manifest is listed with its sha256; the language models are safetensors
    files = {str(p.relative_to(bundle)) for p in Path(bundle).rglob("*") if p.is_file()}
    assert set(manifest["files"]) == files - {"manifest.json"}
    assert {f"mlm/{t}/model.safetensors" for t in ("inserts", "removes", "changes", "title")} <= files
    assert not any(f.endswith((".pkl", ".pickle", ".bin", ".pt")) for f in files)
    card = (Path(bundle) / "MODEL_CARD.md").read_text()
    assert "## Intended use" in card and "ukwiki" in card and "Fairness" in card


@pytest.mark.parametrize("damage", ["change", "remove", "add"])
def test_tampered_bundle_is_refused_naming_the_file(bundle, tmp_path, damage):
    import shutil

    from kitrain.bundle import BundleError, load_bundle

    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    target = copy / "mlm" / "inserts" / "model.safetensors"
    if damage == "change":  # one byte flipped
        data = bytearray(target.read_bytes())
        data[-1] ^= 0xFF
        target.write_bytes(bytes(data))
        message = "changed since it was bundled.*mlm/inserts/model.safetensors"
    elif damage == "remove":
        target.unlink()
        message = "bundle file missing: .*mlm/inserts/model.safetensors"
    else:
        (copy / "extra.pkl").write_bytes(b"\x80\x04")
        message = "does not list: .*extra.pkl"
    with pytest.raises(BundleError, match=message):
        load_bundle(copy)

