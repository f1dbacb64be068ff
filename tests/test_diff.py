"""The edit diff on small wikitexts: action counts and the texts kept for the language models."""

import json
import os
import subprocess
import sys

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
