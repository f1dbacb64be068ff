"""Fine-tuning of one of the four language models (``kitrain finetune``).

``inserts`` / ``removes``: is a revision with this one inserted / removed text reverted?
``changes``: the same for a (before, after) sentence pair. ``title``: regression of a page's revert
rate from its title. All start from one multilingual base model, train on the revisions whose title
went to the fine-tuning side (``is_text_train = 1``), keep the best evaluation (accuracy, RMSE for
title), and publish ``RUN_DIR/mlm/<target>/`` atomically: safetensors weights, tokenizer,
``metrics.json`` and ``kitrain_finetune.json``. Trainer checkpoints live under ``RUN_DIR/work/`` and
are read only to resume a killed run; no later stage sees a checkpoint number.
"""

from __future__ import annotations

import json
import logging
import shutil
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from kitrain.atomic import atomic_dir, filtered_tables, parquet_files, write_json
from kitrain.config import ConfigError, FinetuneConfig
from kitrain.models import load_classifier, load_tokenizer, select_device
from kitrain.paths import RunPaths
from kitrain.prepare import IS_TEXT_TRAIN, ROW_GROUP_ROWS, PrepareError
from kitrain.schema import LABEL
from kitrain.textdata import NoExamplesError, balance_classes, build_examples, stratified_split

logger = logging.getLogger(__name__)

CONFIG_FILE = "kitrain_finetune.json"
METRICS_FILE = "metrics.json"
#: The one prepared column each target's examples are built from, besides the keys and the label.
TARGET_COLUMNS = {"inserts": "texts_insert", "removes": "texts_removed", "changes": "texts_change",
                  "title": "page_title"}


class EncodedDataset:
    """Examples tokenised when they are fetched: the texts (and pairs) and labels are held, the
    token ids of one example are made by each ``__getitem__`` (``input_ids``, which the Trainer's
    length-grouped sampler reads, and the rest of the tokenizer's output).

    Tokenising the whole set up front held every example's token lists as Python ints: at the
    paper's scale (hundreds of thousands of examples a target) gigabytes, growing with the rows.
    One example tokenised alone gives the ids it gets in a batch (no padding here: the collator
    pads), so the model is the same."""

    def __init__(self, tokenizer: Any, texts: Any, pairs: Any | None, labels: list[Any], max_length: int) -> None:
        self.tokenizer, self.texts, self.pairs, self.labels = tokenizer, texts, pairs, labels
        self.max_length = max_length

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        pair = self.pairs[i] if self.pairs is not None else None
        item = dict(self.tokenizer(self.texts[i], pair, truncation=True, max_length=self.max_length))
        item["labels"] = self.labels[i]
        return item


def encode(tokenizer: Any, frame: Any, max_length: int, regression: bool) -> EncodedDataset:
    """The examples of ``frame`` (``text``, ``text_pair`` where the target has pairs, ``label``)
    as a dataset that tokenises them when fetched."""
    texts = frame["text"].to_numpy(dtype=object)
    pairs = frame["text_pair"].to_numpy(dtype=object) if "text_pair" in frame else None
    labels = [float(x) for x in frame["label"]] if regression else [int(x) for x in frame["label"]]
    return EncodedDataset(tokenizer, texts, pairs, labels, max_length)


def classification_metrics(eval_pred: Any) -> dict[str, float]:
    logits, labels = eval_pred
    predictions = np.argmax(logits, axis=1)
    tp = float(np.sum((predictions == 1) & (labels == 1)))
    precision = tp / max(1.0, float(np.sum(predictions == 1)))
    recall = tp / max(1.0, float(np.sum(labels == 1)))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"accuracy": float(np.mean(predictions == labels)), "f1": f1}


def regression_metrics(eval_pred: Any) -> dict[str, float]:
    predictions, labels = eval_pred
    predictions = np.asarray(predictions).reshape(-1)
    return {"rmse": float(np.sqrt(np.mean((predictions - np.asarray(labels).reshape(-1)) ** 2)))}


def _epoch_logger() -> Any:
    from transformers import TrainerCallback

    class EpochLogger(TrainerCallback):
        """One log line per evaluation (per epoch by default) with its metrics."""

        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kw: Any) -> None:
            shown = ", ".join(f"{k.removeprefix('eval_')}={v:.4f}" for k, v in sorted((metrics or {}).items())
                              if isinstance(v, float) and not k.endswith(("runtime", "per_second")))
            logger.info("epoch %.2f step %d: %s", state.epoch or 0.0, state.global_step, shown)

    return EpochLogger()


