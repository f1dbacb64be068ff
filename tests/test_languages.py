"""The one language list and the validation every code passes before Spark or SQL sees it."""

import pytest

from kitrain.languages import (
    LANGUAGES,
    PAPER_LANGUAGES,
    LanguageError,
    language_of,
    validate_language,
    validate_languages,
    wiki_db,
)


def test_paper_list_has_47_languages_plus_simple():
    # the paper's 47 Wikipedias, no repeats, and Simple English beside them
    assert len(PAPER_LANGUAGES) == 47 == len(set(PAPER_LANGUAGES))
    assert LANGUAGES[-1] == "simple" and set(PAPER_LANGUAGES) < set(LANGUAGES)


@pytest.mark.parametrize(
    "code, message",
    [
        ("en'; DROP TABLE x; --", "invalid language code"),  # SQL injection attempt
        ("EN", "invalid language code"),  # upper case is not a wiki code
        ("", "invalid language code"),  # empty
        ("en wiki", "invalid language code"),  # space
        ("xx", "unknown language code"),  # well-formed but not a known Wikipedia
        ("zh-yue", "unknown language code"),  # well-formed variant kitrain does not train
    ],
)
def test_bad_codes_are_rejected_with_the_reason(code, message):
    with pytest.raises(LanguageError, match=message):
        validate_language(code)


def test_non_string_and_long_values_are_named_briefly():
    # a non-string is refused by type; a huge value is cut in the message
    with pytest.raises(LanguageError, match="must be a string"):
        validate_language(7)
    with pytest.raises(LanguageError) as info:
        validate_language("x" * 5000)
    assert len(str(info.value)) < 200


def test_list_validation_keeps_order_drops_repeats_and_refuses_empty():
    assert validate_languages(["uk", "en", "uk"]) == ("uk", "en")
    with pytest.raises(LanguageError, match="empty"):
        validate_languages([])


def test_wiki_db_round_trip():
    # every known language maps to its wiki_db and back
    for code in LANGUAGES:
        assert language_of(wiki_db(code)) == code
    assert wiki_db("simple") == "simplewiki"
    with pytest.raises(LanguageError):
        language_of("enwiktionary")
