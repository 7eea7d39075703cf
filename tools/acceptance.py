#!/usr/bin/env python3
"""Real-account acceptance test: deploy a copy of the pipeline, run it twice, destroy it, look for leftovers.

Why not the CDK's integ-runner with @aws-cdk/integ-tests-alpha: between deploy and destroy this test
uploads generated ratings to the bucket the deployment named and waits hours for training, twice; as an
integ test that is a second CDK app beside app.py, another npm package plus an alpha library, and
assertions run as Lambda-backed custom resources with capped waits that fail as CloudFormation events.
The CDK CLI and boto3 here print each step as it happens, and the parts are tested offline.

    make acceptance                                   # prints the plan and the cost, then asks for "yes"
    make acceptance ARGS="--yes --region us-east-1 --profile sandbox"
    ACCEPTANCE_CONFIRM=yes make acceptance

What it does, printing each step:

1. prints the plan and the expected cost; checks the CDK CLI (make install), the credentials (STS
   GetCallerIdentity), the region, that the stack name is free; asks for confirmation;
2. deploys the stack under a unique name (``PersonalizePipeline-acc<yyyymmddhhmm>``, pipelineName
   ``acc<yyyymmddhhmm>``, the schedule disabled, the data bucket deleted with the stack);
3. uploads generated ratings above Personalize's minimums, runs one cycle ({"trigger": "acceptance"}) and
   asserts it succeeded and that the campaign answers GetRecommendations with items;
4. uploads the same bytes again, runs again and asserts the run is skipped without training;
5. updates the campaign to the version it serves, to observe DescribeCampaign right after UpdateCampaign;
6. prints each stage's real duration and the observations for the register's assumed entries;
7. always (unless --keep): ``cdk destroy``, then asserts the stack and its bucket are gone and that no
   Personalize resource named after the pipeline is left.

Exit codes: 0 passed; 1 an expectation failed or a cdk command failed (the message says which); 2 bad
command line; 4 something to do first (credentials, region, make install, confirmation, stack name in use);
5 AWS refused a call; 130 interrupted. Once the deployment has started, the stack is destroyed before exiting.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parents[1]
# The project's packages, and the data preparation's converter (a Lambda folder, not a package):
# the dataset is counted with the very code that will convert it.
for _path in (REPO, REPO / "lambdas" / "prepare_data"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import boto3  # noqa: E402
from botocore.exceptions import (  # noqa: E402
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    SSOError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)
from movielens import MIN_INTERACTIONS, MIN_USERS_WITH_TWO_INTERACTIONS, ConversionStats, convert  # noqa: E402

from contract.layout import STATE_KEY  # noqa: E402
from contract.personalize import PENDING_STATUSES  # noqa: E402
from pipelinectl import cli  # noqa: E402
from pipelinectl.backend import Backend  # noqa: E402
from pipelinectl.errors import ActionNeeded, ExitCode, NoCredentials, NotConfirmed  # noqa: E402
from pipelinectl.run_view import RunView, elapsed_text  # noqa: E402
from pipelinectl.runs import SKIPPED, SUCCEEDED, Run, describe_run, new_history_events  # noqa: E402
from pipelinectl.stack import PipelineStack, find_stack  # noqa: E402
from pipelinectl.workflow_graph import build_graph  # noqa: E402
from simulator.sample_data import generate_ratings, to_ratings_csv, to_u_data  # noqa: E402
from stacks.artifacts import STACK_NAME, STACK_NAME_CONTEXT_KEY, StackNameError, stack_name_from_context  # noqa: E402
from stacks.config import CONTEXT_KEY, PipelineConfig, lists_pipelines, load_config, pipeline_block  # noqa: E402

PROG = "python tools/acceptance.py"
CONFIRM_VARIABLE = "ACCEPTANCE_CONFIRM"
CDK_JSON = REPO / "cdk.json"
CDK_CLI = REPO / "node_modules" / ".bin" / "cdk"
VENV_BIN = REPO / ".venv" / "bin"
# The Makefile's CDK invocation: the local CLI, no notices or version reporting in the log.
CDK_BASE = ("npx", "--no-install", "cdk", "--no-notices", "--no-version-reporting")
TRIGGER = "acceptance"

# --------------------------------------------------------------------------- the expected cost

# Amazon Personalize list prices, us-east-1, for the pricing page's three items. Check the page before
# relying on them: they are typed in, not fetched. On the date below the page's own copy showed the
# billing model but no figures; two third-party copies of it agreed on these rates. The free tier of
# a new account is not deducted.
PRICING_SOURCE = "https://aws.amazon.com/personalize/pricing/"
PRICES_AS_OF = "2026-11-30"
PRICING_REGION = "us-east-1"
USD_PER_TRAINING_HOUR = 0.24  # a training hour is 4 vCPU and 8 GiB for an hour: billed hours can exceed wall time
USD_PER_TPS_HOUR = 0.20  # campaigns: max(minProvisionedTPS, used TPS) each hour, first 20,000 TPS-hours a month
USD_PER_GB_INGESTED = 0.05  # data imported into a dataset (S3 batch imports and streamed events)
# Step Functions transitions (a few hundred per training run), Lambda, S3, CloudWatch logs, alarms and a dashboard
# for a few hours: cents at most.
USD_OTHER_SERVICES = 0.05
# What the test expects to use (the durations the offline simulator uses too).
EXPECTED_TRAINING_HOURS_PER_RUN = 2.0
EXPECTED_TRAINING_RUNS = 1  # the second run finds the same data and skips training
EXPECTED_CAMPAIGN_HOURS = 1.0  # created ~20 min before the end of run 1, then run 2, the update probe, destroy

# --------------------------------------------------------------------------- the generated data

# simulator.sample_data's defaults: 7,663 ratings of 200 users, 4,239 of them at or above 4.0, all 200 users
# with two or more. Above Personalize's minimums (1,000 interactions, 25 users with two) by this factor at least:
DATA_MARGIN = 2
DATA_SEED = 7

# --------------------------------------------------------------------------- waiting

EXECUTION_LISTING_TIMEOUT_SECONDS = 60.0
EXECUTION_LISTING_POLL_SECONDS = 0.25
# DescribeCampaign may answer as before the call for a while after UpdateCampaign: read it often at first.
STALE_READ_POLL_SECONDS = 1.0
STALE_READ_TIMEOUT_SECONDS = 120.0
CAMPAIGN_UPDATE_POLL_SECONDS = 30.0
CAMPAIGN_UPDATE_MAX_CHECKS = 90  # 45 minutes; the teardown waits for an update that is still going
WATCH_ATTEMPTS = 3
# Active dataset groups per region (Personalize quotas page; adjustable). The test creates one.
DEFAULT_DATASET_GROUP_QUOTA = 5
UNKNOWN_USER = "acceptance-unknown-user"


class AcceptanceFailure(Exception):
    """The real account did not do what the pipeline expects; the message says what and where."""

    exit_code = ExitCode.RUN_FAILED


class NotObserved(Exception):
    """An observation whose evidence this session did not gather (the message says why)."""


def refusal(error: ClientError) -> str:
    """AWS's refusal in one line: the operation, the error code and AWS's own message."""
    info = error.response.get("Error", {})
    return f"AWS refused {error.operation_name}: {info.get('Code')}: {info.get('Message')}"


def check(condition: bool, message: str) -> None:
    """An assertion that survives ``python -O`` and reads as the failure it reports."""
    if not condition:
        raise AcceptanceFailure(message)


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Plan:
    """What this session deploys: names, the ``personalize`` context block, the validated config."""

    stack_name: str
    pipeline_name: str
    context_block: dict[str, Any]
    config: PipelineConfig
    keep: bool = False

    @property
    def context_json(self) -> str:
        return json.dumps(self.context_block, separators=(",", ":"))


def unique_pipeline_name(now: datetime) -> str:
    """``acc<yyyymmddhhmm>`` (15 characters): unique per minute, within pipelineName's 32."""
    return f"acc{now.astimezone(UTC):%Y%m%d%H%M}"


