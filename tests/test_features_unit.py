"""Text-feature helpers without Spark or a run: keys, softmax, aggregation, scoring, assembly."""

import numpy as np
import pandas as pd
import pytest

from kitrain import features, schema
from kitrain.features import aggregate, assemble, distinct, score_texts, softmax, text_keys

# --- text_keys / distinct ---------------------------------------------------------------------


@pytest.mark.parametrize("target", ["inserts", "removes"])
def test_text_keys_keep_nonempty_strings(target):
    # empty and whitespace-only texts are dropped, the rest kept in order
    assert text_keys(target, ["Перше.", "", "  \n", "Друге."]) == ["Перше.", "Друге."]


def test_text_keys_accept_numpy_arrays():
    # pyarrow lists come back as numpy arrays
    assert text_keys("inserts", np.array(["a", " ", "b"], dtype=object)) == ["a", "b"]


def test_text_keys_changes_are_pairs_without_identical_ones():
    # change structs become (before, after) tuples; a pair whose sides are equal is dropped
    value = [{"before": "old", "after": "new"}, {"before": "x", "after": "x"},
             {"before": "", "after": "added"}]
    assert text_keys("changes", value) == [("old", "new"), ("", "added")]


@pytest.mark.parametrize("target", ["inserts", "removes", "changes"])
def test_text_keys_of_none_is_empty(target):
    # a revision without a list has no texts
    assert text_keys(target, None) == []


def test_distinct_keeps_first_seen_order_across_rows():
    # duplicates within and across rows are removed; order is that of first appearance
    rows = [["b", "a"], [], ["a", "c", "b"], [("x", "y")], [("x", "y"), "c"]]
    assert distinct(rows) == ["b", "a", "c", ("x", "y")]


# --- softmax ----------------------------------------------------------------------------------


def test_softmax_matches_hand_computation():
    # [0, ln 3] -> [1/4, 3/4]; [2, 2] -> [1/2, 1/2]; rows sum to 1
    out = softmax(np.array([[0.0, np.log(3.0)], [2.0, 2.0]]))
    np.testing.assert_allclose(out, [[0.25, 0.75], [0.5, 0.5]], rtol=1e-12)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)


def test_softmax_is_stable_for_large_logits():
    # huge logits must not overflow to nan/inf: [1000, 1001] is [0, 1] shifted
    out = softmax(np.array([[1000.0, 1001.0], [-1000.0, -1001.0]]))
    e = np.exp(1.0)
    np.testing.assert_allclose(out, [[1 / (1 + e), e / (1 + e)], [e / (1 + e), 1 / (1 + e)]])
    assert np.isfinite(out).all()


# --- aggregate --------------------------------------------------------------------------------

S_A = np.array([0.5, -1.5, 0.9, 0.1])   # [s_0, s_1, p_0, p_1] of text "a"
S_B = np.array([-0.5, 2.0, 0.2, 0.8])   # of text "b"
SCORES = {"a": S_A, "b": S_B, ("x", "y"): np.array([1.0, 2.0, 0.3, 0.7])}


def test_aggregate_max_then_mean_of_two_texts():
    # a 2-text row: columns 0-3 are the elementwise max, 4-7 the mean
    out = aggregate([["a", "b"]], SCORES)
    assert out.shape == (1, 8)
    np.testing.assert_allclose(out[0], [0.5, 2.0, 0.9, 0.8, 0.0, 0.25, 0.55, 0.45])


def test_aggregate_row_without_texts_is_missing_everywhere():
    # a row with no texts gets MISSING_TEXT_SCORE (-1) in all 8 columns
    out = aggregate([[], ["a"]], SCORES)
    assert schema.MISSING_TEXT_SCORE == -1.0
    np.testing.assert_array_equal(out[0], np.full(8, -1.0))
    np.testing.assert_allclose(out[1], [*S_A, *S_A])


def test_aggregate_shared_text_uses_the_same_scores():
    # a text (or pair) shared by two rows gives both rows the same values
    out = aggregate([[("x", "y")], ["b"], [("x", "y")]], SCORES)
    np.testing.assert_array_equal(out[0], out[2])
    np.testing.assert_allclose(out[0], [1.0, 2.0, 0.3, 0.7] * 2)


