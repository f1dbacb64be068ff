"""Loading language models and choosing the device, with errors a user can act on.

Nothing here downloads on its own initiative: a hub name works when it is in the local Hugging Face
cache or the hub is reachable; otherwise the error says so in one line and how to pass a local path.
"""

from __future__ import annotations

import logging
import os
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


def select_device(preference: str = "auto") -> tuple[Any, Any]:
    """(device, dtype): CUDA in bf16 where supported (fp16 otherwise), else CPU in fp32."""
    import torch

    if preference == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("device 'cuda' asked for, but torch sees no CUDA device")
    if preference != "cpu" and torch.cuda.is_available():
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.device("cuda"), dtype
    return torch.device("cpu"), torch.float32
