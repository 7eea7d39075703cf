"""Where the commands' AWS calls go, and how time passes: AWS itself, or the offline account.

The commands only ever talk to boto3 clients. Against AWS, time is the wall clock; offline
(``--offline``, see pipelinectl.offline_session) the clients reach the simulator and the clock is
the simulated one, so waiting for a campaign update costs no real time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import boto3

SERVICES = ("cloudformation", "stepfunctions", "personalize", "personalize-runtime", "s3", "scheduler")


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Backend:
    """boto3 clients of one session, and the clock the commands read and wait on."""

    session: boto3.session.Session
    now: Callable[[], datetime] = wall_clock
    # How long `watch` pauses between two looks at a running execution (real time).
    pause_between_polls: Callable[[], None] = lambda: time.sleep(5)
    # Let ``seconds`` pass while waiting for AWS (the campaign update of a rollback).
    wait: Callable[[float], None] = time.sleep
    simulated: bool = False
    # Offline only: the simulated deployment (simulator.offline.OfflinePipeline), for tests to steer.
    offline: Any = None
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        """Clients are made once, before any run starts: a session is not safe to share across threads."""
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    def create_clients(self) -> None:
        for service in SERVICES:
            self.client(service)

    @property
    def region(self) -> str:
        return self.session.region_name or "?"
