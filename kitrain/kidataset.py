"""Reading the published KI dataset (CSV) into kitrain's feature schema, in one place.

The dataset published with the paper (linked from the original training repository) and the
original ``train_model_simplified.py`` name the same features differently. Both are mapped here:

* text-model features: ``insert_s_0_max`` ... (kept) or ``bert_insert_s0_max`` ... and
  ``bert_title_score`` (renamed);
* user flags: ``is_anonymous`` or ``user_is_anonymous``; groups ``is_<group>`` with the group's own
  hyphen (``is_ipblock-exempt``) or ours (``is_ipblock_exempt``);
* action counts: ``insert_Text`` (kept) or ``Text_insert`` (renamed), or only the ``actions``
  column holding a Python dict literal (expanded);
* ``texts_*`` hold Python-literal lists and are not needed for training;
* logged-out editors (:mod:`kitrain.editors`): ``is_anonymous`` is taken as it is (the published
  dataset is of 2022, before temporary accounts, so it flags IP editors, which were all of them);
  a temporary-account flag (``is_temporary`` or the collected ``event_user_is_temporary``) or, where
  there is none, a user name (``event_user_text_historical``) of a temporary account makes the
  row logged out too, as the collection does. Such a row's group flags are 0, as an IP editor's.

A column nobody knows, or a feature the requested variants need that the file lacks, stops the
import with an error naming them.
"""

from __future__ import annotations

import ast
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from kitrain.editors import REGISTERED, TEMPORARY, editor_group
from kitrain.schema import (
    ACTION_FEATURES,
    ACTION_TYPES,
    COLLECTED_COLUMNS,
    CONTENT_TYPES,
    FEATURE_TABLE_COLUMNS,
    IS_ANONYMOUS,
    IS_TEMPORARY,
    LABEL,
    MISSING_TEXT_SCORE,
    MLM_FEATURES,
    USER_GROUP_FLAGS,
    USER_GROUPS,
    USER_TEMPORARY,
    group_flag,
    is_anonymous_variant,
    variant_features,
)

logger = logging.getLogger(__name__)

_BERT = re.compile(r"^bert_(insert|remove|change)_([sp])([01])_(max|mean)$")
#: Published columns that are neither our features nor needed: accepted and dropped.
IGNORED = {"is_anon", "title_p_0", "actions", "texts_removed", "texts_insert", "texts_change",
           "Unnamed: 0"}
#: Content types the published dataset predates (counted as 0 there).
NEW_CONTENT_TYPES = ("Character",)


class DatasetError(ValueError):
    """A CSV that does not map onto the feature schema; the message names the columns."""


def rename_map(columns: list[str]) -> dict[str, str]:
    """Published or simplified-script name -> kitrain name, for the columns present."""
    mapping: dict[str, str] = {}
    for column in columns:
        match = _BERT.match(column)
        if match:
            kind, stat, index, agg = match.groups()
            mapping[column] = f"{kind}_{stat}_{index}_{agg}"
        elif column == "bert_title_score":
            mapping[column] = "title_s_0"
        elif column == "user_is_anonymous":
            mapping[column] = IS_ANONYMOUS
        elif column == USER_TEMPORARY:
            mapping[column] = IS_TEMPORARY
        elif column.startswith("is_") and column[3:] in USER_GROUPS and "-" in column:
            mapping[column] = group_flag(column[3:])
        else:
            parts = column.rsplit("_", 1)
            if len(parts) == 2 and parts[0] in CONTENT_TYPES and parts[1] in ACTION_TYPES:
                mapping[column] = f"{parts[1]}_{parts[0]}"  # Text_insert -> insert_Text
    return mapping


