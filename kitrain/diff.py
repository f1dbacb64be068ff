"""The edit diff of one revision: action counts and the texts it inserted, removed and changed.

Built on mwedittypes 3 (``StructuredEditTypes``). Its tree diff reports text at section level: a
changed section is one ``Text`` change holding the section's whole plain text before and after. So
the texts kitrain keeps are

* ``texts_insert`` / ``texts_removed``: the plain text of inserted / removed ``Text`` nodes, plus the
  sentences of lines added / deleted inside changed ``Text`` nodes;
* ``texts_change``: (before, after) sentence pairs from changed ``Text`` nodes whose fuzzy ratio
  exceeds :data:`FUZZY_THRESHOLD`, each sentence used once.

Two sets of text rules (:data:`TEXT_RULES`) decide how sentences are cut and compared:

* ``paper`` (the default), the original ``modules/data_collection.py``: sentences cut by
  ``re.split(r"[.!?](?!$)", line)`` and stripped, so a line's final mark stays on its sentence and
  empty sentences are kept; fuzzywuzzy 0.18's ``fuzz.ratio`` as the original environment ran it
  (pure Python: ``int(round(100 * difflib.SequenceMatcher(None, a, b).ratio()))``, 100 for equal
  strings, 0 when one is empty); lines aligned by ``difflib.SequenceMatcher`` with its default
  ``autojunk``; node texts kept as mwedittypes gives them. The original paired deleted and added
  sentences in the iteration order of two Python sets, which changes with ``PYTHONHASHSEED``; here
  they are paired in sorted order, so a rerun gives the same pairs.
* ``multiscript``: sentences also end at the full stops of CJK, Devanagari and Arabic scripts
  (``。！？।؟``), every mark and every empty part is dropped, rapidfuzz's ratio compares them, lines
  are aligned without ``autojunk``, node texts are stripped and empty ones dropped, and sentences
  pair in the order they first appear.

Unlike the original 2022 function this never swallows errors (callers count failures by error
class), never iterates over sets to build output (the same under any ``PYTHONHASHSEED``), and has
no wall-clock timeout (output never depends on machine speed).
"""

from __future__ import annotations

import dataclasses
import difflib
import re

from mwedittypes import StructuredEditTypes
from mwedittypes.utils import full_diff_to_simple
from rapidfuzz import fuzz

from kitrain.config import TEXT_RULES, CollectConfig, check_text_rules  # noqa: F401 - TEXT_RULES re-exported
from kitrain.schema import ACTION_TYPES, CONTENT_TYPES, action_key

#: Two sentences whose similarity (0-100) exceeds this are a change, not an insert plus a remove.
FUZZY_THRESHOLD = 60

#: The text rules of the diff: ``paper`` (the original's, the default) or ``multiscript``.
DEFAULT_TEXT_RULES = CollectConfig.text_rules

#: The original's sentence end: ``.``, ``!`` or ``?`` not at the end of the line (the last one
#: stays on its sentence).
_PAPER_SENTENCE_END = re.compile(r"[.!?](?!$)")
#: Sentence ends of ``multiscript``: the original's ``.!?`` plus the full stops of CJK, Devanagari
#: and Arabic scripts, so that a Japanese or Hindi paragraph is not one "sentence". The marks are
#: dropped everywhere, so "A." and "A. B." share the sentence "A".
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


def sentence_split(text: str, text_rules: str = DEFAULT_TEXT_RULES) -> list[str]:
    """A line's sentences: ``paper``, every part stripped, empty ones kept, the final mark kept;
    ``multiscript``, stripped and non-empty, without their marks."""
    if check_text_rules(text_rules) == "paper":
        return [part.strip() for part in _PAPER_SENTENCE_END.split(text)]
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text)) if s]


def _percent(ratio: float) -> int:
    """fuzzywuzzy's rounding of a ratio: ``int(round(100 * ratio))`` (Python's round, half to even)."""
    return int(round(100 * ratio))


def fuzzy_ratio(a: str, b: str) -> int:
    """fuzzywuzzy 0.18's ``fuzz.ratio`` without python-Levenshtein, as the original ran it: 100 for
    equal strings, 0 when one is empty, else the rounded difflib ratio (difflib's default
    ``autojunk``)."""
    if a == b:
        return 100
    if not a or not b:
        return 0
    return _percent(difflib.SequenceMatcher(None, a, b).ratio())


