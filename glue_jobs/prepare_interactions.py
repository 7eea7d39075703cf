"""AWS Glue job (Spark): convert raw MovieLens ratings into Amazon Personalize's interactions CSV.

The Glue engine of data preparation (``data.engine``), for inputs past what one Lambda converts
in time (contract/engines.py). It implements the conversion contract of
lambdas/prepare_data/movielens.py with open Spark APIs only (no awsglue import), so the same file
runs under Glue 5.1 and under a local pyspark 3.5.6: tests/spark checks that both engines write the
same rows and report the same counts, and the offline simulator runs this very script.

Arguments (Glue passes job arguments as ``--name value``; the ones Glue adds are ignored):

  --data_root           s3://<bucket> (file:///<dir> locally); every other path is a key under it
  --objects_key         a text file listing the raw objects to read, one key per line (the
                        prepare step writes it); ``.gz`` objects are read through gzip
  --format              ml-100k or ratings-csv
  --min_rating          ratings at or above it are interactions
  --output_prefix       the folder the part files go to, each with the header (the import reads it)
  --stats_prefix        the folder of one JSON line of counts, which the workflow reads back
  --excluded_users_key  optional: users who asked to be deleted, one id per line
  --users_prefix        optional: every user written, as {"userId": ...} lines in one file
                        (a batch inference job's input)
  --local               true: run on a local Spark master (tests, the simulator, the benchmark)
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

DELIMITERS = {"ml-100k": "\t", "ratings-csv": ","}
MAX_LINE_BYTES = 4096
MAX_ID_BYTES = 256
MAX_NUMBER_BYTES = 64
MAX_TIMESTAMP = "9223372036854775807"
# Java's \s is Python's bytes whitespace: space, \t, \n, \x0B, \f, \r.
SPACES = r"^\s+|\s+$"
HEADER = r"(?i)^\x{FEFF}?\s*userid\s*,\s*movieid\s*,\s*rating\s*,\s*timestamp\s*$"
RATING = r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$"
# Bytes an id may not hold (an unquoted CSV field); U+FFFD is what Spark reads invalid UTF-8 as.
FORBIDDEN_IN_ID = '[,"\t\r\n \ufffd]'


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("data_root", "objects_key", "format", "min_rating", "output_prefix", "stats_prefix"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--excluded_users_key", default="")
    parser.add_argument("--users_prefix", default="")
    parser.add_argument("--local", default="false")
    args, _glue_arguments = parser.parse_known_args(argv)
    if args.format not in DELIMITERS:
        parser.error(f"--format must be one of {', '.join(DELIMITERS)}; got {args.format!r}")
    return args


def session(local: bool) -> SparkSession:
    builder = SparkSession.builder.appName("prepare-interactions")
    if local:
        builder = (
            builder.master("local[*]")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            # One machine: a few shuffle partitions for the per-user and per-category counts, not 200.
            .config("spark.sql.shuffle.partitions", "4")
        )
    # No _SUCCESS marker in the output folder: the import reads every object in it.
    return builder.config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false").getOrCreate()


def _trimmed(column: Column) -> Column:
    return F.regexp_replace(column, SPACES, "")


def _valid_id(column: Column) -> Column:
    return (F.length(column) > 0) & (F.octet_length(column) <= MAX_ID_BYTES) & ~column.rlike(FORBIDDEN_IN_ID)


def classify(lines: DataFrame, fmt: str, min_rating: float, excluded: DataFrame | None) -> DataFrame:
    """Every row read, with its category (written, below, deleted, malformed) and its output columns."""
    value = F.regexp_replace(F.col("value"), "\r$", "")
    rows = lines.select(value.alias("line")).where(_trimmed(F.col("line")) != "")
    if fmt == "ratings-csv":
        rows = rows.where(~F.col("line").rlike(HEADER))
    fields = F.split(F.col("line"), DELIMITERS[fmt], -1)
    rows = rows.select(
        "line",
        F.size(fields).alias("fields"),
        _trimmed(fields.getItem(0)).alias("USER_ID"),
        _trimmed(fields.getItem(1)).alias("ITEM_ID"),
        fields.getItem(2).alias("rating_text"),
        _trimmed(fields.getItem(3)).alias("timestamp_text"),
    )
    rating = _trimmed(F.col("rating_text")).cast("double")
    digits = F.regexp_replace(F.col("timestamp_text"), r"^0+(?=\d)", "")
    valid = (
        (F.octet_length("line") <= MAX_LINE_BYTES)
        & (F.col("fields") == 4)
        & _valid_id(F.col("USER_ID"))
        & _valid_id(F.col("ITEM_ID"))
        & (F.octet_length("rating_text") <= MAX_NUMBER_BYTES)
        & F.col("rating_text").rlike(RATING)
        & ~F.isnan(rating)
        & (F.abs(rating) != float("inf"))
        & F.col("timestamp_text").rlike(r"^\d+$")
        & ((F.length(digits) < 19) | ((F.length(digits) == 19) & (digits <= MAX_TIMESTAMP)))
    )
    rows = rows.select(
        "USER_ID",
        "ITEM_ID",
        digits.alias("TIMESTAMP"),
        rating.alias("rating"),
        F.coalesce(valid, F.lit(False)).alias("valid"),
    )
    gone = F.lit(False)
    if excluded is not None:
        rows = rows.join(F.broadcast(excluded), on="USER_ID", how="left")
        gone = F.coalesce(F.col("gone"), F.lit(False))
    category = (
        F.when(~F.col("valid"), "malformed")
        .when(gone, "deleted")
        .when(F.col("rating") < F.lit(min_rating), "below")
        .otherwise("written")
    )
    return rows.select("USER_ID", "ITEM_ID", "TIMESTAMP", category.alias("category"))


def no_usable_rows_message(source: str, fmt: str, min_rating: float, counts: dict[str, int]) -> str:
    """The Lambda's message for the same case (movielens.no_usable_rows_message), without line numbers."""
    message = (
        f"{source} has no usable rows: {counts['rowsRead']} rows read, {counts['rowsMalformed']} malformed, "
        f"{counts['rowsBelowThreshold']} below minRating {min_rating:g}."
    )
    if counts["rowsRead"] == 0:
        return message + " The objects are empty: upload the ratings again."
    if counts["rowsMalformed"]:
        message += f" Check that format {fmt!r} matches the files."
    if counts["rowsBelowThreshold"]:
        message += " Lower minRating in the pipeline config if the threshold is too strict."
    return message


