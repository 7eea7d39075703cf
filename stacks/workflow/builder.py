"""What every phase of the workflow builds with: Lambda steps, failure routing and outcome events.

A :class:`WorkflowBuilder` holds the one ``Run failed`` state, the one ``Failed in <stage>``
state per stage and the ``Publish failure`` event they lead to, so that each phase module only
says which steps it has and how they connect.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from contract.events import EVENT_DETAIL_TYPE, EVENT_SOURCE, METRIC_NAMESPACE, STAGE_NOTIFICATION, STAGE_RECORD
from contract.functions import RECORD_RUN, FunctionSpec
from contract.layout import STATE_KEY
from contract.names import PersonalizeNames
from contract.readiness import ReadinessCheck
from contract.resources import DATA_BUCKET_PLACEHOLDER, PUT_EVENTS_INTEGRATION
from contract.wait_states import SCOPE_SEPARATOR
from stacks.config import PipelineConfig, SolutionConfig
from stacks.workflow.outcomes import failure_detail
from stacks.workflow.sdk import Catch, Fail, Pass, Retry, State, Task
from stacks.workflow.waits import build_wait_until_active

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
# A busy resource (an import or campaign update still running, e.g. from an aborted run) or a
# failed one being replaced by its step: worth waiting for, for up to ~30 minutes.
BUSY_ERRORS = ["ResourceInUseException", "ResourceBeingReplacedError"]
# The optimized EventBridge integration fails a task whose event was not accepted with
# EventBridge.FailedEntry; other errors are the service's. An outcome is worth a few tries.
PUBLISH_RETRY_ERRORS = ["States.TaskFailed"]
# What the steps that name their job after the run pass on.
RUN_CONTEXT = {
    "executionName.$": "$$.Execution.Name",
    "executionStartTime.$": "$$.Execution.StartTime",
}


class FailWithCausePath(Fail):
    """A Fail state that takes its Error and Cause from the state input.

    The SDK (2.3.0, 2022) predates ErrorPath/CausePath (added to ASL in 2023), but without them
    a failed run could only report a fixed text instead of Personalize's failureReason or the
    Lambda's error. The SDK renders any allowed snake_case field as PascalCase.
    """

    def is_field_allowed(self, field_name: str) -> bool:
        return field_name in ("error_path", "cause_path") or super().is_field_allowed(field_name)


class WorkflowBuilder:
    """The shared parts of one definition under construction.

    ``solution`` is the one the phases of training and deployment build for: the single solution of
    a config without ``solutions``; a :class:`SolutionBranchBuilder` builds one listed solution's branch.
    """

    # Whether the states built go on a solution's branch (they end it rather than the run).
    in_branch = False

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.solution: SolutionConfig = config.trained_solutions[0]
        self.names = PersonalizeNames(config.pipeline_name)
        self.run_failed = FailWithCausePath(
            "Run failed",
            comment="Every failure ends here with the real cause; the campaign keeps its previous version.",
            error_path="$.failure.Error",
            cause_path="$.failure.Cause",
        )
        self.publish_failure = self._publish("Publish failure", failure_detail(config), self.run_failed)
        # The failure is the news; an event that cannot be published must not replace its cause.
        # The execution still ends FAILED, which the ExecutionsFailed alarm reports.
        self.publish_failure.add_catch(
            Catch(error_equals=["States.ALL"], next_step=self.run_failed, result_path="$.publishError")
        )
        self._failed_in: dict[str, Pass] = {}

    def state_name(self, name: str) -> str:
        """The name of a state this builder makes (unique in the whole state machine)."""
        return name

    def failure_in(self, stage: str) -> Pass:
        """The one state per stage that adds the stage to ``$.failure`` on the way to the failure event."""
        if stage not in self._failed_in:
            failed = Pass(
                f"Failed in {stage}",
                parameters={"Error.$": "$.failure.Error", "Cause.$": "$.failure.Cause", "Stage": stage},
                result_path="$.failure",
            )
            failed.next(self.publish_failure)
            self._failed_in[stage] = failed
        return self._failed_in[stage]

    def scoped(self, check: ReadinessCheck) -> ReadinessCheck:
        """The check as this builder's states wait for it."""
        return check

    def catch_failures(self, task: Task, stage: str) -> Task:
        task.add_catch(Catch(error_equals=["States.ALL"], next_step=self.failure_in(stage), result_path="$.failure"))
        return task

    def invoke(
        self, state_name: str, function: FunctionSpec, parameters: dict[str, Any], result_path: str, stage: str
    ) -> Task:
        """A Lambda step: retried on Lambda's own errors, on throttling and on busy resources."""
        task = Task(
            self.state_name(state_name),
            resource="${" + function.placeholder + "}",
            parameters=parameters,
            result_path=result_path,
            comment=function.description,
        )
        task.add_retry(
            Retry(error_equals=LAMBDA_TRANSIENT_ERRORS, interval_seconds=2, max_attempts=6, backoff_rate=2.0)
        )
        task.add_retry(Retry(error_equals=THROTTLING_ERRORS, interval_seconds=5, max_attempts=5, backoff_rate=2.0))
        task.add_retry(Retry(error_equals=BUSY_ERRORS, interval_seconds=30, max_attempts=6, backoff_rate=2.0))
        return self.catch_failures(task, stage)

    def wait_until_active(self, check: ReadinessCheck, next_step: State, stage: str) -> State:
        return build_wait_until_active(
            self.scoped(check),
            next_step=next_step,
            on_failure=self.failure_in(stage),
            catch_failures=lambda task: self.catch_failures(task, stage),
        )

    def publish_outcome(self, state_name: str, detail: dict[str, Any], next_step: State) -> Task:
        """Publish a run's outcome; an outcome that cannot be published makes the run fail.

        (Its event is attempted once more as the failure's, and the execution's FAILED status
        reaches the ExecutionsFailed alarm either way.)
        """
        return self.catch_failures(self._publish(state_name, detail, next_step), STAGE_NOTIFICATION)

    @staticmethod
    def _publish(state_name: str, detail: dict[str, Any], next_step: State) -> Task:
        """Publish the run's outcome event, keep the state as it is, go on to the terminal state."""
        task = Task(
            state_name,
            resource=PUT_EVENTS_INTEGRATION,
            comment="The run's outcome for EventBridge rules (the SNS topic) and anyone else subscribed.",
            parameters={"Entries": [{"Source": EVENT_SOURCE, "DetailType": EVENT_DETAIL_TYPE, "Detail": detail}]},
            result_path=None,
        )
        task.add_retry(Retry(error_equals=PUBLISH_RETRY_ERRORS, interval_seconds=2, max_attempts=3, backoff_rate=2.0))
        task.next(next_step)
        return task

    def record_run(self, state_name: str, outcome: str) -> Task:
        """The record step: what was trained (and deployed), and how long each stage took."""
        deployment = self.config.deployment
        return self.invoke(
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
                **({"campaignArn.$": "$.campaign.arn"} if outcome == "succeeded" and deployment.campaign else {}),
                **({"batchOutput.$": "$.batchManifest"} if outcome == "succeeded" and deployment.batch_job else {}),
                "evaluation.$": "$.evaluation",
                "polls.$": "$.poll",
                "resourcePaths": {check.key: check.resource_path for check in self.config.readiness_checks},
                "metricNamespace": METRIC_NAMESPACE,
                "pipelineName": self.config.pipeline_name,
            },
            "$.recorded",
            STAGE_RECORD,
        )


