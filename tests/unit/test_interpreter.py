"""The offline ASL interpreter bridge: real aws-local-stepfunctions semantics on a virtual clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from simulator.interpreter import (
    ExecutionEvent,
    ExecutionResult,
    InterpreterError,
    TaskFailure,
    TaskHandlerError,
    TaskRequest,
    TaskResult,
    find_node,
    run_execution,
)

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
MACHINE_ARN = "arn:aws:states:eu-west-1:123456789012:stateMachine:personalize-retraining"
SDK = "arn:aws:states:::aws-sdk:personalize:"


def run(
    definition: dict[str, Any], handler: Callable[[TaskRequest], Any], payload: Any = None, **kwargs: Any
) -> ExecutionResult:
    """Run with the shared test identity so each test only states what it checks."""
    return run_execution(
        definition,
        {} if payload is None else payload,
        execution_name=kwargs.pop("execution_name", "exec-1"),
        state_machine_arn=MACHINE_ARN,
        start_time=START,
        task_handler=handler,
        timeout_seconds=kwargs.pop("timeout", 30),
        **kwargs,
    )


class Recorder:
    """Task handler that records requests and answers from a per-state script."""

    def __init__(self, **answers: Callable[[TaskRequest], Any]) -> None:
        self.answers = answers
        self.requests: list[TaskRequest] = []

    def __call__(self, request: TaskRequest) -> Any:
        self.requests.append(request)
        answer = self.answers.get(request.state_name)
        return answer(request) if answer else {}

    def seconds_at(self, state_name: str) -> list[float]:
        """Virtual seconds since START at which the state's task was called."""
        return [(r.now - START).total_seconds() for r in self.requests if r.state_name == state_name]


def test_wait_seconds_and_seconds_path_advance_the_clock_exactly() -> None:
    definition = {
        "StartAt": "First",
        "States": {
            "First": {"Type": "Task", "Resource": SDK + "describeSolution", "ResultPath": None, "Next": "Fixed"},
            "Fixed": {"Type": "Wait", "Seconds": 300, "Next": "Second"},
            "Second": {"Type": "Task", "Resource": SDK + "describeSolution", "ResultPath": None, "Next": "FromPath"},
            "FromPath": {"Type": "Wait", "SecondsPath": "$.delay", "Next": "Third"},
            "Third": {"Type": "Task", "Resource": SDK + "describeSolution", "End": True},
        },
    }
    handler = Recorder()
    result = run(definition, handler, {"delay": 45})
    assert result.status == "SUCCEEDED"
    assert [handler.seconds_at(name) for name in ("First", "Second", "Third")] == [[0.0], [300.0], [345.0]]
    assert result.stop_time - START == timedelta(seconds=345)


def test_task_output_lands_at_result_path_and_request_carries_parameters() -> None:
    definition = {
        "StartAt": "Describe",
        "States": {
            "Describe": {
                "Type": "Task",
                "Resource": SDK + "describeSolutionVersion",
                "Parameters": {"SolutionVersionArn.$": "$.arn"},
                "ResultSelector": {"status.$": "$.SolutionVersion.Status"},
                "ResultPath": "$.describe",
                "End": True,
            }
        },
    }
    handler = Recorder(Describe=lambda r: {"SolutionVersion": {"Status": "ACTIVE"}})
    result = run(definition, handler, {"arn": "sv-1"})
    (request,) = handler.requests
    assert (request.resource, request.input, request.now) == (
        SDK + "describeSolutionVersion",
        {"SolutionVersionArn": "sv-1"},
        START,
    )
    assert result.output == {"arn": "sv-1", "describe": {"status": "ACTIVE"}}


def test_catch_receives_the_exact_error_and_cause() -> None:
    cause = "Solution arn:aws:personalize:eu-west-1:123456789012:solution/x does not exist. (Service: Personalize)"
    definition = {
        "StartAt": "Describe",
        "States": {
            "Describe": {
                "Type": "Task",
                "Resource": SDK + "describeSolution",
                "Catch": [
                    {
                        "ErrorEquals": ["Personalize.ResourceNotFoundException"],
                        "ResultPath": "$.error",
                        "Next": "Handled",
                    }
                ],
                "End": True,
            },
            "Handled": {"Type": "Pass", "End": True},
        },
    }

    def missing(request: TaskRequest) -> Any:
        raise TaskFailure("Personalize.ResourceNotFoundException", cause)

    result = run(definition, Recorder(Describe=missing), {"k": 1})
    assert result.status == "SUCCEEDED"
    assert result.output == {"k": 1, "error": {"Error": "Personalize.ResourceNotFoundException", "Cause": cause}}
    assert [e.type for e in result.events if e.state_name == "Describe"] == [
        "StateEntered",
        "StateFailed",
        "StateCaught",
        "StateExited",
    ]