def test_aggregate_of_no_rows():
    # no rows gives an empty (0, 8) array
    assert aggregate([], SCORES).shape == (0, 8)


# --- score_texts with a tiny model ------------------------------------------------------------

CORPUS = [
    "Київ — столиця України.", "Місто стоїть на Дніпрі.", "東京は日本の首都です。",
    "The old town has many churches and a famous opera house.", "Short.",
    "A sentence that is somewhat longer than the others in this little corpus of texts.",
    "Lviv was founded in 1256 and grew quickly.", "Tokyo", "Нова версія тексту статті.",
] * 3

SINGLES = [
    "Short.",
    "A sentence that is somewhat longer than the others in this little corpus of texts.",
    "Київ — столиця України.",
    "Tokyo",
    "The old town has many churches and a famous opera house.",
    "東京は日本の首都です。",
    "Місто стоїть на Дніпрі.",
]
PAIRS = [
    ("Short.", "Short, now longer text with more words."),
    ("Київ — столиця України.", "Київ"),
    ("The old town has many churches.", "The old town has many churches and a famous opera house."),
    ("Tokyo", "東京"),
    ("A", "B"),
]


@pytest.fixture(scope="module")
def scorer(tmp_path_factory):
    """(model, tokenizer, device): a 2-label classifier on a tiny randomly initialised BERT."""
    import torch

    from kitrain.models import load_classifier, load_tokenizer
    from kitrain.tinymodel import build_tiny_model

    path = build_tiny_model(tmp_path_factory.mktemp("tiny") / "m", CORPUS, vocab_size=300,
                            hidden_size=32, layers=1)
    model = load_classifier(str(path), 2)
    # the freshly initialised head gives near-equal logits (std 0.02 weights): widen the pooler
    # and classifier so different texts score clearly apart and a row mix-up cannot go unseen
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for layer, std in ((model.bert.pooler.dense, 0.3), (model.classifier, 1.0)):
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * std)
    model.eval()
    return model, load_tokenizer(str(path)), torch.device("cpu")


def one_by_one(scorer, items):
    model, tokenizer, device = scorer
    return np.vstack([score_texts(model, tokenizer, [item], 1, 64, device) for item in items])


@pytest.mark.parametrize("items", [SINGLES, PAIRS], ids=["texts", "pairs"])
@pytest.mark.parametrize("batch_size", [2, 3])
def test_score_texts_rows_come_back_in_input_order(scorer, items, batch_size):
    # batches are length-sorted, yet row i is the score of items[i]: equal to scoring it alone
    model, tokenizer, device = scorer
    alone = one_by_one(scorer, items)
    # the texts really score differently, so a permuted output could not pass
    gaps = np.abs(alone[:, None, :] - alone[None, :, :]).max(axis=2)
    assert gaps[~np.eye(len(items), dtype=bool)].min() > 1e-3
    out = score_texts(model, tokenizer, items, batch_size, 64, device)
    assert out.shape == (len(items), 2) and out.dtype == np.float32
    np.testing.assert_allclose(out, alone, atol=1e-5)


def test_score_texts_pairs_are_scored_as_pairs(scorer):
    # a (before, after) pair is not the same input as its before text alone
    alone = one_by_one(scorer, [PAIRS[0][0]])
    pair = one_by_one(scorer, [PAIRS[0]])
    assert np.abs(alone - pair).max() > 1e-3


def test_score_texts_empty_list(scorer):
    # no items: an empty (0, num_labels) array, no model call
    model, tokenizer, device = scorer
    out = score_texts(model, tokenizer, [], 4, 64, device)
    assert out.shape == (0, 2)


def test_score_texts_batch_larger_than_list(scorer):
    # one batch holds everything when batch_size exceeds the number of items
    model, tokenizer, device = scorer
    out = score_texts(model, tokenizer, SINGLES[:3], 100, 64, device)
    np.testing.assert_allclose(out, one_by_one(scorer, SINGLES[:3]), atol=1e-5)


# --- assemble ---------------------------------------------------------------------------------

N_ROWS = 3


