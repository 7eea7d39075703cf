"""The converter on several worker processes (lambdas/prepare_data/parallel_convert.py): the same
output, counts, example lines and user order as one process, failures that say what happened,
and the prepare_data handler sizing the workers by the function's memory. All data generated."""

from __future__ import annotations

import ast
import gzip
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

import pytest

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambdas" / "prepare_data"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_DIR))

import movielens  # noqa: E402
import parallel_convert  # noqa: E402
import prepare_data  # noqa: E402
from movielens import ConversionStats, NoUsableRowsError, convert_objects  # noqa: E402
from parallel_convert import ConversionWorkerError, worker_count  # noqa: E402

from simulator.cloud_assembly import LambdaFunction  # noqa: E402
from simulator.lambda_runtime import invoke_lambda  # noqa: E402

BUCKET = "pipeline-data-bucket"


def messy_ratings(fmt: str, seed: int) -> bytes:
    """Rows of every kind the contract names: plain, below the threshold, malformed, blank, headers
    again, CRLF, spaces, text ids, long timestamps, overlong lines, deleted users (7 and 12)."""
    sep = "\t" if fmt == "ml-100k" else ","
    ratings = ["0.5", "1", "3.5", "4", "4.0", "4.5", "5", "x", ""]
    lines = [] if fmt == "ml-100k" else ["userId,movieId,rating,timestamp"]
    for n in range(seed, seed + 4000):
        user = f"u-{n % 31}" if n % 97 == 0 else str(n % 53)
        lines.append(sep.join((user, f"0{n % 29}" if n % 5 else str(n), ratings[n % 9], str(10_000 + n))))
        if n % 211 == 0:
            lines.append("")
        if n % 307 == 0 and fmt == "ratings-csv":
            lines.append(" UserId , movieId,rating,timestamp\r")
        if n % 401 == 0:
            lines.append(sep.join(("5", "6", "4", "9" * 19)))
        if n % 503 == 0:
            lines.append(sep.join((" 8 ", "9", " 4.5 ", " 77 ")) + "\r")
        if n % 1009 == 0:
            lines.append("1" * 5000)
    return ("\n".join(lines) + "\n").encode()


def convert_all(objects: list[bytes], fmt: str, workers: int, chunk: int = 997) -> tuple[bytes, ConversionStats]:
    stats = ConversionStats()
    bodies = [(body[i : i + chunk] for i in range(0, len(body), chunk)) for body in objects]
    out = b"".join(convert_objects(bodies, fmt, 4.0, stats, excluded_users=frozenset({b"7", b"12"}), workers=workers))
    return out, stats


def observable(stats: ConversionStats) -> tuple[Any, ...]:
    return (
        stats.rows_read,
        stats.rows_written,
        stats.rows_below_threshold,
        stats.rows_malformed,
        stats.rows_of_deleted_users,
        stats.malformed_line_numbers,
        stats.bytes_written,
        stats.sha256,
        stats.users,
        stats.users_with_two_or_more,
        sorted(stats.user_ids()),
        stats.warnings(),
    )


@pytest.mark.parametrize("fmt", ["ml-100k", "ratings-csv"])
@pytest.mark.parametrize("workers", [2, 3])
def test_workers_give_one_process_output_and_counts(fmt: str, workers: int) -> None:
    objects = [messy_ratings(fmt, 0), messy_ratings(fmt, 50_000), messy_ratings(fmt, 7)]
    out, stats = convert_all(objects, fmt, 1)
    parallel_out, parallel_stats = convert_all(objects, fmt, workers)
    assert parallel_out == out
    assert observable(parallel_stats) == observable(stats)
    # The data really has every kind of row, so the comparison above covers them.
    assert stats.rows_malformed > 50 and stats.rows_of_deleted_users > 50 and stats.rows_below_threshold > 1000
    assert len(parallel_stats.worker_peak_bytes) == workers
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize(("cap", "one_user_worker"), [(30, None), (70, None), (100, None), (30, 0), (30, 1)])
def test_the_cap_on_counted_users_holds_across_workers(
    monkeypatch: pytest.MonkeyPatch, cap: int, one_user_worker: int | None
) -> None:
    """Blocks of one user each, handed to two workers in turn: with 98 users, past a cap of 30
    each worker overflows, past 70 only the sum of theirs, and a cap of 100 holds them all. When
    one worker's blocks are all of user 1, only the other overflows a cap of 30."""
    monkeypatch.setattr(movielens, "MAX_TRACKED_USERS", cap)
    block = 4096
    users = [1 if n % 2 == one_user_worker else n for n in range(100)]
    data = b"".join(
        b"".join(b"%d\t%d\t5\t%d\n" % (user, item, 10**9 + item) for item in range(200)).ljust(block - 1, b" ") + b"\n"
        for user in users
    )
    _, stats = convert_all([data], "ml-100k", 1, chunk=block)
    _, parallel_stats = convert_all([data], "ml-100k", 2, chunk=block)
    assert observable(parallel_stats) == observable(stats)
    assert stats.users == (None if cap < len(set(users) - {7, 12}) else 98)  # users 7 and 12 asked to be deleted


def test_no_usable_rows_fails_with_the_same_words_on_workers() -> None:
    data = b"".join(b"%d\t%d\t1\t100\n" % (n, n) for n in range(3000)) + b"bad\n"
    with pytest.raises(NoUsableRowsError) as one:
        convert_all([data], "ml-100k", 1)
    with pytest.raises(NoUsableRowsError) as two:
        convert_all([data], "ml-100k", 2)
    assert str(two.value) == str(one.value)
    assert "3001 rows read, 1 malformed (first at line 3001), 2998 below minRating 4" in str(two.value)


