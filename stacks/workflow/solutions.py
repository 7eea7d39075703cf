"""Phase 3 with several solutions (config ``solutions``): one branch per solution, then the run's outcome.

After the shared imports, a Parallel state runs each solution's branch: its plan, its training, its
quality gate and its campaign, the same phases a single solution runs (their states named
``<solution>: …``). A branch never fails the Parallel: it ends with the solution's outcome
(succeeded, rejected, failed with its stage and cause, or skipped when this solution was already
trained on this data), so one solution's failure neither stops nor undoes the others. Once all
have ended, one record step writes every solution's record (one writer, no race on the record) and
decides the run's outcome: failed when any solution failed, else succeeded when any was deployed,
else rejected.
"""

from __future__ import annotations

from typing import Any

from contract.events import METRIC_NAMESPACE, STAGE_RECORD, STAGE_SOLUTIONS
from contract.functions import RECORD_RUN
from contract.layout import STATE_KEY
from contract.resources import DATA_BUCKET_PLACEHOLDER
from stacks.workflow.batch_recommendations import build_batch_job, build_publish_batch_output
from stacks.workflow.builder import SolutionBranchBuilder, WorkflowBuilder
from stacks.workflow.deploy_and_smoke_test import build_deploy_and_smoke_test
from stacks.workflow.guard_and_prepare import check_counters
from stacks.workflow.outcomes import failure_detail, outcome_detail
from stacks.workflow.sdk import Catch, Chain, Choice, ChoiceRule, Parallel, Pass, State, Succeed
from stacks.workflow.train_and_evaluate import build_train_and_evaluate


def build_solutions(b: WorkflowBuilder) -> State:
    """Every listed solution's branch, then the record and the run's outcome. Returns the Parallel state."""
    config = b.config
    branches = Parallel(
        "Train each solution",
        comment="One branch per solution; each ends with its outcome, so one failure does not stop the others.",
        result_path="$.solutions",
    )
    for solution in config.solutions:
        branches.add_branch(_branch(SolutionBranchBuilder(config, solution)))
    # Only a fault of the definition itself (a branch's Pass on a missing path) reaches here.
    branches.add_catch(
        Catch(error_equals=["States.ALL"], next_step=b.failure_in(STAGE_SOLUTIONS), result_path="$.failure")
    )
    record = b.invoke(
        "Record solutions",
        RECORD_RUN,
        {
            "bucket": "${" + DATA_BUCKET_PLACEHOLDER + "}",
            "stateKey": STATE_KEY,
            "dataFingerprint.$": "$.data.dataFingerprint",
            "executionName.$": "$$.Execution.Name",
            "runStartedAt.$": "$$.Execution.StartTime",
            "datasetImportJobArn.$": "$.importJob.arn",
            "solutions.$": "$.solutions",
            "polls.$": "$.poll",
            "resourcePaths": {check.key: check.resource_path for check in config.readiness_checks},
            "metricNamespace": METRIC_NAMESPACE,
            "pipelineName": config.pipeline_name,
        },
        "$.recorded",
        STAGE_RECORD,
    )
    outcome = Choice("Outcome of the solutions?")
    succeeded = b.publish_outcome("Publish success", _detail(b, "succeeded"), Succeed("Run succeeded"))
    rejected = b.publish_outcome("Publish rejection", _detail(b, "rejected"), Succeed("Run rejected"))
    skipped = b.publish_outcome("Publish skip: every solution trained", _detail(b, "skipped"), Succeed("Run skipped"))
    failed = Pass(
        "Solutions failed",
        comment="The solutions that failed keep what they served; the others' outcomes stand.",
        parameters={
            "Error.$": "$.recorded.failure.Error",
            "Cause.$": "$.recorded.failure.Cause",
            "Stage": STAGE_SOLUTIONS,
        },
        result_path="$.failure",
    )
    publish_failure = b.publish_outcome(
        "Publish failure of solutions",
        failure_detail(config, deletion_requests="$.deletion", solutions="$.recorded.solutions"),
        b.run_failed,
    )
    # The run's output, as a single solution's summary is: its outcome and reason at the top, with each
    # solution's under recorded.solutions (what `history` and `rollback` read back).
    summarize = Pass(
        "Summarize run",
        parameters={
            "outcome.$": "$.recorded.outcome",
            "reason.$": "$.recorded.reason",
            "recorded.$": "$.recorded",
            "datasetImportJobArn.$": "$.importJob.arn",
            "data.$": "$.data",
            "deletion.$": "$.deletion",
        },
    )
    Chain([branches, record, summarize, outcome])
    outcome.add_choice(ChoiceRule.StringEquals(variable="$.recorded.outcome", value="failed"), failed)
    outcome.add_choice(ChoiceRule.StringEquals(variable="$.recorded.outcome", value="succeeded"), succeeded)
    outcome.add_choice(ChoiceRule.StringEquals(variable="$.recorded.outcome", value="rejected"), rejected)
    outcome.default_choice(skipped)
    failed.next(publish_failure)
    return branches


