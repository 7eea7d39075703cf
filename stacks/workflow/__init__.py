"""The retraining workflow, written with the AWS Step Functions Data Science SDK.

:func:`build_workflow_definition` is a pure function from the validated config to the ASL
definition (a dict), assembled from one module per phase of a run:

- :mod:`.guard_and_prepare`: the run's input, another run in progress, the data and the plan;
- :mod:`.ensure_and_import`: the dataset group, the datasets, this run's imports and the filters;
- :mod:`.data_deletion`: users' deletion requests, honoured before training;
- :mod:`.train_and_evaluate`: the solution, the training and the quality gate;
- :mod:`.solutions`: with several solutions, one branch of those phases per solution, and the run's outcome;
- :mod:`.batch_recommendations`: with batch output, the batch job, its check and the manifest;
- :mod:`.deploy_and_smoke_test`: with a campaign, the campaign and the smoke test;
- :mod:`.success`: the record, the summary and the success event;

with :mod:`.builder` (Lambda steps, failure routing, outcome events), :mod:`.waits` (the one
"wait until ready" fragment) and :mod:`.outcomes` (the outcome event's detail). ARNs that only
exist once the stack is deployed appear as ``${Placeholder}`` strings; the stack hands the same
text to Step Functions with ``definition_substitutions``, and the offline simulator substitutes
its own values.

Only this package imports the Data Science SDK (its state-machine core, through :mod:`.sdk`): synth and the tests
that check the definition. Everything else reads the shared facts from contract/.
"""

from __future__ import annotations

import json
from typing import Any

from contract.readiness import CAMPAIGN_CREATED, CAMPAIGN_ROLLBACK, CAMPAIGN_UPDATED
from stacks.config import PipelineConfig
from stacks.workflow.batch_recommendations import build_batch_job, build_publish_batch_output
from stacks.workflow.builder import WorkflowBuilder
from stacks.workflow.data_deletion import build_data_deletion
from stacks.workflow.deploy_and_smoke_test import build_deploy_and_smoke_test
from stacks.workflow.ensure_and_import import build_ensure_and_import, build_ensure_filters
from stacks.workflow.guard_and_prepare import build_guard_and_prepare
from stacks.workflow.sdk import Graph
from stacks.workflow.solutions import build_solutions
from stacks.workflow.success import build_success
from stacks.workflow.train_and_evaluate import build_train_and_evaluate

__all__ = ["build_workflow_definition", "execution_timeout_seconds", "render_definition"]


def build_workflow_definition(config: PipelineConfig) -> dict[str, Any]:
    """Build the ASL definition of one retraining run.

    A version that passed the gate is deployed to each target (deployment.targets): the batch job
    and the check of its output first, then the campaign, and only when all of that went well is
    the batch output published; so a failure leaves both the campaign and the manifest as they were.
    """
    b = WorkflowBuilder(config)
    if config.several_solutions:
        train = build_solutions(b)
    else:
        deployment = config.deployment
        deploy = build_success(b)
        if deployment.batch_job:
            deploy = build_publish_batch_output(b, then=deploy)
        if deployment.campaign:
            deploy = build_deploy_and_smoke_test(b, then=deploy)
        if deployment.batch_job:
            deploy = build_batch_job(b, then=deploy)
        train = build_train_and_evaluate(b, deploy=deploy)
    if config.filters:
        train = build_ensure_filters(b, then=train)
    train = build_data_deletion(b, then=train)
    ensure = build_ensure_and_import(b, then=train)
    start = build_guard_and_prepare(b, then=ensure)
    # TimeoutSeconds lives in the definition: the stack deploys this text as it is (a CDK
    # StateMachine ``timeout`` is not applied to a definition given as a string).
    graph = Graph(start, comment=_comment(config), timeout_seconds=execution_timeout_seconds(config))
    definition: dict[str, Any] = json.loads(graph.to_json())
    return definition


def execution_timeout_seconds(config: PipelineConfig) -> int:
    """Longer than the longest a run can wait, so a stage's own bound fires first with its cause.

    A stage waits at most its planned first wait (capped at interval x max checks) and then max
    checks at most the configured interval apart: twice its configured total. A run waits for
    the campaign's creation or for its update, never both, and perhaps for a rollback after a
    failed smoke test; with batch output, for its batch job. Plus an hour for the steps
    themselves, each bounded by its Lambda timeout.
    """
    deployment = config.deployment
    checks = config.readiness_checks
    bound = {check.key: 2 * check.interval_seconds * check.max_checks for check in checks}
    total = 3600
    if deployment.campaign:
        total += max(bound.pop(CAMPAIGN_CREATED.key), bound.pop(CAMPAIGN_UPDATED.key))
        # After a failed smoke test the previous version is put back: one unplanned wait more.
        total += CAMPAIGN_ROLLBACK.interval_seconds * CAMPAIGN_ROLLBACK.max_checks
    return total + sum(bound.values())


def _comment(config: PipelineConfig) -> str:
    recipes = ", ".join(f"{s.name}: {s.recipe_name}" if s.name else s.recipe_name for s in config.trained_solutions)
    return (
        f"Retrains the Amazon Personalize pipeline '{config.pipeline_name}' "
        f"({recipes}) on the ratings in s3://<data bucket>/{config.data.raw_key}."
    )


def render_definition(definition: dict[str, Any]) -> str:
    """The exact text synth writes and deploys; stable so diffs and tests are meaningful."""
    return json.dumps(definition, indent=2) + "\n"
