"""Pure conversion of MovieLens ratings into Amazon Personalize's interactions CSV.

No AWS here: the converter is a generator over raw byte chunks so it can be tested on
in-memory data and runs in constant memory over an S3 stream of any size. Work is done on
bytes (``float(b"4.5")`` and ``int(b"123")`` are valid) to avoid a decode per line.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Final

FORMAT_ML_100K: Final = "ml-100k"
FORMAT_RATINGS_CSV: Final = "ratings-csv"
FORMATS: Final = (FORMAT_ML_100K, FORMAT_RATINGS_CSV)

OUTPUT_HEADER: Final = b"USER_ID,ITEM_ID,TIMESTAMP\n"
RATINGS_CSV_HEADER: Final = b"userid,movieid,rating,timestamp"
_DELIMITERS: Final = {FORMAT_ML_100K: b"\t", FORMAT_RATINGS_CSV: b","}
_FORMAT_HELP: Final = (
    "ml-100k = u.data, tab-separated 'user id<TAB>item id<TAB>rating<TAB>timestamp' without "
    "header; ratings-csv = ratings.csv with header 'userId,movieId,rating,timestamp'"
)
_UTF8_BOM: Final = b"\xef\xbb\xbf"

# A valid row is well under 600 bytes (ids are at most 256 characters in Personalize).
# Longer "lines" (e.g. a file without newlines) are cut here so memory stays bounded.
MAX_LINE_BYTES: Final = 4096
MAX_ID_BYTES: Final = 256
MAX_EXAMPLE_LINES: Final = 5
# Distinct users are counted exactly up to this many (a dict of ids: ~100 B per user).
# ml-32m has ~200k users; past the cap the count is reported as null with a warning.
MAX_TRACKED_USERS: Final = 1_000_000
# Amazon Personalize refuses to train below these (see the service quotas page).
MIN_INTERACTIONS: Final = 1000
MIN_USERS_WITH_TWO_INTERACTIONS: Final = 25
_FORBIDDEN_ID_BYTES: Final = b',"\t\r\n '


class NoUsableRowsError(Exception):
    """The input produced no interaction at all, so there is nothing to import."""


@dataclass
class ConversionStats:
    """Counters filled while the converter runs; read them once it is exhausted."""

    rows_read: int = 0
    rows_written: int = 0
    rows_below_threshold: int = 0
    rows_malformed: int = 0
    # Rows of users who asked to be deleted (deletion-requests/), left out.
    rows_of_deleted_users: int = 0
    malformed_line_numbers: list[int] = field(default_factory=list)
    bytes_written: int = 0
    users_overflowed: bool = False
    _user_counts: dict[bytes, bool] = field(default_factory=dict, repr=False)
    _users_with_two: int = 0
    _sha256: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)

    @property
    def users(self) -> int | None:
        """Distinct users written, or None once more than MAX_TRACKED_USERS were seen."""
        return None if self.users_overflowed else len(self._user_counts)

    @property
    def users_with_two_or_more(self) -> int | None:
        """Users with at least two interactions written (Personalize needs 25 of them)."""
        return None if self.users_overflowed else self._users_with_two

    @property
    def sha256(self) -> str:
        """Hex digest of every output byte produced so far."""
        return self._sha256.hexdigest()

    def user_ids(self) -> Iterator[bytes]:
        """Every distinct user written, in the order first seen (all of them unless users_overflowed)."""
        return iter(self._user_counts)

    def malformed(self, line_number: int) -> None:
        """Count a malformed row and keep the first few line numbers as examples."""
        self.rows_malformed += 1
        if len(self.malformed_line_numbers) < MAX_EXAMPLE_LINES:
            self.malformed_line_numbers.append(line_number)

    def emitted(self, data: bytes) -> None:
        """Account for output bytes (hash and size)."""
        self._sha256.update(data)
        self.bytes_written += len(data)

    def user_seen(self, user: bytes) -> None:
        """Track distinct users and those with two interactions, within a memory cap."""
        if self.users_overflowed:
            return
        seen_once = self._user_counts.get(user)
        if seen_once is None:
            if len(self._user_counts) >= MAX_TRACKED_USERS:
                self.users_overflowed = True
                self._user_counts.clear()
                return
            self._user_counts[user] = True
        elif seen_once:
            self._user_counts[user] = False
            self._users_with_two += 1

    def warnings(self) -> list[str]:
        """Conditions that will make Personalize training fail or that hide bad data."""
        found: list[str] = []
        if self.rows_written < MIN_INTERACTIONS:
            found.append(
                f"only {self.rows_written} interactions written: Amazon Personalize needs at "
                f"least {MIN_INTERACTIONS} to train a solution version"
            )
        with_two = self.users_with_two_or_more
        if with_two is not None and with_two < MIN_USERS_WITH_TWO_INTERACTIONS:
            found.append(
                f"only {with_two} users have two or more interactions: Amazon Personalize "
                f"needs at least {MIN_USERS_WITH_TWO_INTERACTIONS}"
            )
        if self.users_overflowed:
            found.append(f"more than {MAX_TRACKED_USERS} distinct users: user count not reported")
        if self.rows_malformed:
            found.append(f"{self.rows_malformed} malformed rows skipped (first at lines {self.malformed_line_numbers})")
        return found


def iter_line_blocks(chunks: Iterable[bytes], max_line: int = MAX_LINE_BYTES) -> Iterator[list[bytes]]:
    """Split a byte stream on b"\\n" into one list of lines per chunk (fast: C-level split).

    Lines keep a trailing b"\\r" (CRLF files); the row parser strips it. A line that spans
    chunks and grows past ``max_line`` is cut to ``max_line + 1`` bytes (so the parser can
    tell it was too long) and the rest is skipped: memory never grows with line length.
    """
    pending = b""
    overlong = False
    for chunk in chunks:
        if not chunk:
            continue
        parts = chunk.split(b"\n")
        last = parts.pop()
        if parts:
            parts[0] = pending if overlong else pending + parts[0]
            pending, overlong = b"", False
            yield parts
        if not overlong:
            pending += last
            if len(pending) > max_line:
                pending, overlong = pending[: max_line + 1], True
    if pending:
        yield [pending]


def iter_lines(chunks: Iterable[bytes], max_line: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Lines of a byte stream without line endings, each at most ``max_line + 1`` bytes."""
    for block in iter_line_blocks(chunks, max_line):
        for line in block:
            yield line.removesuffix(b"\r")[: max_line + 1]


