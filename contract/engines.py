"""Which engine converts a run's ratings: the Lambda, or the Glue Spark job above a threshold.

The numbers come from `make bench-prepare` (tools/bench_prepare.py), quoted in
docs/data-at-scale.md: the Lambda converter's throughput at its memory, the time it may spend,
and the input size at which ``data.engine: auto`` hands the work to Glue.
"""

from __future__ import annotations

from typing import Final

ENGINES: Final = ("auto", "lambda", "glue")
# Glue 5.0 and 5.1 run Spark 3.5 on Python 3.11 and Java 17 (register glue.versions); the job's
# script is tested with pyspark 3.5.6 (requirements-spark.txt), 5.1's release.
GLUE_VERSIONS: Final = ("5.1", "5.0")
GLUE_WORKER_TYPES: Final = ("G.1X", "G.2X", "G.4X", "G.8X")
# Lambda gives a function one vCPU's worth of CPU per 1,769 MB (register lambda.memory-cpu).
FULL_VCPU_MEMORY_MB: Final = 1769
# The conversion may take half the function's 15-minute timeout: reading and writing S3, the
# movie file and the users file share the rest, and a slow day must not time out.
LAMBDA_BUDGET_SECONDS: Final = 450
# `auto` runs the Glue job above this many bytes of raw input (gzip objects count at
# GZIP_EXPANSION times their stored size). make bench-prepare measured the Lambda converter at
# 1.8 to 2.0 million rows/s on two worker processes with two whole cores (ml-25m's layout, 26
# bytes a row); at the default 3,008 MB, 1.7 vCPUs, that is about 1.6 million: 4 GiB is about
# 165 million rows, under two minutes, and the ceiling within LAMBDA_BUDGET_SECONDS about 18 GiB.
# The margin of about 4.5 is for the S3 reads the benchmark does not make.
GLUE_THRESHOLD_BYTES: Final = 4 * 1024**3
# ratings.csv compresses about 4.5 to 1 with gzip -6 (make bench-prepare measures it).
GZIP_EXPANSION: Final = 5


def lambda_rows_per_second(measured: float, measured_vcpus: int, memory_mb: int) -> float:
    """The converter's rate at ``memory_mb``, from ``measured`` on ``measured_vcpus`` whole cores
    (one per worker process): the function has ``memory_mb / 1769`` vCPUs' worth of CPU, which
    its workers share when that is less than one each."""
    return measured * min(1.0, memory_mb / FULL_VCPU_MEMORY_MB / measured_vcpus)


def lambda_ceiling_rows(rows_per_second: float) -> float:
    """Rows the Lambda converts within LAMBDA_BUDGET_SECONDS at ``rows_per_second``."""
    return rows_per_second * LAMBDA_BUDGET_SECONDS


def input_bytes(sizes: list[tuple[str, int]]) -> int:
    """The uncompressed size a conversion reads: gzip objects at GZIP_EXPANSION times their size."""
    return sum(size * GZIP_EXPANSION if key.endswith(".gz") else size for key, size in sizes)


def describe_size(size: float) -> str:
    """A byte count as people read it: 34 bytes, 12.3 MiB, 8.10 GiB."""
    if size < 1024**2:
        return f"{size:,.0f} bytes"
    if size < 1024**3:
        return f"{size / 1024**2:,.1f} MiB"
    return f"{size / 1024**3:,.2f} GiB"


# Step Functions waits for the job a little longer than the job's own timeout: Glue may queue a
# run before it starts (job run queuing), and a job that times out should fail with Glue's TIMEOUT.
GLUE_START_ALLOWANCE_SECONDS: Final = 15 * 60


def glue_state_timeout_seconds(timeout_minutes: int) -> int:
    """The "Convert with Glue" state's TimeoutSeconds for a job of ``timeout_minutes``."""
    return timeout_minutes * 60 + GLUE_START_ALLOWANCE_SECONDS


# data.importMode (register personalize.import.incremental, personalize.import.quotas).
IMPORT_MODES: Final = ("FULL", "INCREMENTAL")
# An INCREMENTAL interactions import takes at most 1 GB; the new objects' size is compared with it
# (gzip objects at GZIP_EXPANSION times their size, like the engine's threshold).
INCREMENTAL_IMPORT_MAX_BYTES: Final = 1_000_000_000
