"""Who made an edit: the one definition of a logged-out editor that every stage uses.

The paper's "anonymous" editor is one who was not logged in. In 2022 that was an IP editor, and
``wmf.mediawiki_history`` flagged exactly those in ``event_user_is_anonymous``. Since the pilots of
2024-10 and the rollouts of 2025-2026, a logged-out editor on almost every Wikipedia gets an
auto-created *temporary account* (``~2025-12345-67``) instead of editing as an IP. The history
table keeps ``event_user_is_anonymous`` for IP editors only, on purpose (T356701), and flags
temporary accounts in ``event_user_is_temporary`` (analytics-refinery-source 4499e7e0, T379230),
with a positive user id, like a registered user. Wikimedia's own reduced history counts
``event_user_is_anonymous OR event_user_is_temporary`` as anonymous (analytics-refinery a75eff6a),
and the production revert-risk models score temporary accounts as unregistered users (T379223).

kitrain keeps the paper's meaning on today's data:

* **logged out** = ``event_user_is_anonymous OR event_user_is_temporary``; where the temporary flag
  is absent or null (70-field history dumps, rows from an XML export, parquet copies made before
  2025), a user name of MediaWiki's temporary-account form counts as well;
* the collected column ``event_user_is_anonymous`` (the feature ``is_anonymous``) carries that
  definition, and ``event_user_is_temporary`` says which of those editors had a temporary account;
* an editor is in exactly one of three groups: :data:`IP`, :data:`TEMPORARY`, :data:`REGISTERED`.

Imported edits (``imported>Name``, ``enwiki>Name``: revisions copied from another wiki by
Special:Import) have no user id on the wiki, so the history table flags them anonymous (and, since
2026-05, ``event_user_is_cross_wiki``: a ``>`` in the name, anonymous, not temporary;
analytics-refinery-source 3a1adaf9). kitrain keeps them so, as the paper's 2022 data and
Wikimedia's reduced history do: they fall in the :data:`IP` group, are never taken for a temporary
account (their name starts with the source wiki's prefix), and the collection counts them apart
(``imported`` in ``quality.json``). They are rare in a window: an import copies old revisions.
"""

from __future__ import annotations

import re
from typing import Any

#: The three editor groups, in the order reports show them.
IP = "ip"
TEMPORARY = "temporary"
REGISTERED = "registered"
GROUPS: tuple[str, ...] = (IP, TEMPORARY, REGISTERED)

#: A temporary account's name, as MediaWiki tells one on Wikimedia's wikis: ``TempUserConfig::
#: isTempName`` matches the ``matchPattern`` ``~2$1`` of Wikimedia's configuration
#: (operations-mediawiki-config, ``wmf-config/CommonSettings.php``), and ``Pattern::isMatch`` of a
#: pattern ending in ``$1`` is a prefix test: the name starts with ``~2``. Names are ``~``, the
#: year, ``-`` and a serial number (``~2024-1501``; in readable groups of five digits since
#: 2025-07: ``~2025-12345-67``). No registered name starts with ``~2`` there (the
#: ``reservedPattern``; such accounts were renamed, T349507), so the form tells a temporary account
#: where no flag does. Written so that Java's regular expressions (Spark's ``rlike``, which finds)
#: and Python's ``re.match`` read it alike.
TEMPORARY_ACCOUNT_PATTERN = r"^~2"
#: Marks an imported editor's name (``imported>Name``): counted apart, see above.
IMPORTED_MARK = ">"
_TEMPORARY = re.compile(TEMPORARY_ACCOUNT_PATTERN)


def is_temporary_name(name: object) -> bool:
    """Whether a user name is a temporary account's (an imported ``x>~2025-1`` is not: it names no
    account of this wiki)."""
    return isinstance(name, str) and _TEMPORARY.match(name) is not None


def _flag(value: Any) -> bool | None:
    """A flag as read from a source: None where it is absent or null (NaN in pandas)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return bool(value)


def editor_group(is_anonymous: Any, is_temporary: Any = None, user_text: Any = None) -> str:
    """The group of one edit's editor from the source's flags and the user name.

    ``is_anonymous`` is the history table's flag (an IP editor); ``is_temporary`` its temporary-account
    flag, None where the source has none, in which case the name decides.
    """
    temporary = _flag(is_temporary)
    if temporary is None:
        temporary = is_temporary_name(user_text)
    if temporary:
        return TEMPORARY
    return IP if _flag(is_anonymous) else REGISTERED


def is_logged_out(is_anonymous: Any, is_temporary: Any = None, user_text: Any = None) -> bool:
    """The paper's "anonymous": an IP editor or a temporary account."""
    return editor_group(is_anonymous, is_temporary, user_text) != REGISTERED


# --- Spark: the same definition as column expressions ------------------------------------------


def spark_is_temporary(temporary: str = "event_user_is_temporary",
                       user_text: str = "event_user_text_historical") -> Any:
    """Boolean column: the editor had a temporary account (:func:`editor_group` is TEMPORARY)."""
    from pyspark.sql import functions as F

    by_name = F.coalesce(F.col(user_text).rlike(TEMPORARY_ACCOUNT_PATTERN), F.lit(False))
    return F.coalesce(F.col(temporary), by_name)


def spark_is_logged_out(anonymous: str = "event_user_is_anonymous",
                        temporary: str = "event_user_is_temporary",
                        user_text: str = "event_user_text_historical") -> Any:
    """Boolean column: the editor was logged out (:func:`is_logged_out`)."""
    from pyspark.sql import functions as F

    return F.coalesce(F.col(anonymous), F.lit(False)) | spark_is_temporary(temporary, user_text)


def spark_is_imported(anonymous: str = "event_user_is_anonymous",
                      temporary: str = "event_user_is_temporary",
                      user_text: str = "event_user_text_historical") -> Any:
    """Boolean column: an imported edit (flagged anonymous, ``>`` in the name, no temporary
    account), counted apart inside the :data:`IP` group."""
    from pyspark.sql import functions as F

    return (F.coalesce(F.col(anonymous), F.lit(False)) & ~spark_is_temporary(temporary, user_text)
            & F.coalesce(F.col(user_text).contains(IMPORTED_MARK), F.lit(False)))


# --- collected and prepared data: the two 0/1 columns -------------------------------------------


def groups_of_arrays(logged_out: Any, temporary: Any) -> Any:
    """The group of each row from the collected 0/1 columns ``event_user_is_anonymous`` (logged
    out, the definition above) and ``event_user_is_temporary``: an array of group names."""
    import numpy as np

    logged_out = np.asarray(logged_out).astype(bool)
    temporary = np.asarray(temporary).astype(bool)
    return np.where(temporary, TEMPORARY, np.where(logged_out, IP, REGISTERED))
