"""What a handler reaches outside its own code: AWS clients and the time.

Every handler module has one :class:`Dependencies`. In Lambda it makes each boto3 client on
first use and keeps it for the execution environment's life (a cold start pays for it once),
and reads the system clock. A caller that is not Lambda (a unit test, the offline simulator)
hands in its own clients or clock for one invocation, as keywords of a handler wrapped by
:meth:`Dependencies.entry_point` (``handler(event, s3=fake, clock=lambda: moment)``) or with
:meth:`Dependencies.given`; nothing is patched and nothing leaks into the next invocation.

boto3 is imported on first use: the contract layer stays stdlib-only, and a module whose
clients are all handed in never imports it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class _Given:
    clients: Mapping[str, Any] = field(default_factory=dict)
    clock: Callable[[], datetime] | None = None


class Dependencies:
    """The clients and clock of one handler module; ``client_options`` go to every boto3 client
    it makes (for example a botocore ``Config`` with the retry mode)."""

    def __init__(self, name: str, **client_options: Any) -> None:
        self._made: dict[str, Any] = {}
        self._client_options = client_options
        self._given: ContextVar[_Given | None] = ContextVar(f"{name}.given", default=None)

    def _current(self) -> _Given:
        return self._given.get() or _Given()

    def client(self, service: str) -> Any:
        """The client handed in for this invocation, else this environment's own."""
        given = self._current().clients.get(service)
        if given is not None:
            return given
        if service not in self._made:
            import boto3

            self._made[service] = boto3.client(service, **self._client_options)
        return self._made[service]

    def now(self) -> datetime:
        """The time: the clock handed in for this invocation, else the system's (UTC)."""
        clock = self._current().clock
        return clock() if clock is not None else system_clock()

    def entry_point(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        """The handler as Lambda calls it, ``(event, context)``, that also takes ``clock=`` and
        clients by service name as keywords (``s3=``, ``personalize=``) for one invocation."""

        @functools.wraps(handler)
        def invoke(
            event: Any, context: Any = None, *, clock: Callable[[], datetime] | None = None, **clients: Any
        ) -> Any:
            with self.given(clock=clock, **clients):
                return handler(event, context)

        return invoke

    @contextmanager
    def given(self, *, clock: Callable[[], datetime] | None = None, **clients: Any) -> Iterator[None]:
        """Use these clients (by service name, ``None`` ones ignored) and this clock meanwhile; what
        an enclosing ``given`` handed in stays in force unless replaced here."""
        outer = self._current()
        chosen = {service: client for service, client in clients.items() if client is not None}
        token = self._given.set(_Given({**outer.clients, **chosen}, clock or outer.clock))
        try:
            yield
        finally:
            self._given.reset(token)
