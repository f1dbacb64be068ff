"""The scale-out files agree with the project: docker-compose.yml and the Dockerfile.

No Docker engine runs in CI, so these check the files' structure: the services the README promises,
one image for Airflow and Spark, the GPU worker on queue ``gpu``, the pinned versions, and no secret
written into the file.
"""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from tests.conftest import REPO

AIRFLOW_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker", "airflow-worker-gpu", "airflow-init"}


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def pins():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pinned = {}
    for requirement in project["dependencies"] + project["optional-dependencies"]["airflow"]:
        name, _, version = requirement.partition("==")
        if version:
            pinned[name] = version
    return pinned


def test_compose_has_every_service(compose):
    services = set(compose["services"])
    assert AIRFLOW_SERVICES | {"postgres", "redis", "spark-master", "spark-worker"} <= services


def test_airflow_and_spark_share_the_image_built_here(compose):
    assert (REPO / "Dockerfile").is_file()
    for name in AIRFLOW_SERVICES | {"spark-master", "spark-worker"}:
        service = compose["services"][name]
        assert service["image"] == "kitrain:latest", name
        assert service["build"] == ".", name
        volumes = service.get("volumes", [])
        if name != "spark-master":
            assert "kitrain-data:/data" in volumes, name


def test_gpu_worker_serves_the_gpu_queue_with_a_gpu(compose):
    gpu = compose["services"]["airflow-worker-gpu"]
    assert "--queues gpu" in gpu["command"]
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert "gpu" not in compose["services"]["airflow-worker"]["command"]
    # labelled: device auto refuses this worker's CPU; it keeps every setting of the others
    from kitrain.models import GPU_WORKER_ENV

    from kitrain.gpus import WORKER_GPUS_ENV

    assert gpu["environment"][GPU_WORKER_ENV] == "1"
    assert GPU_WORKER_ENV not in compose["services"]["airflow-worker"]["environment"]
    assert {k: v for k, v in gpu["environment"].items() if k not in (GPU_WORKER_ENV, WORKER_GPUS_ENV)} == \
        compose["services"]["airflow-worker"]["environment"]
    # sized together: the GPUs it leases, the tasks it runs at once, the slots of pool gpu
    gpus = gpu["environment"][WORKER_GPUS_ENV].split(",")
    concurrency = int(gpu["command"].split("--concurrency")[1].split()[0])
    slots = int(compose["services"]["airflow-init"]["command"].split("pools set gpu")[1].split()[0])
    assert len(gpus) == concurrency == slots == 1


def test_spark_connection_points_at_the_master(compose):
    env = compose["services"]["airflow-worker"]["environment"]
    conn = yaml.safe_load(env["AIRFLOW_CONN_SPARK_DEFAULT"])
    master = compose["services"]["spark-master"]
    assert conn["host"] == "spark://spark-master"
    assert str(conn["port"]) == master["command"][master["command"].index("--port") + 1]
    assert compose["services"]["spark-worker"]["command"][0] == f"spark://spark-master:{conn['port']}"


def test_init_creates_the_pools_the_dag_uses(compose):
    command = compose["services"]["airflow-init"]["command"]
    assert "airflow db migrate" in command
    assert "pools set spark" in command and "pools set gpu" in command


def test_no_secret_is_written_into_the_compose_file(compose):
    env = compose["services"]["airflow-scheduler"]["environment"]
    for key in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET"):
        assert re.fullmatch(r"\$\{KITRAIN_\w+:\?.+\}", env[key]), key
    assert "${POSTGRES_PASSWORD:?" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_dockerfile_matches_the_pins(pins):
    text = (REPO / "Dockerfile").read_text()
    assert re.search(rf"^ARG AIRFLOW_VERSION={re.escape(pins['apache-airflow'])}$", text, re.M)
    assert re.search(r"^ARG PYTHON_VERSION=3\.11$", text, re.M)
    assert "openjdk-17" in text
    assert '"/opt/kitrain[airflow]"' in text
    # pyspark and the provider's pyspark-client overwrite each other's files unless equal
    assert pins["pyspark"] == pins["pyspark-client"]
