"""python -m pipelinectl: run, watch, inspect and roll back the retraining pipeline.

Finds the pipeline from its CloudFormation stack's outputs (--stack-name); with --offline,
from the same stack deployed into the local simulator (see pipelinectl/offline_session.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError, PartialCredentialsError
from rich.console import Console
from rich.live import Live
from rich.table import Table

from contract.filters import format_filter_values
from contract.personalize import PENDING_STATUSES
from pipelinectl.backend import Backend
from pipelinectl.batch import published_output, recommendations_of, roll_back_output
from pipelinectl.campaign import (
    metrics,
    refuse_while_running,
    rollback_target,
    run_that_deployed,
    served_campaign,
    switch_version,
    user_in_training_data,
)
from pipelinectl.catalog import read_titles
from pipelinectl.errors import (
    EXIT_CODES_HELP,
    ActionNeeded,
    ExitCode,
    NoCredentials,
    NoSuchFilter,
    NoSuchSolution,
    NotConfirmed,
    RollbackFailed,
    RunInProgress,
    UnknownUser,
)
from pipelinectl.run_view import RunView, elapsed_text
from pipelinectl.runs import (
    FAILED,
    REJECTED,
    deployed_runs,
    describe_run,
    latest_execution_arn,
    new_history_events,
    recent_runs,
    short_id,
    short_metric,
)
from pipelinectl.schedule import next_run
from pipelinectl.stack import ANSWERS_ITEMS, ANSWERS_USERS, PipelineStack, SolutionRef, choose_filter, find_stack
from pipelinectl.workflow_graph import build_graph
from stacks.artifacts import STACK_NAME
from stacks.config import pipeline_stack_name

PROG = "python -m pipelinectl"
CREDENTIAL_ERRORS = ("ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException", "InvalidClientTokenId")
NO_CREDENTIALS = (
    "no valid AWS credentials: run `aws configure` or `aws sso login`, or set AWS_PROFILE (or pass --profile); "
    "--offline runs against the simulator without any"
)
Ask = Callable[[str], str]
LOG_WIDTH = 120


@dataclass
class Context:
    backend: Backend
    stack: PipelineStack
    console: Console
    args: argparse.Namespace
    ask: Ask

    def client(self, service: str) -> Any:
        return self.backend.client(service)

    def time(self, moment: datetime | None) -> str:
        return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else "-"


# --------------------------------------------------------------------------- run and watch


def command_run(context: Context) -> int:
    stepfunctions = context.client("stepfunctions")
    name = context.args.name or f"cli-{context.backend.now():%Y%m%dT%H%M%SZ}"
    started = stepfunctions.start_execution(
        stateMachineArn=context.stack.state_machine_arn, name=name, input=json.dumps({"trigger": "cli"})
    )
    context.console.print(f"Started run {name} ({started['executionArn']})")
    if not context.args.wait:
        context.console.print(f"Follow it with: {PROG} watch {name}")
        return ExitCode.OK
    return follow(context, started["executionArn"])


def command_watch(context: Context) -> int:
    stepfunctions = context.client("stepfunctions")
    execution = context.args.execution
    if execution is None:
        arn = latest_execution_arn(stepfunctions, context.stack.state_machine_arn)
    elif execution.startswith("arn:"):
        arn = execution
    else:
        arn = context.stack.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{execution}"
    return follow(context, arn)


def follow(context: Context, execution_arn: str) -> int:
    """The live view until the execution ends; the exit code says how it ended."""
    stepfunctions = context.client("stepfunctions")
    try:
        run = describe_run(stepfunctions, execution_arn)
    except stepfunctions.exceptions.ExecutionDoesNotExist:
        raise ActionNeeded(
            f"no run {short_id(execution_arn.replace(':', '/'))} of this pipeline: `{PROG} history` lists the runs"
        ) from None
    definition = json.loads(
        stepfunctions.describe_state_machine(stateMachineArn=context.stack.state_machine_arn)["definition"]
    )
    served = {("campaign",): "the campaign", ("batch",): "the published batch output"}
    view = RunView(
        build_graph(definition),
        expected_seconds=_learned_durations(context),
        in_service=served.get(context.stack.targets, "the campaign and the published batch output"),
    )
    clock_note = " (times are simulated)" if context.backend.simulated else ""
    context.console.print(f"Watching run {run.name}, started {context.time(run.start)}{clock_note}")
    last_id = 0
    # Live crops what is wider than the terminal: the outcome and its cause are printed after it.
    with Live(view.live(context.backend.now()), console=context.console, refresh_per_second=4) as live:
        while True:
            status = stepfunctions.describe_execution(executionArn=execution_arn)["status"]
            for event in new_history_events(stepfunctions, execution_arn, last_id):
                view.apply(event)
                last_id = event["id"]
            live.update(view.live(context.backend.now()))
            if status != "RUNNING":
                break
            context.backend.pause_between_polls()
    if not context.console.is_terminal:
        context.console.line()  # Live leaves the cursor after its last line
    for line in view.summary_lines(context.backend.now()):
        context.console.print(line)
    return {FAILED: ExitCode.RUN_FAILED, REJECTED: ExitCode.REJECTED}.get(view.outcome, ExitCode.OK)


def _learned_durations(context: Context) -> dict[str, float]:
    """stageSeconds of the pipeline-state record: how long each stage took last time."""
    s3 = context.client("s3")
    try:
        body = s3.get_object(Bucket=context.stack.bucket, Key=context.stack.state_key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return {}
    return dict(json.loads(body).get("stageSeconds", {}))


# --------------------------------------------------------------------------- history and status


def command_history(context: Context) -> int:
    runs = recent_runs(context.client("stepfunctions"), context.stack.state_machine_arn, context.args.n)
    solution = context.args.solution
    if solution is not None:
        ref = context.stack.solution(solution)  # a name that is not one says which are
        runs = [run.of_solution(solution, ref.solution) for run in runs]
    now = context.backend.now()
    title = f"Last {len(runs)} run{'s' if len(runs) != 1 else ''} of {context.stack.name}"
    title += f", solution {solution}" if solution else ""
    context.console.print(title + (" (times are simulated)" if context.backend.simulated else ""))
    table = Table()
    for column in ("Run", "Started (UTC)", "Duration", "Outcome", "Version", "Metric (new / served)", "Note"):
        table.add_column(column, no_wrap=column != "Note")
    for run in runs:
        style = {"succeeded": "green", "failed": "red", "rejected": "yellow", "skipped": "dim"}.get(run.outcome, "cyan")
        table.add_row(
            run.name,
            f"{run.start:%Y-%m-%d %H:%M}",
            elapsed_text(run.duration(now)),
            f"[{style}]{run.outcome}[/]",
            short_id(run.solution_version_arn) if run.solution_version_arn else "-",
            run.metrics_text or "-",
            run.note,
        )
    context.console.print(table)
    return ExitCode.OK


def command_status(context: Context) -> int:
    chosen = context.args.solution
    solutions = [context.stack.solution(chosen)] if chosen else list(context.stack.solutions)
    for solution in solutions:
        if len(context.stack.solutions) > 1:
            context.console.print(f"[bold]Solution {solution.label}[/] ({solution.recipe_type})")
        if solution.campaign is not None:
            _campaign_status(context, solution)
        if solution.batch:
            _batch_status(context, solution)
    _schedule_status(context)
    return ExitCode.OK


def _batch_status(context: Context, solution: SolutionRef) -> None:
    """The published batch output: its run, version, counts and where consumers read it."""
    manifest = published_output(context.client("s3"), context.stack, solution.name)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Batch output", f"run {manifest['runName']}, s3://{manifest['bucket']}/{manifest['outputPrefix']}")
    grid.add_row("From", f"solution version {short_id(manifest['solutionVersionArn'])}")
    grid.add_row(
        "Counts",
        f"{manifest['users']:,} users, {manifest['recommendations']:,} recommendations "
        f"({manifest['numResults']} asked per user; {manifest.get('usersWithFewerItems', 0):,} users with fewer)",
    )
    grid.add_row("Published", manifest["publishedAt"] + (" (a rollback)" if "rolledBackFrom" in manifest else ""))
    grid.add_row("Earlier", ", ".join(entry["runName"] for entry in manifest.get("history", [])) or "none kept")
    context.console.print(grid)


def _campaign_status(context: Context, solution: SolutionRef) -> None:
    personalize = context.client("personalize")
    campaign = served_campaign(personalize, context.stack, solution)
    version = personalize.describe_solution_version(solutionVersionArn=campaign.solution_version_arn)["solutionVersion"]
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("Campaign", f"{campaign.name} ({campaign.status})")
    grid.add_row(
        "Serves",
        f"solution version {short_id(campaign.solution_version_arn)}, trained "
        f"{version.get('trainingMode', '?')}, {context.time(version.get('creationDateTime'))}",
    )
    grid.add_row("Since", context.time(campaign.since))
    if campaign.update and campaign.update.get("status") in PENDING_STATUSES:
        grid.add_row(
            "Updating", f"to version {short_id(campaign.update['solutionVersionArn'])}: {campaign.update['status']}"
        )
    context.console.print(grid)
    context.console.print("Its offline metrics (GetSolutionMetrics):")
    scores = Table()
    scores.add_column("Metric")
    scores.add_column("Value", justify="right")
    for name, value in sorted(metrics(personalize, campaign.solution_version_arn).items()):
        scores.add_row(short_metric(name), f"{value:.4f}")
    context.console.print(scores)


def _schedule_status(context: Context) -> None:
    schedule = context.client("scheduler").get_schedule(Name=context.stack.schedule_name)
    anchor = schedule.get("StartDate") or schedule["CreationDate"]
    zone = schedule.get("ScheduleExpressionTimezone", "UTC")
    upcoming = next_run(schedule["ScheduleExpression"], zone, anchor, context.backend.now())
    plan = Table.grid(padding=(0, 2))
    plan.add_column(style="bold")
    plan.add_column()
    plan.add_row("Schedule", f"{schedule['ScheduleExpression']} ({zone}), {schedule['State']}")
    if schedule["State"] != "ENABLED":
        plan.add_row("Next run", "none: the schedule is disabled (schedule.enabled in cdk.json)")
    else:
        plan.add_row("Next run", context.time(upcoming) if upcoming else "not computed for this expression (L, W or #)")
    context.console.print(plan)


# --------------------------------------------------------------------------- recommend and rollback


def command_recommend(context: Context) -> int:
    user, item, count = context.args.user, context.args.item, context.args.n
    genres, exclude_seen = context.args.genre or [], context.args.exclude_seen
    if item is not None:
        if not context.stack.has_campaign:
            raise NoSuchSolution("--item asks a related-items campaign, and this pipeline deploys to batch only")
        return _recommend_related(context, item, count)
    solution = context.stack.solution(context.args.solution, answering=ANSWERS_USERS, what="requests by user")
    if solution.recipe_type not in ANSWERS_USERS:
        asks = (
            "by item (--item)" if solution.recipe_type in ANSWERS_ITEMS else "GetPersonalizedRanking (a user and items)"
        )
        raise NoSuchSolution(
            f"solution {solution.label} is {solution.recipe_type}: its campaign answers {asks}, not recommendations "
            "for a user (--user)"
        )
    if solution.campaign is None:
        if genres or exclude_seen:
            raise NoSuchFilter(
                "--genre and --exclude-seen ask a campaign through a filter, and "
                + (
                    "this pipeline deploys to batch only"
                    if len(context.stack.solutions) == 1
                    else f"solution {solution.label} deploys to batch only"
                )
            )
        return _recommend_from_batch_output(context, user, count, solution.name)
    campaign = served_campaign(context.client("personalize"), context.stack, solution)
    if not context.args.any_user:
        _require_known_user(context, user, campaign.solution_version_arn, solution)
    request: dict[str, Any] = {"campaignArn": campaign.arn, "userId": user, "numResults": count}
    through = ""
    if genres or exclude_seen:
        name = choose_filter(context.stack, genres=bool(genres), exclude_seen=exclude_seen)
        request["filterArn"] = campaign.arn.split(":campaign/")[0] + f":filter/{name}"
        if genres:
            request["filterValues"] = format_filter_values({"GENRES": genres})
        through = f", through filter {name}"
    try:
        response = context.client("personalize-runtime").get_recommendations(**request)
    except ClientError as error:
        if "filterArn" not in request or error.response.get("Error", {}).get("Code") not in (
            "ResourceNotFoundException",
            "InvalidInputException",
        ):
            raise
        raise NoSuchFilter(
            f"the filter {request['filterArn']} cannot be used yet ({error.response['Error'].get('Message')}): "
            "runs create the configured filters after the imports; start one (run --wait) and ask again"
        ) from None
    context.console.print(
        f"Recommendations for user {user} (campaign {campaign.name}, version {short_id(campaign.solution_version_arn)}"
        f"{through})"
    )
    _print_items(context, response["itemList"])
    return ExitCode.OK


def _recommend_related(context: Context, item: str, count: int) -> int:
    """``--item``: what a related-items solution's campaign answers for a movie ("more like this")."""
    solution = context.stack.solution(context.args.solution, answering=ANSWERS_ITEMS, what="requests by item (--item)")
    if solution.recipe_type not in ANSWERS_ITEMS:
        raise NoSuchSolution(
            f"solution {solution.label} is {solution.recipe_type}: its campaign answers requests by user (--user), "
            "not by item"
        )
    campaign = served_campaign(context.client("personalize"), context.stack, solution)
    response = context.client("personalize-runtime").get_recommendations(
        campaignArn=campaign.arn, itemId=item, numResults=count
    )
    titles = read_titles(context.client("s3"), context.stack.bucket, context.stack.raw_key, context.stack.items_key)
    about = f" ({titles[item]})" if item in titles else ""
    context.console.print(
        f"Items related to item {item}{about} (campaign {campaign.name}, version "
        f"{short_id(campaign.solution_version_arn)})"
    )
    _print_items(context, response["itemList"], titles)
    return ExitCode.OK


