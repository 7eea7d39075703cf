"""The one naming scheme for Personalize resources, derived from the pipeline name.

Names are what make runs idempotent (each "ensure" step finds the resource by name) and what
scopes IAM policies and teardown to this pipeline, so they live in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PersonalizeNames:
    """Names of the long-lived resources, and prefixes of the per-run ones."""

    pipeline: str

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
    def solution(self) -> str:
        return f"{self.pipeline}-solution"

    @property
    def campaign(self) -> str:
        return f"{self.pipeline}-campaign"

    @property
    def import_job_prefix(self) -> str:
        """Import jobs are named ``<prefix>-<UTC start>-<hash of execution name>``."""
        return f"{self.pipeline}-import"

    @property
    def solution_version_prefix(self) -> str:
        return f"{self.pipeline}-train"

    @property
    def batch_job_prefix(self) -> str:
        """Batch inference jobs (a deployment to batch) are named like import jobs."""
        return f"{self.pipeline}-batch"

    @property
    def owned_prefix(self) -> str:
        """Event trackers and filters in the dataset group count as this pipeline's only with this prefix.

        The workflow creates neither; the teardown deletes those named ``<pipeline>-…`` and stops
        at any other, since a name is the only mark of ownership Personalize keeps.
        """
        return f"{self.pipeline}-"

    def as_properties(self) -> dict[str, str]:
        """The names the teardown deletes, as its custom resource's ``Names`` property."""
        return {
            "DatasetGroup": self.dataset_group,
            "InteractionsSchema": self.interactions_schema,
            "InteractionsDataset": self.interactions_dataset,
            "Solution": self.solution,
            "Campaign": self.campaign,
            "OwnedPrefix": self.owned_prefix,
        }
