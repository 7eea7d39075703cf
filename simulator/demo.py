"""The offline main job: run retraining cycles of the synthesized stack and print a timeline.

    python -m simulator.demo [--cdk-out cdk.out] [--cycles 1]

Run ``npx cdk synth`` first (``make demo`` does both). No AWS account is used: Personalize and
S3 are simulated, the clock is simulated (a two-hour training takes milliseconds), and the
workflow definition, the interpreter and the Lambda code are the real ones.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from simulator.cloud_assembly import load_for_command
from simulator.interpreter import ExecutionEvent, ExecutionResult
from simulator.offline import OfflinePipeline, offline_account
from simulator.sample_data import generate_ratings, to_u_data

CHECK_PREFIX = "Check "


@dataclass
class Timeline:
    """Prints one line per stage outcome, and one per status change while waiting."""

    out: TextIO
    started: datetime | None = None
    _last_status: dict[str, str] = field(default_factory=dict)
    _checks: dict[str, int] = field(default_factory=dict)

    def __call__(self, event: ExecutionEvent) -> None:
        if self.started is None:
            self.started = event.time
        if event.type != "StateExited":
            return
        state = event.event.get("state", {})
        name = state.get("name", "")
        output = state.get("output")
        if name.startswith(CHECK_PREFIX):
            self._status_line(event.time, name.removeprefix(CHECK_PREFIX), output)
        elif name in STAGE_SUMMARIES and isinstance(output, dict):
            self._line(event.time, name, STAGE_SUMMARIES[name](output))

    def _status_line(self, time: datetime, stage: str, output: Any) -> None:
        self._checks[stage] = self._checks.get(stage, 0) + 1
        status = _status_from_poll(output, stage)
        if self._last_status.get(stage) != status:
            self._last_status[stage] = status
            self._line(time, stage, f"{status} (check {self._checks[stage]})")

    def _line(self, time: datetime, stage: str, text: str) -> None:
        elapsed = int((time - (self.started or time)).total_seconds())
        hours, rest = divmod(elapsed, 3600)
        self.out.write(f"  {hours:02d}:{rest // 60:02d}:{rest % 60:02d}  {stage:<28} {text}\n")


def _status_from_poll(output: Any, stage: str) -> str:
    """The status the check read (kept under ``poll.<Check>``): the resource's, or the update's."""
    key = stage.title().replace(" ", "")  # ReadinessCheck.key
    poll = output.get("poll", {}).get(key, {}) if isinstance(output, dict) else {}
    for resource in poll.values():
        if isinstance(resource, dict):
            if stage.endswith("update"):
                return str(resource.get("LatestCampaignUpdate", {}).get("Status", "?"))
            return str(resource.get("Status", "?"))
    return "?"


def _data_summary(output: dict[str, Any]) -> str:
    data = output["data"]
    if data.get("unchanged"):
        return f"{data['raw']} unchanged since the last training"
    summary = (
        f"{data['rowsRead']:,} ratings read, {data['rowsWritten']:,} interactions kept, "
        f"{data['rowsMalformed']:,} malformed -> {data['interactionsUri']}"
    )
    plan = data.get("plan")
    if plan:
        summary += f"; training {plan['trainingMode']}: {plan['trainingModeReason']}"
    return summary


def _evaluation_summary(output: dict[str, Any]) -> str:
    evaluation = output["evaluation"]
    return f"{'passed' if evaluation['passed'] else 'REJECTED'}: {evaluation['reason']}"


def _created_or_found(key: str) -> Any:
    def summary(output: dict[str, Any]) -> str:
        resource = output[key]
        verb = "created" if resource.get("created", True) else "reused"
        return f"{verb} {resource['arn']}"

    return summary


STAGE_SUMMARIES = {
    "Prepare data": _data_summary,
    "Ensure dataset group": _created_or_found("datasetGroup"),
    "Ensure interactions dataset": _created_or_found("dataset"),
    "Start dataset import": lambda o: f"started {o['importJob']['arn']}",
    "Ensure solution": _created_or_found("solution"),
    "Start training": lambda o: f"started {o['solutionVersion']['arn']} ({o['solutionVersion']['trainingMode']})",
    "Evaluate new version": _evaluation_summary,
    "Deploy campaign": lambda o: f"{o['campaign']['action']} {o['campaign']['arn']}",
    "Smoke test recommendations": lambda o: f"user {o['smokeTest']['userId']} gets {len(o['smokeTest']['itemIds'])} items",
}


def print_outcome(result: ExecutionResult, out: TextIO) -> None:
    duration = result.duration
    out.write(
        f"  Outcome: {result.status} after {duration} simulated "
        f"({result.state_transitions} state transitions)\n"
    )
    if result.status != "SUCCEEDED":
        out.write(f"  Error: {result.error}\n  Cause: {result.cause}\n")
        return
    output = result.output
    if output.get("outcome") == "skipped":
        out.write(f"  Skipped: {output['reason']}\n")
        return
    if output.get("outcome") == "rejected":
        out.write(f"  Rejected by the quality gate: {output['reason']}; the campaign keeps its version\n")
        return
    out.write(f"  Campaign {output['campaignArn']} ({output['campaignAction']})\n")
    out.write(f"  serves {output['solutionVersionArn']}\n")
    recommendations = output["recommendations"]
    out.write(f"  Recommendations for user {recommendations['userId']}: {', '.join(recommendations['itemIds'])}\n")


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], prog="python -m simulator.demo")
    parser.add_argument("--cdk-out", default="cdk.out", type=Path, help="synthesized cloud assembly (default: cdk.out)")
    parser.add_argument("--cycles", default=1, type=int, help="retraining cycles to run (default: 1)")
    parser.add_argument(
        "--same-data",
        action="store_true",
        help="keep the ratings unchanged between cycles (later cycles are then skipped); "
        "by default a week of new ratings arrives before each later cycle",
    )
    args = parser.parse_args(argv)
    synthesized = load_for_command(args.cdk_out)

    failures = 0
    with offline_account() as account:
        pipeline = OfflinePipeline(synthesized, account)
        ratings = generate_ratings()
        pipeline.upload_raw_data(to_u_data(ratings))
        out.write(
            f"Offline account {account.personalize.account_id} ({account.personalize.region}): uploaded "
            f"{len(ratings):,} generated ratings to s3://{pipeline.bucket_name}/{pipeline.raw_data_key}\n"
        )
        for cycle in range(1, args.cycles + 1):
            if cycle > 1 and not args.same_data:
                ratings += generate_ratings(users=40, seed=cycle, first_user=201 + 40 * (cycle - 2))
                pipeline.upload_raw_data(to_u_data(ratings))
                out.write(f"\nNew ratings arrived: the raw file now holds {len(ratings):,} ratings\n")
            out.write(f"\nRetraining cycle {cycle} (times are simulated, from the start of the run)\n")
            timeline = Timeline(out=out)
            result = pipeline.start_execution(name=f"offline-cycle-{cycle}", on_event=timeline, gap=timedelta(days=7))
            print_outcome(result, out)
            failures += result.status != "SUCCEEDED"
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
