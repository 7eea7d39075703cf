"""Pure conversion of MovieLens ratings into Amazon Personalize's interactions CSV.

No AWS here: the converter is a generator over raw byte chunks so it can be tested on
in-memory data and runs in constant memory over an S3 stream of any size. Work is done on
bytes, a block of lines at a time (see ``_RowConverter``), in this process or on worker
processes (parallel_convert.py).

The conversion contract, which the Glue job (glue_jobs/prepare_interactions.py) implements
with Spark too, so both engines give the same rows and counts (tests/spark):

* Lines end with ``\n``; one ``\r`` before it is dropped. Lines that are blank (spaces only)
  are skipped and are not rows. In ratings-csv, a line that is the header
  (``userId,movieId,rating,timestamp``, any case, spaces around names, a UTF-8 BOM) is
  skipped wherever it is: files under a prefix each start with one.
* Every other line is a row read. It is malformed unless: it is at most 4,096 bytes; it has
  exactly four fields; the user and item ids, with spaces around them removed, are 1-256
  bytes of UTF-8 without ``,``, ``"``, tab, CR, LF or space; the rating is a finite decimal
  number of at most 64 bytes (``4``, ``4.5``, ``.5``, ``5e-1``); the timestamp is digits up
  to 2^63 - 1.
* A row of a user who asked to be deleted is left out (counted apart); a row rated below
  ``minRating`` is counted below the threshold; every other row is written as
  ``USER_ID,ITEM_ID,TIMESTAMP`` with the timestamp as a plain integer.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from parallel_convert import ConversionWorkers

FORMAT_ML_100K: Final = "ml-100k"
FORMAT_RATINGS_CSV: Final = "ratings-csv"
FORMATS: Final = (FORMAT_ML_100K, FORMAT_RATINGS_CSV)

OUTPUT_HEADER: Final = b"USER_ID,ITEM_ID,TIMESTAMP\n"
RATINGS_CSV_HEADER: Final = b"userid,movieid,rating,timestamp"
DELIMITERS: Final = {FORMAT_ML_100K: b"\t", FORMAT_RATINGS_CSV: b","}
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
# Ratings are decimal numbers; Python's float() also takes "inf", "nan" and "4_5", Spark does not.
_RATING: Final = re.compile(rb"\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\s*")
MAX_NUMBER_BYTES: Final = 64
# Personalize's TIMESTAMP is a long.
MAX_TIMESTAMP: Final = 2**63 - 1
# A line this short cannot hold an id longer than MAX_ID_BYTES beside three non-empty fields.
_PLAIN_LINE_BYTES: Final = MAX_ID_BYTES + 6
# Timestamps of up to 18 digits are below MAX_TIMESTAMP; longer ones take the line path.
_PLAIN_TIMESTAMP_DIGITS: Final = 18
_MAX_REMEMBERED_RATINGS: Final = 100_000


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
    # Processes that converted (parallel_convert.py), and the peak traced bytes of each worker
    # process when tracemalloc traces (make bench-prepare).
    workers: int = 1
    worker_peak_bytes: list[int] = field(default_factory=list)
    # Interactions written per user, in the order users were first seen.
    _user_counts: Counter[bytes] = field(default_factory=Counter, repr=False)
    # Made at the first output byte: worker processes, which have none, never touch OpenSSL.
    _sha256: hashlib._Hash | None = field(default=None, repr=False)

    @property
    def users(self) -> int | None:
        """Distinct users written, or None once more than MAX_TRACKED_USERS were seen."""
        return None if self.users_overflowed else len(self._user_counts)

    @property
    def users_with_two_or_more(self) -> int | None:
        """Users with at least two interactions written (Personalize needs 25 of them)."""
        if self.users_overflowed:
            return None
        return sum(1 for count in self._user_counts.values() if count >= 2)

    @property
    def sha256(self) -> str:
        """Hex digest of every output byte produced so far."""
        return (self._sha256 or hashlib.sha256()).hexdigest()

    def user_ids(self) -> Iterator[bytes]:
        """Every distinct user written (all of them unless users_overflowed), in the order first
        seen; with worker processes, each worker's users in turn."""
        return iter(self._user_counts)

    def user_counts(self) -> Iterator[tuple[bytes, int]]:
        """Every distinct user written with its interactions, in the order first seen."""
        return iter(self._user_counts.items())

    def malformed(self, line_number: int) -> None:
        """Count a malformed row and keep the first few line numbers as examples."""
        self.rows_malformed += 1
        if len(self.malformed_line_numbers) < MAX_EXAMPLE_LINES:
            self.malformed_line_numbers.append(line_number)

    def emitted(self, data: bytes) -> None:
        """Account for output bytes (hash and size)."""
        if self._sha256 is None:
            self._sha256 = hashlib.sha256()
        self._sha256.update(data)
        self.bytes_written += len(data)

    def users_seen(self, users: Iterable[bytes]) -> None:
        """Count the interactions written per user (Counter.update counts in C), within a memory cap."""
        if self.users_overflowed:
            return
        self._user_counts.update(users)
        if len(self._user_counts) > MAX_TRACKED_USERS:
            self.users_overflow()

    def users_counted(self, counts: Iterable[tuple[bytes, int]]) -> None:
        """Add interactions per user that another process counted, within the same memory cap."""
        if self.users_overflowed:
            return
        tally = self._user_counts
        for user, count in counts:
            tally[user] += count
        if len(tally) > MAX_TRACKED_USERS:
            self.users_overflow()

    def users_overflow(self) -> None:
        """More than MAX_TRACKED_USERS users: stop counting them and let go of those counted."""
        self.users_overflowed = True
        self._user_counts.clear()

    def warnings(self) -> list[str]:
        """Conditions that will make Personalize training fail or that hide bad data."""
        return conversion_warnings(
            self.rows_written,
            self.users_with_two_or_more,
            self.users_overflowed,
            self.rows_malformed,
            self.malformed_line_numbers,
        )


