"""``kitrain plan-cost``: each stage's wall time for a job of given languages and sizes, on given
numbers of Spark cores, CPU cores and GPUs, from the unit costs measured by the benchmarks.

Every unit cost below names where it was measured (``benchmarks/README.md``: "Scale", "GPU
check") or says that it is assumed; the estimate is ``work / throughput / parallelism`` per stage,
with ranges where the work itself is assumed (examples per target, distinct texts per row).
Scaling over GPUs is not measured on the machines at hand (one GPU at most): the data-parallel
fine-tuning and the mapped scoring are taken as linear in GPUs, which is an upper bound.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from kitrain.config import ConfigError, _check_int


@dataclasses.dataclass(frozen=True)
class UnitCost:
    value: float
    unit: str
    source: str


#: The unit costs, with their sources. Ranges are (low, high) of the work they multiply.
UNIT_COSTS = {
    "collect_cpu_s_per_row": UnitCost(1016 / 157_000, "CPU s per published row",
                                      "measured: 1,016 CPU s for 157k published rows (benchmarks/scale_collect.py, "
                                      "2-core machine, 2026-12-05); assumed linear in Spark cores"),
    "prepare_s_per_row": UnitCost(15.3 / 1_000_000, "s per collected row, one core",
                                  "measured: benchmarks/scale.py --stage prepare, 2026-12-05"),
    "finetune_samples_per_s": UnitCost(172.7, "samples/s on one GPU",
                                       "measured: H100, BERT-base, batch 8 (benchmarks/gpu_check.sh, 2026-11-26)"),
    "examples_per_train_row": UnitCost(0.4 / 12.1, "examples per train row and target (low; high 1.0/12.1)",
                                       "assumed: 0.4-1.0M examples a target at the paper's 12.1M train rows"),
    "epochs": UnitCost(5, "epochs", "the paper's setting"),
    "score_texts_per_s": UnitCost(6133, "texts/s on one GPU",
                                  "measured: H100, BERT-base, bf16 (benchmarks/features.py via gpu_check.sh)"),
    "texts_per_row": UnitCost(50 / 18.8, "distinct texts per collected row, four models (low; high 100/18.8)",
                              "assumed: 50-100M distinct texts at the paper's 18.8M rows"),
    "train_s_per_iteration_per_row": UnitCost(0.6 / 1_000_000 * 2, "core-s per iteration per classifier row",
                                              "measured: 0.6 s an iteration per 1M rows on 2 threads "
                                              "(benchmarks/scale.py --stage train); assumed linear in threads"),
    "evaluate_s_per_row": UnitCost(14.6 / 1_000_000, "s per hold-out row",
                                   "measured: benchmarks/scale.py --stage evaluate, 2026-12-05"),
}
#: The high ends of the assumed ranges.
HIGH = {"examples_per_train_row": 1.0 / 12.1, "texts_per_row": 100 / 18.8}
#: Share of the train split the classifier trains on (the half the text models did not see).
CLASSIFIER_SHARE = 0.5
#: Share of the features' texts that compare rescores (the hold-out), assumed.
COMPARE_TEXT_SHARE = 0.25
TARGETS = 4


@dataclasses.dataclass(frozen=True)
class Job:
    languages: int
    train_rows: int  #: per language
    holdout_rows: int  #: per language (test and full_test together)
    spark_cores: int = 16
    cpu_cores: int = 16
    finetune_gpus: int = 1
    classifier_iterations: int = 5000

    def __post_init__(self) -> None:
        for name in ("languages", "spark_cores", "cpu_cores", "finetune_gpus", "classifier_iterations"):
            _check_int(name, getattr(self, name), 1)
        for name in ("train_rows", "holdout_rows"):
            _check_int(name, getattr(self, name), 0)

    @property
    def rows(self) -> int:
        return self.languages * (self.train_rows + self.holdout_rows)


def _cost(name: str, high: bool = False) -> float:
    return HIGH[name] if high and name in HIGH else UNIT_COSTS[name].value


def estimate(job: Job, gpus: int) -> list[tuple[str, float, float, str]]:
    """(stage, low hours, high hours, how) for each stage of ``job`` on ``gpus`` GPUs."""
    _check_int("gpus", gpus, 1)
    if job.finetune_gpus > gpus:
        raise ConfigError(f"finetune_gpus {job.finetune_gpus} is more than the {gpus} GPU(s)")
    train = job.languages * job.train_rows
    holdout = job.languages * job.holdout_rows
    stages = []
    collect = job.rows * _cost("collect_cpu_s_per_row") / job.spark_cores / 3600
    stages.append(("collect", collect, collect, f"{job.rows:,} rows on {job.spark_cores} Spark cores"))
    prepare = job.rows * _cost("prepare_s_per_row") / 3600
    stages.append(("prepare", prepare, prepare, "one core"))
    # the four targets as tasks of finetune_gpus GPUs each: rounds of as many as the GPUs hold
    at_once = min(TARGETS, gpus // job.finetune_gpus)
    rounds = math.ceil(TARGETS / at_once)
    per_target = [train * _cost("examples_per_train_row", high) * _cost("epochs")
                  / (_cost("finetune_samples_per_s") * job.finetune_gpus) / 3600 for high in (False, True)]
    stages.append(("finetune", rounds * per_target[0], rounds * per_target[1],
                   f"4 targets, {at_once} at a time on {job.finetune_gpus} GPU(s) each"))
    texts = [job.rows * _cost("texts_per_row", high) for high in (False, True)]
    features = [t / (_cost("score_texts_per_s") * gpus) / 3600 for t in texts]
    stages.append(("features", features[0], features[1], f"shards mapped over {gpus} GPU(s)"))
    classifier_rows = train * CLASSIFIER_SHARE
    fit = classifier_rows * job.classifier_iterations * _cost("train_s_per_iteration_per_row") / job.cpu_cores / 3600
    stages.append(("train", fit, fit, f"one variant, {job.classifier_iterations} iterations on {job.cpu_cores} cores"))
    evaluate = holdout * _cost("evaluate_s_per_row") / 3600
    stages.append(("evaluate", evaluate, evaluate, "one core"))
    compare = [t * COMPARE_TEXT_SHARE / (_cost("score_texts_per_s") * gpus) / 3600 for t in texts]
    stages.append(("compare", compare[0], compare[1], f"the hold-out's shards mapped over {gpus} GPU(s)"))
    return stages


def _hours(h: float) -> str:
    return f"{h * 60:.1f} min" if h < 1 else f"{h:.1f} h"


def render(job: Job, gpu_counts: Sequence[int]) -> str:
    """The plan as a markdown table: one row per stage, one column per GPU count, and the total."""
    plans = {g: estimate(job, g) for g in gpu_counts}
    lines = [f"job: {job.languages} languages x ({job.train_rows:,} train + {job.holdout_rows:,} hold-out) = "
             f"{job.rows:,} rows; {job.spark_cores} Spark cores, {job.cpu_cores} CPU cores, "
             f"finetune_gpus {job.finetune_gpus}", "",
             "| stage | " + " | ".join(f"{g} GPU(s)" for g in gpu_counts) + " |",
             "|---|" + "---|" * len(gpu_counts)]
    for index, (stage, *_rest) in enumerate(plans[gpu_counts[0]]):
        cells = []
        for g in gpu_counts:
            _, low, high, _how = plans[g][index]
            cells.append(_hours(low) if math.isclose(low, high) else f"{_hours(low)} - {_hours(high)}")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    totals = [(sum(s[1] for s in plans[g]), sum(s[2] for s in plans[g])) for g in gpu_counts]
    lines.append("| total, stages in a row | " + " | ".join(f"{_hours(lo)} - {_hours(hi)}" for lo, hi in totals) + " |")
    lines += ["", "unit costs:"] + [f"- {name}: {cost.value:.4g} {cost.unit} ({cost.source})"
                                     for name, cost in UNIT_COSTS.items()]
    lines.append("- GPU scaling: assumed linear (not measured: no machine here has more than one GPU)")
    return "\n".join(lines)