def _branch(b: SolutionBranchBuilder) -> State:
    """One solution: its plan, then (with new data for it) training, the gate and its campaign."""
    solution = b.solution
    plan = Pass(
        b.state_name("Plan"),
        comment="This solution's training mode and waits, from its own record.",
        input_path=f"$.data.plan.solutions.{solution.name}",
        result_path="$.data.plan",
    )
    new_data = Choice(b.state_name("New data for this solution?"))
    skip = Pass(
        b.state_name("Skip: trained on this data"),
        parameters={
            "solution": b.scope,
            "outcome": "skipped",
            "reason": "this solution was already trained on this data",
        },
    )
    plan_waits = Pass(
        b.state_name("Plan waits"),
        parameters=check_counters(b.config.solution_checks(solution), rollback=solution.deployment.campaign),
        result_path="$.checks",
    )
    deployed: State = Pass(
        b.state_name("Solution deployed"),
        parameters={
            "solution": b.scope,
            "outcome": "succeeded",
            "reason.$": "$.evaluation.reason",
            "solutionArn.$": "$.solution.arn",
            "solutionVersionArn.$": "$.solutionVersion.arn",
            "trainingMode.$": "$.data.plan.trainingMode",
            "trainingModeReason.$": "$.data.plan.trainingModeReason",
            "evaluation.$": "$.evaluation",
            **(
                {
                    "campaignArn.$": "$.campaign.arn",
                    "campaignAction.$": "$.campaign.action",
                    "recommendations.$": "$.smokeTest",
                }
                if solution.deployment.campaign
                else {}
            ),
            **({"batchOutput.$": "$.batchManifest"} if solution.deployment.batch_job else {}),
            "polls.$": "$.poll",
        },
    )
    # As for a single solution: the batch job and its check first, then the campaign, and the output
    # published only when all of that went well.
    deploy = deployed
    if solution.deployment.batch_job:
        deploy = build_publish_batch_output(b, then=deploy)
    if solution.deployment.campaign:
        deploy = build_deploy_and_smoke_test(b, then=deploy)
    if solution.deployment.batch_job:
        deploy = build_batch_job(b, then=deploy)
    Chain([plan, new_data])
    new_data.add_choice(ChoiceRule.BooleanEquals(variable="$.data.plan.train", value=True), plan_waits)
    new_data.default_choice(skip)
    train = build_train_and_evaluate(b, deploy=deploy)
    if solution.deployment.batch_job:
        # This solution's view of the run's batch input: the users file and its own served version.
        batch_plan = Pass(
            b.state_name("Batch plan"),
            comment="The users file, and the version this solution's published output came from.",
            input_path=f"$.data.batch.solutions.{solution.name}",
            result_path="$.data.batch",
        )
        batch_plan.next(train)
        train = batch_plan
    plan_waits.next(train)
    return plan


def _detail(b: WorkflowBuilder, outcome: str) -> dict[str, Any]:
    """The outcome event of a run whose solutions all ended: each one's outcome in ``solutions``."""
    return outcome_detail(
        b.config, outcome, reason="$.recorded.reason", deletion_requests="$.deletion", solutions="$.recorded.solutions"
    )
