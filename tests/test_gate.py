"""The quality gate: the figures it compares, its decision at each limit, and promotion into the
models directory (the link, the copy, the record, the report section)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kitrain.config import ConfigError, EvaluateConfig
from kitrain.gate import (
    FORCED,
    HELD,
    PROMOTED,
    GateConfig,
    GateError,
    current_bundle,
    decide,
    gate_metrics,
    model_name,
    run_compare,
    run_promote,
    sample_holdout,
    score_with_bundle,
    swap_current,
)
from kitrain.paths import RunPaths
from kitrain.schema import IS_ANONYMOUS, LABEL


def figures(auc=0.8, dir_=2.0, langs=None):
    """Gate figures by hand: only what decide() reads."""
    return {"roc_auc": auc, "disparate_impact": dir_,
            "languages": {wiki: {"n": n, "roc_auc": a} for wiki, (n, a) in (langs or {}).items()}}


LIMITS = GateConfig(models_dir="/m", min_language_rows=100)


def test_no_current_model_promotes_the_first():
    assert decide(figures(auc=0.51), None, LIMITS) == (PROMOTED, [])


@pytest.mark.parametrize("new_auc, decision", [(0.79, PROMOTED), (0.7899, HELD), (0.85, PROMOTED)])
def test_overall_auc_may_drop_by_max_auc_drop_and_no_more(new_auc, decision):
    got, reasons = decide(figures(auc=new_auc), figures(auc=0.80), LIMITS)
    assert got == decision
    assert (len(reasons) == 1 and "overall ROC AUC" in reasons[0] and "max_auc_drop 0.01" in reasons[0]) \
        == (decision == HELD)


def test_a_language_with_enough_rows_may_drop_by_its_own_limit():
    current = figures(langs={"ukwiki": (500, 0.90), "jawiki": (50, 0.90)})
    # ukwiki 0.04 down on 500 rows: held; jawiki 0.30 down on 50 rows (< min_language_rows): ignored
    new = figures(langs={"ukwiki": (500, 0.86), "jawiki": (50, 0.60)})
    decision, reasons = decide(new, current, LIMITS)
    assert decision == HELD and len(reasons) == 1
    assert reasons[0].startswith("ukwiki ROC AUC 0.8600 is 0.0400 below") and "500 rows" in reasons[0]
    # 0.03 down exactly: passes
    ok = figures(langs={"ukwiki": (500, 0.87), "jawiki": (50, 0.60)})
    assert decide(ok, current, LIMITS) == (PROMOTED, [])
    # a language the current model never saw is not compared
    assert decide(figures(langs={"dewiki": (900, 0.1)}), current, LIMITS) == (PROMOTED, [])


@pytest.mark.parametrize("new_dir, decision", [(2.2, PROMOTED), (2.21, HELD), (1.0, PROMOTED), (None, PROMOTED)])
def test_disparate_impact_may_rise_by_a_tenth_and_no_more(new_dir, decision):
    got, reasons = decide(figures(dir_=new_dir), figures(dir_=2.0), LIMITS)
    assert got == decision
    if decision == HELD:
        assert reasons == ["disparate impact 2.210 is 10.5 % above the current model's 2.000 (max_dir_increase 0.1)"]


def test_force_publish_promotes_a_worse_model_and_keeps_the_reasons():
    cfg = GateConfig(models_dir="/m", force_publish=True)
    decision, reasons = decide(figures(auc=0.5, dir_=9.0), figures(auc=0.8, dir_=2.0), cfg)
    assert decision == FORCED and len(reasons) == 2


def test_an_undefined_auc_is_held_against_a_defined_one():
    decision, reasons = decide(figures(auc=None), figures(auc=0.7), LIMITS)
    assert decision == HELD and "undefined" in reasons[0]


@pytest.mark.parametrize("field, value", [("max_auc_drop", -0.01), ("min_language_rows", 0),
                                          ("force_publish", 1), ("models_dir", "")])
def test_gate_config_refuses_bad_limits_by_name(field, value):
    with pytest.raises(ConfigError, match=field):
        GateConfig(**{"models_dir": "/m", field: value})


def test_gate_metrics_by_hand():
    from kitrain.schema import IS_ANONYMOUS, LABEL

    # ukwiki: the scores order the labels perfectly (AUC 1); jawiki: exactly backwards (AUC 0)
    frame = pd.DataFrame({
        "wiki_db": ["ukwiki"] * 4 + ["jawiki"] * 4,
        "revision_id": range(8),
        LABEL: [1, 1, 0, 0, 1, 1, 0, 0],
        IS_ANONYMOUS: [1, 0, 1, 0, 1, 1, 0, 0],
    })
    scores = np.array([0.9, 0.8, 0.2, 0.1, 0.2, 0.1, 0.9, 0.8])
    got = gate_metrics(frame, scores, EvaluateConfig())
    assert got["languages"]["ukwiki"]["roc_auc"] == 1.0 and got["languages"]["jawiki"]["roc_auc"] == 0.0
    assert (got["n"], got["anonymous_n"], got["languages"]["ukwiki"]["anonymous_n"]) == (8, 4, 2)
    # flagged (> 0.5): rows 0, 1, 6, 7; anonymous rows 0, 2, 4, 5: 1 of 4; registered 1, 3, 6, 7: 3 of 4
    assert got["disparate_impact"] == pytest.approx((1 / 4) / (3 / 4))
    # overall AUC: the share of (reverted, kept) pairs ordered right, ties counting a half
    pairs = [(r, k) for r, y_r in zip(scores, frame[LABEL]) if y_r == 1
             for k, y_k in zip(scores, frame[LABEL]) if y_k == 0]
    assert got["roc_auc"] == pytest.approx(sum(1.0 if r > k else 0.5 if r == k else 0.0 for r, k in pairs) / 16)


def strata_frame(seed: int = 0) -> pd.DataFrame:
    """600 hold-out rows in 4 strata of 360/180/48/12 rows, in shuffled order."""
    sizes = {("ukwiki", 0, 0): 360, ("ukwiki", 1, 1): 180, ("jawiki", 0, 1): 48, ("jawiki", 1, 0): 12}
    rows = [(wiki, label, anon) for (wiki, label, anon), n in sizes.items() for _ in range(n)]
    frame = pd.DataFrame(rows, columns=["wiki_db", LABEL, IS_ANONYMOUS])
    frame["revision_id"] = np.arange(len(frame)) * 7 + 1000
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_the_sample_keeps_every_stratum_share_and_its_size():
    frame = strata_frame()
    chosen = sample_holdout(frame, 100, seed=5)
    assert chosen.sum() == 100
    got = frame[chosen].groupby(["wiki_db", LABEL, IS_ANONYMOUS]).size().to_dict()
    # 100 of 600: a sixth of each stratum (360 -> 60, 180 -> 30, 48 -> 8, 12 -> 2)
    assert got == {("jawiki", 0, 1): 8, ("jawiki", 1, 0): 2, ("ukwiki", 0, 0): 60, ("ukwiki", 1, 1): 30}
    # shares that do not divide: 7 rows of 600 -> 4.2, 2.1, 0.56, 0.14; the rounded-down 6 get the
    # one left over where the remainder is largest (0.56)
    small = frame[sample_holdout(frame, 7, seed=5)].groupby(["wiki_db", LABEL, IS_ANONYMOUS]).size().to_dict()
    assert small == {("jawiki", 0, 1): 1, ("ukwiki", 0, 0): 4, ("ukwiki", 1, 1): 2}


def test_the_sample_is_seeded_and_does_not_follow_the_file_order():
    frame, shuffled = strata_frame(0), strata_frame(1)
    picked = lambda f, seed: frozenset(f.loc[sample_holdout(f, 100, seed), "revision_id"])  # noqa: E731
    assert picked(frame, 5) == picked(frame, 5) == picked(shuffled, 5)
    assert len({picked(frame, seed) for seed in (1, 2, 3, 4)}) == 4


def test_no_sample_when_it_is_off_or_the_hold_out_is_not_larger():
    frame = strata_frame()
    assert sample_holdout(frame, 0, seed=5).all() and sample_holdout(frame, 600, seed=5).all()
    assert not sample_holdout(frame, 599, seed=5).all()


@pytest.mark.parametrize("field, value", [("sample_rows", -1), ("sample_rows", "10"), ("seed", -2)])
def test_gate_config_refuses_a_bad_sample_by_name(field, value):
    with pytest.raises(ConfigError, match=field):
        GateConfig(models_dir="/m", **{field: value})


def test_model_name_is_safe():
    assert model_name("2022-07", "manual__2022-08-01T00:00:00+00:00") == "2022-07__manual__2022-08-01T00_00_00_00_00"
    with pytest.raises(GateError):
        model_name("2022-07", "//")


def test_current_link_is_swapped_in_one_step(tmp_path):
    (tmp_path / "bundles" / "a").mkdir(parents=True)
    (tmp_path / "bundles" / "b").mkdir()
    assert current_bundle(str(tmp_path)) is None
    swap_current(str(tmp_path), "a")
    assert current_bundle(str(tmp_path)) == (tmp_path / "bundles" / "a").resolve()
    swap_current(str(tmp_path), "b")
    assert os.readlink(tmp_path / "current") == "bundles/b"  # relative: the directory can move
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundles", "current"]  # no leftovers
    shutil.rmtree(tmp_path / "bundles" / "b")
    with pytest.raises(GateError, match="not a bundle directory"):
        current_bundle(str(tmp_path))


# -- with a trained run (Spark) ----------------------------------------------------------------

@pytest.fixture()
def gated_run(bundle, tmp_path):
    """A copy of the session's trained and bundled run (the gate writes into its report)."""
    source = Path(bundle).parent
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir, symlinks=True)
    return str(run_dir), GateConfig(models_dir=str(tmp_path / "models"), min_language_rows=10)


