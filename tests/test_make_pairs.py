"""benchmarks/make_pairs.py: each edit kind does what its name says on a hand-written page, the
places are drawn (not always the first), the output is seeded, and the held-out articles leave out
every article of the shared benchmark pairs. Pure strings except the last test, which reads
../shared when it is there."""

from __future__ import annotations

import difflib
import gzip
import json
import random
import re

import pytest

from benchmarks.diff import DEFAULT_BAND_EDGES_KB
from benchmarks.make_pairs import (
    ADVERBS, BUCKETS, CATEGORY, KINDS, PARAGRAPH, REF, SENTENCES, VANDAL, Page, bucket_of, main,
    make_edit, make_pairs, read_jsonl, unused_articles, write_pairs,
)
from tests.conftest import REPO

INFOBOX = "{{Infobox town\n| name = Foo\n| founded = 1998\n}}\n"
LEAD = ("'''Foo''' is a [[river|riverside]] town in the county of Baz. It was founded in 1998 by "
        "John F. Kennedy.<ref>{{cite web |url=http://example.org/2001/a |title=T |year=2004}}</ref> "
        "The town has many people, e.g. farmers. Most of them are happy!\n")
HISTORY = ("== History ==\nThe first settlers came from the north. They built a small church.\n\n"
           "Later the town grew quickly. A railway arrived in 1880.<ref name=\"r\"/>\n\n"
           "=== Railway ===\nThe railway line closed in 1960. Its station is now a museum.\n\n")
GEOGRAPHY = ("== Geography ==\nBaz lies on a slow river. The river floods every spring.\n"
             "<!-- Keep this. Do Not Edit. -->\n"
             "{| class=\"wikitable\"\n| Cell one. Cell Two.\n|}\n\n")
ECONOMY = "== Economy ==\nFarming is the main trade. Tourism grew after 1990.\n\n"
TAIL = "== References ==\n{{reflist}}\n\n[[Category:Towns]]"
PAGE = "".join(("{{Use dmy dates|date=June 2013}}\n", INFOBOX, LEAD, "\n", HISTORY, GEOGRAPHY, ECONOMY, TAIL))
SECTIONS = (HISTORY, GEOGRAPHY, ECONOMY)  # the level-2 sections a blanking may remove
UNTOUCHABLE = ("<!-- Keep this. Do Not Edit. -->", "| Cell one. Cell Two.", "{{reflist}}", "[[Category:Towns]]")
SEEDS = range(40)


def edits(kind: str, text: str = PAGE) -> list[str]:
    out = [make_edit(kind, text, random.Random(seed)) for seed in SEEDS]
    assert all(c is not None and c != text for c in out), kind
    return out


_TOKENS = re.compile(r"\[\[\w+\]\]|\w+|\s+|[^\w\s]")  # a plain link is one token


def words_changed(prev: str, curr: str) -> list[tuple[str, str]]:
    """The (old, new) token runs that differ between the two texts."""
    a, b = _TOKENS.findall(prev), _TOKENS.findall(curr)
    return [("".join(a[i1:i2]), "".join(b[j1:j2]))
            for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
            if tag != "equal"]


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_changes_the_page_and_spares_what_is_not_prose(kind):
    for curr in edits(kind):
        for fixed in UNTOUCHABLE + ("| name = Foo",):
            if kind == "section_blank" and fixed in GEOGRAPHY:
                continue
            assert fixed in curr, (kind, fixed)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "category_add"])
def test_places_are_drawn_across_the_page(kind):
    assert len(set(edits(kind))) >= 3, kind


def test_category_add_appends_a_category_line():
    for curr in edits("category_add"):
        assert curr == PAGE + CATEGORY
        assert curr.rstrip("\n").splitlines()[-1] == "[[Category:Articles edited in benchmark]]"


