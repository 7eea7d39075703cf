"""Retraining runs as the state machine's executions record them.

A run's outcome is in its output (stacks/workflow/, the ``Summarize ...`` and ``Skip: ...``
states): ``succeeded`` (the campaign now serves the new version), ``skipped`` and ``rejected``;
a failed run is a FAILED, TIMED_OUT or ABORTED execution with its error and cause.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipelinectl.errors import NoRunsYet

SUCCEEDED, SKIPPED, REJECTED, FAILED, RUNNING = "succeeded", "skipped", "rejected", "failed", "running"
METRIC_ABBREVIATIONS = {
    "normalized_discounted_cumulative_gain_at_": "NDCG@",
    "precision_at_": "precision@",
    "mean_reciprocal_rank_at_": "MRR@",
}


@dataclass(frozen=True)
class Run:
    """One execution, described: what it did and how it ended."""

    name: str
    arn: str
    status: str
    start: datetime
    stop: datetime | None
    output: dict[str, Any]
    error: str | None
    cause: str | None

    @classmethod
    def from_description(cls, description: dict[str, Any]) -> Run:
        output = json.loads(description["output"]) if description.get("output") else {}
        return cls(
            name=description["name"],
            arn=description["executionArn"],
            status=description["status"],
            start=description["startDate"],
            stop=description.get("stopDate"),
            output=output if isinstance(output, dict) else {},
            error=description.get("error"),
            cause=description.get("cause"),
        )

    @property
    def outcome(self) -> str:
        return outcome_of(self.status, self.output)

    @property
    def solution_outcomes(self) -> list[dict[str, Any]]:
        """With several solutions: each one's outcome, as the run recorded them (empty otherwise)."""
        solutions = (self.output.get("recorded") or {}).get("solutions")
        return [s for s in solutions if isinstance(s, dict)] if isinstance(solutions, list) else []

    def of_solution(self, name: str | None, resource: str | None = None) -> Run:
        """The run as one solution saw it (several solutions): its outcome, version and evaluation.
        The single solution of a config without ``solutions`` (None) is the run itself.

        A run that names no solutions ran before the config listed them: it is this solution's only
        when its version is of this solution's Personalize solution ``resource`` (one that kept the
        single solution's names, ``legacyNames``); otherwise this solution took no part in it."""
        if name is None:
            return self
        mine = next((s for s in self.solution_outcomes if s.get("solution") == name), None)
        if mine is None:
            version = self.solution_version_arn
            if resource is not None and version and f":solution/{resource}/" in version:
                return self
            absent = {"outcome": SKIPPED, "reason": f"solution {name} took no part in this run"}
            return Run(
                self.name,
                self.arn,
                self.status,
                self.start,
                self.stop,
                absent if self.output else {},
                self.error,
                self.cause,
            )
        status = "SUCCEEDED" if mine.get("outcome") != FAILED else "FAILED"
        error = f"{mine.get('error')} in {mine.get('failedStage')}" if mine.get("outcome") == FAILED else None
        output = {
            **mine,
            "candidate": (mine.get("evaluation") or {}).get("candidate"),
            # What the run shared: its data and its import.
            "data": self.output.get("data"),
            "datasetImportJobArn": self.output.get("datasetImportJobArn"),
        }
        return Run(self.name, self.arn, status, self.start, self.stop, output, error, mine.get("cause"))

    def duration(self, now: datetime) -> timedelta:
        return (self.stop or now) - self.start

    @property
    def solution_version_arn(self) -> str | None:
        if self.outcome == REJECTED:
            return (self.output.get("candidate") or {}).get("solutionVersionArn")
        return self.output.get("solutionVersionArn")

    @property
    def evaluation(self) -> dict[str, Any]:
        """metric, candidate and current (the served version's value), whichever outcome recorded them."""
        return self.output.get("evaluation") or self.output

    @property
    def metrics_text(self) -> str:
        """``NDCG@10 0.1051 / 0.1052``: the quality gate's metric of the new version, then of the served one."""
        evaluation = self.evaluation
        metric, candidate = evaluation.get("metric"), evaluation.get("candidate")
        if not metric or not isinstance(candidate, dict):
            return ""
        text = f"{short_metric(metric)} {candidate['value']:.4f}"
        current = evaluation.get("current")
        return text + (f" / {current['value']:.4f}" if isinstance(current, dict) else "")

    @property
    def note(self) -> str:
        """Why it ended this way, in a few words."""
        if self.outcome == FAILED:
            return f"{self.error or self.status}"
        if self.solution_outcomes:
            return ", ".join(f"{s.get('solution')}: {s.get('outcome')}" for s in self.solution_outcomes)
        if self.outcome in (SKIPPED, REJECTED):
            return str(self.output.get("reason", ""))
        if self.outcome == SUCCEEDED:
            parts = [f"campaign {self.output['campaignAction']}"] if self.output.get("campaignAction") else []
            if self.output.get("batchOutput"):
                parts.append("batch output published")
            return ", ".join(parts) or "campaign deployed"
        return ""


