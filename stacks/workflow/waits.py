"""The one "wait until ready" fragment: check, decide, wait, count, check again.

Every wait of the workflow is built here from a :class:`contract.readiness.ReadinessCheck`.
"""

from __future__ import annotations

from typing import Any

from contract.readiness import ReadinessCheck
from contract.resources import SDK_INTEGRATION_PREFIX
from stacks.workflow.sdk import Chain, Choice, ChoiceRule, Pass, Retry, State, Task, Wait

# Personalize throttling reaching an aws-sdk task (register sfn.aws-sdk.error-names): its model
# has no ThrottlingException, so Step Functions reports it as the SDK's generic
# Personalize.PersonalizeException; LimitExceededException is modeled and keeps its name.
SDK_THROTTLING_ERRORS = ["Personalize.PersonalizeException", "Personalize.LimitExceededException"]


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
        resource=f"{SDK_INTEGRATION_PREFIX}personalize:{check.describe_action}",
        parameters={f"{check.arn_parameter}.$": check.arn_path},
        result_path=poll_path,
    )
    check_status.add_retry(
        Retry(error_equals=SDK_THROTTLING_ERRORS, interval_seconds=5, max_attempts=5, backoff_rate=2.0)
    )
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
    failed_rules = [ChoiceRule.StringEquals(variable=status_path, value=s) for s in check.failed_statuses]
    is_failed = failed_rules[0] if len(failed_rules) == 1 else ChoiceRule.Or(failed_rules)
    decide.add_choice(ChoiceRule.StringEquals(variable=status_path, value=check.ready_status), next_step)
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
        visible.add_choice(
            ChoiceRule.StringEqualsPath(variable=version_path, value=check.expected_version_path), decide
        )
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