def test_ref_insert_adds_one_reference_after_a_sentence():
    for curr in edits("ref_insert"):
        assert curr.count("<ref>") == PAGE.count("<ref>") + 1 and curr.count(REF) == 1
        assert curr.replace(REF, "", 1) == PAGE
        before = curr[:curr.index(REF)]
        assert re.search(r"[.!?](<ref[^>]*/>|<ref>.*?</ref>)*$", before), before[-60:]


def test_section_blank_removes_one_whole_level2_section_never_the_last():
    removed = set()
    for curr in edits("section_blank"):
        gone = [s for s in SECTIONS if s not in curr]
        assert len(gone) == 1 and curr == PAGE.replace(gone[0], "", 1)  # heading, body, subsections
        assert curr.endswith(TAIL)
        removed.add(gone[0])
    assert len(removed) >= 2  # not always the first section


def test_sentence_insert_adds_one_sentence_at_a_sentence_boundary():
    for curr in edits("sentence_insert"):
        [new] = [s for s in SENTENCES if s in curr]
        i, j = curr.index(new), curr.index(new) + len(new)
        if curr[j] == " ":  # before a sentence
            assert curr[:i] + curr[j + 1:] == PAGE
            assert curr[j + 1].isupper() or curr[j + 1] == "'"
            assert curr[:i].endswith("\n") or re.search(r"[.!?](<ref[^>]*/>|<ref>.*?</ref>)* $", curr[:i])
        else:  # after a paragraph's last sentence
            assert curr[i - 1] == " " and curr[:i - 1] + curr[j:] == PAGE and curr[j] == "\n"
            assert re.search(r"[.!?](<ref[^>]*/>|<ref>.*?</ref>)*$", curr[:i - 1])


SENTENCES_OF_PAGE = (
    "'''Foo''' is a [[river|riverside]] town in the county of Baz.",
    "It was founded in 1998 by John F. Kennedy.", "The town has many people, e.g. farmers.",
    "Most of them are happy!", "The first settlers came from the north.", "They built a small church.",
    "Later the town grew quickly.", "A railway arrived in 1880.", "The railway line closed in 1960.",
    "Its station is now a museum.", "Baz lies on a slow river.", "The river floods every spring.",
    "Farming is the main trade.", "Tourism grew after 1990.",
)


def test_sentence_remove_removes_one_sentence_of_a_paragraph():
    removed = set()
    for curr in edits("sentence_remove"):
        [sentence] = [s for s in SENTENCES_OF_PAGE if _removes_sentence(PAGE, curr, s)]
        removed.add(sentence)
    assert len(removed) >= 3


def _common_prefix(a: str, b: str) -> str:
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    return a[:i]


def _removes_sentence(prev: str, curr: str, sentence: str) -> bool:
    """``curr`` is ``prev`` without ``sentence`` (and its references) and one space beside it."""
    i = prev.find(sentence)
    if i < 0:
        return False
    end = i + len(sentence)
    ref = re.match(r"(<ref[^>]*/>|<ref>.*?</ref>)*", prev[end:])
    end += ref.end()
    return prev[:i] + prev[end:].lstrip(" ") == curr or prev[:i].rstrip(" ") + prev[end:] == curr


def test_word_change_replaces_one_word_of_prose_by_an_adverb():
    for curr in edits("word_change"):
        [(old, new)] = words_changed(PAGE, curr)
        assert new in ADVERBS and old.isalpha()
        i = len(_common_prefix(PAGE, curr))
        assert not Page(PAGE).inside[i]  # prose, not a template, link or reference


def test_link_insert_makes_one_word_a_link():
    for curr in edits("link_insert"):
        [(old, new)] = words_changed(PAGE, curr)
        assert new == f"[[{old}]]" and old.isalpha() and len(old) >= 3


