"""The fine-tuning datasets of the four language models, built from the prepared ``train`` split.

Pure pandas: each builder takes the rows with ``is_text_train = 1`` and returns a frame with
``text`` (and ``text_pair`` for changes) and ``label``; :func:`balance_classes` and
:func:`stratified_split` then give the balanced training set and its 5 % evaluation split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kitrain.schema import LABEL


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
    """(train, eval): ``share`` of each class (at least one where a class has two or more rows)."""
    labels = df["label"].to_numpy()
    classes = sorted(set(labels.tolist())) if stratify else [None]
    eval_mask = np.zeros(len(df), dtype=bool)
    for cls in classes:
        positions = np.flatnonzero(labels == cls) if stratify else np.arange(len(df))
        n = len(positions)
        take = min(n - 1, max(1, int(round(n * share)))) if n >= 2 else 0
        eval_mask[rng.choice(positions, size=take, replace=False)] = True
    return df[~eval_mask].reset_index(drop=True), df[eval_mask].reset_index(drop=True)
