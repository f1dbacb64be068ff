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
from mwedittypes.node_differ import get_wikitext_diff_count
from mwedittypes.tree_differ import get_diff as get_structured_diff
from mwedittypes.utils import full_diff_to_simple
from mwparserfromhell.definitions import PARSER_BLACKLIST, SINGLE, SINGLE_ONLY
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


#: A heading line as MediaWiki writes it (``== Title ==``): where the sections are cut. Something
#: other than ``=`` must stand between the two runs, because mwparserfromhell makes no heading of a
#: line of ``=`` alone (``==``, ``====``), and a cut there would split one text node in two. A line
#: that only looks like a heading (inside a template, a comment, a tag) is a place the guard below
#: refuses.
_HEADING = re.compile(r"^(={1,6})[^\n]*?[^=\n][^\n]*?\1[ \t]*$", re.M)

#: Tags whose content mwparserfromhell does not parse (``<math>``, ``<nowiki>``, ``<pre>``,
#: ``<syntaxhighlight>`` ...): taken from the parser itself, so that the guard skips exactly what
#: the parser keeps as raw text.
_RAW_TAGS = frozenset(PARSER_BLACKLIST)
#: Tags that never have content (``<br>``, ``<hr>``, ``<img>`` ...): they cannot span anything.
_EMPTY_TAGS = frozenset(SINGLE_ONLY)
#: Tags that may go unclosed (``<li>``, ``<td>``, ``<tr>`` ...). These are the one construct whose
#: route does not fail at the end of the text: the tokenizer closes it there implicitly. Cut off
#: after an unclosed ``<li>``, the text before the cut would end it as a tag where the whole text
#: may not (its route can still fail on a mismatched closing tag after the cut, and then it is
#: text), so an open one blocks every cut after it until its own closing tag.
_UNCLOSED_TAGS = frozenset(SINGLE) - _EMPTY_TAGS
_RAW_CLOSE = {tag: re.compile(rf"</{tag}\s*>", re.I) for tag in _RAW_TAGS}
#: The tokens of every construct mwparserfromhell can make span a line, in one alternation: a
#: comment, an HTML or extension tag (opening, closing or self-closing; its attributes are part of
#: the token, so ``<span title="}}">`` holds no closer), template and argument braces, a table's
#: start and end, wikilink brackets, an external link's brackets, and a line starting with ``=`` (a
#: heading, whose text keeps a ``}}`` or ``]]`` from closing anything). Every alternative starts
#: with one of a few characters and there are no named groups, so that the regex engine skips the
#: other characters at C speed (about 1 ms on a 180 KB page, against 2.5 ms with a lookahead and
#: 14 ms without). A table's ``{|`` and ``|}`` count only at a line's start (checked in
#: :func:`_cut_guard`); ``|}}`` is a template's last, empty argument and its end, never a table's
#: end followed by ``}``. A link or template on one line with no bracket, brace or tag inside (most
#: of them) is one token that changes nothing, so the scanner's loop passes over it at once.
_TOKEN = re.compile(r"\[\[[^\[\]{}<\n]*\]\]|\{\{[^{}\[\]<\n]*\}\}"  # whole links and templates
                    r"|<!--|<(/?)([A-Za-z][A-Za-z0-9]*)([\s/][^>]*)?>"  # comments, tags
                    r"|\{\{|\}\}|\{\||\|\}(?!\})|\[\[|\]\]"  # braces, tables, links
                    r"|\[(?:[A-Za-z][A-Za-z0-9+.\-]*:|//)|\]|\n=")  # external links, headings
#: What may stand before a table's ``{|`` or ``|}`` on its line.
_TABLE_INDENT = re.compile(r"[ \t:]*")
#: The string that ends each stack kind (tags: ``"</" + name``, matched in the lowered text).
_CLOSER = {"{{": "}}", "[[": "]]", "{|": "|}"}


