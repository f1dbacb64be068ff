"""Generated demo copies of the two source tables, for the demo run and the tests.

Writes parquet copies of ``wmf.mediawiki_history`` and ``wmf.mediawiki_wikitext_history`` with their
exact columns and types for a few languages, each in its own script. The text is synthetic (words
built from per-script syllables) but shaped like Wikipedia articles, and the histories mix good edits
with vandalism, identity reverts, revision wars, bots, page creations, anonymous and registered users,
tags and deleted texts, so that every collection filter has something to do. The label is learnable
but not trivial: anonymous editors vandalise more often, not always, and not every bad edit is
reverted. Same arguments, same bytes.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import logging
import os
import uuid
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from kitrain.config import check_snapshot
from kitrain.languages import LANGUAGES, validate_languages, wiki_db
from kitrain.schema import CONTENT_HISTORY_COLUMNS, CONTENT_SLOT_TYPE, HISTORY_TABLE_COLUMNS, USER_GROUPS, WIKITEXT_COLUMNS

logger = logging.getLogger(__name__)

#: Latin, Cyrillic, Arabic, CJK and Devanagari.
DEMO_LANGUAGES: tuple[str, ...] = ("en", "uk", "ar", "ja", "hi")
MIN_REVISIONS = 20

_ARROW = {"string": pa.string(), "bigint": pa.int64(), "int": pa.int32(), "boolean": pa.bool_(),
          "array<string>": pa.list_(pa.string())}


def _arrow_schema(columns: Sequence[tuple[str, str]]) -> pa.Schema:
    return pa.schema([pa.field(name, _ARROW[dtype]) for name, dtype in columns])


HISTORY_SCHEMA = _arrow_schema(HISTORY_TABLE_COLUMNS)
WIKITEXT_SCHEMA = _arrow_schema(WIKITEXT_COLUMNS)
_SLOT = pa.struct([("content_body", pa.string()), ("content_format", pa.string()),
                   ("content_model", pa.string()), ("content_sha1", pa.string()),
                   ("content_size", pa.int64()), ("origin_rev_id", pa.int64())])
_ARROW_CONTENT = {**_ARROW, "timestamp": pa.timestamp("us", tz="UTC"),
                  f"map<string,{CONTENT_SLOT_TYPE}>": pa.map_(pa.string(), _SLOT)}
#: ``wmf_content.mediawiki_content_history_v1`` in Arrow form; the copies are split by ``wiki_id=``
#: directories, so the files hold every column but that one.
CONTENT_HISTORY_SCHEMA = pa.schema([pa.field(name, _ARROW_CONTENT[dtype])
                                    for name, dtype in CONTENT_HISTORY_COLUMNS if name != "wiki_id"])


@dataclasses.dataclass(frozen=True)
class Script:
    syllables: tuple[str, ...]
    word_sep: str
    stop: str
    comma: str
    capitalise: bool


_SCRIPTS = {
    "latin": Script(("ka", "ro", "len", "mi", "sta", "ver", "do", "lin", "ta", "mor", "bel", "sen",
                     "ri", "gal", "pon", "tu", "ne", "qua"), " ", ". ", ", ", True),
    "cyrillic": Script(("ко", "ва", "ли", "ні", "ст", "ра", "ме", "до", "ти", "жа", "ок", "ів",
                        "ук", "ся", "пе", "го", "рі", "чн"), " ", ". ", ", ", True),
    "arabic": Script(("كا", "لم", "سي", "نو", "را", "بي", "تا", "مد", "هو", "في", "عا", "قل",
                      "ست", "ون", "ري", "جم"), " ", ". ", "، ", False),
    "cjk": Script(("東", "京", "山", "川", "の", "は", "に", "大", "学", "日", "本", "市", "人",
                   "文", "化", "ア", "イ", "カ", "ト", "ラ", "が", "を", "で", "年"), "", "。", "、", False),
    "devanagari": Script(("क", "र", "म", "न", "स", "ल", "प", "त", "जा", "री", "को", "भा", "वि",
                          "दे", "गु", "शा"), " ", "। ", ", ", False),
}
_SCRIPT_OF = {"uk": "cyrillic", "ru": "cyrillic", "bg": "cyrillic", "sr": "cyrillic",
              "ar": "arabic", "fa": "arabic", "ur": "arabic", "ja": "cjk", "zh": "cjk",
              "hi": "devanagari"}
#: When logged-out editors of a wiki started to get temporary accounts instead of editing as an IP
#: (Wikimedia's rollout; the day is the first of the month where only the month is known). From
#: then on the demo gives most logged-out edits of that wiki to temporary accounts.
TEMPORARY_ACCOUNTS_SINCE: dict[str, dt.datetime] = {
    **{lang: dt.datetime(2024, 11, 1) for lang in ("cs", "sw", "sh", "ig", "da", "no", "ro", "sr")},
    **{lang: dt.datetime(2025, 6, 1) for lang in ("tr", "ko", "fr", "zh", "fa", "pl", "id", "ar", "vi",
                                                   "hi", "de", "nl", "he", "ja", "uk", "az", "pt")},
    **{lang: dt.datetime(2025, 9, 1) for lang in ("bn", "ca", "el", "fi", "simple", "sv", "th", "uz", "it")},
    "en": dt.datetime(2025, 11, 4), "es": dt.datetime(2025, 11, 12), "hu": dt.datetime(2025, 11, 12),
    "ru": dt.datetime(2026, 3, 25),
}
#: One logged-out edit in this many after the rollout is still made as an IP (a few remain).
_IP_AFTER_ROLLOUT = 20

_JUNK = ("lol", "hahaha", "!!!!!", "xD", "qwerty", "poop", "asdfgh", "LOOOL")



@dataclasses.dataclass(frozen=True)
class _Timeline:
    """Where a snapshot's demo revisions fall, as the paper's windows relate to its snapshot:
    six months before the snapshot month to its end, with the hold-out in its first week.
    Snapshot 2022-07 gives 2022-01-01 .. 2022-08-01 with the hold-out 2022-07-01 .. 2022-07-08."""

    start: dt.datetime
    holdout: tuple[dt.datetime, dt.datetime]
    end: dt.datetime

    @classmethod
    def of(cls, snapshot: str) -> _Timeline:
        year, month = (int(x) for x in check_snapshot("snapshot", snapshot).split("-"))
        index = year * 12 + month - 1
        first = dt.datetime(year, month, 1)
        start = dt.datetime((index - 6) // 12, (index - 6) % 12 + 1, 1)
        end = dt.datetime((index + 1) // 12, (index + 1) % 12 + 1, 1)
        return cls(start, (first, first + dt.timedelta(days=7)), end)


def _ts(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.0")


def _revision_block(snapshot: str) -> int:
    """Where a snapshot's revision ids start within its language's block: 0 for the paper's
    2022-07, another block of 100,000 for each other month (in a cycle of 45 months). Demo sources
    of several snapshots in one directory share the content history table, which has no snapshot
    partition: their revisions must not share ids."""
    if snapshot == "2022-07":
        return 0
    year, month = (int(part) for part in snapshot.split("-"))
    return (1 + (year * 12 + month) % 45) * 100_000


def _temporary_name(year: int, n: int) -> str:
    """A temporary account's name as Wikimedia's wikis give it: ``~``, the year, and a serial
    number in groups of five digits (``~2025-10000-03``)."""
    digits = str(1_000_000 + n)
    return f"~{year}-" + "-".join(digits[i:i + 5] for i in range(0, len(digits), 5))


class _Writer:
    """Random wikitext in one script."""

    def __init__(self, lang: str, rng: np.random.Generator) -> None:
        self.lang, self.rng = lang, rng
        self.script = _SCRIPTS[_SCRIPT_OF.get(lang, "latin")]
        self.counter = 0

    def word(self) -> str:
        n = int(self.rng.integers(1, 4))
        return "".join(self.script.syllables[int(i)] for i in self.rng.integers(0, len(self.script.syllables), n))

    def title(self) -> str:
        words = [self.word() for _ in range(int(self.rng.integers(1, 3)))]
        if self.script.capitalise:
            words = [w.capitalize() for w in words]
        return self.script.word_sep.join(words) or self.word()

    def sentence(self, links: bool = True) -> str:
        words = [self.word() for _ in range(int(self.rng.integers(4, 10)))]
        if links and self.rng.random() < 0.4:
            i = int(self.rng.integers(0, len(words)))
            words[i] = f"[[{self.title()}]]" if self.rng.random() < 0.6 else f"[[{self.title()}|{words[i]}]]"
        if self.rng.random() < 0.3:
            half = len(words) // 2
            words[half] = words[half] + self.script.comma.strip()
        text = self.script.word_sep.join(words)
        if self.script.capitalise:
            text = text[:1].upper() + text[1:]
        return text + self.script.stop.strip()

    def ref(self) -> str:
        self.counter += 1
        return (f"<ref>{{{{cite web|url=https://example.org/{self.lang}/{self.counter}"
                f"|title={self.title()}}}}}</ref>")

    def junk(self) -> str:
        pieces = [str(self.rng.choice(_JUNK)), self.word().upper() * 2, "!" * int(self.rng.integers(2, 6))]
        return " ".join(pieces[: int(self.rng.integers(1, 4))])


def _new_article(w: _Writer) -> dict[str, Any]:
    sections = []
    for i in range(int(w.rng.integers(2, 4))):
        sections.append({
            "heading": w.title(),
            "sents": [w.sentence() + (w.ref() if w.rng.random() < 0.3 else "")
                      for _ in range(int(w.rng.integers(2, 5)))],
            "list": [w.title() for _ in range(3)] if i == 0 else [],
            "table": [[w.title(), str(int(w.rng.integers(10, 9999)))] for _ in range(2)] if i == 1 else [],
        })
    return {
        "title": w.title(),
        "infobox": [("name", w.title()), ("population", str(int(w.rng.integers(1000, 99999))))],
        "lead": [w.sentence() + w.ref()] + [w.sentence() for _ in range(int(w.rng.integers(1, 3)))],
        "sections": sections,
        "cats": [w.title() for _ in range(2)],
        "blank": None,
    }


def _render(a: dict[str, Any], w: _Writer) -> str:
    if a["blank"] is not None:
        return a["blank"]
    sep = w.script.word_sep
    parts = ["{{Infobox settlement\n" + "".join(f"| {k} = {v}\n" for k, v in a["infobox"]) + "}}\n"]
    parts.append(f"'''{a['title']}''' " + sep.join(a["lead"]) + "\n\n")
    for s in a["sections"]:
        body = f"== {s['heading']} ==\n" + sep.join(s["sents"]) + "\n"
        if s["list"]:
            body += "".join(f"* [[{item}]]\n" for item in s["list"])
        if s["table"]:
            body += '{| class="wikitable"\n' + "".join(f"|-\n| {x} || {y}\n" for x, y in s["table"]) + "|}\n"
        parts.append(body + "\n")
    parts.append("".join(f"[[Category:{c}]]\n" for c in a["cats"]))
    return "".join(parts)


def _all_sentences(a: dict[str, Any]) -> list[list[str]]:
    return [a["lead"]] + [s["sents"] for s in a["sections"]]


def _good_edit(a: dict[str, Any], w: _Writer) -> tuple[dict[str, Any], str]:
    a = copy.deepcopy(a)
    kind = str(w.rng.choice(["sentence", "word", "ref", "link", "category", "section", "copyedit"]))
    groups = _all_sentences(a)
    target = groups[int(w.rng.integers(0, len(groups)))]
    if kind == "sentence":
        target.insert(int(w.rng.integers(0, len(target) + 1)), w.sentence())
    elif kind in ("word", "copyedit") and target:
        i = int(w.rng.integers(0, len(target)))
        words = target[i].split(w.script.word_sep) if w.script.word_sep else list(target[i])
        j = int(w.rng.integers(0, len(words)))
        words[j] = w.word() if kind == "word" else words[j] + w.word()[:1]
        target[i] = (w.script.word_sep or "").join(words)
    elif kind == "ref" and target:
        i = int(w.rng.integers(0, len(target)))
        target[i] = target[i] + w.ref()
    elif kind == "link":
        target.append(f"[[{w.title()}]]{w.script.stop.strip()}")
    elif kind == "category":
        a["cats"].append(w.title())
    else:
        a["sections"].append({"heading": w.title(), "sents": [w.sentence() for _ in range(2)],
                              "list": [], "table": []})
    return a, kind


def _vandal_edit(a: dict[str, Any], w: _Writer) -> tuple[dict[str, Any], str]:
    a = copy.deepcopy(a)
    kind = str(w.rng.choice(["junk", "junk", "replace", "blank_section", "blank_page", "unref", "caps"]))
    groups = _all_sentences(a)
    target = groups[int(w.rng.integers(0, len(groups)))]
    if kind == "junk" or not target:
        target.insert(int(w.rng.integers(0, len(target) + 1)), w.junk())
        kind = "junk"
    elif kind == "replace":
        target[int(w.rng.integers(0, len(target)))] = w.junk()
    elif kind == "blank_section" and a["sections"]:
        a["sections"].pop(int(w.rng.integers(0, len(a["sections"]))))
    elif kind == "blank_page":
        a["blank"] = "" if w.rng.random() < 0.5 else w.junk()
    elif kind == "unref" and any("<ref>" in x for g in groups for x in g):
        for group in groups:
            for i, sentence in enumerate(group):
                group[i] = sentence.split("<ref>")[0] if "<ref>" in sentence else sentence
    else:  # shouting (also the fallback when a page has no reference left to remove)
        target[int(w.rng.integers(0, len(target)))] = target[0].upper() + " " + w.junk().upper()
        kind = "caps"
    return a, kind


@dataclasses.dataclass
class _User:
    name: str
    kind: str  # anon, newcomer, experienced, patroller, bot
    user_id: int | None
    groups: list[str]
    registered: str | None


def _users(w: _Writer, offset: int) -> dict[str, list[_User]]:
    rng = w.rng
    pools: dict[str, list[_User]] = {"anon": [], "newcomer": [], "experienced": [], "patroller": [], "bot": []}
    for i in range(40):
        ip = (f"203.0.{int(rng.integers(0, 255))}.{i + 1}" if i % 4 else
              f"2001:db8:{int(rng.integers(0, 9999)):x}::{i + 1:x}")
        pools["anon"].append(_User(ip, "anon", None, [], None))
    extra = [g for g in USER_GROUPS if g not in ("sysop", "rollbacker", "editor", "bureaucrat")]
    for kind, count in (("newcomer", 25), ("experienced", 15), ("patroller", 6), ("bot", 2)):
        for i in range(count):
            uid = offset + len(pools[kind]) + 100 * ("newcomer experienced patroller bot".split().index(kind))
            if kind == "newcomer":
                groups = [] if rng.random() < 0.6 else ["autoconfirmed"]
            elif kind == "experienced":
                groups = ["autoconfirmed", "extendedconfirmed"] + sorted(
                    {str(g) for g in rng.choice(extra, size=int(rng.integers(0, 3)), replace=False)})
            elif kind == "patroller":
                groups = ["autoconfirmed"] + [["sysop"], ["rollbacker"], ["editor", "reviewer"],
                                              ["patroller"]][i % 4]
            else:
                groups = ["bot"]
            name = f"{kind.capitalize()}{w.title().replace(' ', '')}{i}"
            year = 2012 + int(rng.integers(0, 10)) if kind != "newcomer" else 2022
            pools[kind].append(_User(name, kind, uid, groups, f"{year}-01-{1 + i % 28:02d} 00:00:00.0"))
    return pools


_VANDAL_RATE = {"anon": 0.35, "newcomer": 0.12, "experienced": 0.02, "patroller": 0.0, "bot": 0.0}
_EDITOR_MIX = (("anon", 0.35), ("newcomer", 0.25), ("experienced", 0.35), ("bot", 0.05))


def _draw_time(rng: np.random.Generator, tl: _Timeline) -> dt.datetime:
    r = rng.random()
    if r < 0.3:
        lo, hi = tl.holdout
    elif r < 0.9:
        lo, hi = tl.start, tl.holdout[0]
    else:
        lo, hi = tl.holdout[1], tl.end
    return lo + dt.timedelta(seconds=int(rng.integers(0, int((hi - lo).total_seconds()))))


def _tags(user: _User, rng: np.random.Generator) -> list[str]:
    if user.kind == "bot":
        return []
    mobile = rng.random() < (0.45 if user.kind == "anon" else 0.15)
    if mobile:
        if rng.random() < 0.2:
            return ["mobile edit", "mobile app edit", str(rng.choice(["android app edit", "ios app edit"]))]
        return ["mobile edit", "mobile web edit"] + (["visualeditor"] if rng.random() < 0.2 else [])
    r = rng.random()
    return ["visualeditor"] if r < 0.3 else ["wikieditor"] if r < 0.7 else []


def _page_history(w: _Writer, pools: dict[str, list[_User]], n_edits: int) -> list[dict[str, Any]]:
    """Revisions of one page in order: creation, then edits, reverts and revision wars."""
    rng = w.rng
    pick = lambda kind: pools[kind][int(rng.integers(0, len(pools[kind])))]  # noqa: E731
    article = _new_article(w)
    revs: list[dict[str, Any]] = []

    def add(text: str, user: _User, comment: str, **extra: Any) -> int:
        revs.append({"text": text, "user": user, "comment": comment, "tags": _tags(user, rng),
                     "reverted_by": None, "is_revert": False, "quick": False, **extra})
        return len(revs) - 1

    creator = pick(str(rng.choice(["newcomer", "experienced"])))
    add(_render(article, w), creator, "Created page")
    good_text = revs[0]["text"]
    while len(revs) < n_edits:
        kind = str(rng.choice([k for k, _ in _EDITOR_MIX], p=[p for _, p in _EDITOR_MIX]))
        user = pick(kind)
        if rng.random() < _VANDAL_RATE[kind]:
            bad: list[int] = []
            state = article
            for _ in range(1 + int(rng.random() < 0.2)):  # sometimes two bad edits in a row
                state, how = _vandal_edit(state, w)
                if _render(state, w) == (revs[bad[-1]]["text"] if bad else good_text):
                    break  # an edit that changes nothing saves no revision
                bad.append(add(_render(state, w), user, "" if rng.random() < 0.7 else w.junk(),
                               quick=bool(bad), vandal=how))
            if not bad:
                continue
            if state["blank"] is None and rng.random() >= 0.85 and not bad[1:]:
                article, good_text = state, revs[bad[-1]]["text"]  # vandalism nobody reverted
                continue
            reverter = pick("patroller" if rng.random() < 0.7 else "experienced")
            revert = add(good_text, reverter, f"Reverted edits by [[Special:Contributions/{user.name}|"
                         f"{user.name}]]", is_revert=True, quick=True,
                         tags_extra=["mw-rollback"])
            for i in bad:
                revs[i]["reverted_by"] = revert
            if rng.random() < 0.12:  # revision war: the vandal restores, a patroller reverts again
                again = add(revs[bad[-1]]["text"], user, "Undid revision", is_revert=True, quick=True)
                revs[revert]["reverted_by"] = again
                final = add(good_text, pick("patroller"), "Reverted edits", is_revert=True, quick=True)
                revs[again]["reverted_by"] = final
        else:
            new, how = _good_edit(article, w) if kind != "bot" else (copy.deepcopy(article), "bot")
            if kind == "bot":  # maintenance: sort the categories and add one
                new["cats"] = sorted(new["cats"]) + [w.title()]
            if _render(new, w) == good_text:
                continue  # MediaWiki saves no revision for an edit that changes nothing
            previous = good_text
            idx = add(_render(new, w), user, f"/* {new['sections'][-1]['heading']} */ {how}"
                      if new["sections"] and rng.random() < 0.6 else "")
            if kind != "bot" and rng.random() < 0.05:  # a good edit reverted by mistake
                revert = add(previous, pick("experienced"), "Undid revision", is_revert=True, quick=True)
                revs[idx]["reverted_by"] = revert
            else:
                article, good_text = new, revs[idx]["text"]
    return revs


def make_language_tables(
    lang: str, revisions: int, seed: int, snapshot: str = "2022-07"
) -> tuple[pa.Table, pa.Table]:
    """(history, wikitext) tables of one language; pure, no I/O.

    ``snapshot`` (the history snapshot, also the partition directory) places the revisions: from six
    months before the snapshot month to its end, 30 % of them in its first week (the hold-out).
    """
    (lang,) = validate_languages([lang])
    tl = _Timeline.of(snapshot)
    if revisions < MIN_REVISIONS:
        raise ValueError(f"revisions per language must be at least {MIN_REVISIONS}, got {revisions}")
    rng = np.random.default_rng([seed, zlib.crc32(lang.encode("utf-8"))])
    w = _Writer(lang, rng)
    lang_offset = (LANGUAGES.index(lang) + 1) * 10_000_000
    pools = _users(w, lang_offset)

    pages = []
    total = 0
    while total < revisions:
        n = min(int(rng.integers(6, 18)), max(2, revisions - total))
        pages.append(_page_history(w, pools, n))
        total += len(pages[-1])
    talk = [_page_history(w, pools, 2) for _ in range(max(1, revisions // 60))]

    # timestamps: creation first, quick reverts minutes after the edit they undo
    events = []
    for page_no, (ns, revs) in enumerate([(0, p) for p in pages] + [(1, p) for p in talk]):
        times = sorted(_draw_time(rng, tl) for _ in revs)
        times[0] -= dt.timedelta(days=int(rng.integers(0, 20)) if ns == 0 else 0)
        if rng.random() < 0.7:  # most pages are created inside the window, some before it
            times[0] = max(times[0], tl.start)
        for i in range(1, len(revs)):
            gap = (times[i] - times[i - 1]).total_seconds()
            if revs[i]["quick"]:
                gap = min(gap, float(rng.integers(30, 3600)))
            times[i] = times[i - 1] + dt.timedelta(seconds=max(1.0, gap))
        times = [min(t, tl.end - dt.timedelta(seconds=len(revs) - i)) for i, t in enumerate(times)]
        times = [max(t, times[i - 1] + dt.timedelta(seconds=1)) if i else t for i, t in enumerate(times)]
        for i, rev in enumerate(revs):
            events.append((times[i], page_no, i, ns, revs))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    # revision ids follow time across the wiki, as on Wikipedia
    ids = {(e[1], e[2]): lang_offset + _revision_block(snapshot) + 1 + k for k, e in enumerate(events)}
    when = {(e[1], e[2]): e[0] for e in events}
    titles = {page_no: w.title() for page_no in range(len(pages) + len(talk))}

    history, wikitext = [], []
    user_last: dict[str, dt.datetime] = {}
    user_count: dict[str, int] = {}
    page_count: dict[int, int] = {}
    rollout = TEMPORARY_ACCOUNTS_SINCE.get(lang)
    temporary: dict[tuple[str, int], _User] = {}
    for moment, page_no, i, ns, revs in events:
        rev = revs[i]
        user: _User = rev["user"]
        rid = ids[page_no, i]
        if (user.kind == "anon" and rollout is not None and moment >= rollout
                and zlib.crc32(str(rid).encode()) % _IP_AFTER_ROLLOUT):
            # after the rollout a logged-out editor gets a temporary account (one per IP and
            # year here; they expire after 90 days on the wikis); no random draw, so the rest of
            # the demo stays as it was
            key = (user.name, moment.year)
            if key not in temporary:
                n = len(temporary)
                temporary[key] = _User(_temporary_name(moment.year, n), "temporary",
                                       lang_offset + 9_000_000 + n, [], _ts(moment))
            user = temporary[key]
        parent = ids[page_no, i - 1] if i else 0
        text = rev["text"]
        prev_bytes = len(revs[i - 1]["text"].encode("utf-8")) if i else 0
        reverting = ids[page_no, rev["reverted_by"]] if rev["reverted_by"] is not None else None
        revert_time = when[page_no, rev["reverted_by"]] if reverting else None
        since = int((moment - user_last[user.name]).total_seconds()) if user.name in user_last else None
        user_last[user.name] = moment
        user_count[user.name] = user_count.get(user.name, 0) + 1
        page_count[page_no] = page_count.get(page_no, 0) + 1
        anon = user.kind == "anon"
        temp = user.kind == "temporary"
        bot_by = ["group"] if user.kind == "bot" else []
        title = titles[page_no]
        page_id = lang_offset + 5_000_000 + page_no
        row = {name: None for name, _ in HISTORY_TABLE_COLUMNS}
        row.update({
            "wiki_db": wiki_db(lang), "event_entity": "revision", "event_type": "create",
            "event_timestamp": _ts(moment), "event_comment": rev["comment"],
            "event_user_id": user.user_id, "event_user_text_historical": user.name,
            "event_user_text": user.name, "event_user_blocks_historical": [], "event_user_blocks": [],
            "event_user_groups_historical": list(user.groups), "event_user_groups": list(user.groups),
            "event_user_is_bot_by_historical": bot_by, "event_user_is_bot_by": bot_by,
            "event_user_central_id": user.user_id,
            "event_user_is_created_by_self": not (anon or temp), "event_user_is_created_by_system": temp,
            "event_user_is_created_by_peer": False, "event_user_is_anonymous": anon,
            "event_user_is_temporary": temp, "event_user_is_permanent": not (anon or temp),
            "event_user_is_cross_wiki": False,
            "event_user_registration_timestamp": user.registered,
            "event_user_creation_timestamp": user.registered,
            "event_user_first_edit_timestamp": user.registered,
            "event_user_revision_count": None if anon else user_count[user.name],
            "event_user_seconds_since_previous_revision": since,
            "page_id": page_id, "page_title_historical": title, "page_title": title,
            "page_namespace_historical": ns, "page_namespace_is_content_historical": ns == 0,
            "page_namespace": ns, "page_namespace_is_content": ns == 0, "page_is_redirect": False,
            "page_is_deleted": False,
            "page_revision_count": page_count[page_no],
            "user_id": user.user_id, "user_text_historical": user.name, "user_text": user.name,
            "user_blocks_historical": [], "user_blocks": [],
            "user_groups_historical": list(user.groups), "user_groups": list(user.groups),
            "user_is_bot_by_historical": bot_by, "user_is_bot_by": bot_by,
            "user_central_id": user.user_id,
            "user_is_created_by_self": not (anon or temp), "user_is_created_by_system": temp,
            "user_is_created_by_peer": False, "user_is_anonymous": anon,
            "user_is_temporary": temp, "user_is_permanent": not (anon or temp),
            "user_registration_timestamp": user.registered, "user_creation_timestamp": user.registered,
            "user_first_edit_timestamp": user.registered,
            "revision_id": rid, "revision_parent_id": parent,
            "revision_minor_edit": bool(rev["is_revert"]), "revision_deleted_parts": [],
            "revision_deleted_parts_are_suppressed": False,
            "revision_text_bytes": len(text.encode("utf-8")),
            "revision_text_bytes_diff": len(text.encode("utf-8")) - prev_bytes,
            "revision_text_sha1": hashlib.sha1(text.encode("utf-8")).hexdigest(),
            "revision_content_model": "wikitext", "revision_content_format": "text/x-wiki",
            "revision_is_deleted_by_page_deletion": False,
            "revision_is_identity_reverted": reverting is not None,
            "revision_first_identity_reverting_revision_id": reverting,
            "revision_seconds_to_identity_revert":
                int((revert_time - moment).total_seconds()) if revert_time else None,
            "revision_is_identity_revert": bool(rev["is_revert"]),
            "revision_is_from_before_page_creation": False,
            "revision_tags": rev["tags"] + rev.get("tags_extra", []),
        })
        history.append(row)
        deleted = i > 0 and ns == 0 and rng.random() < 0.02
        if not deleted:
            wikitext.append({
                "page_id": page_id, "page_namespace": ns, "page_title": title,
                "page_redirect_title": None, "page_restrictions": [], "user_id": user.user_id,
                "user_text": user.name, "revision_id": rid, "revision_parent_id": parent,
                "revision_timestamp": _ts(moment), "revision_minor_edit": bool(rev["is_revert"]),
                "revision_comment": rev["comment"], "revision_text_bytes": len(text.encode("utf-8")),
                "revision_text_sha1": row["revision_text_sha1"], "revision_text": text,
                "revision_content_model": "wikitext", "revision_content_format": "text/x-wiki",
            })
    first_edit = {}
    for row in history:
        first_edit.setdefault(row["page_id"], row["event_timestamp"])
    for row in history:
        row["page_creation_timestamp"] = row["page_first_edit_timestamp"] = first_edit[row["page_id"]]

    # non-revision events the collector must ignore
    for k in range(max(2, revisions // 100)):
        row = {name: None for name, _ in HISTORY_TABLE_COLUMNS}
        entity = "page" if k % 2 == 0 else "user"
        row.update({"wiki_db": wiki_db(lang), "event_entity": entity,
                    "event_type": "create" if entity == "page" else "rename",
                    "event_timestamp": _ts(_draw_time(rng, tl)), "event_comment": "",
                    "page_namespace": 0 if entity == "page" else None,
                    "revision_tags": [], "event_user_is_bot_by": []})
        history.append(row)
    return (pa.Table.from_pylist(history, schema=HISTORY_SCHEMA),
            pa.Table.from_pylist(wikitext, schema=WIKITEXT_SCHEMA))


def content_history_table(history: pa.Table, wikitext: pa.Table) -> pa.Table:
    """The language's rows of ``wmf_content.mediawiki_content_history_v1`` (without ``wiki_id``,
    the partition directory): every revision of every page, its wikitext in the main slot. A
    revision whose text the wikitext table lacks is a suppressed one here: the row stays, with
    ``revision_content_is_visible`` false, as the content table keeps them. Its body is the empty
    text, so that a reader ignoring the flag would take it for a blanked page and show."""
    texts = dict(zip(wikitext.column("revision_id").to_pylist(), wikitext.column("revision_text").to_pylist()))
    rows = []
    for row in history.to_pylist():
        if row["event_entity"] != "revision":
            continue
        text = texts.get(row["revision_id"])
        moment = dt.datetime.strptime(row["event_timestamp"], "%Y-%m-%d %H:%M:%S.0").replace(tzinfo=dt.timezone.utc)
        size = len(text.encode("utf-8")) if text is not None else row["revision_text_bytes"]
        rows.append({
            "page_id": row["page_id"], "page_namespace_id": row["page_namespace"],
            "page_title": row["page_title"], "page_redirect_target": None,
            "user_id": row["event_user_id"], "user_text": row["event_user_text_historical"],
            "user_is_visible": True, "revision_id": row["revision_id"],
            "revision_parent_id": row["revision_parent_id"], "revision_dt": moment,
            "revision_is_minor_edit": row["revision_minor_edit"], "revision_comment": row["event_comment"],
            "revision_comment_is_visible": True, "revision_sha1": row["revision_text_sha1"],
            "revision_size": size,
            "revision_content_slots": [("main", {
                "content_body": text if text is not None else "", "content_format": "text/x-wiki", "content_model": "wikitext",
                "content_sha1": row["revision_text_sha1"], "content_size": size,
                "origin_rev_id": row["revision_id"]})],
            "revision_content_is_visible": text is not None,
            "row_content_update_dt": moment, "row_visibility_update_dt": moment, "row_move_update_dt": moment,
        })
    return pa.Table.from_pylist(rows, schema=CONTENT_HISTORY_SCHEMA)


def _write(table: pa.Table, path: Path) -> None:
    """Write atomically with fixed options, so the same table gives the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    pq.write_table(table, tmp, compression="snappy", use_dictionary=True, write_statistics=True)
    os.replace(tmp, path)


