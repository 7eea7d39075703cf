"""The simulated clock: every status, timestamp and wait of the offline account is computed from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DEFAULT_START = datetime(2026, 1, 5, 6, 0, 0, tzinfo=UTC)


class SimulatedClock:
    """The simulated UTC time every status is computed from."""

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self._now = _require_aware(start)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = _require_aware(moment)


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("simulated time must be timezone-aware (UTC)")
    return moment.astimezone(UTC)
