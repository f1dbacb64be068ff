"""``kitrain score``: the bundle's models on raw revisions, as in training; failed diffs answered."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from kitrain.classifier import read_features
from kitrain.config import CollectConfig, FeaturesConfig
from kitrain.paths import RunPaths

pytestmark = pytest.mark.spark  # builds on the collected demo run and its bundle

#: Largest difference of a probability allowed between scoring in the production batches and the
#: evaluation (one text per batch, see conftest's ``demo_features``). Batches of different
#: composition pad differently, so the text models' outputs differ by fp32 noise: measured at most
#: 3e-8 on the demo features. CatBoost's prediction is piecewise constant in its features, so the
#: probabilities came out identical (difference 0.0 on all 62 revisions); a probability moves only
#: if a feature crosses a tree border, and then by a leaf's weight: 3e-6 to 9e-3 (median 2e-3) on
#: this bundle. 1e-4 leaves room for float rounding and refuses a real train/serve difference
#: (which moves many features by far more than the noise). The barely trained demo models give
#: near-identical outputs that crowd around the borders: the closest value with any noise lies
#: 2.8e-7 from one, ten times the largest noise seen, so another CPU or torch build could flip a
#: split; that is the noise the README describes, not a bug (the batch-size-1 test is exact).
BATCHING_ATOL = 1e-4


def revisions_jsonl(source: Path, features: pd.DataFrame) -> list[str]:
    """JSON lines for the feature rows, built from the demo source tables (as a scorer would get)."""
    history = pd.concat([pq.read_table(f).to_pandas()
                         for f in sorted((source / "mediawiki_history").rglob("*.parquet"))])
    history = history[history.event_entity == "revision"].set_index("revision_id")
    texts = pd.concat([pq.read_table(f, columns=["revision_id", "revision_text"]).to_pandas()
                       for f in sorted((source / "mediawiki_wikitext_history").rglob("*.parquet"))])
    text = dict(zip(texts.revision_id, texts.revision_text))
    lines = []
    for rid in features.revision_id:
        row = history.loc[rid]
        lines.append(json.dumps({
            "revision_id": int(rid), "wiki_db": row.wiki_db, "page_title": row.page_title,
            "parent_text": text[int(row.revision_parent_id)], "revision_text": text[int(rid)],
            "event_user_is_anonymous": bool(row.event_user_is_anonymous),
            "event_user_groups": list(row.event_user_groups), "revision_tags": list(row.revision_tags),
            "revision_text_bytes_diff": int(row.revision_text_bytes_diff),
        }, ensure_ascii=False))
    return lines


def blanking(revision_id: int, chars: int) -> str:
    """A ukwiki revision that blanks a page of about ``chars`` characters."""
    paragraph = "== Розділ ==\nКиїв — столиця України, місто на Дніпрі.\n\n"
    parent = paragraph * (chars // len(paragraph) + 1)
    return json.dumps({"revision_id": revision_id, "wiki_db": "ukwiki", "page_title": "Великий",
                       "parent_text": parent, "revision_text": "",
                       "event_user_is_anonymous": True}, ensure_ascii=False)


def evaluation_scores(run_dir: str) -> pd.DataFrame:
    predictions = pq.read_table(Path(RunPaths(run_dir).report(), "predictions.parquet")).to_pandas()
    return predictions[(predictions.split == "full_test") & (predictions.variant == "all+user+mlm")]


def read_output(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def test_score_gives_the_evaluation_probabilities(bundle, demo_source, trained, tmp_path):
    # revisions of full_test, scored from raw wikitext through the bundle, match the evaluation
    from kitrain.score import run_score

    run_dir, _ = trained
    full_test = read_features(run_dir, "full_test")
    lines = revisions_jsonl(demo_source, full_test)
    lines.insert(3, "{not json")  # a malformed line is reported and skipped
    lines.insert(7, json.dumps({"revision_id": 1, "wiki_db": "xxwiki"}))
    path = tmp_path / "revisions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "scores.jsonl"
    summary = run_score(str(bundle), str(path), str(out), batch_size=1)
    assert summary["scored"] == len(full_test) and summary["errors"] == 0
    assert [s["line"] for s in summary["skipped"]] == [4, 8]
    assert "not JSON" in summary["skipped"][0]["error"]
    assert "missing field 'page_title'" in summary["skipped"][1]["error"]

    scored = pd.DataFrame(read_output(out))
    assert list(scored.columns) == ["revision_id", "wiki_db", "score"]
    merged = scored.merge(evaluation_scores(run_dir), on=["revision_id", "wiki_db"], suffixes=("", "_eval"))
    assert len(merged) == len(full_test)
    np.testing.assert_allclose(merged.score, merged.score_eval, rtol=0, atol=1e-12)


def test_default_batching_gives_the_evaluation_probabilities_within_float_noise(
        bundle, demo_source, trained, tmp_path, monkeypatch):
    # the production batching (many texts per batch, padded to the longest) against the
    # evaluation's one text per batch; the demo bundle records batch_size=1 (conftest), so the
    # production default is passed explicitly
    from kitrain import features as featmod
    from kitrain.score import run_score

    sizes: list[int] = []
    real = featmod.token_batches

    def recording(*args, **kwargs):
        batches = real(*args, **kwargs)
        sizes.extend(len(b) for b in batches)
        return batches

    monkeypatch.setattr(featmod, "token_batches", recording)
    run_dir, _ = trained
    full_test = read_features(run_dir, "full_test")
    path = tmp_path / "revisions.jsonl"
    path.write_text("\n".join(revisions_jsonl(demo_source, full_test)) + "\n", encoding="utf-8")
    out = tmp_path / "scores.jsonl"
    summary = run_score(str(bundle), str(path), str(out), batch_size=FeaturesConfig.batch_size)
    assert summary["scored"] == len(full_test)
    assert max(sizes) > 1, "texts were scored one per batch: the test compares nothing"

    merged = pd.DataFrame(read_output(out)).merge(evaluation_scores(run_dir), on=["revision_id", "wiki_db"],
                                                  suffixes=("", "_eval"))
    assert len(merged) == len(full_test)
    np.testing.assert_allclose(merged.score, merged.score_eval, rtol=0, atol=BATCHING_ATOL)


def test_score_diffs_with_the_bundles_text_rules(bundle, demo_source, trained, monkeypatch):
    from kitrain import diff as diffmod
    from kitrain.bundle import load_bundle
    from kitrain.score import score_lines

    run_dir, _ = trained
    lines = revisions_jsonl(demo_source, read_features(run_dir, "full_test"))[:3]
    seen = []
    real = diffmod.edit_diff

    def recording(prev, curr, lang, max_span_chars=None, text_rules="paper"):
        if curr != diffmod._CHECK_CURR:  # the library's self-check before scoring
            seen.append(text_rules)
        return real(prev, curr, lang, max_span_chars, text_rules)

    monkeypatch.setattr(diffmod, "edit_diff", recording)
    loaded = load_bundle(bundle)
    multiscript = type(loaded)(loaded.root, {**loaded.manifest, "text_rules": "multiscript"})
    score_lines(multiscript, lines)
    assert seen == ["multiscript"] * 3
    seen.clear()
    score_lines(loaded, lines)
    assert seen == ["paper"] * 3


def test_score_refuses_a_tampered_bundle(bundle, tmp_path):
    import shutil

    from kitrain.bundle import BundleError
    from kitrain.score import run_score

    copy = tmp_path / "bundle"
    shutil.copytree(bundle, copy)
    (copy / "classifier.cbm").write_bytes(b"tampered")
    (tmp_path / "in.jsonl").write_text("{}\n")
    with pytest.raises(BundleError, match="classifier.cbm"):
        run_score(str(copy), str(tmp_path / "in.jsonl"))


class WouldStall(Exception):
    """Raised by the spy below instead of parsing a span over the limit (which takes minutes)."""


def test_a_too_large_edit_is_answered_with_diff_too_large_without_parsing(
        bundle, demo_source, trained, tmp_path, monkeypatch):
    # a page of twice the bundle's limit blanked: answered at once with an error line, in input
    # order among the scored revisions, and the diff library never sees the span
    from kitrain import diff as diffmod
    from kitrain.bundle import load_bundle
    from kitrain.score import run_score

    limit = load_bundle(bundle).max_diff_chars
    spans: list[int] = []
    real = diffmod.plain_edit_diff

    def spy(prev, curr, lang, text_rules="paper"):
        spans.append(len(prev) + len(curr))
        if len(prev) + len(curr) > limit:
            raise WouldStall(f"asked to parse a span of {len(prev) + len(curr)} characters")
        return real(prev, curr, lang, text_rules)

    monkeypatch.setattr(diffmod, "plain_edit_diff", spy)
    run_dir, _ = trained
    lines = revisions_jsonl(demo_source, read_features(run_dir, "full_test"))[:3]
    lines.insert(1, blanking(999_999_999, 2 * limit))
    path = tmp_path / "revisions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "scores.jsonl"
    summary = run_score(str(bundle), str(path), str(out))

    assert max(spans) <= limit  # the blanking was refused before any parsing
    assert summary["scored"] == 3 and summary["errors"] == 1 and summary["skipped"] == []
    answers = read_output(out)
    assert [a["revision_id"] for a in answers] == [json.loads(x)["revision_id"] for x in lines]
    assert answers[1] == {"revision_id": 999_999_999, "wiki_db": "ukwiki", "error": "DiffTooLarge"}
    assert all(0 <= a["score"] <= 1 and "error" not in a for i, a in enumerate(answers) if i != 1)


def test_score_applies_the_limit_the_bundle_records(bundle):
    # the same edit is scored under the recorded limit and refused under a lower one
    from kitrain.bundle import load_bundle
    from kitrain.score import score_lines

    loaded = load_bundle(bundle)
    line = blanking(5, 3000)
    results, _ = score_lines(loaded, [line])
    assert results.error.tolist() == [None] and 0 <= results.score[0] <= 1
    lowered = type(loaded)(loaded.root, {**loaded.manifest, "max_diff_chars": 1000})
    results, _ = score_lines(lowered, [line])
    assert results.error.tolist() == ["DiffTooLarge"] and np.isnan(results.score[0])
    assert results.revision_id.tolist() == [5] and results.wiki_db.tolist() == ["ukwiki"]


def test_a_failing_diff_is_answered_with_its_error_class(bundle, demo_source, trained, tmp_path,
                                                         monkeypatch):
    from kitrain import diff as diffmod
    from kitrain.score import run_score

    run_dir, _ = trained
    lines = revisions_jsonl(demo_source, read_features(run_dir, "full_test"))[:4]
    failing = json.loads(lines[2])
    assert sum(json.loads(x)["revision_text"] == failing["revision_text"] for x in lines) == 1
    real = diffmod.edit_diff

    def deep(prev, curr, lang, max_span_chars=None, text_rules="paper"):
        if curr == failing["revision_text"]:
            raise RecursionError("maximum recursion depth exceeded")
        return real(prev, curr, lang, max_span_chars, text_rules)

    monkeypatch.setattr(diffmod, "edit_diff", deep)
    lines.insert(1, '{"revision_id": 7}')  # not a revision: skipped, no output line
    path = tmp_path / "revisions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "scores.jsonl"
    summary = run_score(str(bundle), str(path), str(out), batch_size=1)

    assert summary["scored"] == 3 and summary["errors"] == 1
    assert [s["line"] for s in summary["skipped"]] == [2]
    answers = read_output(out)
    valid = [json.loads(x)["revision_id"] for i, x in enumerate(lines) if i != 1]
    assert [a["revision_id"] for a in answers] == valid
    assert answers[2] == {"revision_id": failing["revision_id"], "wiki_db": failing["wiki_db"],
                          "error": "RecursionError"}
    assert all(set(a) == {"revision_id", "wiki_db", "score"} for i, a in enumerate(answers) if i != 2)


def test_the_manifest_records_the_collections_max_diff_chars(bundle, trained):
    from kitrain.bundle import load_bundle

    run_dir, _ = trained
    reports = sorted(Path(run_dir, "quality", "collect").glob("*/*/*/quality.json"))
    recorded = {json.loads(r.read_text())["config"]["max_diff_chars"] for r in reports}
    # the demo's two languages in both modes, and whatever other tests collected into the shared run
    assert len(reports) >= 4 and recorded == {CollectConfig.max_diff_chars}  # the demo's default
    loaded = load_bundle(bundle)
    assert loaded.manifest.get("max_diff_chars") == loaded.max_diff_chars == CollectConfig.max_diff_chars
    # a bundle made before the limit was recorded diffs with the collection's default
    old = type(loaded)(loaded.root, {k: v for k, v in loaded.manifest.items() if k != "max_diff_chars"})
    assert old.max_diff_chars == CollectConfig.max_diff_chars


def _quality(run_dir: Path, prefix: str, mode: str, lang: str, limit: int | None) -> None:
    config = {"snapshot": "2022-07", "wikitext_snapshot": "2022-07"}
    if limit is not None:
        config["max_diff_chars"] = limit
    report = run_dir / "quality" / "collect" / prefix / mode / lang / "quality.json"
    report.parent.mkdir(parents=True)
    report.write_text(json.dumps({"lang": lang, "config": config}), encoding="utf-8")


def test_the_smallest_limit_of_several_collections_is_recorded(tmp_path, caplog):
    from kitrain.bundle import _collection_facts, scoring_max_diff_chars

    _quality(tmp_path, "p", "train", "uk", 400_000)
    _quality(tmp_path, "p", "test", "uk", 1_000)
    _quality(tmp_path, "p", "train", "ja", None)  # collected before the setting existed
    with caplog.at_level(logging.INFO, logger="kitrain.bundle"):
        facts = _collection_facts(RunPaths(str(tmp_path)))
    assert facts["max_diff_chars"] == 1_000 and facts["languages"] == ["ja", "uk"]
    assert "different max_diff_chars (p/test/uk: 1000, p/train/uk: 400000)" in caplog.text
    assert "smallest, 1000" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kitrain.bundle"):
        assert scoring_max_diff_chars({"a": None}) == CollectConfig.max_diff_chars
        assert scoring_max_diff_chars({}) == CollectConfig.max_diff_chars
    assert "no collection recorded max_diff_chars" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kitrain.bundle"):
        assert scoring_max_diff_chars({"a": 5, "b": 5}) == 5
    assert "different" not in caplog.text


# --- logged-out editors (issue 24) ----------------------------------------------------------------


def _record(**user):
    from kitrain.score import parse_line

    line = {"revision_id": 1, "wiki_db": "ukwiki", "page_title": "Київ", "parent_text": "Абв.",
            "revision_text": "Абв. Где.", **user}
    return parse_line(json.dumps(line, ensure_ascii=False))


def test_score_treats_a_temporary_account_as_the_collection_does():
    # the same definition as the collection: an IP editor, or a temporary account by its flag or
    # (without one) by its name, is logged out, with no groups; everything else is registered
    from kitrain.schema import USER_ANONYMOUS, USER_GROUP_FLAGS, USER_TEMPORARY
    from kitrain.score import revision_row

    def user_features(**user):
        row = revision_row(_record(**user))
        return row[USER_ANONYMOUS], row[USER_TEMPORARY], tuple(row[f] for f in USER_GROUP_FLAGS)

    none = (0,) * len(USER_GROUP_FLAGS)
    ip = user_features(event_user_is_anonymous=True, event_user_text="203.0.113.9")
    assert ip == (1, 0, none)
    flagged = user_features(event_user_is_anonymous=False, event_user_is_temporary=True,
                            event_user_text="~2025-12345-67", event_user_groups=["ipblock-exempt"])
    by_name = user_features(event_user_is_anonymous=False, event_user_text="~2025-12345-67")
    assert flagged[0] == by_name[0] == ip[0] and flagged[2] == by_name[2] == ip[2]
    assert flagged[1] == by_name[1] == 1
    registered = user_features(event_user_is_anonymous=False, event_user_groups=["ipblock-exempt"],
                               event_user_text="Editor")
    assert registered[:2] == (0, 0) and registered[2] != none
    # a flag that says "not temporary" wins over the name
    assert user_features(event_user_is_anonymous=False, event_user_is_temporary=False,
                         event_user_text="~2025-12345-67")[:2] == (0, 0)


def test_score_checks_the_new_user_fields():
    from kitrain.score import InputLineError

    with pytest.raises(InputLineError, match="field 'event_user_is_temporary' must be bool"):
        _record(event_user_is_anonymous=False, event_user_is_temporary="yes")
    with pytest.raises(InputLineError, match="field 'event_user_text' must be str"):
        _record(event_user_is_anonymous=False, event_user_text=5)


def test_the_manifest_and_model_card_name_the_text_table(tmp_path):
    from kitrain.bundle import _collection_facts, model_card

    for lang, extra in (("uk", {"text_source": "content_history", "wikitext_snapshot": "2022-11"}),
                        ("ja", {"text_source": "wikitext_history", "wikitext_snapshot": "2022-11"}),
                        ("en", {})):  # collected before the choice: the wikitext table
        report = tmp_path / "quality" / "collect" / "p" / "train" / lang / "quality.json"
        report.parent.mkdir(parents=True)
        config = {"snapshot": "2022-07", "wikitext_snapshot": "2022-10", **extra}
        # the Iceberg snapshot the content table was read at (None: not an Iceberg table)
        source = {"content_snapshot_id": 7301234567890123456 if lang == "uk" else None}
        report.write_text(json.dumps({"lang": lang, "config": config, "source": source}), encoding="utf-8")
    facts = _collection_facts(RunPaths(str(tmp_path)))
    assert facts["text_sources"] == ["content_history", "wikitext_history"]
    assert facts["content_snapshot_ids"] == [7301234567890123456]
    # the content table has no snapshot: only the collections of the wikitext table name one
    assert facts["wikitext_snapshots"] == ["2022-10", "2022-11"]
    card = model_card({"variant": "all+user+mlm", **facts}, None)
    assert ("texts from: the content history table (wmf_content.mediawiki_content_history_v1) at "
            "Iceberg snapshot(s) 7301234567890123456; the wikitext table at snapshot(s) 2022-10, 2022-11") in card
    assert "temporary accounts" in card
