#!/usr/bin/env python3
"""Benchmark the streaming converter of lambdas/prepare_data against a naive read-all baseline.

A benchmark, not a test: timings depend on the machine. It generates synthetic u.data rows
on the fly (never MovieLens itself) and prints rows/s and the tracemalloc peak of:

  streaming  convert() over 1 MiB chunks, output drained through the Lambda's reader in
             8 MiB parts (what upload_fileobj does), nothing kept
  naive      body.read() of the whole object, split into lines, list of output rows, join
  movies     the movie file's streaming conversion (movies.csv, ml-32m's 87,585 movies by
             default), as a run with an items dataset does after the ratings; its baseline
             movies-naive reads the whole file and builds every row before writing

Throughput is measured in a run without tracemalloc (it slows Python down ~2x); the peak in
a second run with it.

    python tools/bench_prepare_data.py --millions 2
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

# The handler folder, and the repository root for contract/ (the handlers' Lambda layer).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambdas" / "prepare_data"))

from movielens import ConversionStats, convert
from movies import ItemStats, convert_items
from prepare_data import MIB, _GeneratorReader

CHUNK_BYTES = 1 * MIB
PART_BYTES = 8 * MIB
MIN_RATING = 4.0


def in_chunks(lines: Iterable[bytes]) -> Iterator[bytes]:
    """Lines joined into ~CHUNK_BYTES pieces, as GetObject's body hands them over."""
    batch: list[bytes] = []
    size = 0
    for line in lines:
        batch.append(line)
        size += len(line)
        if size >= CHUNK_BYTES:
            yield b"".join(batch)
            batch, size = [], 0
    if batch:
        yield b"".join(batch)


def generate_chunks(rows: int) -> Iterator[bytes]:
    """u.data rows; ratings 1..5 so ~40% pass the threshold."""
    return in_chunks(
        b"%d\t%d\t%d\t%d\n" % (n % 943 + 1, n * 7 % 1682 + 1, n % 5 + 1, 874724710 + n) for n in range(rows)
    )


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


GENRES = ("Action", "Adventure", "Comedy", "Drama", "Sci-Fi", "Thriller", "Romance", "Documentary")


def generate_movies(movies: int) -> Iterator[bytes]:
    """movies.csv rows: quoted titles with commas, years, |-joined genres, some without genres."""

    def genres(n: int) -> str:
        return "|".join(GENRES[(n + k) % len(GENRES)] for k in range(n % 3 + 1)) if n % 50 else "(no genres listed)"

    rows = (f'{n},"Generated film, part {n} ({1950 + n % 70})",{genres(n)}\n'.encode() for n in range(1, movies + 1))
    return in_chunks(itertools.chain([b"movieId,title,genres\n"], rows))


def movies_streaming(movies: int) -> int:
    stats = ItemStats()
    reader = _GeneratorReader(convert_items(generate_movies(movies), "movies.csv", stats))
    while reader.read(PART_BYTES):
        pass
    return stats.items_written


def movies_naive(movies: int) -> int:
    """Read the whole file, keep every output row, join: the naive way for the movie file."""
    text = b"".join(generate_movies(movies)).decode()
    stats = ItemStats()
    rows = list(convert_items([text.encode()], "movies.csv", stats))
    return len(b"".join(rows).splitlines()) - 1


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
    parser.add_argument("--movies", type=int, default=87_585, help="movies in the movie file (default: ml-32m's)")
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
    print(f"{args.movies:,} movies.csv rows")
    movies = {
        name: measure(fn, args.movies) for name, fn in (("movies", movies_streaming), ("movies-naive", movies_naive))
    }
    for name, (rate, peak, written) in movies.items():
        print(f"{name:12} {rate:10,.0f} {peak:10.1f} {written:12,}")
    bound = max(results["streaming"][1], movies["movies"][1])
    print(f"ratings and movies, one run (the two conversions run one after the other): peak {bound:.1f} MiB")
    if movies["movies"][2] != movies["movies-naive"][2]:
        print("error: the two movie paths disagree on the items written", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
