"""The Lambda Python runtime, as far as our handlers can tell: how a function is loaded (its code
folder, then its layers), called with a context object, how its logs are formatted, and how an
exception becomes the error Step Functions sees (register lambda.error-type)."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import logging
import os
import sys
import traceback
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from simulator.cloud_assembly import LambdaFunction
from simulator.interpreter import TaskFailure


class _LambdaContext:
    """The attributes of the Lambda context object our handlers may read."""

    def __init__(self, function: LambdaFunction, arn: str) -> None:
        self.function_name = function.logical_id
        self.invoked_function_arn = arn
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = function.memory_mb
        self._timeout_ms = function.timeout_seconds * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


def invoke_lambda(
    function: LambdaFunction,
    event: Any,
    *,
    arn: str,
    log: TextIO | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Any:
    """Call the handler as the Lambda Python runtime does, errors included (register lambda.error-type).

    An unhandled exception becomes the task error Step Functions reports for a Lambda:
    Error is the exception's class name, Cause the runtime's JSON error document. What the
    handler prints goes to ``log`` (its CloudWatch log stream, in AWS), not to our stdout.
    ``clock`` is handed to the handler module's ``DEPENDENCIES`` (contract/runtime.py) for this
    invocation; its AWS clients are its own, made by boto3 against the simulated services.
    """
    handler = _load_handler(function)
    dependencies = getattr(sys.modules[handler.__module__], "DEPENDENCIES", None)
    given = dependencies.given(clock=clock) if dependencies is not None else contextlib.nullcontext()
    context = _LambdaContext(function, arn)
    stream = log or io.StringIO()
    with (
        environment({**function.environment, **_runtime_variables(function)}),
        contextlib.redirect_stdout(stream),
        _json_log_format(stream, context),
        given,
    ):
        try:
            result = handler(event, context)
        except Exception as error:  # the Lambda runtime turns any exception into an error result
            cause = {
                "errorMessage": str(error),
                "errorType": type(error).__name__,
                "requestId": context.aws_request_id,
                "stackTrace": traceback.format_tb(error.__traceback__),
            }
            raise TaskFailure(type(error).__name__, json.dumps(cause)) from None
    # What Step Functions receives went through JSON serialisation.
    return json.loads(json.dumps(result))


def _runtime_variables(function: LambdaFunction) -> dict[str, str]:
    """The reserved variables the Lambda runtime defines that our handlers read (register
    lambda.memory-cpu: prepare_data sizes its worker processes by the memory)."""
    return {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb)}


# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_LOG_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class _LambdaJsonFormatter(logging.Formatter):
    """The Lambda runtime's JSON log format: fixed keys, then each ``extra`` field at the top level."""

    def __init__(self, request_id: str) -> None:
        super().__init__()
        self.request_id = request_id

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "timestamp": self.formatTime(record),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": self.request_id,
        }
        line.update((key, value) for key, value in vars(record).items() if key not in _LOG_RECORD_ATTRIBUTES)
        # Like the runtime, only JSON-serializable values can be logged: anything else fails here.
        return json.dumps(line)


@contextlib.contextmanager
def _json_log_format(stream: TextIO, context: _LambdaContext) -> Iterator[None]:
    """While a handler runs, the root logger writes to its log stream as a function with LoggingFormat JSON does.

    The runtime also sets the root logger to the function's application log level (INFO unless
    LoggingConfig says otherwise) for every invocation: a handler module imported once, in an
    earlier invocation, cannot rely on a level it set then.
    """
    handler = logging.StreamHandler(stream)
    handler.setFormatter(_LambdaJsonFormatter(context.aws_request_id))
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _load_handler(function: LambdaFunction) -> Callable[[Any, Any], Any]:
    module_name, _, attribute = function.handler.rpartition(".")
    code_dir = str(Path(function.code_dir).resolve())
    module = sys.modules.get(module_name)
    if module is None or not str(Path(getattr(module, "__file__", "")).resolve()).startswith(code_dir):
        sys.modules.pop(module_name, None)
        # The function's code first, then its layers (/opt/python in the Lambda runtime). The
        # contract layer is this repository's contract/ folder, which this process has already
        # imported; tests/infra checks each handler imports with only its asset and its layers.
        paths = [code_dir, *(str(layer) for layer in function.layer_dirs)]
        sys.path[:0] = paths
        try:
            module = importlib.import_module(module_name)
        finally:
            for path in paths:
                sys.path.remove(path)
    return getattr(module, attribute)


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """These environment variables meanwhile (a function's configuration), restored afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
