"""The movie-file conversion: both MovieLens formats, their awkward rows, and the items CSV it writes.

No MovieLens data: every input is written here in the same formats.
"""

from __future__ import annotations

import json

import pytest
from movies import ITEMS_HEADER, ItemStats, NoUsableItemsError, convert_items

from stacks.items_schema import ITEMS_SCHEMA

JAN_1_1995 = 788918400
FLAGS_NONE = "|".join(["0"] * 19)


def flags(*positions: int) -> str:
    return "|".join("1" if i in positions else "0" for i in range(19))


def run(data: bytes, fmt: str, chunk: int = 5) -> tuple[list[str], ItemStats]:
    stats = ItemStats()
    pieces = (data[i : i + chunk] for i in range(0, len(data), chunk))
    out = b"".join(convert_items(pieces, fmt, stats)).decode()
    return out.splitlines(), stats


def test_u_item_genres_release_dates_and_latin_1_titles() -> None:
    data = (
        f"1|Toy Story (1995)|01-Jan-1995||http://x|{flags(3, 4, 5)}\n"
        f"2|Café Society (1995)||||{flags(8)}\n"  # no release date: the year from the title
        f"3|Unknown film|||http://x|{flags(0)}\n"  # no date, no year, only 'unknown'
        f"4|Old film (1931)|15-Mar-1931||http://x|{flags(10)}\n"  # before 1970: no timestamp
    ).encode("latin-1")

    lines, stats = run(data, "u.item")

    assert lines == [
        ITEMS_HEADER.decode().strip(),
        f"1,Animation|Children's|Comedy,1995,{JAN_1_1995}",
        f"2,Drama,1995,{JAN_1_1995}",
        "3,,,",
        "4,Film-Noir,1931,",
    ]
    assert (stats.rows_read, stats.items_written, stats.rows_malformed) == (4, 4, 0)
    assert (stats.without_genres, stats.without_year, stats.without_timestamp) == (1, 1, 2)


def test_movies_csv_quoted_titles_no_genres_and_missing_years() -> None:
    data = (
        "\ufeffmovieId,title,genres\r\n"
        '1,"American President, The (1995)",Comedy|Drama|Romance\r\n'
        "2,Hellboy 2 (2008) ,(no genres listed)\r\n"
        "3,Cosmos,Documentary\r\n"
        "\r\n"
        "0042,A title (2001),Action\r\n"
    ).encode()

    lines, stats = run(data, "movies.csv", chunk=7)

    assert lines == [
        "ITEM_ID,GENRES,YEAR,CREATION_TIMESTAMP",
        f"1,Comedy|Drama|Romance,1995,{JAN_1_1995}",
        "2,,2008,1199145600",
        "3,Documentary,,",
        "0042,Action,2001,978307200",  # ids are kept as they are, leading zeros included
    ]
    assert (stats.rows_read, stats.items_written, stats.without_genres, stats.without_year) == (4, 4, 1, 1)


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (f"1|Too few fields|01-Jan-1995\n2|Bad flag (1990)||||{FLAGS_NONE[:-1]}x\n".encode("latin-1"), "u.item"),
        (b"movieId,title,genres\n1,only two\n,No id (1990),Drama\n", "movies.csv"),
    ],
    ids=["u.item", "movies.csv"],
)
def test_a_file_without_usable_rows_fails_with_the_counts(data: bytes, fmt: str) -> None:
    with pytest.raises(NoUsableItemsError, match=r"2 rows read, 2 malformed \(first at line \d\)"):
        run(data, fmt)


def test_malformed_rows_are_counted_and_skipped() -> None:
    data = f"1|Fine (1990)|||x|{flags(1)}\nnot a movie\n3|Fine too (1991)|||x|{flags(2)}\n".encode()
    lines, stats = run(data, "u.item")
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "3"]
    assert (stats.rows_malformed, stats.malformed_line_numbers) == (1, [2])


def test_the_output_header_is_the_schema_in_its_field_order() -> None:
    """Personalize maps CSV columns to schema fields by order (register personalize.items.schema)."""
    fields = [f["name"] for f in ITEMS_SCHEMA["fields"]]  # type: ignore[index]
    assert ITEMS_HEADER.decode().strip().split(",") == fields
    assert json.loads(json.dumps(ITEMS_SCHEMA))["fields"][1] == {
        "name": "GENRES",
        "type": ["null", "string"],
        "categorical": True,
    }
