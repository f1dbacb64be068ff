"""Held-out edit pairs for the diff benchmark, from articles the diff's cut-off was not tuned on.

``benchmarks/diff.py`` measures on ``../shared/data/edit_pairs.jsonl.gz``: 15 articles x 12 edit
kinds, the pairs the changed-span cut-off (``kitrain.diff.changed_span``) was tuned on (issue 16).
This script makes pairs of the same twelve kinds from the articles of
``../shared/data/wikitext_articles.jsonl.gz`` that the shared pairs do not use (an article is used
when its title is a pair's ``article`` or its wikitext is a pair's ``prev``): 57 of the 72.

Each kind reproduces what the shared pairs do to ``prev`` (read off them with ``difflib``):

* ``sentence_insert``: a sentence (from the same small pool) inserted before a sentence of a prose
  paragraph, or after the last one;
* ``word_change``: a word of prose replaced by an adverb (``reportedly``, ``primarily`` ...);
* ``sentence_remove``: one sentence of a paragraph of several removed (with its references);
* ``template_edit``: a year in a template parameter (``|year=2004``, ``|date=July 2012``,
  ``{{harvid|A|B|2008}}``) incremented by one;
* ``link_insert``: a word of prose made a wikilink (``word`` -> ``[[word]]``);
* ``ref_insert``: a ``<ref>{{cite web ...}}</ref>`` added after a sentence (after its own refs);
* ``vandal_replace``: a whole prose paragraph replaced by a junk phrase;
* ``vandal_insert``: a junk phrase and a space inserted before a sentence;
* ``section_blank``: one level-2 section removed whole (heading, body and subsections), never the
  last one (which holds the categories), as in every shared pair of this kind;
* ``paragraph_insert``: a four-sentence paragraph with a ``<ref>`` and a blank line inserted after
  a blank line, before a paragraph or a heading;
* ``category_add``: ``\\n[[Category:Articles edited in benchmark]]\\n`` appended to the page;
* ``multi``: a word change, a link insert and a template edit at three places of the page.

Where a kind needs a place, it is drawn with the seeded generator among all valid places of the
page (not the first one), so the edits land all over the page. A place is valid only in prose at
the top level: not inside a template, link, table, comment or tag (``<ref>``, ``<math>`` ...).
An article where a kind finds no valid place skips that kind; the skips are counted and logged.
Each (article, kind) has its own generator, seeded by ``--seed``, the title, the page's size and
the kind, so a subset of ``--articles`` gives the same pairs as the full run.

Output: gzipped JSON lines ``{"article", "bucket", "bytes", "edit", "prev", "curr"}`` as in the
shared file (``bytes``: UTF-8 size of ``prev``; ``bucket``: the page's size group, named as the
shared groups: <10 KB 5KB, 10-30 20KB, 30-60 40KB, 60-120 80KB, >=120 160KB, the default bands of
``benchmarks/diff.py``). The output is Wikipedia text (CC BY-SA): write it outside the repository
(the default, under /tmp) and never commit it.

    python benchmarks/make_pairs.py [--out /tmp/kitrain-bench/held_out_pairs.jsonl.gz] [--seed 0]
                                    [--articles TITLE ...] [--kinds KIND ...] [--min-bytes 0]
    python benchmarks/diff.py --pairs /tmp/kitrain-bench/held_out_pairs.jsonl.gz --clock cpu
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import json
import logging
import random
import re
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Iterable

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
DEFAULT_ARTICLES = SHARED / "wikitext_articles.jsonl.gz"
DEFAULT_USED_PAIRS = SHARED / "edit_pairs.jsonl.gz"
DEFAULT_OUT = Path("/tmp/kitrain-bench/held_out_pairs.jsonl.gz")

log = logging.getLogger("benchmarks.make_pairs")

#: The kinds, in the order of the shared pairs.
KINDS = ("sentence_insert", "word_change", "sentence_remove", "template_edit", "link_insert",
         "ref_insert", "vandal_replace", "vandal_insert", "section_blank", "paragraph_insert",
         "category_add", "multi")

#: Size groups: (upper edge in KB of 1000 bytes, name). The edges are ``benchmarks/diff.py``'s
#: default bands; the names are those of the shared pairs' groups that the bands hold.
BUCKETS = ((10, "5KB"), (30, "20KB"), (60, "40KB"), (120, "80KB"), (float("inf"), "160KB"))

# What the shared pairs insert (synthetic text, not Wikipedia's).
SENTENCES = (
    "In 2019 the topic received renewed attention after a widely reported conference in [[Geneva]].",
    "Several historians have questioned this interpretation, citing the lack of contemporary sources.",
    "This view was later popularised by a number of authors in the early twentieth century.",
)
PARAGRAPH = (" ".join(("The [[economy]] of the region grew rapidly during this period.", SENTENCES[1],
                       SENTENCES[0], SENTENCES[2]))
             + "<ref>{{cite book |last=Doe |first=Jane |title=A History |year=2001 |page=12}}</ref>\n\n")
REF = ("<ref>{{cite web |url=http://www.example.org/article/123 |title=Some source title "
       "|publisher=Example |accessdate=1 July 2022}}</ref>")
VANDAL = ("lol this is so dumb", "JOHN IS THE BEST!!!!!", "this page is wrong and stupid",
          "i like turtles i like turtles")
ADVERBS = ("reportedly", "primarily", "notably", "famously")
CATEGORY = "\n[[Category:Articles edited in benchmark]]\n"

# --- where the page is prose ----------------------------------------------------------------------

#: Tags whose content is not wikitext (skipped to the closing tag) and tags whose content is
#: wikitext but not prose (templates inside them are still found: most cite templates are in refs).
_OPAQUE_TAGS = ("math", "pre", "nowiki", "syntaxhighlight", "source", "timeline", "score", "code", "chem",
                "ce", "graph", "mapframe", "templatedata", "hiero", "imagemap", "inputbox", "categorytree")
_MARKUP_TAGS = ("ref", "references", "gallery", "poem")
_TOKEN = re.compile(
    r"<!--|\{\{|\}\}|\[\[|\]\]|^[ \t:]*\{\||^[ \t]*\|\}"
    rf"|<({'|'.join(_OPAQUE_TAGS + _MARKUP_TAGS)})\b[^>]*>",
    re.M | re.I)
_CLOSE_TAG = {tag: re.compile(rf"</{tag}\s*>", re.I) for tag in _OPAQUE_TAGS + _MARKUP_TAGS}
#: The heading line of kitrain.diff (``== Title ==``).
_HEADING = re.compile(r"^(={1,6})[^\n]*?\1[ \t]*$", re.M)
_NOT_PROSE_START = tuple("=*#:;|!{}< \t-_")
_NOT_PROSE_LINK = re.compile(r"\[\[\s*(file|image|category|media|[a-z]{2,3}(-[a-z]+)?)\s*:", re.I)
#: Words before a full stop that do not end a sentence.
_ABBREVIATIONS = {"st", "dr", "mr", "mrs", "ms", "jr", "sr", "vs", "no", "nos", "vol", "pp", "ca", "co",
                  "inc", "ltd", "eg", "ie", "etc", "al", "op", "cit", "ed", "eds", "fig", "gen", "col",
                  "lt", "capt", "sgt", "rev", "hon", "prof", "mt", "ft", "approx", "cf", "ch", "sec"}
_WORD = re.compile(r"[^\W\d_]{2,}")
_YEAR = re.compile(r"(?<![\d.])(1[5-9]\d\d|20\d\d)(?![\d.])")


class Page:
    """A page's wikitext with the parts that are not top-level prose marked.

    ``inside[i]`` is 1 where character ``i`` is inside a template, link, table, comment or a
    content tag (``<ref>...</ref>`` and the like). An unclosed construct runs to the page's end.
    """

    def __init__(self, text: str):
        self.text = text
        inside = bytearray(len(text))
        self.templates: list[tuple[int, int]] = []
        self.hidden: list[tuple[int, int]] = []  # comments and tags whose content is not wikitext
        opened: list[tuple[str, int]] = []  # open templates, links and tables
        pos = 0
        while (m := _TOKEN.search(text, pos)) is not None:
            token, tag = m.group(0), (m.group(1) or "").lower()
            if token == "<!--" or tag:
                if token == "<!--":
                    close = text.find("-->", m.end())
                    end = len(text) if close < 0 else close + 3
                elif token.endswith("/>"):
                    end = m.end()
                else:
                    close = _CLOSE_TAG[tag].search(text, m.end())
                    end = len(text) if close is None else close.end()
                inside[m.start():end] = b"\x01" * (end - m.start())
                if tag in _MARKUP_TAGS:
                    pos = m.end()  # its templates count; its text is not prose
                else:
                    self.hidden.append((m.start(), end))
                    pos = end
                continue
            stripped = token.strip(" \t:")
            if stripped in ("{{", "[[", "{|"):
                opened.append((stripped, m.start()))
            else:
                want = {"}}": "{{", "]]": "[[", "|}": "{|"}[stripped]
                # close the innermost open construct of that kind (a stray closer closes nothing)
                for k in range(len(opened) - 1, -1, -1):
                    if opened[k][0] == want:
                        start = opened[k][1]
                        del opened[k:]
                        inside[start:m.end()] = b"\x01" * (m.end() - start)
                        if want == "{{":
                            self.templates.append((start, m.end()))
                        break
            pos = m.end()
        unclosed = [s for kind, s in opened if kind != "[["]  # a stray "[[" is only text
        if unclosed:
            inside[min(unclosed):] = b"\x01" * (len(text) - min(unclosed))
        self.inside = inside
        self._lines: list[tuple[int, int]] | None = None
        self._sentences: dict[tuple[int, int], list[tuple[int, int]]] | None = None

    def top(self, i: int) -> bool:
        return 0 <= i < len(self.text) and not self.inside[i]

    def lines(self) -> list[tuple[int, int]]:
        """``(start, end)`` of every line of prose: starting at the top level (or with a plain
        wikilink), not a heading, list, table, template or tag line, nor a file or category line."""
        if self._lines is None:
            text, out, start = self.text, [], 0
            while start < len(text):
                end = text.find("\n", start)
                end = len(text) if end < 0 else end
                line = text[start:end]
                newline_top = start == 0 or not self.inside[start - 1]
                if (line.strip() and newline_top and not line.startswith(_NOT_PROSE_START)
                        and (self.top(start) or (line.startswith("[[") and not _NOT_PROSE_LINK.match(line))
                             or line.startswith("'"))):
                    out.append((start, end))
                start = end + 1
            self._lines = out
        return self._lines

    def sentences(self) -> dict[tuple[int, int], list[tuple[int, int]]]:
        """Per prose line, its sentences as ``(start, end)``: a sentence ends after a top-level
        ``.``, ``!`` or ``?`` and the references or templates attached to it, before whitespace and
        the next sentence's first character (a capital, a digit, a quote or a link). The last
        sentence of a line ends at the line's end (trailing whitespace excluded) and counts only
        when it ends in such a mark too."""
        if self._sentences is None:
            text, out = self.text, {}
            for ls, le in self.lines():
                found, start = [], ls
                for m in re.finditer(r"[.!?]", text[ls:le]):
                    i = ls + m.start()
                    if not self.top(i) or i < start or not self._ends_sentence(i, start):
                        continue
                    end = i + 1
                    while end < le and self.inside[end] and not text.startswith("[[", end):
                        end += 1  # references and templates attached to the sentence
                    j = end
                    while j < le and text[j] in " \t":
                        j += 1
                    if j == le:  # the line's last sentence
                        found.append((start, end))
                        break
                    if j == end or not self._starts_sentence(j):
                        continue
                    found.append((start, end))
                    start = j
                out[(ls, le)] = [(s, e) for s, e in found if e > s and any(c.isalpha() for c in text[s:e])]
            self._sentences = out
        return self._sentences

    def _ends_sentence(self, i: int, start: int) -> bool:
        m = re.search(r"(\w+)$", self.text[max(start, i - 40):i])
        if m is None:
            return self.text[i - 1:i] in ("'", '"', ")", "]")
        word = m.group(1)
        if len(word) == 1 and word.isalpha():
            return False  # an initial: "John F. Kennedy"
        before = self.text[max(start, i - len(word) - 1):i - len(word)]
        if before == ".":  # "U.S." or "e.g."
            return False
        return word.lower() not in _ABBREVIATIONS

    def _starts_sentence(self, j: int) -> bool:
        text = self.text
        if text.startswith("[[", j) or text.startswith("''", j):
            return True
        return self.top(j) and (text[j].isupper() or text[j].isdigit() or text[j] in "\"“")

    def words(self) -> list[tuple[int, int]]:
        """Top-level words of prose sentences: letters only, between spaces or punctuation."""
        text, out = self.text, []
        for spans in self.sentences().values():
            for s, e in spans:
                for m in _WORD.finditer(text, s, e):
                    a, b = m.span()
                    if (self.top(a) and self.top(b - 1) and text[a - 1:a] in (" ", "(")
                            and text[b:b + 1] in (" ", ",", ".", ";", ":", ")", "!", "?")):
                        out.append((a, b))
        return out

    def template_years(self) -> list[tuple[int, int]]:
        """Years in a parameter of a template (after its first ``|``), not in a URL, not in a
        nested template (that one is listed itself) nor in a comment."""
        text, out = self.text, []
        starts = [s for s, _ in self.hidden]
        for ts, te in self.templates:
            body = text[ts:te]
            nested = [(s - ts, e - ts) for s, e in self.templates if ts < s and e <= te]
            first_bar = body.find("|")
            if first_bar < 0:
                continue
            for m in _YEAR.finditer(body, first_bar):
                a = m.start()
                if any(s <= a < e for s, e in nested):
                    continue
                after = body.find("|", a)
                segment = body[body.rfind("|", 0, a):after if after > 0 else len(body)]
                if "/" in segment or "{{" in segment:
                    continue
                k = bisect.bisect_right(starts, ts + a) - 1
                if k >= 0 and self.hidden[k][0] <= ts + a < self.hidden[k][1]:
                    continue
                out.append((ts + a, ts + m.end()))
        return sorted(out)

    def level2_sections(self) -> list[tuple[int, int]]:
        """``(start, end)`` of each level-2 section: its heading line up to the next level-2
        heading (subsections included), the last one up to the page's end."""
        heads = [m.start() for m in _HEADING.finditer(self.text)
                 if m.group(1) == "==" and self.top(m.start())]
        return list(zip(heads, heads[1:] + [len(self.text)]))


