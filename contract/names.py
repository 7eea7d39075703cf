"""The one naming scheme for Personalize resources, derived from the pipeline name.

Names are what make runs idempotent (each "ensure" step finds the resource by name) and what
scopes IAM policies and teardown to this pipeline, so they live in exactly one place.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class PersonalizeNames:
    """Names of the long-lived resources, and prefixes of the per-run ones."""

    pipeline: str
    # One of several solutions (config ``solutions``): its own solution, campaign, versions and
    # batch jobs, ``<pipeline>-solution-<name>`` and so on. None: the one solution of a config
    # without ``solutions``, whose resources keep the names they always had.
    solution_name: str | None = None

    def for_solution(self, name: str | None) -> PersonalizeNames:
        """The names of the pipeline's solution ``name`` (None: the single one)."""
        return PersonalizeNames(self.pipeline, name)

    def _of_solution(self, base: str) -> str:
        return f"{base}-{self.solution_name}" if self.solution_name else base

    @property
    def dataset_group(self) -> str:
        return self.pipeline

    @property
    def interactions_schema(self) -> str:
        return f"{self.pipeline}-interactions"

    @property
    def interactions_dataset(self) -> str:
        return f"{self.pipeline}-interactions"

    @property
    def items_dataset(self) -> str:
        return f"{self.pipeline}-items"

    @property
    def items_schema_prefix(self) -> str:
        """Items schemas are named ``<prefix><8 hex of the schema>``: a schema cannot change, so a
        newer one gets a new name and the dataset moves to it (UpdateDataset)."""
        return f"{self.pipeline}-items-"

    def items_schema(self, schema_json: str) -> str:
        return f"{self.items_schema_prefix}{hashlib.sha256(schema_json.encode()).hexdigest()[:8]}"

    @property
    def filter_prefix(self) -> str:
        """Filters from the config are named ``<prefix><name>``; only those are the workflow's to
        replace or remove (the teardown also deletes other ``<pipeline>-…`` filters)."""
        return f"{self.pipeline}-filter-"

    @property
    def solution(self) -> str:
        return self._of_solution(f"{self.pipeline}-solution")

    @property
    def campaign(self) -> str:
        return self._of_solution(f"{self.pipeline}-campaign")

    @property
    def import_job_prefix(self) -> str:
        """Import jobs are named ``<prefix>-<UTC start>-<hash of execution name>``."""
        return f"{self.pipeline}-import"

    @property
    def items_import_job_prefix(self) -> str:
        """Items import jobs are named like interactions import jobs, with this prefix."""
        return f"{self.pipeline}-items"

    @property
    def solution_version_prefix(self) -> str:
        return self._of_solution(f"{self.pipeline}-train")

    @property
    def deletion_job_prefix(self) -> str:
        """Data deletion jobs (users' deletion requests) are named like import jobs."""
        return f"{self.pipeline}-delete"

    @property
    def batch_job_prefix(self) -> str:
        """Batch inference jobs (a deployment to batch) are named like import jobs."""
        return self._of_solution(f"{self.pipeline}-batch")

    @property
    def owned_prefix(self) -> str:
        """Event trackers and filters in the dataset group count as this pipeline's only with this prefix.

        The workflow creates neither; the teardown deletes those named ``<pipeline>-…`` and stops
        at any other, since a name is the only mark of ownership Personalize keeps.
        """
        return f"{self.pipeline}-"

    def as_properties(
        self, solutions: tuple[str | None, ...] = (None,), campaigns: tuple[str | None, ...] | None = None
    ) -> dict[str, object]:
        """The names the teardown deletes, as its custom resource's ``Names`` property.

        ``Solution`` and ``Campaign`` are the single solution's names and the stem of every listed
        solution's (``<stem>-<name>``): the teardown deletes any of those it finds, so a solution the
        config named before is deleted too. ``Solutions`` and ``Campaigns`` are the ones the config
        names now (``campaigns``: the solutions that deploy to one, by default all); an update of the
        stack deletes the others.
        """
        return {
            "DatasetGroup": self.dataset_group,
            "InteractionsSchema": self.interactions_schema,
            "InteractionsDataset": self.interactions_dataset,
            "ItemsSchemaPrefix": self.items_schema_prefix,
            "ItemsDataset": self.items_dataset,
            "Solution": self.solution,
            "Campaign": self.campaign,
            "Solutions": [self.for_solution(name).solution for name in solutions],
            "Campaigns": [self.for_solution(name).campaign for name in (solutions if campaigns is None else campaigns)],
            "OwnedPrefix": self.owned_prefix,
        }
