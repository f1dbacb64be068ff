"""Typed, validated configuration of each stage.

Every config is a frozen dataclass: it validates itself in ``__post_init__`` (so a bad value fails
before Spark starts), round-trips through ``to_dict``/``from_dict`` (the DAG passes configs as JSON
and every stage writes the config it ran with next to its output), and carries the one ``seed`` that
feeds every random choice of the stage.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any, ClassVar, TypeVar

from kitrain.languages import validate_language

SNAPSHOT_PATTERN = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: The date of an XML dump run (its folder on the dumps site): ``20220801``.
DUMP_DATE_PATTERN = re.compile(r"^\d{8}$")
#: A run-directory path segment chosen by the user (``--prefix``).
SEGMENT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

MODES = ("train", "test")
SOURCES = ("hive", "parquet", "dumps")
#: Where the ``hive`` and ``parquet`` sources read the wikitext: ``content_history``, the daily
#: table ``wmf_content.mediawiki_content_history_v1`` (Wikimedia's only wikitext table since
#: January 2026), or ``wikitext_history``, the retired monthly ``wmf.mediawiki_wikitext_history``
#: (the paper's 2022 copies), read at ``wikitext_snapshot``. The dumps read the XML export.
TEXT_SOURCES = ("content_history", "wikitext_history")
DEFAULT_TEXT_SOURCE = "content_history"

#: Per-mode defaults of the original collection commands (README of the original repository):
#: ``-m train -f1 0 -f2 0 -n 300000 -p all_users`` and ``-m test -f1 0 -f2 1 -n 100000 -p full_test``.
MODE_DEFAULTS: dict[str, dict[str, Any]] = {
    "train": {"filter_rw": False, "max_records": 300_000, "prefix": "all_users"},
    "test": {"filter_rw": True, "max_records": 100_000, "prefix": "full_test"},
}

#: Prefix of the anonymous-only train-mode collection (the original's ``-f1 1`` collection, its
#: ``train_anon_users`` dataset) that the ``anon+`` classifier variants train on.
ANON_PREFIX = "anon_users"

C = TypeVar("C", bound="_Config")


class ConfigError(ValueError):
    """A configuration value that fails validation; the message names the field and the value."""


def check_snapshot(field: str, value: object) -> str:
    if not isinstance(value, str) or not SNAPSHOT_PATTERN.fullmatch(value):
        raise ConfigError(f"{field} must look like YYYY-MM (e.g. 2022-07), got {value!r}")
    return value


def check_date(field: str, value: object) -> dt.date:
    if isinstance(value, str) and DATE_PATTERN.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"{field} must be a date YYYY-MM-DD, got {value!r}")


def check_window(name: str, start: str, end: str) -> None:
    if check_date(f"{name}_end", end) <= check_date(f"{name}_start", start):
        raise ConfigError(f"{name} window end {end} must be after its start {start}")


def snapshot_end(snapshot: str) -> dt.date:
    """The first day after a snapshot's month: snapshot ``2022-07`` holds events up to 2022-07-31,
    so it can hold a window ending (exclusively) on 2022-08-01 at the latest."""
    year, month = (int(part) for part in snapshot.split("-"))
    return dt.date(year + (month == 12), month % 12 + 1, 1)


def check_snapshot_holds(field: str, snapshot: str, window_end: str) -> None:
    """A snapshot that ends before the window does cannot hold its revisions: refuse it, instead
    of collecting a window whose last part is silently empty or without texts."""
    end = dt.date.fromisoformat(window_end)
    if end > snapshot_end(snapshot):
        last = end - dt.timedelta(days=1)
        raise ConfigError(
            f"{field} {snapshot} holds events up to {snapshot_end(snapshot) - dt.timedelta(days=1)}, "
            f"but the window ends {window_end}: use {field} {last.year:04d}-{last.month:02d} or later"
        )


def check_dump_date(field: str, value: object) -> dt.date:
    """An XML dump's date ``YYYYMMDD`` (the run's folder name on the dumps site)."""
    if isinstance(value, str) and DUMP_DATE_PATTERN.fullmatch(value):
        try:
            return dt.datetime.strptime(value, "%Y%m%d").date()
        except ValueError:
            pass
    raise ConfigError(f"{field} must be a dump date YYYYMMDD (e.g. 20220801), got {value!r}")


#: The diff's text rules (:mod:`kitrain.diff`): the original's, or sentence ends of every script.
TEXT_RULES = ("paper", "multiscript")


def check_text_rules(value: object) -> str:
    if value not in TEXT_RULES:
        raise ConfigError(f"text_rules must be one of {TEXT_RULES}, got {value!r}")
    return value  # type: ignore[return-value]


def check_text_source(value: object) -> str:
    if value not in TEXT_SOURCES:
        raise ConfigError(f"text_source must be one of {TEXT_SOURCES}, got {value!r}")
    return value  # type: ignore[return-value]


#: The stages that read and write the run directory through local paths (Python's file API,
#: pyarrow, transformers, CatBoost): only collection writes through Hadoop's file system.
LOCAL_RUN_DIR_STAGES = ("prepare", "finetune", "features", "train", "evaluate", "bundle", "publish")


def check_local_run_dir(run_dir: str, who: str) -> None:
    """A run directory given as a URI (``hdfs://``, ``s3://``) is refused by every stage but
    collection, in one line naming them: they would write a local directory named ``hdfs:``
    instead. A directory every worker mounts (NFS, a mounted bucket) serves a run on many machines.
    """
    if "://" in run_dir:
        raise ConfigError(
            f"{who}: run directory {run_dir} is not a local path: only collection writes through "
            f"Hadoop's file system; {', '.join(LOCAL_RUN_DIR_STAGES)} need a local path, shared by "
            "every worker that runs them (an NFS or other mounted directory)")


#: Iceberg snapshot ids are non-negative 64-bit numbers (Iceberg's snapshot id generator).
MAX_SNAPSHOT_ID = 2**63 - 1


def check_content_snapshot_id(source: str, text_source: str, value: object) -> None:
    """A pinned snapshot of the content history table is an Iceberg snapshot id, and is only read
    where that Iceberg table is: source ``hive`` with text source ``content_history``."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SNAPSHOT_ID:
        raise ConfigError(f"content_snapshot_id must be an Iceberg snapshot id (a whole number from 0 "
                          f"to 2^63-1), got {value!r}")
    if source != "hive":
        raise ConfigError(f"content_snapshot_id ({value}) pins a snapshot of the Iceberg table "
                          f"wmf_content.mediawiki_content_history_v1: it needs source 'hive', not {source!r}")
    if text_source != "content_history":
        raise ConfigError(f"content_snapshot_id ({value}) pins the content history table: it needs "
                          f"text_source 'content_history', not {text_source!r}")


def check_xml_dump(source: str, xml_dump: object, window_end: str) -> None:
    """A pinned XML dump is only read from the dumps, and must be dated on or after the end of the
    windows: a full-history dump holds revisions up to about its own date."""
    if xml_dump is None:
        return
    if source != "dumps":
        raise ConfigError(f"xml_dump ({xml_dump!r}) pins an XML dump: it needs source 'dumps', not {source!r}")
    if check_dump_date("xml_dump", xml_dump) < dt.date.fromisoformat(window_end):
        raise ConfigError(
            f"XML dump {xml_dump} is dated before the end of the window, {window_end}: it cannot "
            f"hold the window's last revisions; pin a dump dated on or after {window_end}"
        )


#: ``scheme://user:password@host``: a URI carrying a password in its user-info part.
_URI_CREDENTIALS = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/@?#]*:[^/@?#]*@")


def check_no_credentials(field: str, value: object) -> None:
    """Refuse a path or URI with a password in it: every config is written next to the output
    (plans, quality reports, bundle manifests), so a secret given here would be published. The
    message never repeats the value."""
    if isinstance(value, str) and _URI_CREDENTIALS.match(value):
        scheme = value.split("://", 1)[0]
        raise ConfigError(
            f"{field} holds credentials (a {scheme}:// URI with user:password@): configure them "
            "in the Spark/Hadoop settings (spark-defaults.conf, core-site.xml) or an Airflow "
            "connection instead, and pass the URI without them"
        )


def check_source(source: object, source_dir: object, dumps_dir: object) -> None:
    """The source is known and has the folder it needs, without credentials in it."""
    if source not in SOURCES:
        raise ConfigError(f"source must be one of {SOURCES}, got {source!r}")
    if source == "parquet" and not source_dir:
        raise ConfigError("source 'parquet' needs source_dir (--source-dir DIR)")
    if source == "dumps" and not dumps_dir:
        raise ConfigError("source 'dumps' needs dumps_dir (--dumps-dir DIR)")
    check_no_credentials("source_dir", source_dir)
    check_no_credentials("dumps_dir", dumps_dir)


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_positive_float(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{name} must be a number > 0, got {value!r}")


def _check_non_negative_float(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ConfigError(f"{name} must be a number >= 0, got {value!r}")


def check_device(value: object, name: str = "device") -> None:
    from kitrain.models import DEVICES

    if value not in DEVICES:
        raise ConfigError(f"{name} must be one of {', '.join(DEVICES)}, got {value!r}")


def _check_fraction(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError(f"{name} must be between 0 and 1 (exclusive), got {value!r}")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ConfigError(f"{name} must be a boolean, got {value!r}")


class _Config:
    """``to_dict``/``from_dict`` shared by every stage config."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
        return cls(**data)


@dataclasses.dataclass(frozen=True)
class CollectConfig(_Config):
    """Collection of one language's labelled revisions in one mode.

    Defaults reproduce the paper: history snapshot 2022-07, wikitext snapshot 2022-11, train window
    2022-01-01..2022-08-01, test (hold-out) window 2022-07-01..2022-07-08. ``filter_rw``,
    ``max_records`` and ``prefix`` left as ``None`` take the mode's default from :data:`MODE_DEFAULTS`.
    """

    lang: str
    mode: str = "train"
    source: str = "hive"
    source_dir: str | None = None
    #: With ``source="dumps"``: the folder of public dump files (see :mod:`kitrain.dumps`).
    dumps_dir: str | None = None
    snapshot: str = "2022-07"
    wikitext_snapshot: str = "2022-11"
    train_start: str = "2022-01-01"
    train_end: str = "2022-08-01"
    test_start: str = "2022-07-01"
    test_end: str = "2022-07-08"
    filter_anon: bool = False
    filter_rw: bool | None = None
    max_records: int | None = None
    use_cache: bool = False
    prefix: str | None = None
    seed: int = 42
    #: Parquet files per published language (rows are sorted by revision_id within them).
    output_files: int = 4
    #: Partitions the edit diff runs in; 0 = Spark's default parallelism times four.
    diff_partitions: int = 0
    #: Longest changed span (characters of both sides, after the unchanged sections are cut off)
    #: that is diffed; longer ones are counted as ``DiffTooLarge`` in ``diff_failures`` and dropped.
    #: The diff's time grows faster than quadratically: about 30 s at this size on one core, hours
    #: for a 5 MB page, which would stall the whole language.
    max_diff_chars: int = 400_000
    #: How the diff cuts and compares sentences: ``paper`` (the original's rules) or
    #: ``multiscript`` (sentence ends of every script, marks dropped; see :mod:`kitrain.diff`).
    text_rules: str = "paper"
    #: With ``source="dumps"``: the XML dump to read, ``YYYYMMDD``. None: the first full-history
    #: dump of the wiki dated on or after the end of both windows (see :mod:`kitrain.dumps`).
    xml_dump: str | None = None
    #: Fewest revisions the mode's window may hold as read from the source: with fewer (a missing
    #: or partial snapshot, a wrong window) the collection fails instead of publishing a language
    #: too small to train on (see :func:`kitrain.collect.check_window_rows`).
    min_rows: int = 1
    #: With ``hive`` and ``parquet``: the table the texts come from (:data:`TEXT_SOURCES`);
    #: ``wikitext_snapshot`` is read only with ``wikitext_history``.
    text_source: str = DEFAULT_TEXT_SOURCE
    #: With ``hive`` and ``content_history``: the Iceberg snapshot of the content table to read
    #: (the id a collection records in its ``quality.json``), so that a rerun reads the same texts.
    #: None: the table's current snapshot, which is recorded.
    content_snapshot_id: int | None = None

    FIELDS_BY_MODE: ClassVar[tuple[str, ...]] = ("filter_rw", "max_records", "prefix")

    def __post_init__(self) -> None:
        validate_language(self.lang)
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {self.mode!r}")
        for name in self.FIELDS_BY_MODE:
            if getattr(self, name) is None:
                object.__setattr__(self, name, MODE_DEFAULTS[self.mode][name])
        check_source(self.source, self.source_dir, self.dumps_dir)
        check_snapshot("snapshot", self.snapshot)
        check_snapshot("wikitext_snapshot", self.wikitext_snapshot)
        check_window("train", self.train_start, self.train_end)
        check_window("test", self.test_start, self.test_end)
        # one history extract serves both modes, so the sources must hold both windows
        end = self.extract_window[1]
        check_snapshot_holds("snapshot", self.snapshot, end)
        check_xml_dump(self.source, self.xml_dump, end)
        check_text_source(self.text_source)
        check_content_snapshot_id(self.source, self.text_source, self.content_snapshot_id)
        if self.reads_wikitext_snapshot:
            check_snapshot_holds("wikitext_snapshot", self.wikitext_snapshot, end)
        for name in ("filter_anon", "filter_rw", "use_cache"):
            _check_bool(name, getattr(self, name))
        for name, minimum in (("max_records", 1), ("output_files", 1), ("diff_partitions", 0),
                              ("max_diff_chars", 1), ("min_rows", 1)):
            _check_int(name, getattr(self, name), minimum)
        _check_int("seed", self.seed, 0)
        check_text_rules(self.text_rules)
        if not isinstance(self.prefix, str) or not SEGMENT_PATTERN.fullmatch(self.prefix):
            raise ConfigError(
                f"prefix must be letters, digits, '_', '.' or '-' (a directory name), "
                f"got {self.prefix!r}"
            )

    @property
    def window(self) -> tuple[str, str]:
        """The mode's time window ``[start, end)`` as dates."""
        if self.mode == "train":
            return self.train_start, self.train_end
        return self.test_start, self.test_end

    @property
    def reads_wikitext_snapshot(self) -> bool:
        """Whether the texts come from a snapshot of the legacy wikitext table (the dumps' come
        from the XML dump chosen by date, the content history table has no snapshots)."""
        return self.source != "dumps" and self.text_source == "wikitext_history"

    @property
    def reads_content_table(self) -> bool:
        """Whether the texts come from the content history table (whose snapshot is recorded)."""
        return self.source != "dumps" and self.text_source == "content_history"

    @property
    def extract_window(self) -> tuple[str, str]:
        """The window the cached history extract covers: both modes', so one extract serves both."""
        return min(self.train_start, self.test_start), max(self.train_end, self.test_end)


@dataclasses.dataclass(frozen=True)
class PrepareConfig(_Config):
    """Preparation of the collected languages into the train, test and hold-out splits.

    Defaults follow the original ``data_prepareration.py``: split at 2022-07-01, revision wars
    filtered, 60 % of each language's page titles for the language-model fine-tuning.
    """

    prefix: str = "all_users"
    test_prefix: str = "full_test"
    anon_prefix: str = ANON_PREFIX
    validation_date: str = "2022-07-01"
    filter_rw: bool = True
    text_train_share: float = 0.6
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("prefix", "test_prefix", "anon_prefix"):
            value = getattr(self, name)
            if not isinstance(value, str) or not SEGMENT_PATTERN.fullmatch(value):
                raise ConfigError(f"{name} must be a directory name, got {value!r}")
        check_date("validation_date", self.validation_date)
        _check_bool("filter_rw", self.filter_rw)
        _check_fraction("text_train_share", self.text_train_share)
        _check_int("seed", self.seed, 0)


TARGETS = ("inserts", "removes", "changes", "title")
DEFAULT_BASE_MODEL = "bert-base-multilingual-cased"


@dataclasses.dataclass(frozen=True)
class FinetuneConfig(_Config):
    """Fine-tuning of one of the four language models; defaults are the paper's.

    ``max_steps`` > 0 overrides ``epochs`` (short runs in tests and the demo); ``save_steps`` > 0
    checkpoints (and evaluates) every that many steps instead of once per epoch.
    """

    target: str
    base_model: str = DEFAULT_BASE_MODEL
    epochs: float = 5
    learning_rate: float = 2e-5
    weight_decay: float = 0.01
    batch_size: int = 8
    max_length: int = 512
    max_steps: int = 0
    save_steps: int = 0
    eval_share: float = 0.05
    min_title_revisions: int = 5
    seed: int = 42
    #: ``auto``: CUDA when present (bf16 where supported, else fp16), else the CPU, which a worker
    #: labelled as a GPU worker refuses (see :func:`kitrain.models.select_device`).
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ConfigError(f"target must be one of {TARGETS}, got {self.target!r}")
        if not isinstance(self.base_model, str) or not self.base_model.strip():
            raise ConfigError(f"base_model must name a model or a directory, got {self.base_model!r}")
        check_no_credentials("base_model", self.base_model)
        _check_positive_float("epochs", self.epochs)
        _check_positive_float("learning_rate", self.learning_rate)
        if isinstance(self.weight_decay, bool) or not isinstance(self.weight_decay, (int, float)) \
                or self.weight_decay < 0:
            raise ConfigError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        _check_int("batch_size", self.batch_size, 1)
        _check_int("max_length", self.max_length, 8)
        _check_int("max_steps", self.max_steps, 0)
        _check_int("save_steps", self.save_steps, 0)
        _check_int("min_title_revisions", self.min_title_revisions, 1)
        _check_int("seed", self.seed, 0)
        _check_fraction("eval_share", self.eval_share)
        check_device(self.device)

    @property
    def is_regression(self) -> bool:
        return self.target == "title"


@dataclasses.dataclass(frozen=True)
class FeaturesConfig(_Config):
    """Scoring of every distinct text by the four fine-tuned models into classifier features."""

    #: At most this many texts per batch ...
    batch_size: int = 512
    #: ... and at most this many (padded) tokens: short texts go in large batches.
    max_batch_tokens: int = 32768
    #: ... and a batch ends where texts get shorter than this share of its longest (0: no band).
    length_band: float = 0.75
    max_length: int = 512
    #: ``auto``: CUDA when present (bf16 where supported, else fp16), else CPU in fp32 (refused on
    #: a worker labelled as a GPU worker).
    device: str = "auto"
    #: Rows of one language of one split scored and written together: the features stage holds
    #: one shard at a time (about 10 KB a prepared row in memory), and a rerun after a crash keeps
    #: the finished ones. Each distinct text is scored once per shard.
    shard_rows: int = 20_000

    def __post_init__(self) -> None:
        _check_int("batch_size", self.batch_size, 1)
        _check_int("shard_rows", self.shard_rows, 1)
        _check_int("max_batch_tokens", self.max_batch_tokens, 8)
        if isinstance(self.length_band, bool) or not isinstance(self.length_band, (int, float)) \
                or not 0 <= self.length_band < 1:
            raise ConfigError(f"length_band must be >= 0 and < 1, got {self.length_band!r}")
        _check_int("max_length", self.max_length, 8)
        check_device(self.device)


@dataclasses.dataclass(frozen=True)
class TrainConfig(_Config):
    """CatBoost training of one or more classifier variants; defaults are the paper's."""

    variants: tuple[str, ...] = ("all+user+mlm",)
    iterations: int = 5000
    learning_rate: float = 0.01
    depth: int = 6
    eval_share: float = 0.1
    #: kitrain's option: stop when the evaluation AUC has not improved for this many iterations.
    #: 0 (the original's): run every iteration and keep the one of the best evaluation Logloss.
    early_stopping_rounds: int = 0
    seed: int = 42
    #: CatBoost threads; -1 uses every core.
    thread_count: int = -1

    def __post_init__(self) -> None:
        from kitrain.schema import VARIANTS

        object.__setattr__(self, "variants", tuple(self.variants))
        if not self.variants:
            raise ConfigError("variants must name at least one variant")
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ConfigError(f"unknown variant(s) {unknown}: choose from {', '.join(VARIANTS)}")
        _check_int("iterations", self.iterations, 1)
        _check_positive_float("learning_rate", self.learning_rate)
        _check_int("depth", self.depth, 1)
        _check_int("early_stopping_rounds", self.early_stopping_rounds, 0)
        _check_int("seed", self.seed, 0)
        if isinstance(self.thread_count, bool) or not isinstance(self.thread_count, int) \
                or self.thread_count == 0 or self.thread_count < -1:
            raise ConfigError(f"thread_count must be -1 or a positive integer, got {self.thread_count!r}")
        _check_fraction("eval_share", self.eval_share)


@dataclasses.dataclass(frozen=True)
class EvaluateConfig(_Config):
    """Evaluation of every trained variant on ``test`` and ``full_test``."""

    threshold: float = 0.5
    recall_target: float = 0.75
    #: CSV of external scores (``revision_id, wiki_db, score``), e.g. ORES, compared side by side.
    external_scores: str | None = None
    external_name: str = "external"
    #: Seed of the balanced sample of anonymous edits of each language.
    seed: int = 42
    #: Languages with fewer hold-out rows are left out of the per-language comparison (the paper's
    #: rows and its correlation of anonymous share with AUC).
    min_language_rows: int = 10_000

    def __post_init__(self) -> None:
        _check_int("seed", self.seed, 0)
        _check_int("min_language_rows", self.min_language_rows, 1)
        _check_fraction("threshold", self.threshold)
        _check_fraction("recall_target", self.recall_target)
        if not isinstance(self.external_name, str) or not SEGMENT_PATTERN.fullmatch(self.external_name):
            raise ConfigError(f"external_name must be a short name, got {self.external_name!r}")
