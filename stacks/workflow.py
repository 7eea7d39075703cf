"""The retraining workflow, written with the AWS Step Functions Data Science SDK.

:func:`build_workflow_definition` is a pure function from the validated config to the ASL
definition (a dict). ARNs that only exist once the stack is deployed appear as
``${Placeholder}`` strings; the stack hands the same text to Step Functions with
``definition_substitutions``, and the offline simulator substitutes its own values.

Import cost: the Data Science SDK imports sagemaker (~2 s), so only synth and the tests
that check the definition import this module.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from typing import Any

# sagemaker (imported by the SDK) logs where it looked for its own defaults and warns that v3
# exists; neither concerns synth, and the SDK needs v2 (see FACTS.md).
logging.getLogger("sagemaker.config").setLevel(logging.WARNING)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from stepfunctions.steps.choice_rule import ChoiceRule
    from stepfunctions.steps.states import Catch, Chain, Choice, Fail, Graph, Pass, Retry, State, Succeed, Task, Wait

from stacks.config import STATE_KEY, TRAINING_PREFIX, PipelineConfig
from stacks.interactions_schema import INTERACTIONS_SCHEMA_JSON
from stacks.naming import PersonalizeNames
from stacks.wait_states import WaitStateNames

# Placeholders substituted at deploy time (CloudFormation DefinitionSubstitutions).
from stacks.artifacts import DATA_BUCKET_PLACEHOLDER, PERSONALIZE_ROLE_PLACEHOLDER  # noqa: E402


@dataclass(frozen=True)
class WorkflowFunction:
    """A Lambda function the workflow invokes; ``handler`` is relative to its code folder."""

    key: str
    code_folder: str
    handler: str
    description: str

    @property
    def placeholder(self) -> str:
        return f"{self.key}FunctionArn"


LOOK_FOR_ANOTHER_RUN = WorkflowFunction(
    "LookForAnotherRun",
    "run_guard",
    "run_guard.handler",
    "Tells whether a run of this state machine that started earlier is still running",
)
PREPARE_DATA = WorkflowFunction(
    "PrepareData", "prepare_data", "prepare_data.handler", "Converts raw MovieLens ratings to Personalize's CSV"
)
ENSURE_DATASET_GROUP = WorkflowFunction(
    "EnsureDatasetGroup",
    "personalize_steps",
    "personalize_steps.ensure_dataset_group",
    "Finds or creates the pipeline's dataset group",
)
ENSURE_DATASET = WorkflowFunction(
    "EnsureDataset",
    "personalize_steps",
    "personalize_steps.ensure_interactions_dataset",
    "Finds or creates the interactions schema and dataset",
)
START_IMPORT = WorkflowFunction(
    "StartImport",
    "personalize_steps",
    "personalize_steps.start_import",
    "Starts this run's dataset import job",
)
ENSURE_SOLUTION = WorkflowFunction(
    "EnsureSolution",
    "personalize_steps",
    "personalize_steps.ensure_solution",
    "Finds or creates the solution, with automatic training off",
)
START_TRAINING = WorkflowFunction(
    "StartTraining",
    "personalize_steps",
    "personalize_steps.start_training",
    "Starts this run's solution version",
)
DEPLOY_CAMPAIGN = WorkflowFunction(
    "DeployCampaign",
    "personalize_steps",
    "personalize_steps.deploy_campaign",
    "Creates the campaign or updates it in place to the new solution version",
)
# Not a workflow step: an hourly heartbeat that turns the state record into the staleness metric.
REPORT_RETRAINING_AGE = WorkflowFunction(
    "ReportRetrainingAge",
    "prepare_data",
    "prepare_data.report_retraining_age",
    "Reports the hours since the last successful retraining, for the staleness alarm",
)
RECORD_RUN = WorkflowFunction(
    "RecordRun",
    "prepare_data",
    "prepare_data.record_run",
    "Records what the deployed model was trained on, for change detection",
)
EVALUATE_VERSION = WorkflowFunction(
    "EvaluateVersion",
    "personalize_steps",
    "personalize_steps.evaluate_version",
    "Quality gate: compares the new version's metrics with the served version's",
)
SMOKE_TEST = WorkflowFunction(
    "SmokeTest",
    "personalize_steps",
    "personalize_steps.smoke_test",
    "Asks the campaign for recommendations for a sample user",
)
WORKFLOW_FUNCTIONS = (
    LOOK_FOR_ANOTHER_RUN,
    PREPARE_DATA,
    ENSURE_DATASET_GROUP,
    ENSURE_DATASET,
    START_IMPORT,
    ENSURE_SOLUTION,
    START_TRAINING,
    EVALUATE_VERSION,
    DEPLOY_CAMPAIGN,
    SMOKE_TEST,
    RECORD_RUN,
)

# Errors of the Lambda service itself (not of our code): always worth a retry.
LAMBDA_TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
# Personalize throttling reaching a Lambda step after boto3's own retries: the handlers raise
# it under the error code's name (an unmodeled code would otherwise arrive as ClientError).
THROTTLING_ERRORS = ["ThrottlingException", "LimitExceededException"]
# The same reaching an aws-sdk task (register sfn.aws-sdk.error-names): Personalize's model has
# no ThrottlingException, so Step Functions reports it as the SDK's generic
# Personalize.PersonalizeException; LimitExceededException is modeled and keeps its name.
SDK_THROTTLING_ERRORS = ["Personalize.PersonalizeException", "Personalize.LimitExceededException"]
# A busy resource (an import or campaign update still running, e.g. from an aborted run) or a
# failed one being replaced by its step: worth waiting for, for up to ~30 minutes.
BUSY_ERRORS = ["ResourceInUseException", "ResourceBeingReplacedError"]
FAILED_STATUSES = ("CREATE FAILED", "CREATE STOPPED", "DELETE PENDING", "DELETE IN_PROGRESS")

# Every run ends by publishing one event to the account's default event bus (see docs/runbook.md).
PUT_EVENTS = "arn:aws:states:::events:putEvents"
# CloudWatch namespace of the pipeline's own metrics (stage durations, the deployed model's
# metric, hours since the last retraining); each carries the dimension PipelineName.
METRIC_NAMESPACE = "PersonalizePipeline"
EVENT_SOURCE = "personalize-retraining"
EVENT_DETAIL_TYPE = "Retraining run finished"
OUTCOMES = ("succeeded", "failed", "skipped", "rejected")
# The optimized EventBridge integration fails a task whose event was not accepted with
# EventBridge.FailedEntry; other errors are the service's. An outcome is worth a few tries.
PUBLISH_RETRY_ERRORS = ["States.TaskFailed"]

# Where a failed run stopped, named in its event (``failedStage``): each Task belongs to one stage.
STAGE_INPUT = "run input"
STAGE_GUARD = "look for another run"
STAGE_PREPARE = "prepare data"
STAGE_DATASET_GROUP = "dataset group"
STAGE_DATASET = "interactions dataset"
STAGE_IMPORT = "dataset import"
STAGE_SOLUTION = "solution"
STAGE_TRAINING = "training"
STAGE_EVALUATION = "evaluation"
STAGE_CAMPAIGN = "campaign"
STAGE_SMOKE_TEST = "smoke test"
STAGE_RECORD = "record"
STAGE_NOTIFICATION = "notification"


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

    @property
    def state_names(self) -> WaitStateNames:
        return WaitStateNames(self.stage)

    @property
    def key(self) -> str:
        """``DatasetImportJob``: names the stage's check counter, its last answer and its errors."""
        return self.state_names.key

    @property
    def resource_path(self) -> str:
        """Where in the answer the resource's Status and times are: ``Campaign.LatestCampaignUpdate``."""
        parent, _, _ = self.status_field.rpartition(".")
        return f"{self.resource_field}.{parent}" if parent else self.resource_field


