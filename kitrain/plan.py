"""The settings of one pipeline run: what the Airflow DAG's params and data interval resolve to.

A scheduled run knows only its data interval; a manual run or a backfill may override any setting
with params. :func:`interval_settings` turns the interval into the paper's settings (the interval
starting 2022-07-01 gives exactly the paper's snapshot, windows and validation date), and
:class:`PipelineConfig` validates the result once, before anything starts, and hands every stage its
own typed config built from it. The DAG stores it as ``RUN_DIR/plans/<run id>.json`` and passes
only that path between tasks.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kitrain.config import (
    ANON_PREFIX,
    check_device,
    check_local_run_dir,
    DEFAULT_BASE_MODEL,
    MODE_DEFAULTS,
    MODES,
    DEFAULT_TEXT_SOURCE,
    SOURCES,
    TEXT_RULES,
    TEXT_SOURCES,
    CollectConfig,
    ConfigError,
    EvaluateConfig,
    FeaturesConfig,
    FinetuneConfig,
    PrepareConfig,
    TrainConfig,
    _check_bool,
    _check_int,
    _check_non_negative_float,
    _Config,
    check_date,
    check_no_credentials,
    check_snapshot,
    check_source,
    check_window,
)
from kitrain.languages import PAPER_LANGUAGES, validate_languages
from kitrain.schema import PRODUCTION_VARIANT, VARIANTS, is_anonymous_variant

#: ``base_model`` value that builds the tiny BERT of :mod:`kitrain.tinymodel` from the run's own
#: corpus instead of loading a hub model (tests and the demo: nothing is downloaded).
TINY_BASE_MODEL = "tiny"
#: Placeholder in ``run_dir`` replaced by the run's history snapshot, so that every month of a
#: schedule or a backfill gets its own run directory while runs of one snapshot share theirs.
SNAPSHOT_PLACEHOLDER = "{snapshot}"
#: Root of the default run directories (``$KITRAIN_RUNS_DIR/<snapshot>``).
RUNS_DIR_ENV = "KITRAIN_RUNS_DIR"
#: Months of history before the snapshot month that the train window covers (the paper: 2022-01-01
#: to 2022-08-01 for snapshot 2022-07).
TRAIN_MONTHS_BEFORE = 6
#: Length of the hold-out week that starts on the validation date.
HOLDOUT_DAYS = 7
#: Root of the published models (``$KITRAIN_MODELS_DIR``; ``~/kitrain/models`` without it): the
#: ``current`` link, the bundle copies it points at, and one record per gated run.
MODELS_DIR_ENV = "KITRAIN_MODELS_DIR"
#: Where the two Hive tables keep their partitions on Wikimedia's analytics cluster (the tables'
#: ``LOCATION``): the ``hive`` source's sensor looks for ``snapshot=YYYY-MM/_SUCCESS`` under them.
HIVE_HISTORY_LOCATION = "hdfs://analytics-hadoop/wmf/data/wmf/mediawiki/history"
HIVE_WIKITEXT_LOCATION = "hdfs://analytics-hadoop/wmf/data/wmf/mediawiki/wikitext/history"
#: How often the sensors look for the sources, and how long they wait before failing (the
#: full-history XML dump of the 1st takes weeks for the largest wikis).
WAIT_POKE_INTERVAL_S = 3600
WAIT_TIMEOUT_S = 21 * 24 * 3600

_RUN_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def interval_settings(interval_start: dt.date | dt.datetime) -> dict[str, str]:
    """Snapshot, wikitext snapshot, windows and validation date of a monthly data interval.

    The snapshot is the month the interval starts in; the train window runs from six months before
    it to the end of that month; the validation date and the hold-out week start on the first of
    the month. ``2022-07-01`` gives the paper's settings (with the wikitext snapshot equal to the
    history snapshot, as a scheduled run has no later one).
    """
    day = interval_start.date() if isinstance(interval_start, dt.datetime) else interval_start
    month = dt.date(day.year, day.month, 1)
    snapshot = f"{month.year:04d}-{month.month:02d}"
    return {
        "snapshot": snapshot,
        "wikitext_snapshot": snapshot,
        "train_start": _add_months(month, -TRAIN_MONTHS_BEFORE).isoformat(),
        "train_end": _add_months(month, 1).isoformat(),
        "validation_date": month.isoformat(),
        "test_start": month.isoformat(),
        "test_end": (month + dt.timedelta(days=HOLDOUT_DAYS)).isoformat(),
    }


def default_interval_start(now: dt.datetime | None = None) -> dt.date:
    """The first day of the last complete month before ``now``: a manual run without a data
    interval (Airflow 3 allows runs without a logical date) retrains on the newest snapshot."""
    now = now or dt.datetime.now(dt.timezone.utc)
    return _add_months(dt.date(now.year, now.month, 1), -1)


@dataclasses.dataclass(frozen=True)
class PipelineConfig(_Config):
    """Every setting of one run of the whole pipeline, validated together.

    ``run_dir`` is the run directory itself (placeholders already replaced). ``languages`` are the
    ones this run collects; the later stages use every language collected in ``run_dir``.
    """

    run_dir: str
    snapshot: str
    wikitext_snapshot: str
    train_start: str
    train_end: str
    test_start: str
    test_end: str
    validation_date: str
    languages: tuple[str, ...] = PAPER_LANGUAGES
    source: str = "hive"
    source_dir: str | None = None
    dumps_dir: str | None = None
    xml_dump: str | None = None
    max_records: int = 300_000
    max_records_test: int = 100_000
    max_diff_chars: int = CollectConfig.max_diff_chars
    text_rules: str = CollectConfig.text_rules
    text_source: str = DEFAULT_TEXT_SOURCE
    #: The Iceberg snapshot of the content history table every language reads (source hive, text
    #: source content_history); None: each language's collection reads the current one and
    #: records it in its ``quality.json``.
    content_snapshot_id: int | None = None
    filter_anon: bool = False
    base_model: str = DEFAULT_BASE_MODEL
    finetune_max_steps: int = 0
    max_length: int = 512
    variants: tuple[str, ...] = (PRODUCTION_VARIANT,)
    production_variant: str = PRODUCTION_VARIANT
    classifier_iterations: int = 5000
    min_language_rows: int = EvaluateConfig.min_language_rows
    retrain: bool = True
    seed: int = 42
    #: Sensors: seconds between two looks at the sources, and how long to wait in all.
    wait_poke_interval_s: int = WAIT_POKE_INTERVAL_S
    wait_timeout_s: int = WAIT_TIMEOUT_S
    hive_history_location: str = HIVE_HISTORY_LOCATION
    hive_wikitext_location: str = HIVE_WIKITEXT_LOCATION
    #: A language's collection fails when its window holds fewer revisions than this.
    min_rows: int = 1
    #: The quality gate: the published models (see :mod:`kitrain.gate`) and how much worse than
    #: the current model a new one may be and still be promoted.
    models_dir: str | None = None
    max_auc_drop: float = 0.01
    max_language_auc_drop: float = 0.03
    max_dir_increase: float = 0.10
    force_publish: bool = False
    #: compare on a stratified sample of this many hold-out rows when it has more (0: every row).
    compare_sample_rows: int = 0
    #: Where finetune, features and compare run their text models: ``auto`` (CUDA when present,
    #: refused on a worker labelled as a GPU worker without one), ``cuda`` or ``cpu`` (the demo).
    device: str = "auto"
    #: Rows of one language of one split per features shard: one mapped features instance each.
    feature_shard_rows: int = 20_000
    #: Data-parallel processes (GPUs) of each target's fine-tuning, under torchrun when above 1.
    finetune_gpus: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.run_dir, str) or not self.run_dir.strip():
            raise ConfigError("run_dir must name a directory")
        for name in ("run_dir", "source_dir", "dumps_dir", "base_model", "models_dir",
                     "hive_history_location", "hive_wikitext_location"):
            check_no_credentials(name, getattr(self, name))
        check_local_run_dir(self.run_dir, "run_dir")
        if SNAPSHOT_PLACEHOLDER in self.run_dir:
            raise ConfigError(f"run_dir still holds the placeholder {SNAPSHOT_PLACEHOLDER}: {self.run_dir!r}")
        object.__setattr__(self, "languages", validate_languages(self.languages))
        object.__setattr__(self, "variants", tuple(self.variants))
        check_snapshot("snapshot", self.snapshot)
        check_snapshot("wikitext_snapshot", self.wikitext_snapshot)
        check_window("train", self.train_start, self.train_end)
        check_window("test", self.test_start, self.test_end)
        check_date("validation_date", self.validation_date)
        check_source(self.source, self.source_dir, self.dumps_dir)
        _check_int("max_records", self.max_records, 1)
        _check_int("max_records_test", self.max_records_test, 1)
        _check_int("max_diff_chars", self.max_diff_chars, 1)
        _check_int("finetune_max_steps", self.finetune_max_steps, 0)
        _check_int("max_length", self.max_length, 8)
        _check_int("classifier_iterations", self.classifier_iterations, 1)
        _check_int("min_language_rows", self.min_language_rows, 1)
        _check_int("seed", self.seed, 0)
        _check_int("wait_poke_interval_s", self.wait_poke_interval_s, 1)
        _check_int("wait_timeout_s", self.wait_timeout_s, 1)
        _check_int("min_rows", self.min_rows, 1)
        _check_int("compare_sample_rows", self.compare_sample_rows, 0)
        check_device(self.device)
        _check_int("feature_shard_rows", self.feature_shard_rows, 1)
        _check_int("finetune_gpus", self.finetune_gpus, 1)
        for name in ("hive_history_location", "hive_wikitext_location"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name).strip():
                raise ConfigError(f"{name} must name the table's location")
        if self.models_dir is not None and (not isinstance(self.models_dir, str) or not self.models_dir.strip()):
            raise ConfigError("models_dir must name a directory")
        for name in ("max_auc_drop", "max_language_auc_drop", "max_dir_increase"):
            _check_non_negative_float(name, getattr(self, name))
        for name in ("filter_anon", "retrain", "force_publish"):
            _check_bool(name, getattr(self, name))
        if not isinstance(self.base_model, str) or not self.base_model.strip():
            raise ConfigError(f"base_model must name a model, a directory or {TINY_BASE_MODEL!r}")
        if self.production_variant not in VARIANTS:
            raise ConfigError(f"unknown production_variant {self.production_variant!r}")
        if self.production_variant not in self.variants:
            raise ConfigError(
                f"variants {list(self.variants)} must include the bundled variant {self.production_variant}"
            )
        # every stage config is built once here, so that any bad combination fails now
        for lang in self.languages:
            self.collect_configs(lang)
        self.prepare_config()
        self.train_config()

    # -- the stage configs -------------------------------------------------------------------

    def collect_config(self, lang: str, mode: str) -> CollectConfig:
        """One language's collection in one mode, with the history cache shared by both modes."""
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {mode!r}")
        return CollectConfig(
            lang=lang, mode=mode, source=self.source, source_dir=self.source_dir,
            dumps_dir=self.dumps_dir, xml_dump=self.xml_dump,
            snapshot=self.snapshot, wikitext_snapshot=self.wikitext_snapshot,
            train_start=self.train_start, train_end=self.train_end,
            test_start=self.test_start, test_end=self.test_end,
            filter_anon=self.filter_anon,
            max_records=self.max_records if mode == "train" else self.max_records_test,
            max_diff_chars=self.max_diff_chars, text_rules=self.text_rules, use_cache=True, seed=self.seed,
            min_rows=self.min_rows, text_source=self.text_source,
            content_snapshot_id=self.content_snapshot_id,
        )

    @property
    def collects_anonymous(self) -> bool:
        """Whether an ``anon+`` variant is trained: then the anonymous-only train window is
        collected too (prefix :data:`ANON_PREFIX`), as the paper trained those on their own
        collection."""
        return any(is_anonymous_variant(v) for v in self.variants)

    def collect_configs(self, lang: str) -> tuple[CollectConfig, ...]:
        """One language's collections: train window and hold-out week, and the anonymous-only
        train window when an ``anon+`` variant is trained (one Spark application runs them all,
        sharing the history extract)."""
        configs = tuple(self.collect_config(lang, mode) for mode in MODES)
        if self.collects_anonymous:
            configs += (dataclasses.replace(self.collect_config(lang, "train"), filter_anon=True,
                                            prefix=ANON_PREFIX),)
        return configs

    def prepare_config(self) -> PrepareConfig:
        # the collections use their modes' default prefixes (collect_config leaves them unset)
        return PrepareConfig(prefix=MODE_DEFAULTS["train"]["prefix"], test_prefix=MODE_DEFAULTS["test"]["prefix"],
                             validation_date=self.validation_date, seed=self.seed)

    def finetune_config(self, target: str, base_model: str) -> FinetuneConfig:
        return FinetuneConfig(target=target, base_model=base_model, max_length=self.max_length,
                              max_steps=self.finetune_max_steps, seed=self.seed, device=self.device)

    def features_config(self) -> FeaturesConfig:
        return FeaturesConfig(max_length=self.max_length, device=self.device, shard_rows=self.feature_shard_rows)

    def train_config(self) -> TrainConfig:
        return TrainConfig(variants=self.variants, iterations=self.classifier_iterations, seed=self.seed)

    def evaluate_config(self) -> EvaluateConfig:
        return EvaluateConfig(seed=self.seed, min_language_rows=self.min_language_rows)

    @property
    def uses_tiny_model(self) -> bool:
        return self.base_model == TINY_BASE_MODEL

    def to_dict(self) -> dict[str, Any]:
        data = super().to_dict()
        data["languages"] = list(self.languages)
        data["variants"] = list(self.variants)
        return data


