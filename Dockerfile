# One image for every service of docker-compose.yml: the Airflow components, both Celery workers
# and the Spark master and worker. Airflow's driver side of spark-submit, the Spark executors and
# the fine-tuning therefore share one Python, one Spark (pip's pyspark) and one kitrain.
#
#   docker compose build            # or: docker build -t kitrain .
#
# The Airflow version and Python version must match the pins of pyproject.toml's "airflow" extra
# (tests/test_deploy.py checks it).
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

USER root
# Java 17 for Spark (the driver runs in the Airflow worker; master and worker run here too);
# procps for Spark's start scripts.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
 && rm -rf /var/lib/apt/lists/*
RUN mkdir -p /data/runs /data/source && chown -R airflow:root /data
USER airflow

COPY --chown=airflow:root pyproject.toml README.md /opt/kitrain/
COPY --chown=airflow:root kitrain /opt/kitrain/kitrain
COPY --chown=airflow:root sql /opt/kitrain/sql
# torch==2.13.0 from PyPI is its CUDA build on Linux: the gpu worker uses it, the others run on CPU.
RUN pip install --no-cache-dir "/opt/kitrain[airflow]"
COPY --chown=airflow:root dags /opt/airflow/dags

ENV KITRAIN_RUNS_DIR=/data/runs