DATASET_GROUP_READY = ReadinessCheck(
    "dataset group", "describeDatasetGroup", "DatasetGroupArn", "$.datasetGroup.arn",
    "DatasetGroup", "Status", interval_seconds=15, max_checks=80,
)
DATASET_READY = ReadinessCheck(
    "dataset", "describeDataset", "DatasetArn", "$.dataset.arn",
    "Dataset", "Status", interval_seconds=15, max_checks=80,
)
IMPORT_READY = ReadinessCheck(
    "dataset import job", "describeDatasetImportJob", "DatasetImportJobArn", "$.importJob.arn",
    "DatasetImportJob", "Status", interval_seconds=60, max_checks=360,
)
SOLUTION_READY = ReadinessCheck(
    "solution", "describeSolution", "SolutionArn", "$.solution.arn",
    "Solution", "Status", interval_seconds=15, max_checks=80,
)
TRAINING_READY = ReadinessCheck(
    "solution version", "describeSolutionVersion", "SolutionVersionArn", "$.solutionVersion.arn",
    "SolutionVersion", "Status", interval_seconds=300, max_checks=288,
)
CAMPAIGN_CREATED = ReadinessCheck(
    "campaign", "describeCampaign", "CampaignArn", "$.campaign.arn",
    "Campaign", "Status", interval_seconds=60, max_checks=180,
)
# An update keeps the campaign's own Status ACTIVE; its progress is in LatestCampaignUpdate.
CAMPAIGN_UPDATED = ReadinessCheck(
    "campaign update", "describeCampaign", "CampaignArn", "$.campaign.arn",
    "Campaign", "LatestCampaignUpdate.Status", interval_seconds=60, max_checks=180,
    version_field="LatestCampaignUpdate.SolutionVersionArn", expected_version_path="$.solutionVersion.arn",
)
# Putting the previous version back after a failed smoke test: waited for at the configured
# campaign pace (not learned, it is rare), and not part of the planned checks.
CAMPAIGN_ROLLBACK = ReadinessCheck(
    "campaign rollback", "describeCampaign", "CampaignArn", "$.campaign.arn",
    "Campaign", "LatestCampaignUpdate.Status", interval_seconds=60, max_checks=180,
    version_field="LatestCampaignUpdate.SolutionVersionArn",
    expected_version_path="$.campaign.previousSolutionVersionArn",
)
READINESS_CHECKS = (
    DATASET_GROUP_READY,
    DATASET_READY,
    IMPORT_READY,
    SOLUTION_READY,
    TRAINING_READY,
    CAMPAIGN_CREATED,
    CAMPAIGN_UPDATED,
)