def prepared_frame():
    """A prepared-like frame of three revisions with the columns assemble reads."""
    data = {
        "revision_id": [11, 12, 13],
        "wiki_db": ["ukwiki", "jawiki", "ukwiki"],
        "page_title": ["Київ", "東京", "Львів"],
        "event_timestamp": ["2024-01-01 00:00:00.0", "2024-01-02 00:00:00.0",
                            "2024-01-03 00:00:00.0"],
        schema.LABEL: [1, 0, 0],
        "is_balanced": [1, 1, 0],
        "is_text_train": [0, 1, 0],
        "revision_text_bytes_diff": [120.0, np.nan, -7.0],
        schema.USER_ANONYMOUS: [True, False, True],
        schema.USER_TEMPORARY: [1, 0, 0],
        "actions": [
            [("insert_Text", 3), ("remove_Table Element", 2)],
            None,
            [("change_Word", 5)],
        ],
    }
    for i, flag in enumerate(schema.TAG_FEATURES):
        data[flag] = [i % 2, 0, 1]
    for i, flag in enumerate(schema.USER_GROUP_FLAGS):
        data[flag] = [0, (i + 1) % 2, 1]
    data["unrelated_column"] = ["x", "y", "z"]
    return pd.DataFrame(data)


def fake_mlm():
    """Distinct values per target, row and column: target base + 10 * row + column."""
    mlm = {}
    for base, target in ((100, "inserts"), (200, "removes"), (300, "changes")):
        mlm[target] = np.array([[base + 10 * r + c for c in range(8)] for r in range(N_ROWS)],
                               dtype=float)
    mlm["title"] = np.array([[0.25], [0.5], [0.75]])
    return mlm


@pytest.fixture
def assembled():
    return assemble(prepared_frame(), fake_mlm())


def test_assemble_columns_are_meta_plus_all_features(assembled):
    # exactly the meta columns and every feature, nothing else (no unrelated input column)
    meta = list(schema.FEATURE_META_COLUMNS)
    assert set(assembled.columns) == set(meta) | set(schema.ALL_FEATURES)
    assert len(assembled.columns) == len(set(meta) | set(schema.ALL_FEATURES))
    # in the documented order: meta columns, then the features in ALL_FEATURES order
    assert list(assembled.columns) == [*meta, *schema.ALL_FEATURES]
    assert len(assembled) == N_ROWS


def test_assemble_carries_meta_columns(assembled):
    # meta columns are copied as they are
    src = prepared_frame()
    for name in (*schema.FEATURE_META_COLUMNS, "wiki_db"):
        if name != schema.IS_TEMPORARY:
            assert assembled[name].tolist() == src[name].tolist()
    # is_temporary is the collected event_user_is_temporary, never a feature
    assert assembled[schema.IS_TEMPORARY].tolist() == [1, 0, 0]
    assert schema.IS_TEMPORARY not in schema.ALL_FEATURES


def test_assemble_anonymous_comes_from_event_user_is_anonymous(assembled):
    # is_anonymous is the collected event_user_is_anonymous as 0/1
    assert assembled[schema.IS_ANONYMOUS].tolist() == [1, 0, 1]
    assert schema.USER_ANONYMOUS not in assembled.columns


def test_assemble_flags_and_bytes_diff(assembled):
    # tag and group flags copied; a missing bytes diff becomes 0
    src = prepared_frame()
    for flag in (*schema.TAG_FEATURES, *schema.USER_GROUP_FLAGS):
        assert assembled[flag].tolist() == src[flag].tolist(), flag
    assert assembled["revision_text_bytes_diff"].tolist() == [120, 0, -7]
    assert assembled["revision_text_bytes_diff"].dtype == np.int64


def test_assemble_action_counts(assembled):
    # counts from the map; absent keys are 0; a None map gives all zeros
    assert assembled["insert_Text"].tolist() == [3, 0, 0]
    assert assembled["remove_Table Element"].tolist() == [2, 0, 0]
    assert assembled["change_Word"].tolist() == [0, 0, 5]
    actions = assembled[list(schema.ACTION_FEATURES)]
    assert (actions.iloc[1] == 0).all()
    assert int(actions.to_numpy().sum()) == 3 + 2 + 5
    assert all(dtype == np.int32 for dtype in actions.dtypes)