def test_template_edit_increments_a_year_in_a_template_parameter():
    seen = set()
    for curr in edits("template_edit"):
        [(old, new)] = words_changed(PAGE, curr)
        assert re.fullmatch(r"\d{4}", old) and new == str(int(old) + 1)
        i = len(_common_prefix(PAGE, curr))
        while PAGE[i - 1].isdigit():
            i -= 1
        assert PAGE[i:i + 4] == old and "http" not in PAGE[PAGE.rfind("|", 0, i):i]  # not in a URL
        seen.add(i)
        assert Page(PAGE).inside[i] and PAGE.rfind("{{", 0, i) > PAGE.rfind("}}", 0, i)
    assert len(seen) >= 2


def test_vandal_replace_replaces_a_whole_paragraph():
    paragraphs = [line for line in PAGE.splitlines() if re.match(r"[A-Z']", line)]
    for curr in edits("vandal_replace"):
        lines, new_lines = PAGE.splitlines(), curr.splitlines()
        assert len(lines) == len(new_lines)
        diff = [(a, b) for a, b in zip(lines, new_lines) if a != b]
        assert len(diff) == 1 and diff[0][0] in paragraphs and diff[0][1] in VANDAL


def test_vandal_insert_puts_a_phrase_before_a_sentence():
    for curr in edits("vandal_insert"):
        [phrase] = [v for v in VANDAL if v in curr]
        i = curr.index(phrase + " ")
        assert curr[:i] + curr[i + len(phrase) + 1:] == PAGE
        following = curr[i + len(phrase) + 1:]
        assert following[:1].isupper() or following.startswith("'''")


def test_paragraph_insert_adds_a_paragraph_after_a_blank_line():
    for curr in edits("paragraph_insert"):
        i = curr.index(PARAGRAPH)
        assert curr[:i] + curr[i + len(PARAGRAPH):] == PAGE
        assert curr[:i].endswith("\n\n") and not curr[i + len(PARAGRAPH)].isspace()


def test_multi_changes_a_word_links_another_and_increments_a_year():
    for curr in edits("multi"):
        changes = words_changed(PAGE, curr)
        assert len(changes) == 3, changes
        kinds = set()
        for old, new in changes:
            if re.fullmatch(r"\d{4}", old) and new == str(int(old) + 1):
                kinds.add("year")
            elif new == f"[[{old}]]":
                kinds.add("link")
            elif new in ADVERBS and old.isalpha():
                kinds.add("word")
        assert kinds == {"year", "link", "word"}, changes


def test_a_kind_without_a_valid_place_is_skipped_and_counted():
    lists_only = "{{Use dmy dates|date=June 2013}}\n'''X''' may refer to:\n* [[A]]\n* [[B]]\n\n[[Category:Y]]"
    pairs, skipped = make_pairs([{"title": "X", "wikitext": lists_only}], seed=0)
    kinds = {p["edit"] for p in pairs}
    assert "category_add" in kinds and "template_edit" in kinds
    assert "sentence_insert" not in kinds and skipped["kinds"]["sentence_insert"] == ["X"]
    assert sum(len(t) for t in skipped["kinds"].values()) + len(pairs) == len(KINDS)
    pairs, skipped = make_pairs([{"title": "X", "wikitext": lists_only}], seed=0, min_bytes=10_000)
    assert pairs == [] and len(skipped["articles"]) == 1


def articles() -> list[dict]:
    small = PAGE.replace("Foo", "Qux")
    large = PAGE + "\n" + ECONOMY.replace("Economy", "Trade") * 300
    return [{"title": "Foo", "wikitext": PAGE}, {"title": "Qux", "wikitext": small},
            {"title": "Big", "wikitext": large}]


def test_same_seed_same_pairs_other_seed_other_pairs(tmp_path):
    first, _ = make_pairs(articles(), seed=0)
    again, _ = make_pairs(articles(), seed=0)
    other, _ = make_pairs(articles(), seed=1)
    assert first == again and first != other
    assert len(first) == 3 * len(KINDS)
    assert [p["edit"] for p in first] == [p["edit"] for p in other]
    assert sum(a["curr"] != b["curr"] for a, b in zip(first, other)) >= len(first) // 2
    write_pairs(first, tmp_path / "a.jsonl.gz")
    write_pairs(again, tmp_path / "b.jsonl.gz")
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (tmp_path / "b.jsonl.gz").read_bytes()
    # a subset of the articles gives the same pairs for those articles
    subset, _ = make_pairs(articles()[1:2], seed=0)
    assert subset == [p for p in first if p["article"] == "Qux"]


