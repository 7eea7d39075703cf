"""Timestamps as the pipeline receives them: Step Functions' ISO-8601 text, epoch seconds, or datetimes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_time(value: Any) -> datetime:
    """A timezone-aware UTC moment from ``...Z`` text (``$$.Execution.StartTime``), epoch seconds or a datetime.

    Raises ValueError for anything else, including unparseable text.
    """
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"not a timestamp: {value!r}")