class FailWithCausePath(Fail):
    """A Fail state that takes its Error and Cause from the state input.

    The SDK (2.3.0, 2022) predates ErrorPath/CausePath (added to ASL in 2023), but without them
    a failed run could only report a fixed text instead of Personalize's failureReason or the
    Lambda's error. The SDK renders any allowed snake_case field as PascalCase.
    """

    def is_field_allowed(self, field_name: str) -> bool:
        return field_name in ("error_path", "cause_path") or super().is_field_allowed(field_name)


def build_workflow_definition(config: PipelineConfig) -> dict[str, Any]:
    """Build the ASL definition of one retraining run."""
    names = PersonalizeNames(config.pipeline_name)
    run_failed = FailWithCausePath(
        "Run failed",
        comment="Every failure ends here with the real cause; the campaign keeps its previous version.",
        error_path="$.failure.Error",
        cause_path="$.failure.Cause",
    )

    def publish(state_name: str, detail: dict[str, Any], next_step: State) -> Task:
        """Publish the run's outcome event, keep the state as it is, go on to the terminal state."""
        task = Task(
            state_name,
            resource=PUT_EVENTS,
            comment="The run's outcome for EventBridge rules (the SNS topic) and anyone else subscribed.",
            parameters={"Entries": [{"Source": EVENT_SOURCE, "DetailType": EVENT_DETAIL_TYPE, "Detail": detail}]},
            result_path=None,
        )
        task.add_retry(Retry(error_equals=PUBLISH_RETRY_ERRORS, interval_seconds=2, max_attempts=3, backoff_rate=2.0))
        task.next(next_step)
        return task

    publish_failure = publish(
        "Publish failure",
        outcome_detail(
            config,
            "failed",
            reason=None,
            failed_stage="$.failure.Stage",
            error="$.failure.Error",
            cause="$.failure.Cause",
        ),
        run_failed,
    )
    # The failure is the news; an event that cannot be published must not replace its cause. The
    # execution still ends FAILED, which the ExecutionsFailed alarm reports.
    publish_failure.add_catch(Catch(error_equals=["States.ALL"], next_step=run_failed, result_path="$.publishError"))
    failed_in: dict[str, Pass] = {}

    def failure_in(stage: str) -> Pass:
        """The one state per stage that adds the stage to ``$.failure`` on the way to the failure event."""
        if stage not in failed_in:
            failed_in[stage] = Pass(
                f"Failed in {stage}",
                parameters={"Error.$": "$.failure.Error", "Cause.$": "$.failure.Cause", "Stage": stage},
                result_path="$.failure",
            )
            failed_in[stage].next(publish_failure)
        return failed_in[stage]

    def catch_failures(task: Task, stage: str) -> Task:
        task.add_catch(Catch(error_equals=["States.ALL"], next_step=failure_in(stage), result_path="$.failure"))
        return task

    def invoke(
        state_name: str, function: WorkflowFunction, parameters: dict[str, Any], result_path: str, stage: str
    ) -> Task:
        task = Task(
            state_name,
            resource="${" + function.placeholder + "}",
            parameters=parameters,
            result_path=result_path,
            comment=function.description,
        )
        task.add_retry(Retry(error_equals=LAMBDA_TRANSIENT_ERRORS, interval_seconds=2, max_attempts=6, backoff_rate=2.0))
        task.add_retry(Retry(error_equals=THROTTLING_ERRORS, interval_seconds=5, max_attempts=5, backoff_rate=2.0))
        task.add_retry(Retry(error_equals=BUSY_ERRORS, interval_seconds=30, max_attempts=6, backoff_rate=2.0))
        return catch_failures(task, stage)

    def wait_until_active(check: ReadinessCheck, next_step: State, stage: str) -> State:
        return build_wait_until_active(
            check,
            next_step=next_step,
            on_failure=failure_in(stage),
            catch_failures=lambda task: catch_failures(task, stage),
        )

    run_context = {
        "executionName.$": "$$.Execution.Name",
        "executionStartTime.$": "$$.Execution.StartTime",
    }
    # Decided on ARNs and start times, not on a count: ListExecutions is eventually consistent
    # (register sfn.list-executions.eventual-consistency), so this run may not be listed yet.
    guard = invoke(
        "Look for another run",
        LOOK_FOR_ANOTHER_RUN,
        {
            "stateMachineArn.$": "$$.StateMachine.Id",
            "executionArn.$": "$$.Execution.Id",
            "executionStartTime.$": "$$.Execution.StartTime",
        },
        "$.running",
        STAGE_GUARD,
    )
    another_run = Choice("Another run in progress?")
    skip_overlap = Pass(
        "Skip: another run in progress",
        comment="Two runs would import and train over each other; the one that started first finishes the job.",
        parameters={
            "outcome": "skipped",
            "reason": "another execution of this state machine is running",
            "runningExecutionArns.$": "$.running.earlierRunningExecutionArns",
        },
    )
    skipped = Succeed("Run skipped")
    prepare = invoke(
        "Prepare data",
        PREPARE_DATA,
        {
            "bucket": "${" + DATA_BUCKET_PLACEHOLDER + "}",
            "rawKey": config.data.raw_key,
            "format": config.data.format,
            "minRating": config.data.min_rating,
            "outputKey.$": f"States.Format('{TRAINING_PREFIX}{{}}/interactions.csv', $$.Execution.Name)",
            "stateKey": STATE_KEY,
            "plan": {
                "trainingMode": config.training.mode,
                "fullRetrainEveryDays": config.training.full_retrain_every_days,
                "runStartedAt.$": "$$.Execution.StartTime",
                "polling": {
                    check.key: {"intervalSeconds": check.interval_seconds, "maxChecks": check.max_checks}
                    for check in READINESS_CHECKS
                },
            },
        },
        "$.data",
        STAGE_PREPARE,
    )
    new_data = Choice("New data?")
    skip_no_data = Pass(
        "Skip: no data yet",
        comment="Nothing has been uploaded and nothing trained yet (the schedule may fire right after cdk deploy).",
        parameters={"outcome": "skipped", "reason.$": "$.data.reason", "raw.$": "$.data.raw"},
    )
    skip_unchanged = Pass(
        "Skip: no new data",
        comment="The last trained version was trained on exactly this data: no import, no training, no campaign change.",
        parameters={
            "outcome": "skipped",
            "reason": "no new data since the last training",
            "dataFingerprint.$": "$.data.dataFingerprint",
        },
    )
    plan_waits = Pass(
        "Plan waits",
        comment="Per-stage check counters and waits (learned from earlier runs) bound every wait.",
        parameters={
            "data.$": "$.data",
            "checks": {
                check.key: {
                    "count": 0,
                    "waitSeconds.$": f"$.data.plan.waits.{check.key}.firstSeconds",
                    "intervalSeconds.$": f"$.data.plan.waits.{check.key}.intervalSeconds",
                }
                for check in READINESS_CHECKS
            }
            | {
                CAMPAIGN_ROLLBACK.key: {
                    "count": 0,
                    "waitSeconds": CAMPAIGN_ROLLBACK.interval_seconds,
                    "intervalSeconds": CAMPAIGN_ROLLBACK.interval_seconds,
                }
            },
            "poll": {},
        },
    )
    ensure_dataset_group = invoke(
        "Ensure dataset group", ENSURE_DATASET_GROUP, {"name": names.dataset_group}, "$.datasetGroup", STAGE_DATASET_GROUP
    )
    ensure_dataset = invoke(
        "Ensure interactions dataset",
        ENSURE_DATASET,
        {
            "datasetGroupArn.$": "$.datasetGroup.arn",
            "schemaName": names.interactions_schema,
            "schema": INTERACTIONS_SCHEMA_JSON,
            "datasetName": names.interactions_dataset,
        },
        "$.dataset",
        STAGE_DATASET,
    )
    start_import = invoke(
        "Start dataset import",
        START_IMPORT,
        {
            "datasetArn.$": "$.dataset.arn",
            "dataLocation.$": "$.data.interactionsUri",
            "roleArn": "${" + PERSONALIZE_ROLE_PLACEHOLDER + "}",
            "jobNamePrefix": names.import_job_prefix,
            **run_context,
        },
        "$.importJob",
        STAGE_IMPORT,
    )
    ensure_solution = invoke(
        "Ensure solution",
        ENSURE_SOLUTION,
        {"name": names.solution, "datasetGroupArn.$": "$.datasetGroup.arn", "recipeArn": config.recipe_arn},
        "$.solution",
        STAGE_SOLUTION,
    )
    start_training = invoke(
        "Start training",
        START_TRAINING,
        {
            "solutionArn.$": "$.solution.arn",
            "trainingMode.$": "$.data.plan.trainingMode",
            "namePrefix": names.solution_version_prefix,
            **run_context,
        },
        "$.solutionVersion",
        STAGE_TRAINING,
    )
    evaluate = invoke(
        "Evaluate new version",
        EVALUATE_VERSION,
        {
            "solutionVersionArn.$": "$.solutionVersion.arn",
            "solutionArn.$": "$.solution.arn",
            "campaignName": names.campaign,
            "metric": config.quality_gate.metric,
            "maxRelativeRegression": config.quality_gate.max_relative_regression,
            "minimum": config.quality_gate.minimum,
        },
        "$.evaluation",
        STAGE_EVALUATION,
    )
    gate = Choice("Quality gate passed?")

    def deploy(state_name: str, version_path: str, result_path: str, stage: str) -> Task:
        parameters = {
            "name": names.campaign,
            "solutionArn.$": "$.solution.arn",
            "solutionVersionArn.$": version_path,
            "minProvisionedTPS": config.campaign_min_provisioned_tps,
        }
        return invoke(state_name, DEPLOY_CAMPAIGN, parameters, result_path, stage)

    deploy_campaign = deploy("Deploy campaign", "$.solutionVersion.arn", "$.campaign", STAGE_CAMPAIGN)
    smoke_test = invoke(
        "Smoke test recommendations",
        SMOKE_TEST,
        {"campaignArn.$": "$.campaign.arn", "userId": config.smoke_test_user_id, "numResults": 10},
        "$.smokeTest",
        STAGE_SMOKE_TEST,
    )
    # A version that passed the gate but answers no recommendations must not stay in service:
    # after an update, put the previous version back (and wait for it) before the run fails.
    rollback_possible = Choice("Roll back the campaign?")
    roll_back = deploy(
        "Roll back campaign", "$.campaign.previousSolutionVersionArn", "$.rollback", STAGE_SMOKE_TEST
    )
    smoke_test.catches.insert(
        0, Catch(error_equals=["SmokeTestFailedError"], next_step=rollback_possible, result_path="$.failure")
    )
    rollback_possible.add_choice(
        ChoiceRule.And(
            [
                ChoiceRule.StringEquals(variable="$.campaign.action", value="updated"),
                ChoiceRule.IsString(variable="$.campaign.previousSolutionVersionArn", value=True),
            ]
        ),
        roll_back,
    )
    rollback_possible.default_choice(failure_in(STAGE_SMOKE_TEST))
    roll_back.next(wait_until_active(CAMPAIGN_ROLLBACK, failure_in(STAGE_SMOKE_TEST), STAGE_SMOKE_TEST))

    def record(state_name: str, outcome: str) -> Task:
        return invoke(
            state_name,
            RECORD_RUN,
            {
                "bucket": "${" + DATA_BUCKET_PLACEHOLDER + "}",
                "stateKey": STATE_KEY,
                "outcome": outcome,
                "dataFingerprint.$": "$.data.dataFingerprint",
                "executionName.$": "$$.Execution.Name",
                "runStartedAt.$": "$$.Execution.StartTime",
                "trainingMode.$": "$.data.plan.trainingMode",
                "datasetImportJobArn.$": "$.importJob.arn",
                "solutionVersionArn.$": "$.solutionVersion.arn",
                **({"campaignArn.$": "$.campaign.arn"} if outcome == "succeeded" else {}),
                "evaluation.$": "$.evaluation",
                "polls.$": "$.poll",
                "resourcePaths": {check.key: check.resource_path for check in READINESS_CHECKS},
                "metricNamespace": METRIC_NAMESPACE,
                "pipelineName": config.pipeline_name,
            },
            "$.recorded",
            STAGE_RECORD,
        )

    record_run = record("Record successful run", "succeeded")
    record_rejection = record("Record rejected version", "rejected")
    summarize = Pass(
        "Summarize run",
        parameters={
            "outcome": "succeeded",
            "campaignArn.$": "$.campaign.arn",
            "campaignAction.$": "$.campaign.action",
            "solutionVersionArn.$": "$.solutionVersion.arn",
            "trainingMode.$": "$.data.plan.trainingMode",
            "trainingModeReason.$": "$.data.plan.trainingModeReason",
            "datasetImportJobArn.$": "$.importJob.arn",
            "evaluation.$": "$.evaluation",
            "data.$": "$.data",
            "recommendations.$": "$.smokeTest",
        },
    )
    summarize_rejection = Pass(
        "Summarize rejection",
        comment="The campaign keeps serving the previous version.",
        parameters={
            "outcome": "rejected",
            "reason.$": "$.evaluation.reason",
            "metric.$": "$.evaluation.metric",
            "candidate.$": "$.evaluation.candidate",
            "current.$": "$.evaluation.current",
            "minimum.$": "$.evaluation.minimum",
            "trainingMode.$": "$.data.plan.trainingMode",
            "datasetImportJobArn.$": "$.importJob.arn",
            "data.$": "$.data",
        },
    )
    succeeded = Succeed("Run succeeded")
    rejected = Succeed("Run rejected")
    campaign_created_or_updated = Choice("Campaign created or updated?")

    # A run started by hand with another input is refused before it touches anything. Two
    # Choices: a type test on a path that is not there is not portable, IsPresent is.
    check_input = Choice("Run input has a trigger?")
    trigger_is_text = Choice("Run trigger is text?")
    invalid_input = Pass(
        "Invalid run input",
        comment="Replaces the whole state: the input may not even be an object.",
        parameters={
            "failure": {
                "Error": "InvalidExecutionInput",
                "Cause": 'The execution input must be a JSON object with a text field "trigger" saying who '
                'started the run, for example {"trigger": "manual"}; the schedule sends {"trigger": "schedule"} '
                'and the command-line tool {"trigger": "cli"}.',
            }
        },
    )
    check_input.add_choice(ChoiceRule.IsPresent(variable="$.trigger", value=True), trigger_is_text)
    check_input.default_choice(invalid_input)
    trigger_is_text.add_choice(ChoiceRule.IsString(variable="$.trigger", value=True), guard)
    trigger_is_text.default_choice(invalid_input)
    invalid_input.next(failure_in(STAGE_INPUT))
    Chain([guard, another_run])
    another_run.add_choice(ChoiceRule.BooleanEquals(variable="$.running.anotherRunInProgress", value=True), skip_overlap)
    another_run.default_choice(prepare)
    publish_overlap = publish("Publish skip: another run", outcome_detail(config, "skipped", reason="$.reason"), skipped)
    skip_overlap.next(publish_overlap)
    Chain([prepare, new_data])
    new_data.add_choice(ChoiceRule.BooleanEquals(variable="$.data.noData", value=True), skip_no_data)
    new_data.add_choice(ChoiceRule.BooleanEquals(variable="$.data.unchanged", value=True), skip_unchanged)
    new_data.default_choice(plan_waits)
    publish_unchanged = publish("Publish skip: no new data", outcome_detail(config, "skipped", reason="$.reason"), skipped)
    skip_unchanged.next(publish_unchanged)
    publish_no_data = publish("Publish skip: no data yet", outcome_detail(config, "skipped", reason="$.reason"), skipped)
    skip_no_data.next(publish_no_data)
    Chain([plan_waits, ensure_dataset_group])
    ensure_dataset_group.next(wait_until_active(DATASET_GROUP_READY, ensure_dataset, STAGE_DATASET_GROUP))
    ensure_dataset.next(wait_until_active(DATASET_READY, start_import, STAGE_DATASET))
    start_import.next(wait_until_active(IMPORT_READY, ensure_solution, STAGE_IMPORT))
    ensure_solution.next(wait_until_active(SOLUTION_READY, start_training, STAGE_SOLUTION))
    start_training.next(wait_until_active(TRAINING_READY, evaluate, STAGE_TRAINING))
    evaluate.next(gate)
    gate.add_choice(ChoiceRule.BooleanEquals(variable="$.evaluation.passed", value=True), deploy_campaign)
    gate.default_choice(record_rejection)
    publish_rejection = publish(
        "Publish rejection",
        outcome_detail(
            config, "rejected", reason="$.reason", metrics=REJECTION_METRICS, solution_version_arn="$.candidate.solutionVersionArn"
        ),
        rejected,
    )
    Chain([record_rejection, summarize_rejection, publish_rejection])
    deploy_campaign.next(campaign_created_or_updated)
    campaign_created_or_updated.add_choice(
        ChoiceRule.StringEquals(variable="$.campaign.action", value="updated"),
        wait_until_active(CAMPAIGN_UPDATED, smoke_test, STAGE_CAMPAIGN),
    )
    campaign_created_or_updated.default_choice(wait_until_active(CAMPAIGN_CREATED, smoke_test, STAGE_CAMPAIGN))
    publish_success = publish(
        "Publish success",
        outcome_detail(
            config,
            "succeeded",
            reason="$.evaluation.reason",
            metrics=SUCCESS_METRICS,
            solution_version_arn="$.solutionVersionArn",
            campaign_arn="$.campaignArn",
        ),
        succeeded,
    )
    Chain([smoke_test, record_run, summarize, publish_success])
    # An outcome that cannot be published becomes a failed run (its event is attempted once more,
    # and the execution's FAILED status reaches the ExecutionsFailed alarm either way).
    for notify in (publish_success, publish_rejection, publish_overlap, publish_unchanged, publish_no_data):
        catch_failures(notify, STAGE_NOTIFICATION)

    # TimeoutSeconds lives in the definition: the stack deploys this text as it is (a CDK
    # StateMachine ``timeout`` is not applied to a definition given as a string).
    graph = Graph(check_input, comment=_comment(config), timeout_seconds=execution_timeout_seconds())
    return json.loads(graph.to_json())


