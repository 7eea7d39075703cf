"""Streaming converter: MovieLens movie files -> Personalize's items CSV (ITEM_ID, GENRES, YEAR, CREATION_TIMESTAMP).

Two inputs, as the MovieLens releases ship them:

- ml-100k ``u.item``: ``id|title|release date|video release date|IMDb URL|19 genre flags``,
  Latin-1, release dates such as ``01-Jan-1995`` (some empty), the year also in the title;
- ``movies.csv`` of ml-latest, ml-25m and ml-32m: ``movieId,title,genres`` with a header, UTF-8,
  titles quoted when they hold commas, genres joined by ``|`` or ``(no genres listed)``, the year
  in parentheses at the end of the title (sometimes missing).

Output: GENRES is categorical, ``|``-joined (Personalize's separator for several categorical
values; register personalize.items.schema); YEAR the release year; CREATION_TIMESTAMP the release
date at 00:00 UTC, else the 1st of January of the year, else empty (Personalize then uses the
item's first interaction). Dates before 1970 are left empty as well: the field is Unix epoch
seconds, and a negative epoch is not something to rely on.

Memory is bounded like the ratings converter's: one line at a time (movie files have no quoted
newlines), nothing kept per item. Standard library only.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from movielens import MAX_EXAMPLE_LINES, MAX_ID_BYTES, iter_lines

ITEMS_FORMAT_U_ITEM: Final = "u.item"
ITEMS_FORMAT_MOVIES_CSV: Final = "movies.csv"
ITEMS_FORMATS: Final = (ITEMS_FORMAT_U_ITEM, ITEMS_FORMAT_MOVIES_CSV)
ITEMS_HEADER: Final = b"ITEM_ID,GENRES,YEAR,CREATION_TIMESTAMP\n"
# ml-100k's u.genre, in the order of u.item's 19 flags; "unknown" means no genre.
U_ITEM_GENRES: Final = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
NO_GENRES: Final = ("unknown", "(no genres listed)")
# A categorical value longer than this fails the whole import (register personalize.items.schema).
MAX_CATEGORICAL_CHARACTERS: Final = 1000
_YEAR_IN_TITLE: Final = re.compile(r"\((\d{4})\)\s*$")
_MOVIES_CSV_HEADER: Final = ("movieid", "title", "genres")


class NoUsableItemsError(Exception):
    """The movie file produced no item at all."""


@dataclass
class ItemStats:
    """Counters filled while the items converter runs."""

    rows_read: int = 0
    items_written: int = 0
    rows_malformed: int = 0
    malformed_line_numbers: list[int] = field(default_factory=list)
    without_genres: int = 0
    without_year: int = 0
    without_timestamp: int = 0

    def malformed(self, line_number: int) -> None:
        self.rows_malformed += 1
        if len(self.malformed_line_numbers) < MAX_EXAMPLE_LINES:
            self.malformed_line_numbers.append(line_number)


def _valid_item_id(value: str) -> bool:
    return bool(value) and len(value.encode()) <= MAX_ID_BYTES and not any(c in value for c in ',"\t\r\n ')


def _u_item_date(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), "%d-%b-%Y").replace(tzinfo=UTC)
    except ValueError:
        return None


def _title_year(title: str) -> int | None:
    match = _YEAR_IN_TITLE.search(title)
    return int(match.group(1)) if match else None


def _row(item: str, genres: list[str], year: int | None, released: datetime | None, stats: ItemStats) -> bytes:
    genres = [g for g in genres if g and g not in NO_GENRES]
    joined = "|".join(genres)
    if len(joined) > MAX_CATEGORICAL_CHARACTERS:
        joined = joined[:MAX_CATEGORICAL_CHARACTERS].rsplit("|", 1)[0]
    if not joined:
        stats.without_genres += 1
    if year is None and released is not None:
        year = released.year
    if year is None:
        stats.without_year += 1
    moment = released or (datetime(year, 1, 1, tzinfo=UTC) if year is not None else None)
    epoch = int(moment.timestamp()) if moment is not None and moment.year >= 1970 else None
    if epoch is None:
        stats.without_timestamp += 1
    stats.items_written += 1
    return f"{item},{joined},{'' if year is None else year},{'' if epoch is None else epoch}\n".encode()


def _from_u_item(line: str, stats: ItemStats, number: int) -> bytes | None:
    fields = line.split("|")
    if len(fields) != 5 + len(U_ITEM_GENRES) or not _valid_item_id(fields[0].strip()):
        stats.malformed(number)
        return None
    flags = fields[5:]
    if any(flag.strip() not in ("0", "1") for flag in flags):
        stats.malformed(number)
        return None
    genres = [name for name, flag in zip(U_ITEM_GENRES, flags, strict=True) if flag.strip() == "1"]
    released = _u_item_date(fields[2])
    return _row(fields[0].strip(), genres, _title_year(fields[1]), released, stats)


def _from_movies_csv(line: str, stats: ItemStats, number: int) -> bytes | None:
    try:
        (fields,) = list(csv.reader([line]))
    except (csv.Error, ValueError):
        stats.malformed(number)
        return None
    if len(fields) != 3 or not _valid_item_id(fields[0].strip()):
        stats.malformed(number)
        return None
    return _row(fields[0].strip(), fields[2].split("|"), _title_year(fields[1]), None, stats)


def convert_items(chunks: Iterable[bytes], fmt: str, stats: ItemStats, source: str = "<input>") -> Iterator[bytes]:
    """Yield the items CSV, header first; NoUsableItemsError at the end if no item was written."""
    if fmt not in ITEMS_FORMATS:
        raise ValueError(f"unknown movie file format {fmt!r}; expected one of {ITEMS_FORMATS}")
    encoding = "latin-1" if fmt == ITEMS_FORMAT_U_ITEM else "utf-8"
    parse = _from_u_item if fmt == ITEMS_FORMAT_U_ITEM else _from_movies_csv
    yield ITEMS_HEADER
    for number, raw in enumerate(iter_lines(chunks), start=1):
        try:
            line = raw.decode(encoding).removeprefix("\ufeff")
        except UnicodeDecodeError:
            stats.rows_read += 1
            stats.malformed(number)
            continue
        if not line.strip():
            continue
        if number == 1 and fmt == ITEMS_FORMAT_MOVIES_CSV and _is_movies_header(line):
            continue
        stats.rows_read += 1
        row = parse(line, stats, number)
        if row is not None:
            yield row
    if stats.items_written == 0:
        raise NoUsableItemsError(
            f"{source} has no usable movie rows: {stats.rows_read} rows read, {stats.rows_malformed} malformed"
            + (f" (first at line {stats.malformed_line_numbers[0]})" if stats.malformed_line_numbers else "")
            + f"; expected {fmt} ("
            + (
                "id|title|release date|video date|URL|19 genre flags"
                if fmt == ITEMS_FORMAT_U_ITEM
                else "movieId,title,genres"
            )
            + ")"
        )


def _is_movies_header(line: str) -> bool:
    return tuple(name.strip().lower() for name in line.split(",")) == _MOVIES_CSV_HEADER
