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


def test_page_blanking_gives_removed_texts_and_counts():
    # blanking: every section's text is removed, and the removals are counted
    result = diff.edit_diff(ARTICLE, "", "en")
    assert result.actions["remove_Section"] == 3
    assert result.actions["remove_Reference"] == 1 and result.actions["remove_Category"] == 1
    assert "There are many theatres. The opera house is famous." in result.texts_removed
    assert result.texts_insert == [] and result.texts_change == []


def test_section_removal_is_not_empty():
    # removing one section (typical vandalism that broke the 2022 function) yields its text;
    # mwedittypes aligns the remaining section with the removed one, so the kept section's text
    # may show up on both sides, but the removed sentences are always among texts_removed
    curr = ARTICLE.replace("== Culture ==\nThere are many theatres. The opera house is famous.\n\n", "")
    result = diff.edit_diff(ARTICLE, curr, "en")
    assert result.actions["remove_Section"] == 1 and result.actions["remove_Heading"] == 1
    assert {"There are many theatres", "The opera house is famous"} <= set(result.texts_removed)


def test_inserted_sentence_and_template():
    # a sentence added to a paragraph is an inserted text; the template is counted
    curr = ARTICLE.replace("It grew quickly.", "It grew quickly. Trade made it rich.{{cn}}")
    result = diff.edit_diff(ARTICLE, curr, "en")
    assert result.texts_insert == ["Trade made it rich"]
    assert result.actions["insert_Template"] == 1 and result.actions["insert_Sentence"] == 1


def test_word_change_becomes_a_sentence_pair():
    # a small wording change pairs the before and after sentence instead of insert + remove
    curr = ARTICLE.replace("There are many theatres.", "There are a lot of theatres.")
    result = diff.edit_diff(ARTICLE, curr, "en")
    assert result.texts_change == [("There are many theatres", "There are a lot of theatres")]
    assert result.texts_insert == [] and result.texts_removed == []


def test_junk_replacement_is_insert_plus_remove():
    # a sentence replaced by unrelated junk is too dissimilar to be a change
    curr = ARTICLE.replace("It grew quickly.", "LOLOLOL hahaha!!!")
    result = diff.edit_diff(ARTICLE, curr, "en")
    assert "It grew quickly" in result.texts_removed
    assert "LOLOLOL hahaha" in result.texts_insert


def test_cjk_counts_characters_not_words():
    # Japanese has no spaces: mwedittypes counts Character, kept as the 23rd content type
    result = diff.edit_diff("東京は日本の首都です。人口が多い。", "東京は日本の首都です。人口がとても多い。", "ja")
    assert result.actions["insert_Character"] == 3 and result.actions["insert_Word"] == 0
    assert result.texts_change == [("人口が多い", "人口がとても多い")]


def test_diff_lines_moved_sentence_is_neither_added_nor_deleted():
    # a sentence that moved to another line is not reported; a new one is
    added, deleted, changed = diff.diff_lines("A one.\nB two.", "B two.\nA one. C three.")
    assert added == ["C three"] and deleted == [] and changed == []


def test_diff_lines_each_sentence_used_once():
    # two similar candidates: the first deleted sentence takes the first similar added one only
    added, deleted, changed = diff.diff_lines("The cat sat here", "The cat sat there\nThe cat sat theree")
    assert changed == [("The cat sat here", "The cat sat there")]
    assert added == ["The cat sat theree"] and deleted == []


def test_sentence_split_handles_scripts():
    assert diff.sentence_split("एक वाक्य। दूसरा वाक्य।") == ["एक वाक्य", "दूसरा वाक्य"]
    assert diff.sentence_split("  .  ") == []


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


@pytest.mark.parametrize("name", sorted(EDITS))
def test_changed_span_diff_equals_the_plain_diff(name):
    curr = EDITS[name](LONG)
    assert diff.edit_diff(LONG, curr, "en") == diff.plain_edit_diff(LONG, curr, "en")


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
