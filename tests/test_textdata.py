"""Fine-tuning datasets on tiny hand-made frames: example builders, class balance, eval split."""

import numpy as np
import pandas as pd
import pytest

from kitrain import textdata
from kitrain.schema import LABEL
from kitrain.textdata import NoExamplesError


def frame(**columns):
    """A prepared-like frame: revision ids 1..n in one wiki unless given."""
    n = len(next(iter(columns.values())))
    base = {"revision_id": list(range(1, n + 1)), "wiki_db": ["ukwiki"] * n}
    base.update(columns)
    return pd.DataFrame(base)


# --- inserts / removes ------------------------------------------------------------------------

SINGLE_CASES = [
    ["Один рядок."],            # 1: exactly one text -> example
    [],                         # 2: no text
    ["Перший.", "Другий."],     # 3: two texts
    ["   "],                    # 4: one whitespace-only text
    None,                       # 5: no list at all
    ["Ще один."],               # 6: exactly one text -> example
]


@pytest.mark.parametrize("builder,column", [
    (textdata.inserts_examples, "texts_insert"),
    (textdata.removes_examples, "texts_removed"),
])
def test_single_text_examples_keep_only_revisions_with_one_text(builder, column):
    # only revisions 1 and 6 have exactly one non-empty text; their label and id are carried
    df = frame(**{column: SINGLE_CASES, LABEL: [1, 0, 1, 0, 1, 0]})
    out = builder(df)
    assert list(out.columns) == ["text", "label", "revision_id", "wiki_db"]
    assert out["text"].tolist() == ["Один рядок.", "Ще один."]
    assert out["label"].tolist() == [1, 0]
    assert out["revision_id"].tolist() == [1, 6]
    assert out["wiki_db"].tolist() == ["ukwiki", "ukwiki"]


def test_inserts_and_removes_read_their_own_column():
    # inserts read texts_insert, removes read texts_removed, never the other one
    df = frame(texts_insert=[["вставлено"]], texts_removed=[["вилучено"]], **{LABEL: [1]})
    assert textdata.inserts_examples(df)["text"].tolist() == ["вставлено"]
    assert textdata.removes_examples(df)["text"].tolist() == ["вилучено"]


def test_single_text_examples_accept_numpy_arrays_and_bool_labels():
    # pyarrow lists come back as numpy arrays and labels may be booleans: labels become ints
    df = frame(texts_insert=[np.array(["a b"]), np.array(["c", "d"])], **{LABEL: [True, False]})
    out = textdata.inserts_examples(df)
    assert out["text"].tolist() == ["a b"]
    assert out["label"].tolist() == [1] and out["label"].dtype.kind == "i"


def test_single_text_examples_of_no_rows_have_the_columns():
    # an empty result still has the columns the fine-tuning reads
    out = textdata.inserts_examples(frame(texts_insert=[[]], **{LABEL: [1]}))
    assert out.empty and list(out.columns) == ["text", "label", "revision_id", "wiki_db"]


# --- changes ----------------------------------------------------------------------------------

def pair(before, after):
    return {"before": before, "after": after}


def test_changes_examples_keep_one_differing_pair():
    # exactly one pair whose sides differ: revisions 1 and 5; no pairs, two pairs, an identical
    # pair and None are skipped
    pairs = [
        [pair("Старий текст.", "Новий текст.")],
        [],
        [pair("a", "b"), pair("c", "d")],
        [pair("same", "same")],
        [pair("before", "after")],
        None,
    ]
    df = frame(texts_change=pairs, **{LABEL: [0, 1, 1, 1, 1, 0]})
    out = textdata.changes_examples(df)
    assert list(out.columns) == ["text", "text_pair", "label", "revision_id", "wiki_db"]
    assert out["text"].tolist() == ["Старий текст.", "before"]
    assert out["text_pair"].tolist() == ["Новий текст.", "after"]
    assert out["label"].tolist() == [0, 1]
    assert out["revision_id"].tolist() == [1, 5]