def passes_fuzzy_threshold(a: str, b: str, text_rules: str = DEFAULT_TEXT_RULES) -> bool:
    """Whether two different sentences are similar enough to be a change.

    Under the paper's rules the value is :func:`fuzzy_ratio`'s, but difflib's ratio is slow on
    long sentences: its two cheap upper bounds decide first whenever even the bound does not pass
    the threshold (the rounding is monotonic, so the exact value could not pass either)."""
    if text_rules == "multiscript":
        return fuzz.ratio(a, b) > FUZZY_THRESHOLD
    if a == b or not a or not b:
        return fuzzy_ratio(a, b) > FUZZY_THRESHOLD
    matcher = difflib.SequenceMatcher(None, a, b)
    for bound in (matcher.real_quick_ratio, matcher.quick_ratio):
        if _percent(bound()) <= FUZZY_THRESHOLD:
            return False
    return _percent(matcher.ratio()) > FUZZY_THRESHOLD


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _changed_lines(old_lines: list[str], new_lines: list[str], autojunk: bool,
                   text_rules: str) -> tuple[list[str], list[str]]:
    """Sentences of the added and of the deleted lines, in order, each once."""
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=autojunk)
    added: list[str] = []
    deleted: list[str] = []
    for tag, old_lo, old_hi, new_lo, new_hi in matcher.get_opcodes():
        if tag == "equal":
            continue
        for line in new_lines[new_lo:new_hi]:
            added.extend(sentence_split(line, text_rules))
        for line in old_lines[old_lo:old_hi]:
            deleted.extend(sentence_split(line, text_rules))
    return _unique(added), _unique(deleted)


def diff_lines(old: str, new: str, text_rules: str = DEFAULT_TEXT_RULES) -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Sentences added, deleted and changed between two versions of a section's plain text.

    Lines are aligned with ``difflib``; the sentences of non-equal lines are candidates. A sentence
    found on both sides only moved and is neither added nor deleted. Every (deleted, added) pair is
    tried once, in sorted order (``paper``) or in order of appearance (``multiscript``); a pair
    above the fuzzy threshold becomes a change and both sentences are used up.
    """
    paper = check_text_rules(text_rules) == "paper"
    added, deleted = _changed_lines(old.splitlines(), new.splitlines(), paper, text_rules)
    if paper:
        added, deleted = sorted(added), sorted(deleted)
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
            elif passes_fuzzy_threshold(before, after, text_rules):
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


#: A heading line as MediaWiki writes it (``== Title ==``); a cheap stand-in for parsing.
_HEADING = re.compile(r"^(={1,6})[^\n]*?\1[ \t]*$", re.M)
#: Constructs that may span lines: a cut is only made where the text cut off closes all of them.
_PAIRED = (("{{", "}}"), ("<!--", "-->"), ("[[", "]]"))
#: Wikitext tables open and close at the start of a line (``{|`` may follow ``:`` indentation); a
#: ``|}`` elsewhere is the end of a template argument (``{{x|a=|}}``), not of a table.
_TABLE_OPEN = re.compile(r"^[ \t:]*\{\|", re.M)
_TABLE_CLOSE = re.compile(r"^[ \t]*\|\}", re.M)
_BLOCK_TAGS = ("nowiki", "pre", "ref", "math", "gallery", "syntaxhighlight", "source", "code", "poem",
               "timeline", "score", "includeonly", "noinclude", "onlyinclude", "references", "div",
               "table", "blockquote", "center", "span", "small", "big", "sup", "sub", "mapframe")
_SELF_CLOSING = {tag: re.compile(rf"<{tag}\b[^>]*/>") for tag in _BLOCK_TAGS}
#: Any opening, closing or self-closing tag of exactly one of those names (``<ref`` is not
#: ``<references``): one scan counts them all.
_TAG = re.compile(rf"<(/?)({'|'.join(_BLOCK_TAGS)})(?=[\s/>])([^>]*)>", re.I)


def split_sections(text: str) -> list[str]:
    """The text cut before each heading line; the pieces join back to the text exactly."""
    starts = [0] + [m.start() for m in _HEADING.finditer(text) if m.start() > 0]
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


def _balance(section: str) -> tuple[int, ...]:
    """How many of each multi-line construct ``section`` leaves open (negative: closes).

    Sections are cut at heading lines, which no construct's opening or closing token spans, so
    the balance of a run of sections is the sum of theirs: each section is scanned once.
    """
    counts = [section.count(a) - section.count(b) for a, b in _PAIRED]
    counts.append(len(_TABLE_OPEN.findall(section)) - len(_TABLE_CLOSE.findall(section)))
    tags = dict.fromkeys(_BLOCK_TAGS, 0)
    for closing, name, rest in _TAG.findall(section):
        if closing:
            tags[name.lower()] -= 1
        elif not rest.endswith("/"):
            tags[name.lower()] += 1
    return (*counts, *tags.values())


def _self_contained_prefix(sections: list[str], limit: int) -> int:
    """The largest ``k <= limit`` such that ``sections[:k]`` leaves no construct open."""
    best, total = 0, None
    for k, section in enumerate(sections[:limit], start=1):
        balance = _balance(section)
        total = balance if total is None else tuple(t + b for t, b in zip(total, balance))
        if not any(total):
            best = k
    return best


def changed_span(prev: str, curr: str) -> tuple[str, str]:
    """Both texts without the sections that are equal at their start and at their end.

    Only identical sections at the same place are cut, so moves and reorders stay inside the span.
    A cut is kept only where the text cut off is self-contained (templates, tables, comments and
    block tags all closed), and one equal section is kept beside a side that would otherwise be
    empty, because an empty page has no sections at all for the tree differ.
    """
    ps, cs = split_sections(prev), split_sections(curr)
    lead = 0
    while lead < min(len(ps), len(cs)) and ps[lead] == cs[lead]:
        lead += 1
    trail = 0
    while trail < min(len(ps), len(cs)) - lead and ps[-1 - trail] == cs[-1 - trail]:
        trail += 1
    # cut only where the text cut off closes everything it opens (equal on both sides, so the
    # previous revision's sections are checked)
    lead = _self_contained_prefix(ps, lead)
    trail = _self_contained_prefix(ps[::-1], trail)
    while True:
        p, c = "".join(ps[lead:len(ps) - trail]), "".join(cs[lead:len(cs) - trail])
        if (p and c) or not (lead or trail):
            return p, c
        if lead:
            lead -= 1
        else:
            trail -= 1


class DiffTooLarge(ValueError):
    """The changed span of an edit is longer than the collection's ``max_diff_chars``."""


