#!/usr/bin/env python3
"""Benchmark data preparation: the Lambda converter, pandas (the notebook sample's way) and local
Spark running the Glue job's script, on the same generated ratings, in one run.

A benchmark, not a test: timings depend on the machine. It writes generated ratings.csv rows (the
ml-25m layout: half-star ratings, 162,541 users, 59,047 movies; never MovieLens itself) to a
file under --workdir once, then converts that file with each engine and prints rows/s and the
peak memory:

  lambda   convert_objects() over the file read in 1 MiB chunks (as GetObject's body hands
           them over), drained through the Lambda's upload reader in 8 MiB parts: first in one
           process (one vCPU, 1,769 MB), then with the worker processes the function's
           default memory gives it (lambdas/prepare_data/parallel_convert.py: two at 3,008 MB),
           each on a whole core of this machine (as at 3,538 MB); the line after the verdicts
           estimates the rate at the default memory, where the workers share 1.7 vCPUs
  pandas   read_csv of the whole file, the rating filter, to_csv: what the notebook did
  spark    glue_jobs/prepare_interactions.py with local Spark on every core of this machine
           (when pyspark and Java are installed: `make install-spark`)

Throughput comes from a run without tracemalloc (it slows Python down); the Python engines'
peak is tracemalloc's in a second run (numpy's arrays count, as they are traced; with worker
processes, the parent's peak plus each worker's, though they need not peak at once). Spark's is
the peak resident size of its JVM. It ends with what the numbers decide: the threshold above
which `data.engine: auto` hands the conversion to Glue, and the Lambda's ceiling.

    python tools/bench_prepare.py --millions 25
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The handler folder, and the repository root for contract/ (the handlers' Lambda layer).
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "lambdas" / "prepare_data"))

from movielens import ConversionStats, convert_objects
from parallel_convert import ConversionWorkers, worker_count
from prepare_data import MIB, READ_CHUNK_BYTES, _GeneratorReader

from contract.engines import (
    FULL_VCPU_MEMORY_MB,
    GLUE_THRESHOLD_BYTES,
    LAMBDA_BUDGET_SECONDS,
    lambda_ceiling_rows,
    lambda_rows_per_second,
)
from contract.functions import PREPARE_DATA
from simulator.glue import spark_python

PART_BYTES = 8 * MIB
MIN_RATING = 4.0
HALF_STARS = [b"0.5", b"1.0", b"1.5", b"2.0", b"2.5", b"3.0", b"3.5", b"4.0", b"4.5", b"5.0"]
GLUE_SCRIPT = ROOT / "glue_jobs" / "prepare_interactions.py"


def generated_file(rows: int, workdir: Path) -> Path:
    """ratings.csv with ``rows`` rows, written once and reused by later runs."""
    path = workdir / f"ratings-{rows}.csv"
    if path.exists():
        return path
    workdir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        out.write(b"userId,movieId,rating,timestamp\n")
        for start in range(0, rows, 100_000):
            out.write(
                b"".join(
                    b"%d,%d,%s,%d\n"
                    % (n * 7919 % 162_541 + 1, n * 104_729 % 59_047 + 1, HALF_STARS[n % 10], 789_652_009 + n)
                    for n in range(start, min(rows, start + 100_000))
                )
            )
    partial.rename(path)
    return path


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as raw:
        while chunk := raw.read(READ_CHUNK_BYTES):
            yield chunk


def lambda_engine(workers: int) -> Callable[[Path], tuple[int, int]]:
    """The Lambda's path on ``workers`` processes: chunks -> converter -> reader -> parts of
    PART_BYTES, discarded. Returns (rows written, the workers' peak traced bytes added up)."""

    def engine(path: Path) -> tuple[int, int]:
        stats = ConversionStats()
        # As prepare_data does: workers started first, their users counted after the upload.
        pool = ConversionWorkers(workers, "ratings-csv", MIN_RATING, frozenset()) if workers > 1 else None
        with pool or contextlib.nullcontext():
            pieces = convert_objects([file_chunks(path)], "ratings-csv", MIN_RATING, stats, workers=pool or 1)
            reader = _GeneratorReader(pieces)
            while reader.read(PART_BYTES):
                pass
            if pool is not None:
                pool.count_users(stats)
        return stats.rows_written, sum(stats.worker_peak_bytes)

    return engine


def pandas_engine(path: Path) -> tuple[int, int]:
    """The notebook sample's way: the whole file into a DataFrame, filtered, written as CSV."""
    import pandas as pd

    data = pd.read_csv(path)
    data = data[data["rating"] >= MIN_RATING]
    data = data[["userId", "movieId", "timestamp"]]
    data.columns = ["USER_ID", "ITEM_ID", "TIMESTAMP"]
    out = io.StringIO()
    data.to_csv(out, index=False)
    return len(data), 0


def measure(engine: Callable[[Path], tuple[int, int]], path: Path, rows: int) -> tuple[float, float, int]:
    """(rows read per second, tracemalloc peak in MiB with the workers', rows written)."""
    started = time.perf_counter()
    written, _ = engine(path)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    _, workers_peak = engine(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return rows / elapsed, (peak + workers_peak) / MIB, written


def spark_engine(path: Path, rows: int, workdir: Path) -> tuple[float, float, int] | str:
    """The Glue script under local Spark in a child process: (rows/s, JVM peak RSS MiB, written), or why not."""
    python = spark_python()
    if python is None:
        return "no pyspark or no Java runtime (make install-spark)"
    root = Path(tempfile.mkdtemp(dir=workdir))
    (root / "raw").mkdir()
    os.link(path, root / "raw" / path.name)
    (root / "objects.txt").write_text(f"raw/{path.name}\n")
    command = [
        str(python),
        str(GLUE_SCRIPT),
        "--data_root",
        root.as_uri(),
        "--objects_key",
        "objects.txt",
        "--format",
        "ratings-csv",
        "--min_rating",
        str(MIN_RATING),
        "--output_prefix",
        "out/interactions/",
        "--stats_prefix",
        "out/stats/",
        "--local",
        "true",
    ]
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    elapsed = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    stats_file = next((root / "out" / "stats").glob("part-*"))
    written = json.loads(stats_file.read_text().splitlines()[0])["rowsWritten"]
    shutil.rmtree(root)
    return rows / elapsed, peak_kib / 1024, int(written)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--millions", type=float, default=25.0, help="rows, in millions (default: 25, ml-25m's size)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "bench-prepare")
    args = parser.parse_args(argv)
    rows = int(args.millions * 1_000_000)
    path = generated_file(rows, args.workdir)
    size = path.stat().st_size
    print(f"{rows:,} ratings.csv rows, {size / MIB:,.0f} MiB, minRating {MIN_RATING:g}, {os.cpu_count()} cores")
    print(f"{'':10} {'rows/s':>12} {'peak MiB':>10} {'written':>12}")
    sys.stdout.flush()
    memory_mb = PREPARE_DATA.memory_mb
    workers = min(worker_count(memory_mb), os.cpu_count() or 1)
    engines: list[tuple[str, Callable[[Path], tuple[int, int]]]] = [("lambda x1", lambda_engine(1))]
    if workers > 1:
        engines.append((f"lambda x{workers}", lambda_engine(workers)))
    engines.append(("pandas", pandas_engine))
    results: dict[str, tuple[float, float, int]] = {}
    for name, engine in engines:
        results[name] = measure(engine, path, rows)
        rate, peak, written = results[name]
        print(f"{name:10} {rate:12,.0f} {peak:10,.1f} {written:12,}", flush=True)
    spark = spark_engine(path, rows, args.workdir)
    if isinstance(spark, str):
        print(f"{'spark':10} skipped: {spark}")
    else:
        rate, peak, written = spark
        print(f"{'spark':10} {rate:12,.0f} {peak:10,.1f} {written:12,}   (JVM peak resident size)")
        results["spark"] = spark
    written_counts = {written for _, _, written in results.values()}
    if len(written_counts) != 1:
        print(f"error: the engines disagree on the rows written: {written_counts}", file=sys.stderr)
        return 1
    pandas = results["pandas"]
    for count in (1, workers) if workers > 1 else (1,):
        ours = results[f"lambda x{count}"]
        speed, memory = ours[0] / pandas[0], ours[1] / pandas[1]
        met = speed >= 1 and memory <= 0.05
        print(
            f"[{'met' if met else 'NOT met'}] lambda x{count} ({count} whole vCPU{'s' if count > 1 else ''}, as at "
            f"{count * FULL_VCPU_MEMORY_MB} MB) vs pandas: {speed:.2f}x the throughput at {memory:.1%} of the peak "
            "memory (target >= 1.00x at <= 5%)"
        )
    bytes_per_row = size / rows
    # The workers had whole cores here; at memory_mb the function has memory_mb / 1769 vCPUs' worth.
    rate = lambda_rows_per_second(results[f"lambda x{workers}"][0], workers, memory_mb)
    ceiling = lambda_ceiling_rows(rate)
    vcpus = memory_mb / FULL_VCPU_MEMORY_MB
    print(
        f"lambda at {memory_mb} MB ({vcpus:.2f} vCPU, {workers} worker process{'es' if workers > 1 else ''}): "
        f"about {rate:,.0f} rows/s ({min(1.0, vcpus / workers):.2f} x lambda x{workers}, an estimate: its processes "
        f"had whole cores here), {rate / pandas[0]:.2f}x pandas; about {ceiling / 1e6:,.0f} "
        f"million rows in {LAMBDA_BUDGET_SECONDS} s (half its 15-minute timeout), "
        f"{ceiling * bytes_per_row / 1024**3:,.1f} GiB of ratings.csv at {bytes_per_row:.1f} bytes a row"
    )
    threshold_rows = GLUE_THRESHOLD_BYTES / bytes_per_row
    verdict = "within" if threshold_rows <= ceiling else "ABOVE"
    print(
        f"data.engine auto: Glue above {GLUE_THRESHOLD_BYTES / 1024**3:g} GiB of input (about "
        f"{threshold_rows / 1e6:,.0f} million rows): {verdict} the Lambda's ceiling measured here; this file "
        f"({size / MIB:,.0f} MiB) goes to {'glue' if size > GLUE_THRESHOLD_BYTES else 'lambda'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
