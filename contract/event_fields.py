"""Validating the event a handler receives, with messages that name the field and what is expected.

The exception's class name is the error name Step Functions sees (``InvalidEventError``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


class InvalidEventError(Exception):
    """The caller passed an event this function cannot work with."""


def require_object(event: Any, what: str) -> Mapping[str, Any]:
    """The event itself, which must be a JSON object (``what`` says which fields it needs)."""
    if not isinstance(event, Mapping):
        raise InvalidEventError(f"event must be a JSON object{what}; got {type(event).__name__}")
    return event


def required_str(event: Mapping[str, Any], name: str, expected: str) -> str:
    """A present, non-blank string field."""
    if name not in event:
        raise InvalidEventError(f"field {name!r} is missing: expected {expected}")
    value = event[name]
    if not isinstance(value, str) or not value.strip():
        raise InvalidEventError(f"field {name!r} must be a non-empty string ({expected}); got {value!r}")
    return value


def required_number(event: Mapping[str, Any], name: str) -> float:
    """A present, finite JSON number (booleans are not numbers here)."""
    expected = "a number such as 4 or 3.5"
    if name not in event:
        raise InvalidEventError(f"field {name!r} is missing: expected {expected}")
    value = event[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidEventError(f"field {name!r} must be {expected}; got {value!r}")
    return float(value)
