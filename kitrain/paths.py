"""Every path of a run directory, built in one place.

A run directory holds one training run: its collected data, prepared data, models, report. Stages
never assemble these paths themselves; they ask :class:`RunPaths`, so the layout changes here only.

Layout (the parts built so far)::

    RUN_DIR/
      collected/<prefix>/<mode>/<lang>/            parquet part files of one language (only parquet,
                                                   so any reader can glob collected/<prefix>/<mode>/*)
      quality/collect/<prefix>/<mode>/<lang>/quality.json
                                                   row counts after each step, errors, the config
      cache/history/<snapshot>/<lang>/             cached history extract (``--use-cache 1``)
      prepared/{train,test,full_test}/<lang>.parquet
      prepared/summary.json                        per-language counts and revert rates
      base-model/                                  the tiny base model of demo and test runs
      mlm/<target>/                                fine-tuned model (safetensors), tokenizer,
                                                   metrics.json, kitrain_finetune.json
      work/mlm/<target>/checkpoint-N/              Trainer checkpoints (resume only; never read
                                                   by later stages)
      features/{train,test,full_test}/<lang>-<shard>.parquet
                                                   one file per shard (uk-00000.parquet ...)
      features/summary.json                        config (max length ...), rows, shards, text counts
      work/features/<split>/                       the finished shards of a features run, and the
                                                   fingerprint a rerun after a crash checks
      classifier/<variant>/                        model.cbm, features.json, metrics.json,
                                                   importances.json, train_config.json
      report/                                      metrics.json, predictions.parquet, index.html
      bundle/                                      the published model (see kitrain.bundle)
      plans/<run id>.json                          the settings of each pipeline (DAG) run
      tmp/                                         scratch space of Spark (warehouse of local tables)

Data and its report live in separate trees because Spark, pyarrow and pandas all try to read every
file of a parquet directory that does not start with ``_`` or ``.``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from kitrain.config import MODES, SEGMENT_PATTERN

#: The data splits of a run: before the validation date, from it on, the hold-out week, and the
#: anonymous-only collection before the validation date (the ``anon+`` classifiers' training rows;
#: empty unless such a collection exists).
SPLITS = ("train", "test", "full_test", "anon_train")
ANON_SPLIT = "anon_train"
#: The four fine-tuned language models.
TARGETS = ("inserts", "removes", "changes", "title")
from kitrain.languages import validate_language


def _segment(kind: str, value: str) -> str:
    if not SEGMENT_PATTERN.fullmatch(value):
        raise ValueError(f"{kind} {value!r} is not a valid directory name")
    return value


def _choice(kind: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{kind} must be one of {allowed}, got {value!r}")
    return value


@dataclasses.dataclass(frozen=True)
class RunPaths:
    """Paths of one run directory (a local path or a ``scheme://`` URI understood by Hadoop)."""

    run_dir: str

    def __post_init__(self) -> None:
        if not self.run_dir:
            raise ValueError("run directory must not be empty")
        if "://" not in self.run_dir:
            object.__setattr__(self, "run_dir", str(Path(self.run_dir).absolute()))

    def _join(self, *parts: str) -> str:
        return "/".join([self.run_dir.rstrip("/"), *parts])

    def collected_mode(self, prefix: str, mode: str) -> str:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        return self._join("collected", _segment("prefix", prefix), mode)

    def collected(self, prefix: str, mode: str, lang: str) -> str:
        return self.collected_mode(prefix, mode) + "/" + validate_language(lang)

    def collect_quality(self, prefix: str, mode: str, lang: str) -> str:
        self.collected(prefix, mode, lang)  # validates the parts
        return self._join("quality", "collect", prefix, mode, lang, "quality.json")

    def history_cache(self, snapshot: str, lang: str) -> str:
        return self._join("cache", "history", _segment("snapshot", snapshot), validate_language(lang))

    def prepared_root(self) -> str:
        """``prepared/``: published as a whole (all splits and the summary in one rename)."""
        return self._join("prepared")

    def prepared(self, split: str) -> str:
        return self._join("prepared", _choice("split", split, SPLITS))

    def prepared_summary(self) -> str:
        return self._join("prepared", "summary.json")

    def base_model(self) -> str:
        return self._join("base-model")

    def mlm(self, target: str) -> str:
        return self._join("mlm", _choice("target", target, TARGETS))

    def mlm_work(self, target: str) -> str:
        return self._join("work", "mlm", _choice("target", target, TARGETS))

    def features_work(self) -> str:
        """``work/features/``: the finished shards of a features run, kept for a rerun after a crash."""
        return self._join("work", "features")

    def compare_work(self) -> str:
        """``work/compare/``: the quality gate's compared rows, shard plan and scored shards."""
        return self._join("work", "compare")

    def features_root(self) -> str:
        """``features/``: published as a whole, like ``prepared/``."""
        return self._join("features")

    def features(self, split: str) -> str:
        return self._join("features", _choice("split", split, SPLITS))

    def features_summary(self) -> str:
        return self._join("features", "summary.json")

    def classifier(self, variant: str) -> str:
        from kitrain.schema import variant_parts

        variant_parts(variant)  # validates the name
        return self._join("classifier", variant)

    def classifiers(self) -> str:
        return self._join("classifier")

    def report(self) -> str:
        return self._join("report")

    def bundle(self) -> str:
        return self._join("bundle")

    def plan(self, run_id: str) -> str:
        from kitrain.plan import plan_file_name

        return self._join("plans", plan_file_name(run_id))

    def scratch(self) -> str:
        return self._join("tmp")