#: The DAG params that map one to one onto :class:`PipelineConfig` fields.
PARAM_FIELDS = (
    "languages", "source", "source_dir", "dumps_dir", "xml_dump", "max_records", "max_records_test",
    "max_diff_chars", "text_rules", "text_source", "content_snapshot_id",
    "filter_anon",
    "base_model", "finetune_max_steps", "max_length", "variants", "classifier_iterations", "min_language_rows",
    "retrain", "seed", "wait_poke_interval_s", "wait_timeout_s", "hive_history_location",
    "hive_wikitext_location", "min_rows", "max_auc_drop", "max_language_auc_drop", "max_dir_increase",
    "force_publish", "compare_sample_rows", "device", "feature_shard_rows", "finetune_gpus",
)
#: Params whose empty value means "derived from the data interval".
INTERVAL_FIELDS = ("snapshot", "wikitext_snapshot", "train_start", "train_end", "validation_date",
                   "test_start", "test_end")


def resolve_run_dir(template: str | None, snapshot: str, environ: Mapping[str, str] | None = None) -> str:
    """``run_dir`` param -> the run directory: ``{snapshot}`` is replaced by the snapshot; empty
    means ``$KITRAIN_RUNS_DIR/<snapshot>`` (``~/kitrain/runs/<snapshot>`` without the variable)."""
    environ = os.environ if environ is None else environ
    if not template:
        root = environ.get(RUNS_DIR_ENV) or str(Path("~/kitrain/runs").expanduser())
        template = root.rstrip("/") + "/" + SNAPSHOT_PLACEHOLDER
    return template.replace(SNAPSHOT_PLACEHOLDER, snapshot)