def _work_dir(paths: RunPaths, cfg: FinetuneConfig) -> Path:
    """Checkpoint directory; wiped when it belongs to a different configuration."""
    work = Path(paths.mlm_work(cfg.target))
    stamp = work / CONFIG_FILE
    if work.exists():
        previous = json.loads(stamp.read_text()) if stamp.exists() else None
        if previous != cfg.to_dict():
            logger.warning("checkpoints in %s are from another configuration: starting afresh", work)
            shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    write_json(stamp, cfg.to_dict())
    return work


def target_examples(target: str, run_dir: str, min_title_revisions: int) -> tuple[Any, int]:
    """The examples of ``target`` from the prepared ``train`` split, and how many fine-tuning
    revisions (``is_text_train = 1``) they came from.

    Reads the keys, the label, the split key and the target's one text column, file by file (one
    language each), and keeps only the fine-tuning rows before pandas sees them: at the paper's
    scale the whole split with every column is over 100 GB, the one column of the fine-tuning side a
    small part of it. The text targets are built a row group at a time (an example is one row's
    text), so that memory does not grow with the largest language; the title target needs every title of a wiki together and reads only titles, wikis and labels.
    """
    import pandas as pd
    import pyarrow as pa

    path = RunPaths(run_dir).prepared("train")
    files = parquet_files(path)
    if not files:
        raise PrepareError(f"no prepared split at {path}: run `kitrain prepare` first")
    columns = ["revision_id", "wiki_db", LABEL, IS_TEXT_TRAIN, TARGET_COLUMNS[target]]
    parts, titles, count = [], [], 0
    # the text targets in batches of a row group (an example is one row's: the same examples, in
    # the same order, as from whole files); the title target reads one small column
    batch_rows = None if target == "title" else ROW_GROUP_ROWS
    for table in filtered_tables(files, columns, {IS_TEXT_TRAIN: 1}, batch_rows=batch_rows):
        count += table.num_rows
        if target == "title":
            titles.append(table)
        elif table.num_rows:  # a batch without fine-tuning rows gives no examples
            parts.append(build_examples(target, table.to_pandas(), min_title_revisions))
        del table
    if target == "title":
        return build_examples(target, pa.concat_tables(titles).to_pandas(), min_title_revisions), count
    if not parts:  # no fine-tuning row at all: no examples (with their columns)
        import pyarrow.parquet as pq

        none = pq.read_schema(files[0]).empty_table().select(columns).replace_schema_metadata(None)
        parts.append(build_examples(target, none.to_pandas(), min_title_revisions))
    return pd.concat(parts, ignore_index=True), count


def training_frames(cfg: FinetuneConfig, run_dir: str) -> tuple[Any, Any]:
    """(train, eval) examples of ``cfg.target``: built from the fine-tuning rows, balanced (not for
    title, a regression) and split with the seed."""
    examples, text_train = target_examples(cfg.target, run_dir, cfg.min_title_revisions)
    if examples.empty:
        raise NoExamplesError(
            f"no training examples for target {cfg.target!r} among {text_train} "
            "fine-tuning revisions (is_text_train = 1)"
        )
    rng = np.random.default_rng([cfg.seed, zlib.crc32(cfg.target.encode())])
    if not cfg.is_regression:
        examples = balance_classes(examples, rng)
    train_frame, eval_frame = stratified_split(examples, cfg.eval_share, rng, stratify=not cfg.is_regression)
    if eval_frame.empty or train_frame.empty:
        raise NoExamplesError(f"too few examples for target {cfg.target!r} to split: {len(examples)}")
    return train_frame, eval_frame


def _checkpoint_step(path: str | None) -> int | None:
    """``.../checkpoint-40`` -> 40."""
    return int(Path(path).name.split("-")[-1]) if path else None


def _process_group(cuda: bool, local_rank: int, world: int) -> Any:
    """The torch.distributed module with its process group started (NCCL on GPUs, gloo on the
    CPU), when this process is one of several under torchrun; else None. Started here rather than
    by the Trainer so that process 0 alone prepares the checkpoint directory before the others look."""
    if world == 1:
        return None
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if cuda else "gloo")
    return dist


