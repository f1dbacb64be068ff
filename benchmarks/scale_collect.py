"""Scale benchmark of the collection: time, CPU and peak memory of one language's collection from
10k to 200k source revisions (issue 25).

Writes a synthetic parquet source of one language (``uk`` by default) in the layout the parquet
source reads (``kitrain.spark.register_parquet_sources``; the same tables and columns as
``kitrain.demo.generate_demo`` writes), then collects both modes, ``train`` and ``test``, with one
``kitrain.collect.collect_language`` call, as the DAG's ``spark_collect`` application does, in a
child process of its own per size (Spark ``local[2]``, UI off, the JVM's heap fixed by
``spark.driver.memory``, ``--driver-memory``, 8g by default: in ``local`` mode that JVM is the
executor too; ``use_cache`` on, ``max_records`` high enough that nothing is sampled away). A size
whose collection fails is reported with its error, the Java error in its log (an
``OutOfMemoryError`` and where it was thrown), the phases it reached and the peaks until then, and
the benchmark goes on to the next size. Ends with one JSON line.

8g because less fails on this source (2026-12-05): with Spark's default of 1g, 10k revisions
end in ``Java heap space`` in the vectorized Parquet reader (a 4,096-row batch of the scratch text
table holds the texts of a 5 MB page's revisions: 78 MB in one on-heap array, outside Spark's
memory accounting); 2g failed the same way in one of three runs at 10k; 4g passes 10k and 50k and
fails at 200k while the train mode's frame with both texts is cached (a 10,000-row in-memory
column batch of texts). ``--spark-conf`` passes other settings to the collection's session.

The source (``--revisions`` N = revisions of the language in ``wmf.mediawiki_history``):

* pages whose text is log-normal around 10 KB (median 10 KB, sigma 0.8, 300 B .. 400 KB), and
  ``max(1, round(N / 40,000))`` pages of 1-5 MB (the first 5 MB, the rest spread down to 1 MB)
  with 12 revisions each: every revision's full text is in the text table, as in
  ``wmf_content.mediawiki_content_history_v1``;
* deep histories: revisions per page log-normal (median 40, 3 .. 600); 30 % of the revisions are
  older than the train window (2015..2022-01: read and dropped by the window, their texts are
  the parents of the window's first edits), 52 % in the train window before the hold-out, 14 % in
  the hold-out week, 4 % after it; plus N / 100 non-revision events;
* consecutive revisions differ by a small edit (a sentence inserted, removed, a word changed, a
  link or a reference added, a section added), so that the diff does real work; vandalism
  (junk, a replaced sentence, a blanked section, shouting) by logged-out editors (30 % of them),
  newcomers (10 %) and a few registered ones, 80 % of it reverted by the next revision (an
  identity revert restoring the text before it, ``revision_first_identity_reverting_revision_id``
  set, the reverting revision present), a few revision wars (the vandal restores, a patroller
  reverts again) and good edits reverted by mistake; IP editors, temporary accounts (a tenth of
  the logged-out edits), newcomers, experienced editors, patrollers and bots (dropped); 0.3 % of
  the texts suppressed.

What is measured, in the child (the collection from ``collect_language``'s call to its return):
wall time; CPU seconds of the driver (the child's own ``process_time``), of the JVM (its
``/proc/<pid>/stat`` utime + stime, read before ``spark.stop()``) and of the Python workers (utime
+ stime + cutime + cstime of every Python process below the JVM, read then: pyspark's daemon
reaps the workers that ended, so their CPU is in its cutime); the driver's peak RSS (``VmHWM`` of
``/proc/self/status``) and the JVM's (``VmHWM`` of the ``java`` process below the driver, read
before ``spark.stop()``). The Python workers come and go, so the benchmark process polls the
child's process tree every 50 ms from a thread of its own (not in the driver, whose CPU it would
add to) and keeps the largest ``VmRSS`` of any Python process below the JVM (and the largest
``VmHWM`` seen, which also covers a peak between two polls), the largest sum over them, and the
driver's and the JVM's ``VmRSS`` over time, so that each phase of the collection (the child
times ``register_sources``, ``history_extract``, each mode's ``select_mode``,
``read_texts_once`` and each mode's ``finish_mode``: the diff and the write) gets its own peaks.
Also: the rows each mode published and its row counts at the selection steps, bytes of peak RSS
per source revision, and the source scans of each table from Spark's SQL metrics
(``benchmarks/collect_scans.py``: ``scans_by_table``). Between consecutive sizes, the growth
exponents ``log(y2 / y1) / log(n2 / n1)`` of wall time, CPU and the three peaks (1 is linear, 0
flat).

    python benchmarks/scale_collect.py --revisions 10000 50000 200000
    python benchmarks/scale_collect.py --revisions 10000 --workdir /tmp/scale-collect-x --seed 7
    python benchmarks/scale_collect.py --revisions 10000 --driver-memory 1g \
        --spark-conf '{"spark.sql.parquet.columnarReaderBatchSize": "256"}'
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from kitrain.config import CollectConfig  # noqa: E402
from kitrain.demo import CONTENT_HISTORY_SCHEMA, HISTORY_SCHEMA  # noqa: E402
from kitrain.languages import wiki_db  # noqa: E402

log = logging.getLogger("benchmarks.scale_collect")

#: The collection's defaults: snapshot and the two windows.
DEFAULTS = {f.name: f.default for f in dataclasses.fields(CollectConfig)}
SNAPSHOT = DEFAULTS["snapshot"]
#: Where the revisions fall: (share, start, end). The train window holds the hold-out week.
PERIODS = (
    (0.30, "2015-01-01", DEFAULTS["train_start"]),
    (0.52, DEFAULTS["train_start"], DEFAULTS["test_start"]),
    (0.14, DEFAULTS["test_start"], DEFAULTS["test_end"]),
    (0.04, DEFAULTS["test_end"], DEFAULTS["train_end"]),
)
#: ``max_records`` of both modes: above any size here, so that nothing is sampled away.
MAX_RECORDS = 100_000_000
PAGE_MEDIAN_BYTES, PAGE_SIGMA, PAGE_MIN_BYTES, PAGE_MAX_BYTES = 10_000, 0.8, 300, 400_000
REVISIONS_MEDIAN, REVISIONS_SIGMA, REVISIONS_MIN, REVISIONS_MAX = 40, 0.9, 3, 600
#: Source revisions per page of 1-5 MB, and its revisions.
BIG_PAGE_EVERY, BIG_PAGE_REVISIONS = 40_000, 12
#: Uncompressed text bytes per row group of the text table, and per part file.
ROW_GROUP_BYTES, FILE_BYTES = 64 << 20, 256 << 20
HIDDEN_SHARE = 0.003

# revision kinds
CREATE, GOOD, VANDAL, REVERT = 0, 1, 2, 3
# editor kinds
ANON, TEMP, NEWCOMER, EXPERIENCED, PATROLLER, BOT = range(6)
#: Editor mix of the edits that are not reverts, and the share of each kind that vandalises.
EDITOR_MIX = {ANON: 0.27, TEMP: 0.03, NEWCOMER: 0.20, EXPERIENCED: 0.44, BOT: 0.06}
VANDAL_RATE = {ANON: 0.30, TEMP: 0.30, NEWCOMER: 0.10, EXPERIENCED: 0.02, BOT: 0.0, PATROLLER: 0.0}
POOL_SIZES = {ANON: 3000, TEMP: 300, NEWCOMER: 2000, EXPERIENCED: 800, PATROLLER: 60, BOT: 10}

SYLLABLES = ("ко", "ва", "ли", "ні", "ст", "ра", "ме", "до", "ти", "жа", "ок", "ів", "ук", "ся", "пе",
             "го", "рі", "чн", "за", "бу", "ль", "ки", "та", "на")
JUNK = ("лол", "ХАХАХА", "!!!!!", "xD", "йцукен", "ЛОООЛ", "фывапр", "дурня")


# --- the source ----------------------------------------------------------------------------------


class Vocabulary:
    """Cyrillic words and a pool of wiki sentences (links, references), drawn once per source."""

    def __init__(self, rng: np.random.Generator, words: int = 30_000, sentences: int = 120_000) -> None:
        lengths = rng.integers(1, 4, words)
        picks = rng.integers(0, len(SYLLABLES), (words, 3))
        self.words = ["".join(SYLLABLES[j] for j in picks[i, :lengths[i]]) for i in range(words)]
        self.rng = rng
        counts = rng.integers(6, 17, sentences)
        starts = np.concatenate([[0], np.cumsum(counts)])
        drawn = rng.zipf(1.2, int(starts[-1])) % words
        link = rng.random(sentences) < 0.3
        ref = rng.random(sentences) < 0.08
        self.sentences = []
        for i in range(sentences):
            ws = [self.words[j] for j in drawn[starts[i]:starts[i + 1]]]
            ws[0] = ws[0].capitalize()
            if link[i]:
                k = int(drawn[starts[i]]) % len(ws)
                ws[k] = f"[[{ws[k]}]]"
            text = " ".join(ws) + "."
            if ref[i]:
                text += f"<ref>{{{{cite web|url=https://example.org/uk/{i}|title={ws[-1]}}}}}</ref>"
            self.sentences.append(text)
        self.sentence_bytes = float(np.mean([len(s.encode()) for s in self.sentences[:5000]]))

    def sentence(self, rng: np.random.Generator) -> str:
        return self.sentences[int(rng.integers(0, len(self.sentences)))]

    def word(self, rng: np.random.Generator) -> str:
        return self.words[int(rng.integers(0, len(self.words)))]


def _render(heading: str | None, sentences: tuple[str, ...]) -> str:
    return (f"== {heading} ==\n" if heading else "") + " ".join(sentences) + "\n\n"


class Page:
    """One page's text as sections of sentences; an edit replaces one section (the others are
    shared with the revision before), and the text is the sections' rendered texts joined."""

    def __init__(self, title: str, size: int, vocab: Vocabulary, rng: np.random.Generator) -> None:
        self.vocab, self.rng = vocab, rng
        self.head = (f"{{{{Картка населеного пункту\n| назва = {title}\n| населення = "
                     f"{int(rng.integers(1000, 99999))}\n}}}}\n'''{title}''' ")
        self.tail = "".join(f"[[Категорія:{vocab.word(rng).capitalize()}]]\n" for _ in range(2))
        n = max(2, int(size / vocab.sentence_bytes))
        self.sections: list[tuple[str | None, tuple[str, ...], str]] = []
        while n > 0:
            k = min(n, 3 + int(rng.poisson(10)))
            heading = None if not self.sections else " ".join(vocab.word(rng) for _ in range(2)).capitalize()
            self.add_section(heading, tuple(vocab.sentence(rng) for _ in range(k)))
            n -= k

    def add_section(self, heading: str | None, sentences: tuple[str, ...], at: int | None = None) -> None:
        section = (heading, sentences, _render(heading, sentences))
        if at is None:
            self.sections.append(section)
        else:
            self.sections[at] = section

    def text(self) -> str:
        return self.head + "".join(s[2] for s in self.sections) + self.tail

    def state(self) -> list:
        return list(self.sections)

    def restore(self, state: list) -> None:
        self.sections = list(state)

    def good_edit(self) -> str:
        rng, vocab = self.rng, self.vocab
        k = int(rng.integers(0, len(self.sections)))
        heading, sents, _ = self.sections[k]
        sents = list(sents)
        i = int(rng.integers(0, len(sents)))
        r = rng.random()
        if r < 0.35:
            sents.insert(int(rng.integers(0, len(sents) + 1)), vocab.sentence(rng))
            kind = "sentence"
        elif r < 0.50 and len(sents) > 1:
            sents.pop(i)
            kind = "remove"
        elif r < 0.80:
            words = sents[i].split(" ")
            words[int(rng.integers(0, len(words)))] = vocab.word(rng)
            sents[i] = " ".join(words)
            kind = "word"
        elif r < 0.90:
            sents[i] = sents[i] + f" [[{vocab.word(rng).capitalize()} {vocab.word(rng)}]]."
            kind = "link"
        elif r < 0.95:
            sents[i] = sents[i] + f"<ref>{{{{cite book|title={vocab.word(rng)}|year={int(rng.integers(1900, 2022))}}}}}</ref>"
            kind = "ref"
        else:
            self.sections.append((None, (), ""))
            heading = " ".join(vocab.word(rng) for _ in range(2)).capitalize()
            sents = [vocab.sentence(rng) for _ in range(int(rng.integers(2, 5)))]
            k = len(self.sections) - 1
            kind = "section"
        self.add_section(heading, tuple(sents), at=k)
        return kind

    def vandal_edit(self) -> str:
        rng = self.rng
        k = int(rng.integers(0, len(self.sections)))
        heading, sents, _ = self.sections[k]
        sents = list(sents)
        i = int(rng.integers(0, len(sents)))
        junk = " ".join(JUNK[int(j)] for j in rng.integers(0, len(JUNK), int(rng.integers(1, 4))))
        r = rng.random()
        if r < 0.5:
            sents.insert(i, junk)
            kind = "junk"
        elif r < 0.8:
            sents[i] = junk
            kind = "replace"
        elif r < 0.95:
            sents = [junk]
            kind = "blank_section"
        else:
            sents[i] = sents[i].upper() + " " + junk.upper()
            kind = "caps"
        self.add_section(heading, tuple(sents), at=k)
        return kind