def default_stack_name(pipeline_name: str) -> str:
    return f"{STACK_NAME}-{pipeline_name}"


def read_context_block(cdk_json: Path = CDK_JSON) -> dict[str, Any]:
    """The ``personalize`` block of cdk.json, as the user configured it ({} without one). With several
    pipelines (``pipelines``), the first one's block over the shared defaults: the session deploys one."""
    block = json.loads(cdk_json.read_text()).get("context", {}).get(CONTEXT_KEY, {})
    if not isinstance(block, dict):
        return {}
    if lists_pipelines(block) and isinstance(block.get("pipelines"), list) and block["pipelines"]:
        return pipeline_block(block, 0)
    return copy.deepcopy(block)


def acceptance_block(block: Mapping[str, Any], pipeline_name: str) -> dict[str, Any]:
    """The user's block with what the test needs: its own name, no scheduled runs, nothing kept on destroy.

    ``-c personalize=...`` replaces cdk.json's whole block (the CLI does not merge context values),
    so the block passed is the user's with these three keys overridden.
    """
    result = copy.deepcopy(dict(block))
    result["pipelineName"] = pipeline_name
    result["schedule"] = {**result.get("schedule", {}), "enabled": False}
    result["data"] = {**result.get("data", {}), "onDestroy": "destroy"}
    return result


def make_plan(now: datetime, *, stack_name: str | None = None, keep: bool = False, cdk_json: Path = CDK_JSON) -> Plan:
    pipeline_name = unique_pipeline_name(now)
    block = acceptance_block(read_context_block(cdk_json), pipeline_name)
    return Plan(
        stack_name=stack_name or default_stack_name(pipeline_name),
        pipeline_name=pipeline_name,
        context_block=block,
        config=load_config(block),  # a bad value stops here, before anything is deployed
        keep=keep,
    )


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class AcceptanceData:
    """The raw ratings file to upload, and what the pipeline's converter makes of it."""

    body: bytes
    ratings: int
    interactions: int
    users: int
    users_with_two: int
    interactions_bytes: int


def generate_dataset(config: PipelineConfig, *, seed: int = DATA_SEED) -> AcceptanceData:
    """Generated ratings in the configured format, counted by the data preparation's own converter."""
    ratings = generate_ratings(seed=seed, half_stars=config.data.format == "ratings-csv")
    body = to_u_data(ratings) if config.data.format == "ml-100k" else to_ratings_csv(ratings)
    stats = ConversionStats()
    interactions = b"".join(convert([body], config.data.format, config.data.min_rating, stats, source="generated"))
    return AcceptanceData(
        body=body,
        ratings=len(ratings),
        interactions=stats.rows_written,
        users=stats.users or 0,
        users_with_two=stats.users_with_two_or_more or 0,
        interactions_bytes=len(interactions),
    )


def check_minimums(data: AcceptanceData, min_rating: float) -> None:
    """Personalize refuses to train below its minimums; a failure there would cost hours to find."""
    check(
        data.interactions >= DATA_MARGIN * MIN_INTERACTIONS,
        f"the generated data has {data.interactions:,} interactions at or above rating {min_rating:g}; "
        f"the test wants at least {DATA_MARGIN * MIN_INTERACTIONS:,} ({DATA_MARGIN} x Personalize's {MIN_INTERACTIONS:,})",
    )
    check(
        data.users_with_two >= DATA_MARGIN * MIN_USERS_WITH_TWO_INTERACTIONS,
        f"the generated data has {data.users_with_two} users with two or more interactions; the test wants at least "
        f"{DATA_MARGIN * MIN_USERS_WITH_TWO_INTERACTIONS} ({DATA_MARGIN} x Personalize's {MIN_USERS_WITH_TWO_INTERACTIONS})",
    )


# --------------------------------------------------------------------------- cost


@dataclass(frozen=True)
class CostEstimate:
    """The expected bill of one acceptance session, from the named prices and durations above."""

    training_runs: int = EXPECTED_TRAINING_RUNS
    training_hours_per_run: float = EXPECTED_TRAINING_HOURS_PER_RUN
    campaign_hours: float = EXPECTED_CAMPAIGN_HOURS
    min_provisioned_tps: int = 1
    ingested_bytes: int = 0

    @property
    def training_usd(self) -> float:
        return self.training_runs * self.training_hours_per_run * USD_PER_TRAINING_HOUR

    @property
    def campaign_usd(self) -> float:
        return self.campaign_hours * self.min_provisioned_tps * USD_PER_TPS_HOUR

    @property
    def ingested_gb(self) -> float:
        # Every training run imports the whole file once.
        return self.training_runs * self.ingested_bytes / 1e9

    @property
    def ingestion_usd(self) -> float:
        return self.ingested_gb * USD_PER_GB_INGESTED

    @property
    def total_usd(self) -> float:
        return self.training_usd + self.campaign_usd + self.ingestion_usd + USD_OTHER_SERVICES

    @property
    def extra_training_usd(self) -> float:
        """What one more training run adds (the second run trains if skipping is broken)."""
        return self.training_hours_per_run * USD_PER_TRAINING_HOUR

    def lines(self) -> list[str]:
        return [
            f"Expected cost: an estimate at {PRICING_REGION} list prices as of {PRICES_AS_OF} "
            f"(check the pricing page: {PRICING_SOURCE}); free tier not deducted",
            f"  training        {self.training_runs} run x {self.training_hours_per_run:g} training hours "
            f"x ${USD_PER_TRAINING_HOUR:.2f}/training hour = ${self.training_usd:.2f}",
            f"  campaign        {self.campaign_hours:g} h alive x {self.min_provisioned_tps} TPS (minProvisionedTPS) "
            f"x ${USD_PER_TPS_HOUR:.2f}/TPS-hour = ${self.campaign_usd:.2f}",
            f"  data ingestion  {self.ingested_gb:.6f} GB x ${USD_PER_GB_INGESTED:.2f}/GB = ${self.ingestion_usd:.4f}",
            f"  other services  Step Functions, Lambda, S3, CloudWatch for a few hours: at most ${USD_OTHER_SERVICES:.2f}",
            f"  total           about ${self.total_usd:.2f}; if the second run trains instead of skipping (the test "
            f"then fails), ${self.extra_training_usd:.2f} more",
        ]


def estimate_for(plan: Plan, data: AcceptanceData) -> CostEstimate:
    """Each solution trains once; the campaigns' TPS add up."""
    return CostEstimate(
        training_runs=EXPECTED_TRAINING_RUNS * len(plan.config.trained_solutions),
        min_provisioned_tps=plan.config.provisioned_tps,
        ingested_bytes=data.interactions_bytes,
    )


# --------------------------------------------------------------------------- the CDK CLI


def cdk_context_arguments(plan: Plan) -> list[str]:
    return ["-c", f"{STACK_NAME_CONTEXT_KEY}={plan.stack_name}", "-c", f"{CONTEXT_KEY}={plan.context_json}"]