def _print_items(context: Context, items: list[dict[str, Any]], titles: dict[str, str] | None = None) -> None:
    """The answer as a table: rank, item, its title (when the movie file is uploaded) and score."""
    if titles is None:
        titles = read_titles(context.client("s3"), context.stack.bucket, context.stack.raw_key, context.stack.items_key)
    table = Table()
    table.add_column("#", justify="right")
    table.add_column("Item")
    table.add_column("Title")
    table.add_column("Score", justify="right")
    for rank, item in enumerate(items, start=1):
        score = item.get("score")
        table.add_row(
            str(rank), item["itemId"], titles.get(item["itemId"], "-"), f"{score:.4f}" if score is not None else ""
        )
    context.console.print(table)
    if not titles:
        context.console.print(
            "No titles: upload them beside the ratings (python tools/upload_movielens.py uploads u.item or movies.csv)."
        )


def _recommend_from_batch_output(context: Context, user: str, count: int, solution: str | None = None) -> int:
    """Without a campaign, the user's line of the published batch output, and say so."""
    s3 = context.client("s3")
    manifest = published_output(s3, context.stack, solution)
    items = recommendations_of(s3, manifest, user)[:count]
    titles = read_titles(s3, context.stack.bucket, context.stack.raw_key, context.stack.items_key)
    context.console.print(
        f"Recommendations for user {user} from the batch output of run {manifest['runName']} "
        f"(version {short_id(manifest['solutionVersionArn'])}, published {manifest['publishedAt']}); "
        + (
            "this pipeline has no campaign (deployment.targets)"
            if solution is None
            else f"solution {solution} has no campaign (its deployment.targets)"
        )
    )
    table = Table()
    table.add_column("#", justify="right")
    table.add_column("Item")
    table.add_column("Title")
    for rank, item in enumerate(items, start=1):
        table.add_row(str(rank), item, titles.get(item, "-"))
    context.console.print(table)
    return ExitCode.OK