# The quality gate's numbers in an outcome event: the metric, this run's version and the version
# the campaign served when the gate compared them (null on the first deployment).
SUCCESS_METRICS = {
    "metric.$": "$.evaluation.metric",
    "trained.$": "$.evaluation.candidate",
    "served.$": "$.evaluation.current",
    "minimum.$": "$.evaluation.minimum",
}
REJECTION_METRICS = {"metric.$": "$.metric", "trained.$": "$.candidate", "served.$": "$.current", "minimum.$": "$.minimum"}


def outcome_detail(
    config: PipelineConfig,
    outcome: str,
    *,
    reason: str | None,
    failed_stage: str | None = None,
    error: str | None = None,
    cause: str | None = None,
    metrics: dict[str, str] | None = None,
    solution_version_arn: str | None = None,
    campaign_arn: str | None = None,
) -> dict[str, Any]:
    """The detail of a run's outcome event: the same keys for every outcome, null where a run has no value.

    Each keyword is a JSONPath into the state at the publishing step (or None). Consumers can
    match on ``outcome`` and read every key without checking whether it exists.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}; got {outcome!r}")

    def field(name: str, path: str | None) -> dict[str, Any]:
        return {f"{name}.$": path} if path is not None else {name: None}

    return {
        "pipelineName": config.pipeline_name,
        "runName.$": "$$.Execution.Name",
        "executionArn.$": "$$.Execution.Id",
        "runStartedAt.$": "$$.Execution.StartTime",
        "outcome": outcome,
        **field("reason", reason),
        **field("failedStage", failed_stage),
        **field("error", error),
        **field("cause", cause),
        "metrics": metrics,
        **field("solutionVersionArn", solution_version_arn),
        **field("campaignArn", campaign_arn),
    }


def execution_timeout_seconds() -> int:
    """Longer than the longest a run can wait, so a stage's own bound fires first with its cause.

    A stage waits at most its planned first wait (capped at interval x max checks) and then max
    checks at most the configured interval apart: twice its configured total. A run waits for
    the campaign's creation or for its update, never both, and perhaps for a rollback after a
    failed smoke test. Plus an hour for the steps
    themselves, each bounded by its Lambda timeout.
    """
    bound = {check.key: 2 * check.interval_seconds * check.max_checks for check in READINESS_CHECKS}
    campaign = max(bound.pop(CAMPAIGN_CREATED.key), bound.pop(CAMPAIGN_UPDATED.key))
    # After a failed smoke test the previous version is put back: one unplanned wait more.
    rollback = CAMPAIGN_ROLLBACK.interval_seconds * CAMPAIGN_ROLLBACK.max_checks
    return sum(bound.values()) + campaign + rollback + 3600


def _comment(config: PipelineConfig) -> str:
    return (
        f"Retrains the Amazon Personalize pipeline '{config.pipeline_name}' "
        f"({config.recipe_name}) on the ratings in s3://<data bucket>/{config.data.raw_key}."
    )


def build_wait_until_active(
    check: ReadinessCheck,
    *,
    next_step: State,
    on_failure: State,
    catch_failures: Any,
) -> State:
    """The one "wait until ready" fragment: check, decide, wait, count, check again.

    A pending resource is a normal Choice outcome, never a task failure, so the execution
    history shows no failure events while Personalize works. The waits come from the run's
    plan (``$.checks.<key>``): the first one is sized from how long the stage took last time,
    later ones are short, so a stage is seen soon after it is ACTIVE in a handful of checks.
    The loop is bounded by ``max_checks``. A failed status, with or without Personalize's
    reason, and a timeout set ``$.failure`` and go to ``on_failure``. Returns the fragment's
    entry state (the first check: a reused resource that is already ACTIVE costs two transitions).
    """
    poll_path = f"$.poll.{check.key}"
    resource_path = f"{poll_path}.{check.resource_field}"
    status_path = f"{resource_path}.{check.status_field}"
    reason_path = f"{resource_path}.{_sibling(check.status_field, 'FailureReason')}"
    counter_path = f"$.checks.{check.key}"
    state_names = check.state_names
    label = state_names.label

    check_status = Task(
        state_names.check,
        resource=f"arn:aws:states:::aws-sdk:personalize:{check.describe_action}",
        parameters={f"{check.arn_parameter}.$": check.arn_path},
        result_path=poll_path,
    )
    check_status.add_retry(Retry(error_equals=SDK_THROTTLING_ERRORS, interval_seconds=5, max_attempts=5, backoff_rate=2.0))
    catch_failures(check_status)

    decide = Choice(state_names.decide)
    failed = Pass(
        state_names.failed,
        parameters={
            "Error": f"{check.key}Failed",
            "Cause.$": f"States.Format('{label} {{}} is {{}}: {{}}', {check.arn_path}, {status_path}, {reason_path})",
        },
        result_path="$.failure",
    )
    failed.next(on_failure)
    timed_out = Pass(
        state_names.timed_out,
        parameters={
            "Error": f"{check.key}TimedOut",
            "Cause.$": f"States.Format('{label} {{}} is still {{}} after {{}} checks (run started {{}}, gave up "
            f"{{}})', {check.arn_path}, {status_path}, {counter_path}.count, $$.Execution.StartTime, "
            "$$.State.EnteredTime)",
        },
        result_path="$.failure",
    )
    timed_out.next(on_failure)
    failed_without_reason = Pass(
        state_names.failed_without_reason,
        parameters={
            "Error": "PersonalizeResourceFailed",
            "Cause.$": f"States.Format('Personalize reported a failed status without a failureReason: {{}}', "
            f"States.JsonToString({poll_path}))",
        },
        result_path="$.failure",
    )
    failed_without_reason.next(on_failure)
    wait = Wait(state_names.wait, seconds_path=f"{counter_path}.waitSeconds")
    count = Pass(
        state_names.count,
        parameters={
            "count.$": f"States.MathAdd({counter_path}.count, 1)",
            "waitSeconds.$": f"{counter_path}.intervalSeconds",
            "intervalSeconds.$": f"{counter_path}.intervalSeconds",
        },
        result_path=counter_path,
    )

    give_up = ChoiceRule.NumericGreaterThanEquals(variable=f"{counter_path}.count", value=check.max_checks)
    is_failed = ChoiceRule.Or([ChoiceRule.StringEquals(variable=status_path, value=s) for s in FAILED_STATUSES])
    decide.add_choice(ChoiceRule.StringEquals(variable=status_path, value="ACTIVE"), next_step)
    decide.add_choice(ChoiceRule.And([is_failed, ChoiceRule.IsPresent(variable=reason_path, value=True)]), failed)
    decide.add_choice(is_failed, failed_without_reason)
    decide.add_choice(give_up, timed_out)
    decide.default_choice(wait)
    if check.version_field is None or check.expected_version_path is None:
        Chain([check_status, decide])
    else:
        # Two Choices, not one: comparing a field that a stale answer lacks would be a runtime error.
        # Not(IsPresent: true) rather than IsPresent: false (register sfn.choice.is-present-false).
        version_path = f"{resource_path}.{check.version_field}"
        visible = Choice(state_names.visible)
        not_visible = Choice(state_names.not_visible)
        visible.add_choice(ChoiceRule.Not(ChoiceRule.IsPresent(variable=version_path, value=True)), not_visible)
        visible.add_choice(ChoiceRule.StringEqualsPath(variable=version_path, value=check.expected_version_path), decide)
        visible.default_choice(not_visible)
        never_visible = Pass(
            state_names.never_visible,
            parameters={
                "Error": f"{check.key}TimedOut",
                "Cause.$": f"States.Format('{label} of {{}} to {{}} did not show in DescribeCampaign after {{}} "
                f"checks (run started {{}}, gave up {{}})', {check.arn_path}, {check.expected_version_path}, "
                f"{counter_path}.count, $$.Execution.StartTime, $$.State.EnteredTime)",
            },
            result_path="$.failure",
        )
        never_visible.next(on_failure)
        not_visible.add_choice(give_up, never_visible)
        not_visible.default_choice(wait)
        Chain([check_status, visible])
    Chain([wait, count, check_status])
    return check_status


def _sibling(field_path: str, name: str) -> str:
    """``LatestCampaignUpdate.Status`` -> ``LatestCampaignUpdate.FailureReason``."""
    parent, _, _ = field_path.rpartition(".")
    return f"{parent}.{name}" if parent else name


def render_definition(definition: dict[str, Any]) -> str:
    """The exact text synth writes and deploys; stable so diffs and tests are meaningful."""
    return json.dumps(definition, indent=2) + "\n"