# --- the edit kinds: (text, rng) -> new text, or None when the page has no valid place ------------

def _replace(text: str, start: int, end: int, new: str) -> str:
    return text[:start] + new + text[end:]


def sentence_insert(text: str, rng: random.Random, page: Page | None = None) -> str | None:
    page = page or Page(text)
    places = []
    for spans in page.sentences().values():
        places += [(s, "start") for s, _ in spans]
        if spans:
            places.append((spans[-1][1], "end"))
    if not places:
        return None
    pos, where = rng.choice(places)
    new = rng.choice(SENTENCES)
    return _replace(text, pos, pos, new + " " if where == "start" else " " + new)


def sentence_remove(text: str, rng: random.Random, page: Page | None = None) -> str | None:
    page = page or Page(text)
    places = []
    for spans in page.sentences().values():
        if len(spans) < 2:
            continue  # removing a paragraph's only sentence removes the paragraph
        places += [(s, nxt) for (s, _), (nxt, _) in zip(spans, spans[1:])]  # with the space after
        places.append((spans[-2][1], spans[-1][1]))  # the last one with the space before
    if not places:
        return None
    start, end = rng.choice(places)
    return _replace(text, start, end, "")


def word_change(text: str, rng: random.Random, page: Page | None = None) -> str | None:
    page = page or Page(text)
    words = [(a, b) for a, b in page.words() if text[a:b] not in ADVERBS]
    if not words:
        return None
    a, b = rng.choice(words)
    return _replace(text, a, b, rng.choice(ADVERBS))