def write_dumps(dumps_dir: str | os.PathLike[str], lang: str, history: pa.Table, wikitext: pa.Table,
                snapshot: str) -> dict[str, Any]:
    """The language's tables as a dumps source (``--dumps-dir``), laid out as the dumps site does:
    the history in today's 78-field TSV layout (one ``all-time`` ``.bz2`` file of the snapshot),
    and the texts as the full-history XML dump that a collection of the snapshot's windows reads
    (dated the first day after the snapshot month, in two ``.bz2`` parts, with its
    ``dumpstatus.json``). A temporary account is written as MediaWiki writes one: a
    ``<username>`` with an ``<id>``; the suppressed revisions are not in the XML."""
    from kitrain.dumps.write import write_history_lines, write_xml_parts
    from kitrain.schema import HISTORY_DUMP_LAYOUTS

    db = wiki_db(lang)
    out = Path(dumps_dir)
    history_files = write_history_lines(history.to_pylist(), out, db, snapshot, split="all-time",
                                        columns=max(HISTORY_DUMP_LAYOUTS), compress=True)
    pages: dict[int, list[dict[str, Any]]] = {}
    for row in wikitext.to_pylist():
        pages.setdefault(row["page_id"], []).append(row)
    dump_date = _Timeline.of(snapshot).end.strftime("%Y%m%d")
    xml_files = write_xml_parts(pages, out, db, dump_date, parts=2, compress=True)
    return {"history_files": [str(p) for p in history_files], "xml_dump": dump_date,
            "xml_files": [str(p) for p in xml_files]}