def test_every_pair_changes_the_page_and_has_the_shared_fields():
    pairs, _ = make_pairs(articles(), seed=3)
    for pair in pairs:
        assert set(pair) == {"article", "bucket", "bytes", "edit", "prev", "curr"}
        assert pair["curr"] != pair["prev"]
        assert pair["bytes"] == len(pair["prev"].encode("utf-8"))
        assert pair["bucket"] == bucket_of(pair["bytes"])
    assert {p["bucket"] for p in pairs} == {"5KB", "20KB"}


def test_buckets_are_the_diff_benchmarks_bands():
    assert [edge for edge, _ in BUCKETS[:-1]] == list(DEFAULT_BAND_EDGES_KB)
    assert [bucket_of(n) for n in (429, 9_999, 10_000, 29_999, 45_000, 119_999, 120_000, 180_000)] == \
        ["5KB", "5KB", "20KB", "20KB", "40KB", "80KB", "160KB", "160KB"]


def test_unused_articles_leave_out_used_titles_and_used_texts():
    arts = [{"title": "A", "wikitext": "a"}, {"title": "B", "wikitext": "b"},
            {"title": "C", "wikitext": "c"}, {"title": "D", "wikitext": "d"}]
    used = [{"article": "A", "prev": "zzz"}, {"article": "renamed", "prev": "c"}]
    assert [a["title"] for a in unused_articles(arts, used)] == ["B", "D"]


def test_command_line_writes_what_the_diff_benchmark_reads(tmp_path, caplog):
    source, used, out = tmp_path / "articles.jsonl.gz", tmp_path / "used.jsonl.gz", tmp_path / "out.jsonl.gz"
    with gzip.open(source, "wt", encoding="utf-8") as handle:
        for a in articles():
            handle.write(json.dumps({"lang": "en", **a}) + "\n")
    with gzip.open(used, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"article": "Big", "prev": "x", "curr": "y", "edit": "multi"}) + "\n")
    caplog.set_level("INFO", logger="benchmarks.make_pairs")
    assert main(["--source", str(source), "--used-pairs", str(used), "--out", str(out), "--seed", "2"]) == 0
    # benchmarks/diff.py's reader
    with gzip.open(str(out), "rt", encoding="utf-8") as handle:
        pairs = [json.loads(line) for line in handle]
    assert {p["article"] for p in pairs} == {"Foo", "Qux"} and len(pairs) == 2 * len(KINDS)
    assert all({"prev", "curr", "bucket"} <= set(p) for p in pairs)
    assert "2 not used" in caplog.text and "pairs per kind" in caplog.text


SHARED = REPO.parent / "shared" / "data"


@pytest.mark.skipif(not (SHARED / "edit_pairs.jsonl.gz").is_file()
                    or not (SHARED / "wikitext_articles.jsonl.gz").is_file(),
                    reason="../shared/data (edit_pairs.jsonl.gz, wikitext_articles.jsonl.gz) is absent: "
                           "a clone without the shared data")
def test_held_out_articles_exclude_every_article_of_the_shared_pairs():
    used = read_jsonl(SHARED / "edit_pairs.jsonl.gz")
    arts = read_jsonl(SHARED / "wikitext_articles.jsonl.gz")
    held_out = unused_articles(arts, used)
    titles, prevs = {p["article"] for p in used}, {p["prev"] for p in used}
    assert len(titles) == 15 and len(held_out) == len(arts) - 15 == 57
    assert not {a["title"] for a in held_out} & titles
    assert not {a["wikitext"] for a in held_out} & prevs
