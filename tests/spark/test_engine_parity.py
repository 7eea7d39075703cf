"""One conversion contract, two engines: the Glue job's script under local Spark writes the same
rows, and reports the same counts, as the Lambda's converter, on generated data that has both
formats' quirks (lambdas/prepare_data/movielens.py states the contract)."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambdas" / "prepare_data"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_DIR))

from movielens import ConversionStats, NoUsableRowsError, convert_objects  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[2] / "glue_jobs" / "prepare_interactions.py"
EXCLUDED = ["7", " 0042"]


def files(fmt: str) -> dict[str, bytes]:
    """Several files under one prefix: headers, blank lines, bad rows, ids with leading zeros, CRLF,
    gzip, numbers at the contract's edges; a user who asked to be deleted."""
    d = "\t" if fmt == "ml-100k" else ","
    header = "userId,movieId,rating,timestamp\n" if fmt == "ratings-csv" else ""

    def rows(lines: list[str]) -> bytes:
        return (header + "".join(f"{line}\n" for line in lines)).encode()

    first = rows(
        [
            d.join(("1", "10", "5", "100")),
            d.join(("001", "010", "4.0", "0200")),  # ids keep their zeros, the timestamp loses its own
            d.join(("2", "11", "3.5", "300")),  # below 4
            "",
            "   ",
            d.join(("2", "12", "4.5", "301")),
            d.join(("3", "13", "nan", "302")),  # malformed: not a number
            d.join(("3", "13", "4_5", "302")),  # malformed: Python's float would take it
            d.join(("3", "14", "4", "-5")),  # malformed: negative
            d.join(("3", "15", "4", "9223372036854775808")),  # malformed: past a long
            d.join(("3", "16", "4", "9223372036854775807")),
            d.join(("a b", "17", "5", "303")),  # malformed: space inside an id
            d.join((" 4 ", " 18 ", " 4.5 ", " 304 ")),  # spaces around fields are trimmed
            d.join(("4", "19", "5")),  # malformed: three fields
            d.join(("4", "19", "5", "305", "x")),  # malformed: five fields
            d.join(("x" * 257, "20", "5", "306")),  # malformed: id over 256 bytes
            d.join(("usér", "21", ".5e1", "307")),  # UTF-8 ids; 5.0
            d.join(("7", "22", "5", "308")),  # a deleted user
            d.join(("0042", "23", "5", "309")),  # deleted too (the request has spaces around it)
            d.join(("5", "24", "1e999", "310")),  # malformed: overflows to infinity
        ]
    )
    second = header.replace("\n", "\r\n") + "".join(f"{d.join(('6', str(i), '5', str(i)))}\r\n" for i in range(40))
    third = rows([d.join((str(u), str(u * 3 % 17), str(u % 5 + 1), str(1000 + u))) for u in range(300)])
    return {
        "raw/day-1.txt": first,
        "raw/day-2.txt.gz": gzip.compress(second.encode()),
        "raw/late/day-3.txt": third,
    }


def lambda_engine(objects: dict[str, bytes], fmt: str) -> tuple[list[str], dict[str, int]]:
    stats = ConversionStats()
    bodies = [[gzip.decompress(body) if key.endswith(".gz") else body] for key, body in objects.items()]
    out = b"".join(
        convert_objects(bodies, fmt, 4.0, stats, excluded_users=frozenset(u.strip().encode() for u in EXCLUDED))
    )
    lines = out.decode().splitlines()
    assert lines[0] == "USER_ID,ITEM_ID,TIMESTAMP"
    counts = {
        "rowsRead": stats.rows_read,
        "rowsWritten": stats.rows_written,
        "rowsBelowThreshold": stats.rows_below_threshold,
        "rowsMalformed": stats.rows_malformed,
        "rowsOfDeletedUsers": stats.rows_of_deleted_users,
        "users": stats.users or 0,
        "usersWithTwoOrMoreInteractions": stats.users_with_two_or_more or 0,
    }
    return sorted(lines[1:]), counts


def spark_engine(
    spark: Path, root: Path, objects: dict[str, bytes], fmt: str, excluded: bool = True
) -> tuple[list[str], dict[str, int]]:
    for key, body in objects.items():
        (root / key).parent.mkdir(parents=True, exist_ok=True)
        (root / key).write_bytes(body)
    (root / "objects.txt").write_text("".join(f"{key}\n" for key in objects))
    (root / "excluded.txt").write_text("".join(f"{user}\n" for user in EXCLUDED))
    arguments = {
        "--data_root": root.as_uri(),
        "--objects_key": "objects.txt",
        "--format": fmt,
        "--min_rating": "4",
        "--output_prefix": "out/interactions/",
        "--stats_prefix": "out/stats/",
        "--excluded_users_key": "excluded.txt" if excluded else "",
        "--users_prefix": "out/users/",
        "--local": "true",
        "--JOB_ID": "ignored, as Glue's own arguments are",
    }
    command = [str(spark), str(SCRIPT)] + [part for pair in arguments.items() for part in pair]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr[-3000:]
    parts = sorted((root / "out" / "interactions").glob("part-*.csv"))
    rows: list[str] = []
    for part in parts:
        lines = part.read_text().splitlines()
        assert lines[0] == "USER_ID,ITEM_ID,TIMESTAMP", part  # every part file has the header
        rows += lines[1:]
    assert not list((root / "out" / "interactions").glob("_SUCCESS"))
    (stats_file,) = (root / "out" / "stats").glob("part-*")
    counts = json.loads(stats_file.read_text())
    assert counts.pop("objects") == len(objects)
    users = [
        json.loads(line)["userId"]
        for f in (root / "out" / "users").glob("part-*.json")
        for line in f.read_text().splitlines()
    ]
    assert sorted(users) == sorted({row.split(",")[0] for row in rows})
    return sorted(rows), counts


@pytest.mark.parametrize("fmt", ["ml-100k", "ratings-csv"])
def test_both_engines_write_the_same_rows_and_counts(spark: Path, tmp_path: Path, fmt: str) -> None:
    objects = files(fmt)
    expected_rows, expected_counts = lambda_engine(objects, fmt)
    rows, counts = spark_engine(spark, tmp_path, objects, fmt)
    assert counts == expected_counts
    assert rows == expected_rows
    # The data has every case: the contract is exercised, not only agreed on.
    assert all(counts[key] > 0 for key in ("rowsBelowThreshold", "rowsMalformed", "rowsOfDeletedUsers"))
    assert "001,010,200" in rows and "4,18,304" in rows and "usér,21,307" in rows


def test_no_usable_row_fails_the_job_with_the_lambdas_words(spark: Path, tmp_path: Path) -> None:
    objects = {"raw/bad.txt": b"1,2,4,100\n3,4,5,200\n"}  # commas in the tab-separated format
    with pytest.raises(NoUsableRowsError, match="2 rows read, 2 malformed"):
        lambda_engine(objects, "ml-100k")
    message = r"bad.txt has no usable rows: 2 rows read, 2 malformed, 0 below minRating 4\. Check that format 'ml-100k'"
    with pytest.raises(AssertionError, match=message):
        spark_engine(spark, tmp_path, objects, "ml-100k", excluded=False)