class _Closers:
    """Where the last possible closer of each kind lies in one text (``-1``: nowhere).

    A construct that succeeds ends with its closer (``}}``, ``]]``, ``|}``, ``</name``), so a
    construct opened at ``p`` can contain position ``q`` only if its kind's last closer starts at or
    after ``q``: beyond that, it is known to be closed or to have failed (and then the parser
    treats its opener as text). One ``rfind`` per kind, at C speed, cached.
    """

    def __init__(self, text: str):
        self.text = text
        self._lower: str | None = None
        self._last: dict[str, int] = {}

    def last(self, kind: str) -> int:
        found = self._last.get(kind)
        if found is None:
            if kind in _CLOSER:
                found = self.text.rfind(_CLOSER[kind])
            else:  # a tag: "<name"; its closer is "</name" in any case
                if self._lower is None:
                    self._lower = self.text.lower()
                found = self._lower.rfind("</" + kind[1:])
            self._last[kind] = found
        return found


def _cut_guard(text: str, boundaries: list[int]) -> list[bool]:
    """For each boundary (ascending starts of heading lines), whether a cut there is safe.

    A cut at ``b`` is safe when no construct of mwparserfromhell's parse of ``text`` contains
    ``b`` and the line at ``b`` is a heading to the parser; :func:`changed_span` gives the argument
    why the parse of the span is then the whole text's. This scanner over-approximates the
    parser's stack of open constructs in one pass up to the last boundary's line (about 2,000
    tokens and 2 ms on a 180 KB page):

    * comments and raw tags (:data:`_RAW_TAGS`) are skipped to their closer, as the parser skips
      them, so markup inside them (``<ref>`` in a comment, ``}}`` in ``<math>``) counts for nothing;
      one without a closer is text to the parser (its route fails at the end of the text) and so
      to the scanner;
    * an opener is pushed with the position of its kind's last closer in the text
      (:class:`_Closers`). One with no closer after it is not pushed: its route fails at the end
      of the text at the latest and the parser keeps it as text (a stray ``{{``, an unclosed
      ``<div>`` or ``<small>``). An entry whose last possible closer lies before the current
      position is dropped, since it can no longer contain anything from here on. Tags that may
      stay unclosed (:data:`_UNCLOSED_TAGS`) never expire;
    * a closer pops the top entry only if that is of its own kind. Where another kind is on top
      (``{{a|[http://x }}]``, ``{{a|<div>}}``, a heading line inside a template) the parser may
      take the closer as text inside the inner construct, so nothing is popped: the outer
      construct is kept open, which can only refuse a cut, never allow a wrong one. A stray closer
      (nothing of its kind open) is text to the parser too. A closing tag pops the tag on top even
      when its name differs: the parser fails a tag's route at a mismatched closing tag.

    Every construct the parser has open at ``b`` is thus on the scanner's stack with a closer at
    or after ``b``: the scanner pushes at least what the parser opens, and pops only where the
    parser closes or fails the same construct, or an entry the parser never had. A cut is refused
    when such an entry is open at ``b``, when ``b`` lies inside a comment, a raw tag or a tag's
    attributes, or when something opened on the heading line itself can still close after the
    line (then the parser may not make a heading of it). So an opener blocks only the boundaries it
    can really span: an unclosed ``<small>`` in the lead blocks nothing, a template opened before a
    heading-like line and closed after it blocks only the boundaries inside it.
    """
    safe = [False] * len(boundaries)
    if not boundaries:
        return safe
    closers = _Closers(text)
    line_end = text.find("\n", boundaries[-1])
    end_of_scan = len(text) if line_end < 0 else line_end + 1
    stack: list[tuple[str, int]] = []  # (kind, last position its closer may start at)
    skip_until = 0  # end of the comment, raw tag or tag being skipped
    i = 0
    n = len(boundaries)
    heading: tuple[int, int, int] | None = None  # a safe boundary's (index, stack depth, line end)

    def record(upto: int) -> None:
        nonlocal i
        while i < n and boundaries[i] <= upto:
            b = boundaries[i]
            # entries whose last closer lies before b are closed or failed by now (as in close());
            # dropped here, a page of many headings and whole links keeps a short stack (checking
            # every entry at every boundary was quadratic: minutes on a 5 MB page of 80,000 sections)
            while stack and stack[-1][1] < b:
                stack.pop()
            safe[i] = b >= skip_until and not stack  # a live entry on top: b is inside it
            i += 1

    def check_heading() -> None:
        # the heading line at a safe boundary must close on itself what it opens
        nonlocal heading
        index, depth, end = heading
        if skip_until > end or any(last > end for _, last in stack[depth:]):
            safe[index] = False
        heading = None

    def close(kind: str, pos: int) -> None:
        while stack and stack[-1][1] < pos:  # can no longer be open here: closed or failed
            stack.pop()
        if stack and stack[-1][0] == kind:
            stack.pop()

    for m in _TOKEN.finditer(text, 0, end_of_scan):
        pos = m.start()
        if pos < skip_until:
            continue
        if heading is not None and pos > heading[2]:
            check_heading()
        record(pos)
        token = m.group()
        first = token[0]
        if len(token) > 4 and first in "[{" and token[-1] in "]}":
            continue  # a whole link or template: opened and closed, nothing inside
        if token == "<!--":
            end = text.find("-->", pos + 4)
            if end >= 0:
                skip_until = end + 3
        elif first == "<":
            skip_until = m.end()  # attributes may run over lines: no cut inside the tag itself
            slash, name, attrs = m.groups()
            name = name.lower()
            if slash:
                while stack and stack[-1][1] < pos:
                    stack.pop()
                while stack and stack[-1][0][0] == "<":
                    if stack.pop()[0] == "<" + name:
                        break
            elif (attrs or "").rstrip().endswith("/") or name in _EMPTY_TAGS:
                continue
            elif name in _RAW_TAGS:
                raw_end = _RAW_CLOSE[name].search(text, m.end())
                if raw_end:
                    skip_until = raw_end.end()
            elif name in _UNCLOSED_TAGS:
                stack.append(("<" + name, len(text)))
            else:
                last = closers.last("<" + name)
                if last > pos:
                    stack.append(("<" + name, last))
        elif token in ("{{", "[["):
            last = closers.last(token)
            if last > pos:
                stack.append((token, last))
        elif token == "}}":
            close("{{", pos)
        elif token == "]]":
            close("[[", pos)
        elif token == "]":  # an external link ends at its first "]"
            close("ext", pos)
        elif token in ("{|", "|}"):
            line_start = text.rfind("\n", 0, pos) + 1
            if _TABLE_INDENT.fullmatch(text, line_start, pos) is None:
                continue  # not at a line's start: text to the parser
            if token == "|}":
                close("{|", pos)
            else:
                last = closers.last("{|")
                if last > pos:
                    stack.append(("{|", last))
        else:  # an external link's "[" or a line starting with "=": both end with their line
            if first == "\n":
                pos += 1
                record(pos)
            line_end = text.find("\n", pos)
            line_end = len(text) if line_end < 0 else line_end
            if first == "[":
                last = text.rfind("]", pos, line_end)
                if last > pos:
                    stack.append(("ext", last))
            else:
                if i and boundaries[i - 1] == pos and safe[i - 1]:
                    heading = (i - 1, len(stack), line_end)
                stack.append(("=", line_end))
    if heading is not None:
        check_heading()
    record(len(text))
    return safe


