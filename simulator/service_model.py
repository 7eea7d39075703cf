"""Every simulated request and answer checked against botocore's own service model.

A call the real service would reject is rejected (names, types, required members, enums,
lengths, patterns and ranges; botocore's own validation checks fewer), and an answer carrying a
member the model does not know is a bug of the simulator (:class:`SimulatorBug`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from botocore.exceptions import ParamValidationError
from botocore.model import OperationModel, Shape
from botocore.validate import validate_parameters


class SimulatedServiceError(Exception):
    """A modeled service error: the bridge turns it into botocore's error response (register personalize.error-codes)."""

    def __init__(self, code: str, message: str, http_status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


class SimulatorBug(AssertionError):
    """The simulator produced something the real service model could not carry."""


_JAVA_CLASSES = {r"\p{ASCII}": r"[\x00-\x7F]"}


_SURROGATE_PAIR = re.compile(r"\\u(D[89AB][0-9A-F]{2})\\u(D[C-F][0-9A-F]{2})", re.IGNORECASE)


def _code_point(pair: re.Match[str]) -> str:
    """A Java surrogate pair escape (\\uD800\\uDC00) as the code point it stands for (\\U00010000)."""
    high, low = int(pair[1], 16), int(pair[2], 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"


def _compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """Translate the Java regex classes and surrogate pairs the models use (Glue's string patterns
    range over \\uD800\\uDC00-\\uDBFF\\uDFFF); skip what Python cannot express."""
    for java, python in _JAVA_CLASSES.items():
        pattern = pattern.replace(java, python)
    if r"\p{" in pattern:
        return None
    return re.compile(_SURROGATE_PAIR.sub(_code_point, pattern))


def _constraint_errors(shape: Shape, value: Any, path: str) -> list[str]:
    """Enum, length, range and pattern checks that botocore leaves to the service."""
    kind = shape.type_name
    if kind == "structure":
        return [
            err
            for key, member_value in value.items()
            if key in shape.members
            for err in _constraint_errors(shape.members[key], member_value, f"{path}.{key}" if path else key)
        ]
    if kind == "list":
        errs = _size_errors(shape, value, path)
        for index, item in enumerate(value):
            errs += _constraint_errors(shape.member, item, f"{path}.{index + 1}.member")
        return errs
    if kind == "map":
        errs = _size_errors(shape, value, path)
        for key, item in value.items():
            errs += _constraint_errors(shape.key, key, f"{path}.{key}.key")
            errs += _constraint_errors(shape.value, item, f"{path}.{key}.value")
        return errs
    if kind == "string":
        return _string_errors(shape, value, path)
    if kind in ("integer", "long", "double", "float"):
        return _range_errors(shape, value, path)
    return []


def _fail(value: Any, path: str, constraint: str) -> str:
    return f"Value '{value}' at '{path}' failed to satisfy constraint: {constraint}"


def _size_errors(shape: Shape, value: Any, path: str) -> list[str]:
    meta = shape.metadata
    errs = []
    if "min" in meta and len(value) < meta["min"]:
        errs.append(_fail(value, path, f"Member must have length greater than or equal to {meta['min']}"))
    if "max" in meta and len(value) > meta["max"]:
        errs.append(_fail(value, path, f"Member must have length less than or equal to {meta['max']}"))
    return errs


def _string_errors(shape: Shape, value: str, path: str) -> list[str]:
    errs = _size_errors(shape, value, path)
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        errs.append(_fail(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
    pattern = shape.metadata.get("pattern")
    compiled = _compile_pattern(pattern) if pattern else None
    if compiled is not None and not compiled.fullmatch(value):
        errs.append(_fail(value, path, f"Member must satisfy regular expression pattern: {pattern}"))
    return errs


def _range_errors(shape: Shape, value: float, path: str) -> list[str]:
    meta = shape.metadata
    errs = []
    if "min" in meta and value < meta["min"]:
        errs.append(_fail(value, path, f"Member must have value greater than or equal to {meta['min']}"))
    if "max" in meta and value > meta["max"]:
        errs.append(_fail(value, path, f"Member must have value less than or equal to {meta['max']}"))
    return errs


def validate_request(operation: OperationModel, params: dict[str, Any]) -> None:
    """Reject a request the way the service would: InvalidInputException with its wording."""
    try:
        validate_parameters(params, operation.input_shape)
    except ParamValidationError as exc:
        raise SimulatedServiceError("InvalidInputException", str(exc.kwargs.get("report", exc))) from exc
    errors = _constraint_errors(operation.input_shape, params, "")
    if errors:
        noun = "error" if len(errors) == 1 else "errors"
        raise SimulatedServiceError(
            "InvalidInputException", f"{len(errors)} validation {noun} detected: " + "; ".join(errors)
        )


def check_response(shape: Shape | None, value: Any, path: str = "") -> None:
    """Fail loudly when the simulator emits a member the real model does not have."""
    if shape is None or value is None:
        return
    if shape.type_name == "structure":
        for key, item in value.items():
            if key not in shape.members:
                raise SimulatorBug(f"{path or shape.name}: '{key}' is not a member of {shape.name}")
            check_response(shape.members[key], item, f"{path}.{key}")
    elif shape.type_name == "list":
        for item in value:
            check_response(shape.member, item, f"{path}[]")
    elif shape.type_name == "map":
        for item in value.values():
            check_response(shape.value, item, f"{path}{{}}")
    elif shape.type_name == "timestamp" and not isinstance(value, datetime):
        raise SimulatorBug(f"{path}: timestamps must be datetime objects")