def deploy_command(plan: Plan, output_dir: Path, profile: str | None = None) -> list[str]:
    """``cdk deploy`` of this session's stack; synth goes to ``output_dir`` so the user's cdk.out stays as it is."""
    return [
        *CDK_BASE,
        "deploy",
        plan.stack_name,
        "--require-approval",
        "never",
        "--output",
        str(output_dir),
        *cdk_context_arguments(plan),
        *(["--profile", profile] if profile else []),
    ]


def destroy_command(plan: Plan, output_dir: Path, profile: str | None = None) -> list[str]:
    """``cdk destroy`` with the same context: the app must synthesize the same stack to destroy it."""
    return [
        *CDK_BASE,
        "destroy",
        plan.stack_name,
        "--force",
        "--output",
        str(output_dir),
        *cdk_context_arguments(plan),
        *(["--profile", profile] if profile else []),
    ]


def cdk_environment(environ: Mapping[str, str], region: str) -> dict[str, str]:
    """What the Makefile exports for the CDK CLI, and the region the session resolved."""
    python_dir = VENV_BIN if VENV_BIN.is_dir() else Path(sys.executable).parent
    env = dict(environ)
    # cdk.json runs `python3 app.py`; the CDK CLI and jsii run on the project's Node 22.
    env["PATH"] = os.pathsep.join([str(REPO / "node_modules" / ".bin"), str(python_dir), env.get("PATH", "")])
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    env["AWS_REGION"] = env["AWS_DEFAULT_REGION"] = region
    return env


def run_in_repo(argv: Sequence[str], env: Mapping[str, str]) -> int:
    """Run a command in the repository, its output going straight to the terminal."""
    return subprocess.run(list(argv), cwd=REPO, env=dict(env), check=False).returncode


# --------------------------------------------------------------------------- credentials and confirmation


@dataclass(frozen=True)
class CallerIdentity:
    account: str
    arn: str
    # Temporary keys from the environment cannot be refreshed: they may expire before the destroy.
    expiring_keys: bool = False


NO_CREDENTIALS_MESSAGE = (
    "no valid AWS credentials: run `aws configure` or `aws sso login`, or set AWS_PROFILE (or pass --profile); "
    "nothing was deployed"
)
CREDENTIAL_ERROR_CODES = (
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "SignatureDoesNotMatch",
)
CREDENTIAL_EXCEPTIONS = (
    NoCredentialsError,
    PartialCredentialsError,
    CredentialRetrievalError,
    SSOError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)


def caller_identity(session: Any) -> CallerIdentity:
    """STS GetCallerIdentity, or NoCredentials with what to do (no call at all without credentials)."""
    try:
        credentials = session.get_credentials()
        if credentials is None:
            raise NoCredentials(NO_CREDENTIALS_MESSAGE)
        expiring = getattr(credentials, "method", "") == "env" and bool(credentials.token)
        sts = session.client("sts", region_name=session.region_name or PRICING_REGION)
        answer = sts.get_caller_identity()
    except CREDENTIAL_EXCEPTIONS as error:
        raise NoCredentials(f"{NO_CREDENTIALS_MESSAGE} ({type(error).__name__})") from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in CREDENTIAL_ERROR_CODES:
            raise NoCredentials(f"{NO_CREDENTIALS_MESSAGE} ({code})") from None
        raise
    return CallerIdentity(account=answer["Account"], arn=answer["Arn"], expiring_keys=expiring)


def require_region(session: Any) -> str:
    if not session.region_name:
        raise ActionNeeded("no AWS region configured: pass --region (the estimate is for us-east-1) or set AWS_REGION")
    return str(session.region_name)


def confirm(
    question: str, *, yes: bool, environ: Mapping[str, str], interactive: bool, ask: Callable[[str], str]
) -> None:
    """Spending money needs an explicit yes: --yes, ACCEPTANCE_CONFIRM=yes, or "yes" typed in a terminal."""
    if yes or environ.get(CONFIRM_VARIABLE, "").strip().lower() == "yes":
        return
    if not interactive:
        raise NotConfirmed(
            f"the acceptance test needs a confirmation: type yes in a terminal, pass --yes (make acceptance "
            f"ARGS=--yes) or set {CONFIRM_VARIABLE}=yes; nothing was deployed"
        )
    try:
        answer = ask(question)
    except EOFError:
        answer = ""
    if answer.strip().lower() != "yes":
        raise NotConfirmed("not confirmed (the answer was not yes): nothing was deployed")


# --------------------------------------------------------------------------- leftovers


@dataclass(frozen=True, order=True)
class Leftover:
    kind: str
    name: str
    arn: str
    status: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.name} ({self.status or 'no status'}, {self.arn})"


def is_pipeline_name(name: str, pipeline_name: str) -> bool:
    """Names the pipeline gives: the pipeline name itself, or ``<pipeline>-…``."""
    return name == pipeline_name or name.startswith(f"{pipeline_name}-")


def _listed(personalize: Any, operation: str, key: str, **params: Any) -> Iterator[dict[str, Any]]:
    for page in personalize.get_paginator(operation).paginate(**params):
        yield from page.get(key, [])


# (kind, list operation, result key, ARN key) of what a dataset group holds, and of the account-wide lists.
_GROUP_CONTENTS = (
    ("dataset", "list_datasets", "datasets", "datasetArn"),
    ("solution", "list_solutions", "solutions", "solutionArn"),
    ("event tracker", "list_event_trackers", "eventTrackers", "eventTrackerArn"),
    ("filter", "list_filters", "Filters", "filterArn"),
)
_ACCOUNT_WIDE = (
    ("schema", "list_schemas", "schemas", "schemaArn"),
    ("solution", "list_solutions", "solutions", "solutionArn"),
    ("campaign", "list_campaigns", "campaigns", "campaignArn"),
    ("event tracker", "list_event_trackers", "eventTrackers", "eventTrackerArn"),
    ("filter", "list_filters", "Filters", "filterArn"),
)


def find_leftovers(personalize: Any, pipeline_name: str) -> list[Leftover]:
    """Every Personalize resource named ``pipeline_name`` or ``<pipeline_name>-…``, and all a matching group holds.

    Deliberately wider than the teardown (which deletes the group named exactly the pipeline name and
    the names it gives inside): after destroying a uniquely named pipeline nothing may carry its name.
    Solution versions and import jobs go with their solution and dataset; campaigns are listed
    account-wide and under each solution found.
    """
    found: dict[str, Leftover] = {}

    def add(kind: str, item: Mapping[str, Any], arn_key: str) -> None:
        found.setdefault(
            item[arn_key], Leftover(kind, str(item.get("name", "")), item[arn_key], str(item.get("status", "")))
        )

    groups = [
        group
        for group in _listed(personalize, "list_dataset_groups", "datasetGroups")
        if is_pipeline_name(group["name"], pipeline_name)
    ]
    for group in groups:
        add("dataset group", group, "datasetGroupArn")
        for kind, operation, key, arn_key in _GROUP_CONTENTS:
            for item in _listed(personalize, operation, key, datasetGroupArn=group["datasetGroupArn"]):
                add(kind, item, arn_key)
    for kind, operation, key, arn_key in _ACCOUNT_WIDE:
        for item in _listed(personalize, operation, key):
            if is_pipeline_name(str(item.get("name", "")), pipeline_name):
                add(kind, item, arn_key)
    for solution in [item for item in found.values() if item.kind == "solution"]:
        for campaign in _listed(personalize, "list_campaigns", "campaigns", solutionArn=solution.arn):
            add("campaign", campaign, "campaignArn")
    return sorted(found.values())


# --------------------------------------------------------------------------- runs and evidence


