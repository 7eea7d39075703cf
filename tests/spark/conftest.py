"""The Spark level: tests that run the Glue job's script with local Spark (make test-spark).

They need the interpreter of requirements-spark.txt and Java (`make install-spark` provides both);
without them every test here is skipped with the reason, so that `make test` never depends on Spark.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.glue import spark_python


@pytest.fixture(scope="session")
def spark() -> Path:
    python = spark_python()
    if python is None:
        pytest.skip("no local Spark: run `make install-spark` (pyspark 3.5.6 and a Java runtime)")
    return python
