"""When the EventBridge Scheduler schedule starts the next run.

rate(n unit) runs every n units from the schedule's start (its StartDate, or when it was
created). cron(minutes hours day-of-month month day-of-week year) is evaluated in the
schedule's time zone; fields with L, W or # are not evaluated here (None: the caller says so).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from contract.schedule import CRON_PATTERN, RATE_PATTERN

UNITS = {"minute": 60, "hour": 3600, "day": 86400}
MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
WEEKDAYS = "SUN MON TUE WED THU FRI SAT".split()  # cron day-of-week 1-7
SEARCH_DAYS = 366 * 5


def next_run(expression: str, time_zone: str, anchor: datetime, now: datetime) -> datetime | None:
    """The first time after ``now`` the schedule fires, or None if it cannot be computed here."""
    rate = RATE_PATTERN.fullmatch(expression)
    if rate:
        period = int(rate["value"]) * UNITS[rate["unit"].rstrip("s")]
        if now < anchor:
            return anchor
        periods = int((now - anchor).total_seconds() // period) + 1
        return anchor + timedelta(seconds=periods * period)
    cron = CRON_PATTERN.fullmatch(expression)
    if cron:
        return _next_cron(cron["fields"].split(), ZoneInfo(time_zone), now)
    return None


def _next_cron(fields: list[str], zone: ZoneInfo, now: datetime) -> datetime | None:
    if len(fields) != 6 or any(mark in field for field in fields for mark in ("L", "W", "#")):
        return None
    minutes, hours = _values(fields[0], 0, 59), _values(fields[1], 0, 23)
    days, months = _values(fields[2], 1, 31), _values(fields[3], 1, 12, MONTHS)
    weekdays, years = _values(fields[4], 1, 7, WEEKDAYS), _values(fields[5], 1970, 2199)
    local = now.astimezone(zone)
    day = local.date()
    for _ in range(SEARCH_DAYS):
        cron_weekday = (day.isoweekday() % 7) + 1  # SUN=1 ... SAT=7
        day_matches = (fields[2] == "?" or day.day in days) and (fields[4] == "?" or cron_weekday in weekdays)
        if day.year in years and day.month in months and day_matches:
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    if moment > local:
                        return moment.astimezone(now.tzinfo)
        day += timedelta(days=1)
    return None


def _values(field: str, low: int, high: int, names: list[str] | None = None) -> set[int]:
    if field in ("*", "?"):
        return set(range(low, high + 1))
    values: set[int] = set()
    for part in field.split(","):
        spec, _, step = part.partition("/")
        if spec in ("*", ""):
            first, last = low, high
        elif "-" in spec:
            first_text, last_text = spec.split("-", 1)
            first, last = _number(first_text, names, low), _number(last_text, names, low)
        else:
            first = _number(spec, names, low)
            last = high if step else first
        values.update(range(first, last + 1, int(step) if step else 1))
    return values


def _number(text: str, names: list[str] | None, low: int) -> int:
    if names and text.upper() in names:
        return names.index(text.upper()) + low
    return int(text)
