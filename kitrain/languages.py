"""The one language list of the project.

The paper trained on 47 Wikipedias; ``simple`` (Simple English) was collected beside them in the
original scripts. Every stage, the CLI and the DAG read the list from here, and every language code
that reaches Spark or SQL has passed :func:`validate_language` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: The paper's 47 Wikipedias, in the order of the original collection loop.
PAPER_LANGUAGES: tuple[str, ...] = (
    "ka", "lv", "ta", "ur", "eo", "lt", "sl", "hy", "hr", "sk", "eu", "et", "ms", "az", "da", "bg",
    "sr", "ro", "el", "th", "bn", "no", "hi", "ca", "hu", "ko", "fi", "vi", "uz", "sv", "cs", "he",
    "id", "tr", "uk", "nl", "pl", "ar", "fa", "it", "zh", "ru", "es", "ja", "de", "fr", "en",
)  # fmt: skip

#: Every language kitrain knows: the paper's 47 plus Simple English.
LANGUAGES: tuple[str, ...] = PAPER_LANGUAGES + ("simple",)

#: Shape of a Wikipedia language code (``en``, ``simple``, ``zh-yue``, ``be-tarask``). Checked before
#: the known-list lookup so that the error says which of the two rules a value broke.
LANGUAGE_CODE_PATTERN = re.compile(r"^[a-z]{2,3}(?:[-_][a-z]{2,8})*$|^simple$")


class LanguageError(ValueError):
    """A language code that is malformed or not in :data:`LANGUAGES`."""


def validate_language(code: object) -> str:
    """Return ``code`` if it is a known, well-formed language code; raise :class:`LanguageError`.

    The pattern check comes first and never echoes more than 40 characters of the value, so a hostile
    string (``en'; DROP TABLE x; --``) is named in the error but cannot flood a log.
    """
    if not isinstance(code, str):
        raise LanguageError(f"language code must be a string, got {type(code).__name__}")
    shown = code if len(code) <= 40 else code[:40] + "..."
    if not LANGUAGE_CODE_PATTERN.fullmatch(code):
        raise LanguageError(
            f"invalid language code {shown!r}: expected a Wikipedia code such as 'en' or 'simple'"
        )
    if code not in LANGUAGES:
        raise LanguageError(
            f"unknown language code {shown!r}: kitrain knows {len(LANGUAGES)} languages "
            f"(see kitrain.languages.LANGUAGES)"
        )
    return code


def validate_languages(codes: Iterable[object]) -> tuple[str, ...]:
    """Validate a non-empty list of codes, keeping their order and dropping repeats."""
    result: list[str] = []
    for code in codes:
        checked = validate_language(code)
        if checked not in result:
            result.append(checked)
    if not result:
        raise LanguageError("the language list is empty: name at least one language")
    return tuple(result)


def wiki_db(code: str) -> str:
    """``uk`` -> ``ukwiki``: the ``wiki_db`` value of a language's Wikipedia."""
    return validate_language(code).replace("-", "_") + "wiki"


def language_of(wiki_db_value: str) -> str:
    """``ukwiki`` -> ``uk``; the inverse of :func:`wiki_db` for known languages."""
    if not wiki_db_value.endswith("wiki"):
        raise LanguageError(f"not a Wikipedia wiki_db: {wiki_db_value[:40]!r}")
    return validate_language(wiki_db_value[: -len("wiki")].replace("_", "-"))