def make_worse(run_dir: str) -> None:
    """Turn the evaluated model's scores around: the same rows, the AUC becomes 1 - AUC."""
    path = Path(RunPaths(run_dir).report(), "predictions.parquet")
    table = pq.read_table(path).to_pandas()
    table["score"] = 1.0 - table["score"]
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), path)


def test_first_run_is_promoted_then_a_worse_one_is_held(gated_run):
    run_dir, cfg = gated_run
    models = Path(cfg.models_dir)
    first = run_compare(run_dir, "manual__1", "2022-07", "all+user+mlm", cfg)
    assert first["decision"] == PROMOTED and first["current"] is None and first["split"] == "full_test"
    record = run_promote(run_dir, cfg)
    assert record["bundle"] == "bundles/2022-07__manual__1"
    assert current_bundle(cfg.models_dir) == (models / "bundles" / "2022-07__manual__1").resolve()
    from kitrain.bundle import load_bundle

    load_bundle(models / "current")  # a verified copy
    assert json.loads((models / "runs" / "2022-07__manual__1.json").read_text())["decision"] == PROMOTED

    # the same model again: scoring the current bundle reproduces the evaluation's scores, so the
    # two models' figures are the same and it passes
    again = run_compare(run_dir, "manual__2", "2022-07", "all+user+mlm", cfg)
    assert again["decision"] == PROMOTED and again["compared_with"] == "2022-07__manual__1"
    assert again["current"]["roc_auc"] == pytest.approx(again["new"]["roc_auc"], abs=1e-6)
    assert again["current"]["disparate_impact"] == pytest.approx(again["new"]["disparate_impact"], abs=1e-6)

    # a worse model: held, current stays, the record and the report say why
    make_worse(run_dir)
    worse = run_compare(run_dir, "manual__3", "2022-07", "all+user+mlm", cfg)
    assert worse["decision"] == HELD and any("overall ROC AUC" in r for r in worse["reasons"])
    record = run_promote(run_dir, cfg)
    assert record["bundle"] is None and os.readlink(models / "current") == "bundles/2022-07__manual__1"
    assert not (models / "bundles" / "2022-07__manual__3").exists()
    assert json.loads((models / "runs" / "2022-07__manual__3.json").read_text())["decision"] == HELD
    page = Path(RunPaths(run_dir).report(), "index.html").read_text()
    assert page.count('<section id="gate">') == 1 and "Quality gate: held" in page
    assert worse["reasons"][0].replace("'", "&#x27;") in page

    # forced: promoted in spite of the reasons, and the record says so
    forced_cfg = GateConfig(**{**cfg.to_dict(), "force_publish": True})
    forced = run_compare(run_dir, "manual__4", "2022-07", "all+user+mlm", forced_cfg)
    assert forced["decision"] == FORCED and forced["reasons"] == worse["reasons"]
    assert run_promote(run_dir, forced_cfg)["bundle"] == "bundles/2022-07__manual__4"
    assert os.readlink(models / "current") == "bundles/2022-07__manual__4"


