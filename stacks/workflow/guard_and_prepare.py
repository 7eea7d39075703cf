"""Phase 1: refuse a malformed start, step aside for an earlier run, prepare the data, plan the waits.

Three ways to end here as ``skipped``: another run started earlier is still running; nothing has
been uploaded and nothing trained yet; the data is the data of the last training.
"""

from __future__ import annotations

from typing import Any

from contract.engines import glue_state_timeout_seconds
from contract.events import STAGE_GUARD, STAGE_INPUT, STAGE_PREPARE
from contract.functions import LOOK_FOR_ANOTHER_RUN, PREPARE_DATA, READ_GLUE_OUTPUT
from contract.layout import (
    BATCH_INPUT_PREFIX,
    DELETION_COMPLETED_PREFIX,
    DELETION_REQUESTS_PREFIX,
    IMPORTED_OBJECTS_KEY,
    MANIFEST_KEY,
    STATE_KEY,
    TRAINING_PREFIX,
    manifest_key,
)
from contract.readiness import CAMPAIGN_ROLLBACK, ReadinessCheck
from contract.resources import DATA_BUCKET_PLACEHOLDER, GLUE_JOB_PLACEHOLDER, GLUE_START_JOB_RUN_SYNC
from stacks.workflow.builder import WorkflowBuilder
from stacks.workflow.outcomes import outcome_detail
from stacks.workflow.sdk import Chain, Choice, ChoiceRule, GlueStartJobRunStep, Pass, State, Succeed