class SolutionBranchBuilder(WorkflowBuilder):
    """One listed solution's branch of the run (config ``solutions``).

    Its states are named ``<solution>: <state>``. A failure ends the branch with the solution's
    outcome instead of failing the run, so the other solutions go on; the run decides its own
    outcome from every branch's once all have ended (stacks/workflow/solutions.py).
    """

    in_branch = True

    def __init__(self, config: PipelineConfig, solution: SolutionConfig) -> None:
        if solution.name is None:
            raise ValueError("a branch is built for a listed solution, which has a name")
        self.config = config
        self.solution = solution
        self.names = PersonalizeNames(config.pipeline_name).for_solution(solution.resource_name)
        self._failed_in: dict[str, Pass] = {}

    @property
    def scope(self) -> str:
        return self.solution.label

    def state_name(self, name: str) -> str:
        return f"{self.scope}{SCOPE_SEPARATOR}{name}"

    def scoped(self, check: ReadinessCheck) -> ReadinessCheck:
        return replace(check, scope=self.scope)

    def failure_in(self, stage: str) -> Pass:
        """The branch's end after a failure at ``stage``: the solution's outcome, failed, with the cause."""
        if stage not in self._failed_in:
            self._failed_in[stage] = Pass(
                self.state_name(f"Failed in {stage}"),
                comment="This solution failed; the others go on, and the run fails once all have ended.",
                parameters={
                    "solution": self.scope,
                    "outcome": "failed",
                    "failedStage": stage,
                    "error.$": "$.failure.Error",
                    "cause.$": "$.failure.Cause",
                },
            )
        return self._failed_in[stage]

    def publish_outcome(self, state_name: str, detail: dict[str, Any], next_step: State) -> Task:
        raise TypeError("a solution's branch publishes no outcome: the run publishes one for all solutions")

    def record_run(self, state_name: str, outcome: str) -> Task:
        raise TypeError("a solution's branch records nothing: the run records every solution's outcome at once")