def test_retry_backoff_advances_virtual_time_and_calls_task_again() -> None:
    definition = {
        "StartAt": "Create",
        "States": {
            "Create": {
                "Type": "Task",
                "Resource": SDK + "createSolutionVersion",
                "Retry": [
                    {
                        "ErrorEquals": ["Personalize.LimitExceededException"],
                        "IntervalSeconds": 2,
                        "BackoffRate": 3,
                        "MaxAttempts": 3,
                    }
                ],
                "End": True,
            }
        },
    }
    attempts: list[int] = []

    def throttled_three_times(request: TaskRequest) -> Any:
        attempts.append(1)
        if len(attempts) <= 3:
            raise TaskFailure("Personalize.LimitExceededException", "Rate exceeded")
        return {"SolutionVersionArn": "sv-2"}

    handler = Recorder(Create=throttled_three_times)
    result = run(definition, handler)
    assert result.output == {"SolutionVersionArn": "sv-2"}
    assert handler.seconds_at("Create") == [0.0, 2.0, 8.0, 26.0]
    assert result.retries == 3 and result.state_transitions == 1


def test_exhausted_retries_fail_the_execution_with_the_task_error() -> None:
    definition = {
        "StartAt": "Create",
        "States": {
            "Create": {
                "Type": "Task",
                "Resource": SDK + "createSolutionVersion",
                "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10, "MaxAttempts": 1}],
                "End": True,
            }
        },
    }

    def always_throttled(request: TaskRequest) -> Any:
        raise TaskFailure("Personalize.LimitExceededException", "Rate exceeded")

    result = run(definition, Recorder(Create=always_throttled))
    assert (result.status, result.error, result.cause) == (
        "FAILED",
        "Personalize.LimitExceededException",
        "Rate exceeded",
    )
    assert result.duration == timedelta(seconds=10)


def test_fail_state_error_path_and_cause_path_become_the_execution_failure() -> None:
    definition = {
        "StartAt": "Fail",
        "States": {"Fail": {"Type": "Fail", "ErrorPath": "$.code", "CausePath": "$.detail.message"}},
    }
    result = run(
        definition, Recorder(), {"code": "TrainingFailed", "detail": {"message": "solution version CREATE FAILED"}}
    )
    assert (result.status, result.error, result.cause) == ("FAILED", "TrainingFailed", "solution version CREATE FAILED")
    assert result.events[-1].event == {
        "type": "ExecutionFailed",
        "timestamp": int(START.timestamp() * 1000),
        "Error": "TrainingFailed",
        "Cause": "solution version CREATE FAILED",
    }


def test_choice_loop_polls_until_active() -> None:
    definition = {
        "StartAt": "Poll",
        "States": {
            "Poll": {"Type": "Task", "Resource": SDK + "describeCampaign", "ResultPath": "$.status", "Next": "Ready?"},
            "Ready?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.status", "StringEquals": "ACTIVE", "Next": "Done"}],
                "Default": "Later",
            },
            "Later": {"Type": "Wait", "Seconds": 60, "Next": "Poll"},
            "Done": {"Type": "Succeed"},
        },
    }
    statuses = iter(["CREATE PENDING", "CREATE IN_PROGRESS", "ACTIVE"])
    handler = Recorder(Poll=lambda r: next(statuses))
    result = run(definition, handler)
    assert result.states_entered() == ["Poll", "Ready?", "Later"] * 2 + ["Poll", "Ready?", "Done"]
    assert handler.seconds_at("Poll") == [0.0, 60.0, 120.0]
    assert result.state_transitions == 9


def test_task_reporting_more_elapsed_time_than_timeout_seconds_times_out() -> None:
    definition = {
        "StartAt": "Slow",
        "States": {
            "Slow": {
                "Type": "Task",
                "Resource": SDK + "createDatasetImportJob",
                "TimeoutSeconds": 30,
                "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "NoTimeout"}],
                "Next": "NoTimeout",
            },
            # No TimeoutSeconds: AWS's default (99999999 s) applies, not the library's 60 s.
            "NoTimeout": {"Type": "Task", "Resource": SDK + "describeDatasetImportJob", "End": True},
        },
    }
    handler = Recorder(
        Slow=lambda r: TaskResult({"late": True}, elapsed_seconds=90),
        NoTimeout=lambda r: TaskResult({"done": True}, elapsed_seconds=3600),
    )
    result = run(definition, handler)
    assert result.status == "SUCCEEDED" and result.output == {"done": True}
    assert handler.seconds_at("NoTimeout") == [30.0]
    assert result.duration == timedelta(seconds=3630)
    failed = [e.event for e in result.events if e.type == "StateFailed"]
    assert [(f["state"]["name"], f["Error"]) for f in failed] == [("Slow", "States.Timeout")]


