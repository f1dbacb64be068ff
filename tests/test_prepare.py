"""Preparation: the split date, the revision-war filter, the balance and fine-tuning keys."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from kitrain import prepare
from kitrain.config import ConfigError, PrepareConfig


def rows(n: int, lang: str = "uk", start_id: int = 1, reverted_every: int = 4, **extra) -> pd.DataFrame:
    """n collected revisions: every 4th reverted, titles repeating every 5, spread over 2022."""
    ids = np.arange(start_id, start_id + n)
    frame = pd.DataFrame({
        "revision_id": ids,
        "wiki_db": f"{lang}wiki",
        "page_title": [f"Page_{i % 5}" for i in range(n)],
        "event_timestamp": [f"2022-{1 + i % 8:02d}-15 10:00:00.0" for i in range(n)],
        "revision_is_identity_reverted": [(1 if i % reverted_every == 0 else 0) for i in range(n)],
        "reverting_revision_is_reverted_revision": [False] * n,
        # every 3rd logged out, half of those (every 6th) with a temporary account
        "event_user_is_anonymous": [int(i % 3 == 0) for i in range(n)],
        "event_user_is_temporary": [int(i % 6 == 0) for i in range(n)],
    })
    for key, value in extra.items():
        frame[key] = value
    return frame


def test_split_at_the_validation_date():
    frame = pd.DataFrame({"event_timestamp": ["2022-06-30 23:59:59.0", "2022-07-01 00:00:00.0",
                                              "2022-07-05 10:00:00.0"]})
    before, after = prepare.split_by_date(frame, "2022-07-01")
    # the last second of June is train; midnight of the validation date is test
    assert before["event_timestamp"].tolist() == ["2022-06-30 23:59:59.0"]
    assert len(after) == 2


def test_revision_war_filter():
    frame = rows(4)
    frame["reverting_revision_is_reverted_revision"] = frame["reverting_revision_is_reverted_revision"].astype(object)
    frame.loc[1, "reverting_revision_is_reverted_revision"] = True
    frame.loc[2, "reverting_revision_is_reverted_revision"] = None  # unknown counts as no war
    assert prepare.drop_revision_wars(frame)["revision_id"].tolist() == [1, 3, 4]


def test_balance_key_takes_all_reverted_and_as_many_others():
    frame = rows(40)
    key = prepare.balance_key(frame, np.random.default_rng(1))
    chosen = frame[key == 1]
    # 10 reverted rows, all kept, plus 10 of the 30 others
    assert chosen["revision_is_identity_reverted"].sum() == 10 and len(chosen) == 20
    # seeded: the same seed picks the same rows whatever the input order
    shuffled = frame.sample(frac=1, random_state=3)
    again = prepare.balance_key(shuffled, np.random.default_rng(1))
    assert set(shuffled[again == 1]["revision_id"]) == set(chosen["revision_id"])


def test_balance_key_when_reverted_outnumber_the_rest():
    frame = rows(6, reverted_every=1)
    frame.loc[0, "revision_is_identity_reverted"] = 0
    # 5 reverted and 1 other: everything is in the balanced set
    assert prepare.balance_key(frame, np.random.default_rng(0)).tolist() == [1] * 6


def test_text_train_titles_are_on_one_side_only():
    frame = rows(200)
    frame["page_title"] = [f"T{i % 37}" for i in range(200)]
    key = prepare.text_train_key(frame, 0.6, np.random.default_rng(5))
    text_titles = set(frame[key == 1]["page_title"])
    other_titles = set(frame[key == 0]["page_title"])
    # no title on both sides, and 60 % of the 37 titles (rounded down) on the fine-tuning side
    assert not text_titles & other_titles and len(text_titles) == int(37 * 0.6)


def test_prepare_language_counts_and_keys():
    cfg = PrepareConfig()
    train_mode = rows(80)
    train_mode.loc[0, "reverting_revision_is_reverted_revision"] = True  # a war before July
    splits, counts = prepare.prepare_language(train_mode, rows(30, start_id=1000), cfg, "uk")
    assert (splits["train"]["event_timestamp"] < "2022-07-01").all()
    assert (splits["test"]["event_timestamp"] >= "2022-07-01").all()
    assert counts["train"]["dropped_revision_wars"] == 1
    assert counts["train"]["rows"] + counts["test"]["rows"] == 79
    # only train carries the fine-tuning key; every split has a balance key
    assert splits["test"]["is_text_train"].eq(0).all() and splits["full_test"]["is_text_train"].eq(0).all()
    assert splits["train"]["is_text_train"].sum() > 0
    assert all(splits[s]["is_balanced"].sum() == 2 * splits[s]["revision_is_identity_reverted"].sum()
               for s in ("train", "test", "full_test"))


def test_filter_can_be_switched_off():
    train_mode = rows(20)
    train_mode["reverting_revision_is_reverted_revision"] = True
    _, counts = prepare.prepare_language(train_mode, None, PrepareConfig(filter_rw=False), "uk")
    assert counts["train"]["dropped_revision_wars"] == 0 and counts["train"]["rows"] > 0


def write_collected(run_dir: Path, prefix: str, mode: str, lang: str, frame: pd.DataFrame) -> None:
    out = run_dir / "collected" / prefix / mode / lang
    out.mkdir(parents=True)
    frame.to_parquet(out / "part-00000.parquet", index=False)


def test_run_prepare_fans_in_every_language(tmp_path):
    for lang, start in (("uk", 1), ("ja", 5000), ("en", 9000)):
        write_collected(tmp_path, "all_users", "train", lang, rows(60, lang, start))
        write_collected(tmp_path, "full_test", "test", lang, rows(20, lang, start + 500))
    # leftovers of an interrupted collection are hidden and ignored
    (tmp_path / "collected" / "all_users" / "train" / ".ru.tmp-abc").mkdir()
    summary = prepare.run_prepare(PrepareConfig(), str(tmp_path))
    assert sorted(summary["languages"]) == ["en", "ja", "uk"]
    for split in ("train", "test", "full_test"):
        files = sorted(p.name for p in (tmp_path / "prepared" / split).iterdir())
        assert files == ["en.parquet", "ja.parquet", "uk.parquet"]
    table = pq.read_table(tmp_path / "prepared" / "train")
    assert table.schema.field("is_balanced").type == "int32"
    saved = json.loads((tmp_path / "prepared" / "summary.json").read_text())
    assert saved["totals"]["full_test"]["rows"] == 60
    # no hidden temporary directories remain
    assert sorted(p.name for p in (tmp_path / "prepared").iterdir()) == [
        "anon_train", "full_test", "summary.json", "test", "train"]
    # no anonymous-only collection: its split is there, without rows
    assert list((tmp_path / "prepared" / "anon_train").iterdir()) == []


def test_the_anonymous_only_collection_becomes_anon_train():
    # train: titles Page_0..Page_4; anon: 40 revisions of Page_0..Page_4 and 10 of Page_9, months
    # 1..8 in turn (so rows of July and August are after the validation date)
    train_mode = rows(60, "uk", 1)
    anon_mode = pd.concat([rows(40, "uk", 1000), rows(10, "uk", 2000).assign(page_title="Page_9")],
                          ignore_index=True)
    splits, counts = prepare.prepare_language(train_mode, None, PrepareConfig(), "uk", anon_mode)
    anon = splits["anon_train"]
    # only the rows before 2022-07-01: months 1..6 of every 8
    assert set(anon["revision_id"]) == {r for r, ts in zip(anon_mode["revision_id"], anon_mode["event_timestamp"])
                                        if ts < "2022-07-01"}
    assert counts["anon_train"]["rows"] == len(anon) == 30 + 8
    # is_text_train marks exactly the titles the train split gave the language models
    text_titles = set(splits["train"].loc[splits["train"]["is_text_train"] == 1, "page_title"])
    assert len(text_titles) == 3  # 60 % of five titles
    assert set(anon.loc[anon["is_text_train"] == 1, "page_title"]) == text_titles
    assert set(anon.loc[anon["is_text_train"] == 0, "page_title"]) == {"Page_0", "Page_1", "Page_2", "Page_3",
                                                                        "Page_4", "Page_9"} - text_titles
    # and the train split is the same with or without the anonymous collection
    alone, _ = prepare.prepare_language(train_mode, None, PrepareConfig(), "uk")
    pd.testing.assert_frame_equal(alone["train"], splits["train"])


def test_adding_a_language_keeps_the_others_samples(tmp_path):
    # each language has its own random stream: uk's keys do not move when ja arrives
    first, second = tmp_path / "a", tmp_path / "b"
    write_collected(first, "all_users", "train", "uk", rows(60))
    write_collected(second, "all_users", "train", "uk", rows(60))
    write_collected(second, "all_users", "train", "ja", rows(60, "ja", 5000))
    prepare.run_prepare(PrepareConfig(), str(first))
    prepare.run_prepare(PrepareConfig(), str(second))
    one = pq.read_table(first / "prepared" / "train" / "uk.parquet").to_pandas()
    two = pq.read_table(second / "prepared" / "train" / "uk.parquet").to_pandas()
    pd.testing.assert_frame_equal(one, two)


def test_rerun_is_identical(tmp_path):
    write_collected(tmp_path, "all_users", "train", "uk", rows(60))
    prepare.run_prepare(PrepareConfig(), str(tmp_path))
    first = (tmp_path / "prepared" / "train" / "uk.parquet").read_bytes()
    prepare.run_prepare(PrepareConfig(), str(tmp_path))
    assert (tmp_path / "prepared" / "train" / "uk.parquet").read_bytes() == first


def test_nothing_collected_is_a_clear_error(tmp_path):
    with pytest.raises(prepare.PrepareError, match="no collected languages.*kitrain collect"):
        prepare.run_prepare(PrepareConfig(), str(tmp_path))


def test_foreign_directory_is_named(tmp_path):
    write_collected(tmp_path, "all_users", "train", "uk", rows(10))
    (tmp_path / "collected" / "all_users" / "train" / "notalang").mkdir()
    with pytest.raises(prepare.PrepareError, match="unexpected directory .*notalang"):
        prepare.run_prepare(PrepareConfig(), str(tmp_path))


def test_summary_counts_the_three_editor_groups(tmp_path):
    write_collected(tmp_path, "all_users", "train", "uk", rows(60))
    summary = prepare.run_prepare(PrepareConfig(filter_rw=False), str(tmp_path))
    # rows(): every 3rd logged out, every 6th with a temporary account; ids 1..60, months in turn
    frame = rows(60)
    before = frame.event_timestamp < "2022-07-01"
    for split, part in (("train", frame[before]), ("test", frame[~before])):
        temporary = int(part.event_user_is_temporary.sum())
        logged_out = int(part.event_user_is_anonymous.sum())
        assert summary["languages"]["uk"][split]["editors"] == {
            "ip": logged_out - temporary, "temporary": temporary, "registered": len(part) - logged_out}
        assert temporary > 0 and logged_out > temporary


def test_collection_of_an_older_kitrain_is_refused(tmp_path):
    # collected before temporary accounts counted as anonymous: its flag means IP editors only
    write_collected(tmp_path, "all_users", "train", "ja", rows(20, "ja"))
    write_collected(tmp_path, "all_users", "train", "uk", rows(20).drop(columns=["event_user_is_temporary"]))
    with pytest.raises(prepare.PrepareError, match=r"collected data .*/uk has no event_user_is_temporary "
                                                   r"column: an older kitrain collected it.*collect uk again"):
        prepare.run_prepare(PrepareConfig(), str(tmp_path))
    assert not (tmp_path / "prepared").exists()


def test_corrupt_collected_file_is_named(tmp_path):
    write_collected(tmp_path, "all_users", "train", "uk", rows(10))
    (tmp_path / "collected" / "all_users" / "train" / "uk" / "part-00000.parquet").write_bytes(b"junk")
    with pytest.raises(prepare.PrepareError, match="cannot read collected data .*uk"):
        prepare.run_prepare(PrepareConfig(), str(tmp_path))
    # and nothing half-written was published
    assert not (tmp_path / "prepared").exists() or not any((tmp_path / "prepared").iterdir())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"validation_date": "2022-13-01"}, "validation_date must be a date"),
        ({"text_train_share": 1.0}, "text_train_share must be between 0 and 1"),
        ({"text_train_share": 0}, "text_train_share must be between 0 and 1"),
        ({"prefix": "a/b"}, "prefix must be a directory name"),
        ({"filter_rw": "yes"}, "filter_rw must be a boolean"),
    ],
)
def test_bad_prepare_config(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        PrepareConfig(**kwargs)


def test_collections_of_different_text_rules_are_not_mixed(tmp_path):
    from kitrain.paths import RunPaths
    from kitrain.prepare import PrepareError, check_one_text_rules, collection_text_rules, run_prepare

    paths = RunPaths(str(tmp_path))
    for mode, prefix, lang, config in (("train", "all_users", "uk", {"text_rules": "paper"}),
                                       ("test", "full_test", "uk", {"text_rules": "paper"}),
                                       ("train", "all_users", "ja", {})):  # written before the choice
        Path(paths.collected(prefix, mode, lang)).mkdir(parents=True)
        quality = Path(paths.collect_quality(prefix, mode, lang))
        quality.parent.mkdir(parents=True, exist_ok=True)
        quality.write_text(json.dumps({"config": config}))
    found = collection_text_rules(paths, [("all_users", "train"), ("full_test", "test")])
    assert found == {"all_users/uk": "paper", "full_test/uk": "paper", "all_users/ja": "multiscript"}
    with pytest.raises(PrepareError, match=r"different text rules: \{'multiscript': \['all_users/ja'\], "
                                           r"'paper': \['all_users/uk', 'full_test/uk'\]\}"):
        check_one_text_rules(found)
    with pytest.raises(PrepareError, match="different text rules"):
        run_prepare(PrepareConfig(), str(tmp_path))
    assert check_one_text_rules({"all_users/uk": "paper", "full_test/uk": "paper"}) == "paper"


def heavy_rows(n: int, start_id: int, seed: int) -> pd.DataFrame:
    """``rows`` with a text list and an ``actions`` map, the parts of a row prepare only passes on."""
    rng = np.random.default_rng(seed)
    frame = rows(n, start_id=start_id, reverted_every=3)
    frame["page_title"] = [f"T{i % 37}" for i in range(n)]
    frame["texts_insert"] = [[f"text {i} " * int(k)] if k else [] for i, k in enumerate(rng.integers(0, 4, n))]
    frame["actions"] = [[("insert_Text", int(k)), ("remove_Text", 1)] for k in rng.integers(0, 9, n)]
    return frame


def write_parts(run_dir: Path, prefix: str, mode: str, lang: str, parts: list[pd.DataFrame]) -> None:
    import pyarrow as pa

    out = run_dir / "collected" / prefix / mode / lang
    out.mkdir(parents=True)
    for k, part in enumerate(parts):
        table = pa.Table.from_pandas(part.drop(columns="actions"), preserve_index=False)
        table = table.append_column("actions", pa.array(part["actions"].tolist(), pa.map_(pa.string(), pa.int64())))
        pq.write_table(table, out / f"part-{k:05d}.parquet")
    (out / "_SUCCESS").write_text("")


def test_streamed_splits_equal_the_splits_of_the_whole_language(tmp_path, monkeypatch):
    # whole rows stream through in small batches and are merged from several files, two in
    # revision_id order (as Spark writes them) and one shuffled (sorted in runs): the prepared
    # files hold exactly prepare_language's splits of the whole frames, in revision_id order
    monkeypatch.setattr(prepare, "STREAM_BATCH_ROWS", 7)
    monkeypatch.setattr(prepare, "SORT_RUN_ROWS", 11)
    monkeypatch.setattr(prepare, "ROW_GROUP_ROWS", 13)
    train = heavy_rows(300, 1, seed=1)
    test = heavy_rows(90, 5000, seed=2)
    anon = heavy_rows(80, 9000, seed=3)
    shuffled = train.iloc[200:].sample(frac=1.0, random_state=4)
    write_parts(tmp_path, "all_users", "train", "uk", [train.iloc[0:200:2], train.iloc[1:200:2], shuffled])
    write_parts(tmp_path, "full_test", "test", "uk", [test.iloc[::-1]])
    write_parts(tmp_path, "anon_users", "train", "uk", [anon])
    cfg = PrepareConfig()
    prepare.run_prepare(cfg, str(tmp_path))

    expected, _ = prepare.prepare_language(train, test, cfg, "uk", anon)
    for split, frame in expected.items():
        path = tmp_path / "prepared" / split / "uk.parquet"
        got = pq.read_table(path).to_pandas()
        assert len(got) == len(frame) > 0, split
        assert got["revision_id"].is_monotonic_increasing
        for column in ("revision_id", "page_title", "is_balanced", "is_text_train", "event_timestamp"):
            assert got[column].tolist() == frame[column].tolist(), (split, column)
        assert got["texts_insert"].map(list).tolist() == frame["texts_insert"].tolist()
        assert got["actions"].map(dict).tolist() == frame["actions"].map(dict).tolist()
        assert pq.ParquetFile(path).metadata.row_group(0).num_rows == 13  # written in row groups
    assert sorted(p.name for p in (tmp_path / "prepared").iterdir()) == [
        "anon_train", "full_test", "summary.json", "test", "train"]  # no sort runs left behind