def _require_known_user(context: Context, user: str, version_arn: str, solution: SolutionRef) -> None:
    """Personalize answers an unknown user with popular items, silently; say so instead."""
    stepfunctions = context.client("stepfunctions")
    runs = deployed_runs(stepfunctions, context.stack.state_machine_arn, solution.name, solution.solution)
    run = run_that_deployed(runs, version_arn)
    uri = (run.output.get("data") or {}).get("interactionsUri") if run else None
    if not uri:
        return  # no record of what it was trained on (older than 90 days): ask anyway
    if user_in_training_data(context.client("s3"), uri, user) is False:
        raise UnknownUser(
            f"user {user} is not in the interactions version {short_id(version_arn)} was trained on ({uri}), so "
            "Personalize would answer with popular items only: pick a user id from the ratings, or pass --any-user"
        )


def command_rollback(context: Context) -> int:
    refuse_while_running(context.client("stepfunctions"), context.stack)
    solution = context.stack.solution(context.args.solution)
    if solution.campaign is not None:
        _roll_back_campaign(context)
    if solution.batch:
        _roll_back_batch_output(context, solution.name)
    return ExitCode.OK


def _roll_back_batch_output(context: Context, solution: str | None) -> None:
    """Point the manifest back at the output it named before the current one."""
    s3 = context.client("s3")
    manifest = published_output(s3, context.stack, solution)
    history = manifest.get("history", [])
    previous = history[0] if history else None
    if previous is not None and not context.args.yes:
        question = (
            f"Point the batch output manifest from run {manifest['runName']} (version "
            f"{short_id(manifest['solutionVersionArn'])}) back at run {previous['runName']} (version "
            f"{short_id(previous['solutionVersionArn'])}, s3://{previous['bucket']}/{previous['outputPrefix']})? [y/N] "
        )
        if context.ask(question).strip().lower() not in ("y", "yes"):
            raise NotConfirmed("rollback cancelled: the manifest is unchanged")
    rolled = roll_back_output(
        s3, context.stack, manifest, context.backend.now().isoformat(timespec="seconds"), solution
    )
    context.console.print(
        f"Batch output manifest points at run {rolled['runName']} again "
        f"(s3://{rolled['bucket']}/{rolled['outputPrefix']}). The next run publishes a new output only if new data "
        "arrives and passes the quality gate."
    )


