"""Loading language models and choosing the device, with errors a user can act on.

Nothing here downloads on its own initiative: a hub name works when it is in the local Hugging Face
cache or the hub is reachable; otherwise the error says so in one line and how to pass a local path.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """A base or fine-tuned model that cannot be loaded."""


def _explain(name: str, exc: Exception) -> ModelLoadError:
    if os.path.isdir(name):
        return ModelLoadError(f"cannot load the model in {name}: {exc}")
    return ModelLoadError(
        f"cannot load model {name!r}: it is not a local directory and could not be loaded from the "
        "Hugging Face cache or hub (offline?); download it once where the hub is reachable "
        "(e.g. `hf download NAME --local-dir DIR`) and pass --base-model DIR, or build a local "
        "test model with `kitrain tiny-model`"
    )


def load_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise _explain(name, exc) from exc


def load_classifier(name: str, num_labels: int) -> Any:
    """A sequence classifier (regression when ``num_labels == 1``) from a base or fine-tuned model."""
    from transformers import AutoModelForSequenceClassification

    kwargs: dict[str, Any] = {"num_labels": num_labels}
    if num_labels == 1:
        kwargs["problem_type"] = "regression"
    try:
        return AutoModelForSequenceClassification.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as exc:
        raise _explain(name, exc) from exc


#: The device settings a stage accepts: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
DEVICES = ("auto", "cpu", "cuda")
#: Set (to anything but ``0``/``false``/empty) in the environment of the workers that serve the
#: ``gpu`` queue: on them ``auto`` means "this machine's GPU", and a worker without a usable GPU
#: refuses the task instead of training or scoring on the CPU, about 90 times slower.
GPU_WORKER_ENV = "KITRAIN_GPU_WORKER"


class DeviceError(RuntimeError):
    """A task that must run on a GPU, on a worker where torch sees none."""


def labelled_gpu_worker(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this worker says it serves the GPU queue (:data:`GPU_WORKER_ENV`)."""
    value = (os.environ if environ is None else environ).get(GPU_WORKER_ENV, "")
    return value.strip().lower() not in ("", "0", "false", "no")


def select_device(preference: str = "auto", environ: Mapping[str, str] | None = None) -> tuple[Any, Any]:
    """(device, dtype): CUDA in bf16 where supported (fp16 otherwise), else CPU in fp32.

    Nothing falls back to the CPU silently: ``cuda`` without a CUDA device, or ``auto`` on a
    worker labelled as a GPU worker without one, raise :class:`DeviceError` in one line naming the
    worker (a GPU task on the wrong machine would otherwise run for days on the CPU); ``auto``
    elsewhere uses the CPU and says so in a warning. ``cpu`` (the demo's) never asks for CUDA.
    """
    import torch

    if preference not in DEVICES:
        raise DeviceError(f"device must be one of {DEVICES}, got {preference!r}")
    if preference == "cpu":
        return torch.device("cpu"), torch.float32
    if torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.device("cuda"), dtype
    worker = socket.gethostname()
    if preference == "cuda":
        raise DeviceError(f"device 'cuda' asked for, but torch sees no CUDA device on worker {worker}: "
                          "run the task on a GPU worker (queue gpu) or set device cpu")
    if labelled_gpu_worker(environ):
        raise DeviceError(f"worker {worker} is labelled a GPU worker ({GPU_WORKER_ENV}) but torch sees no "
                          "CUDA device: refusing to run on its CPU; check the worker's GPU and drivers, "
                          "or unset the label")
    logger.warning("no CUDA device on %s: running on the CPU (device auto; set device cpu to say so, "
                   "or %s=1 on GPU workers to make this an error)", worker, GPU_WORKER_ENV)
    return torch.device("cpu"), torch.float32