@dataclass
class RunRecord:
    """One execution this session started: how it ended and its whole history."""

    run: Run
    events: list[dict[str, Any]]


@dataclass(frozen=True)
class ListingLag:
    """How long (real seconds) after StartExecution returned ListExecutions(RUNNING) listed the new execution."""

    seconds: float | None  # None: not listed (see ended_first)
    calls: int
    timeout_seconds: float
    ended_first: bool = False  # the execution stopped RUNNING before any listing showed it


@dataclass(frozen=True)
class Upload:
    etag: str
    version_id: str | None


@dataclass
class CampaignUpdateProbe:
    """UpdateCampaign to the version the campaign serves, and what DescribeCampaign said right after."""

    refused: str | None = None
    before: dict[str, Any] = field(default_factory=dict)
    right_after: dict[str, Any] = field(default_factory=dict)
    reads_until_reflected: int = 0
    seconds_until_reflected: float | None = None  # None: still the answer from before the call
    final_status: str | None = None
    seconds_to_end: float | None = None
    checks: int = 0

    @staticmethod
    def latest(campaign: Mapping[str, Any]) -> Any:
        return campaign.get("latestCampaignUpdate")


@dataclass
class Evidence:
    """What the session saw, for the durations and the observations printed at the end."""

    client: Callable[[str], Any]
    plan: Plan
    stack: PipelineStack | None = None
    definition: dict[str, Any] | None = None
    runs: dict[str, RunRecord] = field(default_factory=dict)
    listing_lag: ListingLag | None = None
    uploads: list[Upload] = field(default_factory=list)
    campaign_update: CampaignUpdateProbe | None = None
    campaign_created: datetime | None = None
    training_hours: float | None = None

    def first_run(self) -> RunRecord:
        if not self.runs:
            raise NotObserved("no run finished in this session")
        return next(iter(self.runs.values()))

    def primary(self) -> Run:
        """The first run as the primary solution saw it (the single one, or the first answering users)."""
        return self.first_run().run.of_solution(self.plan.config.primary_solution.name)


def measure_listing_lag(
    stepfunctions: Any,
    state_machine_arn: str,
    execution_arn: str,
    *,
    started: float,
    clock: Callable[[], float] = time.monotonic,
    pause: Callable[[float], None] = time.sleep,
    timeout_seconds: float = EXECUTION_LISTING_TIMEOUT_SECONDS,
) -> ListingLag:
    """ListExecutions(RUNNING), as the workflow's guard calls it, until it lists ``execution_arn``.

    Real time (``started`` is ``clock()`` when StartExecution returned): the lag is the service's.
    An execution that is no longer RUNNING cannot appear under that filter, so polling stops there.
    """
    calls = 0
    while True:
        calls += 1
        listed = stepfunctions.list_executions(
            stateMachineArn=state_machine_arn, statusFilter="RUNNING", maxResults=100
        )
        if any(e["executionArn"] == execution_arn for e in listed["executions"]):
            return ListingLag(clock() - started, calls, timeout_seconds)
        if stepfunctions.describe_execution(executionArn=execution_arn)["status"] != "RUNNING":
            return ListingLag(None, calls, timeout_seconds, ended_first=True)
        if clock() - started >= timeout_seconds:
            return ListingLag(None, calls, timeout_seconds)
        pause(EXECUTION_LISTING_POLL_SECONDS)


def history(stepfunctions: Any, execution_arn: str) -> list[dict[str, Any]]:
    return new_history_events(stepfunctions, execution_arn, 0)


def state_output(events: Sequence[Mapping[str, Any]], state_name: str) -> dict[str, Any] | None:
    """The output of the first exit from ``state_name`` in a history."""
    for event in events:
        details = event.get("stateExitedEventDetails")
        if details and details.get("name") == state_name:
            output = json.loads(details.get("output") or "null")
            return output if isinstance(output, dict) else None
    return None


