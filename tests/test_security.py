"""Security rules that hold for the whole code base: nothing that reads artefacts unpickles, and no
credential can reach a config the run writes (plans, quality reports, bundle manifests)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from kitrain.config import CollectConfig, ConfigError, FinetuneConfig
from kitrain.plan import config_from_params
from tests.conftest import REPO

SOURCES = sorted([*REPO.glob("kitrain/**/*.py"), *REPO.glob("dags/*.py")])


@pytest.mark.parametrize(
    "pattern",
    [
        r"\bimport pickle\b|\bfrom pickle\b|\bpickle\.load",  # no pickle at all
        r"\bimport joblib\b|\bjoblib\.load",  # joblib unpickles
        r"\bimport dill\b|\bcloudpickle\.load",
        r"torch\.load\((?![^)]*weights_only\s*=\s*True)",  # torch.load only with weights_only=True
        r"\bnp\.load\([^)]*allow_pickle\s*=\s*True",
    ],
)
def test_no_code_reads_pickles(pattern):
    assert SOURCES, "no sources found"
    offenders = [f"{path.relative_to(REPO)}:{number}"
                 for path in SOURCES
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
                 if re.search(pattern, line) and not line.lstrip().startswith("#")]
    assert offenders == []


def test_model_weights_are_safetensors_only():
    # every save_pretrained call writes safetensors (the default), none asks for .bin
    text = "\n".join(path.read_text(encoding="utf-8") for path in SOURCES)
    assert "safe_serialization=False" not in text


SECRET = "hunter2-very-secret"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("source_dir", f"s3a://AKIAEXAMPLE:{SECRET}@bucket/wmf"),
        ("dumps_dir", f"https://user:{SECRET}@dumps.example.org/mirror"),
        ("run_dir", f"hdfs://analytics:{SECRET}@namenode:8020/user/ki/{{snapshot}}"),
    ],
)
def test_credentials_in_a_path_are_refused_without_echoing_them(field, value):
    params = {"source": "parquet", "source_dir": "/data/src", "run_dir": "/data/run", field: value}
    with pytest.raises(ConfigError, match=f"{field} holds credentials") as error:
        config_from_params(params, dt.date(2022, 7, 1))
    assert SECRET not in str(error.value)


def test_credentials_are_refused_by_the_stage_configs_too():
    with pytest.raises(ConfigError, match="source_dir holds credentials") as error:
        CollectConfig(lang="uk", source="parquet", source_dir=f"s3a://k:{SECRET}@b/x")
    assert SECRET not in str(error.value)
    with pytest.raises(ConfigError, match="base_model holds credentials"):
        FinetuneConfig(target="inserts", base_model=f"https://u:{SECRET}@models.example/bert")
    # a user name alone is no secret, and ordinary paths pass
    CollectConfig(lang="uk", source="parquet", source_dir="hdfs://analytics@namenode/x")
    CollectConfig(lang="uk", source="parquet", source_dir="/data/with:colon@at")