def parse_row(line: bytes, delimiter: bytes) -> tuple[bytes, bytes, float, int] | None:
    """Return (user, item, rating, timestamp), or None when the row is malformed."""
    if len(line) > MAX_LINE_BYTES:
        return None
    fields = line.split(delimiter)
    if len(fields) != 4:
        return None
    user, item = fields[0].strip(), fields[1].strip()
    if not (_valid_id(user) and _valid_id(item)):
        return None
    try:
        rating = float(fields[2])
        timestamp = int(fields[3])
    except ValueError:
        return None
    if not math.isfinite(rating) or timestamp < 0:
        return None
    return user, item, rating, timestamp


def _valid_id(value: bytes) -> bool:
    """Ids go into an unquoted CSV: non-empty, bounded, UTF-8, no separators or quotes."""
    if not value or len(value) > MAX_ID_BYTES:
        return False
    if value.isdigit():  # fast path: MovieLens ids are ASCII integers
        return True
    if any(byte in _FORBIDDEN_ID_BYTES for byte in value):
        return False
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_header(line: bytes) -> bool:
    """The ratings.csv header, tolerant of a BOM, case and spaces around names."""
    names = line.removeprefix(_UTF8_BOM).lower().split(b",")
    return b",".join(name.strip() for name in names) == RATINGS_CSV_HEADER


def convert(
    chunks: Iterable[bytes],
    fmt: str,
    min_rating: float,
    stats: ConversionStats,
    source: str = "<input>",
    excluded_users: frozenset[bytes] = frozenset(),
) -> Iterator[bytes]:
    """Yield the interactions CSV (header first, then one piece per input chunk).

    Keeps rows with rating >= ``min_rating`` of users not in ``excluded_users`` (deletion
    requests); counts go into ``stats``. Blank lines at the
    end are ignored; a blank line followed by more data is a malformed row. When the input
    is exhausted without a single usable row, NoUsableRowsError is raised from the
    generator, so a consumer that is uploading the output fails before anything is stored.
    """
    if fmt not in _DELIMITERS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    row_parser = _RowConverter(_DELIMITERS[fmt], fmt == FORMAT_RATINGS_CSV, min_rating, stats, excluded_users)
    stats.emitted(OUTPUT_HEADER)
    yield OUTPUT_HEADER
    for block in iter_line_blocks(chunks):
        data = row_parser.convert_block(block)
        if data:
            stats.emitted(data)
            yield data
    if stats.rows_written == 0:
        raise NoUsableRowsError(no_usable_rows_message(source, fmt, min_rating, stats))


