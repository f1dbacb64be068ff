"""The edit diff of one revision: action counts and the texts it inserted, removed and changed.

Built on mwedittypes 3 (``StructuredEditTypes``). Its tree diff reports text at section level: a
changed section is one ``Text`` change holding the section's whole plain text before and after. So
the texts kitrain keeps are

* ``texts_insert`` / ``texts_removed``: the plain text of inserted / removed ``Text`` nodes, plus the
  sentences of lines added / deleted inside changed ``Text`` nodes;
* ``texts_change``: (before, after) sentence pairs from changed ``Text`` nodes whose fuzzy ratio
  exceeds :data:`FUZZY_THRESHOLD`, each sentence used once.

Unlike the original 2022 function this never swallows errors (callers count failures by error
class), iterates over lists, not sets (output is the same under any ``PYTHONHASHSEED``), and has no
wall-clock timeout (output never depends on machine speed).
"""

from __future__ import annotations

import dataclasses
import difflib
import re

from mwedittypes import StructuredEditTypes
from mwedittypes.utils import full_diff_to_simple
from rapidfuzz import fuzz

from kitrain.schema import ACTION_TYPES, CONTENT_TYPES, action_key

#: Two sentences whose similarity (0-100) exceeds this are a change, not an insert plus a remove.
FUZZY_THRESHOLD = 60

#: Sentence ends: the original's ``.!?`` plus the full stops of CJK, Devanagari and Arabic scripts,
#: so that a Japanese or Hindi paragraph is not one "sentence". The marks are dropped everywhere
#: (the original kept the last one of a line), so "A." and "A. B." share the sentence "A".
_SENTENCE_END = re.compile(r"[.!?\u3002\uff01\uff1f\u0964\u061f]")


class DiffSelfCheckError(RuntimeError):
    """The diff returned nothing for an edit that certainly changes the page."""


@dataclasses.dataclass(frozen=True)
class EditDiff:
    """Result of :func:`edit_diff`; ``actions`` always holds every key of ``schema.ACTION_KEYS``."""

    actions: dict[str, int]
    texts_insert: list[str]
    texts_removed: list[str]
    texts_change: list[tuple[str, str]]

    def is_empty(self) -> bool:
        return not (
            any(self.actions.values()) or self.texts_insert or self.texts_removed or self.texts_change
        )


def sentence_split(text: str) -> list[str]:
    """Split a line into stripped, non-empty sentences."""
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text)) if s]


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def diff_lines(old: str, new: str) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Sentences added, deleted and changed between two versions of a section's plain text.

    Lines are aligned with ``difflib``; the sentences of non-equal lines are candidates. A sentence
    found on both sides only moved and is neither added nor deleted. Every (deleted, added) pair in
    order is tried once; a pair above the fuzzy threshold becomes a change and both sentences are
    used up.
    """
    old_lines, new_lines = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    added: list[str] = []
    deleted: list[str] = []
    for tag, old_lo, old_hi, new_lo, new_hi in matcher.get_opcodes():
        if tag == "equal":
            continue
        for line in new_lines[new_lo:new_hi]:
            added.extend(sentence_split(line))
        for line in old_lines[old_lo:old_hi]:
            deleted.extend(sentence_split(line))
    added, deleted = _unique(added), _unique(deleted)

    used: set[str] = set()  # membership only; never iterated, so order is deterministic
    changed: list[tuple[str, str]] = []
    for before in deleted:
        for after in added:
            if before in used:
                break
            if after in used:
                continue
            if before == after:
                used.update((before, after))
            elif fuzz.ratio(before, after) > FUZZY_THRESHOLD:
                changed.append((before, after))
                used.update((before, after))
    return (
        [s for s in added if s not in used],
        [s for s in deleted if s not in used],
        changed,
    )


def count_actions(full_diff: dict) -> dict[str, int]:
    """All ``schema.ACTION_KEYS`` counts from a ``StructuredEditTypes`` result.

    Node edits count once per node, text edits by their token count (mwedittypes' own summary).
    Content types outside ``schema.CONTENT_TYPES`` (e.g. ``Other Tag``) have no feature column.
    """
    simple = full_diff_to_simple(full_diff)
    return {
        action_key(action, ctype): int(simple.get(ctype, {}).get(action, 0))
        for ctype in CONTENT_TYPES
        for action in ACTION_TYPES
    }


def edit_diff(prev_wikitext: str, curr_wikitext: str, lang: str) -> EditDiff:
    """Diff two revisions of a page. Raises whatever the parser raises; the caller counts it."""
    differ = StructuredEditTypes("wikitext", prev_wikitext, curr_wikitext, lang=lang)
    actions = count_actions(differ.get_diff())
    tree = differ.tree_diff
    texts_insert = [n["text"].strip() for n in tree["insert"] if n["type"] == "Text"]
    texts_removed = [n["text"].strip() for n in tree["remove"] if n["type"] == "Text"]
    texts_change: list[tuple[str, str]] = []
    for node in tree["change"]:
        if node["prev"]["type"] == node["curr"]["type"] == "Text":
            added, deleted, changed = diff_lines(node["prev"]["text"], node["curr"]["text"])
            texts_insert.extend(added)
            texts_removed.extend(deleted)
            texts_change.extend(changed)
    texts_insert = [t for t in texts_insert if t]
    texts_removed = [t for t in texts_removed if t]
    return EditDiff(actions, texts_insert, texts_removed, texts_change)


_CHECK_PREV = "'''Kyiv''' is a city.\n\n== History ==\nThe city is old.\n"
_CHECK_CURR = (
    "'''Kyiv''' is a city. It lies on the Dnipro.{{citation needed}}\n\n"
    "== History ==\nThe city is old.\n"
)


def self_check() -> None:
    """Fail loudly if the diff library no longer sees a plain insert.

    The original collection silently returned empty features for every revision once mwedittypes
    changed its API; this check runs before any collection and in every diff worker.
    """
    result = edit_diff(_CHECK_PREV, _CHECK_CURR, "en")
    if not result.texts_insert or result.actions[action_key("insert", "Template")] != 1:
        raise DiffSelfCheckError(
            f"edit diff self-check failed: a known insert gave {result!r}; "
            "is the installed mwedittypes a 3.x release?"
        )