def conversion_warnings(
    rows_written: int,
    users_with_two: int | None,
    users_overflowed: bool,
    rows_malformed: int,
    malformed_line_numbers: list[int],
) -> list[str]:
    """Conditions that will make Personalize training fail or that hide bad data (either engine's counts)."""
    found: list[str] = []
    if rows_written < MIN_INTERACTIONS:
        found.append(
            f"only {rows_written} interactions written: Amazon Personalize needs at "
            f"least {MIN_INTERACTIONS} to train a solution version"
        )
    if users_with_two is not None and users_with_two < MIN_USERS_WITH_TWO_INTERACTIONS:
        found.append(
            f"only {users_with_two} users have two or more interactions: Amazon Personalize "
            f"needs at least {MIN_USERS_WITH_TWO_INTERACTIONS}"
        )
    if users_overflowed:
        found.append(f"more than {MAX_TRACKED_USERS} distinct users: user count not reported")
    if rows_malformed:
        where = f" (first at lines {malformed_line_numbers})" if malformed_line_numbers else ""
        found.append(f"{rows_malformed} malformed rows skipped{where}")
    return found


def iter_text_blocks(chunks: Iterable[bytes], max_line: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Regroup a byte stream into blocks of whole lines: each block is the lines between two
    chunk boundaries, joined by b"\\n", without the final newline (``block.split(b"\\n")`` gives
    the lines; C-level finds, no per-line work).

    Lines keep a trailing b"\\r" (CRLF files). A line that spans chunks and grows past
    ``max_line`` is cut to ``max_line + 1`` bytes (so the parser can tell it was too long) and
    the rest is skipped: memory never grows with line length.
    """
    pending = b""
    overlong = False
    for chunk in chunks:
        if not chunk:
            continue
        cut = chunk.rfind(b"\n")
        if cut < 0:
            if not overlong:
                pending += chunk
                if len(pending) > max_line:
                    pending, overlong = pending[: max_line + 1], True
            continue
        if overlong:
            # The cut line ends at the chunk's first newline; what comes before it is dropped.
            yield pending + chunk[chunk.find(b"\n") : cut]
        else:
            yield pending + chunk[:cut]
        pending, overlong = chunk[cut + 1 :], False
        if len(pending) > max_line:
            pending, overlong = pending[: max_line + 1], True
    if pending:
        yield pending


def iter_lines(chunks: Iterable[bytes], max_line: int = MAX_LINE_BYTES) -> Iterator[bytes]:
    """Lines of a byte stream without line endings, each at most ``max_line + 1`` bytes."""
    for block in iter_text_blocks(chunks, max_line):
        for line in block.split(b"\n"):
            yield line.removesuffix(b"\r")[: max_line + 1]


def rating_value(text: bytes) -> float | None:
    """The rating of a row: a finite decimal number (``4``, ``4.5``, ``.5``, ``1e0``), spaces
    around it allowed; None when it is not one (``inf``, ``nan``, ``4_5`` are not)."""
    if len(text) > MAX_NUMBER_BYTES or _RATING.fullmatch(text) is None:
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def timestamp_value(text: bytes) -> int | None:
    """A row's timestamp: digits (spaces around them allowed) up to the largest long, which is
    Personalize's TIMESTAMP type; None otherwise (a sign, a fraction or a date are not one)."""
    text = text.strip()
    if not text.isdigit():
        return None
    value = int(text)
    return value if value <= MAX_TIMESTAMP else None


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
    rating = rating_value(fields[2])
    timestamp = timestamp_value(fields[3])
    if rating is None or timestamp is None:
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
    """The interactions CSV of one raw object: ``convert_objects`` of that one."""
    return convert_objects([chunks], fmt, min_rating, stats, source, excluded_users)


def convert_objects(
    objects: Iterable[Iterable[bytes]],
    fmt: str,
    min_rating: float,
    stats: ConversionStats,
    source: str = "<input>",
    excluded_users: frozenset[bytes] = frozenset(),
    workers: int | ConversionWorkers = 1,
) -> Iterator[bytes]:
    """Yield the interactions CSV of several raw objects in turn (the files under a prefix): the
    header first, then one piece per block of input lines.

    Keeps rows with rating >= ``min_rating`` of users not in ``excluded_users`` (deletion
    requests); counts go into ``stats``. The rules are the conversion contract (module
    docstring) that the Glue job implements too. Line numbers start again at 1 in each object.
    ``workers``: worker processes to convert on (parallel_convert.py), with the same result; a
    number > 1 starts them at the first piece, ``ConversionWorkers`` started earlier are used
    and their users are counted into ``stats`` by the caller (``count_users``), once it is done.
    When the input is exhausted without a single usable row, NoUsableRowsError is raised from
    the generator, so a consumer that is uploading the output fails before anything is stored.
    """
    if fmt not in DELIMITERS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")
    stats.emitted(OUTPUT_HEADER)
    yield OUTPUT_HEADER
    started_here = None
    if isinstance(workers, int) and workers > 1:
        from parallel_convert import ConversionWorkers  # it imports this module

        workers = started_here = ConversionWorkers(workers, fmt, min_rating, excluded_users)
    if isinstance(workers, int):
        pieces = _convert_blocks(objects, DELIMITERS[fmt], fmt == FORMAT_RATINGS_CSV, min_rating, stats, excluded_users)
    else:
        if workers.settings != (fmt, min_rating, excluded_users):
            raise ValueError(f"the workers convert {workers.settings[:2]}, not {(fmt, min_rating)} and these users")
        stats.workers = workers.count
        pieces = workers.convert(objects, stats)
    for data in pieces:
        stats.emitted(data)
        yield data
    if started_here is not None:
        started_here.count_users(stats)
    if stats.rows_written == 0:
        raise NoUsableRowsError(no_usable_rows_message(source, fmt, min_rating, stats))


def _convert_blocks(
    objects: Iterable[Iterable[bytes]],
    delimiter: bytes,
    has_header: bool,
    min_rating: float,
    stats: ConversionStats,
    excluded_users: frozenset[bytes],
) -> Iterator[bytes]:
    """The output pieces of every object's rows, converted in this process."""
    for chunks in objects:
        rows = _RowConverter(delimiter, has_header, min_rating, stats, excluded_users)
        for block in iter_text_blocks(chunks):
            data = rows.convert_text(block)
            if data:
                yield data


class _RowConverter:
    """Converts blocks of lines of one object, remembering the line number.

    The loop is written for speed: the common row takes one split, three isdigit, one dict
    lookup for its rating and one join, and the counts that follow from the others (rows read,
    below the threshold) are worked out once per block. Anything unusual (a header, a blank or
    malformed line, spaces, text ids, CR) goes through ``_slow_line``, which applies the whole
    contract.
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
        # Each distinct rating text seen: True kept, False below the threshold, None malformed.
        self._verdicts: dict[bytes, bool | None] = {}

    def _verdict(self, text: bytes) -> bool | None:
        """Judge a rating text not seen before (remembered unless there are many already)."""
        value = rating_value(text)
        verdict = None if value is None else value >= self.min_rating
        if len(self._verdicts) < _MAX_REMEMBERED_RATINGS:
            self._verdicts[text] = verdict
        return verdict

    def convert_text(self, block: bytes) -> bytes:
        """Output bytes for one block of lines (see iter_text_blocks)."""
        out, users = self.convert_lines(block)
        self.stats.users_seen(users)
        return out

    def convert_lines(self, block: bytes) -> tuple[bytes, list[bytes]]:
        """Output bytes for one block of lines and the user of each row written, in order. The
        counts go into ``stats``, except the users, which are the caller's to count."""
        if b"\r" in block:
            block = block.replace(b"\r\n", b"\n")
        lines = block.split(b"\n")
        out: list[bytes] = []
        users: list[bytes] = []
        write, keep = out.append, users.append
        stats, delimiter, excluded, verdicts = self.stats, self.delimiter, self.excluded, self._verdicts
        first = self.number
        slow = slow_written = malformed = deleted = 0
        for number, line in enumerate(lines, first + 1):
            try:
                user, item, rating, stamp = line.split(delimiter)
            except ValueError:
                pass  # not four fields: the slow path counts it
            else:
                # A line of at most _PLAIN_LINE_BYTES cannot hold an id longer than MAX_ID_BYTES.
                if (
                    len(line) <= _PLAIN_LINE_BYTES
                    and user.isdigit()
                    and item.isdigit()
                    and stamp.isdigit()
                    and len(stamp) <= _PLAIN_TIMESTAMP_DIGITS
                ):
                    try:
                        verdict = verdicts[rating]
                    except KeyError:
                        verdict = self._verdict(rating)
                    if verdict:
                        if excluded and user in excluded:
                            deleted += 1
                        else:
                            if stamp[0] == 48 and len(stamp) > 1:  # a leading "0": written as an integer
                                stamp = b"%d" % int(stamp)
                            write(b",".join((user, item, stamp)))
                            keep(user)
                    elif verdict is None:
                        malformed += 1
                        stats.malformed(number)
                    elif excluded and user in excluded:
                        deleted += 1
                    continue
            slow += 1
            self.number = number - 1
            converted = self._slow_line(line)
            if converted is not None:
                slow_written += 1
                write(converted[:-1])
                keep(converted.partition(b",")[0])
        self.number = first + len(lines)
        # Every line the loop kept to itself is a row: written, malformed, deleted or below.
        plain = len(lines) - slow
        stats.rows_read += plain
        stats.rows_below_threshold += plain - (len(out) - slow_written) - malformed - deleted
        stats.rows_of_deleted_users += deleted
        stats.rows_written += len(out)
        # Rows are joined here: one join is cheaper than a newline formatted into every row.
        return (b"\n".join(out) + b"\n" if out else b""), users

    def _slow_line(self, line: bytes) -> bytes | None:
        """One line under the whole contract: blank lines and headers are skipped, not rows."""
        self.number += 1
        stats = self.stats
        line = line.removesuffix(b"\r")
        if not line.strip():
            return None
        if self.has_header and _is_header(line):
            return None
        stats.rows_read += 1
        row = parse_row(line, self.delimiter)
        if row is None:
            stats.malformed(self.number)
            return None
        user, item, rating, timestamp = row
        if user in self.excluded:
            stats.rows_of_deleted_users += 1
            return None
        if rating < self.min_rating:
            stats.rows_below_threshold += 1
            return None
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
