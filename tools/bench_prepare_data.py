#!/usr/bin/env python3
"""Benchmark the streaming converter of lambdas/prepare_data against a naive read-all baseline.

A benchmark, not a test: timings depend on the machine. It generates synthetic u.data rows
on the fly (never MovieLens itself) and prints rows/s and the tracemalloc peak of:

  streaming  convert() over 1 MiB chunks, output drained through the Lambda's reader in
             8 MiB parts (what upload_fileobj does), nothing kept
  naive      body.read() of the whole object, split into lines, list of output rows, join

Throughput is measured in a run without tracemalloc (it slows Python down ~2x); the peak in
a second run with it.

    python tools/bench_prepare_data.py --millions 2
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambdas" / "prepare_data"))

from movielens import ConversionStats, convert
from prepare_data import MIB, _GeneratorReader

CHUNK_BYTES = 1 * MIB
PART_BYTES = 8 * MIB
MIN_RATING = 4.0


def generate_chunks(rows: int) -> Iterator[bytes]:
    """u.data rows in ~1 MiB chunks; ratings 1..5 so ~40% pass the threshold."""
    batch: list[bytes] = []
    size = 0
    for n in range(rows):
        line = b"%d\t%d\t%d\t%d\n" % (n % 943 + 1, n * 7 % 1682 + 1, n % 5 + 1, 874724710 + n)
        batch.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)


def streaming(rows: int) -> int:
    """The Lambda's path: generator -> reader -> parts of PART_BYTES, discarded."""
    stats = ConversionStats()
    reader = _GeneratorReader(convert(generate_chunks(rows), "ml-100k", MIN_RATING, stats))
    while reader.read(PART_BYTES):
        pass
    return stats.rows_written


def naive(rows: int) -> int:
    """What a first version usually does: read everything, build every row, join."""
    data = b"".join(generate_chunks(rows))  # stands in for get_object()["Body"].read()
    text = data.decode("utf-8")
    out = ["USER_ID,ITEM_ID,TIMESTAMP"]
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) == 4 and float(fields[2]) >= MIN_RATING:
            out.append(f"{fields[0]},{fields[1]},{int(fields[3])}")
    body = ("\n".join(out) + "\n").encode("utf-8")
    return len(out) - 1 if body else 0


def measure(function: Callable[[int], int], rows: int) -> tuple[float, float, int]:
    """(rows per second, tracemalloc peak in MiB, rows written)."""
    started = time.perf_counter()
    written = function(rows)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    function(rows)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return rows / elapsed, peak / MIB, written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--millions", type=float, default=2.0, help="input rows, in millions (default: 2)")
    args = parser.parse_args(argv)
    rows = int(args.millions * 1_000_000)
    print(f"{rows:,} u.data rows (~{rows * 26 / MIB:.0f} MiB), minRating {MIN_RATING:g}")
    print(f"{'':10} {'rows/s':>12} {'peak MiB':>10} {'written':>12}")
    results = {name: measure(fn, rows) for name, fn in (("streaming", streaming), ("naive", naive))}
    for name, (rate, peak, written) in results.items():
        print(f"{name:10} {rate:12,.0f} {peak:10.1f} {written:12,}")
    if results["streaming"][2] != results["naive"][2]:
        print("error: the two paths disagree on the rows written", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