def step_durations(definition: Mapping[str, Any], events: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each step of a run with its real duration, as `python -m pipelinectl watch` shows it."""
    view = RunView(build_graph(dict(definition)))
    for event in events:
        view.apply(dict(event))
    lines = []
    for row in view.rows:
        end = row.ended or view.stopped or row.started
        checks = f" ({row.checks} check{'s' if row.checks != 1 else ''})" if row.checks else ""
        lines.append(f"{row.step.name:<42} {elapsed_text(end - row.started):>8}{checks}")
    return lines


# --------------------------------------------------------------------------- observations
# Each names the register entry (docs/aws-behaviour.md) whose assumption it checks, reads the evidence
# and the account (never changes it), and says what it saw; it never fails the test.


def observe_listing_lag(evidence: Evidence) -> str:
    lag = evidence.listing_lag
    if lag is None:
        raise NotObserved("no execution was started")
    if lag.seconds is not None:
        seen = (
            f"ListExecutions(statusFilter=RUNNING) listed a new execution {lag.seconds:.2f} s after StartExecution "
            f"returned ({lag.calls} call{'s' if lag.calls != 1 else ''})"
        )
    elif lag.ended_first:
        seen = f"the execution ended before ListExecutions(statusFilter=RUNNING) listed it ({lag.calls} calls)"
    else:
        seen = (
            f"ListExecutions(statusFilter=RUNNING) did not list a new execution within {lag.timeout_seconds:g} s "
            f"({lag.calls} calls)"
        )
    guard = (state_output(evidence.first_run().events, "Look for another run") or {}).get("running")
    if not isinstance(guard, dict) or "listedItself" not in guard:
        return seen + "; the run's guard reported no listing"
    return (
        seen + f"; the run's own guard ('Look for another run') listed {guard.get('runningListed')} RUNNING, "
        f"itself {'included' if guard['listedItself'] else 'NOT included'}"
    )


def observe_campaign_update(evidence: Evidence) -> str:
    probe = evidence.campaign_update
    if probe is None:
        raise NotObserved("the campaign update probe did not run")
    if probe.refused:
        return f"UpdateCampaign to the served version was refused: {probe.refused}"
    after = probe.right_after
    update = probe.latest(after) or {}
    stale = probe.latest(after) == probe.latest(probe.before)
    text = (
        f"right after UpdateCampaign, DescribeCampaign said: status {after.get('status')}, latestCampaignUpdate "
        f"{update.get('status', 'absent')} ({'the same as before the call: a stale read' if stale else 'the new update'})"
    )
    if probe.seconds_until_reflected is None:
        text += f"; still the answer from before after {probe.reads_until_reflected} reads"
    elif stale:
        text += (
            f"; the new update showed after {probe.seconds_until_reflected:.1f} s ({probe.reads_until_reflected} reads)"
        )
    if probe.seconds_to_end is not None:
        took = elapsed_text(timedelta(seconds=probe.seconds_to_end))
        text += f"; the update ended {probe.final_status} after {took} ({probe.checks} checks)"
    else:
        text += f"; still {probe.final_status} after {probe.checks} checks"
    return text


def observe_dataset_last_updated(evidence: Evidence) -> str:
    job_arn = evidence.primary().output.get("datasetImportJobArn")
    if not job_arn:
        raise NotObserved("the first run recorded no import job")
    personalize = evidence.client("personalize")
    job = personalize.describe_dataset_import_job(datasetImportJobArn=job_arn)["datasetImportJob"]
    dataset = personalize.describe_dataset(datasetArn=job["datasetArn"])["dataset"]
    moved = dataset["lastUpdatedDateTime"] >= job["creationDateTime"]
    return (
        f"dataset created {dataset['creationDateTime']:%H:%M:%S}, "
        f"lastUpdatedDateTime {dataset['lastUpdatedDateTime']:%H:%M:%S}; "
        f"import job created {job['creationDateTime']:%H:%M:%S}, {job['status']} at {job['lastUpdatedDateTime']:%H:%M:%S}: "
        f"the import {'moved' if moved else 'did NOT move'} the dataset's lastUpdatedDateTime"
    )


def observe_training_hours(evidence: Evidence) -> str:
    arn = evidence.primary().output.get("solutionVersionArn")
    if not arn:
        raise NotObserved("the first run recorded no solution version")
    version = evidence.client("personalize").describe_solution_version(solutionVersionArn=arn)["solutionVersion"]
    wall = version["lastUpdatedDateTime"] - version["creationDateTime"]
    hours = version.get("trainingHours")
    if hours is None:
        return f"DescribeSolutionVersion reports no trainingHours; wall time {elapsed_text(wall)}"
    evidence.training_hours = float(hours)
    ratio = float(hours) / max(wall.total_seconds() / 3600, 1e-9)
    return (
        f"billed trainingHours {float(hours):.2f} for a wall time of {elapsed_text(wall)} ({ratio:.1f} x); "
        f"the estimate assumed {EXPECTED_TRAINING_HOURS_PER_RUN:g}"
    )


def observe_unknown_user(evidence: Evidence) -> str:
    campaign_arn = evidence.primary().output.get("campaignArn")
    if not campaign_arn:
        raise NotObserved("the first run deployed no campaign")
    items = evidence.client("personalize-runtime").get_recommendations(
        campaignArn=campaign_arn, userId=UNKNOWN_USER, numResults=10
    )["itemList"]
    return f"GetRecommendations for a user not in the data ({UNKNOWN_USER}) answered {len(items)} items, no error"


def observe_same_bytes_etag(evidence: Evidence) -> str:
    if len(evidence.uploads) < 2:
        raise NotObserved("the ratings were not uploaded twice")
    first, second = evidence.uploads[:2]
    same = first.etag == second.etag
    return (
        f"uploading the same bytes again gave {'the same' if same else 'ANOTHER'} ETag ({first.etag} / {second.etag}), "
        f"object versions {first.version_id} / {second.version_id}: the change detection "
        f"{'sees unchanged data' if same else 'would retrain on unchanged data'}"
    )


def observe_exclusion_filter(evidence: Evidence) -> str:
    """The exclusion filter on an interactions dataset without EVENT_TYPE: accepted or not."""
    if evidence.stack is None:
        raise NotObserved("no stack was found")
    name = f"{evidence.stack.names.filter_prefix}unseen"
    personalize = evidence.client("personalize")
    found = [
        f
        for page in personalize.get_paginator("list_filters").paginate()
        for f in page.get("Filters", [])
        if f["name"] == name
    ]
    if not found:
        raise NotObserved(f"no filter {name} (filters config changed?)")
    described = personalize.describe_filter(filterArn=found[0]["filterArn"])["filter"]
    text = f"filter {name} ({described['filterExpression']}) is {described['status']}"
    if described["status"] != "ACTIVE":
        return text + f": {described.get('failureReason', 'no reason given')}"
    campaign_arn = evidence.primary().output.get("campaignArn")
    if not campaign_arn:
        return text
    items = evidence.client("personalize-runtime").get_recommendations(
        campaignArn=campaign_arn, userId="1", numResults=10, filterArn=described["filterArn"]
    )["itemList"]
    return text + f"; GetRecommendations through it answered {len(items)} items for user 1"


Observation = Callable[[Evidence], str]
OBSERVATIONS: tuple[tuple[str, Observation], ...] = (
    ("sfn.list-executions.eventual-consistency", observe_listing_lag),
    ("personalize.campaign-update.stale-read", observe_campaign_update),
    ("personalize.last-updated-moves", observe_dataset_last_updated),
    ("personalize.solution-version.training-hours", observe_training_hours),
    ("personalize.get-recommendations.unknown-user", observe_unknown_user),
    ("s3.etag.same-bytes", observe_same_bytes_etag),
    ("personalize.filters.expressions", observe_exclusion_filter),
)


def collect_observations(
    evidence: Evidence, observations: Sequence[tuple[str, Observation]] = OBSERVATIONS
) -> list[tuple[str, str]]:
    """(register entry, what was seen) for each observation; a missing piece of evidence is said, not raised."""
    results = []
    for entry, observe in observations:
        try:
            text = observe(evidence)
        except NotObserved as reason:
            text = f"not observed: {reason}"
        except ClientError as error:
            text = f"not observed: {refusal(error)}"
        except Exception as error:
            text = f"not observed: {type(error).__name__}: {error}"
        results.append((entry, text))
    return results


# --------------------------------------------------------------------------- the session


@dataclass
class Dependencies:
    """Everything the session takes from the outside world; tests hand in their own."""

    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    ask: Callable[[str], str] = input
    interactive: Callable[[], bool] = lambda: sys.stdin.isatty()
    run_command: Callable[[Sequence[str], Mapping[str, str]], int] = run_in_repo
    make_session: Callable[[str | None, str | None], Any] = lambda profile, region: boto3.session.Session(
        profile_name=profile, region_name=region
    )
    identify: Callable[[Any], CallerIdentity] = caller_identity
    make_backend: Callable[[Any], Backend] = lambda session: Backend(session=session)
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    cdk_cli: Path = CDK_CLI
    output_dir: Callable[[], Path] = lambda: Path(tempfile.mkdtemp(prefix="cdk.out.acceptance-"))


class Reporter:
    """One line per step, with the wall-clock time: the session takes hours and runs unattended."""

    def __init__(self, out: TextIO, now: Callable[[], datetime]) -> None:
        self.out, self.now = out, now

    def step(self, text: str) -> None:
        print(f"\n==> [{self.now():%H:%M:%S}] {text}", file=self.out, flush=True)

    def info(self, text: str) -> None:
        print(f"    {text}", file=self.out, flush=True)


@dataclass
class Problem:
    message: str
    exit_code: int


class Session:
    """One acceptance session against a real account, from deployment to the leftover check."""

    def __init__(
        self,
        plan: Plan,
        data: AcceptanceData,
        estimate: CostEstimate,
        session: Any,
        region: str,
        profile: str | None,
        deps: Dependencies,
    ) -> None:
        self.plan, self.data, self.estimate = plan, data, estimate
        self.region, self.profile, self.deps = region, profile, deps
        self.backend = deps.make_backend(session)
        self.report = Reporter(deps.out, self.backend.now)
        self.evidence = Evidence(client=self.backend.client, plan=plan)
        self.problems: list[Problem] = []
        self.deployment_started = False
        self.output_dir: Path | None = None
        self.destroyed_at: datetime | None = None

    def client(self, service: str) -> Any:
        return self.backend.client(service)

    # ------------------------------------------------------------------ the whole session

    def run(self) -> int:
        try:
            self.exercise()
        except AcceptanceFailure as failure:
            self.problems.append(Problem(str(failure), ExitCode.RUN_FAILED))
        except ActionNeeded as error:
            self.problems.append(Problem(str(error), error.exit_code))
        except ClientError as error:
            self.problems.append(Problem(refusal(error), ExitCode.AWS_ERROR))
        except BotoCoreError as error:
            self.problems.append(Problem(f"AWS error: {error}", ExitCode.AWS_ERROR))
        except KeyboardInterrupt:
            self.problems.append(Problem("interrupted", ExitCode.INTERRUPTED))
        finally:
            self.clean_up()
        return self.verdict()

    def exercise(self) -> None:
        self.deploy()
        stack = self.find_deployed_stack()
        self.upload(stack, "Uploading")
        first = self.run_once(stack, "acceptance-run-1", measure_listing=True)
        check(
            first.run.outcome == SUCCEEDED,
            f"run {first.run.name} ended {first.run.outcome}, not succeeded"
            + (f": {first.run.error}: {first.run.cause}" if first.run.error else f" ({first.run.note})"),
        )
        self.check_recommendations(first)
        versions_before = self.solution_versions(stack)
        self.upload(stack, "Uploading the same bytes again")
        second = self.run_once(stack, "acceptance-run-2")
        check(
            second.run.outcome == SKIPPED,
            f"run {second.run.name} on the same data ended {second.run.outcome}, not skipped ({second.run.note})",
        )
        check(
            self.solution_versions(stack) == versions_before,
            f"run {second.run.name} was skipped but the solution versions changed: "
            f"{sorted(versions_before)} -> {sorted(self.solution_versions(stack))}",
        )
        self.report.info(f"run {second.run.name} was skipped: {second.run.note}; no solution version was trained")
        self.probe_campaign_update(first)

    # ------------------------------------------------------------------ steps

    def precheck(self) -> None:
        """Never deploy over (and then destroy) a stack or Personalize resources that exist already."""
        self.report.step(f"Checking that stack {self.plan.stack_name} and pipeline {self.plan.pipeline_name} are new")
        try:
            stacks = self.client("cloudformation").describe_stacks(StackName=self.plan.stack_name)["Stacks"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ValidationError":
                raise
            stacks = []
        if stacks:
            raise ActionNeeded(
                f"stack {self.plan.stack_name} already exists in {self.region} ({stacks[0]['StackStatus']}): the acceptance "
                "test deploys and destroys a stack of its own; pass another --stack-name, or none for a new one"
            )
        personalize = self.client("personalize")
        existing = find_leftovers(personalize, self.plan.pipeline_name)
        if existing:
            raise ActionNeeded(
                f"Personalize resources named {self.plan.pipeline_name} exist already ({existing[0]}): run the test "
                "again in a minute, under a new name"
            )
        self.report.info("both are new")
        groups = sum(1 for _ in _listed(personalize, "list_dataset_groups", "datasetGroups"))
        if groups >= DEFAULT_DATASET_GROUP_QUOTA:
            self.report.info(
                f"note: {self.region} has {groups} dataset groups and Personalize allows {DEFAULT_DATASET_GROUP_QUOTA} "
                "by default (adjustable): if run 1 fails with LimitExceededException, delete one or raise the quota"
            )

    def deploy(self) -> None:
        self.output_dir = self.deps.output_dir()
        argv = deploy_command(self.plan, self.output_dir, self.profile)
        self.report.step(
            f"Deploying stack {self.plan.stack_name} (pipeline {self.plan.pipeline_name}), about 5 minutes"
        )
        self.report.info(shlex.join(argv))
        self.deployment_started = True
        code = self.deps.run_command(argv, cdk_environment(self.deps.environ, self.region))
        check(code == 0, f"cdk deploy failed (exit {code}): its output above says why")

    def find_deployed_stack(self) -> PipelineStack:
        stack = find_stack(self.client("cloudformation"), self.plan.stack_name, self.region)
        self.evidence.stack = stack
        check(
            stack.pipeline_name == self.plan.pipeline_name,
            f"stack {stack.name} reports pipeline {stack.pipeline_name}, not {self.plan.pipeline_name}: "
            "the -c personalize block did not reach the app",
        )
        schedule = self.client("scheduler").get_schedule(Name=stack.schedule_name)
        check(
            schedule["State"] == "DISABLED",
            f"schedule {stack.schedule_name} is {schedule['State']}: it must be DISABLED so that only this test starts runs",
        )
        definition = self.client("stepfunctions").describe_state_machine(stateMachineArn=stack.state_machine_arn)[
            "definition"
        ]
        self.evidence.definition = json.loads(definition)
        self.report.info(f"bucket {stack.bucket}, state machine {stack.state_machine_arn}, schedule DISABLED")
        return stack

    def upload(self, stack: PipelineStack, verb: str) -> None:
        data = self.data
        self.report.step(
            f"{verb}: {data.ratings:,} generated ratings to s3://{stack.bucket}/{stack.raw_key} "
            f"({data.interactions:,} interactions at or above {self.plan.config.data.min_rating:g}, {data.users_with_two} "
            f"users with two or more; Personalize needs {MIN_INTERACTIONS:,} and {MIN_USERS_WITH_TWO_INTERACTIONS})"
        )
        check_minimums(data, self.plan.config.data.min_rating)
        answer = self.client("s3").put_object(Bucket=stack.bucket, Key=stack.raw_key, Body=data.body)
        upload = Upload(etag=str(answer.get("ETag", "")).strip('"'), version_id=answer.get("VersionId"))
        self.evidence.uploads.append(upload)
        self.report.info(f"ETag {upload.etag}, version {upload.version_id}")

    def run_once(self, stack: PipelineStack, name: str, *, measure_listing: bool = False) -> RunRecord:
        stepfunctions = self.client("stepfunctions")
        self.report.step(f"Starting run {name} with input {json.dumps({'trigger': TRIGGER})}")
        started = stepfunctions.start_execution(
            stateMachineArn=stack.state_machine_arn, name=name, input=json.dumps({"trigger": TRIGGER})
        )
        returned = time.monotonic()
        arn = started["executionArn"]
        if measure_listing:
            self.evidence.listing_lag = measure_listing_lag(
                stepfunctions, stack.state_machine_arn, arn, started=returned
            )
        self.report.info(f"{arn}; watching it (Ctrl-C stops the test, then destroys the stack)")
        record = RunRecord(self.follow(stack, arn), history(stepfunctions, arn))
        self.evidence.runs[name] = record
        self.report.info(
            f"run {name}: {record.run.outcome} after {elapsed_text(record.run.duration(self.backend.now()))}"
        )
        return record

    def follow(self, stack: PipelineStack, arn: str) -> Run:
        """`python -m pipelinectl watch` until the run ends; a watch that an AWS error ended is started again."""
        for _ in range(WATCH_ATTEMPTS):
            code = cli.main(
                ["--stack-name", stack.name, "watch", arn], out=self.deps.out, err=self.deps.err, backend=self.backend
            )
            if code == ExitCode.INTERRUPTED:
                raise KeyboardInterrupt
            run = describe_run(self.client("stepfunctions"), arn)
            if run.status != "RUNNING":
                return run
            self.report.info(f"watching stopped (exit {code}) while the run goes on; watching again")
        raise AcceptanceFailure(
            f"could not follow run {arn} to its end ({WATCH_ATTEMPTS} attempts): see the errors above"
        )

    def check_recommendations(self, first: RunRecord) -> None:
        """Each solution's campaign answers the request its recipe's type answers (its smoke request)."""
        for solution in self.plan.config.trained_solutions:
            if not solution.deployment.campaign:
                continue
            campaign_arn = first.run.of_solution(solution.name).output.get("campaignArn")
            smoke = solution.smoke_test
            asked = f"item {smoke.item_id}" if smoke.item_id is not None else f"user {smoke.user_id}"
            self.report.step(f"Asking campaign {campaign_arn} ({solution.label}) for recommendations for {asked}")
            check(bool(campaign_arn), f"run {first.run.name} succeeded without naming the campaign of {solution.label}")
            campaign = self.client("personalize").describe_campaign(campaignArn=campaign_arn)["campaign"]
            if solution is self.plan.config.primary_solution:
                self.evidence.campaign_created = campaign["creationDateTime"]
            check(campaign["status"] == "ACTIVE", f"campaign {campaign['name']} is {campaign['status']}, not ACTIVE")
            runtime = self.client("personalize-runtime")
            if smoke.item_ids:
                answer = runtime.get_personalized_ranking(
                    campaignArn=campaign_arn, userId=smoke.user_id, inputList=list(smoke.item_ids)
                )
                items = answer["personalizedRanking"]
            elif smoke.item_id is not None:
                items = runtime.get_recommendations(campaignArn=campaign_arn, itemId=smoke.item_id, numResults=10)[
                    "itemList"
                ]
            else:
                items = runtime.get_recommendations(campaignArn=campaign_arn, userId=smoke.user_id, numResults=10)[
                    "itemList"
                ]
            check(bool(items), f"campaign {campaign['name']} answered no items for {asked}")
            self.report.info(f"{len(items)} items: {', '.join(item['itemId'] for item in items)}")

    def solution_versions(self, stack: PipelineStack) -> set[str]:
        personalize = self.client("personalize")
        solutions = [
            s["solutionArn"]
            for s in _listed(personalize, "list_solutions", "solutions")
            if s["name"] in {solution.solution for solution in stack.solutions}
        ]
        return {
            v["solutionVersionArn"]
            for arn in solutions
            for v in _listed(personalize, "list_solution_versions", "solutionVersions", solutionArn=arn)
        }

    def probe_campaign_update(self, first: RunRecord) -> None:
        """UpdateCampaign to the served version (what a rollback does), describing the campaign at once."""
        personalize = self.client("personalize")
        arn = first.run.of_solution(self.plan.config.primary_solution.name).output["campaignArn"]
        self.report.step(f"Updating campaign {arn} to the version it serves, to observe the update (up to 45 minutes)")
        probe = CampaignUpdateProbe(before=personalize.describe_campaign(campaignArn=arn)["campaign"])
        self.evidence.campaign_update = probe
        try:
            personalize.update_campaign(
                campaignArn=arn,
                solutionVersionArn=probe.before["solutionVersionArn"],
                minProvisionedTPS=probe.before["minProvisionedTPS"],
                campaignConfig={"syncWithLatestSolutionVersion": False},
            )
        except ClientError as error:
            info = error.response.get("Error", {})
            probe.refused = f"{info.get('Code')}: {info.get('Message')}"
            self.report.info(f"refused: {probe.refused}")
            return
        sent = self.backend.now()
        current = probe.right_after = personalize.describe_campaign(campaignArn=arn)["campaign"]
        probe.reads_until_reflected = 1
        while probe.latest(current) == probe.latest(probe.before):
            if (self.backend.now() - sent).total_seconds() >= STALE_READ_TIMEOUT_SECONDS:
                break
            self.backend.wait(STALE_READ_POLL_SECONDS)
            current = personalize.describe_campaign(campaignArn=arn)["campaign"]
            probe.reads_until_reflected += 1
        else:
            probe.seconds_until_reflected = (self.backend.now() - sent).total_seconds()
        status = (probe.latest(current) or {}).get("status")
        while probe.checks < CAMPAIGN_UPDATE_MAX_CHECKS:
            if status is not None and status not in PENDING_STATUSES:
                probe.seconds_to_end = (self.backend.now() - sent).total_seconds()
                break
            if probe.seconds_until_reflected is None:
                status = f"not shown by DescribeCampaign within {STALE_READ_TIMEOUT_SECONDS:g} s"
                break
            self.backend.wait(CAMPAIGN_UPDATE_POLL_SECONDS)
            probe.checks += 1
            status = (probe.latest(personalize.describe_campaign(campaignArn=arn)["campaign"]) or {}).get("status")
        probe.final_status = status
        self.report.info(f"update {status} after {probe.checks} checks")

    # ------------------------------------------------------------------ the end

    def clean_up(self) -> None:
        """Observations while the resources exist, then destroy and check that nothing is left."""
        try:
            if self.evidence.stack is not None:
                self.print_durations()
                self.print_observations()
        except KeyboardInterrupt:
            self.problems.append(Problem("interrupted", ExitCode.INTERRUPTED))
        except Exception as error:
            self.report.info(f"could not report durations and observations: {type(error).__name__}: {error}")
        if not self.deployment_started:
            return
        if self.plan.keep:
            hourly = USD_PER_TPS_HOUR * self.plan.config.provisioned_tps
            self.report.step(
                f"Keeping stack {self.plan.stack_name} (--keep); "
                + ("its campaigns cost" if len(self.plan.config.trained_solutions) > 1 else "its campaign costs")
                + f" ${hourly:.2f} an hour until you destroy it:"
            )
            self.report.info(self.destroy_hint())
            return
        try:
            self.destroy()
        except KeyboardInterrupt:
            self.problems.append(
                Problem(f"interrupted while destroying: finish with {self.destroy_hint()}", ExitCode.INTERRUPTED)
            )
        except ClientError as error:
            self.problems.append(Problem(f"{refusal(error)} (while checking the destruction)", ExitCode.AWS_ERROR))
        except BotoCoreError as error:
            self.problems.append(Problem(f"AWS error while checking the destruction: {error}", ExitCode.AWS_ERROR))

    def destroy_hint(self) -> str:
        output_dir = self.output_dir or Path("cdk.out.acceptance")
        env = f"AWS_REGION={self.region} " + (f"AWS_PROFILE={self.profile} " if self.profile else "")
        return env + shlex.join(destroy_command(self.plan, output_dir))

    def destroy(self) -> None:
        assert self.output_dir is not None
        argv = destroy_command(self.plan, self.output_dir, self.profile)
        self.report.step(
            f"Destroying stack {self.plan.stack_name} (the teardown deletes the Personalize resources first; "
            "up to an hour) — Ctrl-C now leaves it deployed"
        )
        self.report.info(shlex.join(argv))
        code = self.deps.run_command(argv, cdk_environment(self.deps.environ, self.region))
        self.destroyed_at = self.backend.now()
        if code != 0:
            self.problems.append(
                Problem(
                    f"cdk destroy failed (exit {code}): its output above says why; run it again: {self.destroy_hint()}",
                    ExitCode.RUN_FAILED,
                )
            )
        self.report.step("Checking that nothing of the pipeline is left")
        self.check_stack_gone()
        leftovers = find_leftovers(self.client("personalize"), self.plan.pipeline_name)
        if leftovers:
            self.problems.append(
                Problem(
                    f"{len(leftovers)} Personalize resource(s) named after {self.plan.pipeline_name} left after destroy: "
                    + "; ".join(str(item) for item in leftovers),
                    ExitCode.RUN_FAILED,
                )
            )
        else:
            name = self.plan.pipeline_name
            self.report.info(f"no Personalize resource named {name} or {name}-… is left")
        self.print_actual_cost()
        if code == 0 and self.output_dir is not None:
            shutil.rmtree(self.output_dir, ignore_errors=True)

    def check_stack_gone(self) -> None:
        try:
            (stack,) = self.client("cloudformation").describe_stacks(StackName=self.plan.stack_name)["Stacks"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ValidationError":
                raise
            self.report.info(f"stack {self.plan.stack_name} is gone")
        else:
            self.problems.append(
                Problem(f"stack {self.plan.stack_name} still exists ({stack['StackStatus']})", ExitCode.RUN_FAILED)
            )
        bucket = self.evidence.stack.bucket if self.evidence.stack else None
        if bucket is None:
            return
        try:
            self.client("s3").head_bucket(Bucket=bucket)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
                raise
            self.report.info(f"data bucket {bucket} is gone (data.onDestroy destroy)")
        else:
            self.problems.append(
                Problem(f"data bucket {bucket} still exists although data.onDestroy is destroy", ExitCode.RUN_FAILED)
            )

    def print_durations(self) -> None:
        self.report.step("Real durations")
        for name, record in self.evidence.runs.items():
            self.report.info(
                f"run {name} ({record.run.outcome}, {elapsed_text(record.run.duration(self.backend.now()))}), "
                "from its execution history:"
            )
            if self.evidence.definition is not None:
                for line in step_durations(self.evidence.definition, record.events):
                    self.report.info(f"  {line}")
        stack = self.evidence.stack
        assert stack is not None
        try:
            body = self.client("s3").get_object(Bucket=stack.bucket, Key=STATE_KEY)["Body"].read()
        except ClientError as error:
            self.report.info(
                f"no state record s3://{stack.bucket}/{STATE_KEY} ({error.response.get('Error', {}).get('Code')})"
            )
            return
        record = json.loads(body)
        seconds = dict(record.get("stageSeconds", {}))
        # Several solutions: each learned its own stages (solutions.<name>.stageSeconds).
        for name, part in sorted((record.get("solutions") or {}).items()):
            seconds |= {f"{name}: {stage}": value for stage, value in part.get("stageSeconds", {}).items()}
        self.report.info(f"stages as Personalize timed them (creation to ACTIVE; {STATE_KEY} stageSeconds):")
        for stage, value in sorted(seconds.items()):
            self.report.info(f"  {stage:<42} {elapsed_text(timedelta(seconds=float(value))):>8}")

    def print_observations(self) -> None:
        self.report.step("Observations for the register's assumed entries (docs/aws-behaviour.md)")
        for entry, text in collect_observations(self.evidence):
            self.report.info(f"[{entry}] {text}")

    def print_actual_cost(self) -> None:
        """This session's bill at the same list prices, from what it measured."""
        created, ended = self.evidence.campaign_created, self.destroyed_at
        if created is None or ended is None:
            return
        campaign_hours = max((ended - created).total_seconds() / 3600, 0)
        training_hours = self.evidence.training_hours
        actual = CostEstimate(
            training_runs=len(self.plan.config.trained_solutions),
            training_hours_per_run=training_hours if training_hours is not None else EXPECTED_TRAINING_HOURS_PER_RUN,
            campaign_hours=round(campaign_hours, 2),
            min_provisioned_tps=self.plan.config.provisioned_tps,
            ingested_bytes=self.data.interactions_bytes,
        )
        self.report.info(
            f"at the same list prices this session cost about ${actual.total_usd:.2f}: "
            f"{actual.training_hours_per_run:.2f} training hours{'' if training_hours is not None else ' (assumed)'}, "
            f"campaign alive {actual.campaign_hours:g} h (created to destroyed)"
        )

    def verdict(self) -> int:
        if not self.problems:
            self.report.step(
                f"ACCEPTANCE PASSED in {self.region}: deploy, run, recommend, skip on the same data, destroy"
            )
            return ExitCode.OK
        self.report.step("ACCEPTANCE FAILED")
        for problem in self.problems:
            print(f"error: {problem.message}", file=self.deps.err, flush=True)
        return self.problems[0].exit_code


# --------------------------------------------------------------------------- entry point


def _stack_name(value: str) -> str:
    """The app validates the name it is given (-c stackName); a bad one is refused here, before any cost."""
    try:
        return stack_name_from_context(value)
    except StackNameError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a CloudFormation stack name (a letter, then up to 127 letters, digits or hyphens), "
            "for example PersonalizePipeline-acc202601050600"
        ) from None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Deploy a uniquely named copy of the pipeline into a real AWS account, run it twice, check the "
        "outcomes and the recommendations, destroy it and check that nothing is left. Costs about "
        f"${CostEstimate().total_usd:.2f} and takes about 3 to 4 hours.",
        epilog=f"Confirmation: --yes, {CONFIRM_VARIABLE}=yes, or type yes when asked.",
    )
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation (the cost is still printed)")
    parser.add_argument("--region", help="AWS region (default: from your AWS config; the estimate is for us-east-1)")
    parser.add_argument("--profile", help="AWS named profile (default: from your AWS config)")
    parser.add_argument(
        "--keep", action="store_true", help="do not destroy the stack at the end (its campaign bills hourly)"
    )
    parser.add_argument(
        "--stack-name",
        type=_stack_name,
        help="name of the stack to deploy and destroy; must not exist yet (default: PersonalizePipeline-acc<yyyymmddhhmm>)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, deps: Dependencies | None = None) -> int:
    args = parse_args(argv)
    deps = deps or Dependencies()
    try:
        plan = make_plan(deps.now(), stack_name=args.stack_name, keep=args.keep)
        data = generate_dataset(plan.config)
        check_minimums(data, plan.config.data.min_rating)
        estimate = estimate_for(plan, data)
        print(
            f"Acceptance test: stack {plan.stack_name}, pipeline {plan.pipeline_name}, schedule disabled, "
            f"bucket deleted on destroy{'' if not plan.keep else ' (--keep: not destroyed at the end)'}",
            file=deps.out,
        )
        for line in estimate.lines():
            print(line, file=deps.out)
        print("It takes about 3 to 4 hours (training about 2).", file=deps.out, flush=True)
        if not deps.cdk_cli.exists():
            raise ActionNeeded(f"the CDK CLI is not installed ({deps.cdk_cli} is missing): run `make install` first")
        boto_session = deps.make_session(args.profile, args.region)
        identity = deps.identify(boto_session)
        region = require_region(boto_session)
        print(
            f"Account {identity.account} as {identity.arn}, region {region}"
            + ("" if region == PRICING_REGION else f" (prices there may differ from {PRICING_REGION}'s)"),
            file=deps.out,
        )
        if identity.expiring_keys:
            print(
                "note: the credentials are temporary keys from the environment (AWS_SESSION_TOKEN), which cannot be "
                "refreshed: if they expire within the 3 to 4 hours, the destroy fails; a profile that refreshes "
                "(SSO, assume-role) avoids that",
                file=deps.out,
            )
        session = Session(plan, data, estimate, boto_session, region, args.profile, deps)
        session.precheck()
        confirm(
            f"Deploy {plan.stack_name} into account {identity.account} ({region}) for about ${estimate.total_usd:.2f}? "
            "Type yes to go on: ",
            yes=args.yes,
            environ=deps.environ,
            interactive=deps.interactive(),
            ask=deps.ask,
        )
    except ActionNeeded as error:
        return _fail(deps.err, str(error), error.exit_code)
    except AcceptanceFailure as failure:
        return _fail(deps.err, str(failure), failure.exit_code)
    except ProfileNotFound as error:
        return _fail(deps.err, f"{error}: pass a profile from ~/.aws/config, or none", ExitCode.ACTION_NEEDED)
    except NoRegionError:
        return _fail(deps.err, "no AWS region configured: pass --region or set AWS_REGION", ExitCode.ACTION_NEEDED)
    except ClientError as error:
        return _fail(deps.err, refusal(error), ExitCode.AWS_ERROR)
    except BotoCoreError as error:
        return _fail(deps.err, f"AWS error: {error}", ExitCode.AWS_ERROR)
    return session.run()


def _fail(stream: TextIO, message: str, code: int) -> int:
    print(f"error: {message}", file=stream, flush=True)
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