def link_insert(text: str, rng: random.Random, page: Page | None = None) -> str | None:
    page = page or Page(text)
    words = [(a, b) for a, b in page.words() if b - a >= 3]
    if not words:
        return None
    a, b = rng.choice(words)
    return _replace(text, a, b, f"[[{text[a:b]}]]")


def template_edit(text: str, rng: random.Random, page: Page | None = None) -> str | None:
    page = page or Page(text)
    years = page.template_years()
    if not years:
        return None
    a, b = rng.choice(years)
    return _replace(text, a, b, str(int(text[a:b]) + 1))


def ref_insert(text: str, rng: random.Random, page: Page | None = None) -> str | None:
    page = page or Page(text)
    ends = [e for spans in page.sentences().values() for _, e in spans]
    if not ends:
        return None
    pos = rng.choice(ends)
    return _replace(text, pos, pos, REF)


def vandal_replace(text: str, rng: random.Random, page: Page | None = None) -> str | None:
    page = page or Page(text)
    lines = [line for line, spans in page.sentences().items() if spans]
    if not lines:
        return None
    start, end = rng.choice(lines)
    return _replace(text, start, end, rng.choice(VANDAL))


def vandal_insert(text: str, rng: random.Random, page: Page | None = None) -> str | None:
    page = page or Page(text)
    starts = [s for spans in page.sentences().values() for s, _ in spans]
    if not starts:
        return None
    pos = rng.choice(starts)
    return _replace(text, pos, pos, rng.choice(VANDAL) + " ")


