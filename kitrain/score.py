"""Scoring revisions with a bundle (``kitrain score``).

Input: JSON lines, one revision each, with the parent and current wikitext and the metadata the
features need. Each goes through the same code as training: the collection's edit diff, the same
flags, the same text-model features and the bundle's classifier, so training and serving cannot
drift. The diff applies the collections' ``max_diff_chars`` recorded in the bundle, so one blanked
5 MB page cannot stall the scorer for hours: such a revision, like any whose diff fails, gets an
output line with ``"error"`` (the exception's class name, e.g. ``DiffTooLarge``) in place of a
score. A malformed line is reported with its line number and skipped; the rest are scored.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from kitrain import diff as diffmod
from kitrain import editors
from kitrain.bundle import Bundle, load_bundle
from kitrain.classifier import load_cbm, predict
from kitrain.config import FeaturesConfig
from kitrain.features import assemble, text_model_features
from kitrain.languages import LanguageError, language_of
from kitrain.schema import (
    LABEL,
    TAG_FLAGS,
    USER_ANONYMOUS,
    USER_GROUPS,
    USER_TEMPORARY,
    group_flag,
)

logger = logging.getLogger(__name__)

#: field -> (type, required)
FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "revision_id": (int, True),
    "wiki_db": (str, True),
    "page_title": (str, True),
    "parent_text": (str, True),
    "revision_text": (str, True),
    "event_user_is_anonymous": (bool, True),
    "event_user_is_temporary": (bool, False),
    "event_user_text": (str, False),
    "event_user_groups": (list, False),
    "revision_tags": (list, False),
    "revision_text_bytes_diff": (int, False),
    "event_timestamp": (str, False),
}


class InputLineError(ValueError):
    """One input line that cannot be scored."""


def parse_line(text: str) -> dict[str, Any]:
    """A validated record; raises :class:`InputLineError` naming the problem."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputLineError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(record, dict):
        raise InputLineError("not a JSON object")
    for name, (kind, required) in FIELDS.items():
        if name not in record or record[name] is None:
            if required:
                raise InputLineError(f"missing field {name!r}")
            continue
        value = record[name]
        if kind is int and isinstance(value, bool) or not isinstance(value, kind):
            raise InputLineError(f"field {name!r} must be {kind.__name__}, got {type(value).__name__}")
    try:
        record["lang"] = language_of(record["wiki_db"])
    except LanguageError as exc:
        raise InputLineError(str(exc)) from None
    return record


def revision_row(record: dict[str, Any], text_rules: str = diffmod.DEFAULT_TEXT_RULES,
                 max_diff_chars: int | None = None) -> dict[str, Any]:
    """The collected-data row of one revision: flags and edit diff, computed as in collection
    (with the text rules and the ``max_diff_chars`` limit the bundle's collections used: a longer
    changed span raises :class:`kitrain.diff.DiffTooLarge` before any parsing)."""
    tags = set(record.get("revision_tags") or [])
    # the collection's definition of a logged-out editor (kitrain.editors): an IP editor, or a
    # temporary account by its flag or, without one, by its name; such an editor has no groups
    group = editors.editor_group(record["event_user_is_anonymous"], record.get("event_user_is_temporary"),
                                 record.get("event_user_text"))
    logged_out = group != editors.REGISTERED
    groups = set() if logged_out else set(record.get("event_user_groups") or [])
    result = diffmod.edit_diff(record["parent_text"], record["revision_text"], record["lang"],
                               max_diff_chars, text_rules)
    bytes_diff = record.get("revision_text_bytes_diff")
    if bytes_diff is None:
        bytes_diff = len(record["revision_text"].encode("utf-8")) - len(record["parent_text"].encode("utf-8"))
    row = {
        "revision_id": record["revision_id"], "wiki_db": record["wiki_db"],
        "page_title": record["page_title"], "event_timestamp": record.get("event_timestamp", ""),
        LABEL: -1, "is_balanced": 0, "is_text_train": 0, "revision_text_bytes_diff": bytes_diff,
        USER_ANONYMOUS: int(logged_out), USER_TEMPORARY: int(group == editors.TEMPORARY),
        "texts_insert": result.texts_insert, "texts_removed": result.texts_removed,
        "texts_change": [{"before": b, "after": a} for b, a in result.texts_change],
        "actions": list(result.actions.items()),
    }
    for tag, flag in TAG_FLAGS:
        row[flag] = int(tag in tags)
    for group in USER_GROUPS:
        row[group_flag(group)] = int(group in groups)
    return row