def _roll_back_campaign(context: Context) -> None:
    stepfunctions, personalize = context.client("stepfunctions"), context.client("personalize")
    solution = context.stack.solution(context.args.solution)
    campaign = served_campaign(personalize, context.stack, solution)
    if campaign.update and campaign.update.get("status") in PENDING_STATUSES:
        raise RunInProgress(
            f"campaign {campaign.name} is being updated ({campaign.update['status']}): try again when it is ACTIVE"
        )
    target = rollback_target(stepfunctions, personalize, context.stack, campaign.solution_version_arn, solution)
    target_arn = str(target.solution_version_arn)
    question = (
        f"Switch campaign {campaign.name} from version {short_id(campaign.solution_version_arn)} "
        f"({_metric_text(personalize, campaign.solution_version_arn)}) back to version {short_id(target_arn)} "
        f"({_metric_text(personalize, target_arn)}, deployed by run {target.name} on {context.time(target.start)})? [y/N] "
    )
    if not context.args.yes and context.ask(question).strip().lower() not in ("y", "yes"):
        raise NotConfirmed("rollback cancelled: the campaign is unchanged")
    started = context.backend.now()
    context.console.print(f"Updating campaign {campaign.name} to version {short_id(target_arn)} …")
    switch_version(personalize, campaign, target_arn, context.backend.wait)
    context.console.print(
        f"Campaign {campaign.name} serves version {short_id(target_arn)} again (update ACTIVE after "
        f"{elapsed_text(context.backend.now() - started)}). The next run deploys a new version only if new "
        "data arrives and passes the quality gate against this one."
    )


