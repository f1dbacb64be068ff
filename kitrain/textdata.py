"""The fine-tuning datasets of the four language models, built from the prepared ``train`` split.

Pure pandas: each builder takes the rows with ``is_text_train = 1`` and returns a frame with
``text`` (and ``text_pair`` for changes) and ``label``; :func:`balance_classes` and
:func:`stratified_split` then give the balanced training set and its 5 % evaluation split.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from kitrain.schema import LABEL

logger = logging.getLogger(__name__)


class NoExamplesError(ValueError):
    """A target has nothing to train on."""


def _single_texts(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """Revisions with exactly one (non-empty) text in ``column``: the text is the example."""
    rows = [
        (texts[0], int(label), rid, wiki)
        for texts, label, rid, wiki in zip(df[column], df[LABEL], df["revision_id"], df["wiki_db"])
        if texts is not None and len(texts) == 1 and isinstance(texts[0], str) and texts[0].strip()
    ]
    return pd.DataFrame(rows, columns=["text", "label", "revision_id", "wiki_db"])


def inserts_examples(df: pd.DataFrame) -> pd.DataFrame:
    return _single_texts(df, "texts_insert")


def removes_examples(df: pd.DataFrame) -> pd.DataFrame:
    return _single_texts(df, "texts_removed")


def changes_examples(df: pd.DataFrame) -> pd.DataFrame:
    """Revisions with exactly one (before, after) pair that differs: a text-pair example."""
    rows = []
    for pairs, label, rid, wiki in zip(df["texts_change"], df[LABEL], df["revision_id"], df["wiki_db"]):
        if pairs is None or len(pairs) != 1:
            continue
        before, after = pairs[0]["before"], pairs[0]["after"]
        if before != after:
            rows.append((before, after, int(label), rid, wiki))
    return pd.DataFrame(rows, columns=["text", "text_pair", "label", "revision_id", "wiki_db"])


def title_text(title: object) -> str:
    """A page title as text: underscores are spaces (shared with scoring)."""
    return "" if title is None else str(title).replace("_", " ")


def title_examples(df: pd.DataFrame, min_revisions: int) -> pd.DataFrame:
    """Per (wiki, title) with at least ``min_revisions`` revisions: the title and its revert rate."""
    frame = df.assign(text=df["page_title"].map(title_text))
    frame = frame[frame["text"].str.strip() != ""]  # a missing title says nothing
    stats = frame.groupby(["wiki_db", "text"], sort=True)[LABEL].agg(["mean", "count"]).reset_index()
    stats = stats[stats["count"] >= min_revisions]
    return pd.DataFrame({"text": stats["text"], "label": stats["mean"].astype("float32"),
                         "wiki_db": stats["wiki_db"]}).reset_index(drop=True)


def build_examples(target: str, df: pd.DataFrame, min_title_revisions: int) -> pd.DataFrame:
    builders = {"inserts": inserts_examples, "removes": removes_examples, "changes": changes_examples}
    if target == "title":
        return title_examples(df, min_title_revisions)
    return builders[target](df)


def balance_classes(df: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Downsample the majority class to the minority's size; rows come out shuffled."""
    groups = [g for _, g in sorted(df.groupby("label"), key=lambda kv: kv[0])]
    if len(groups) < 2:
        raise NoExamplesError(f"only one class ({df['label'].unique().tolist()}) among {len(df)} examples")
    size = min(len(g) for g in groups)
    parts = [g.iloc[np.sort(rng.choice(len(g), size=size, replace=False))] for g in groups]
    out = pd.concat(parts)
    return out.iloc[rng.permutation(len(out))].reset_index(drop=True)


def stratified_split(
    df: pd.DataFrame, share: float, rng: np.random.Generator, stratify: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, eval) rows of ``df`` by :func:`stratified_mask` on its ``label``; both keep the
    input's row order."""
    eval_mask = stratified_mask(df["label"].to_numpy(), share, rng, stratify)
    return df[~eval_mask].reset_index(drop=True), df[eval_mask].reset_index(drop=True)


def stratified_mask(
    labels: np.ndarray, share: float, rng: np.random.Generator, stratify: bool = True
) -> np.ndarray:
    """The evaluation rows (a boolean mask) of a split by scikit-learn's ``train_test_split``,
    stratified on ``labels`` (not with ``stratify=False``, e.g. for a regression's revert rates),
    seeded by an integer drawn from ``rng`` so that one seed still feeds everything. A mask lets
    the caller take only the columns it needs from each part (the classifier's matrices).

    The evaluation part holds ``ceil(share * n)`` rows, scikit-learn's size for a fractional
    ``test_size``, spread over the classes in proportion by scikit-learn. Where scikit-learn would
    refuse, as before: a class of one row stays in training (it cannot be on both sides), and the
    evaluation part holds at least as many rows as there are classes while leaving training as many
    (so a share that rounds down to nothing still gives evaluation rows, and even a share of 1
    never takes every row). Nothing to split (no class of two rows or more) gives an empty
    evaluation part, which the callers refuse.
    """
    positions = np.arange(len(labels))
    if stratify:
        _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
        splittable = counts[inverse] >= 2
        if not splittable.all():
            logger.debug("%d class(es) of one row stay in training", int((counts < 2).sum()))
        positions, strata, groups = positions[splittable], inverse[splittable], int((counts >= 2).sum())
    else:
        strata, groups = None, 1
    n = len(positions)
    eval_mask = np.zeros(len(labels), dtype=bool)
    if n >= 2:  # each class kept has two rows or more
        size = min(max(math.ceil(share * n), groups), n - groups)
        _, eval_positions = train_test_split(positions, test_size=size, stratify=strata,
                                             random_state=int(rng.integers(0, 2**32)), shuffle=True)
        eval_mask[eval_positions] = True
    return eval_mask