def section_blank(text: str, rng: random.Random, page: Page | None = None) -> str | None:
    page = page or Page(text)
    sections = page.level2_sections()[:-1]  # the last one holds the categories
    if not sections:
        return None
    start, end = rng.choice(sections)
    return _replace(text, start, end, "")


def paragraph_insert(text: str, rng: random.Random, page: Page | None = None) -> str | None:
    page = page or Page(text)
    prose = {s for s, _ in page.lines()}
    heads = {m.start() for m in _HEADING.finditer(text) if page.top(m.start())}
    places = [m.end() for m in re.finditer(r"\n\n(?=[^\n])", text)
              if page.top(m.start()) and page.top(m.start() + 1) and (m.end() in prose or m.end() in heads)]
    if not places:
        return None
    pos = rng.choice(places)
    return _replace(text, pos, pos, PARAGRAPH)


def category_add(text: str, rng: random.Random, page: Page | None = None) -> str | None:
    return text + CATEGORY


def multi(text: str, rng: random.Random, page: Page | None = None) -> str | None:
    """A word change, a link insert and a template edit, each at its own place."""
    page = page or Page(text)
    years = page.template_years()
    words = page.words()
    if not years or len(words) < 2:
        return None
    year = rng.choice(years)
    changed = rng.choice(words)
    linked = [w for w in words if w != changed and len(text[w[0]:w[1]]) >= 3]
    if not linked:
        return None
    link = rng.choice(linked)
    edits = [(year, str(int(text[year[0]:year[1]]) + 1)), (changed, rng.choice(ADVERBS)),
             (link, f"[[{text[link[0]:link[1]]}]]")]
    for (a, b), new in sorted(edits, reverse=True):  # from the end, so places stay valid
        text = _replace(text, a, b, new)
    return text