def outcome_of(status: str, output: dict[str, Any]) -> str:
    """succeeded, skipped or rejected (from the output of a SUCCEEDED execution), failed, or running."""
    if status == "RUNNING":
        return RUNNING
    if status != "SUCCEEDED":
        return FAILED
    return str(output.get("outcome", SUCCEEDED))


def short_metric(metric: str) -> str:
    for long, short in METRIC_ABBREVIATIONS.items():
        if metric.startswith(long):
            return short + metric.removeprefix(long)
    return metric


def short_id(arn: str | None) -> str:
    """The last part of an ARN: a solution version's id, a campaign's name."""
    return arn.rsplit("/", 1)[-1] if arn else "-"


def list_executions(stepfunctions: Any, state_machine_arn: str) -> Iterator[dict[str, Any]]:
    """Executions newest first, page by page."""
    paginator = stepfunctions.get_paginator("list_executions")
    for page in paginator.paginate(stateMachineArn=state_machine_arn):
        yield from page["executions"]


def recent_runs(stepfunctions: Any, state_machine_arn: str, limit: int) -> list[Run]:
    runs = []
    for execution in list_executions(stepfunctions, state_machine_arn):
        if len(runs) == limit:
            break
        runs.append(describe_run(stepfunctions, execution["executionArn"]))
    if not runs:
        raise NoRunsYet(
            "no runs yet: start one with `python -m pipelinectl run --wait`, or wait for the schedule (see `status`)"
        )
    return runs


def describe_run(stepfunctions: Any, execution_arn: str) -> Run:
    return Run.from_description(stepfunctions.describe_execution(executionArn=execution_arn))


def latest_execution_arn(stepfunctions: Any, state_machine_arn: str) -> str:
    for execution in list_executions(stepfunctions, state_machine_arn):
        return str(execution["executionArn"])
    raise NoRunsYet(
        "no runs yet: start one with `python -m pipelinectl run --wait`, or wait for the schedule (see `status`)"
    )


def deployed_runs(
    stepfunctions: Any, state_machine_arn: str, solution: str | None = None, resource: str | None = None
) -> Iterator[Run]:
    """Runs that put a version on the campaign (of ``solution``), newest first (Step Functions keeps 90
    days). A failed execution has no output: a solution deployed by a run another solution failed is
    not found here."""
    for execution in list_executions(stepfunctions, state_machine_arn):
        if execution["status"] != "SUCCEEDED":
            continue
        run = describe_run(stepfunctions, execution["executionArn"]).of_solution(solution, resource)
        if run.outcome == SUCCEEDED and run.solution_version_arn:
            yield run


def new_history_events(stepfunctions: Any, execution_arn: str, after_id: int) -> list[dict[str, Any]]:
    """History events with an id above ``after_id``, oldest first, read newest first until there."""
    collected: list[dict[str, Any]] = []
    request: dict[str, Any] = {"executionArn": execution_arn, "reverseOrder": True, "maxResults": 1000}
    while True:
        page = stepfunctions.get_execution_history(**request)
        for event in page["events"]:
            if event["id"] <= after_id:
                return collected[::-1]
            collected.append(event)
        if not page.get("nextToken"):
            return collected[::-1]
        request["nextToken"] = page["nextToken"]