def edit_diff(prev_wikitext: str, curr_wikitext: str, lang: str,
              max_span_chars: int | None = None, text_rules: str = DEFAULT_TEXT_RULES) -> EditDiff:
    """Diff two revisions of a page, parsing only the span of sections that changed.

    Same output as :func:`plain_edit_diff` on the whole pair, under either text rules (checked on
    real-article edits by ``benchmarks/diff.py`` and a test), several times faster: the unchanged
    sections around an edit are neither parsed nor diffed. Raises whatever the parser raises; the
    caller counts it.

    mwedittypes' tree diff grows faster than quadratically with the span it is given: blanking a
    360 KB article takes half a minute, a 5 MB page would take hours and stall its Spark task. With
    ``max_span_chars`` a changed span longer than that (both sides together) raises
    :class:`DiffTooLarge` before any parsing; the size of the page around a small edit does not
    count, because the unchanged sections are cut off first.
    """
    check_text_rules(text_rules)
    if prev_wikitext == curr_wikitext:
        return plain_edit_diff("", "", lang, text_rules)
    prev_span, curr_span = changed_span(prev_wikitext, curr_wikitext)
    if max_span_chars is not None and len(prev_span) + len(curr_span) > max_span_chars:
        raise DiffTooLarge(f"changed span of {len(prev_span)} + {len(curr_span)} characters is over "
                           f"max_diff_chars={max_span_chars}")
    return plain_edit_diff(prev_span, curr_span, lang, text_rules)


def plain_edit_diff(prev_wikitext: str, curr_wikitext: str, lang: str,
                    text_rules: str = DEFAULT_TEXT_RULES) -> EditDiff:
    """One ``StructuredEditTypes`` call on the whole pair, and the text rules above."""
    paper = check_text_rules(text_rules) == "paper"
    differ = StructuredEditTypes("wikitext", prev_wikitext, curr_wikitext, lang=lang)
    actions = count_actions(differ.get_diff())
    tree = differ.tree_diff
    node_text = (lambda n: n["text"]) if paper else (lambda n: n["text"].strip())
    texts_insert = [node_text(n) for n in tree["insert"] if n["type"] == "Text"]
    texts_removed = [node_text(n) for n in tree["remove"] if n["type"] == "Text"]
    texts_change: list[tuple[str, str]] = []
    for node in tree["change"]:
        if node["prev"]["type"] == node["curr"]["type"] == "Text":
            added, deleted, changed = diff_lines(node["prev"]["text"], node["curr"]["text"], text_rules)
            texts_insert.extend(added)
            texts_removed.extend(deleted)
            texts_change.extend(changed)
    if not paper:
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