EDITS: dict[str, Callable[..., str | None]] = {
    "sentence_insert": sentence_insert, "word_change": word_change, "sentence_remove": sentence_remove,
    "template_edit": template_edit, "link_insert": link_insert, "ref_insert": ref_insert,
    "vandal_replace": vandal_replace, "vandal_insert": vandal_insert, "section_blank": section_blank,
    "paragraph_insert": paragraph_insert, "category_add": category_add, "multi": multi,
}
assert tuple(EDITS) == KINDS


def make_edit(kind: str, text: str, rng: random.Random, page: Page | None = None) -> str | None:
    """``text`` edited by ``kind`` at a place drawn by ``rng``; None when no valid place exists
    (or the edit would change nothing)."""
    curr = EDITS[kind](text, rng, page)
    return None if curr is None or curr == text else curr


# --- pairs ----------------------------------------------------------------------------------------

def bucket_of(n_bytes: int) -> str:
    kb = n_bytes / 1000
    return next(name for edge, name in BUCKETS if kb < edge)


def pair_rng(seed: int, title: str, n_bytes: int, kind: str) -> random.Random:
    """The generator of one (article, kind): the same for a subset of the articles; the page's
    size tells apart two versions of one title."""
    return random.Random(f"{seed}\x00{title}\x00{n_bytes}\x00{kind}")


def make_pairs(articles: Iterable[dict], seed: int = 0, kinds: Iterable[str] = KINDS,
               min_bytes: int = 0) -> tuple[list[dict], dict]:
    """Pairs of every kind from every article, and what was skipped:
    ``{"articles": {title: reason}, "kinds": {kind: [title, ...]}}``."""
    pairs: list[dict] = []
    skipped: dict = {"articles": {}, "kinds": defaultdict(list)}
    for article in articles:
        prev, title = article["wikitext"], article["title"]
        n_bytes = len(prev.encode("utf-8"))
        if n_bytes < min_bytes:
            skipped["articles"][f"{title} ({n_bytes} B)"] = f"{n_bytes} bytes < --min-bytes {min_bytes}"
            continue
        page = Page(prev)
        for kind in kinds:
            curr = make_edit(kind, prev, pair_rng(seed, title, n_bytes, kind), page)
            if curr is None:
                skipped["kinds"][kind].append(title)
                continue
            pairs.append({"article": title, "bucket": bucket_of(n_bytes), "bytes": n_bytes,
                          "edit": kind, "prev": prev, "curr": curr})
    skipped["kinds"] = dict(skipped["kinds"])
    return pairs, skipped


