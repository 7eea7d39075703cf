"""The live view of one run: its steps with status, elapsed time and what each did.

Built from the execution's history events (Step Functions' GetExecutionHistory, the same
offline), on the readable graph of pipelinectl.workflow_graph: each wait fragment is one row
that counts its checks and, for a stage whose duration the pipeline learned in earlier runs
(state/pipeline-state.json ``stageSeconds``), shows a progress bar against that duration.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from contract.wait_states import SCOPE_SEPARATOR, WaitStateNames
from pipelinectl.runs import FAILED, REJECTED, RUNNING, SKIPPED, SUCCEEDED, outcome_of, short_id, short_metric
from pipelinectl.workflow_graph import FAIL, TASK, WAIT, Step, WorkflowGraph

# The pipeline keeps training durations per training mode (contract/run_record.py).
TRAINING_STAGE = "SolutionVersion"
MARKS = {"running": "…", "done": "✓", "failed": "✗"}
STYLES = {"running": "cyan", "done": "green", "failed": "bold red"}


def elapsed_text(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


@dataclass
class StepRow:
    step: Step
    started: datetime
    ended: datetime | None = None
    state: str = "running"
    detail: str = ""
    checks: int = 0
    status: str = ""


def resource_name(arn: str) -> str:
    """``movielens/INTERACTIONS`` of ``arn:aws:personalize:…:dataset/movielens/INTERACTIONS``."""
    return arn.split(":", 5)[-1].split("/", 1)[-1]


def _summary_prepare(result: dict[str, Any]) -> str:
    data = result["data"]
    if data.get("noData"):
        return f"no data yet at {data['raw']}"
    if data.get("unchanged"):
        return f"{data['raw']} unchanged since the last training"
    if "rowsRead" not in data:  # the Glue engine converts (data.engine)
        return f"{data.get('rawObjects', 1):,} raw objects handed to Glue: {data.get('engineReason', '')}"
    text = f"{data['rowsWritten']:,} of {data['rowsRead']:,} ratings"
    if data.get("rawObjects", 1) > 1:
        text += f" from {data['rawObjects']:,} files"
    if data.get("importMode"):
        text += f" ({data['importMode']} import)"
    items = data.get("items")
    if items is not None:
        text += f", {items['itemsWritten']:,} movies" if items.get("itemsUri") else ", no movie file"
    else:
        text += " kept"
    plan = data.get("plan")
    if plan and "solutions" in plan:  # several solutions: each has its own plan
        trained = {name: p for name, p in plan["solutions"].items() if p.get("train")}
        return text + "; " + (", ".join(f"{name} {p['trainingMode']}" for name, p in trained.items()) or "no training")
    return text + (f"; {plan['trainingMode']} training" if plan else "")


def _summary_record_solutions(result: dict[str, Any]) -> str:
    outcomes = ", ".join(f"{s['solution']} {s['outcome']}" for s in result["recorded"]["solutions"])
    return f"{outcomes}; state/pipeline-state.json updated"


def _summary_ensure(key: str) -> Callable[[dict[str, Any]], str]:
    def summary(result: dict[str, Any]) -> str:
        resource = result[key]
        return f"{'created' if resource.get('created', True) else 'reused'} {resource_name(resource['arn'])}"

    return summary


def _summary_items_dataset(result: dict[str, Any]) -> str:
    dataset = result["itemsDataset"]
    text = _summary_ensure("itemsDataset")(result)
    return text + (" (moved to the new schema)" if dataset.get("previousSchemaArn") else "")


def _summary_filters(result: dict[str, Any]) -> str:
    actions = [f["action"] for f in result["filters"]["filters"].values()]
    counts = ", ".join(f"{actions.count(a)} {a}" for a in ("created", "reused", "kept") if a in actions)
    waiting = len(result["filters"].get("waitingForData", []))
    removed = len(result["filters"].get("removed", []))
    return "; ".join(
        part
        for part in (counts, f"{removed} removed" if removed else "", f"{waiting} wait for items" if waiting else "")
        if part
    )


def _summary_smoke_test(result: dict[str, Any]) -> str:
    smoke = result["smokeTest"]
    if "userId" not in smoke:
        return f"item {smoke['itemId']} gets {len(smoke['itemIds'])} related items"
    text = f"user {smoke['userId']} gets {len(smoke['itemIds'])} items"
    return text + (f", {len(smoke['filtered']['itemIds'])} through a filter" if "filtered" in smoke else "")


def _summary_evaluation(result: dict[str, Any]) -> str:
    evaluation = result["evaluation"]
    text = f"{short_metric(evaluation['metric'])} {evaluation['candidate']['value']:.4f}"
    current = evaluation.get("current")
    text += f" vs served {current['value']:.4f}" if current else " (nothing served yet)"
    return f"{'passed' if evaluation['passed'] else 'REJECTED'}: {text}"


def _summary_guard(result: dict[str, Any]) -> str:
    earlier = result.get("running", {}).get("earlierRunningExecutionArns", [])
    return "another run is in progress" if earlier else "no other run"


TASK_SUMMARIES: dict[str, Callable[[dict[str, Any]], str]] = {
    "Look for another run": _summary_guard,
    "Prepare data": _summary_prepare,
    "Ensure dataset group": _summary_ensure("datasetGroup"),
    "Ensure interactions dataset": _summary_ensure("dataset"),
    "Ensure items dataset": _summary_items_dataset,
    "Start items import": lambda r: f"started {r['itemsImportJob']['name']}",
    "Start dataset import": lambda r: f"started {r['importJob']['name']}",
    "Ensure solution": _summary_ensure("solution"),
    "Start training": lambda r: (
        f"version {short_id(r['solutionVersion']['arn'])} ({r['solutionVersion']['trainingMode']})"
    ),
    "Evaluate new version": _summary_evaluation,
    "Deploy campaign": lambda r: f"{r['campaign']['action']} {resource_name(r['campaign']['arn'])}",
    "Smoke test recommendations": _summary_smoke_test,
    "Ensure filters": _summary_filters,
    "Start data deletion": lambda r: f"started {r['deletionJob']['name']}",
    "Complete deletion requests": lambda r: f"{len(r['deletion']['requests'])} requests moved to completed/",
    "Start batch recommendations": lambda r: f"started {r['batchJob']['name']}",
    "Validate batch output": lambda r: (
        f"{r['batchOutput']['users']:,} users, {r['batchOutput']['recommendations']:,} items"
        + (
            f"; {r['batchOutput']['usersWithFewerItems']:,} with fewer"
            if r["batchOutput"]["usersWithFewerItems"]
            else ""
        )
    ),
    "Publish batch recommendations": lambda r: "recommendations/latest.json updated",
    "Record successful run": lambda r: "state/pipeline-state.json updated",
    "Record rejected version": lambda r: "state/pipeline-state.json updated",
    "Record solutions": _summary_record_solutions,
    "Convert with Glue": lambda r: (
        f"job run {r['glueRun']['JobRunState']} in {r['glueRun'].get('ExecutionTime', 0)} s "
        f"on {r['glueRun'].get('NumberOfWorkers', '?')} {r['glueRun'].get('WorkerType', '')} workers"
    ),
    "Read Glue output": lambda r: (
        f"{r['data']['rowsWritten']:,} of {r['data']['rowsRead']:,} ratings in "
        f"{r['data']['glue']['outputFiles']:,} part files"
    ),
    "Record imported objects": lambda r: "state/imported-objects.json updated",
}


def _polled_status(output: dict[str, Any], names: WaitStateNames) -> str:
    """The status the check read (kept under ``poll.<Key>``): the resource's, or the update's."""
    for resource in output.get("poll", {}).get(names.key, {}).values():
        if isinstance(resource, dict):
            if names.stage.endswith("update"):
                return str(resource.get("LatestCampaignUpdate", {}).get("Status", "?"))
            return str(resource.get("Status", "?"))
    return "?"


def solution_line(entry: dict[str, Any]) -> str:
    """One solution's outcome in a run of several: what it did, and with which version or cause."""
    name, outcome = entry.get("solution"), entry.get("outcome")
    if outcome == SUCCEEDED:
        campaign = (
            f", campaign {short_id(entry['campaignArn'])} ({entry.get('campaignAction')})"
            if entry.get("campaignArn")
            else ""
        )
        return f"{name}: deployed version {short_id(entry.get('solutionVersionArn'))}{campaign}"
    if outcome == FAILED:
        return f"{name}: failed in {entry.get('failedStage')}: {entry.get('error')}: {entry.get('cause')}"
    return f"{name}: {outcome} ({entry.get('reason')})"