# --- titles -----------------------------------------------------------------------------------

def test_title_examples_group_by_wiki_and_title_with_revert_rate():
    # underscores become spaces (so "Київ_місто" and "Київ місто" are one title); titles with
    # fewer than min_revisions revisions are dropped; the label is the revert rate
    df = frame(
        wiki_db=["ukwiki"] * 6,
        page_title=["Київ_місто", "Київ місто", "Київ_місто", "Київ_місто", "Львів", "Одеса"],
        **{LABEL: [1, 0, 0, 1, 1, 0]},
    )
    out = textdata.title_examples(df, min_revisions=2)
    assert out["text"].tolist() == ["Київ місто"]
    assert out["label"].tolist() == pytest.approx([0.5])
    assert out["label"].dtype == np.float32
    assert out["wiki_db"].tolist() == ["ukwiki"]


def test_title_examples_min_revisions_threshold_is_inclusive():
    # a title with exactly min_revisions revisions is kept, one with fewer is not
    df = frame(page_title=["A", "A", "A", "B", "B"], **{LABEL: [1, 1, 0, 0, 0]})
    out = textdata.title_examples(df, min_revisions=3)
    assert out["text"].tolist() == ["A"]
    assert out["label"].tolist() == pytest.approx([2 / 3])
    assert sorted(textdata.title_examples(df, min_revisions=2)["text"]) == ["A", "B"]


def test_title_examples_keep_the_same_title_in_two_wikis_apart():
    # "Tokyo" in jawiki and ukwiki are two examples with their own revert rates
    df = frame(
        wiki_db=["jawiki", "jawiki", "ukwiki", "ukwiki"],
        page_title=["Tokyo", "Tokyo", "Tokyo", "Tokyo"],
        **{LABEL: [1, 1, 0, 1]},
    )
    out = textdata.title_examples(df, min_revisions=2).sort_values("wiki_db").reset_index(drop=True)
    assert out["wiki_db"].tolist() == ["jawiki", "ukwiki"]
    assert out["text"].tolist() == ["Tokyo", "Tokyo"]
    assert out["label"].tolist() == pytest.approx([1.0, 0.5])


def test_title_text_replaces_underscores_and_maps_none_to_empty():
    # the scoring shares this: underscores are spaces, a missing title is ""
    assert textdata.title_text("Нью_Йорк_(місто)") == "Нью Йорк (місто)"
    assert textdata.title_text(None) == ""


# --- balance_classes --------------------------------------------------------------------------

def labelled(n0, n1):
    """Examples with n0 zeros then n1 ones; text is unique per row."""
    labels = [0] * n0 + [1] * n1
    return pd.DataFrame({"text": [f"t{i}" for i in range(n0 + n1)], "label": labels})


def test_balance_classes_downsamples_the_majority_to_the_minority():
    # 3 ones and 10 zeros -> 3 of each; all minority rows kept; majority rows are real rows
    df = labelled(10, 3)
    out = textdata.balance_classes(df, np.random.default_rng(0))
    assert out["label"].value_counts().to_dict() == {0: 3, 1: 3}
    assert sorted(out.loc[out["label"] == 1, "text"]) == ["t10", "t11", "t12"]
    assert set(out.loc[out["label"] == 0, "text"]) <= {f"t{i}" for i in range(10)}
    assert out["text"].is_unique
    assert list(out.index) == list(range(6))


def test_balance_classes_is_deterministic_per_seed():
    # the same seed gives the same rows in the same order; another seed gives another sample
    df = labelled(40, 5)
    first = textdata.balance_classes(df, np.random.default_rng(1))
    again = textdata.balance_classes(df, np.random.default_rng(1))
    other = textdata.balance_classes(df, np.random.default_rng(2))
    pd.testing.assert_frame_equal(first, again)
    assert first["text"].tolist() != other["text"].tolist()