def split_sections(text: str) -> list[str]:
    """The text cut before each heading line; the pieces join back to the text exactly."""
    starts = [0] + [m.start() for m in _HEADING.finditer(text) if m.start() > 0]
    return [text[a:b] for a, b in zip(starts, starts[1:] + [len(text)])]


def _starts(sections: list[str]) -> list[int]:
    """The offset of each section in the text they join to, and the text's length."""
    out, total = [0], 0
    for section in sections:
        total += len(section)
        out.append(total)
    return out


def changed_span(prev: str, curr: str) -> tuple[str, str]:
    """Both texts without the sections that are equal at their start and at their end.

    Only identical sections at the same place are cut, so moves and reorders stay inside the span.
    One equal section is kept beside a side that would otherwise be empty, because an empty page
    has no sections at all for the tree differ.

    A cut is made only at a heading line where :func:`_cut_guard` finds, in both texts, no
    construct of mwparserfromhell's parse that contains it (issue 16; this replaced counts of
    openers and closers tuned on the shared pages, which ignored order and counted markup inside
    comments and ``<math>``). Why such a cut at ``b`` leaves the diff unchanged: the parser is at
    the top level at ``b``, at a line's start, with nothing open.

    1. The text before ``b`` alone tokenises the same. Each construct before ``b`` closed before
       ``b`` (its route read only text before its closer) or failed; a route that fails on the
       whole text fails on the shorter one too, because it cannot meet a closer it did not meet
       before and the end of the text fails it at the latest. The one route the end of the text
       does not fail is an unclosed ``<li>``-like tag (closed there implicitly), which the guard
       treats as open to the end.
    2. The text from ``b`` on alone tokenises the same: the tokenizer's state at ``b`` is its
       initial state (top level, no context, a line's start), and from there it reads only the
       text from ``b`` on.
    3. The node at ``b`` is a heading (the guard also checks that the heading line closes what it
       opens), so mwedittypes' sections of the span are the whole text's sections from there on,
       and the sections cut off parse the same in both texts (the same text, by 1 and 2 in each),
       so the tree differ finds them equal. The same holds at the end of the span.

    The guard is checked in both texts, because whether a construct before ``b`` can still close
    depends on the text after ``b``, which the edit changed. ``tests/test_diff.py`` checks the
    guard against the parser at every heading of the 72 real articles in ``../shared`` and (marked
    slow) of the same articles with markup broken at random.
    """
    return _changed_regions(prev, curr)[0]


