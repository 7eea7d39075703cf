"""The converter on several processes: one per vCPU the Lambda function's memory buys.

Lambda gives a function CPU in proportion to its memory, one vCPU's worth per 1,769 MB and up to
six at 10,240 MB (register ``lambda.memory-cpu``). The conversion is CPU-bound Python, which
one process runs on one vCPU, so two worker processes at 3,538 MB convert twice the rows per
second for the same cost per row (at 3,008 MB, the default, 1.7 times).

No AWS here either, and nothing of the contract: the workers run ``movielens._RowConverter``,
the parent keeps everything else. The parent cuts the input into blocks of whole lines as the
single process does (``iter_text_blocks``), numbers their lines, and hands each block to an
idle worker; it takes the results back in the order it handed the blocks out, so the output,
the counts and the example line numbers are the single process's, byte for byte
(tests/unit/test_prepare_parallel.py). Each worker counts the users of its own blocks and hands
the counts over at the end, where the parent adds them up: the users and the users with two
interactions are exact; only their order (the batch users file's) is each worker's in turn,
not the file's.

Lambda has no ``/dev/shm`` (register ``lambda.multiprocessing``), so ``multiprocessing.Pool``
and ``Queue`` (POSIX semaphores) fail there with ``[Errno 38] Function not implemented``; a
``Process`` and a ``Pipe`` per worker need neither. A worker has one block at a time, so the
parent never blocks on a full pipe while the worker blocks on its reply. (Two blocks at a time,
with a receiving thread in the worker, was slower: the thread takes the GIL for every 64 KiB it
reads, and the converting thread waits for it each time.) Workers are forked (Python 3.14 made
forkserver the default, which would import the Lambda runtime's main module again) and do
nothing but convert: they close the parent's ends of the pipes they inherit and touch no client,
socket or file of the parent's.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import traceback
import tracemalloc
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice
from multiprocessing.connection import Connection
from typing import Any, Final

from movielens import (
    DELIMITERS,
    FORMAT_RATINGS_CSV,
    MAX_EXAMPLE_LINES,
    ConversionStats,
    _RowConverter,
    iter_text_blocks,
)

from contract.engines import FULL_VCPU_MEMORY_MB

# At most six vCPUs (10,240 MB, register lambda.memory-cpu).
MAX_WORKERS: Final = 6
# A worker hands its user counts over in pieces, so neither side holds them twice at once.
_USERS_PER_MESSAGE: Final = 10_000


def worker_count(memory_mb: int | None) -> int:
    """Processes to convert with at ``memory_mb`` (None: not in Lambda, one): the vCPUs' worth of CPU
    that memory buys, to the nearest whole one (3,008 MB, 1.7 vCPUs: two, which Lambda shows
    as two cores; 2,048 MB, 1.16: one)."""
    if not memory_mb:
        return 1
    return max(1, min(MAX_WORKERS, round(memory_mb / FULL_VCPU_MEMORY_MB)))


class ConversionWorkerError(RuntimeError):
    """A worker process failed or died; the run fails and no output is stored."""


class ConversionWorkers:
    """``count`` worker processes for one conversion: its format, threshold and deleted users.

    Creating them forks, so create them before any other thread runs: a fork copies only the
    thread that forks, and a lock another thread held at that moment (OpenSSL's, while the upload
    sends a part over TLS) would stay locked in the worker for ever. prepare_data starts them
    before the upload starts its threads; the workers never hash, log or touch a socket anyway.
    """

    def __init__(self, count: int, fmt: str, min_rating: float, excluded_users: frozenset[bytes]) -> None:
        self.count = count
        self.settings = (fmt, min_rating, excluded_users)
        delimiter, has_header = DELIMITERS[fmt], fmt == FORMAT_RATINGS_CSV
        context = multiprocessing.get_context("fork")
        self._pipes: list[Connection] = []
        self._processes: list[Any] = []
        try:
            for _ in range(count):
                ours, theirs = context.Pipe()
                process = context.Process(
                    target=_work,
                    # A forked worker holds copies of the parent's ends: it closes them, or it
                    # would never see the end of its input when the parent closes (or dies).
                    args=(theirs, [*self._pipes, ours], delimiter, has_header, min_rating, excluded_users),
                    name="convert-ratings",
                    daemon=True,
                )
                process.start()
                theirs.close()
                self._pipes.append(ours)
                self._processes.append(process)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> ConversionWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def convert(self, objects: Iterable[Iterable[bytes]], stats: ConversionStats) -> Iterator[bytes]:
        """The output pieces of every object's rows, as ``movielens.convert_objects`` yields them
        after its header, with ``stats`` counted the same way except the users: those come with
        ``count_users`` (after the upload, which then holds no part in memory). The workers stop
        if the conversion fails or is given up."""
        pipes, processes = self._pipes, self._processes
        try:
            # One block per worker at a time: neither side ever waits on the other's full pipe.
            busy: deque[int] = deque()
            idle = deque(range(self.count))
            for chunks in objects:
                number = 0  # line numbers start again in each object, as in the single process
                for block in iter_text_blocks(chunks):
                    if not idle:
                        worker = busy.popleft()
                        yield from _collect(pipes[worker], processes[worker], stats)
                        idle.append(worker)
                    worker = idle.popleft()
                    _hand(pipes[worker], processes[worker], number, block)
                    busy.append(worker)
                    number += block.count(b"\n") + 1
            while busy:
                worker = busy.popleft()
                yield from _collect(pipes[worker], processes[worker], stats)
        except BaseException:
            self.close()
            raise

    def count_users(self, stats: ConversionStats) -> None:
        """Add each worker's users and their interactions to ``stats`` (a piece at a time), then
        stop the workers."""
        try:
            for pipe, process in zip(self._pipes, self._processes, strict=True):
                _hand(pipe, process, None)
                while isinstance(message := _receive(pipe, process), tuple):
                    users, counts = message
                    stats.users_counted(zip(users.split(b"\n"), array("Q", counts), strict=True))
                if message["usersOverflowed"]:
                    stats.users_overflow()
                stats.worker_peak_bytes.append(message["peakBytes"])
        finally:
            self.close()

    def close(self) -> None:
        """Stop the workers (closing its pipe ends a worker's loop); idempotent."""
        for pipe in self._pipes:
            pipe.close()
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        self._pipes, self._processes = [], []


def _hand(pipe: Connection, process: Any, number: int | None, block: bytes = b"") -> None:
    """Send a worker a block (its first line's number, then its bytes as they are: a pickle
    would copy them on both sides), or None to stop; if it has stopped, raise what it said."""
    try:
        pipe.send(number)
        if number is not None:
            pipe.send_bytes(block)
    except OSError:
        _receive(pipe, process)  # its failure (it had no block in hand), or how it ended
        raise ConversionWorkerError("a conversion worker process stopped without a word") from None


def _receive(pipe: Connection, process: Any) -> Any:
    try:
        message = pipe.recv()
    except EOFError:
        process.join(timeout=5)
        raise ConversionWorkerError(
            f"a conversion worker process exited with code {process.exitcode} before it finished its block: "
            "if the function ran out of memory its log says so; run again, and if it dies again, set data.engine glue"
        ) from None
    if isinstance(message, str):
        raise ConversionWorkerError(f"a conversion worker process failed:\n{message}")
    return message


def _collect(pipe: Connection, process: Any, stats: ConversionStats) -> Iterator[bytes]:
    """Count one worker's result into ``stats`` and yield its output, if any."""
    counts, malformed_lines = _receive(pipe, process)
    out = pipe.recv_bytes()
    read, written, below, malformed, deleted = counts
    stats.rows_read += read
    stats.rows_written += written
    stats.rows_below_threshold += below
    stats.rows_of_deleted_users += deleted
    stats.rows_malformed += malformed
    room = MAX_EXAMPLE_LINES - len(stats.malformed_line_numbers)
    if room > 0:
        stats.malformed_line_numbers.extend(malformed_lines[:room])
    if out:
        yield out


def _work(
    pipe: Connection,
    parents_ends: list[Connection],
    delimiter: bytes,
    has_header: bool,
    min_rating: float,
    excluded_users: frozenset[bytes],
) -> None:
    """A worker: convert each block it is sent (its first line's number, then its bytes) until it
    is sent None; then hand over its users' counts and stop."""
    for end in parents_ends:
        end.close()
    if tracemalloc.is_tracing():
        # make bench-prepare's peak: this process's own allocations, not the parent's it inherited.
        tracemalloc.stop()
        tracemalloc.start()
    rows = _RowConverter(delimiter, has_header, min_rating, ConversionStats(), excluded_users)
    users = ConversionStats()  # this worker's users and their interactions, within the cap
    try:
        while (number := pipe.recv()) is not None:
            rows.number, block = number, pipe.recv_bytes()
            rows.stats = stats = ConversionStats()
            out, kept = rows.convert_lines(block)
            del block
            users.users_seen(kept)
            counts = (
                stats.rows_read,
                stats.rows_written,
                stats.rows_below_threshold,
                stats.rows_malformed,
                stats.rows_of_deleted_users,
            )
            pipe.send((counts, stats.malformed_line_numbers))
            pipe.send_bytes(out)
        counted = iter(users.user_counts())
        while piece := list(islice(counted, _USERS_PER_MESSAGE)):
            pipe.send((b"\n".join(user for user, _ in piece), array("Q", (n for _, n in piece)).tobytes()))
        peak = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else 0
        pipe.send({"usersOverflowed": users.users_overflowed, "peakBytes": peak})
    except (EOFError, OSError):
        return  # the parent closed its end (it gave up on this conversion): nothing to report to
    except BaseException:
        with contextlib.suppress(OSError):
            pipe.send(traceback.format_exc())
    finally:
        pipe.close()