def test_balance_classes_shuffles_the_rows():
    # rows come out shuffled, not all zeros first then all ones
    df = labelled(50, 50)
    out = textdata.balance_classes(df, np.random.default_rng(3))
    assert out["label"].tolist() != sorted(out["label"].tolist())


def test_balance_classes_with_one_class_raises():
    # a target whose examples all have one label cannot be trained as a classifier
    with pytest.raises(NoExamplesError, match="only one class"):
        textdata.balance_classes(labelled(0, 4), np.random.default_rng(0))


def test_no_examples_error_is_a_value_error():
    # callers catching ValueError also catch it
    assert issubclass(NoExamplesError, ValueError)


# --- stratified_split -------------------------------------------------------------------------

def test_stratified_split_takes_share_of_each_class():
    # 5 % of 100 zeros and 5 % of 40 ones go to eval; train and eval partition the input
    df = labelled(100, 40)
    train, evals = textdata.stratified_split(df, 0.05, np.random.default_rng(0))
    assert evals["label"].value_counts().to_dict() == {0: 5, 1: 2}
    assert train["label"].value_counts().to_dict() == {0: 95, 1: 38}
    assert set(train["text"]).isdisjoint(evals["text"])
    assert sorted([*train["text"], *evals["text"]]) == sorted(df["text"])
    assert list(train.index) == list(range(len(train))) and list(evals.index) == list(range(7))


def test_stratified_split_keeps_one_of_each_small_class_in_eval():
    # a class of 2 or 3 rows still gives one eval row (and keeps at least one for training)
    df = labelled(3, 2)
    train, evals = textdata.stratified_split(df, 0.05, np.random.default_rng(0))
    assert evals["label"].value_counts().to_dict() == {0: 1, 1: 1}
    assert train["label"].value_counts().to_dict() == {0: 2, 1: 1}


def test_stratified_split_never_takes_a_whole_class():
    # even with share 1.0 a class of 2+ rows leaves one row for training; a class of 1 row stays
    # in training
    df = labelled(4, 1)
    train, evals = textdata.stratified_split(df, 1.0, np.random.default_rng(0))
    assert evals["label"].tolist() == [0, 0, 0]
    assert sorted(train["label"]) == [0, 1]


def test_stratified_split_is_deterministic_per_seed():
    # the same seed gives the same split
    df = labelled(30, 30)
    a = textdata.stratified_split(df, 0.2, np.random.default_rng(5))
    b = textdata.stratified_split(df, 0.2, np.random.default_rng(5))
    pd.testing.assert_frame_equal(a[1], b[1])
    pd.testing.assert_frame_equal(a[0], b[0])


def test_split_without_stratification_for_regression():
    # regression labels (revert rates) are not classes: one pool, share of all rows in eval
    df = pd.DataFrame({"text": [f"t{i}" for i in range(20)],
                       "label": np.linspace(0, 1, 20, dtype=np.float32)})
    train, evals = textdata.stratified_split(df, 0.1, np.random.default_rng(0), stratify=False)
    assert len(evals) == 2 and len(train) == 18
    assert sorted([*train["text"], *evals["text"]]) == sorted(df["text"])
    # stratified on 20 distinct float labels, every "class" has one row and nothing goes to eval
    _, strat_eval = textdata.stratified_split(df, 0.1, np.random.default_rng(0), stratify=True)
    assert strat_eval.empty