def equal_ends(ps: list[str], cs: list[str]) -> tuple[int, int]:
    """How many sections are equal at the start of both lists, and then at their end (the two
    never overlap)."""
    lead = 0
    while lead < min(len(ps), len(cs)) and ps[lead] == cs[lead]:
        lead += 1
    trail = 0
    while trail < min(len(ps), len(cs)) - lead and ps[-1 - trail] == cs[-1 - trail]:
        trail += 1
    return lead, trail


def _changed_regions(prev: str, curr: str) -> tuple[tuple[str, str], list[tuple[str, str]]]:
    """:func:`changed_span`'s span, and the changed regions inside it.

    Where both texts have as many sections, a run of equal sections inside the span that the
    guard lets both texts cut at its ends splits the span into regions diffed on their own (an
    edit in the lead and one in the last section parse two sections, not the page between them).
    Each region is a span in the sense of :func:`changed_span`: the argument there holds at each
    of its ends. Without such a run the one region is the span.
    """
    ps, cs = split_sections(prev), split_sections(curr)
    lead, trail = equal_ends(ps, cs)
    same_count = len(ps) == len(cs)
    cuts: list[tuple[int, int]] = []  # (start, end) section indices of the cut-off runs inside
    if lead or trail or same_count:
        # the start of section k (1 <= k <= len) in each text, allowed where both texts allow it;
        # cutting before section 0 is always allowed
        allowed = []
        for sections, text in ((ps, prev), (cs, curr)):
            starts = _starts(sections)
            if same_count and len(sections) > 2:
                candidates = list(range(1, len(sections) + 1))
            else:
                candidates = [*range(1, lead + 1), *range(len(sections) - trail, len(sections))]
            safe = _cut_guard(text, [starts[k] for k in candidates])
            allowed.append({k for k, ok in zip(candidates, safe) if ok} | {0})
        ok_p, ok_c = allowed

        def ok(k_prev: int, k_curr: int) -> bool:
            return k_prev in ok_p and k_curr in ok_c

        lead = max((k for k in range(lead, 0, -1) if ok(k, k)), default=0)
        trail = max((t for t in range(trail, 0, -1) if ok(len(ps) - t, len(cs) - t)), default=0)
        if same_count:
            k = lead
            while k < len(ps) - trail:
                if ps[k] != cs[k]:
                    k += 1
                    continue
                run_end = k
                while run_end < len(ps) - trail and ps[run_end] == cs[run_end]:
                    run_end += 1
                first = next((j for j in range(k, run_end + 1) if ok(j, j)), None)
                last = next((j for j in range(run_end, k - 1, -1) if ok(j, j)), None)
                if first is not None and first < last and k > lead and run_end < len(ps) - trail:
                    cuts.append((first, last))
                k = run_end
    while True:
        p, c = "".join(ps[lead:len(ps) - trail]), "".join(cs[lead:len(cs) - trail])
        if (p and c) or not (lead or trail):
            break
        if lead:
            lead -= 1
        else:
            trail -= 1
    if not cuts:
        return (p, c), [(p, c)]
    bounds = [lead, *(i for cut in cuts for i in cut), len(ps) - trail]
    regions = [("".join(ps[a:b]), "".join(cs[a:b])) for a, b in zip(bounds[::2], bounds[1::2])]
    return (p, c), regions