def run(spark: SparkSession, args: argparse.Namespace) -> dict[str, Any]:
    root = args.data_root.rstrip("/")
    listed = spark.read.text(f"{root}/{args.objects_key}").collect()
    keys = [row.value.strip() for row in listed if row.value.strip()]
    if not keys:
        raise ValueError(f"{root}/{args.objects_key} lists no raw object to convert")
    lines = spark.read.option("lineSep", "\n").text([f"{root}/{key}" for key in keys])
    excluded = None
    if args.excluded_users_key:
        excluded = (
            spark.read.text(f"{root}/{args.excluded_users_key}")
            .select(_trimmed(F.col("value")).alias("USER_ID"))
            .where(F.col("USER_ID") != "")
            .distinct()
            .withColumn("gone", F.lit(True))
        )
    min_rating = float(args.min_rating)
    rows = classify(lines, args.format, min_rating, excluded).persist()
    by_category = {row["category"]: row["count"] for row in rows.groupBy("category").count().collect()}
    written = rows.where(F.col("category") == "written").select("USER_ID", "ITEM_ID", "TIMESTAMP")
    per_user = written.groupBy("USER_ID").count()
    counts = {
        "rowsRead": sum(by_category.values()),
        "rowsWritten": by_category.get("written", 0),
        "rowsBelowThreshold": by_category.get("below", 0),
        "rowsMalformed": by_category.get("malformed", 0),
        "rowsOfDeletedUsers": by_category.get("deleted", 0),
        "users": per_user.count(),
        "usersWithTwoOrMoreInteractions": per_user.where(F.col("count") >= 2).count(),
        "objects": len(keys),
    }
    if counts["rowsWritten"] == 0:
        source = f"{root}/{keys[0]}" if len(keys) == 1 else f"the {len(keys)} objects listed in {args.objects_key}"
        raise ValueError(no_usable_rows_message(source, args.format, min_rating, counts))
    written.write.mode("overwrite").option("header", True).csv(f"{root}/{args.output_prefix}")
    if args.users_prefix:
        users = written.select(F.col("USER_ID").alias("userId")).distinct().coalesce(1)
        users.write.mode("overwrite").json(f"{root}/{args.users_prefix}")
    stats = spark.createDataFrame([(json.dumps(counts),)], ["value"]).coalesce(1)
    stats.write.mode("overwrite").text(f"{root}/{args.stats_prefix}")
    rows.unpersist()
    return counts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    spark = session(args.local == "true")
    try:
        counts = run(spark, args)
    finally:
        spark.stop()
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
