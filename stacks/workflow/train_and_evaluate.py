"""Phase 3: the solution (automatic training off), this run's training, and the quality gate.

A version the gate rejects is recorded (the same data is not trained again) and the run ends
``rejected``; the campaign keeps serving the previous version.
"""

from __future__ import annotations

from contract.events import STAGE_EVALUATION, STAGE_SOLUTION, STAGE_TRAINING
from contract.functions import ENSURE_SOLUTION, EVALUATE_VERSION, START_TRAINING
from contract.readiness import SOLUTION_READY, TRAINING_READY
from stacks.workflow.builder import RUN_CONTEXT, WorkflowBuilder
from stacks.workflow.outcomes import REJECTION_METRICS, outcome_detail
from stacks.workflow.sdk import Chain, Choice, ChoiceRule, Pass, State, Succeed


def build_train_and_evaluate(b: WorkflowBuilder, *, deploy: State) -> State:
    """A version that passes the gate goes on to ``deploy``. Returns the phase's first state."""
    solution, names = b.solution, b.names
    ensure_solution = b.invoke(
        "Ensure solution",
        ENSURE_SOLUTION,
        {"name": names.solution, "datasetGroupArn.$": "$.datasetGroup.arn", "recipeArn": solution.recipe_arn},
        "$.solution",
        STAGE_SOLUTION,
    )
    start_training = b.invoke(
        "Start training",
        START_TRAINING,
        {
            "solutionArn.$": "$.solution.arn",
            "trainingMode.$": "$.data.plan.trainingMode",
            "namePrefix": names.solution_version_prefix,
            **RUN_CONTEXT,
        },
        "$.solutionVersion",
        STAGE_TRAINING,
    )
    evaluate = b.invoke(
        "Evaluate new version",
        EVALUATE_VERSION,
        {
            "solutionVersionArn.$": "$.solutionVersion.arn",
            "solutionArn.$": "$.solution.arn",
            # Compared with the campaign's version, or without a campaign with the published batch output's.
            **(
                {"campaignName": names.campaign}
                if solution.deployment.campaign
                else {"servedSolutionVersionArn.$": "$.data.batch.servedSolutionVersionArn"}
            ),
            "metric": solution.quality_gate.metric,
            "maxRelativeRegression": solution.quality_gate.max_relative_regression,
            "minimum": solution.quality_gate.minimum,
        },
        "$.evaluation",
        STAGE_EVALUATION,
    )
    gate = Choice(b.state_name("Quality gate passed?"))
    ensure_solution.next(b.wait_until_active(SOLUTION_READY, start_training, STAGE_SOLUTION))
    start_training.next(b.wait_until_active(TRAINING_READY, evaluate, STAGE_TRAINING))
    evaluate.next(gate)
    gate.add_choice(ChoiceRule.BooleanEquals(variable="$.evaluation.passed", value=True), deploy)
    gate.default_choice(_rejected(b))
    return ensure_solution


def _rejected(b: WorkflowBuilder) -> State:
    """What a rejected version leads to: on a solution's branch, the branch's end with its outcome;
    otherwise the record, the summary and the rejection event."""
    if b.in_branch:
        return Pass(
            b.state_name("Solution rejected"),
            comment="This solution's campaign keeps serving its previous version.",
            parameters={
                "solution": b.solution.label,
                "outcome": "rejected",
                "reason.$": "$.evaluation.reason",
                "solutionVersionArn.$": "$.solutionVersion.arn",
                "trainingMode.$": "$.data.plan.trainingMode",
                "trainingModeReason.$": "$.data.plan.trainingModeReason",
                "evaluation.$": "$.evaluation",
                "polls.$": "$.poll",
            },
        )
    config = b.config
    record_rejection = b.record_run("Record rejected version", "rejected")
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
            "deletionRequests.$": "$.deletion",
        },
    )
    publish_rejection = b.publish_outcome(
        "Publish rejection",
        outcome_detail(
            config,
            "rejected",
            reason="$.reason",
            metrics=REJECTION_METRICS,
            solution_version_arn="$.candidate.solutionVersionArn",
            deletion_requests="$.deletionRequests",
        ),
        Succeed("Run rejected"),
    )
    Chain([record_rejection, summarize_rejection, publish_rejection])
    return record_rejection