def build_guard_and_prepare(b: WorkflowBuilder, *, then: State) -> State:
    """The run's first states; a run with new data goes on to ``then``. Returns the start state."""
    config = b.config
    deployment = config.deployment
    checks = config.run_checks
    # Decided on ARNs and start times, not on a count: ListExecutions is eventually consistent
    # (register sfn.list-executions.eventual-consistency), so this run may not be listed yet.
    guard = b.invoke(
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
    prepare = b.invoke(
        "Prepare data",
        PREPARE_DATA,
        {
            "bucket": "${" + DATA_BUCKET_PLACEHOLDER + "}",
            "rawKey": config.data.raw_key,
            "format": config.data.format,
            "minRating": config.data.min_rating,
            # Left out for the Lambda alone, whose definition stays what it was before engines.
            **({"engine": config.data.engine} if config.data.may_use_glue else {}),
            **({"engineThresholdBytes": config.data.glue.auto_above_bytes} if config.data.engine == "auto" else {}),
            "outputKey.$": f"States.Format('{TRAINING_PREFIX}{{}}/interactions.csv', $$.Execution.Name)",
            "stateKey": STATE_KEY,
            "plan": _plan_input(b),
            **({"items": _items_input(b)} if config.data.uses_items else {}),
            "deletion": {
                "prefix": DELETION_REQUESTS_PREFIX,
                "completedPrefix": DELETION_COMPLETED_PREFIX,
                "inputKey.$": f"States.Format('{TRAINING_PREFIX}{{}}/deletions.csv', $$.Execution.Name)",
            },
            **({"batch": _batch_input(b)} if deployment.batch_job else {}),
            **(
                {"incremental": {"importedKey": IMPORTED_OBJECTS_KEY, "fullEveryDays": config.full_import_every_days}}
                if config.data.incremental
                else {}
            ),
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
            "checks": check_counters(checks, rollback=deployment.campaign and not config.several_solutions),
            "poll": {},
        },
    )

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
    invalid_input.next(b.failure_in(STAGE_INPUT))
    Chain([guard, another_run])
    another_run.add_choice(
        ChoiceRule.BooleanEquals(variable="$.running.anotherRunInProgress", value=True), skip_overlap
    )
    another_run.default_choice(prepare)
    skip_overlap.next(
        b.publish_outcome("Publish skip: another run", outcome_detail(config, "skipped", reason="$.reason"), skipped)
    )
    Chain([prepare, new_data])
    new_data.add_choice(ChoiceRule.BooleanEquals(variable="$.data.noData", value=True), skip_no_data)
    new_data.add_choice(ChoiceRule.BooleanEquals(variable="$.data.unchanged", value=True), skip_unchanged)
    new_data.default_choice(_glue_conversion(b, then=plan_waits) if config.data.may_use_glue else plan_waits)
    skip_unchanged.next(
        b.publish_outcome("Publish skip: no new data", outcome_detail(config, "skipped", reason="$.reason"), skipped)
    )
    skip_no_data.next(
        b.publish_outcome("Publish skip: no data yet", outcome_detail(config, "skipped", reason="$.reason"), skipped)
    )
    Chain([plan_waits, then])
    return check_input


def _glue_conversion(b: WorkflowBuilder, *, then: State) -> State:
    """data.engine auto or glue: when the data preparation handed the conversion over, the Glue job
    (the Data Science SDK's GlueStartJobRunStep, waited for with .sync), then its counts read back."""
    glue = b.config.data.glue
    which_engine = Choice("Which engine?")
    job = GlueStartJobRunStep(
        "Convert with Glue",
        comment="The Spark job glue_jobs/prepare_interactions.py converts the ratings; a failed run fails here "
        "with the job's error, before anything is imported.",
        parameters={"JobName": "${" + GLUE_JOB_PLACEHOLDER + "}", "Arguments.$": "$.data.glue.arguments"},
        result_path="$.glueRun",
        timeout_seconds=glue_state_timeout_seconds(glue.timeout_minutes),
    )
    if job.fields["resource"] != GLUE_START_JOB_RUN_SYNC:
        raise AssertionError(f"the SDK's Glue integration is {job.fields['resource']}, not {GLUE_START_JOB_RUN_SYNC}")
    b.catch_failures(job, STAGE_PREPARE)
    read_output = b.invoke(
        "Read Glue output",
        READ_GLUE_OUTPUT,
        {"bucket": "${" + DATA_BUCKET_PLACEHOLDER + "}", "data.$": "$.data", "jobRun.$": "$.glueRun"},
        "$.data",
        STAGE_PREPARE,
    )
    which_engine.add_choice(ChoiceRule.StringEquals(variable="$.data.engine", value="glue"), job)
    which_engine.default_choice(then)
    Chain([job, read_output, then])
    return which_engine


def polling_input(checks: tuple[ReadinessCheck, ...]) -> dict[str, Any]:
    """Each check's configured pace, from which the data preparation plans the run's waits."""
    return {check.key: {"intervalSeconds": check.interval_seconds, "maxChecks": check.max_checks} for check in checks}


def check_counters(checks: tuple[ReadinessCheck, ...], *, rollback: bool) -> dict[str, Any]:
    """Each wait's counter, starting at zero, with the planned first wait and interval
    (``$.data.plan.waits``); with a campaign, the rollback's at the configured pace."""
    counters: dict[str, Any] = {
        check.key: {
            "count": 0,
            "waitSeconds.$": f"$.data.plan.waits.{check.key}.firstSeconds",
            "intervalSeconds.$": f"$.data.plan.waits.{check.key}.intervalSeconds",
        }
        for check in checks
    }
    if rollback:
        counters[CAMPAIGN_ROLLBACK.key] = {
            "count": 0,
            "waitSeconds": CAMPAIGN_ROLLBACK.interval_seconds,
            "intervalSeconds": CAMPAIGN_ROLLBACK.interval_seconds,
        }
    return counters


def _plan_input(b: WorkflowBuilder) -> dict[str, Any]:
    """What the data preparation plans from: the training mode and its floor, and each wait's pace;
    with several solutions, per solution (each has its own record, mode and waits)."""
    config = b.config
    if not config.several_solutions:
        return {
            "trainingMode": config.training.mode,
            "fullRetrainEveryDays": config.training.full_retrain_every_days,
            "runStartedAt.$": "$$.Execution.StartTime",
            "polling": polling_input(config.run_checks),
        }
    return {
        "runStartedAt.$": "$$.Execution.StartTime",
        "polling": polling_input(config.run_checks),
        "solutions": {
            str(solution.name): {
                "trainingMode": solution.training.mode,
                "fullRetrainEveryDays": solution.training.full_retrain_every_days,
                "polling": polling_input(config.solution_checks(solution)),
            }
            for solution in config.solutions
        },
    }


def _items_input(b: WorkflowBuilder) -> dict[str, Any]:
    """The movie file to convert for the items dataset (data.useItems): required, or used when there."""
    data = b.config.data
    return {
        "key": data.items_object_key,
        "format": data.items_format,
        "outputKey.$": f"States.Format('{TRAINING_PREFIX}{{}}/items.csv', $$.Execution.Name)",
        "required": data.use_items == "required",
    }


def _batch_input(b: WorkflowBuilder) -> dict[str, Any]:
    """What the data preparation does for a deployment to batch: write the users file (or check
    the configured one is there) and read which version the published output came from."""
    users_key = b.config.deployment.batch.users_key
    if b.config.several_solutions:
        # Every batch solution's job reads the run's users file; each has its own manifest.
        return {
            "manifestKeys": {str(s.name): manifest_key(s.name) for s in b.config.solutions if s.deployment.batch_job},
            "inputKey.$": f"States.Format('{BATCH_INPUT_PREFIX}{{}}/users.json', $$.Execution.Name)",
        }
    return {
        "manifestKey": MANIFEST_KEY,
        **(
            {"usersKey": users_key}
            if users_key is not None
            else {"inputKey.$": f"States.Format('{BATCH_INPUT_PREFIX}{{}}/users.json', $$.Execution.Name)"}
        ),
    }