def _metric_text(personalize: Any, version_arn: str) -> str:
    values = metrics(personalize, version_arn)
    key = "normalized_discounted_cumulative_gain_at_10"
    return f"{short_metric(key)} {values[key]:.4f}" if key in values else "no metrics"


def _ask_in_terminal(question: str) -> str:
    if not sys.stdin.isatty():
        raise NotConfirmed("rollback needs a confirmation: run it in a terminal, or pass --yes")
    return input(question)


# --------------------------------------------------------------------------- entry point

COMMANDS: dict[str, Callable[[Context], int]] = {
    "run": command_run,
    "watch": command_watch,
    "history": command_history,
    "status": command_status,
    "recommend": command_recommend,
    "rollback": command_rollback,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run, watch, inspect and roll back the Personalize retraining pipeline, on AWS or (--offline) "
        "against the local simulator.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--stack-name", default=None, help=f"the pipeline's CloudFormation stack (default: {STACK_NAME})"
    )
    parser.add_argument(
        "--pipeline",
        metavar="NAME",
        help="one of several pipelines (personalize.pipelines): its stack is PersonalizePipeline-NAME",
    )
    parser.add_argument("--region", help="AWS region (default: from your AWS config)")
    parser.add_argument("--profile", help="AWS named profile (default: from your AWS config)")
    offline = parser.add_argument_group("offline (the local simulator; see README, 'Offline simulator')")
    offline.add_argument(
        "--offline", action="store_true", help="deploy cdk.out into a fresh simulated account and run the command there"
    )
    offline.add_argument(
        "--cdk-out", type=Path, default=Path("cdk.out"), help="synthesized stack for --offline (default: cdk.out)"
    )
    offline.add_argument(
        "--offline-runs",
        type=int,
        metavar="N",
        help="retraining cycles the offline session runs before the command (default: 0 for run, 2 otherwise)",
    )
    offline.add_argument("--same-data", action="store_true", help="offline: no new ratings arrive before the command")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="start a retraining now", description="Start a retraining now.")
    run.add_argument("--wait", action="store_true", help="follow it (as `watch` does) until it ends")
    run.add_argument("--name", help="execution name (default: cli-<UTC time>)")
    watch = commands.add_parser(
        "watch",
        help="follow a run live: steps, status, elapsed time, outcome",
        description="Follow a run until it ends (a finished one is shown at once).",
    )
    watch.add_argument(
        "execution", nargs="?", metavar="EXECUTION", help="execution name or ARN (default: the latest run)"
    )
    history = commands.add_parser("history", help="the last runs with outcome, version and metrics")
    history.add_argument("-n", type=int, default=10, metavar="N", help="how many runs (default: 10)")
    status = commands.add_parser("status", help="what the campaign serves, since when, its metrics, the schedule")
    recommend = commands.add_parser(
        "recommend", help="recommendations for a user, or items related to an item, with titles when uploaded"
    )
    asked = recommend.add_mutually_exclusive_group(required=True)
    asked.add_argument("--user", metavar="ID", help="user id, as in the ratings")
    asked.add_argument("--item", metavar="ID", help="item id: what a related-items solution recommends with it")
    recommend.add_argument("--n", type=int, default=10, metavar="K", help="how many items (default: 10)")
    recommend.add_argument("--any-user", action="store_true", help="ask even for a user the model was not trained on")
    recommend.add_argument(
        "--genre",
        action="append",
        metavar="GENRE",
        help="only movies of this genre (repeat for several), through the configured filter that takes $GENRES",
    )
    recommend.add_argument(
        "--exclude-seen",
        action="store_true",
        help="leave out movies the user rated, through the configured filter that excludes interacted items",
    )
    rollback = commands.add_parser(
        "rollback",
        help="point the campaign back at the previous good version",
        description="Point the campaign back at the version deployed before the one it serves, and wait for the update.",
    )
    rollback.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    for command in (history, status, recommend, rollback):
        command.add_argument(
            "--solution",
            metavar="NAME",
            help="one of the pipeline's solutions (personalize.solutions); default: the only one, or for recommend "
            "the first that answers the request",
        )
    return parser


