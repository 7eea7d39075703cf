"""Every Lambda function of the stack: its code, handler, size and what it is for.

The stack deploys each from its folder under lambdas/ with these settings; the workflow invokes
the workflow steps through ``${<key>FunctionArn}`` definition substitutions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FunctionSpec:
    """One function; ``handler`` is relative to its code folder under lambdas/."""

    key: str
    code_folder: str
    handler: str
    description: str
    memory_mb: int = 256
    timeout_seconds: int = 60

    @property
    def placeholder(self) -> str:
        """The definition substitution that carries its ARN (workflow steps only)."""
        return f"{self.key}FunctionArn"


# --- the workflow's steps, in the order a run reaches them ------------------------------------

LOOK_FOR_ANOTHER_RUN = FunctionSpec(
    "LookForAnotherRun",
    "run_guard",
    "run_guard.handler",
    "Tells whether a run of this state machine that started earlier is still running",
)
# Streaming the ratings needs little memory (tens of MiB, make bench-prepare) but CPU: a function
# gets one vCPU's worth per 1,769 MB (contract/engines.py), and the converter runs a worker process
# per vCPU's worth (lambdas/prepare_data/parallel_convert.py). 3,008 MB, 1.7 vCPUs and two workers,
# is the most every account may set: new accounts get an error above it (register
# lambda.memory-new-accounts); data.lambdaMemoryMb sets more where the account allows it.
PREPARE_DATA = FunctionSpec(
    "PrepareData",
    "prepare_data",
    "prepare_data.handler",
    "Converts raw MovieLens ratings to Personalize's CSV",
    memory_mb=3008,
    timeout_seconds=15 * 60,
)
ENSURE_DATASET_GROUP = FunctionSpec(
    "EnsureDatasetGroup",
    "personalize_steps",
    "personalize_steps.ensure_dataset_group",
    "Finds or creates the pipeline's dataset group",
)
ENSURE_DATASET = FunctionSpec(
    "EnsureDataset",
    "personalize_steps",
    "personalize_steps.ensure_dataset",
    "Finds or creates a dataset and its schema, moving an existing dataset to a newer schema",
)
START_IMPORT = FunctionSpec(
    "StartImport",
    "personalize_steps",
    "personalize_steps.start_import",
    "Starts this run's import job of a dataset (interactions or items)",
)
# Users' deletion requests: the data deletion job, then the requests moved to completed/.
START_DATA_DELETION = FunctionSpec(
    "StartDataDeletion",
    "personalize_steps",
    "personalize_steps.start_data_deletion",
    "Starts the data deletion job for this run's new deletion requests",
)
# After the Glue engine's job (data.engine): its counts into the run's data, its users file in place.
READ_GLUE_OUTPUT = FunctionSpec(
    "ReadGlueOutput",
    "prepare_data",
    "prepare_data.glue_output",
    "Reads the Glue job's counts and places the users file it wrote for the batch job",
)
# data.importMode INCREMENTAL: once the interactions import is ACTIVE, what the dataset holds is recorded.
RECORD_IMPORT = FunctionSpec(
    "RecordImport",
    "prepare_data",
    "prepare_data.record_import",
    "Records the raw objects the interactions dataset holds once this run's import is ACTIVE",
)
COMPLETE_DELETION_REQUESTS = FunctionSpec(
    "CompleteDeletionRequests",
    "prepare_data",
    "prepare_data.complete_deletion_requests",
    "Moves honoured deletion requests under deletion-requests/completed/",
)
# With filters (config ``filters``): created, replaced when their expression changed, removed
# when the config no longer names them.
ENSURE_FILTERS = FunctionSpec(
    "EnsureFilters",
    "personalize_steps",
    "personalize_steps.ensure_filters",
    "Keeps the dataset group's filters as the config lists them",
)
ENSURE_SOLUTION = FunctionSpec(
    "EnsureSolution",
    "personalize_steps",
    "personalize_steps.ensure_solution",
    "Finds or creates the solution, with automatic training off",
)
START_TRAINING = FunctionSpec(
    "StartTraining",
    "personalize_steps",
    "personalize_steps.start_training",
    "Starts this run's solution version",
)
EVALUATE_VERSION = FunctionSpec(
    "EvaluateVersion",
    "personalize_steps",
    "personalize_steps.evaluate_version",
    "Quality gate: compares the new version's metrics with the served version's",
)
DEPLOY_CAMPAIGN = FunctionSpec(
    "DeployCampaign",
    "personalize_steps",
    "personalize_steps.deploy_campaign",
    "Creates the campaign or updates it in place to the new solution version",
)
SMOKE_TEST = FunctionSpec(
    "SmokeTest",
    "personalize_steps",
    "personalize_steps.smoke_test",
    "Asks the campaign for recommendations for a sample user",
)
# A deployment to batch (deployment.targets): the job, the check of its output, the manifest.
START_BATCH_INFERENCE = FunctionSpec(
    "StartBatchInference",
    "personalize_steps",
    "personalize_steps.start_batch_inference",
    "Starts this run's batch inference job for the version that passed the quality gate",
)
# Reads the whole output once: time for large outputs, and memory for two sorted arrays of 64-bit
# user hashes (about 64 bytes a user at the peak, contract/batch_output.py: ~5 million users).
VALIDATE_BATCH_OUTPUT = FunctionSpec(
    "ValidateBatchOutput",
    "batch_output",
    "batch_output.validate_batch_output",
    "Checks that the batch output has every input user and no error line",
    memory_mb=512,
    timeout_seconds=15 * 60,
)
PUBLISH_BATCH_OUTPUT = FunctionSpec(
    "PublishBatchOutput",
    "batch_output",
    "batch_output.publish_batch_output",
    "Points recommendations/latest.json at this run's validated batch output",
)
RECORD_RUN = FunctionSpec(
    "RecordRun",
    "run_record",
    "run_record.record_run",
    "Records what the deployed model was trained on, for change detection",
)
WORKFLOW_FUNCTIONS = (
    LOOK_FOR_ANOTHER_RUN,
    PREPARE_DATA,
    ENSURE_DATASET_GROUP,
    ENSURE_DATASET,
    START_IMPORT,
    START_DATA_DELETION,
    COMPLETE_DELETION_REQUESTS,
    ENSURE_SOLUTION,
    START_TRAINING,
    EVALUATE_VERSION,
    DEPLOY_CAMPAIGN,
    SMOKE_TEST,
    RECORD_RUN,
)
CAMPAIGN_FUNCTIONS = (DEPLOY_CAMPAIGN, SMOKE_TEST)
BATCH_FUNCTIONS = (START_BATCH_INFERENCE, VALIDATE_BATCH_OUTPUT, PUBLISH_BATCH_OUTPUT)


def workflow_functions(
    *,
    campaign: bool = True,
    batch: bool = False,
    filters: bool = False,
    glue: bool = False,
    incremental: bool = False,
) -> tuple[FunctionSpec, ...]:
    """The workflow steps a deployment has: the campaign's steps only with a campaign, the batch
    job's only with batch output (deployment.targets), the filters' only with filters, the Glue
    job's reader only when data.engine may choose Glue, the import record only with INCREMENTAL."""
    steps = [f for f in WORKFLOW_FUNCTIONS if campaign or f not in CAMPAIGN_FUNCTIONS]
    if glue:
        steps.insert(steps.index(PREPARE_DATA) + 1, READ_GLUE_OUTPUT)
    if incremental:
        steps.insert(steps.index(START_IMPORT) + 1, RECORD_IMPORT)
    if filters:
        steps.insert(steps.index(ENSURE_SOLUTION), ENSURE_FILTERS)
    if batch:
        steps[steps.index(RECORD_RUN) : steps.index(RECORD_RUN)] = BATCH_FUNCTIONS
    return tuple(steps)


# --- functions that are not workflow steps ----------------------------------------------------

# An hourly heartbeat that turns the state record into the staleness metric.
REPORT_RETRAINING_AGE = FunctionSpec(
    "ReportRetrainingAge",
    "run_record",
    "run_record.report_retraining_age",
    "Reports the hours since the last successful retraining, for the staleness alarm",
    memory_mb=128,
    timeout_seconds=30,
)
# The teardown custom resource's handlers (provider framework onEvent and isComplete).
PAUSE_PIPELINE = FunctionSpec(
    "PausePipeline",
    "teardown",
    "teardown.on_event",
    "On stack deletion: disables the schedule and stops running executions",
)
DELETE_PERSONALIZE_RESOURCES = FunctionSpec(
    "DeleteResources",
    "teardown",
    "teardown.is_complete",
    "On stack deletion: deletes the pipeline's Personalize resources in dependency order",
)
# At deployment: the schedule's StartDate (register scheduler.rate.first-invocation).
COMPUTE_SCHEDULE_START = FunctionSpec(
    "ComputeStart",
    "schedule_start",
    "schedule_start.on_event",
    "At deployment: when the retraining schedule runs first (one period from now, or the configured start)",
    memory_mb=128,
    timeout_seconds=30,
)
