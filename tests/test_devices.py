"""No silent CPU: where the text models run, and the refusal of a GPU task on a machine without one."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
import torch

from kitrain import cli, pipeline
from kitrain.config import FeaturesConfig, FinetuneConfig
from kitrain.models import GPU_WORKER_ENV, DeviceError, labelled_gpu_worker, select_device
from kitrain.plan import config_from_params


@pytest.fixture
def no_gpu(monkeypatch):
    """A worker named worker-7 whose torch sees no CUDA device (this machine has none either)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr("socket.gethostname", lambda: "worker-7")
    monkeypatch.delenv(GPU_WORKER_ENV, raising=False)


def test_cuda_without_a_gpu_is_refused_naming_the_worker(no_gpu):
    with pytest.raises(DeviceError, match=r"^device 'cuda' asked for, .*no CUDA device on worker worker-7:"):
        select_device("cuda")


@pytest.mark.parametrize("label", ["1", "true", "yes", "gpu"])
def test_auto_on_a_labelled_gpu_worker_without_a_gpu_is_refused(no_gpu, monkeypatch, label):
    monkeypatch.setenv(GPU_WORKER_ENV, label)
    with pytest.raises(DeviceError, match=f"worker worker-7 is labelled a GPU worker \\({GPU_WORKER_ENV}\\)"):
        select_device("auto")
    # the label is about this worker's GPU only: cpu asked for is still the CPU
    assert select_device("cpu")[0].type == "cpu"


@pytest.mark.parametrize("label", [None, "", "0", "false", "no"])
def test_auto_elsewhere_uses_the_cpu_and_says_so(no_gpu, monkeypatch, caplog, label):
    if label is not None:
        monkeypatch.setenv(GPU_WORKER_ENV, label)
    with caplog.at_level(logging.WARNING, logger="kitrain.models"):
        device, dtype = select_device("auto")
    assert (device.type, dtype) == ("cpu", torch.float32)
    assert "no CUDA device on worker-7: running on the CPU" in caplog.text


def test_the_label_is_read_from_the_environment_given():
    assert labelled_gpu_worker({GPU_WORKER_ENV: "1"}) and not labelled_gpu_worker({})
    assert not labelled_gpu_worker({GPU_WORKER_ENV: " False "})


def test_a_gpu_is_used_when_present_in_bf16_else_fp16(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for bf16, dtype in ((True, torch.bfloat16), (False, torch.float16)):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda bf16=bf16: bf16)
        assert select_device("auto") == (torch.device("cuda"), dtype)
        assert select_device("cuda") == (torch.device("cuda"), dtype)
    # cpu never asks for CUDA, even where there is one
    assert select_device("cpu") == (torch.device("cpu"), torch.float32)


def test_unknown_device_is_refused():
    with pytest.raises(DeviceError, match="device must be one of"):
        select_device("gpu")


def test_stages_refuse_before_reading_any_data(no_gpu, monkeypatch, tmp_path):
    """The run directory is empty: a stage that read its inputs first would fail on them instead."""
    from kitrain.features import run_features
    from kitrain.finetune import run_finetune

    with pytest.raises(DeviceError, match="worker-7"):
        run_finetune(FinetuneConfig(target="inserts", base_model="tiny", device="cuda"), str(tmp_path))
    monkeypatch.setenv(GPU_WORKER_ENV, "1")
    with pytest.raises(DeviceError, match="worker-7"):
        run_features(FeaturesConfig(device="auto"), str(tmp_path))


def test_the_run_param_reaches_every_text_model_stage():
    cfg = config_from_params({"run_dir": "/tmp/x", "device": "cuda", "models_dir": "/m"}, dt.date(2022, 7, 1))
    assert cfg.finetune_config("inserts", "tiny").device == "cuda"
    assert cfg.features_config().device == "cuda"
    assert pipeline.gate_config(cfg).device == "cuda"
    # the default is auto, as before the param existed
    assert config_from_params({"run_dir": "/tmp/x"}, dt.date(2022, 7, 1)).device == "auto"


def test_the_command_line_refuses_in_one_line(no_gpu, tmp_path, capsys):
    rc = cli.main(["finetune", "--run-dir", str(tmp_path), "--target", "inserts", "--device", "cuda"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert err[-1].startswith("kitrain finetune: error: device 'cuda' asked for") and "worker-7" in err[-1]


def test_the_demo_keeps_the_cpu():
    from pathlib import Path

    makefile = Path(__file__).resolve().parents[1] / "Makefile"
    conf = next(line for line in makefile.read_text().splitlines() if '"min_language_rows"' in line)
    assert '"device": "cpu"' in conf
