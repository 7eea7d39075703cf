"""The fault scenarios: what goes wrong, what the user sees, what state the system is left in.

tests/e2e/test_fault_matrix.py runs each one end to end offline and asserts its outcome and the
invariants; docs/fault-matrix.md is rendered from the same list (``python
tools/render_fault_matrix.py``), so the table cannot drift from what is tested.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from simulator.offline import REGION, OfflinePipeline
from simulator.sample_data import generate_ratings, to_u_data, to_u_item
from stacks.items_schema import ITEMS_SCHEMA

DOC = Path(__file__).resolve().parents[1] / "docs" / "fault-matrix.md"
FOREIGN_GROUP = "other-team"

# Personalize calls of a first run and of a later run (the model already in service). A test
# below checks these lists against the calls the workflow really makes.
FIRST_RUN_ONLY_CALLS = (
    "CreateDatasetGroup",
    "CreateSchema",
    "CreateDataset",
    "CreateFilter",
    "CreateSolution",
    "CreateCampaign",
)
EVERY_RUN_CALLS = (
    "ListDatasetGroups",
    "DescribeDatasetGroup",
    "ListSchemas",
    "DescribeSchema",
    "ListDatasets",
    "DescribeDataset",
    "ListDatasetImportJobs",
    "CreateDatasetImportJob",
    "DescribeDatasetImportJob",
    "ListFilters",
    "DescribeFilter",
    "ListSolutions",
    "DescribeSolution",
    "ListSolutionVersions",
    "CreateSolutionVersion",
    "DescribeSolutionVersion",
    "GetSolutionMetrics",
    "ListCampaigns",
    "DescribeCampaign",
    "UpdateCampaign",
    "GetRecommendations",
)
# Calls that a later run makes first from the state machine itself (aws-sdk integrations); the
# others come first from a Lambda. DescribeDatasetGroup is both, and on a later run "Ensure
# dataset group" describes the existing group (its KMS key) before the wait fragment does.
SDK_INTEGRATION_CALLS = frozenset(
    {
        "DescribeDatasetImportJob",
        "DescribeSolutionVersion",
    }
)


@dataclass(frozen=True)
class Scenario:
    """One row of the matrix. ``user_sees`` and ``left`` are the documented outcome, asserted."""

    id: str
    group: str
    fault: str
    user_sees: str
    left: str
    inject: Callable[[OfflinePipeline], None]
    status: str
    error: str | None = None
    cause: str | None = None  # a fragment the failure's cause must contain
    outcome: str | None = None  # the execution output's outcome when it succeeds
    first_run: bool = False  # the fault hits the very first run (no model in service yet)
    serves_new_version: bool | None = None  # None: new if the run succeeded, else the previous one
    execution_input: Any = None  # None: what the schedule sends
    # "campaign": the default deployment; "batch": a deployment to batch only, where what is in
    # service is the version whose output recommendations/latest.json names.
    deployment: str = "campaign"
    # What the user does before the next run when the fault is in their own data (None: nothing).
    repair: Callable[[OfflinePipeline], None] | None = None
    # The fault stopped a run at a List or Describe call: it changed nothing in the account, so the
    # next run is any later run (the tests of later runs cover it) and is not run again here.
    read_only: bool = False


def _throttle(operation: str, *codes: str) -> Callable[[OfflinePipeline], None]:
    def inject(pipeline: OfflinePipeline) -> None:
        for code in codes:
            pipeline.account.personalize.throttle(operation, 1, code)

    return inject


def _fail_resource(kind: str, reason: str) -> Callable[[OfflinePipeline], None]:
    return lambda pipeline: pipeline.account.personalize.fail_next(kind, reason)


def _raw(body: bytes) -> Callable[[OfflinePipeline], None]:
    return lambda pipeline: pipeline.upload_raw_data(body)


def _no_raw(pipeline: OfflinePipeline) -> None:
    pipeline.account.s3().delete_object(Bucket=pipeline.bucket_name, Key=pipeline.raw_data_key)


def _lambda_fault(step: str, error: str, cause: str, times: int) -> Callable[[OfflinePipeline], None]:
    return lambda pipeline: pipeline.fail_lambda(step, error, cause, times=times)


def _campaign_update_in_progress(pipeline: OfflinePipeline) -> None:
    """Someone (a rollback, an aborted run) started an update the faulty run must wait for."""
    personalize = boto3.client("personalize", region_name=REGION)
    (campaign,) = pipeline.account.personalize.resources_of("campaign")
    personalize.update_campaign(campaignArn=campaign["campaignArn"], minProvisionedTPS=1)


def _import_in_progress(pipeline: OfflinePipeline) -> None:
    """An import job of an aborted run still runs in the dataset the faulty run imports into."""
    personalize = boto3.client("personalize", region_name=REGION)
    (dataset,) = pipeline.account.personalize.resources_of("dataset")
    previous = pipeline.account.personalize.resources_of("import_job")[-1]
    personalize.create_dataset_import_job(
        jobName="movielens-import-aborted-run",
        datasetArn=dataset["datasetArn"],
        dataSource={"dataLocation": previous["dataSource"]["dataLocation"]},
        roleArn=previous["roleArn"],
    )


def _nothing(pipeline: OfflinePipeline) -> None:
    """The fault is in how the run is started, not in the account."""


def _input_scenarios() -> Iterator[Scenario]:
    for case, execution_input in (
        ("no trigger", {}),
        ("the console's sample input", {"Comment": "Insert your JSON here"}),
        ("a trigger that is not text", {"trigger": 7}),
        ("not a JSON object", "retrain please"),
        ("a list", ["manual"]),
    ):
        yield Scenario(
            id=f"input-{case.replace(' ', '-').replace(chr(39), '')}",
            group="Execution input",
            fault=f"a run started by hand with {case}: {json.dumps(execution_input)}",
            user_sees="run fails at its first state with InvalidExecutionInput: the input must be a JSON object "
            'with a text field "trigger", for example {"trigger": "manual"}',
            left="nothing touched",
            inject=_nothing,
            status="FAILED",
            error="InvalidExecutionInput",
            cause='a text field "trigger"',
            execution_input=execution_input,
        )


def _throttle_every_call(pipeline: OfflinePipeline) -> None:
    for operation in (*FIRST_RUN_ONLY_CALLS, *EVERY_RUN_CALLS):
        _throttle(operation, "ThrottlingException")(pipeline)


def _call_scenarios() -> Iterator[Scenario]:
    # Once for every call at the same time: each recovers on its own (boto3's retries in a Lambda
    # step, the state machine's Retry in a status check), so one run shows them all.
    yield Scenario(
        id="throttled-then-ok-every-call",
        group="Throttling",
        fault="every Personalize call of a later run answers ThrottlingException once, then works",
        user_sees="run succeeds; the execution history shows the retries of the status checks",
        left="new version in service",
        inject=_throttle_every_call,
        status="SUCCEEDED",
        outcome="succeeded",
    )
    yield Scenario(
        id="throttled-then-ok-every-first-run-call",
        group="Throttling",
        fault="every Personalize call of a first run (the creations too) answers ThrottlingException once, then works",
        user_sees="run succeeds; the execution history shows the retries of the status checks",
        left="new version in service",
        inject=_throttle_every_call,
        status="SUCCEEDED",
        outcome="succeeded",
        first_run=True,
    )
    # LimitExceededException, which boto3 does not retry: the state machine's Retry, in a Lambda
    # step and in a status check.
    for operation in ("CreateDatasetImportJob", "DescribeSolutionVersion"):
        yield Scenario(
            id=f"limit-exceeded-then-ok-{operation}",
            group="Throttling",
            fault=f"{operation} answers LimitExceededException twice, then works",
            user_sees="run succeeds; the execution history shows two retries of the step",
            left="new version in service",
            inject=_throttle(operation, "LimitExceededException", "LimitExceededException"),
            status="SUCCEEDED",
            outcome="succeeded",
        )
    for operation in (*FIRST_RUN_ONLY_CALLS, *EVERY_RUN_CALLS):
        first_run = operation in FIRST_RUN_ONLY_CALLS
        sdk = operation in SDK_INTEGRATION_CALLS
        error = "Personalize.PersonalizeException" if sdk else "ThrottlingException"
        after_switch = operation == "GetRecommendations"  # the smoke test runs on the switched campaign
        yield Scenario(
            id=f"throttled-exhausted-{operation}",
            group="Throttling",
            fault=f"{operation} keeps answering ThrottlingException",
            user_sees=f"run fails after 5 retries with {error}"
            + ("" if sdk else f", cause naming the {operation} operation"),
            left=(
                "the new version (it passed the quality gate) stays in service untested; the next run continues"
                if after_switch
                else "previous version in service; the next run continues"
            ),
            inject=_throttle(operation, *["ThrottlingException"] * 12),
            status="FAILED",
            error=error,
            cause=None if sdk else f"when calling the {operation} operation",
            first_run=first_run,
            serves_new_version=after_switch or None,
            read_only=operation.startswith(("List", "Describe")),
        )


CREATE_FAILED = (
    # (resource kind, error, whether Personalize's Describe carries a failureReason)
    ("dataset_group", "DatasetGroupFailed", True),
    ("dataset", "PersonalizeResourceFailed", False),
    ("import_job", "DatasetImportJobFailed", True),
    ("solution", "PersonalizeResourceFailed", False),
    ("solution_version", "SolutionVersionFailed", True),
    ("campaign", "CampaignFailed", True),
    ("campaign_update", "CampaignUpdateFailed", True),
)


def _create_failed_scenarios() -> Iterator[Scenario]:
    for kind, error, has_reason in CREATE_FAILED:
        reason = f"Simulated {kind} failure"
        created_once = kind in ("dataset_group", "dataset", "solution", "campaign")
        yield Scenario(
            id=f"create-failed-{kind}",
            group="CREATE FAILED",
            fault=f"the {kind.replace('_', ' ')} ends in CREATE FAILED",
            user_sees=f"run fails with {error}; the cause "
            + ("is Personalize's failureReason" if has_reason else "names the resource and its status"),
            left=(
                "the failed resource is deleted and created again by the next run"
                if created_once
                else "previous version in service; the next run starts a new one"
            ),
            inject=_fail_resource(kind, reason),
            status="FAILED",
            error=error,
            cause=reason if has_reason else "CREATE FAILED",
            first_run=kind in ("dataset_group", "dataset", "solution", "campaign"),
        )


GOOD = to_u_data(generate_ratings())

# The Personalize calls a later run of a deployment to batch makes besides those of a campaign-less
# run; each is throttled in the matrix, and a test checks the list against the calls made.
BATCH_RUN_CALLS = ("ListBatchInferenceJobs", "CreateBatchInferenceJob", "DescribeBatchInferenceJob")


def _batch_scenarios() -> Iterator[Scenario]:
    previous = "the manifest still names the previous output; the next run continues"
    for operation in BATCH_RUN_CALLS:
        sdk = operation == "DescribeBatchInferenceJob"
        yield Scenario(
            id=f"batch-throttled-then-ok-{operation}",
            group="Batch output",
            fault=f"{operation} answers ThrottlingException, then LimitExceededException, then works",
            user_sees="run succeeds; the execution history shows two retries of the step",
            left="new output published",
            inject=_throttle(operation, "ThrottlingException", "LimitExceededException"),
            status="SUCCEEDED",
            outcome="succeeded",
            deployment="batch",
        )
        yield Scenario(
            id=f"batch-throttled-exhausted-{operation}",
            group="Batch output",
            fault=f"{operation} keeps answering ThrottlingException",
            user_sees="run fails after 5 retries with "
            + ("Personalize.PersonalizeException" if sdk else "ThrottlingException"),
            left=previous,
            inject=_throttle(operation, *["ThrottlingException"] * 12),
            status="FAILED",
            error="Personalize.PersonalizeException" if sdk else "ThrottlingException",
            deployment="batch",
        )
    yield Scenario(
        id="batch-job-failed",
        group="Batch output",
        fault="the batch inference job ends in CREATE FAILED",
        user_sees="run fails with BatchInferenceJobFailed; the cause is Personalize's failureReason",
        left=previous,
        inject=_fail_resource("batch_job", "Simulated batch_job failure"),
        status="FAILED",
        error="BatchInferenceJobFailed",
        cause="Simulated batch_job failure",
        deployment="batch",
    )
    yield Scenario(
        id="batch-output-error-lines",
        group="Batch output",
        fault="the batch job is ACTIVE but some output lines carry an error",
        user_sees="run fails with BatchOutputInvalidError, naming how many lines and examples",
        left=previous,
        inject=lambda pipeline: pipeline.account.personalize.batch_errors_next(3, "Simulated error line"),
        status="FAILED",
        error="BatchOutputInvalidError",
        cause="3 lines carry an error",
        deployment="batch",
    )
    yield Scenario(
        id="batch-validation-lambda-transient",
        group="Batch output",
        fault="the Lambda service fails one invocation of the output validation",
        user_sees="run succeeds; the execution history shows one retry",
        left="new output published",
        inject=_lambda_fault("ValidateBatchOutput", "Lambda.ServiceException", "Service unavailable", 1),
        status="SUCCEEDED",
        outcome="succeeded",
        deployment="batch",
    )


def _filter_scenarios() -> Iterator[Scenario]:
    yield Scenario(
        id="create-failed-filter",
        group="Filters",
        fault="the exclusion filter ends in CREATE FAILED on the first run",
        user_sees="run fails at the smoke test with FilterFailedError, naming the filter and Personalize's reason",
        left="the new campaign serves (the version answered unfiltered); the next run deletes the filter and "
        "creates it again",
        inject=_fail_resource("filter", "Simulated filter failure"),
        status="FAILED",
        error="FilterFailedError",
        cause="Simulated filter failure",
        first_run=True,
        serves_new_version=True,
    )
    yield Scenario(
        id="filter-expression-changed",
        group="Filters",
        fault="a filter's expression differs from the config (changed by hand, or the config changed)",
        user_sees="run succeeds; the filter is deleted and created again with the configured expression "
        "(the step is retried until its name is free)",
        left="new version in service; the filter has the configured expression",
        inject=_change_filter,
        status="SUCCEEDED",
        outcome="succeeded",
    )


def _deletion_request(pipeline: OfflinePipeline, body: bytes = b"USER_ID\n7\n") -> None:
    pipeline.account.s3().put_object(Bucket=pipeline.bucket_name, Key="deletion-requests/ticket.csv", Body=body)


def _deletion_request_whose_job_fails(pipeline: OfflinePipeline) -> None:
    _deletion_request(pipeline)
    pipeline.account.personalize.fail_next("deletion_job", "Simulated deletion failure")


def _items_on_an_older_schema(pipeline: OfflinePipeline) -> None:
    """A movie file arrives for a dataset group whose items dataset has an older schema (no YEAR),
    and the move to the new one fails."""
    personalize = boto3.client("personalize", region_name=REGION)
    fields = [field for field in ITEMS_SCHEMA["fields"] if field["name"] != "YEAR"]
    schema = personalize.create_schema(
        name="movielens-items-0000beef", schema=json.dumps({**ITEMS_SCHEMA, "fields": fields})
    )["schemaArn"]
    (group,) = [g for g in pipeline.account.personalize.resources_of("dataset_group") if g["name"] == "movielens"]
    personalize.create_dataset(
        name="movielens-items", schemaArn=schema, datasetGroupArn=group["datasetGroupArn"], datasetType="Items"
    )
    pipeline.account.clock.advance(120)
    pipeline.upload_items(to_u_item())
    pipeline.account.personalize.fail_next("dataset_update", "Simulated dataset update failure")


# The Personalize calls a run with a new deletion request makes besides the others.
DELETION_CALLS = ("ListDataDeletionJobs", "CreateDataDeletionJob", "DescribeDataDeletionJob")


def _deletion_request_throttled(operation: str) -> Callable[[OfflinePipeline], None]:
    def inject(pipeline: OfflinePipeline) -> None:
        _deletion_request(pipeline)
        _throttle(operation, *["ThrottlingException"] * 12)(pipeline)

    return inject


def _data_scenarios() -> Iterator[Scenario]:
    for operation in DELETION_CALLS:
        sdk = operation == "DescribeDataDeletionJob"  # the wait's status check, an aws-sdk task
        yield Scenario(
            id=f"deletion-throttled-exhausted-{operation}",
            group="Items and deletion requests",
            fault=f"a user's deletion request arrives, and {operation} keeps answering ThrottlingException",
            user_sees="run fails at stage data deletion after 5 retries with "
            + ("Personalize.PersonalizeException" if sdk else "ThrottlingException"),
            left="previous version in service; the request stays under deletion-requests/ for the next run",
            inject=_deletion_request_throttled(operation),
            status="FAILED",
            error="Personalize.PersonalizeException" if sdk else "ThrottlingException",
            read_only=operation.startswith(("List", "Describe")),
        )
    yield Scenario(
        id="deletion-job-failed",
        group="Items and deletion requests",
        fault="a user's deletion request arrives, and its data deletion job ends FAILED",
        user_sees="run fails at stage data deletion with DataDeletionJobFailed and Personalize's failureReason; "
        "nothing is trained",
        left="previous version in service; the request stays under deletion-requests/ for the next run",
        inject=_deletion_request_whose_job_fails,
        status="FAILED",
        error="DataDeletionJobFailed",
        cause="Simulated deletion failure",
    )
    yield Scenario(
        id="deletion-request-malformed",
        group="Items and deletion requests",
        fault="a deletion request without the USER_ID header",
        user_sees="run fails at prepare data with DeletionRequestInvalidError naming the file and the format",
        left="previous version in service; the file is kept until it is fixed",
        inject=lambda pipeline: _deletion_request(pipeline, b"user\n7\n"),
        repair=_deletion_request,
        status="FAILED",
        error="DeletionRequestInvalidError",
        cause="must be a CSV whose first line is USER_ID",
    )
    yield Scenario(
        id="dataset-update-failed",
        group="Items and deletion requests",
        fault="the items dataset's move to the new schema (UpdateDataset) ends CREATE FAILED",
        user_sees="run fails at stage items import with DatasetUpdateFailedError naming both schemas and the reason",
        left="previous version in service; the dataset keeps its schema, and the next run moves it again",
        inject=_items_on_an_older_schema,
        status="FAILED",
        error="DatasetUpdateFailedError",
        cause="Simulated dataset update failure",
    )


def _change_filter(pipeline: OfflinePipeline) -> None:
    """The exclusion filter replaced by hand with another expression under the same name."""
    personalize = boto3.client("personalize", region_name=REGION)
    (unseen,) = [f for f in pipeline.account.personalize.resources_of("filter") if f["name"].endswith("-unseen")]
    personalize.delete_filter(filterArn=unseen["filterArn"])
    pipeline.account.clock.advance(120)
    personalize.create_filter(
        name=unseen["name"],
        datasetGroupArn=unseen["datasetGroupArn"],
        filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")',
    )
    pipeline.account.clock.advance(120)


SCENARIOS: list[Scenario] = [
    *_call_scenarios(),
    *_filter_scenarios(),
    *_data_scenarios(),
    Scenario(
        id="busy-campaign-update",
        group="ResourceInUse",
        fault="a campaign update (a rollback, an aborted run) is still in progress when the run deploys",
        user_sees="run succeeds; UpdateCampaign is retried until the other update finished",
        left="new version in service",
        inject=_campaign_update_in_progress,
        status="SUCCEEDED",
        outcome="succeeded",
    ),
    Scenario(
        id="busy-import",
        group="ResourceInUse",
        fault="an import job of an aborted run is still running in the dataset",
        user_sees="run succeeds; CreateDatasetImportJob is retried until the other import finished",
        left="new version in service",
        inject=_import_in_progress,
        status="SUCCEEDED",
        outcome="succeeded",
    ),
    *_create_failed_scenarios(),
    Scenario(
        id="lambda-transient",
        group="Lambda",
        fault="the Lambda service fails one invocation (Lambda.ServiceException)",
        user_sees="run succeeds; the execution history shows one retry",
        left="new version in service",
        inject=_lambda_fault("StartTraining", "Lambda.ServiceException", "Service unavailable", 1),
        status="SUCCEEDED",
        outcome="succeeded",
    ),
    Scenario(
        id="lambda-always-crashes",
        group="Lambda",
        fault="a step's code crashes on every invocation",
        user_sees="run fails with the step's error type and message",
        left="previous version in service; the next run continues",
        inject=_lambda_fault(
            "DeployCampaign",
            "KeyError",
            json.dumps({"errorMessage": "'campaignArn'", "errorType": "KeyError"}),
            100,
        ),
        status="FAILED",
        error="KeyError",
        cause="'campaignArn'",
    ),
    Scenario(
        id="smoke-test-no-items",
        group="Smoke test",
        fault="the new version passes the quality gate but answers no recommendations",
        user_sees="run fails with SmokeTestFailedError, after putting the previous version back",
        left="previous version in service again (the rollback update is awaited); the next run continues",
        inject=lambda pipeline: pipeline.account.personalize.train_empty_model_next(),
        status="FAILED",
        error="SmokeTestFailedError",
        cause="returned no recommendations",
    ),
    Scenario(
        id="smoke-test-no-items-first-run",
        group="Smoke test",
        fault="the first version answers no recommendations",
        user_sees="run fails with SmokeTestFailedError",
        left="the campaign serves that first version (there is none to go back to); the next run replaces it",
        inject=lambda pipeline: pipeline.account.personalize.train_empty_model_next(),
        status="FAILED",
        error="SmokeTestFailedError",
        cause="returned no recommendations",
        first_run=True,
        serves_new_version=True,
    ),
    Scenario(
        id="raw-missing",
        group="Raw data",
        fault="no raw ratings file in the bucket",
        user_sees="run fails with RawDataNotFoundError saying where to upload and with which command",
        left="nothing touched",
        inject=_no_raw,
        status="FAILED",
        error="RawDataNotFoundError",
        cause="upload_movielens.py",
    ),
    Scenario(
        id="raw-empty",
        group="Raw data",
        fault="the raw file is empty",
        user_sees="run fails with NoUsableRowsError and the counts",
        left="nothing touched",
        inject=_raw(b""),
        status="FAILED",
        error="NoUsableRowsError",
        cause="no usable rows",
    ),
    Scenario(
        id="raw-wrong-delimiter",
        group="Raw data",
        fault="the raw file is comma-separated although the format is ml-100k (tab-separated)",
        user_sees="run fails with NoUsableRowsError, counting the malformed rows",
        left="nothing touched",
        inject=_raw(GOOD.replace(b"\t", b",")),
        status="FAILED",
        error="NoUsableRowsError",
        cause="malformed",
    ),
    Scenario(
        id="raw-some-bad-rows",
        group="Raw data",
        fault="a few rows of the raw file are malformed",
        user_sees="run succeeds; its output counts the malformed rows and names their lines",
        left="new version in service",
        inject=_raw(GOOD + b"not a rating\n1\t2\n" + to_u_data(generate_ratings(users=30, seed=5, first_user=900))),
        status="SUCCEEDED",
        outcome="succeeded",
    ),
    Scenario(
        id="raw-only-bad-rows",
        group="Raw data",
        fault="every row of the raw file is malformed",
        user_sees="run fails with NoUsableRowsError and the counts",
        left="nothing touched",
        inject=_raw(b"userId;movieId;rating\n1;2;5\n"),
        status="FAILED",
        error="NoUsableRowsError",
        cause="malformed",
    ),
    *_input_scenarios(),
    *_batch_scenarios(),
]


# --- the report ------------------------------------------------------------------------------------


def render_report() -> str:
    """docs/fault-matrix.md, from SCENARIOS."""
    lines = [
        "# Fault matrix",
        "",
        "Generated from `simulator/fault_scenarios.py` by `python tools/render_fault_matrix.py`; a test",
        "fails when this file no longer matches the scenarios. Every scenario runs offline end to end",
        "with the real handlers and asserts the outcome below, then the invariants: the campaign",
        "serves the last good solution version (with batch output: the manifest names the last good",
        "output), the next run continues from what is left and succeeds, and another team's dataset",
        "group is untouched. The batch scenarios run a deployment to batch only.",
        "",
        f"{len(SCENARIOS)} scenarios. Configuration errors are covered separately: every bad value of",
        "`cdk.json` stops synth with one line naming the key, the value and an example",
        "(`tests/unit/test_config.py`, `tests/infra/test_app_errors.py`).",
        "",
    ]
    for group in dict.fromkeys(s.group for s in SCENARIOS):
        lines += [f"## {group}", "", "| fault | what the user sees | state left |", "|---|---|---|"]
        for scenario in (s for s in SCENARIOS if s.group == group):
            when = " (first run)" if scenario.first_run else ""
            lines.append(f"| {scenario.fault}{when} | {scenario.user_sees} | {scenario.left} |")
        lines.append("")
    return "\n".join(lines)
