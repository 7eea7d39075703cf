"""EventBridge Scheduler's expression grammar, parsed in one place."""

from __future__ import annotations

import re
from datetime import timedelta

# rate() takes a positive integer and a unit; cron() takes six fields (minutes hours
# day-of-month month day-of-week year).
RATE_PATTERN = re.compile(r"^rate\((?P<value>[1-9][0-9]*) (?P<unit>minutes?|hours?|days?)\)$")
CRON_PATTERN = re.compile(r"^cron\((?P<fields>[^()]+)\)$")


def rate_period(expression: str) -> timedelta | None:
    """The period of a rate() expression, or None if it is not one."""
    match = RATE_PATTERN.fullmatch(expression)
    if match is None:
        return None
    unit = match["unit"].rstrip("s")
    return timedelta(**{f"{unit}s": int(match["value"])})
