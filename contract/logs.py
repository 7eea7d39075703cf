"""One structured log record format for every function.

The functions log in Lambda's JSON format (LoggingFormat JSON), which writes each ``extra`` field
of a ``logging`` record as a top-level key, queryable in CloudWatch Logs Insights. Every record
names its ``operation``; values are made JSON-safe first (the runtime drops a record it cannot
serialize).
"""

from __future__ import annotations

import json
import logging
from typing import Any

OPERATION_KEY = "operation"


def log_operation(logger: logging.Logger, operation: str, **fields: Any) -> None:
    """One INFO record: ``operation`` as its message and key, ``fields`` as further keys."""
    logger.info(operation, extra={OPERATION_KEY: operation, **json.loads(json.dumps(fields, default=str))})