def run_finetune(cfg: FinetuneConfig, run_dir: str, callbacks: list[Any] | None = None) -> dict[str, Any]:
    """Fine-tune ``cfg.target``; resume from the last checkpoint of an interrupted identical run.

    Alone, or as one of the data-parallel processes torchrun started (:mod:`kitrain.distributed`):
    then each step's global batch of ``batch_size`` examples is split evenly across them, and
    process 0 alone writes the checkpoints and the published model."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from kitrain.distributed import process_rank

    paths = RunPaths(run_dir)
    device, dtype = select_device(cfg.device)  # first: a GPU task on a machine without one stops here
    rank, local_rank, world = process_rank()
    if cfg.batch_size % world:
        raise ConfigError(f"batch_size {cfg.batch_size} is not a multiple of the {world} processes: each "
                          "step's global batch is split evenly across them")
    dist = _process_group(device.type == "cuda", local_rank, world)
    train_frame, eval_frame = training_frames(cfg, run_dir)
    logger.info("%s: %d training and %d evaluation examples", cfg.target, len(train_frame), len(eval_frame))

    set_seed(cfg.seed)
    tokenizer = load_tokenizer(cfg.base_model)
    model = load_classifier(cfg.base_model, 1 if cfg.is_regression else 2)
    train_set = encode(tokenizer, train_frame, cfg.max_length, cfg.is_regression)
    eval_set = encode(tokenizer, eval_frame, cfg.max_length, cfg.is_regression)

    cuda = device.type == "cuda"
    import torch

    if rank == 0:
        work = _work_dir(paths, cfg)
    if dist is not None:
        dist.barrier()  # the checkpoint directory is ready (or wiped) before anyone reads it
    work = Path(paths.mlm_work(cfg.target))
    by_steps = cfg.save_steps > 0 or cfg.max_steps > 0
    every = cfg.save_steps or cfg.max_steps
    metric = "rmse" if cfg.is_regression else "accuracy"
    args = TrainingArguments(
        output_dir=str(work),
        eval_strategy="steps" if by_steps else "epoch",
        save_strategy="steps" if by_steps else "epoch",
        logging_strategy="steps" if by_steps else "epoch",
        eval_steps=every if by_steps else None,
        save_steps=every if by_steps else 500,
        logging_steps=every if by_steps else 500,
        load_best_model_at_end=True,
        metric_for_best_model=metric,
        greater_is_better=not cfg.is_regression,
        save_total_limit=2,
        num_train_epochs=float(cfg.epochs),
        max_steps=cfg.max_steps if cfg.max_steps > 0 else -1,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=cuda and dtype == torch.bfloat16,
        fp16=cuda and dtype == torch.float16,
        train_sampling_strategy="group_by_length" if cuda else "random",
        use_cpu=not cuda,
        report_to="none",
        dataloader_num_workers=0,
        # several processes: each takes its even part of the one global batch of batch_size
        accelerator_config={"split_batches": world > 1},
        # the classification and regression losses are means over a process's examples, which DDP
        # averages into the global batch's mean; the token-count rescaling meant for losses summed
        # over tokens would multiply them (and the gradients) by the number of processes
        average_tokens_across_devices=False,
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=train_set, eval_dataset=eval_set,
        processing_class=tokenizer,
        data_collator=DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8 if cuda else None),
        compute_metrics=regression_metrics if cfg.is_regression else classification_metrics,
        callbacks=[_epoch_logger(), *(callbacks or [])],
    )
    last = get_last_checkpoint(str(work))
    if last:
        logger.info("resuming %s from %s", cfg.target, last)
    result = trainer.train(resume_from_checkpoint=last)
    metrics = {k.removeprefix("eval_"): v for k, v in trainer.evaluate().items()}
    best = trainer.state.best_model_checkpoint

    record = {
        "config": cfg.to_dict(),
        "examples": {"train": len(train_frame), "eval": len(eval_frame)},
        "global_step": trainer.state.global_step,
        "resumed_from_step": _checkpoint_step(last),
        "best_step": _checkpoint_step(best),
        "train_loss": result.training_loss,
        "train_samples_per_second": result.metrics.get("train_samples_per_second"),
        "train_runtime_s": result.metrics.get("train_runtime"),
        "device": device.type,
        "dtype": str(dtype).removeprefix("torch."),
        "processes": world,
    }
    if rank == 0:
        with atomic_dir(paths.mlm(cfg.target)) as tmp:
            trainer.model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
            write_json(tmp / METRICS_FILE, metrics)
            write_json(tmp / CONFIG_FILE, record)
        shutil.rmtree(work, ignore_errors=True)  # published: the checkpoints served their purpose
    if dist is not None:
        dist.barrier()  # published before any process reports success
    logger.info("%s: %s=%.4f after %d steps; model in %s", cfg.target, metric, metrics[metric],
                trainer.state.global_step, paths.mlm(cfg.target))
    return {**record, "metrics": metrics, "output": paths.mlm(cfg.target)}