def config_from_params(
    params: Mapping[str, Any],
    interval_start: dt.date | dt.datetime | None,
    environ: Mapping[str, str] | None = None,
) -> PipelineConfig:
    """Resolve a DAG run's params against its data interval into a validated config.

    An interval setting given as a param wins over the derived one; the wikitext snapshot follows
    a given history snapshot unless it is given too. Unknown params are an error, so a typo in a
    triggered run's conf cannot pass unnoticed.
    """
    known = set(PARAM_FIELDS) | set(INTERVAL_FIELDS) | {"run_dir", "models_dir"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"unknown param(s): {', '.join(unknown)}")
    derived = interval_settings(interval_start or default_interval_start())
    if params.get("snapshot"):
        given = check_snapshot("snapshot", params["snapshot"])
        year, month = (int(part) for part in given.split("-"))
        derived = interval_settings(dt.date(year, month, 1))
    settings = {name: params.get(name) or derived[name] for name in INTERVAL_FIELDS}
    fields: dict[str, Any] = {name: params[name] for name in PARAM_FIELDS
                              if name in params and params[name] is not None}
    for name in ("source_dir", "dumps_dir", "xml_dump", "content_snapshot_id"):
        if fields.get(name) == "":
            fields[name] = None
    fields["content_snapshot_id"] = snapshot_id_param(fields.get("content_snapshot_id"))
    run_dir = resolve_run_dir(params.get("run_dir"), settings["snapshot"], environ)
    models_dir = resolve_models_dir(params.get("models_dir"), environ)
    return PipelineConfig(run_dir=run_dir, models_dir=models_dir, **settings, **fields)