def test_intrinsics_and_context_object() -> None:
    definition = {
        "StartAt": "Build",
        "States": {
            "Build": {
                "Type": "Pass",
                "Parameters": {
                    "name.$": "States.Format('retrain-{}-{}', $$.Execution.Name, $.round)",
                    "next.$": "States.MathAdd($.round, 1)",
                    "execution.$": "$$.Execution.Id",
                    "started.$": "$$.Execution.StartTime",
                    "machine.$": "$$.StateMachine.Name",
                },
                "Next": "Later",
            },
            "Later": {"Type": "Wait", "Seconds": 90, "Next": "Stamp"},
            "Stamp": {
                "Type": "Pass",
                "Parameters": {"entered.$": "$$.State.EnteredTime", "built.$": "$"},
                "End": True,
            },
        },
    }
    result = run(definition, Recorder(), {"round": 41}, execution_name="nightly-2026-03-01")
    assert result.output["built"] == {
        "name": "retrain-nightly-2026-03-01-41",
        "next": 42,
        "execution": "arn:aws:states:eu-west-1:123456789012:execution:personalize-retraining:nightly-2026-03-01",
        "started": "2026-03-01T12:00:00.000Z",
        "machine": "personalize-retraining",
    }
    # $$.State.EnteredTime (which the library leaves out) is the state's entry on the virtual clock.
    assert result.output["entered"] == "2026-03-01T12:01:30.000Z"


def test_parallel_branch_tasks_are_answered_by_python() -> None:
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Left",
                        "States": {"Left": {"Type": "Task", "Resource": SDK + "describeSolution", "End": True}},
                    },
                    {
                        "StartAt": "Pause",
                        "States": {
                            "Pause": {"Type": "Wait", "Seconds": 5, "Next": "Right"},
                            "Right": {"Type": "Task", "Resource": SDK + "describeCampaign", "End": True},
                        },
                    },
                ],
                "End": True,
            }
        },
    }
    handler = Recorder(Left=lambda r: "L", Right=lambda r: "R")
    result = run(definition, handler)
    assert result.output == ["L", "R"]
    assert handler.seconds_at("Right") == [5.0]


def test_failed_branch_fails_the_parallel_while_another_task_is_still_answered() -> None:
    definition = {
        "StartAt": "Both",
        "States": {
            "Both": {
                "Type": "Parallel",
                "Branches": [
                    {
                        "StartAt": "Broken",
                        "States": {"Broken": {"Type": "Fail", "Error": "Import.Failed", "Cause": "bad csv"}},
                    },
                    {
                        "StartAt": "Busy",
                        "States": {"Busy": {"Type": "Task", "Resource": SDK + "describeSolution", "End": True}},
                    },
                ],
                "End": True,
            }
        },
    }

    def slow_answer(request: TaskRequest) -> Any:
        time.sleep(0.05)  # the runner must wait for this reply before it exits
        return "late"

    result = run(definition, Recorder(Busy=slow_answer))
    assert (result.status, result.error, result.cause) == ("FAILED", "Import.Failed", "bad csv")


def test_execution_timeout_seconds_gives_timed_out() -> None:
    definition = {
        "TimeoutSeconds": 100,
        "StartAt": "Long",
        "States": {"Long": {"Type": "Wait", "Seconds": 3600, "End": True}},
    }
    result = run(definition, Recorder())
    assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")
    assert result.duration == timedelta(seconds=100)


def test_events_stream_to_callback_before_the_task_is_called() -> None:
    seen: list[str] = []
    definition = {
        "StartAt": "Only",
        "States": {"Only": {"Type": "Task", "Resource": SDK + "listSolutions", "End": True}},
    }

    def handler(request: TaskRequest) -> Any:
        seen.append("task")
        return []

    def on_event(event: ExecutionEvent) -> None:
        seen.append(event.type)

    run(definition, handler, on_event=on_event)
    assert seen == ["ExecutionStarted", "StateEntered", "task", "StateExited", "ExecutionSucceeded"]


def test_handler_bug_stops_the_run_and_names_the_state() -> None:
    definition = {
        "StartAt": "Broken",
        "States": {"Broken": {"Type": "Task", "Resource": SDK + "describeSolution", "End": True}},
    }

    def buggy(request: TaskRequest) -> Any:
        return request.input["missing"]

    with pytest.raises(TaskHandlerError, match="'Broken'") as caught:
        run(definition, buggy)
    assert isinstance(caught.value.__cause__, KeyError)


