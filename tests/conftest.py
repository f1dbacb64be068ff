"""Shared fixtures: one local Spark session for the whole test run (the JVM starts once)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    from kitrain.spark import get_spark

    session = get_spark(
        "kitrain-tests",
        master="local[2]",
        scratch_dir=str(tmp_path_factory.mktemp("warehouse")),
        conf={"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2",
              "spark.ui.enabled": "false"},
    )
    yield session
    session.stop()