def _page_sizes(n: int, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """(revisions per page, text bytes of each page's first revision): the big pages first."""
    big = max(1, round(n / BIG_PAGE_EVERY))
    big_sizes = [int(x) for x in np.linspace(5 << 20, 1 << 20, big)] if big > 1 else [5 << 20]
    revisions = [min(BIG_PAGE_REVISIONS, max(3, n // 20))] * big
    sizes = list(big_sizes)
    left = n - sum(revisions)
    while left > 0:
        k = int(np.clip(rng.lognormal(math.log(REVISIONS_MEDIAN), REVISIONS_SIGMA), REVISIONS_MIN, REVISIONS_MAX))
        k = min(k, left) if left - k >= REVISIONS_MIN or k >= left else left
        revisions.append(k)
        sizes.append(int(np.clip(rng.lognormal(math.log(PAGE_MEDIAN_BYTES), PAGE_SIGMA), PAGE_MIN_BYTES,
                                 PAGE_MAX_BYTES)))
        left -= k
    return revisions, sizes


def _seconds(day: str) -> int:
    return int(np.datetime64(day, "s").astype(np.int64))


def plan_history(n: int, seed: int) -> dict[str, Any]:
    """Pass 1, no text: the pages, every revision's kind, editor, time, id and parent, and the
    identity reverts. Arrays over the revisions, page by page, in order within a page."""
    rng = np.random.default_rng([seed, 1])
    revisions, sizes = _page_sizes(n, rng)
    page = np.repeat(np.arange(len(revisions)), revisions)
    first = np.concatenate([[0], np.cumsum(revisions)[:-1]])
    index = np.arange(n) - np.repeat(first, revisions)
    # times: a period each, uniform inside it, sorted within the page
    shares = np.array([p[0] for p in PERIODS])
    period = rng.choice(len(PERIODS), n, p=shares / shares.sum())
    lo = np.array([_seconds(p[1]) for p in PERIODS])[period]
    hi = np.array([_seconds(p[2]) for p in PERIODS])[period]
    when = lo + (rng.random(n) * (hi - lo)).astype(np.int64)
    when = when[np.lexsort((when, page))]
    # kinds and editors: a state machine per page on pre-drawn numbers
    u = rng.random((n, 4))
    editor_kinds = np.array(list(EDITOR_MIX))
    editor_p = np.array(list(EDITOR_MIX.values()))
    drawn_editor = editor_kinds[np.searchsorted(np.cumsum(editor_p / editor_p.sum()), u[:, 0], side="right")]
    kind = np.full(n, GOOD, np.int8)
    editor = drawn_editor.astype(np.int8)
    user_no = np.zeros(n, np.int64)
    pools = {k: rng.integers(0, size, n) for k, size in POOL_SIZES.items()}
    war = np.zeros(n, bool)
    for i in range(n):
        j = index[i]
        if j == 0:
            kind[i] = CREATE
            editor[i] = NEWCOMER if u[i, 1] < 0.4 else EXPERIENCED
        elif j >= 2 and kind[i - 1] == VANDAL and u[i, 1] < 0.8:
            kind[i] = REVERT
            editor[i] = PATROLLER if u[i, 2] < 0.7 else EXPERIENCED
        elif j >= 2 and kind[i - 1] == REVERT and kind[i - 2] == VANDAL and not war[i - 1] and u[i, 1] < 0.08:
            kind[i] = REVERT  # revision war: the vandal restores his text
            war[i] = True
            editor[i], user_no[i] = editor[i - 2], user_no[i - 2]
            continue
        elif j >= 2 and war[i - 1] and u[i, 1] < 0.9:
            kind[i] = REVERT  # and a patroller reverts again
            editor[i] = PATROLLER
        elif j >= 2 and kind[i - 1] == GOOD and editor[i - 1] != BOT and u[i, 1] < 0.03:
            kind[i] = REVERT  # a good edit reverted by mistake
            editor[i] = EXPERIENCED
        elif u[i, 3] < VANDAL_RATE[int(editor[i])]:
            kind[i] = VANDAL
        user_no[i] = pools[int(editor[i])][i]
    # reverts minutes after the edit they undo, before the page's next revision
    last = np.r_[index[1:] == 0, True]
    gap = rng.integers(30, 3600, n)
    for i in np.flatnonzero(kind == REVERT):
        after = when[i + 1] if not last[i] else when[i - 1] + 7200
        when[i] = when[i - 1] + max(0, min(int(gap[i]), (int(after) - int(when[i - 1])) // 2))
    # ids follow time across the wiki; a page's revisions keep their order on ties
    order = np.lexsort((np.arange(n), when))
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    revision_id = 50_000_000 + rank + 1
    parent_id = np.where(index == 0, 0, np.r_[0, revision_id[:-1]])
    reverting = np.zeros(n, np.int64)  # 0: not reverted
    reverts = np.flatnonzero(kind == REVERT)
    reverting[reverts - 1] = revision_id[reverts]
    return {"revisions": revisions, "sizes": sizes, "page": page, "index": index, "when": when, "kind": kind,
            "editor": editor, "user_no": user_no, "revision_id": revision_id, "parent_id": parent_id,
            "reverting": reverting, "hidden": (rng.random(n) < HIDDEN_SHARE) & (index > 0)}


def _user_names(vocab: Vocabulary, rng: np.random.Generator) -> dict[int, list[str]]:
    names = {ANON: [f"203.{i // 250}.{i % 250}.{1 + i % 7}" if i % 5 else f"2001:db8:{i:x}::1"
                    for i in range(POOL_SIZES[ANON])]}
    names[TEMP] = []
    for i in range(POOL_SIZES[TEMP]):
        digits = str(1_000_000 + i)
        names[TEMP].append("~2022-" + "-".join(digits[k:k + 5] for k in range(0, len(digits), 5)))
    for kind, prefix in ((NEWCOMER, "Новачок"), (EXPERIENCED, "Автор"), (PATROLLER, "Патрульний"), (BOT, "Бот")):
        names[kind] = [f"{prefix}{vocab.word(rng).capitalize()}{i}" for i in range(POOL_SIZES[kind])]
    return names


_GROUPS = {ANON: [], TEMP: [], NEWCOMER: [], EXPERIENCED: ["autoconfirmed", "extendedconfirmed"],
           PATROLLER: ["autoconfirmed", "rollbacker", "patroller"], BOT: ["bot"]}


def _timestamps(seconds: np.ndarray) -> list[str]:
    return [s.replace("T", " ") + ".0" for s in np.datetime_as_string(seconds.astype("datetime64[s]"), unit="s")]


def _content_table(rows: dict[str, list], bodies: list[bytes]) -> pa.Table:
    """Rows of the text table (without ``wiki_id``, the partition directory)."""
    k = len(bodies)
    body = pa.array(bodies, pa.binary()).cast(pa.string())
    dt = pa.array(np.array(rows["when"], dtype="datetime64[s]").astype("datetime64[us]"),
                  pa.timestamp("us", tz="UTC"))
    sha1 = pa.array(rows["sha1"], pa.string())
    size = pa.array(rows["size"], pa.int64())
    slot_type = CONTENT_HISTORY_SCHEMA.field("revision_content_slots").type
    value = pa.StructArray.from_arrays(
        [body, pa.array(["text/x-wiki"] * k), pa.array(["wikitext"] * k), sha1, size,
         pa.array(rows["revision_id"], pa.int64())], fields=list(slot_type.item_type))
    slots = pa.MapArray.from_arrays(pa.array(np.arange(k + 1, dtype=np.int32)), pa.array(["main"] * k), value,
                                    type=slot_type)
    visible = pa.array(rows["visible"], pa.bool_())
    columns = {
        "page_id": pa.array(rows["page_id"], pa.int64()), "page_namespace_id": pa.array([0] * k, pa.int32()),
        "page_title": pa.array(rows["title"]), "page_redirect_target": pa.nulls(k, pa.string()),
        "user_id": pa.array(rows["user_id"], pa.int64()), "user_text": pa.array(rows["user_text"]),
        "user_is_visible": pa.array([True] * k), "revision_id": pa.array(rows["revision_id"], pa.int64()),
        "revision_parent_id": pa.array(rows["parent_id"], pa.int64()), "revision_dt": dt,
        "revision_is_minor_edit": pa.array(rows["minor"], pa.bool_()), "revision_comment": pa.array(rows["comment"]),
        "revision_comment_is_visible": pa.array([True] * k), "revision_sha1": sha1, "revision_size": size,
        "revision_content_slots": slots, "revision_content_is_visible": visible,
        "row_content_update_dt": dt, "row_visibility_update_dt": dt, "row_move_update_dt": dt,
    }
    return pa.Table.from_arrays([columns[name] for name in CONTENT_HISTORY_SCHEMA.names], schema=CONTENT_HISTORY_SCHEMA)


class _ContentWriter:
    """Part files of the text table, rolled at :data:`FILE_BYTES`, a row group per
    :data:`ROW_GROUP_BYTES` of text."""

    def __init__(self, out: Path) -> None:
        self.out, self.files, self.writer, self.file_bytes = out, 0, None, 0
        self.rows: dict[str, list] = {}
        self.bodies: list[bytes] = []
        self.bytes = 0
        out.mkdir(parents=True, exist_ok=True)

    def add(self, body: bytes, **row: Any) -> None:
        for key, value in row.items():
            self.rows.setdefault(key, []).append(value)
        self.bodies.append(body)
        self.bytes += len(body)
        if self.bytes >= ROW_GROUP_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.bodies:
            return
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.out / f"part-{self.files:05d}.parquet", CONTENT_HISTORY_SCHEMA,
                                           compression="snappy")
            self.files += 1
        self.writer.write_table(_content_table(self.rows, self.bodies), row_group_size=len(self.bodies))
        self.file_bytes += self.bytes
        self.rows, self.bodies, self.bytes = {}, [], 0
        if self.file_bytes >= FILE_BYTES:
            self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer, self.file_bytes = None, 0


def write_source(out: Path, n: int, lang: str, seed: int) -> dict[str, Any]:
    """Write the language's ``mediawiki_history`` (``snapshot=<snapshot>/<wiki_db>.parquet``) and
    ``mediawiki_content_history_v1`` (``wiki_id=<wiki_db>/part-*.parquet``) under ``out``; return
    what was written."""
    started = time.perf_counter()
    db = wiki_db(lang)
    plan = plan_history(n, seed)
    rng = np.random.default_rng([seed, 2])
    vocab = Vocabulary(rng)
    names = _user_names(vocab, rng)
    editor, user_no, kind = plan["editor"], plan["user_no"], plan["kind"]
    user_text = [names[int(e)][int(u)] for e, u in zip(editor, user_no)]
    user_id = np.where((editor == ANON), -1, 1_000_000 * (editor.astype(np.int64) + 1) + user_no)
    titles = [f"{vocab.word(rng).capitalize()} {vocab.word(rng)} {p}" for p in range(len(plan["revisions"]))]
    comments = np.where(kind == REVERT, "Скасовано редагування", np.where(kind == CREATE, "Нова сторінка", ""))
    text_bytes = np.zeros(n, np.int64)
    sha1 = [""] * n
    writer = _ContentWriter(out / "mediawiki_content_history_v1" / f"wiki_id={db}")
    text_total = largest = 0
    i = 0
    for p, (count, size) in enumerate(zip(plan["revisions"], plan["sizes"])):
        page_rng = np.random.default_rng([seed, 3, p])
        page = Page(titles[p], size, vocab, page_rng)
        states: list[list] = []
        for j in range(count):
            if kind[i] == REVERT:
                page.restore(states[j - 2])
            elif kind[i] == VANDAL:
                page.vandal_edit()
            elif kind[i] == GOOD:
                page.good_edit()
            states.append(page.state())
            if len(states) > 3:
                states[j - 3] = None
            body = page.text().encode("utf-8")
            text_bytes[i] = len(body)
            sha1[i] = hashlib.sha1(body).hexdigest()
            text_total += len(body)
            largest = max(largest, len(body))
            visible = not plan["hidden"][i]
            writer.add(body if visible else b"", page_id=5_000_000 + p, title=titles[p],
                       user_id=None if editor[i] == ANON else int(user_id[i]), user_text=user_text[i],
                       revision_id=int(plan["revision_id"][i]), parent_id=int(plan["parent_id"][i]),
                       when=int(plan["when"][i]), minor=bool(kind[i] == REVERT), comment=str(comments[i]),
                       sha1=sha1[i], size=len(body), visible=visible)
            i += 1
    writer.flush()
    writer.close()
    history = history_table(plan, db, user_text, user_id, titles, comments, text_bytes, sha1, rng)
    path = out / "mediawiki_history" / f"snapshot={SNAPSHOT}" / f"{db}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(history, path, compression="snappy", row_group_size=100_000)
    windows = {name: int(((plan["when"] >= _seconds(a)) & (plan["when"] < _seconds(b))).sum())
               for name, a, b in (("train", DEFAULTS["train_start"], DEFAULTS["train_end"]),
                                  ("test", DEFAULTS["test_start"], DEFAULTS["test_end"]))}
    on_disk = sum(f.stat().st_size for f in out.rglob("*.parquet"))
    return {"revisions": n, "pages": len(plan["revisions"]), "big_pages": [s for s in plan["sizes"] if s >= 1 << 20],
            "history_rows": history.num_rows, "text_mb": round(text_total / 2**20, 1),
            "largest_text_mb": round(largest / 2**20, 2), "text_files": writer.files,
            "in_window": windows, "reverted": int((plan["reverting"] > 0).sum()),
            "reverts": int((kind == REVERT).sum()), "vandal": int((kind == VANDAL).sum()),
            "logged_out": int(np.isin(editor, [ANON, TEMP]).sum()), "temporary": int((editor == TEMP).sum()),
            "bots": int((editor == BOT).sum()), "hidden_texts": int(plan["hidden"].sum()),
            "source_mb": round(on_disk / 2**20, 1), "seconds": round(time.perf_counter() - started, 1)}


def history_table(plan: dict[str, Any], db: str, user_text: list[str], user_id: np.ndarray, titles: list[str],
                  comments: np.ndarray, text_bytes: np.ndarray, sha1: list[str], rng: np.random.Generator) -> pa.Table:
    """``wmf.mediawiki_history`` rows of the revisions, and ``N / 100`` page and user events."""
    n = len(plan["page"])
    editor, kind, when, page, index = plan["editor"], plan["kind"], plan["when"], plan["page"], plan["index"]
    anon, temp = editor == ANON, editor == TEMP
    registered = ~(anon | temp)
    ts = _timestamps(when)
    # the editor's seconds since their previous revision and their revision count, in time order
    order = np.lexsort((when, np.array(user_text, dtype=object)))
    users_sorted = np.array(user_text, dtype=object)[order]
    same = np.r_[False, users_sorted[1:] == users_sorted[:-1]]
    since = np.full(n, -1, np.int64)
    since[order[same]] = (when[order][same] - np.r_[0, when[order][:-1]][same])
    run_start = np.maximum.accumulate(np.where(~same, np.arange(n), 0))
    count = np.empty(n, np.int64)
    count[order] = np.arange(n) - run_start + 1
    first_of_page = np.repeat(np.array(ts, dtype=object)[np.flatnonzero(index == 0)], plan["revisions"])
    reverting = plan["reverting"]
    reverted = reverting > 0
    next_when = np.r_[when[1:], 0]
    groups = [_GROUPS[int(e)] for e in editor]
    mobile = rng.random(n) < np.where(anon | temp, 0.4, 0.12)
    tags = [["mw-rollback"] if k == REVERT else ["mobile edit", "mobile web edit"] if m else
            ["visualeditor"] if r < 0.3 else [] for k, m, r in zip(kind, mobile, rng.random(n))]
    bot_by = [["group"] if e == BOT else [] for e in editor]
    registration = [None if a else "2015-01-01 00:00:00.0" for a in anon]
    columns: dict[str, Any] = {
        "wiki_db": [db] * n, "event_entity": ["revision"] * n, "event_type": ["create"] * n,
        "event_timestamp": ts, "event_comment": comments.tolist(),
        "event_user_id": [None if a else int(u) for a, u in zip(anon, user_id)],
        "event_user_text_historical": user_text, "event_user_text": user_text,
        "event_user_blocks_historical": [[]] * n, "event_user_blocks": [[]] * n,
        "event_user_groups_historical": groups, "event_user_groups": groups,
        "event_user_is_bot_by_historical": bot_by, "event_user_is_bot_by": bot_by,
        "event_user_central_id": [None if a else int(u) for a, u in zip(anon, user_id)],
        "event_user_is_created_by_self": registered, "event_user_is_created_by_system": temp,
        "event_user_is_created_by_peer": [False] * n, "event_user_is_anonymous": anon,
        "event_user_is_temporary": temp, "event_user_is_permanent": registered,
        "event_user_is_cross_wiki": [False] * n,
        "event_user_registration_timestamp": registration, "event_user_creation_timestamp": registration,
        "event_user_first_edit_timestamp": registration,
        "event_user_revision_count": [None if a else int(c) for a, c in zip(anon, count)],
        "event_user_seconds_since_previous_revision": [None if s < 0 else int(s) for s in since],
        "page_id": 5_000_000 + page, "page_title_historical": [titles[p] for p in page],
        "page_namespace_historical": [0] * n, "page_namespace_is_content_historical": [True] * n,
        "page_namespace": [0] * n, "page_namespace_is_content": [True] * n, "page_is_redirect": [False] * n,
        "page_is_deleted": [False] * n, "page_creation_timestamp": first_of_page,
        "page_first_edit_timestamp": first_of_page, "page_revision_count": index + 1,
        "revision_id": plan["revision_id"], "revision_parent_id": plan["parent_id"],
        "revision_minor_edit": kind == REVERT, "revision_deleted_parts": [[]] * n,
        "revision_deleted_parts_are_suppressed": [False] * n, "revision_text_bytes": text_bytes,
        "revision_text_bytes_diff": text_bytes - np.where(index == 0, 0, np.r_[0, text_bytes[:-1]]),
        "revision_text_sha1": sha1, "revision_content_model": ["wikitext"] * n,
        "revision_content_format": ["text/x-wiki"] * n, "revision_is_deleted_by_page_deletion": [False] * n,
        "revision_is_identity_reverted": reverted,
        "revision_first_identity_reverting_revision_id": [int(r) if r else None for r in reverting],
        "revision_seconds_to_identity_revert": [int(t) if r else None for r, t in zip(reverted, next_when - when)],
        "revision_is_identity_revert": kind == REVERT, "revision_is_from_before_page_creation": [False] * n,
        "revision_tags": tags,
    }
    columns["page_title"] = columns["page_title_historical"]
    for name in ("user_id", "user_text_historical", "user_text", "user_blocks_historical", "user_blocks",
                 "user_groups_historical", "user_groups", "user_is_bot_by_historical", "user_is_bot_by",
                 "user_central_id", "user_is_created_by_self", "user_is_created_by_system", "user_is_created_by_peer",
                 "user_is_anonymous", "user_is_temporary", "user_is_permanent", "user_registration_timestamp",
                 "user_creation_timestamp", "user_first_edit_timestamp"):
        columns[name] = columns["event_" + name]
    revisions = pa.table({name: pa.array(columns[name], HISTORY_SCHEMA.field(name).type) if name in columns
                          else pa.nulls(n, HISTORY_SCHEMA.field(name).type) for name in HISTORY_SCHEMA.names},
                         schema=HISTORY_SCHEMA)
    # non-revision events the collection must ignore
    m = max(2, n // 100)
    lo, hi = _seconds(PERIODS[0][1]), _seconds(PERIODS[-1][2])
    events = {"wiki_db": [db] * m, "event_entity": ["page" if k % 2 == 0 else "user" for k in range(m)],
              "event_type": ["create" if k % 2 == 0 else "rename" for k in range(m)],
              "event_timestamp": _timestamps(rng.integers(lo, hi, m)), "event_comment": [""] * m,
              "page_namespace": [0 if k % 2 == 0 else None for k in range(m)], "revision_tags": [[]] * m,
              "event_user_is_bot_by": [[]] * m}
    others = pa.table({name: pa.array(events[name], HISTORY_SCHEMA.field(name).type) if name in events
                       else pa.nulls(m, HISTORY_SCHEMA.field(name).type) for name in HISTORY_SCHEMA.names},
                      schema=HISTORY_SCHEMA)
    return pa.concat_tables([revisions, others])


# --- processes -------------------------------------------------------------------------------------

_CLOCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, str, float, float] | None:
    """(ppid, comm, own CPU seconds, reaped children's CPU seconds) of a process, None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[1]), comm, (int(fields[11]) + int(fields[12])) / _CLOCK,
            (int(fields[13]) + int(fields[14])) / _CLOCK)


def _memory_mb(pid: int | str) -> dict[str, float]:
    """``VmRSS`` and ``VmHWM`` of a process in MB (empty when gone)."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line[:5]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(root: int) -> dict[int, tuple[int, str]]:
    """Every living process below ``root``: pid -> (ppid, comm)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat:
                parents[int(entry)] = (stat[0], stat[1])
    out: dict[int, tuple[int, str]] = {}
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        for child, (ppid, comm) in parents.items():
            if ppid == pid and child not in out:
                out[child] = (ppid, comm)
                frontier.append(child)
    return out


def _is_jvm(pid: int) -> bool:
    """Whether a process is the driver's JVM (not the short-lived ``java`` of Spark's launcher,
    which builds its command line first and names SparkSubmit in its arguments too)."""
    if (_stat(pid) or (0, ""))[1] != "java":
        return False
    cmdline = _cmdline(pid)
    return "org.apache.spark.deploy.SparkSubmit" in cmdline and "org.apache.spark.launcher.Main" not in cmdline


def _is_python(pid: int, comm: str) -> bool:
    return comm.startswith("python") or "python" in _cmdline(pid).split(" ")[0]


class TreeMonitor:
    """Polls the process tree below ``root`` (the child running the collection) every ``interval``
    seconds from a thread: the driver's and the JVM's ``VmRSS``, and of the Python processes below
    the JVM (pyspark's daemon and its workers) the largest ``VmRSS`` and ``VmHWM`` and the largest
    sum of ``VmRSS``. New processes are classified once (their parent is known by then: pids are
    visited in ascending order, so a parent before its children), the rest are only read."""

    def __init__(self, root: int, interval: float = 0.05) -> None:
        self.root, self.interval = root, interval
        self.samples: list[tuple[float, float, float, float, float, int]] = []
        self.python: set[int] = set()
        self.worker_hwm = 0.0
        self.jvm: int | None = None
        self._tree: set[int] = {root}
        self._seen: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> TreeMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _classify(self) -> None:
        if self.jvm is not None and _stat(self.jvm) is None:
            self.jvm = None
        if self.jvm is None:  # spark-submit becomes the JVM by exec: its name changes after it was seen
            self.jvm = next((pid for pid in sorted(self._tree) if _is_jvm(pid)), None)
        for pid in sorted(int(e) for e in os.listdir("/proc") if e.isdigit()):
            if pid in self._seen:
                continue
            stat = _stat(pid)
            if stat is None:
                continue
            self._seen.add(pid)
            ppid, comm = stat[0], stat[1]
            if ppid not in self._tree:
                continue
            self._tree.add(pid)
            if self.jvm is None and _is_jvm(pid):
                self.jvm = pid
            elif self.jvm is not None and self._below_jvm(pid) and _is_python(pid, comm):
                self.python.add(pid)

    def _below_jvm(self, pid: int) -> bool:
        for _ in range(8):
            stat = _stat(pid)
            if stat is None:
                return False
            pid = stat[0]
            if pid == self.jvm:
                return True
        return False

    def _run(self) -> None:
        while not self._stop.is_set():
            self._classify()
            driver = _memory_mb(self.root).get("VmRSS", 0.0)
            jvm = _memory_mb(self.jvm).get("VmRSS", 0.0) if self.jvm else 0.0
            largest = total = 0.0
            alive = 0
            for pid in list(self.python):
                memory = _memory_mb(pid)
                if not memory:
                    self.python.discard(pid)
                    continue
                alive += 1
                largest = max(largest, memory.get("VmRSS", 0.0))
                total += memory.get("VmRSS", 0.0)
                self.worker_hwm = max(self.worker_hwm, memory.get("VmHWM", 0.0))
            self.samples.append((time.time(), driver, jvm, largest, total, alive))
            self._stop.wait(self.interval)

    def peaks(self, start: float = 0.0, end: float = float("inf")) -> dict[str, float]:
        """Largest values of the samples between ``start`` and ``end`` (epoch seconds), MB."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if not inside:
            return {}
        return {"driver_rss_mb": round(max(s[1] for s in inside), 1), "jvm_rss_mb": round(max(s[2] for s in inside), 1),
                "worker_rss_mb": round(max(s[3] for s in inside), 1),
                "workers_sum_rss_mb": round(max(s[4] for s in inside), 1),
                "python_processes": max(s[5] for s in inside)}


# --- the child -------------------------------------------------------------------------------------


def child(args: argparse.Namespace) -> int:
    """Collect both modes of the source once (in this fresh process) and write the figures to
    ``args.out``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from benchmarks.collect_scans import executed_scans, last_execution_id, other_scans, scans_by_table
    from kitrain import collect
    from kitrain.spark import HISTORY_TABLE, TEXT_TABLES, get_spark

    phases: list[dict[str, Any]] = []

    def timed(name: str, fn: Any, label: Any = None) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            start = time.time()
            try:
                return fn(*a, **k)
            finally:
                phases.append({"phase": name + (f":{label(*a)}" if label else ""), "start": start, "end": time.time()})
        return wrapper

    # the phases of collect_language, timed in this process only (the module's globals it calls)
    collect.register_sources = timed("register_sources", collect.register_sources)
    collect.history_extract = timed("history_extract", collect.history_extract)
    collect.select_mode = timed("select_mode", collect.select_mode, lambda cfg, *_: cfg.mode)
    collect.read_texts_once = timed("read_texts_once", collect.read_texts_once)
    collect.finish_mode = timed("finish_mode", collect.finish_mode, lambda spark, sel, *_: sel.cfg.mode)

    run_dir = Path(args.run_dir)
    configs = [CollectConfig(lang=args.lang, mode=mode, source="parquet", source_dir=args.source, use_cache=True,
                             max_records=MAX_RECORDS) for mode in ("train", "test")]
    before_spark = _memory_mb("self")["VmRSS"]
    spark_start = time.time()
    spark = get_spark("kitrain scale_collect", master=args.master, scratch_dir=str(run_dir / "warehouse"),
                      conf={"spark.ui.enabled": "false", "spark.driver.memory": args.driver_memory,
                            "spark.sql.ui.retainedExecutions": "100000", **json.loads(args.spark_conf)})
    jvm = next((pid for pid in descendants(os.getpid()) if _is_jvm(pid)), None)
    jvm_cpu0 = _stat(jvm)[2] if jvm else 0.0
    after = last_execution_id(spark)
    spark_s = time.time() - spark_start
    management = spark._jvm.java.lang.management.ManagementFactory
    for pool in management.getMemoryPoolMXBeans():
        pool.resetPeakUsage()
    gc0 = sum(gc.getCollectionTime() for gc in management.getGarbageCollectorMXBeans())
    wall, cpu = time.perf_counter(), time.process_time()
    start = time.time()
    try:
        reports = collect.collect_language(spark, configs, str(run_dir / "run"))
    except Exception as exc:  # recorded with the phases reached; the benchmark goes on to the next size
        Path(args.out).write_text(json.dumps({
            "error": f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:300]}",
            "wall_s": time.perf_counter() - wall, "start": start, "end": time.time(), "phases": phases}))
        raise
    result: dict[str, Any] = {"wall_s": time.perf_counter() - wall, "start": start, "end": time.time(),
                              "spark_start_s": round(spark_s, 1)}
    cpu_driver = time.process_time() - cpu
    scans = executed_scans(spark, after)
    tables = {"history": HISTORY_TABLE, "text": TEXT_TABLES[configs[0].text_source]}
    # the JVM's own view: the peak of each heap pool (their sum bounds the peak of the heap used
    # from above: the pools peak at different times), the heap committed, non-heap, GC time
    pools = list(management.getMemoryPoolMXBeans())
    heap_pools = [p for p in pools if p.getType().toString() == "Heap memory"]
    jvm_memory = {
        "heap_pool_peaks_mb": {p.getName(): round(p.getPeakUsage().getUsed() / 2**20, 1) for p in heap_pools},
        "heap_peak_sum_mb": round(sum(p.getPeakUsage().getUsed() for p in heap_pools) / 2**20, 1),
        "heap_committed_mb": round(management.getMemoryMXBean().getHeapMemoryUsage().getCommitted() / 2**20, 1),
        "heap_max_mb": round(management.getMemoryMXBean().getHeapMemoryUsage().getMax() / 2**20, 1),
        "non_heap_used_mb": round(management.getMemoryMXBean().getNonHeapMemoryUsage().getUsed() / 2**20, 1),
        "direct_buffers_mb": round(sum(b.getMemoryUsed() for b in management.getPlatformMXBeans(
            spark._jvm.java.lang.management.BufferPoolMXBean._java_lang_class)) / 2**20, 1),
        "gc_s": round((sum(gc.getCollectionTime() for gc in management.getGarbageCollectorMXBeans()) - gc0) / 1000, 1),
    }
    # the JVM and its Python processes before they stop
    jvm_stat = _stat(jvm) if jvm else None
    workers = {pid: _stat(pid) for pid, (_, comm) in descendants(jvm).items() if _is_python(pid, comm)} if jvm else {}
    result.update({
        "cpu_s": {"driver": round(cpu_driver, 1),
                  "jvm": round(jvm_stat[2] - jvm_cpu0, 1) if jvm_stat else None,
                  "workers": round(sum(s[2] + s[3] for s in workers.values() if s), 1)},
        "driver_rss_before_spark_mb": round(before_spark, 1),
        "peak_mb": {"driver": round(_memory_mb("self")["VmHWM"], 1),
                    "jvm": round(_memory_mb(jvm).get("VmHWM", 0.0), 1) if jvm else None},
        "jvm_memory": jvm_memory,
        "jvm_cmdline_xmx": [a for a in _cmdline(jvm).split(" ") if a.startswith("-Xm")] if jvm else [],
        "java_tool_options": os.environ.get("JAVA_TOOL_OPTIONS"),
        "rows": {r["mode"]: r["rows"] for r in reports},
        "steps": {r["mode"]: {s["step"]: s["rows"] for s in r["steps"]} for r in reports},
        "diff_errors": {r["mode"]: next((s.get("errors") for s in r["steps"] if s["step"] == "diff_failures"), None)
                        for r in reports},
        "scans": scans_by_table(scans, tables), "other_scans": other_scans(scans, tables),
        "phases": phases,
    })
    spark.stop()
    Path(args.out).write_text(json.dumps(result))
    return 0


def java_error(log_text: str) -> str | None:
    """The first ``OutOfMemoryError`` (or else the first exception of a task) in a child's log,
    with the frames that say where it was thrown."""
    lines = log_text.splitlines()
    for marker in ("java.lang.OutOfMemoryError", "Exception in task"):
        at = next((i for i, line in enumerate(lines) if marker in line), None)
        if at is not None:
            if marker == "Exception in task":
                at += 1
            frames = [line.strip() for line in lines[at + 1:at + 40] if line.strip().startswith("at ")]
            interesting = [f for f in frames[2:] if "spark.sql.execution" in f or "storage" in f][:4]
            return " | ".join([lines[at].strip()[:300], *(frames[:2] + interesting)])
    return None


def run_size(source: Path, work: Path, lang: str, master: str, driver_memory: str,
             spark_conf: dict[str, str]) -> dict[str, Any]:
    """Collect ``source`` in a child process, polling its process tree; the child's figures with
    the polled peaks (whole run and per phase). A failed collection gives its error, the Java
    error in its log, the phases it reached and the peaks until then."""
    out = work / "child.json"
    with open(work / "child.log", "w") as logfile:
        proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--child", "--source", str(source),
                                 "--run-dir", str(work), "--lang", lang, "--master", master,
                                 "--driver-memory", driver_memory, "--spark-conf", json.dumps(spark_conf),
                                 "--out", str(out)],
                                stdout=logfile, stderr=subprocess.STDOUT)
        monitor = TreeMonitor(proc.pid).start()
        code = proc.wait()
        monitor.stop()
    if code != 0:
        text = (work / "child.log").read_text(errors="replace")
        partial = json.loads(out.read_text()) if out.exists() and out.stat().st_size else {}
        failed = {"error": partial.get("error") or text[-2000:], "java_error": java_error(text), "exit": code,
                  "log": str(work / "child.log"), "peak_mb_until_failure": monitor.peaks(),
                  "failed_in": partial["phases"][-1]["phase"] if partial.get("phases") else None,
                  "wall_s": round(partial["wall_s"], 1) if "wall_s" in partial else None,
                  "phases": [{"phase": p["phase"], "wall_s": round(p["end"] - p["start"], 1),
                              **monitor.peaks(p["start"], p["end"])} for p in partial.get("phases", [])]}
        log.warning("collection failed: %s", json.dumps(failed))
        return failed
    result = json.loads(out.read_text())
    polled = monitor.peaks(result["start"], result["end"])
    result["peak_mb"].update({"jvm_rss_polled": polled.get("jvm_rss_mb"), "driver_rss_polled": polled.get("driver_rss_mb"),
                              "worker": polled.get("worker_rss_mb"), "worker_hwm": round(monitor.worker_hwm, 1),
                              "workers_sum": polled.get("workers_sum_rss_mb"),
                              "python_processes": polled.get("python_processes")})
    result["phases"] = [{"phase": p["phase"], "wall_s": round(p["end"] - p["start"], 1),
                         **monitor.peaks(p["start"], p["end"])} for p in result["phases"]]
    result["wall_s"] = round(result["wall_s"], 1)
    result["cpu_s"]["total"] = round(sum(v for v in result["cpu_s"].values() if v), 1)
    for key in ("start", "end"):
        result.pop(key)
    return result


def exponent(n1: float, y1: float | None, n2: float, y2: float | None) -> float | None:
    """The growth exponent between two sizes: y grows like n ** exponent."""
    if not y1 or not y2:
        return None
    return round(math.log(y2 / y1) / math.log(n2 / n1), 3)


def growth(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Exponents of time, CPU and the peaks between consecutive sizes."""
    out = []
    for a, b in zip(results, results[1:]):
        n1, n2 = a["revisions"], b["revisions"]
        out.append({"from": n1, "to": n2, "wall": exponent(n1, a["wall_s"], n2, b["wall_s"]),
                    "cpu": exponent(n1, a["cpu_s"]["total"], n2, b["cpu_s"]["total"]),
                    **{f"{k}_memory": exponent(n1, a["peak_mb"][k], n2, b["peak_mb"][k])
                       for k in ("driver", "jvm", "worker")},
                    "driver_memory_ratio": round(b["peak_mb"]["driver"] / a["peak_mb"]["driver"], 3)})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    parser.add_argument("--lang", default="uk")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", default=None, help="default: a temporary directory; a size's source "
                        "already there (source-<N>/) is reused")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="8g", help="spark.driver.memory: the JVM's heap (-Xmx)")
    parser.add_argument("--spark-conf", default="{}", help="more Spark settings of the collection, as a JSON "
                        "object (e.g. '{\"spark.sql.parquet.columnarReaderBatchSize\": \"256\"}')")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    root = Path(args.workdir or tempfile.mkdtemp(prefix="scale-collect-"))
    results = []
    for n in sorted(args.revisions):
        source = root / f"source-{n}"
        summary_path = source / "summary.json"
        if summary_path.exists():
            summary = json.loads(summary_path.read_text())
            log.info("reusing the source of %d revisions in %s", n, source)
        else:
            summary = write_source(source, n, args.lang, args.seed)
            summary_path.write_text(json.dumps(summary))
            log.info("source of %d revisions written in %.0f s: %s", n, summary["seconds"], json.dumps(summary))
        work = root / f"run-{n}-{time.time_ns()}"
        work.mkdir(parents=True)
        result = {"revisions": n, **run_size(source, work, args.lang, args.master, args.driver_memory,
                                             json.loads(args.spark_conf))}
        if "error" not in result:
            result["bytes_per_revision"] = {k: round(v * 2**20 / n) for k, v in result["peak_mb"].items()
                                            if k in ("driver", "jvm", "worker") and v}
        result["source"] = summary
        log.info("%s", json.dumps(result))
        results.append(result)
    print(json.dumps({"lang": args.lang, "master": args.master, "driver_memory": args.driver_memory,  # noqa: T201
                      "spark_conf": json.loads(args.spark_conf), "seed": args.seed, "workdir": str(root),
                      "results": results, "growth": growth([r for r in results if "error" not in r])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
