"""How the workflow tells that each Personalize resource is ready, and how long it waits for it.

The workflow builder turns each check into a "wait until ready" fragment; the data preparation
plans its waits per check key; the record step learns each stage's duration per key; the
dashboard and the command-line tool show them. One definition for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from contract.personalize import ACTIVE, FAILED_STATUSES
from contract.wait_states import WaitStateNames


@dataclass(frozen=True)
class ReadinessCheck:
    """How to tell that one Personalize resource has become ACTIVE.

    ``status_field`` is a path inside the DescribeX response as Step Functions returns it
    (PascalCase member names, like the parameters of aws-sdk integrations).
    """

    stage: str
    describe_action: str
    arn_parameter: str
    arn_path: str
    resource_field: str
    status_field: str
    interval_seconds: int
    max_checks: int
    # For a wait on one version (a campaign update): where the answer names the version it is
    # about, and where the state holds the version this run waits for. A Describe right after
    # UpdateCampaign may still show the previous update, ACTIVE (register
    # personalize.campaign-update.stale-read); such an answer counts as not ready yet.
    version_field: str | None = None
    expected_version_path: str | None = None
    # The status that ends the wait, and those that fail it: a data deletion job says COMPLETED
    # and FAILED (register personalize.data-deletion), the others ACTIVE and CREATE FAILED.
    ready_status: str = ACTIVE
    failed_statuses: tuple[str, ...] = FAILED_STATUSES
    # The solution whose branch waits (several solutions): names its states, not its key.
    scope: str = ""

    @property
    def state_names(self) -> WaitStateNames:
        return WaitStateNames(self.stage, self.scope)

    @property
    def key(self) -> str:
        """``DatasetImportJob``: names the stage's check counter, its last answer and its errors."""
        return self.state_names.key

    @property
    def iam_action(self) -> str:
        """``personalize:DescribeDatasetImportJob``: what the state machine's role must allow."""
        return f"personalize:{self.describe_action[0].upper()}{self.describe_action[1:]}"

    @property
    def resource_path(self) -> str:
        """Where in the answer the resource's Status and times are: ``Campaign.LatestCampaignUpdate``."""
        parent, _, _ = self.status_field.rpartition(".")
        return f"{self.resource_field}.{parent}" if parent else self.resource_field


DATASET_GROUP_READY = ReadinessCheck(
    "dataset group",
    "describeDatasetGroup",
    "DatasetGroupArn",
    "$.datasetGroup.arn",
    "DatasetGroup",
    "Status",
    interval_seconds=15,
    max_checks=80,
)
DATASET_READY = ReadinessCheck(
    "dataset",
    "describeDataset",
    "DatasetArn",
    "$.dataset.arn",
    "Dataset",
    "Status",
    interval_seconds=15,
    max_checks=80,
)
IMPORT_READY = ReadinessCheck(
    "dataset import job",
    "describeDatasetImportJob",
    "DatasetImportJobArn",
    "$.importJob.arn",
    "DatasetImportJob",
    "Status",
    interval_seconds=60,
    max_checks=360,
)
# The items dataset and its import (data.useItems), when the run has a movie file. The items
# import runs beside the interactions import and is waited for after it.
ITEMS_DATASET_READY = replace(DATASET_READY, stage="items dataset", arn_path="$.itemsDataset.arn")
ITEMS_IMPORT_READY = replace(IMPORT_READY, stage="items import job", arn_path="$.itemsImportJob.arn")
SOLUTION_READY = ReadinessCheck(
    "solution",
    "describeSolution",
    "SolutionArn",
    "$.solution.arn",
    "Solution",
    "Status",
    interval_seconds=15,
    max_checks=80,
)
TRAINING_READY = ReadinessCheck(
    "solution version",
    "describeSolutionVersion",
    "SolutionVersionArn",
    "$.solutionVersion.arn",
    "SolutionVersion",
    "Status",
    interval_seconds=300,
    max_checks=288,
)
CAMPAIGN_CREATED = ReadinessCheck(
    "campaign",
    "describeCampaign",
    "CampaignArn",
    "$.campaign.arn",
    "Campaign",
    "Status",
    interval_seconds=60,
    max_checks=180,
)
# An update keeps the campaign's own Status ACTIVE; its progress is in LatestCampaignUpdate.
CAMPAIGN_UPDATED = ReadinessCheck(
    "campaign update",
    "describeCampaign",
    "CampaignArn",
    "$.campaign.arn",
    "Campaign",
    "LatestCampaignUpdate.Status",
    interval_seconds=60,
    max_checks=180,
    version_field="LatestCampaignUpdate.SolutionVersionArn",
    expected_version_path="$.solutionVersion.arn",
)
# Putting the previous version back after a failed smoke test: waited for at the configured
# campaign pace (not learned, it is rare), and not part of the planned checks.
CAMPAIGN_ROLLBACK = replace(
    CAMPAIGN_UPDATED, stage="campaign rollback", expected_version_path="$.campaign.previousSolutionVersionArn"
)
# A batch inference job (deployment.targets has "batch"). Register personalize.batch.request:
# it cannot be stopped, and the guide gives no duration; 12 hours at most, checked every 5 minutes.
BATCH_READY = ReadinessCheck(
    "batch inference job",
    "describeBatchInferenceJob",
    "BatchInferenceJobArn",
    "$.batchJob.arn",
    "BatchInferenceJob",
    "Status",
    interval_seconds=300,
    max_checks=144,
)
# Users' deletion requests (deletion-requests/ in the data bucket): the data deletion job runs after
# the imports and before training, which must not overlap it; the guide says it can take a day.
DELETION_READY = ReadinessCheck(
    "data deletion job",
    "describeDataDeletionJob",
    "DataDeletionJobArn",
    "$.deletionJob.arn",
    "DataDeletionJob",
    "Status",
    interval_seconds=300,
    max_checks=288,
    ready_status="COMPLETED",
    failed_statuses=("FAILED",),
)
CAMPAIGN_CHECKS = (CAMPAIGN_CREATED, CAMPAIGN_UPDATED)
# The checks of one solution's training and deployment: with several solutions, each solution's
# branch plans and learns these on its own; the others are the run's, before the branches.
SOLUTION_CHECKS = (SOLUTION_READY, TRAINING_READY, *CAMPAIGN_CHECKS, BATCH_READY)
ITEMS_CHECKS = (ITEMS_DATASET_READY, ITEMS_IMPORT_READY)
# The planned checks of a campaign deployment: their waits are learned from earlier runs.
READINESS_CHECKS = (
    DATASET_GROUP_READY,
    DATASET_READY,
    ITEMS_DATASET_READY,
    IMPORT_READY,
    ITEMS_IMPORT_READY,
    DELETION_READY,
    SOLUTION_READY,
    TRAINING_READY,
    CAMPAIGN_CREATED,
    CAMPAIGN_UPDATED,
)


def planned_checks(*, campaign: bool = True, batch: bool = False, items: bool = False) -> tuple[ReadinessCheck, ...]:
    """The checks a run of this deployment plans: the campaign's only with a campaign, the batch
    job's only with batch output (deployment.targets), the items dataset's only with items (data.useItems)."""
    checks = [
        check
        for check in READINESS_CHECKS
        if (campaign or check not in CAMPAIGN_CHECKS) and (items or check not in ITEMS_CHECKS)
    ]
    return (*checks, BATCH_READY) if batch else tuple(checks)