def read_jsonl(path: Path) -> list[dict]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def unused_articles(articles: list[dict], used_pairs: Iterable[dict]) -> list[dict]:
    """The articles no pair uses: neither its title is a pair's ``article`` nor its wikitext a
    pair's ``prev``."""
    used_pairs = list(used_pairs)
    titles = {p["article"] for p in used_pairs}
    prevs = {p["prev"] for p in used_pairs}
    return [a for a in articles if a["title"] not in titles and a["wikitext"] not in prevs]


def write_pairs(pairs: list[dict], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as zipped:
        for pair in pairs:  # the same seed gives the same bytes
            zipped.write((json.dumps(pair, ensure_ascii=False) + "\n").encode("utf-8"))


def summarize(pairs: list[dict], articles: list[dict], skipped: dict) -> dict:
    per_kind = Counter(p["edit"] for p in pairs)
    sizes: dict[str, list[float]] = defaultdict(list)
    for a in articles:
        n = len(a["wikitext"].encode("utf-8"))
        sizes[bucket_of(n)].append(n / 1000)
    pairs_per_bucket = Counter(p["bucket"] for p in pairs)
    return {
        "articles": len(articles), "pairs": len(pairs),
        "pairs_per_kind": {k: per_kind.get(k, 0) for k in KINDS},
        "buckets": [{"bucket": name, "articles": len(sizes[name]), "pairs": pairs_per_bucket.get(name, 0),
                     "min_kb": round(min(sizes[name]), 1), "median_kb": round(statistics.median(sizes[name]), 1),
                     "max_kb": round(max(sizes[name]), 1)}
                    for _, name in BUCKETS if sizes[name]],
        "skipped_articles": skipped["articles"], "skipped_kinds": skipped["kinds"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="gzipped JSON lines to write, outside the repository (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--articles", nargs="+", metavar="TITLE",
                        help="titles among the unused articles (default: all of them)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--min-bytes", type=int, default=0,
                        help="skip articles smaller than this (UTF-8 bytes); default: none skipped")
    parser.add_argument("--source", type=Path, default=DEFAULT_ARTICLES,
                        help="articles, JSON lines {lang, title, wikitext} (default: %(default)s)")
    parser.add_argument("--used-pairs", type=Path, default=DEFAULT_USED_PAIRS,
                        help="pairs whose articles are left out (default: %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    for path in (args.source, args.used_pairs):
        if not path.is_file():
            sys.exit(f"no file {path}: it is in ../shared/data (pass --source / --used-pairs)")

    all_articles = read_jsonl(args.source)
    unused = unused_articles(all_articles, read_jsonl(args.used_pairs))
    log.info("%d articles in %s, %d not used by %s", len(all_articles), args.source, len(unused),
             args.used_pairs)
    if args.articles:
        wanted = set(args.articles)
        unknown = wanted - {a["title"] for a in unused}
        if unknown:
            sys.exit(f"not among the unused articles: {sorted(unknown)}")
        unused = [a for a in unused if a["title"] in wanted]
    pairs, skipped = make_pairs(unused, args.seed, args.kinds, args.min_bytes)
    write_pairs(pairs, args.out)
    used = [a for a in unused if len(a["wikitext"].encode("utf-8")) >= args.min_bytes]
    summary = summarize(pairs, used, skipped)
    log.info("%d pairs from %d articles (seed %d) written to %s", len(pairs), len(used), args.seed, args.out)
    log.info("pairs per kind: %s", ", ".join(f"{k} {n}" for k, n in summary["pairs_per_kind"].items()))
    log.info("%8s %9s %6s %8s %10s %8s", "bucket", "articles", "pairs", "min KB", "median KB", "max KB")
    for b in summary["buckets"]:
        log.info("%8s %9d %6d %8.1f %10.1f %8.1f", b["bucket"], b["articles"], b["pairs"], b["min_kb"],
                 b["median_kb"], b["max_kb"])
    sizes_by_title = defaultdict(list)
    for a in used:
        sizes_by_title[a["title"]].append(len(a["wikitext"].encode("utf-8")))
    for title, sizes in sizes_by_title.items():
        if len(sizes) > 1:
            log.info("%d versions of %r (%s bytes): their pairs differ by `bytes`", len(sizes), title,
                     ", ".join(map(str, sizes)))
    for title, reason in skipped["articles"].items():
        log.info("article skipped: %s: %s", title, reason)
    for kind, titles in skipped["kinds"].items():
        log.info("%s skipped on %d article(s), no valid place: %s", kind, len(titles), "; ".join(titles))
    return 0


if __name__ == "__main__":
    sys.exit(main())