def test_a_worker_that_raises_fails_the_conversion_with_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    real = movielens._RowConverter.convert_lines

    def fails_on_line_20000(self: Any, block: bytes) -> Any:
        if self.number < 20_000 <= self.number + block.count(b"\n") + 1:
            raise ValueError("cannot convert this block")
        return real(self, block)

    monkeypatch.setattr(movielens._RowConverter, "convert_lines", fails_on_line_20000)
    data = b"".join(b"%d\t%d\t5\t100\n" % (n, n) for n in range(40_000))
    with pytest.raises(ConversionWorkerError, match=r"(?s)a conversion worker process failed:.*ValueError: cannot"):
        convert_all([data], "ml-100k", 2, chunk=64 * 1024)
    assert multiprocessing.active_children() == []


def test_a_worker_that_dies_fails_the_conversion_with_its_exit_code(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(movielens._RowConverter, "convert_lines", lambda self, block: os._exit(9))
    with pytest.raises(ConversionWorkerError, match="exited with code 9 before it finished its block"):
        convert_all([b"1\t2\t5\t100\n" * 100], "ml-100k", 2)
    assert multiprocessing.active_children() == []


def test_a_conversion_given_up_midway_leaves_no_worker_behind() -> None:
    data = b"".join(b"%d\t%d\t5\t100\n" % (n, n) for n in range(40_000))
    pieces = convert_objects(
        [[data[i : i + 4096] for i in range(0, len(data), 4096)]], "ml-100k", 4, ConversionStats(), workers=2
    )
    next(pieces), next(pieces)
    pieces.close()  # what the upload does when it fails
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize(
    ("memory_mb", "workers"),
    [(None, 1), (128, 1), (1769, 1), (2048, 1), (3008, 2), (3538, 2), (5307, 3), (10_240, 6), (20_000, 6)],
)
def test_one_worker_per_vcpu_the_memory_buys_to_the_nearest(memory_mb: int | None, workers: int) -> None:
    assert worker_count(memory_mb) == workers


def test_the_handler_converts_on_the_workers_its_memory_buys(s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = b"".join(
        b"%d,%d,%s,%d\n" % (n % 4001, n % 3001, b"4.5" if n % 3 else b"2", 10**9 + n) for n in range(60_000)
    )
    s3.put_object(
        Bucket=BUCKET,
        Key="raw/ratings/big.csv.gz",
        Body=gzip.compress(b"userId,movieId,rating,timestamp\n" + rows, mtime=0),
    )
    s3.put_object(Bucket=BUCKET, Key="raw/ratings/small.csv", Body=b"userId,movieId,rating,timestamp\n1,2,5,3\n")
    events: list[str] = []
    real_start, real_upload = parallel_convert.ConversionWorkers.__init__, prepare_data.upload_stream

    def start(self: Any, count: int, *args: Any) -> None:
        events.append(f"fork {count}")
        real_start(self, count, *args)

    def upload(*args: Any) -> None:
        events.append("upload")  # s3transfer's threads start in here: the fork came before
        real_upload(*args)

    monkeypatch.setattr(parallel_convert.ConversionWorkers, "__init__", start)
    monkeypatch.setattr(prepare_data, "upload_stream", upload)
    results = {}
    for memory in ("1769", "3008"):
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory)
        key = f"training/{memory}/interactions.csv"
        event = {"bucket": BUCKET, "rawKey": "raw/ratings/", "format": "ratings-csv", "minRating": 4, "outputKey": key}
        result = prepare_data.handler(event, s3=s3)
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        results[memory] = (body, result["rowsWritten"], result["users"], result["sha256"])
        assert result["workers"] == {"1769": 1, "3008": 2}[memory]
    assert events == ["upload", "fork 2", "upload"]
    assert results["3008"] == results["1769"]
    assert results["3008"][1] == 40_001


def test_a_small_input_is_converted_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "10240")
    small = prepare_data.RawObject("raw/ratings/a.csv", prepare_data.READ_CHUNK_BYTES, "etag")
    assert prepare_data.conversion_workers([small]) == 1
    assert prepare_data.conversion_workers([small, small]) == 6


def test_workers_use_nothing_lambda_lacks() -> None:
    """Register lambda.multiprocessing: no /dev/shm in Lambda, so of multiprocessing only
    processes and pipes (no Pool, Queue, Lock, Manager, shared memory)."""
    tree = ast.parse((LAMBDA_DIR / "parallel_convert.py").read_text())
    used = {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
        if node.value.id in {"multiprocessing", "context"}
    }
    imported = {
        (node.module, alias.name)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(("multiprocessing", "concurrent"))
        for alias in node.names
    }
    assert used == {"get_context", "Pipe", "Process"}
    assert imported == {("multiprocessing.connection", "Connection")}


def test_the_simulated_runtime_tells_a_function_its_memory(tmp_path: Path) -> None:
    (tmp_path / "memory_probe.py").write_text(
        "import os\n"
        "def handler(event, context):\n"
        "    return [os.environ['AWS_LAMBDA_FUNCTION_MEMORY_SIZE'], context.memory_limit_in_mb]\n"
    )
    probe = LambdaFunction("Probe", "memory_probe.handler", tmp_path, 60, {}, memory_mb=3538)
    assert invoke_lambda(probe, {}, arn="arn:aws:lambda:eu-west-1:123456789012:function:probe") == ["3538", 3538]
    assert "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" not in os.environ