def generate_demo(
    out_dir: str | os.PathLike[str],
    languages: Sequence[str] = DEMO_LANGUAGES,
    revisions_per_language: int = 300,
    seed: int = 42,
    snapshot: str = "2022-07",
    wikitext_snapshot: str = "2022-11",
    dumps_dir: str | os.PathLike[str] | None = None,
) -> dict[str, dict[str, int]]:
    """Write the demo source tables under ``out_dir``; return per-language counts.

    Layout (Hive-style partition directories; partition columns are not stored in the files)::

        out_dir/mediawiki_history/snapshot=<snapshot>/<wiki_db>.parquet
        out_dir/mediawiki_content_history_v1/wiki_id=<wiki_db>/part-<snapshot>.parquet
        out_dir/mediawiki_wikitext_history/snapshot=<wikitext_snapshot>/wiki_db=<wiki_db>/part-0.parquet

    The content history table (the default text source) and the retired wikitext table hold the
    same texts, so a collection through either gives the same rows. With ``dumps_dir``, the same
    data is also written as a dumps source there (:func:`write_dumps`). The content table has no
    snapshots: each snapshot written into ``out_dir`` adds its own file (and revision ids) to it.
    """
    langs = validate_languages(languages)
    check_snapshot("snapshot", snapshot)
    check_snapshot("wikitext_snapshot", wikitext_snapshot)
    if isinstance(revisions_per_language, bool) or not isinstance(revisions_per_language, int) \
            or revisions_per_language < MIN_REVISIONS:
        raise ValueError(
            f"revisions per language must be an integer >= {MIN_REVISIONS}, got {revisions_per_language!r}"
        )
    out = Path(out_dir)
    summary = {}
    for lang in langs:
        history, wikitext = make_language_tables(lang, revisions_per_language, seed, snapshot)
        db = wiki_db(lang)
        _write(history, out / "mediawiki_history" / f"snapshot={snapshot}" / f"{db}.parquet")
        _write(wikitext, out / "mediawiki_wikitext_history" / f"snapshot={wikitext_snapshot}"
               / f"wiki_db={db}" / "part-0.parquet")
        _write(content_history_table(history, wikitext),
               out / "mediawiki_content_history_v1" / f"wiki_id={db}" / f"part-{snapshot}.parquet")
        if dumps_dir is not None:
            write_dumps(dumps_dir, lang, history, wikitext, snapshot)
        summary[lang] = _summarise(history, wikitext)
        logger.info("demo %s: %s", lang, summary[lang])
    return summary


def _summarise(history: pa.Table, wikitext: pa.Table) -> dict[str, int]:
    h = history.to_pandas()
    revs = h[(h.event_entity == "revision") & (h.page_namespace == 0)]
    reverted_ids = set(h.loc[h.revision_is_identity_reverted.eq(True), "revision_id"])
    with_text = set(wikitext.column("revision_id").to_pylist())
    return {
        "revisions": len(revs),
        "pages": int(revs.page_id.nunique()),
        "reverted": int(revs.revision_is_identity_reverted.sum()),
        "anonymous": int(revs.event_user_is_anonymous.sum()),
        "temporary": int(revs.event_user_is_temporary.sum()),
        "bots": int(revs.event_user_is_bot_by.map(len).gt(0).sum()),
        "creations": int((revs.revision_parent_id == 0).sum()),
        "revision_wars": int(revs.revision_first_identity_reverting_revision_id.isin(reverted_ids).sum()),
        "missing_texts": int((~revs.revision_id.isin(with_text)).sum()),
    }