#: Columns of :func:`score_lines`' results.
RESULT_COLUMNS = ["revision_id", "wiki_db", "score", "error"]


def score_lines(
    bundle: Bundle, lines: Iterable[str], cfg: FeaturesConfig | None = None
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """(results, skipped).

    ``results`` has one row per valid input line, in input order: ``revision_id``, ``wiki_db``,
    and either ``score`` (``error`` None) or ``error``, the class name of the exception its edit
    diff raised (``DiffTooLarge`` for a changed span over the bundle's ``max_diff_chars``; ``score``
    NaN). ``skipped`` gives line number and reason of the lines that are no valid revision.
    """
    diffmod.self_check()
    cfg = cfg or bundle.features_config()
    text_rules, max_diff_chars = bundle.text_rules, bundle.max_diff_chars
    rows: list[dict[str, Any]] = []
    # per valid line: (revision_id, wiki_db, error class or None where its row is in ``rows``)
    entries: list[tuple[int, str, str | None]] = []
    skipped: list[dict[str, Any]] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            record = parse_line(text)
        except InputLineError as exc:
            skipped.append({"line": number, "error": str(exc)})
            logger.warning("line %d skipped: %s", number, exc)
            continue
        try:
            rows.append(revision_row(record, text_rules, max_diff_chars))
        except Exception as exc:  # noqa: BLE001 - a diff failure, answered by its class as collection counts it
            logger.warning("line %d (revision %d of %s): diff failed: %s: %s", number,
                           record["revision_id"], record["wiki_db"], type(exc).__name__, exc)
            entries.append((record["revision_id"], record["wiki_db"], type(exc).__name__))
        else:
            entries.append((record["revision_id"], record["wiki_db"], None))
    scores = iter(())
    if rows:
        frame = pd.DataFrame(rows)
        mlm, _, _ = text_model_features({"input": frame}, bundle.mlm, cfg)
        features = assemble(frame, mlm["input"])
        scores = iter(predict(load_cbm(bundle.classifier), bundle.description, features).tolist())
    results = [(rid, wiki, float("nan") if error else next(scores), error) for rid, wiki, error in entries]
    return pd.DataFrame(results, columns=RESULT_COLUMNS), skipped


def result_line(revision_id: int, wiki_db: str, score: float, error: str | None) -> str:
    """One output JSON line: ``{revision_id, wiki_db, score}`` or ``{revision_id, wiki_db, error}``."""
    answer: dict[str, Any] = {"revision_id": int(revision_id), "wiki_db": wiki_db}
    if error:
        answer["error"] = error
    else:
        answer["score"] = float(score)
    return json.dumps(answer, ensure_ascii=False)


def run_score(bundle_dir: str, input_path: str, output_path: str | None = None,
              device: str = "auto", batch_size: int | None = None) -> dict[str, Any]:
    """Score a JSON-lines file; write JSON lines to a file or stdout, one per valid input line in
    input order: ``{revision_id, wiki_db, score}``, or ``{revision_id, wiki_db, error}`` where the
    edit diff failed (``"error": "DiffTooLarge"`` for a changed span over the bundle's
    ``max_diff_chars``). Lines that are no valid revision are skipped and listed in the summary.

    Text-model settings come from the bundle (as at training time); only the device and the batch
    size, which do not change results beyond float noise, can be set.

    Returns ``{"scored": n, "errors": n, "skipped": [{"line", "error"}, ...]}``.
    """
    bundle = load_bundle(bundle_dir)
    overrides: dict[str, Any] = {"device": device}
    if batch_size is not None:
        overrides["batch_size"] = batch_size
    cfg = bundle.features_config(**overrides)
    path = Path(input_path)
    if not path.is_file():
        raise InputLineError(f"no input file {path}")
    with path.open(encoding="utf-8", errors="strict") as handle:
        try:
            lines = handle.readlines()
        except UnicodeDecodeError as exc:
            raise InputLineError(f"{path} is not UTF-8: {exc}") from None
    results, skipped = score_lines(bundle, lines, cfg)
    out_lines = [result_line(r.revision_id, r.wiki_db, r.score, r.error) for r in results.itertuples()]
    if output_path:
        target = Path(output_path)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_text("".join(line + "\n" for line in out_lines), encoding="utf-8")
        tmp.replace(target)
    else:
        sys.stdout.write("".join(line + "\n" for line in out_lines))
    errors = int(results.error.notna().sum())
    return {"scored": len(out_lines) - errors, "errors": errors, "skipped": skipped}