@contextlib.contextmanager
def open_backend(args: argparse.Namespace, console: Console) -> Iterator[Backend]:
    if args.offline:
        from pipelinectl.offline_session import offline_backend  # imports moto and the simulator: offline only

        prior_runs = args.offline_runs if args.offline_runs is not None else (0 if args.command == "run" else 2)
        with offline_backend(
            args.cdk_out,
            prior_runs=prior_runs,
            same_data=args.same_data,
            console=console,
            # cdk.out's stack: the one pipeline's, or with --pipeline that pipeline's (--stack-name names the
            # stack the commands then look for, as on AWS).
            stack_name=pipeline_stack_name(args.pipeline) if args.pipeline is not None else STACK_NAME,
        ) as backend:
            yield backend
        return
    backend = Backend(session=boto3.session.Session(profile_name=args.profile, region_name=args.region))
    backend.create_clients()
    yield backend


def main(
    argv: list[str] | None = None,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    ask: Ask | None = None,
    backend: Backend | None = None,
) -> int:
    """The entry point; tests hand in ``out``, ``err``, ``ask`` and an open offline ``backend``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.pipeline is not None and args.stack_name is not None:
        parser.error("--pipeline and --stack-name both name the stack: give one")
    args.stack_name = (
        pipeline_stack_name(args.pipeline) if args.pipeline is not None else (args.stack_name or STACK_NAME)
    )
    stream = out or sys.stdout
    # Not a terminal (a log, a pipe, a test): a fixed width, so tables do not wrap at 80 columns.
    console = Console(file=stream, highlight=False, soft_wrap=True, width=None if stream.isatty() else LOG_WIDTH)
    errors = err or sys.stderr
    try:
        with contextlib.nullcontext(backend) if backend else open_backend(args, console) as opened:
            stack = find_stack(opened.client("cloudformation"), args.stack_name, opened.region)
            context = Context(opened, stack, console, args, ask or _ask_in_terminal)
            return COMMANDS[args.command](context)
    except (ActionNeeded, RollbackFailed) as error:
        return _fail(errors, str(error), error.exit_code)
    except (NoCredentialsError, PartialCredentialsError):
        return _fail(errors, NO_CREDENTIALS, NoCredentials.exit_code)
    except NoRegionError:
        return _fail(errors, "no AWS region configured: pass --region or set AWS_REGION", ExitCode.ACTION_NEEDED)
    except ClientError as error:
        info = error.response.get("Error", {})
        if info.get("Code") in CREDENTIAL_ERRORS:
            return _fail(errors, f"{NO_CREDENTIALS} ({info.get('Code')})", NoCredentials.exit_code)
        return _fail(
            errors, f"AWS refused {error.operation_name}: {info.get('Code')}: {info.get('Message')}", ExitCode.AWS_ERROR
        )
    except KeyboardInterrupt:
        return _fail(
            errors, f"interrupted; a run goes on without us (`{PROG} watch` follows it again)", ExitCode.INTERRUPTED
        )


def _fail(stream: TextIO, message: str, code: int) -> int:
    stream.write(f"error: {message}\n")
    return int(code)