def test_stratified_split_is_scikit_learns_train_test_split():
    # the same rows as train_test_split(stratify=label) seeded by the integer drawn from the rng
    from sklearn.model_selection import train_test_split

    df = labelled(70, 23).sample(frac=1.0, random_state=4).reset_index(drop=True)
    train, evals = textdata.stratified_split(df, 0.1, np.random.default_rng(9))
    seed = int(np.random.default_rng(9).integers(0, 2**32))
    sk_train, sk_eval = train_test_split(df, test_size=0.1, stratify=df["label"], random_state=seed)
    assert sorted(evals["text"]) == sorted(sk_eval["text"]) and len(evals) == 10  # ceil(9.3)
    assert sorted(train["text"]) == sorted(sk_train["text"])
    # both parts keep the input's order
    assert train["text"].tolist() == [x for x in df["text"] if x in set(train["text"])]
    assert evals["text"].tolist() == [x for x in df["text"] if x in set(evals["text"])]
    # unstratified: the same as train_test_split without stratify
    _, plain = textdata.stratified_split(df, 0.1, np.random.default_rng(9), stratify=False)
    _, sk_plain = train_test_split(df, test_size=0.1, random_state=seed)
    assert sorted(plain["text"]) == sorted(sk_plain["text"])


def test_stratified_split_where_scikit_learn_would_refuse():
    # a share rounding to fewer rows than classes (ceil(0.01 * 40) = 1 < 2): one of each instead
    train, evals = textdata.stratified_split(labelled(20, 20), 0.01, np.random.default_rng(0))
    assert evals["label"].value_counts().to_dict() == {0: 1, 1: 1} and len(train) == 38
    # a class of one row (train_test_split refuses to stratify it) stays in training; the others
    # are split as usual: ceil(0.2 * 10) = 2 of the zeros
    train, evals = textdata.stratified_split(labelled(10, 1), 0.2, np.random.default_rng(0))
    assert evals["label"].tolist() == [0, 0] and train["label"].value_counts().to_dict() == {0: 8, 1: 1}
    # a single row cannot be split at all
    train, evals = textdata.stratified_split(labelled(1, 0), 0.5, np.random.default_rng(0))
    assert len(train) == 1 and evals.empty
    _, evals = textdata.stratified_split(labelled(1, 0), 0.5, np.random.default_rng(0), stratify=False)
    assert evals.empty


# --- build_examples ---------------------------------------------------------------------------

def test_build_examples_dispatches_on_target():
    # each target uses its own builder; title uses min_title_revisions
    df = frame(
        texts_insert=[["ins"], []],
        texts_removed=[[], ["rem"]],
        texts_change=[[pair("b", "a")], []],
        page_title=["T_1", "T_1"],
        **{LABEL: [1, 0]},
    )
    assert textdata.build_examples("inserts", df, 1)["text"].tolist() == ["ins"]
    assert textdata.build_examples("removes", df, 1)["text"].tolist() == ["rem"]
    changes = textdata.build_examples("changes", df, 1)
    assert changes[["text", "text_pair"]].values.tolist() == [["b", "a"]]
    titles = textdata.build_examples("title", df, 2)
    assert titles["text"].tolist() == ["T 1"] and titles["label"].tolist() == pytest.approx([0.5])
    assert textdata.build_examples("title", df, 3).empty


def test_none_text_is_not_an_example():
    # a null inside the text list is no text (features skip it too)
    df = pd.DataFrame({"texts_insert": [[None]], "revision_is_identity_reverted": [1],
                       "revision_id": [1], "wiki_db": ["x"]})
    assert textdata.inserts_examples(df).empty


def test_split_is_positional_with_duplicate_index():
    # duplicate index labels must not pull extra rows into the evaluation split
    d = pd.DataFrame({"label": [0, 0, 0, 1, 1, 1]}, index=[0, 0, 1, 1, 2, 2])
    train, evaluation = textdata.stratified_split(d, 0.34, np.random.default_rng(0))
    # scikit-learn's size: ceil(0.34 * 6) = 3 rows, one or two of each class
    assert len(evaluation) == 3 and len(train) == 3
    assert sorted([*train["label"], *evaluation["label"]]) == [0, 0, 0, 1, 1, 1]
    assert set(evaluation["label"]) == {0, 1}


def test_missing_titles_are_not_examples():
    df = pd.DataFrame({"page_title": [None, None], "revision_is_identity_reverted": [1, 0],
                       "wiki_db": ["x", "x"]})
    assert textdata.title_examples(df, 2).empty
