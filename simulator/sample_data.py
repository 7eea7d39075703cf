"""Small, generated ratings in MovieLens's file formats.

MovieLens may not be redistributed, so offline runs and tests use data generated here: the
same columns, delimiters and value ranges as ml-100k's u.data and the newer ratings.csv, with
a popularity skew so that recommendations are not uniform noise.
"""

from __future__ import annotations

import functools
import itertools
import random
from dataclasses import dataclass

FIRST_TIMESTAMP = 874_724_710  # ml-100k's ratings start in September 1997


@dataclass(frozen=True)
class Rating:
    user_id: int
    item_id: int
    rating: float
    timestamp: int


def generate_ratings(
    *,
    users: int = 200,
    items: int = 400,
    ratings_per_user: tuple[int, int] = (20, 60),
    seed: int = 7,
    half_stars: bool = False,
    first_user: int = 1,
) -> list[Rating]:
    """The same ratings for the same arguments (a fresh list each time; the tests make many)."""
    return list(_generate(users, items, ratings_per_user, seed, half_stars, first_user))


@functools.lru_cache(maxsize=32)
def _generate(
    users: int, items: int, ratings_per_user: tuple[int, int], seed: int, half_stars: bool, first_user: int
) -> tuple[Rating, ...]:
    rng = random.Random(seed)
    # A few blockbusters, a long tail. Cumulative weights computed once: the draws are the same
    # as with `weights=`, which random.choices accumulates again on every call.
    item_ids = range(1, items + 1)
    item_weights = list(itertools.accumulate(1.0 / (rank + 5) for rank in range(items)))
    star_weights = list(itertools.accumulate([0.06, 0.11, 0.27, 0.34, 0.22]))
    ratings = []
    for user in range(first_user, first_user + users):
        count = rng.randint(*ratings_per_user)
        seen: set[int] = set()
        while len(seen) < count:
            seen.add(rng.choices(item_ids, cum_weights=item_weights)[0])
        for item in sorted(seen):
            stars: float = rng.choices([1, 2, 3, 4, 5], cum_weights=star_weights)[0]
            if half_stars and stars > 1 and rng.random() < 0.3:
                stars -= 0.5
            ratings.append(Rating(user, item, float(stars), FIRST_TIMESTAMP + rng.randint(0, 200 * 86_400)))
    return tuple(ratings)


def to_u_data(ratings: list[Rating]) -> bytes:
    """ml-100k's u.data: user id, item id, rating, timestamp; tab-separated, no header."""
    return "".join(f"{r.user_id}\t{r.item_id}\t{int(r.rating)}\t{r.timestamp}\n" for r in ratings).encode()


def to_ratings_csv(ratings: list[Rating]) -> bytes:
    """ratings.csv of ml-latest and ml-25m: header, comma-separated, half-star ratings."""
    lines = ["userId,movieId,rating,timestamp\n"]
    lines += [f"{r.user_id},{r.item_id},{r.rating:.1f},{r.timestamp}\n" for r in ratings]
    return "".join(lines).encode()


def to_u_item(items: int = 400, seed: int = 7) -> bytes:
    """ml-100k's u.item for generated items: ``id|title|release date|video date|URL|19 genre flags``.

    The titles are made up (``Generated film 17 (1994)``) so nobody mistakes them for MovieLens.
    """
    rng = random.Random(seed)
    lines = []
    for item in range(1, items + 1):
        year = rng.randint(1950, 1998)
        genres = "|".join(str(int(rng.random() < 0.15)) for _ in range(19))
        lines.append(f"{item}|Generated film {item} ({year})|01-Jan-{year}||https://example.invalid/{item}|{genres}\n")
    return "".join(lines).encode("latin-1")