class _RowConverter:
    """Converts blocks of lines, remembering the line number and pending blank lines.

    The loop is written for speed (the common row takes one split, two isdigit, one float,
    one int); anything unusual goes through the slower, thorough ``_slow_row``.
    """

    def __init__(
        self,
        delimiter: bytes,
        has_header: bool,
        min_rating: float,
        stats: ConversionStats,
        excluded_users: frozenset[bytes] = frozenset(),
    ) -> None:
        self.excluded = excluded_users
        self.delimiter = delimiter
        self.has_header = has_header
        self.min_rating = min_rating
        self.stats = stats
        self.number = 0
        self.pending_blank: list[int] = []

    def convert_block(self, block: list[bytes]) -> bytes:
        """Output bytes for one block of lines."""
        out: list[bytes] = []
        stats, delimiter, min_rating, excluded = self.stats, self.delimiter, self.min_rating, self.excluded
        number = self.number
        read = below = deleted = 0
        for line in block:
            number += 1
            fields = line.split(delimiter)
            if (
                len(fields) == 4
                and fields[0].isdigit()
                and fields[1].isdigit()
                and not self.pending_blank
                and len(line) <= MAX_LINE_BYTES
            ):
                try:
                    rating = float(fields[2])
                    timestamp = int(fields[3])
                except ValueError:
                    self.number = number
                    read += 1
                    stats.malformed(number)
                    continue
                read += 1
                if excluded and fields[0] in excluded:
                    deleted += 1
                elif min_rating <= rating < math.inf and timestamp >= 0:
                    out.append(b"%s,%s,%d\n" % (fields[0], fields[1], timestamp))
                    stats.user_seen(fields[0])
                elif -math.inf < rating < min_rating and timestamp >= 0:
                    below += 1
                else:
                    stats.malformed(number)
                continue
            self.number = number
            converted = self._slow_row(line)
            if converted is not None:
                out.append(converted)
        self.number = number
        stats.rows_read += read
        stats.rows_below_threshold += below
        stats.rows_of_deleted_users += deleted
        stats.rows_written += len(out)
        return b"".join(out)

    def _slow_row(self, line: bytes) -> bytes | None:
        """Blank lines, the header, non-numeric ids and malformed rows."""
        stats, number = self.stats, self.number
        if not line.strip():
            self.pending_blank.append(number)
            return None
        for blank in self.pending_blank:
            stats.rows_read += 1
            stats.malformed(blank)
        self.pending_blank.clear()
        if number == 1 and self.has_header and _is_header(line):
            return None
        stats.rows_read += 1
        row = parse_row(line.removesuffix(b"\r"), self.delimiter)
        if row is None:
            stats.malformed(number)
            return None
        user, item, rating, timestamp = row
        if user in self.excluded:
            stats.rows_of_deleted_users += 1
            return None
        if rating < self.min_rating:
            stats.rows_below_threshold += 1
            return None
        stats.user_seen(user)
        return b"%s,%s,%d\n" % (user, item, timestamp)


def no_usable_rows_message(source: str, fmt: str, min_rating: float, stats: ConversionStats) -> str:
    """Say what was read and what to check, so the fix is obvious from the error alone."""
    first = f" (first at line {stats.malformed_line_numbers[0]})" if stats.malformed_line_numbers else ""
    message = (
        f"{source} has no usable rows: {stats.rows_read} rows read, "
        f"{stats.rows_malformed} malformed{first}, "
        f"{stats.rows_below_threshold} below minRating {min_rating:g}."
    )
    if stats.rows_read == 0:
        return message + " The object is empty: upload the ratings file again."
    if stats.rows_malformed:
        message += f" Check that format {fmt!r} matches the file ({_FORMAT_HELP})."
    if stats.rows_below_threshold:
        message += " Lower minRating in the pipeline config if the threshold is too strict."
    return message