@dataclass
class RunView:
    """Everything `watch` shows about one execution, updated event by event."""

    graph: WorkflowGraph
    expected_seconds: dict[str, float] = field(default_factory=dict)
    started: datetime | None = None
    rows: list[StepRow] = field(default_factory=list)
    status: str = "RUNNING"
    output: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    cause: str | None = None
    stopped: datetime | None = None
    training_mode: str | None = None
    # What serves the pipeline's recommendations (deployment.targets), as the outcome lines name it.
    in_service: str = "the campaign"

    @property
    def current(self) -> StepRow | None:
        return self.rows[-1] if self.rows and self.rows[-1].ended is None else None

    def current_of(self, scope: str) -> StepRow | None:
        """The open row of the main path (""), or of one solution's branch: branches run at once."""
        return next((row for row in reversed(self.rows) if row.ended is None and row.step.scope == scope), None)

    @property
    def failed_step(self) -> StepRow | None:
        return next((row for row in self.rows if row.state == "failed"), None)

    def apply(self, event: dict[str, Any]) -> None:
        kind, time = event["type"], event["timestamp"]
        if kind == "ExecutionStarted":
            self.started = time
        elif kind.endswith("StateEntered"):
            self._entered(event["stateEnteredEventDetails"]["name"], time)
        elif kind.endswith("StateExited"):
            details = event["stateExitedEventDetails"]
            self._exited(details["name"], json.loads(details.get("output") or "null"))
        elif kind == "ExecutionSucceeded":
            self._close(time, "done")
            self.status, self.stopped = "SUCCEEDED", time
            self.output = json.loads(event["executionSucceededEventDetails"].get("output") or "{}")
        elif kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted"):
            details = event.get("executionFailedEventDetails", {})
            self._close(time, "failed")
            self.status, self.stopped = kind.removeprefix("Execution").upper().replace("TIMEDOUT", "TIMED_OUT"), time
            self.error, self.cause = details.get("error", self.status), details.get("cause", "")

    def _entered(self, state_name: str, time: datetime) -> None:
        self.started = self.started or time
        step = self.graph.step_for(state_name)
        if step is None:
            return
        current = self.current_of(step.scope)
        if current is not None and current.step.id == step.id:
            return
        if step.kind == FAIL:
            self._close(time, "failed", step.scope)
            return
        self._close(time, "done", step.scope)
        if step.kind in (TASK, WAIT):
            self.rows.append(StepRow(step, started=time))

    def _exited(self, state_name: str, output: Any) -> None:
        step = self.graph.step_for(state_name)
        current = self.current_of(step.scope if step is not None else "")
        if current is None or not isinstance(output, dict):
            return
        _, separator, unscoped = state_name.partition(SCOPE_SEPARATOR)
        state_name = unscoped if separator and current.step.scope else state_name
        names = WaitStateNames.from_check_state(state_name)
        if current.step.kind == WAIT and names is not None:
            current.checks += 1
            current.status = _polled_status(output, names)
        elif state_name in TASK_SUMMARIES:
            try:
                current.detail = TASK_SUMMARIES[state_name](output)
            except (KeyError, TypeError):
                current.detail = ""
        if state_name == "Prepare data":
            self.training_mode = (output.get("data", {}).get("plan") or {}).get("trainingMode")

    def _close(self, time: datetime, state: str, scope: str | None = None) -> None:
        """End the open row (of ``scope``; None: every open row, as the execution ends)."""
        if scope is None:
            for row in self.rows:
                if row.ended is None:
                    row.ended, row.state = time, state
            return
        current = self.current_of(scope)
        if current is not None:
            current.ended, current.state = time, state
            if current.step.kind == WAIT and state == "done":
                current.status = "ACTIVE"

    # ------------------------------------------------------------------ rendering

    @property
    def outcome(self) -> str:
        return outcome_of(self.status, self.output)

    def _expected(self, row: StepRow) -> float | None:
        assert row.step.wait is not None
        key = row.step.wait.key
        if key == TRAINING_STAGE and self.training_mode:
            key = f"{key}.{self.training_mode}"
        seconds = self.expected_seconds.get(key)
        if seconds is None and key == "CampaignUpdate":
            seconds = self.expected_seconds.get("Campaign")
        return float(seconds) if isinstance(seconds, (int, float)) and seconds > 0 else None

    def table(self, now: datetime) -> Table:
        table = Table()
        table.add_column("", width=1)
        table.add_column("Step", no_wrap=True)
        table.add_column("Status", no_wrap=True)
        table.add_column("Elapsed", justify="right", no_wrap=True)
        table.add_column("Detail")
        for row in self.rows:
            end = row.ended or now
            status = row.status or {"running": "running", "done": "done", "failed": "failed"}[row.state]
            if row.state == "failed":
                status = f"failed ({row.status})" if row.status else "failed"
            detail: RenderableType = Text(row.detail)
            if row.step.kind == WAIT:
                detail = Text(f"{row.checks} check{'s' if row.checks != 1 else ''}")
                if row.state == "running":
                    detail = self._waiting(row, end)
            table.add_row(
                Text(MARKS[row.state], style=STYLES[row.state]),
                row.step.name,
                Text(status, style=STYLES[row.state]),
                elapsed_text(end - row.started),
                detail,
            )
        return table

    def _waiting(self, row: StepRow, now: datetime) -> RenderableType:
        """The progress indicator of a long wait: a bar against the learned duration, else a spinner."""
        elapsed = (now - row.started).total_seconds()
        expected = self._expected(row)
        bound = f"check {row.checks} of at most {row.step.max_checks}"
        if expected is None:
            return Spinner("dots", text=Text(f"{bound}; first time, no duration learned yet"))
        bar = ProgressBar(total=expected, completed=min(elapsed, expected), width=24)
        note = Text(
            f" {min(elapsed / expected, 1):.0%} of ~{elapsed_text(timedelta(seconds=expected))} (last time); {bound}"
        )
        grid = Table.grid()
        grid.add_row(bar, note)
        return grid

    def summary_lines(self, now: datetime) -> list[Text]:
        """The outcome under the table; on failure, the failed step and the cause."""
        start = self.started or now
        duration = elapsed_text((self.stopped or now) - start)
        outcome, output = self.outcome, self.output
        if outcome == RUNNING:
            return [Text(f"Still running after {duration}.", style="cyan")]
        solutions = (output.get("recorded") or {}).get("solutions") if isinstance(output, dict) else None
        if isinstance(solutions, list) and outcome != FAILED:
            style = {SUCCEEDED: "bold green", REJECTED: "bold yellow"}.get(outcome, "bold yellow")
            lines = [Text(f"Outcome: {outcome} after {duration}", style=style)]
            for entry in solutions:
                if isinstance(entry, dict):
                    lines.append(Text(f"  {solution_line(entry)}"))
                    asked = entry.get("recommendations") or {}
                    if asked.get("itemIds"):
                        who = f"user {asked['userId']}" if "userId" in asked else f"related to item {asked['itemId']}"
                        lines.append(Text(f"    {who}: {', '.join(asked['itemIds'])}"))
            return lines
        if outcome == SUCCEEDED:
            lines = [Text(f"Outcome: succeeded after {duration}", style="bold green")]
            version = short_id(output.get("solutionVersionArn"))
            if output.get("campaignArn"):
                lines.append(
                    Text(
                        f"  campaign {short_id(output.get('campaignArn'))} ({output.get('campaignAction')}) now serves "
                        f"solution version {version}"
                    )
                )
            batch = output.get("batchOutput") or {}
            if batch:
                lines.append(
                    Text(
                        f"  batch recommendations of solution version {version} published: "
                        f"s3://{batch['bucket']}/{batch['outputPrefix']} ({batch['users']:,} users), "
                        "named by recommendations/latest.json"
                    )
                )
            recommendations = output.get("recommendations") or {}
            if recommendations.get("itemIds"):
                lines.append(
                    Text(
                        f"  recommendations for user {recommendations['userId']}: {', '.join(recommendations['itemIds'])}"
                    )
                )
            return lines
        if outcome == SKIPPED:
            return [Text(f"Outcome: skipped after {duration}: {output.get('reason')}", style="bold yellow")]
        if outcome == REJECTED:
            return [
                Text(f"Outcome: rejected by the quality gate after {duration}", style="bold yellow"),
                Text(f"  {output.get('reason')}; {self.in_service} keeps serving its version"),
            ]
        failed = self.failed_step
        where = f" at step '{failed.step.name}'" if failed else ""
        if self.error == "SolutionFailed":
            where = " (a solution failed; the others' outcomes stand)"
        return [
            Text(f"Outcome: failed{where} after {duration} ({self.status})", style="bold red"),
            Text(f"  error: {self.error}"),
            Text(f"  cause: {self.cause}"),
            Text(f"  {self.in_service[0].upper()}{self.in_service[1:]} keeps serving the previous version."),
        ]

    def live(self, now: datetime) -> RenderableType:
        """What the live display shows: the table, and while the run lasts how long it has been running."""
        if self.outcome != RUNNING:
            return self.table(now)
        return Group(self.table(now), *self.summary_lines(now))

    def render(self, now: datetime) -> Group:
        return Group(self.table(now), *self.summary_lines(now))
