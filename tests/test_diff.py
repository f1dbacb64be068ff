"""The edit diff on small wikitexts: action counts and the texts kept for the language models."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kitrain import diff
from kitrain.schema import ACTION_KEYS

ARTICLE = (
    "'''Lviv''' is a city in [[Ukraine]].<ref>{{cite web|url=https://example.org|title=A}}</ref> "
    "It has an old centre.\n\n"
    "== History ==\nThe city was founded in 1256. It grew quickly.\n\n"
    "== Culture ==\nThere are many theatres. The opera house is famous.\n\n"
    "[[Category:Cities]]\n"
)


def nonzero(result):
    return {k: v for k, v in result.actions.items() if v}


def test_all_action_keys_always_present():
    # even a no-op edit reports all 92 counts, all zero
    result = diff.edit_diff(ARTICLE, ARTICLE, "en")
    assert tuple(result.actions) == ACTION_KEYS and len(ACTION_KEYS) == 92
    assert result.is_empty()


@pytest.mark.parametrize("rules", diff.TEXT_RULES)
def test_page_blanking_gives_removed_texts_and_counts(rules):
    # blanking: every section's text is removed, and the removals are counted; the paper's rules
    # keep mwedittypes' node text as it is (with its newlines), multiscript strips it
    result = diff.edit_diff(ARTICLE, "", "en", text_rules=rules)
    assert result.actions["remove_Section"] == 3
    assert result.actions["remove_Reference"] == 1 and result.actions["remove_Category"] == 1
    culture = "There are many theatres. The opera house is famous."
    assert (f"\n{culture}\n\n\n" if rules == "paper" else culture) in result.texts_removed
    assert result.texts_insert == [] and result.texts_change == []


@pytest.mark.parametrize("rules", diff.TEXT_RULES)
def test_section_removal_is_not_empty(rules):
    # removing one section (typical vandalism that broke the 2022 function) yields its text;
    # mwedittypes aligns the remaining section with the removed one, so the kept section's text
    # may show up on both sides, but the removed sentences are always among texts_removed
    curr = ARTICLE.replace("== Culture ==\nThere are many theatres. The opera house is famous.\n\n", "")
    result = diff.edit_diff(ARTICLE, curr, "en", text_rules=rules)
    assert result.actions["remove_Section"] == 1 and result.actions["remove_Heading"] == 1
    # the paper's split keeps a line's last mark on its sentence
    last = "The opera house is famous." if rules == "paper" else "The opera house is famous"
    assert {"There are many theatres", last} <= set(result.texts_removed)


# Expected texts worked out by hand from the two rule sets. paper: ``re.split(r"[.!?](?!$)")``,
# parts stripped and kept even when empty, pairs tried in sorted order; multiscript: marks and
# empty parts dropped, pairs tried in order of appearance.
TEXT_EDITS = {
    # "It grew quickly." -> "It grew quickly. Trade made it rich.": under the paper's rules the
    # old last sentence keeps its mark and the new one does not, so the two pair up as a change
    "insert": ("It grew quickly.", "It grew quickly. Trade made it rich.{{cn}}", {
        "paper": (["Trade made it rich."], [], [("It grew quickly.", "It grew quickly")]),
        "multiscript": (["Trade made it rich"], [], [])}),
    "word": ("There are many theatres.", "There are a lot of theatres.", {
        "paper": ([], [], [("There are many theatres", "There are a lot of theatres")]),
        "multiscript": ([], [], [("There are many theatres", "There are a lot of theatres")])}),
    # "hahaha!!!": the first two marks split (they are not at the line's end), the last stays
    "junk": ("It grew quickly.", "LOLOLOL hahaha!!!", {
        "paper": (["", "!", "LOLOLOL hahaha"], ["It grew quickly."], []),
        "multiscript": (["LOLOLOL hahaha"], ["It grew quickly"], [])}),
}


@pytest.mark.parametrize("rules", diff.TEXT_RULES)
@pytest.mark.parametrize("edit", sorted(TEXT_EDITS))
def test_edit_texts_under_each_rule_set(edit, rules):
    old, new, expected = TEXT_EDITS[edit]
    result = diff.edit_diff(ARTICLE, ARTICLE.replace(old, new), "en", text_rules=rules)
    assert (result.texts_insert, result.texts_removed, result.texts_change) == expected[rules]
    assert result == diff.plain_edit_diff(ARTICLE, ARTICLE.replace(old, new), "en", rules)
    if edit == "insert":
        assert result.actions["insert_Template"] == 1 and result.actions["insert_Sentence"] == 1


def test_cjk_counts_characters_not_words():
    # Japanese has no spaces: mwedittypes counts Character, kept as the 23rd content type; the
    # paper's split knows no 。, so the whole line is one sentence (half the CJK pairs differ)
    prev, curr = "東京は日本の首都です。人口が多い。", "東京は日本の首都です。人口がとても多い。"
    result = diff.edit_diff(prev, curr, "ja")
    assert result.actions["insert_Character"] == 3 and result.actions["insert_Word"] == 0
    assert result.texts_change == [(prev, curr)]
    assert diff.edit_diff(prev, curr, "ja", text_rules="multiscript").texts_change == [("人口が多い", "人口がとても多い")]


def test_diff_lines_moved_sentence():
    # a sentence that moved to another line is not reported under multiscript; under the paper's
    # rules it lost its final mark when a sentence followed it, so it pairs as a change
    assert diff.diff_lines("A one.\nB two.", "B two.\nA one. C three.", "multiscript") == (["C three"], [], [])
    assert diff.diff_lines("A one.\nB two.", "B two.\nA one. C three.", "paper") == \
        (["C three."], [], [("A one.", "A one")])


@pytest.mark.parametrize("rules", diff.TEXT_RULES)
def test_diff_lines_each_sentence_used_once(rules):
    # two similar candidates: one deleted sentence takes one similar added one only
    added, deleted, changed = diff.diff_lines("The cat sat here", "The cat sat there\nThe cat sat theree", rules)
    assert changed == [("The cat sat here", "The cat sat there")]
    assert added == ["The cat sat theree"] and deleted == []


def test_pairing_order():
    # two deleted sentences compete for one added: the paper's rules try them sorted ("hare" <
    # "here"), multiscript in the order they appear; either way the same pair on every run
    old, new = "The cat sat here\nThe cat sat hare", "The cat sat there"
    assert diff.diff_lines(old, new, "paper") == ([], ["The cat sat here"], [("The cat sat hare", "The cat sat there")])
    assert diff.diff_lines(old, new, "multiscript") == \
        ([], ["The cat sat hare"], [("The cat sat here", "The cat sat there")])


def test_sentence_split_of_each_rule_set():
    # paper: a mark not at the line's end splits, parts are stripped and kept when empty
    assert diff.sentence_split("A one. B two.") == ["A one", "B two."]
    assert diff.sentence_split("Wait... what?!") == ["Wait", "", "", "what", "!"]
    assert diff.sentence_split("  .  ") == ["", ""]
    assert diff.sentence_split("") == [""]
    assert diff.sentence_split("एक वाक्य। दूसरा वाक्य।") == ["एक वाक्य। दूसरा वाक्य।"]
    # multiscript: the full stops of other scripts too, marks and empty parts dropped
    assert diff.sentence_split("एक वाक्य। दूसरा वाक्य।", "multiscript") == ["एक वाक्य", "दूसरा वाक्य"]
    assert diff.sentence_split("Wait... what?!", "multiscript") == ["Wait", "what"]
    assert diff.sentence_split("  .  ", "multiscript") == []
    with pytest.raises(ValueError, match="text_rules must be one of"):
        diff.sentence_split("x", "fancy")


#: 254 characters; the same with its first words changed (261).
LONG_SENTENCE = ("The city was founded in the thirteenth century by a prince who named it after his son, "
                 "and over the following centuries it grew into one of the most important trading towns "
                 "of the region, with merchants arriving from many distant lands every single year.")


def test_fuzzy_ratio_as_fuzzywuzzy_computed_it():
    # equal strings 100 (even empty ones), one empty 0, else int(round(100 * difflib ratio))
    assert diff.fuzzy_ratio("", "") == 100 and diff.fuzzy_ratio("", "a") == 0 and diff.fuzzy_ratio("a", "") == 0
    assert diff.fuzzy_ratio("abcd", "abce") == 75  # 2 * 3 matches / 8 characters
    # 5 matches of 16 characters: 62.5, which Python's round takes to the even 62
    assert diff.fuzzy_ratio("abcdefgh", "abcdeXYZ") == 62
    # on 200 characters and more difflib's autojunk ignores the popular characters: 0.1282 for
    # this pair (Python 3.11's difflib), where rapidfuzz, without it, finds 93.6
    changed = LONG_SENTENCE.replace("The city was founded", "This old town got its start")
    assert len(LONG_SENTENCE) == 254 and len(changed) == 261
    assert diff.fuzzy_ratio(LONG_SENTENCE, changed) == 13
    assert not diff.passes_fuzzy_threshold(LONG_SENTENCE, changed, "paper")
    assert diff.passes_fuzzy_threshold(LONG_SENTENCE, changed, "multiscript")


def test_cheap_bounds_never_change_the_decision():
    # the threshold test through difflib's upper bounds equals the exact ratio's, pair by pair
    import random

    rng = random.Random(3)
    words = "the a city town old new river grew built king prince trade war and of in".split()
    for _ in range(400):
        a = " ".join(rng.choice(words) for _ in range(rng.randint(0, 50)))
        b = " ".join(rng.choice(words) for _ in range(rng.randint(0, 50)))
        if rng.random() < 0.5 and a:
            b = a.replace(rng.choice(a.split()), rng.choice(words), 1)
        assert diff.passes_fuzzy_threshold(a, b, "paper") == (diff.fuzzy_ratio(a, b) > diff.FUZZY_THRESHOLD), (a, b)


def test_self_check_passes_and_fails_loudly(monkeypatch):
    diff.self_check()
    # a diff library that returns nothing (the 2022 failure mode) must stop the run
    monkeypatch.setattr(diff, "edit_diff", lambda *a: diff.EditDiff({k: 0 for k in ACTION_KEYS}, [], [], []))
    with pytest.raises(diff.DiffSelfCheckError, match="self-check failed"):
        diff.self_check()


def test_output_is_the_same_under_any_hash_seed():
    # no set iteration decides output: two interpreters with different PYTHONHASHSEED agree
    code = (
        "import json, sys; from kitrain import diff; from tests.test_diff import ARTICLE; "
        "c = ARTICLE.replace('It grew quickly.', 'It grew. Slowly it grew! Many came.')"
        ".replace('many theatres', 'some theatres'); r = diff.edit_diff(ARTICLE, c, 'en'); "
        "print(json.dumps([r.actions, r.texts_insert, r.texts_removed, r.texts_change]))"
    )
    outputs = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                             check=True, cwd=os.path.dirname(os.path.dirname(__file__)))
        outputs.add(run.stdout)
    assert len(outputs) == 1
    assert json.loads(outputs.pop())[1]  # and the edit was seen


# --- the changed-span diff is the plain diff, faster ------------------------------------------

LONG = (
    "Lead sentence. Another one.\n\n"
    "== Alpha ==\nAlpha text here. More alpha.\n\n"
    "== Beta ==\n{{Infobox\n| name = x\n}}\nBeta text. Beta again.\n\n"
    "== Gamma ==\nGamma text.<ref>{{cite web|url=https://example.org|title=G}}</ref>\n\n"
    "== Delta ==\nDelta text.\n\n[[Category:Things]]\n"
)

EDITS = {
    # one case per situation the span logic must keep right
    "lead edit": lambda t: t.replace("Another one.", "Another one, changed."),
    "middle edit": lambda t: t.replace("Beta text.", "Beta text was changed."),
    "last section edit": lambda t: t.replace("Delta text.", "Delta text. More."),
    "section removed": lambda t: t.replace("== Gamma ==\nGamma text.<ref>{{cite web|url=https://example.org|title=G}}</ref>\n\n", ""),
    "last section blanked": lambda t: t.replace("== Delta ==\nDelta text.\n\n[[Category:Things]]\n", ""),
    "sections swapped": lambda t: t.replace("== Alpha ==\nAlpha text here. More alpha.\n\n", "")
    .replace("== Delta ==", "== Alpha ==\nAlpha text here. More alpha.\n\n== Delta =="),
    "page blanked": lambda t: "",
    "page replaced": lambda t: "LOL LOL LOL",
    "section added": lambda t: t.replace("== Delta ==", "== New ==\nNew text.\n\n== Delta =="),
    "heading-like line in a template": lambda t: t.replace("| name = x\n", "| name = x\n== not a heading ==\n"),
    "unchanged": lambda t: t,
}


@pytest.mark.parametrize("rules", diff.TEXT_RULES)
@pytest.mark.parametrize("name", sorted(EDITS))
def test_changed_span_diff_equals_the_plain_diff(name, rules):
    curr = EDITS[name](LONG)
    assert diff.edit_diff(LONG, curr, "en", text_rules=rules) == diff.plain_edit_diff(LONG, curr, "en", rules)


def test_span_cuts_equal_sections_only():
    # an edit in Gamma leaves the lead, Alpha and Beta before it and Delta after it out
    p, c = diff.changed_span(LONG, LONG.replace("Gamma text.", "Gamma text!"))
    assert p.startswith("== Gamma ==") and "Delta" not in p and "Gamma text!" in c


def test_span_never_cuts_inside_an_open_template():
    # a template opened before a heading-like line and closed after it is never split
    prev = "{{Box|\n== inside ==\n}}\nLead.\n== A ==\nA text.\n"
    edited = prev.replace("}}\nLead.", "}}\nLead, edited.")
    p, _ = diff.changed_span(prev, edited)
    assert p.startswith("{{Box|")  # cutting "{{Box|" off alone would leave it open
    # after the template closes, equal text may be cut
    p, _ = diff.changed_span(prev, prev.replace("A text.", "A text, edited."))
    assert p == "== A ==\nA text.\n"
    for curr in (edited, prev.replace("A text.", "A text, edited.")):
        assert diff.edit_diff(prev, curr, "en") == diff.plain_edit_diff(prev, curr, "en")


def test_span_guard_reads_tables_and_tags_exactly():
    # "|}" ending a template argument is not a table end, and <references/> is not an open <ref>:
    # neither may stop the equal sections around an edit from being cut
    prev = ("Lead {{x|a=|}} text.<references/>\n== A ==\n{|\n| cell\n|}\nA text.\n"
            "== B ==\nB text.\n== C ==\nC text.\n")
    curr = prev.replace("B text.", "B text, edited.")
    p, c = diff.changed_span(prev, curr)
    assert (p, c) == ("== B ==\nB text.\n", "== B ==\nB text, edited.\n")
    assert diff.edit_diff(prev, curr, "en") == diff.plain_edit_diff(prev, curr, "en")
    # a table or a <ref> open where the cut would be keeps the text before it
    for page in ("Lead.\n{|\n| a\n== A ==\n|}\nA text.\n== B ==\nB text.\n",
                 "Lead.<ref name=r>\n== A ==\n</ref>A text.\n== B ==\nB text.\n"):
        edited = page.replace("A text.", "A, edited.")
        p, _ = diff.changed_span(page, edited)
        # the lead stays (cutting it alone would leave the construct open); B is cut as before
        assert p.startswith("Lead.") and "B text." not in p, p
        assert diff.edit_diff(page, edited, "en") == diff.plain_edit_diff(page, edited, "en")


def test_span_keeps_context_beside_an_empty_side():
    # an empty page has no sections for the differ, so one equal section stays beside it
    prev = "Lead.\n== A ==\nA.\n"
    p, c = diff.changed_span(prev, "Lead.\n")
    assert (p, c) == (prev, "Lead.\n")


SHARED_PAIRS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "edit_pairs.jsonl.gz"


def test_span_limit_counts_the_changed_span_not_the_page():
    page = "".join(f"== S{i} ==\nText {i}.\n\n" for i in range(2000))
    # a small edit on a long page: only the changed section counts against the limit
    small = diff.edit_diff(page, page.replace("Text 1000.", "Text 1000 and more."), "en", max_span_chars=500)
    assert small == diff.edit_diff(page, page.replace("Text 1000.", "Text 1000 and more."), "en")
    # blanking the page is a span of the whole page: refused before any parsing
    with pytest.raises(diff.DiffTooLarge, match=r"changed span of \d+ \+ 0 characters is over max_diff_chars=500"):
        diff.edit_diff(page, "", "en", max_span_chars=500)
    # identical texts have no span at all
    assert diff.edit_diff(page, page, "en", max_span_chars=1).texts_insert == []


@pytest.mark.skipif(not SHARED_PAIRS.exists(), reason="../shared/data/edit_pairs.jsonl.gz absent (a user's clone)")
def test_identical_to_plain_on_real_article_edits():
    # every 6th of the 180 real-article pairs (all edit kinds, the small and medium sizes)
    import gzip
    import json as _json

    with gzip.open(SHARED_PAIRS, "rt", encoding="utf-8") as handle:
        pairs = [_json.loads(line) for line in handle]
    subset = [p for i, p in enumerate(pairs) if i % 6 == 0 and p["bucket"] in ("5KB", "20KB", "40KB")]
    assert len(subset) >= 15
    for pair in subset:
        assert diff.edit_diff(pair["prev"], pair["curr"], "en") == \
            diff.plain_edit_diff(pair["prev"], pair["curr"], "en"), pair["edit"]