class DiffTooLarge(ValueError):
    """The changed span of an edit is longer than the collection's ``max_diff_chars``."""


def edit_diff(prev_wikitext: str, curr_wikitext: str, lang: str,
              max_span_chars: int | None = None, text_rules: str = DEFAULT_TEXT_RULES) -> EditDiff:
    """Diff two revisions of a page, parsing only the span of sections that changed.

    Same output as :func:`plain_edit_diff` on the whole pair, under either text rules (checked on
    real-article edits by ``benchmarks/diff.py`` and a test), several times faster: the unchanged
    sections around an edit are neither parsed nor diffed. Edits far apart (in the lead and in the
    last section) are diffed as separate regions (:func:`_changed_regions`) whose tree diffs are
    joined, so the sections between them are not parsed either; where a node removed in one region
    is inserted in another (a move to the whole diff) the span is diffed whole. Raises whatever the
    parser raises; the caller counts it.

    mwedittypes' tree diff grows faster than quadratically with the span it is given: blanking a
    360 KB article takes half a minute, a 5 MB page would take hours and stall its Spark task. With
    ``max_span_chars`` a changed span longer than that (both sides together) raises
    :class:`DiffTooLarge` before any parsing; the size of the page around a small edit does not
    count, because the unchanged sections are cut off first.
    """
    check_text_rules(text_rules)
    if prev_wikitext == curr_wikitext:
        return plain_edit_diff("", "", lang, text_rules)
    (prev_span, curr_span), regions = _changed_regions(prev_wikitext, curr_wikitext)
    if max_span_chars is not None and len(prev_span) + len(curr_span) > max_span_chars:
        raise DiffTooLarge(f"changed span of {len(prev_span)} + {len(curr_span)} characters is over "
                           f"max_diff_chars={max_span_chars}")
    if len(regions) > 1:
        trees = [get_structured_diff(prev_content=p, curr_content=c, content_type="wikitext", lang=lang)
                 for p, c in regions]
        if not _moved_between(trees):
            tree = {key: [node for t in trees for node in t[key]] for key in trees[0]}
            return _edit_diff_of_tree(tree, count_actions(get_wikitext_diff_count(tree, lang=lang)), text_rules)
    return plain_edit_diff(prev_span, curr_span, lang, text_rules)


def _moved_between(trees: list[dict]) -> bool:
    """Whether a node the edit took out of one region (removed, or the old side of a change) is
    put into another (inserted, or the new side of a change).

    The whole span's diff may pair the two as a move, where the regions' diffs report a removal or
    a change in each: then the span is diffed whole.
    """
    taken = [{n["text"] for n in t["remove"]} | {n["prev"]["text"] for n in t["change"]} for t in trees]
    put = [{n["text"] for n in t["insert"]} | {n["curr"]["text"] for n in t["change"]} for t in trees]
    return any(taken[i] & put[j] for i in range(len(trees)) for j in range(len(trees)) if i != j)


def plain_edit_diff(prev_wikitext: str, curr_wikitext: str, lang: str,
                    text_rules: str = DEFAULT_TEXT_RULES) -> EditDiff:
    """One ``StructuredEditTypes`` call on the whole pair, and the text rules above."""
    check_text_rules(text_rules)
    differ = StructuredEditTypes("wikitext", prev_wikitext, curr_wikitext, lang=lang)
    actions = count_actions(differ.get_diff())
    return _edit_diff_of_tree(differ.tree_diff, actions, text_rules)


def _edit_diff_of_tree(tree: dict, actions: dict[str, int], text_rules: str) -> EditDiff:
    """The texts of a tree diff under the text rules, with its action counts."""
    paper = text_rules == "paper"
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
