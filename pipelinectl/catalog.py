"""Movie titles beside the raw ratings, as tools/upload_movielens.py uploads them.

ml-100k's u.item (``id|title|release date|...``, Latin-1) beside u.data; ml-latest's movies.csv
(``movieId,title,genres``) beside ratings.csv. Without the file, recommendations show item ids.
"""

from __future__ import annotations

import codecs
import csv
import posixpath
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

# Ratings file name -> (titles file name beside it, its encoding); as tools/upload_movielens.py.
TITLES_FILES = {"u.data": ("u.item", "latin-1"), "ratings.csv": ("movies.csv", "utf-8")}


def titles_key(raw_key: str) -> tuple[str, str] | None:
    """(key, encoding) of the titles file that goes with ``raw_key``, if its format has one."""
    folder, name = posixpath.split(raw_key)
    if name not in TITLES_FILES:
        return None
    titles_name, encoding = TITLES_FILES[name]
    return posixpath.join(folder, titles_name), encoding


def parse_titles(lines: Iterable[str], titles_file: str) -> dict[str, str]:
    if titles_file.endswith(".csv"):
        rows = csv.reader(lines)
        next(rows, None)  # header
        return {row[0]: row[1] for row in rows if len(row) >= 2}
    titles = {}
    for line in lines:
        fields = line.rstrip("\n").split("|")
        if len(fields) >= 2:
            titles[fields[0]] = fields[1]
    return titles


def read_titles(s3: Any, bucket: str, raw_key: str, items_key: str | None = None) -> dict[str, str]:
    """Item id -> title, or {} when no titles file was uploaded. ``items_key``: where the pipeline
    reads the movie file (the stack's ItemsKey output), else beside the ratings."""
    latin = posixpath.basename(items_key or "") == "u.item"
    location = (items_key, "latin-1" if latin else "utf-8") if items_key else titles_key(raw_key)
    if location is None:
        return {}
    key, encoding = location
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied"):
            return {}
        raise
    return parse_titles(codecs.iterdecode(body.iter_lines(keepends=True), encoding), key)
