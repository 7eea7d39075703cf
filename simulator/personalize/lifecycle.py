"""How a simulated Personalize resource lives: stage durations, status lifecycles, and the state
behind datasets, trained models and campaign updates. Everything is computed from the clock."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class StageDurations:
    """Seconds each stage takes; defaults are in the range the real service shows."""

    dataset_group: float = 60
    dataset: float = 60
    schema: float = 0
    import_job: float = 900
    solution: float = 60
    solution_version: float = 7200
    solution_version_update: float = 1800
    campaign: float = 600
    campaign_update: float = 600
    delete: float = 60
    stop: float = 60
    event_tracker: float = 60
    filter: float = 60
    batch_job: float = 1200
    deletion_job: float = 1800


# --------------------------------------------------------------------------- lifecycle


@dataclass
class Lifecycle:
    """Status timeline of one resource, evaluated against the clock on demand (register personalize.status-sequences)."""

    created: datetime
    duration: float
    failure: str | None = None
    stop_duration: float = 60
    delete_duration: float = 60
    stopped: datetime | None = None
    deleted: datetime | None = None
    stuck_deleting: bool = False

    def events(self) -> list[tuple[datetime, str]]:
        end = self.created + timedelta(seconds=self.duration)
        timeline = [(self.created, "CREATE PENDING")]
        if self.duration > 1:
            timeline.append((self.created + timedelta(seconds=1), "CREATE IN_PROGRESS"))
        timeline.append((end, "CREATE FAILED" if self.failure else "ACTIVE"))
        if self.stopped is not None:
            timeline = [event for event in timeline if event[0] <= self.stopped]
            timeline += [
                (self.stopped, "CREATE STOPPING"),
                (self.stopped + timedelta(seconds=self.stop_duration), "CREATE STOPPED"),
            ]
        if self.deleted is not None:
            timeline = [event for event in timeline if event[0] <= self.deleted]
            timeline += [
                (self.deleted, "DELETE PENDING"),
                (self.deleted + timedelta(seconds=1), "DELETE IN_PROGRESS"),
            ]
        return timeline

    def state(self, now: datetime) -> tuple[str, datetime]:
        """Current status and the time it was entered."""
        current = self.events()[0]
        for event in self.events():
            if event[0] <= now:
                current = event
        return current[1], current[0]

    def status(self, now: datetime) -> str:
        return self.state(now)[0]

    def finished_at(self) -> datetime:
        return self.created + timedelta(seconds=self.duration)

    def gone(self, now: datetime) -> bool:
        if self.deleted is None or self.stuck_deleting:
            return False
        return now >= self.deleted + timedelta(seconds=self.delete_duration)


@dataclass
class Resource:
    kind: str
    arn: str
    name: str
    life: Lifecycle
    attrs: dict[str, Any]
    parent: str | None = None


@dataclass
class CampaignUpdate:
    solution_version_arn: str
    min_tps: int
    config: dict[str, Any]
    life: Lifecycle
    # Before this moment DescribeCampaign does not show the update yet (a stale read).
    visible_at: datetime


@dataclass
class Model:
    """What a solution version learned: per-user history and global popularity."""

    seen: dict[str, set[str]] = field(default_factory=dict)
    popularity: Counter[str] = field(default_factory=Counter)


@dataclass
class Interactions:
    rows: list[tuple[str, str, int]] | None  # None: imported without an S3 reader