def test_scoring_the_bundle_gives_the_evaluated_scores(gated_run):
    from kitrain.gate import holdout

    run_dir, _ = gated_run
    split, frame, scores = holdout(run_dir, "all+user+mlm")
    np.testing.assert_allclose(score_with_bundle(RunPaths(run_dir).bundle(), run_dir, split, frame), scores,
                               atol=1e-6)
    # any subset in any order: each revision keeps its own score (the shards are read in file order)
    picked = np.random.default_rng(3).permutation(len(frame))[: len(frame) // 3]
    np.testing.assert_allclose(score_with_bundle(RunPaths(run_dir).bundle(), run_dir, split,
                                                 frame.iloc[picked]), scores[picked], atol=1e-6)


def test_the_comparison_on_a_sample_says_so_and_measures_both_models_on_it(gated_run):
    from kitrain.gate import holdout

    run_dir, cfg = gated_run
    split, frame, scores = holdout(run_dir, "all+user+mlm")
    run_compare(run_dir, "manual__1", "2022-07", "all+user+mlm", cfg)
    run_promote(run_dir, cfg)
    size = len(frame) // 2
    sampled = GateConfig(**{**cfg.to_dict(), "sample_rows": size, "seed": 9})
    result = run_compare(run_dir, "manual__2", "2022-07", "all+user+mlm", sampled)
    assert result["sample"] == {"rows": size, "of": len(frame), "sampled": True, "seed": 9,
                                "stratified_by": ["wiki_db", LABEL, IS_ANONYMOUS], "sample_rows": size}
    chosen = sample_holdout(frame, size, 9)
    expected = gate_metrics(frame[chosen].reset_index(drop=True), scores[chosen], EvaluateConfig(min_language_rows=10))
    assert result["new"] == expected and result["new"]["n"] == size
    assert result["current"]["roc_auc"] == pytest.approx(expected["roc_auc"], abs=1e-6)  # the same model
    assert result["current"]["n"] == size
    page = Path(RunPaths(run_dir).report(), "index.html").read_text()
    assert f"a sample of {size:,} of {len(frame):,}" in page


def test_the_compare_mapped_shard_by_shard_equals_one_process(gated_run):
    from kitrain.gate import COMPARE_PLAN, decide_compare, plan_compare_shards, score_compare_shard

    run_dir, cfg = gated_run
    work = Path(RunPaths(run_dir).compare_work())
    # nothing promoted yet: no shard to rescore, and the decision stands on the new model alone
    assert plan_compare_shards(run_dir, "all+user+mlm", cfg) == []
    first = decide_compare(run_dir, "manual__1", "2022-07", cfg)
    assert first["decision"] == PROMOTED and first["current"] is None and first["shards"] == 0
    assert not work.exists()  # decided: the scratch is gone
    run_promote(run_dir, cfg)
    one = run_compare(run_dir, "manual__2", "2022-07", "all+user+mlm", cfg)

    shards = plan_compare_shards(run_dir, "all+user+mlm", cfg)
    # one shard a language of the compared split (the demo's languages fit one shard each)
    assert shards == [f"full_test/{lang}-00000" for lang in ("ja", "uk")]
    assert json.loads((work / COMPARE_PLAN).read_text())["compared_with"] == "2022-07__manual__1"
    paths = [score_compare_shard(run_dir, shard, cfg.device) for shard in shards]
    first_bytes = [Path(p).read_bytes() for p in paths]
    # a shard scored again (a retry) rewrites the same scores
    score_compare_shard(run_dir, shards[1], cfg.device)
    assert Path(paths[1]).read_bytes() == first_bytes[1]
    # the decision refuses while a shard is unscored, naming it
    Path(paths[0]).unlink()
    with pytest.raises(GateError, match=r"1 of the 2 compare shards are not scored yet \(first: full_test/ja-00000\)"):
        decide_compare(run_dir, "manual__3", "2022-07", cfg)
    with pytest.raises(GateError, match="no shard 'test/xx-00000'"):
        score_compare_shard(run_dir, "test/xx-00000", cfg.device)
    score_compare_shard(run_dir, shards[0], cfg.device)
    mapped = decide_compare(run_dir, "manual__3", "2022-07", cfg)
    # the same figures of both models as the one-process compare
    assert mapped["current"] == one["current"] and mapped["new"] == one["new"]
    assert mapped["decision"] == one["decision"] and mapped["shards"] == one["shards"] == 2
    with pytest.raises(GateError, match="no compare plan"):
        decide_compare(run_dir, "manual__4", "2022-07", cfg)


def test_promote_without_a_comparison_is_refused(tmp_path):
    with pytest.raises(GateError, match="gate.json"):
        run_promote(str(tmp_path / "run"), GateConfig(models_dir=str(tmp_path / "m")))


def test_make_demo_prints_the_gate_decision_in_one_line():
    from kitrain.pipeline import gate_line

    base = {"compared_with": None, "reasons": [], "roc_auc": 0.81, "current_roc_auc": None}
    assert gate_line({"gate": {**base, "decision": "promoted"}}) == \
        "gate: promoted (no current model: the first one is promoted)"
    passed = {**base, "decision": "promoted", "compared_with": "2022-07__a", "current_roc_auc": 0.8}
    assert gate_line({"gate": passed}) == ("gate: promoted (ROC AUC 0.8100 against the current model's "
                                           "0.8000 (2022-07__a): not worse beyond the limits)")
    held = {**passed, "decision": "held", "reasons": ["r1", "r2"]}
    assert gate_line({"gate": held}) == "gate: held (r1; r2)"
    assert gate_line({}) == "gate: not run (no report/gate.json)"