def test_assemble_text_features_land_in_named_columns(assembled):
    # column j of each target's array is text_feature_names(target)[j]
    mlm = fake_mlm()
    assert assembled["insert_p_1_mean"].tolist() == mlm["inserts"][:, 7].tolist()
    assert assembled["insert_s_0_max"].tolist() == [100.0, 110.0, 120.0]
    assert assembled["remove_p_0_max"].tolist() == [202.0, 212.0, 222.0]
    assert assembled["change_s_1_mean"].tolist() == [305.0, 315.0, 325.0]
    for target in ("inserts", "removes", "changes"):
        for j, name in enumerate(schema.text_feature_names(target)):
            assert assembled[name].tolist() == mlm[target][:, j].tolist(), name
    assert assembled["title_s_0"].tolist() == [0.25, 0.5, 0.75]


def test_assemble_ignores_the_input_index():
    # a filtered frame (index not 0..n-1) still assembles row-aligned
    src = prepared_frame()
    src.index = [7, 3, 5]
    out = assemble(src, fake_mlm())
    assert out["revision_id"].tolist() == [11, 12, 13]
    assert out["insert_s_0_max"].tolist() == [100.0, 110.0, 120.0]
    assert list(out.index) == [0, 1, 2]


# --- feature names ----------------------------------------------------------------------------


def test_mlm_feature_names_in_published_order():
    # 3 text models x 8 + title_s_0; the insert block in the published order
    assert len(schema.MLM_FEATURES) == 25
    assert schema.text_feature_names("inserts") == (
        "insert_s_0_max", "insert_s_1_max", "insert_p_0_max", "insert_p_1_max",
        "insert_s_0_mean", "insert_s_1_mean", "insert_p_0_mean", "insert_p_1_mean",
    )
    assert schema.MLM_FEATURES[:8] == schema.text_feature_names("inserts")
    assert schema.MLM_FEATURES[8] == "remove_s_0_max"
    assert schema.MLM_FEATURES[16] == "change_s_0_max"
    assert schema.MLM_FEATURES[-1] == "title_s_0"


def test_feature_name_sets_are_consistent():
    # categorical features are features; no feature name appears twice
    assert set(schema.CATEGORICAL_FEATURES) <= set(schema.ALL_FEATURES)
    assert len(schema.ALL_FEATURES) == len(set(schema.ALL_FEATURES))
    assert len(schema.ALL_FEATURES) == (1 + 1 + len(schema.TAG_FEATURES) + 92 + 1
                                        + len(schema.USER_GROUP_FLAGS) + 25)


def test_text_columns_map_targets_to_collected_columns():
    # the scored text columns exist among the collected diff columns
    assert set(features.TEXT_COLUMNS.values()) <= set(schema.names(schema.DIFF_COLUMNS))


def test_token_batches_respect_both_bounds():
    # longest first; no batch exceeds the text count or the padded-token budget
    from kitrain.features import token_batches

    lengths = [5, 300, 40, 40, 8, 512, 3]
    batches = token_batches(lengths, max_texts=3, max_tokens=600)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert batches[0].tolist() == [5]  # 512 tokens: alone (a second text would make 1024)
    for batch in batches:
        assert len(batch) <= 3 and len(batch) * max(lengths[i] for i in batch) <= 600 or len(batch) == 1


def test_token_batches_end_where_texts_get_much_shorter():
    from kitrain.features import token_batches

    lengths = [54, 50, 41, 40, 30, 12, 11, 9, 9]
    # a generous budget would take all nine in one batch padded to 54; the band splits them
    batches = [b.tolist() for b in token_batches(lengths, max_texts=512, max_tokens=32768, length_band=0.75)]
    # 40 < 0.75 * 54 starts a second batch, 12 < 0.75 * 40 a third
    assert [sorted(b) for b in batches] == [[0, 1, 2], [3, 4], [5, 6, 7, 8]]
    for batch in batches:
        assert max(lengths[i] for i in batch) * len(batch) <= sum(lengths[i] for i in batch) / 0.75
    # band 0: the old behaviour, bounded by the budget only
    assert [sorted(b.tolist()) for b in token_batches(lengths, 512, 32768, length_band=0)] == [list(range(9))]


def test_token_batches_single_oversized_text():
    # a text longer than the budget still gets scored, alone
    from kitrain.features import token_batches

    assert [b.tolist() for b in token_batches([5000], max_texts=8, max_tokens=100)] == [[0]]