def _expand_actions(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """Action-count columns from the ``actions`` dict literal, where the columns are absent."""
    parsed = []
    for number, text in enumerate(frame["actions"], start=2):  # line 1 is the header
        try:
            value = ast.literal_eval(text) if isinstance(text, str) else {}
        except (ValueError, SyntaxError) as exc:
            raise DatasetError(f"{path} line {number}: `actions` is not a dict literal ({exc})") from None
        if not isinstance(value, dict):
            raise DatasetError(f"{path} line {number}: `actions` is not a dict literal")
        parsed.append(value)
    counts = {name: [int(d.get(name, 0)) for d in parsed] for name in ACTION_FEATURES}
    return frame.assign(**counts)


def read_ki_csv(path: str, variants: tuple[str, ...]) -> pd.DataFrame:
    """The CSV as a features frame of kitrain's schema, checked for what ``variants`` need."""
    try:
        frame = pd.read_csv(path, low_memory=False)
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DatasetError(f"cannot read features CSV {path}: {exc}") from exc
    mapping = rename_map(list(frame.columns))
    renamed = [mapping.get(c, c) for c in frame.columns]
    duplicated = sorted({c for c in renamed if renamed.count(c) > 1})
    if duplicated:
        raise DatasetError(f"features CSV {path} names the same feature twice (after mapping): {duplicated}")
    frame.columns = renamed
    known = set(FEATURE_TABLE_COLUMNS) | {name for name, _ in COLLECTED_COLUMNS} | IGNORED
    unknown = [c for c in frame.columns if c not in known]
    if unknown:
        raise DatasetError(f"features CSV {path} has unknown column(s): {unknown}")
    if not any(c in frame.columns for c in ACTION_FEATURES) and "actions" in frame.columns:
        frame = _expand_actions(frame, path)
    frame = frame.assign(**{name: 0 for name in ACTION_FEATURES
                            if name not in frame.columns and name.rsplit("_", 1)[-1] in NEW_CONTENT_TYPES})
    needed = {LABEL, "wiki_db"} | {f for v in variants for f in variant_features(v)}
    if any(is_anonymous_variant(v) for v in variants):
        needed.add(IS_ANONYMOUS)  # picks the anonymous editors' rows, though not their feature
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise DatasetError(f"features CSV {path} lacks column(s) needed by {list(variants)}: {missing}")
    for name in MLM_FEATURES:
        if name in frame.columns:
            frame[name] = frame[name].fillna(MISSING_TEXT_SCORE)
    for name in ACTION_FEATURES:
        frame[name] = frame[name].fillna(0).astype(np.int64)
    labels = pd.to_numeric(frame[LABEL].map(lambda v: {"True": 1, "False": 0}.get(v, v)), errors="coerce")
    if labels.isna().any() or not labels.isin([0, 1]).all():
        raise DatasetError(f"features CSV {path}: {LABEL} must be 0/1 (or True/False)")
    frame[LABEL] = labels.astype(np.int64)
    if "is_text_train" not in frame.columns:
        logger.info("%s has no is_text_train column: every row is a classifier row", Path(path).name)
        frame = frame.assign(is_text_train=0)
    return logged_out_editors(frame).copy()


def logged_out_editors(frame: pd.DataFrame) -> pd.DataFrame:
    """``is_anonymous`` and ``is_temporary`` by the collection's definition of a logged-out editor
    (:func:`kitrain.editors.editor_group`), and no group flags for such an editor."""
    temporary = frame[IS_TEMPORARY] if IS_TEMPORARY in frame.columns else pd.Series(None, index=frame.index)
    names = (frame["event_user_text_historical"] if "event_user_text_historical" in frame.columns
             else pd.Series(None, index=frame.index))
    anonymous = frame[IS_ANONYMOUS] if IS_ANONYMOUS in frame.columns else pd.Series(False, index=frame.index)
    groups = [editor_group(a, t, n) for a, t, n in zip(anonymous, temporary.astype(object), names)]
    out = frame.assign(**{IS_TEMPORARY: np.array([g == TEMPORARY for g in groups], dtype=np.int64)})
    if IS_ANONYMOUS in frame.columns or IS_TEMPORARY in frame.columns or "event_user_text_historical" in frame.columns:
        logged_out = np.array([g != REGISTERED for g in groups])
        out[IS_ANONYMOUS] = logged_out.astype(np.int64)
        for flag in USER_GROUP_FLAGS:
            if flag in out.columns:
                out.loc[logged_out, flag] = 0
    return out
