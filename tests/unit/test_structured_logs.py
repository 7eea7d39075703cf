"""Every Lambda logs structured JSON: its fields are top-level keys of Lambda's JSON log format.

The functions are deployed with LoggingFormat JSON (tests/infra/test_lambda_functions.py). In that
format only records of the ``logging`` module become JSON, with ``extra`` fields as keys;
``print`` output stays plain text, and an ``extra`` key named like a LogRecord attribute
(``name``, ``created``, ...) raises instead of logging.
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

LAMBDAS = Path(__file__).resolve().parents[2] / "lambdas"
HANDLER_MODULES = sorted(LAMBDAS.glob("*/*.py"))
RESERVED = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
LOG_HELPERS = {"_log", "_log_event", "log_operation"}


@pytest.mark.parametrize("module", HANDLER_MODULES, ids=lambda path: path.name)
def test_no_lambda_code_prints(module: Path) -> None:
    calls = [
        node.lineno
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
    ]

    assert calls == [], f"{module.name} prints on lines {calls}: log with logger.info(..., extra=...)"


@pytest.mark.parametrize("module", HANDLER_MODULES, ids=lambda path: path.name)
def test_no_log_field_overwrites_a_log_record_attribute(module: Path) -> None:
    clashes = [
        (node.lineno, keyword.arg)
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in LOG_HELPERS
        for keyword in node.keywords
        if keyword.arg in RESERVED
    ]

    assert clashes == []


@pytest.mark.parametrize("module", HANDLER_MODULES, ids=lambda path: path.name)
def test_every_record_goes_through_the_one_log_helper(module: Path) -> None:
    """One format and one key set (contract/logs.py): no handler calls logger.info(..., extra=...) itself."""
    direct = [
        node.lineno
        for node in ast.walk(ast.parse(module.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("debug", "info", "warning", "error", "exception")
        and any(keyword.arg == "extra" for keyword in node.keywords)
    ]

    assert direct == [], f"{module.name} logs directly on lines {direct}: use contract.logs.log_operation"


def test_the_log_helper_names_the_operation_in_its_own_key(caplog: pytest.LogCaptureFixture) -> None:
    from contract.logs import log_operation

    with caplog.at_level(logging.INFO):
        log_operation(logging.getLogger("test"), "ensure_solution", arn="arn:x", count=2)

    (record,) = caplog.records
    assert (record.getMessage(), record.operation, record.arn, record.count) == (
        "ensure_solution",
        "ensure_solution",
        "arn:x",
        2,
    )
