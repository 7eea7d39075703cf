"""contract/runtime.py: how every handler gets its AWS clients and its clock."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from contract.runtime import Dependencies

MOMENT = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def test_in_lambda_each_client_is_made_once_with_the_modules_options(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[tuple[str, dict[str, Any]]] = []

    class FakeBoto3:
        @staticmethod
        def client(service: str, **options: Any) -> str:
            made.append((service, options))
            return f"{service}-client"

    monkeypatch.setitem(sys.modules, "boto3", FakeBoto3)
    dependencies = Dependencies("handler", config="retry-config")

    assert [dependencies.client("s3"), dependencies.client("s3"), dependencies.client("personalize")] == [
        "s3-client",
        "s3-client",
        "personalize-client",
    ]
    assert made == [("s3", {"config": "retry-config"}), ("personalize", {"config": "retry-config"})]


def test_what_a_caller_hands_in_is_used_for_that_invocation_only() -> None:
    dependencies = Dependencies("handler")

    @dependencies.entry_point
    def handler(event: Any, context: Any = None) -> tuple[Any, datetime]:
        return dependencies.client("s3"), dependencies.now()

    given_client, given_time = handler({}, s3="fake-s3", clock=lambda: MOMENT)
    with dependencies.given(clock=lambda: MOMENT), dependencies.given(personalize="fake-personalize"):
        # An inner hand-over keeps the outer one's clock (the offline runtime gives the clock,
        # a handler's own entry point the clients).
        inner = dependencies.client("personalize"), dependencies.now()

    assert (given_client, given_time) == ("fake-s3", MOMENT)
    assert inner == ("fake-personalize", MOMENT)
    assert dependencies.now() > MOMENT  # nothing handed in any more: the system clock