def test_invalid_definition_is_a_clear_error() -> None:
    definition = {"StartAt": "Nowhere", "States": {"Here": {"Type": "Pass", "Next": "Missing"}}}
    with pytest.raises(InterpreterError, match="definition is invalid"):
        run(definition, Recorder())


def fake_node(tmp_path: Path, version: str) -> str:
    """Executable that reports `version` and otherwise hangs, like a stuck interpreter."""
    script = tmp_path / f"node-{version}"
    script.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo {version}; exit 0; fi\nexec sleep 30\n')
    script.chmod(0o755)
    return str(script)


def test_missing_or_old_node_tells_the_user_to_run_npm_ci(tmp_path: Path) -> None:
    with pytest.raises(InterpreterError, match="npm ci"):
        find_node(str(tmp_path / "no-node"))
    with pytest.raises(InterpreterError, match=r"Node 20.*npm ci"):
        find_node(fake_node(tmp_path, "v20.19.0"))


def test_hung_interpreter_is_killed_after_the_real_time_timeout(tmp_path: Path) -> None:
    definition = {"StartAt": "Only", "States": {"Only": {"Type": "Pass", "End": True}}}
    began = time.perf_counter()
    with pytest.raises(InterpreterError, match=r"no answer within 0\.3 s"):
        run(definition, Recorder(), node=fake_node(tmp_path, "v22.99.0"), timeout=0.3)
    assert time.perf_counter() - began < 5


def test_long_polling_run_advances_virtual_time_only() -> None:
    definition = {
        "StartAt": "Init",
        "States": {
            "Init": {"Type": "Pass", "Parameters": {"i": 0}, "Next": "Poll"},
            "Poll": {
                "Type": "Task",
                "Resource": SDK + "describeSolutionVersion",
                "ResultPath": "$.status",
                "Next": "Wait",
            },
            "Wait": {"Type": "Wait", "Seconds": 300, "Next": "Count"},
            "Count": {"Type": "Pass", "Parameters": {"i.$": "States.MathAdd($.i, 1)"}, "Next": "Log"},
            "Log": {"Type": "Pass", "Next": "More?"},
            "More?": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.i", "NumericLessThan": 20, "Next": "Poll"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    result = run(definition, lambda r: "CREATE IN_PROGRESS")
    assert result.state_transitions == 102
    assert result.duration == timedelta(seconds=20 * 300)


def test_one_runner_serves_the_next_execution_with_nothing_left_of_the_last(monkeypatch: pytest.MonkeyPatch) -> None:
    """Node and the library load once per process; a finished execution's leftovers (a pending
    Wait timer, a task that was still taking virtual time when the execution timed out) must not
    reach the next execution's clock or tasks."""
    from simulator import interpreter

    spawned: list[object] = []
    real_runner = interpreter._Runner

    def counting_runner(node: str) -> object:
        runner = real_runner(node)
        spawned.append(runner)
        return runner

    monkeypatch.setattr(interpreter, "_Runner", counting_runner)
    interpreter._POOL.close_all()
    timed_out = {
        "TimeoutSeconds": 100,
        "StartAt": "Slow",
        "States": {"Slow": {"Type": "Task", "Resource": SDK + "describeSolution", "End": True}},
    }
    first = run(timed_out, lambda r: TaskResult("late", elapsed_seconds=5000))
    assert (first.status, first.duration) == ("TIMED_OUT", timedelta(seconds=100))

    later = START + timedelta(days=3)
    handler = Recorder()
    second = run_execution(
        {
            "StartAt": "Wait",
            "States": {
                "Wait": {"Type": "Wait", "Seconds": 60, "Next": "Only"},
                "Only": {"Type": "Task", "Resource": SDK + "describeSolution", "End": True},
            },
        },
        {},
        execution_name="exec-2",
        state_machine_arn=MACHINE_ARN,
        start_time=later,
        task_handler=handler,
        timeout_seconds=30,
    )
    assert second.status == "SUCCEEDED"
    assert [r.now for r in handler.requests] == [later + timedelta(seconds=60)]
    assert second.duration == timedelta(seconds=60)
    assert len(spawned) == 1


def test_a_runner_that_failed_is_not_reused() -> None:
    """After a handler bug the runner is killed; the next execution gets a working one."""
    definition = {
        "StartAt": "Only",
        "States": {"Only": {"Type": "Task", "Resource": SDK + "describeSolution", "End": True}},
    }
    with pytest.raises(TaskHandlerError):
        run(definition, lambda r: r.input["missing"])
    assert run(definition, Recorder(Only=lambda r: "fine")).output == "fine"