def snapshot_id_param(value: Any) -> Any:
    """The ``content_snapshot_id`` param as a number. The form takes it as text: Iceberg's ids have
    19 digits, more than a JavaScript number (the Airflow UI's) holds exactly. Anything else is
    left for :class:`PipelineConfig` to refuse with its message."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def resolve_models_dir(given: str | None, environ: Mapping[str, str] | None = None) -> str:
    """``models_dir`` param -> the directory of published models: as given, else
    ``$KITRAIN_MODELS_DIR``, else ``~/kitrain/models``."""
    environ = os.environ if environ is None else environ
    return given or environ.get(MODELS_DIR_ENV) or str(Path("~/kitrain/models").expanduser())


def plan_file_name(run_id: str) -> str:
    """A run id (``scheduled__2022-08-01T00:00:00+00:00``) as a safe file name."""
    safe = _RUN_ID_UNSAFE.sub("_", run_id).strip("._")
    if not safe:
        raise ConfigError(f"run id {run_id!r} gives an empty file name")
    return safe[:200] + ".json"


_SNAPSHOT_OR_EMPTY = {"type": ["null", "string"], "pattern": r"^(\d{4}-(0[1-9]|1[0-2]))?$"}
_DATE_OR_EMPTY = {"type": ["null", "string"], "format": "date", "pattern": r"^(\d{4}-\d{2}-\d{2})?$"}


def param_specs() -> dict[str, dict[str, Any]]:
    """The DAG's params as JSON-schema specs (default, title, description and schema keywords).

    Kept here, beside :class:`PipelineConfig`, so the trigger form and the config share one list of
    names; the DAG only wraps each spec in an Airflow ``Param``. The schema rejects what it can
    (an unknown language, a bad snapshot, a count below 1) in the trigger form already; the plan
    task validates everything again through :class:`PipelineConfig`.
    """
    from kitrain.languages import LANGUAGES
    from kitrain.models import DEVICES

    return {
        "languages": {
            "default": list(PAPER_LANGUAGES), "type": "array", "minItems": 1, "uniqueItems": True,
            "items": {"type": "string", "enum": list(LANGUAGES)}, "examples": list(LANGUAGES),
            "title": "Languages to collect",
            "description": "Wikipedia language codes collected by this run (default: the paper's 47). "
                           "Later stages use every language collected for the snapshot.",
        },
        "source": {"default": "hive", "type": "string", "enum": list(SOURCES), "title": "Source",
                   "description": "hive: the wmf tables; parquet: copies in source_dir; dumps: the "
                                  "public dumps in dumps_dir."},
        "source_dir": {"default": None, "type": ["null", "string"], "title": "Source directory",
                       "description": "With source parquet: holds mediawiki_history/ and "
                                      "mediawiki_content_history_v1/ (or mediawiki_wikitext_history/ "
                                      "with text_source wikitext_history)."},
        "dumps_dir": {"default": None, "type": ["null", "string"], "title": "Dumps directory",
                      "description": "With source dumps: mediawiki_history/ TSV and xmldumps/ XML "
                                     "files laid out as on the dumps site."},
        "xml_dump": {"default": None, "type": ["null", "string"], "pattern": r"^(\d{8})?$",
                     "title": "XML dump (YYYYMMDD)",
                     "description": "With source dumps: the full-history XML dump to read. Empty: "
                                    "the first one dated on or after the end of the windows (for "
                                    "the interval 2022-07: 20220801)."},
        "run_dir": {"default": None, "type": ["null", "string"], "title": "Run directory",
                    "description": f"{SNAPSHOT_PLACEHOLDER} is replaced by the snapshot; empty: "
                                   f"${RUNS_DIR_ENV}/{SNAPSHOT_PLACEHOLDER}."},
        "snapshot": {"default": None, **_SNAPSHOT_OR_EMPTY, "title": "History snapshot (YYYY-MM)",
                     "description": "Empty: the month the data interval starts in."},
        "wikitext_snapshot": {"default": None, **_SNAPSHOT_OR_EMPTY, "title": "Wikitext snapshot",
                              "description": "With text_source wikitext_history: the wikitext "
                                             "table's snapshot. Empty: the history snapshot. "
                                             "(Source dumps: see xml_dump.)"},
        "train_start": {"default": None, **_DATE_OR_EMPTY, "title": "Train window start",
                        "description": "Empty: six months before the snapshot month."},
        "train_end": {"default": None, **_DATE_OR_EMPTY, "title": "Train window end (exclusive)",
                      "description": "Empty: the first day after the snapshot month."},
        "validation_date": {"default": None, **_DATE_OR_EMPTY, "title": "Validation date",
                            "description": "Train rows before it, test rows from it on. Empty: "
                                           "the first day of the snapshot month."},
        "test_start": {"default": None, **_DATE_OR_EMPTY, "title": "Hold-out week start",
                       "description": "Empty: the first day of the snapshot month."},
        "test_end": {"default": None, **_DATE_OR_EMPTY, "title": "Hold-out week end (exclusive)",
                     "description": f"Empty: {HOLDOUT_DAYS} days after its start."},
        "max_records": {"default": 300_000, "type": "integer", "minimum": 1,
                        "title": "Revisions per language (train mode)"},
        "max_records_test": {"default": 100_000, "type": "integer", "minimum": 1,
                             "title": "Revisions per language (hold-out week)"},
        "max_diff_chars": {"default": CollectConfig.max_diff_chars, "type": "integer", "minimum": 1,
                           "title": "Longest changed span diffed (characters)",
                           "description": "Edits whose changed span (both sides) is longer are "
                                          "counted as DiffTooLarge and dropped."},
        "text_rules": {"default": CollectConfig.text_rules, "type": "string", "enum": list(TEXT_RULES),
                       "title": "Text rules of the edit diff",
                       "description": "paper: the original scripts' sentence split and fuzzy ratio; "
                                      "multiscript: sentence ends of every script, marks dropped."},
        "text_source": {"default": DEFAULT_TEXT_SOURCE, "type": "string", "enum": list(TEXT_SOURCES),
                        "title": "Table of the texts (source hive or parquet)",
                        "description": "content_history: wmf_content.mediawiki_content_history_v1, "
                                       "updated daily (Wikimedia's wikitext table since 2026-01); "
                                       "wikitext_history: the retired wmf.mediawiki_wikitext_history "
                                       "at wikitext_snapshot (the paper's 2022 copies)."},
        "content_snapshot_id": {"default": None, "type": ["null", "string"], "pattern": r"^(\d{1,19})?$",
                                "title": "Content table snapshot (Iceberg id)",
                                "description": "With source hive and text_source content_history: the "
                                               "snapshot of the daily content table to read, as a "
                                               "collection's quality.json records it (source."
                                               "content_snapshot_id), so that a rerun reads the same "
                                               "texts. Empty: the current one."},
        "filter_anon": {"default": False, "type": "boolean", "title": "Anonymous editors only",
                        "description": "Logged-out editors only: IP editors and temporary accounts."},
        "base_model": {"default": DEFAULT_BASE_MODEL, "type": "string", "minLength": 1,
                       "title": "Base model",
                       "description": f"Hub id or directory; {TINY_BASE_MODEL!r} builds a tiny "
                                      "BERT from the run's own texts (tests, demo)."},
        "finetune_max_steps": {"default": 0, "type": "integer", "minimum": 0,
                               "title": "Fine-tuning steps (0: the paper's 5 epochs)"},
        "max_length": {"default": 512, "type": "integer", "minimum": 8,
                       "title": "Longest text in tokens"},
        "variants": {"default": [PRODUCTION_VARIANT], "type": "array", "minItems": 1,
                     "uniqueItems": True, "items": {"type": "string", "enum": list(VARIANTS)},
                     "examples": list(VARIANTS), "title": "Classifier variants",
                     "description": f"Must include {PRODUCTION_VARIANT}, which is bundled."},
        "classifier_iterations": {"default": 5000, "type": "integer", "minimum": 1,
                                  "title": "CatBoost iterations"},
        "min_language_rows": {"default": EvaluateConfig.min_language_rows, "type": "integer", "minimum": 1,
                              "title": "Rows a language needs in the per-language comparison"},
        "retrain": {"default": True, "type": "boolean", "title": "Retrain",
                    "description": "false: stop after collection."},
        "seed": {"default": 42, "type": "integer", "minimum": 0, "title": "Seed"},
        "wait_poke_interval_s": {"default": WAIT_POKE_INTERVAL_S, "type": "integer", "minimum": 1,
                                 "title": "Sensors: seconds between looks at the sources"},
        "wait_timeout_s": {"default": WAIT_TIMEOUT_S, "type": "integer", "minimum": 1,
                           "title": "Sensors: seconds to wait for the sources",
                           "description": "The sensor fails after this, naming what is still missing "
                                          "(default 21 days: the full-history XML dumps take weeks)."},
        "hive_history_location": {"default": HIVE_HISTORY_LOCATION, "type": "string", "minLength": 1,
                                  "title": "Location of wmf.mediawiki_history",
                                  "description": "Source hive: the sensor waits for "
                                                 "snapshot=YYYY-MM/_SUCCESS under it."},
        "hive_wikitext_location": {"default": HIVE_WIKITEXT_LOCATION, "type": "string", "minLength": 1,
                                   "title": "Location of wmf.mediawiki_wikitext_history",
                                   "description": "Source hive: the sensor waits for "
                                                  "snapshot=YYYY-MM/_SUCCESS and each language's "
                                                  "wiki_db=... partition under it."},
        "min_rows": {"default": 1, "type": "integer", "minimum": 1,
                     "title": "Fewest revisions a language's window may hold",
                     "description": "A language with fewer fails its own collection; nothing is "
                                    "published for it."},
        "models_dir": {"default": None, "type": ["null", "string"], "title": "Models directory",
                       "description": f"The published models: the 'current' link, bundle copies and "
                                      f"one record per gated run. Empty: ${MODELS_DIR_ENV}."},
        "max_auc_drop": {"default": 0.01, "type": "number", "minimum": 0,
                         "title": "Gate: largest drop of the overall ROC AUC"},
        "max_language_auc_drop": {"default": 0.03, "type": "number", "minimum": 0,
                                  "title": "Gate: largest drop of a language's ROC AUC",
                                  "description": "For languages with at least min_language_rows "
                                                 "hold-out rows."},
        "max_dir_increase": {"default": 0.10, "type": "number", "minimum": 0,
                             "title": "Gate: largest relative rise of the disparate impact",
                             "description": "0.10: the new model's disparate impact (anonymous "
                                            "against registered editors) may be at most 10 % above "
                                            "the current model's."},
        "force_publish": {"default": False, "type": "boolean", "title": "Publish whatever the gate says"},
        "compare_sample_rows": {"default": 0, "type": "integer", "minimum": 0,
                                "title": "Gate: compare on a sample of this many hold-out rows",
                                "description": "0: every row. Larger hold-outs are compared on a "
                                               "sample stratified by language, label and anonymous "
                                               "editor, drawn with the run's seed; gate.json and the "
                                               "report say which."},
        "device": {"default": "auto", "type": "string", "enum": list(DEVICES),
                   "title": "Device of the text models",
                   "description": "finetune, features and compare. auto: CUDA when the worker has it, "
                                  "else the CPU, except on a worker labelled KITRAIN_GPU_WORKER=1, which "
                                  "refuses the task; cuda: refuse without a GPU; cpu: never a GPU."},
        "feature_shard_rows": {"default": 20000, "type": "integer", "minimum": 1,
                               "title": "Rows per features shard",
                               "description": "rows of one language of one split that one mapped "
                                              "features task scores; the run has about rows / this "
                                              "many shards, at most Airflow's [core] max_map_length "
                                              "(default 1024)."},
        "finetune_gpus": {"default": 1, "type": "integer", "minimum": 1,
                          "title": "GPUs of each fine-tuning",
                          "description": "data-parallel processes (torchrun, one per GPU) of each "
                                         "target's fine-tuning; at most the gpu pool slots a finetune "
                                         "task holds (KITRAIN_FINETUNE_GPUS where the DAG is parsed)."},
    }
