"""Unit tests of tools/acceptance.py, the real-account acceptance test: everything up to the first AWS call.

Offline and fast: no network (the instance metadata service is disabled where credentials are
looked up), no synth. The leftover check and a whole session against the offline account are in
tests/e2e/test_acceptance_leftovers.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pipelinectl.errors import ExitCode, NotConfirmed
from stacks.artifacts import STACK_NAME, StackNameError, stack_name_from_context
from stacks.config import PipelineConfig, load_config
from tools import acceptance
from tools.acceptance import (
    OBSERVATIONS,
    USD_OTHER_SERVICES,
    USD_PER_GB_INGESTED,
    USD_PER_TPS_HOUR,
    USD_PER_TRAINING_HOUR,
    AcceptanceData,
    AcceptanceFailure,
    CallerIdentity,
    CostEstimate,
    Dependencies,
    Evidence,
    check_minimums,
    collect_observations,
    confirm,
    deploy_command,
    destroy_command,
    generate_dataset,
    is_pipeline_name,
    main,
    make_plan,
    measure_listing_lag,
    parse_args,
)

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)


class Commands:
    """Stands in for the CDK CLI: records what would have run."""

    def __init__(self) -> None:
        self.argvs: list[list[str]] = []

    def __call__(self, argv: Sequence[str], env: Mapping[str, str]) -> int:
        self.argvs.append(list(argv))
        return 0


@pytest.fixture
def cdk_json(tmp_path: Path) -> Path:
    path = tmp_path / "cdk.json"
    path.write_text(
        json.dumps(
            {
                "app": "python3 app.py",
                "context": {
                    "personalize": {
                        "pipelineName": "movielens",
                        "schedule": {"expression": "rate(7 days)", "enabled": True},
                        "data": {"rawKey": "raw/ml-100k/u.data"},
                    }
                },
            }
        )
    )
    return path


class Stacks:
    """CloudFormation's DescribeStacks of an account with ``existing`` stacks (name -> status)."""

    def __init__(self, existing: Mapping[str, str]) -> None:
        self.existing = existing

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        if StackName not in self.existing:
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": f"Stack with id {StackName} does not exist"}},
                "DescribeStacks",
            )
        return {"Stacks": [{"StackName": StackName, "StackStatus": self.existing[StackName]}]}


class NoPersonalizeResources:
    def get_paginator(self, operation: str) -> Any:
        return SimpleNamespace(paginate=lambda **params: iter([{}]))


class Account:
    """A boto3 session's stand-in: the region, and the two services the checks before confirming call."""

    def __init__(self, region: str = "us-east-1", stacks: Mapping[str, str] | None = None) -> None:
        self.region_name = region
        self.clients = {"cloudformation": Stacks(stacks or {}), "personalize": NoPersonalizeResources()}

    def client(self, service: str) -> Any:
        return self.clients[service]


TESTER = CallerIdentity("123456789012", "arn:aws:iam::123456789012:user/tester")


def dependencies(tmp_path: Path, commands: Commands, **overrides: Any) -> Dependencies:
    cdk_cli = tmp_path / "cdk"
    cdk_cli.write_text("")  # installed
    settings: dict[str, Any] = {
        "out": io.StringIO(),
        "err": io.StringIO(),
        "environ": {},
        "run_command": commands,
        "now": lambda: NOW,
        "cdk_cli": cdk_cli,
        "interactive": lambda: False,
    }
    return Dependencies(**(settings | overrides))


# --- command line --------------------------------------------------------------------------------


def test_the_command_line_has_yes_region_profile_keep_and_stack_name() -> None:
    assert vars(parse_args([])) == {"yes": False, "region": None, "profile": None, "keep": False, "stack_name": None}
    args = parse_args(["--yes", "--region", "eu-west-1", "--profile", "sandbox", "--keep", "--stack-name", "Acc-1"])
    assert vars(args) == {"yes": True, "region": "eu-west-1", "profile": "sandbox", "keep": True, "stack_name": "Acc-1"}


def test_a_stack_name_cloudformation_would_refuse_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["--stack-name", "1-starts-with-a-digit"])
    assert exit_info.value.code == ExitCode.USAGE
    assert (
        "argument --stack-name: '1-starts-with-a-digit' is not a CloudFormation stack name" in capsys.readouterr().err
    )


# --- refusals before anything is deployed --------------------------------------------------------


def test_without_credentials_it_prints_the_cost_then_stops_with_exit_4_before_deploying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in [key for key in os.environ if key.startswith("AWS_")]:
        monkeypatch.delenv(key)
    for variable, name in (("AWS_SHARED_CREDENTIALS_FILE", "credentials"), ("AWS_CONFIG_FILE", "config")):
        (tmp_path / name).write_text("")
        monkeypatch.setenv(variable, str(tmp_path / name))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance metadata lookup
    monkeypatch.setattr(socket.socket, "connect", lambda *args: pytest.fail("no network call without credentials"))
    commands = Commands()
    # The real session and STS lookup, as `make acceptance` runs them.
    deps = dependencies(
        tmp_path, commands, make_session=Dependencies().make_session, identify=acceptance.caller_identity
    )

    code = main(["--yes"], deps)

    assert code == ExitCode.ACTION_NEEDED == 4
    assert deps.err.getvalue() == (
        "error: no valid AWS credentials: run `aws configure` or `aws sso login`, or set AWS_PROFILE "
        "(or pass --profile); nothing was deployed\n"
    )
    out = deps.out.getvalue()
    assert "Expected cost: an estimate at us-east-1 list prices" in out and "total           about $" in out
    assert "Account" not in out
    assert commands.argvs == []


def test_without_a_confirmation_it_stops_with_exit_4_and_says_how_to_confirm(tmp_path: Path) -> None:
    commands = Commands()
    deps = dependencies(
        tmp_path, commands, make_session=lambda profile, region: Account(), identify=lambda session: TESTER
    )

    code = main([], deps)

    assert code == ExitCode.ACTION_NEEDED
    assert deps.err.getvalue() == (
        "error: the acceptance test needs a confirmation: type yes in a terminal, pass --yes (make acceptance "
        "ARGS=--yes) or set ACCEPTANCE_CONFIRM=yes; nothing was deployed\n"
    )
    out = deps.out.getvalue()
    assert "Account 123456789012 as arn:aws:iam::123456789012:user/tester, region us-east-1" in out
    assert "Checking that stack PersonalizePipeline-acc202601050600 and pipeline acc202601050600 are new" in out
    assert commands.argvs == []


def test_a_stack_name_in_use_is_refused_before_asking(tmp_path: Path) -> None:
    commands = Commands()
    deps = dependencies(
        tmp_path,
        commands,
        make_session=lambda profile, region: Account(stacks={"PersonalizePipeline": "CREATE_COMPLETE"}),
        identify=lambda session: TESTER,
        ask=lambda question: pytest.fail("must not ask"),
        interactive=lambda: True,
    )

    assert main(["--stack-name", "PersonalizePipeline"], deps) == ExitCode.ACTION_NEEDED

    assert deps.err.getvalue() == (
        "error: stack PersonalizePipeline already exists in us-east-1 (CREATE_COMPLETE): the acceptance test deploys "
        "and destroys a stack of its own; pass another --stack-name, or none for a new one\n"
    )
    assert commands.argvs == []


def test_an_answer_other_than_yes_in_a_terminal_stops_with_exit_4(tmp_path: Path) -> None:
    commands = Commands()
    questions: list[str] = []
    deps = dependencies(
        tmp_path,
        commands,
        make_session=lambda profile, region: Account(region="eu-west-1"),
        identify=lambda session: TESTER,
        interactive=lambda: True,
        ask=lambda question: questions.append(question) or "y",
    )

    assert main([], deps) == ExitCode.ACTION_NEEDED

    assert deps.err.getvalue() == "error: not confirmed (the answer was not yes): nothing was deployed\n"
    (question,) = questions
    assert re.fullmatch(
        r"Deploy PersonalizePipeline-acc202601050600 into account 123456789012 \(eu-west-1\) for about \$\d+\.\d\d\? "
        r"Type yes to go on: ",
        question,
    )
    assert "(prices there may differ from us-east-1's)" in deps.out.getvalue()
    assert commands.argvs == []


def test_without_the_cdk_cli_it_says_to_run_make_install(tmp_path: Path) -> None:
    deps = dependencies(tmp_path, Commands(), cdk_cli=tmp_path / "missing" / "cdk")

    assert main(["--yes"], deps) == ExitCode.ACTION_NEEDED

    assert deps.err.getvalue().endswith("is missing): run `make install` first\n")


@pytest.mark.parametrize(
    ("yes", "environ", "interactive", "answer"),
    [
        (True, {}, False, None),
        (False, {"ACCEPTANCE_CONFIRM": "yes"}, False, None),
        (False, {"ACCEPTANCE_CONFIRM": "YES"}, False, None),
        (False, {}, True, "yes"),
        (False, {}, True, " Yes \n"),
    ],
)
def test_confirmed_by_flag_variable_or_typed_yes(
    yes: bool, environ: dict[str, str], interactive: bool, answer: str | None
) -> None:
    def ask(question: str) -> str:
        assert answer is not None, "must not ask when confirmed otherwise"
        return answer

    confirm("Go? ", yes=yes, environ=environ, interactive=interactive, ask=ask)


@pytest.mark.parametrize("answer", ["y", "no", "", EOFError()])
def test_anything_but_yes_is_not_a_confirmation(answer: str | EOFError) -> None:
    def ask(question: str) -> str:
        if isinstance(answer, EOFError):
            raise answer
        return answer

    with pytest.raises(NotConfirmed):
        confirm("Go? ", yes=False, environ={"ACCEPTANCE_CONFIRM": "no"}, interactive=True, ask=ask)


# --- the cost estimate ---------------------------------------------------------------------------


def test_the_cost_estimate_is_the_named_prices_times_the_expected_use() -> None:
    estimate = CostEstimate(
        training_runs=1, training_hours_per_run=2.0, campaign_hours=1.0, min_provisioned_tps=1, ingested_bytes=70_566
    )

    assert estimate.training_usd == pytest.approx(1 * 2.0 * USD_PER_TRAINING_HOUR)
    assert estimate.campaign_usd == pytest.approx(1.0 * 1 * USD_PER_TPS_HOUR)
    assert estimate.ingestion_usd == pytest.approx(70_566 / 1e9 * USD_PER_GB_INGESTED)
    assert estimate.total_usd == pytest.approx(
        estimate.training_usd + estimate.campaign_usd + estimate.ingestion_usd + USD_OTHER_SERVICES
    )
    assert estimate.extra_training_usd == pytest.approx(2.0 * USD_PER_TRAINING_HOUR)
    # With the list prices as typed in (0.24 a training hour, 0.20 a TPS-hour, 0.05 a GB): 0.48 + 0.20 + 0.05.
    if (USD_PER_TRAINING_HOUR, USD_PER_TPS_HOUR, USD_OTHER_SERVICES) == (0.24, 0.20, 0.05):
        assert f"{estimate.total_usd:.2f}" == "0.73"
    text = "\n".join(estimate.lines())
    assert (
        f"1 run x 2 training hours x ${USD_PER_TRAINING_HOUR:.2f}/training hour = ${estimate.training_usd:.2f}" in text
    )
    assert (
        f"1 h alive x 1 TPS (minProvisionedTPS) x ${USD_PER_TPS_HOUR:.2f}/TPS-hour = ${estimate.campaign_usd:.2f}"
        in text
    )
    assert (
        "us-east-1 list prices as of" in text
        and "check the pricing page: https://aws.amazon.com/personalize/pricing/" in text
    )
    assert f"total           about ${estimate.total_usd:.2f}" in text


def test_more_provisioned_throughput_and_more_training_runs_cost_proportionally_more() -> None:
    base = CostEstimate(training_runs=1, min_provisioned_tps=1)
    bigger = CostEstimate(training_runs=2, min_provisioned_tps=3)

    assert bigger.training_usd == pytest.approx(2 * base.training_usd)
    assert bigger.campaign_usd == pytest.approx(3 * base.campaign_usd)


# --- the generated data --------------------------------------------------------------------------


@pytest.mark.parametrize("data_format", ["ml-100k", "ratings-csv"])
def test_the_generated_data_is_comfortably_above_personalizes_minimums(data_format: str) -> None:
    config = load_config({"data": {"format": data_format, "rawKey": "raw/ratings"}})

    data = generate_dataset(config)

    assert data.interactions >= 2 * 1000  # Personalize: 1,000 interactions after the rating filter
    assert data.users_with_two >= 2 * 25  # Personalize: 25 users with two or more interactions
    assert data.ratings > data.interactions  # the filter (minRating 4.0) dropped some
    check_minimums(data, config.data.min_rating)
    if data_format == "ml-100k":
        assert (data.ratings, data.interactions, data.users_with_two) == (7663, 4239, 200)
        assert data.body.split(b"\n", 1)[0].count(b"\t") == 3
    else:
        assert data.body.startswith(b"userId,movieId,rating,timestamp\n")


def test_data_below_the_margin_is_refused_before_uploading() -> None:
    small = AcceptanceData(
        body=b"", ratings=3000, interactions=1500, users=200, users_with_two=200, interactions_bytes=0
    )

    with pytest.raises(AcceptanceFailure, match=r"1,500 interactions .* at least 2,000"):
        check_minimums(small, 4.0)


# --- the plan and the CDK command lines ----------------------------------------------------------


def test_the_plan_names_everything_after_the_minute_and_overrides_three_keys(cdk_json: Path) -> None:
    plan = make_plan(NOW, cdk_json=cdk_json)

    assert (plan.pipeline_name, plan.stack_name) == ("acc202601050600", "PersonalizePipeline-acc202601050600")
    assert plan.context_block == {
        "pipelineName": "acc202601050600",
        "schedule": {"expression": "rate(7 days)", "enabled": False},
        "data": {"rawKey": "raw/ml-100k/u.data", "onDestroy": "destroy"},
    }
    assert plan.config == load_config(plan.context_block)
    assert (plan.config.schedule.enabled, plan.config.data.destroy_on_delete) == (False, True)


def test_the_plan_keeps_the_rest_of_the_real_cdk_json_block() -> None:
    block = json.loads((REPO / "cdk.json").read_text())["context"]["personalize"]

    plan = make_plan(NOW, stack_name="MyAcceptance")

    assert plan.stack_name == "MyAcceptance"
    for key in set(block) - {"pipelineName", "schedule", "data"}:
        assert plan.context_block[key] == block[key], key
    assert isinstance(plan.config, PipelineConfig)


def test_deploy_and_destroy_command_lines(cdk_json: Path) -> None:
    plan = make_plan(NOW, cdk_json=cdk_json)
    block = (
        '{"pipelineName":"acc202601050600","schedule":{"expression":"rate(7 days)","enabled":false},'
        '"data":{"rawKey":"raw/ml-100k/u.data","onDestroy":"destroy"}}'
    )
    context = ["-c", "stackName=PersonalizePipeline-acc202601050600", "-c", f"personalize={block}"]
    cdk = ["npx", "--no-install", "cdk", "--no-notices", "--no-version-reporting"]

    assert deploy_command(plan, Path("/tmp/out")) == [
        *cdk,
        "deploy",
        "PersonalizePipeline-acc202601050600",
        "--require-approval",
        "never",
        "--output",
        "/tmp/out",
        *context,
    ]
    assert destroy_command(plan, Path("/tmp/out"), "sandbox") == [
        *cdk,
        "destroy",
        "PersonalizePipeline-acc202601050600",
        "--force",
        "--output",
        "/tmp/out",
        *context,
        "--profile",
        "sandbox",
    ]


def test_the_cdk_cli_gets_the_projects_node_and_the_venvs_python_first_and_the_sessions_region() -> None:
    env = acceptance.cdk_environment({"PATH": "/usr/bin", "HOME": "/home/me"}, "eu-west-1")

    node, python, rest = env["PATH"].split(os.pathsep, 2)
    assert Path(node) == acceptance.REPO / "node_modules" / ".bin"
    assert (Path(python) / "python3").exists() and rest == "/usr/bin"
    assert (env["AWS_REGION"], env["AWS_DEFAULT_REGION"], env["HOME"]) == ("eu-west-1", "eu-west-1", "/home/me")
    assert env["CDK_DISABLE_CLI_TELEMETRY"] == "true"


# --- app.py honours -c stackName -----------------------------------------------------------------


def test_the_stack_name_is_the_default_unless_the_context_gives_a_valid_one() -> None:
    assert stack_name_from_context(None) == STACK_NAME == "PersonalizePipeline"
    assert stack_name_from_context("PersonalizePipeline-acc202601050600") == "PersonalizePipeline-acc202601050600"
    for bad in ("", "1abc", "has_underscore", "a" * 129, 7):
        with pytest.raises(StackNameError, match='Invalid context "stackName"'):
            stack_name_from_context(bad)


def test_app_py_reads_the_stack_name_from_the_context(tmp_path: Path) -> None:
    """A bad name stops app.py before synth (no Data Science SDK, no assembly): the key is read there."""
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path), "CDK_CONTEXT_JSON": json.dumps({"stackName": "not_valid"})}

    completed = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )

    assert completed.returncode == 1
    assert completed.stderr.startswith('Configuration error: Invalid context "stackName": got "not_valid"')
    assert not (tmp_path / "manifest.json").exists()


# --- leftovers, observations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        ("acc202601050600", True),
        ("acc202601050600-campaign", True),
        ("acc202601050600-x-y", True),
        ("acc2026010506001", False),
        ("acc202601050600_x", False),
        ("films", False),
        ("xacc202601050600", False),
    ],
)
def test_names_the_pipeline_gives(name: str, ours: bool) -> None:
    assert is_pipeline_name(name, "acc202601050600") is ours


def test_observations_name_register_entries_and_never_fail_the_test() -> None:
    evidence = Evidence(client=lambda service: None, plan=make_plan(NOW))

    def refused(_: Evidence) -> str:
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "DescribeDataset")

    def broken(_: Evidence) -> str:
        raise KeyError("campaignArn")

    results = collect_observations(
        evidence, [*OBSERVATIONS, ("test.refused.call", refused), ("test.broken.code", broken)]
    )

    entries = [entry for entry, _ in results]
    assert len(set(entries)) == len(entries)
    assert all(re.fullmatch(r"[a-z0-9]+(\.[a-z0-9-]+)+", entry) for entry in entries)
    assert "sfn.list-executions.eventual-consistency" in entries
    assert all(text.startswith("not observed: ") for _, text in results)
    assert results[-2][1] == "not observed: AWS refused DescribeDataset: AccessDeniedException: no"
    assert results[-1][1] == "not observed: KeyError: 'campaignArn'"


class Executions:
    """ListExecutions that lists the new execution from the ``listed_from``-th call on."""

    def __init__(self, listed_from: int, status: str = "RUNNING") -> None:
        self.listed_from, self.status, self.calls = listed_from, status, 0

    def list_executions(self, **params: Any) -> dict[str, Any]:
        self.calls += 1
        assert params["statusFilter"] == "RUNNING"
        return {"executions": [{"executionArn": "arn:new"}] if self.calls >= self.listed_from else []}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"status": self.status}


def test_the_listing_lag_is_measured_until_listexecutions_shows_the_new_execution() -> None:
    ticks = iter([0.0, 0.4, 0.9])

    lag = measure_listing_lag(
        Executions(listed_from=3),
        "arn:sm",
        "arn:new",
        started=0.0,
        clock=lambda: next(ticks),
        pause=lambda seconds: None,
    )

    assert (lag.seconds, lag.calls, lag.ended_first) == (0.9, 3, False)


def test_an_execution_that_ended_before_it_was_listed_stops_the_measurement() -> None:
    lag = measure_listing_lag(
        Executions(listed_from=99, status="SUCCEEDED"),
        "arn:sm",
        "arn:new",
        started=0.0,
        clock=lambda: 0.0,
        pause=lambda seconds: None,
    )

    assert (lag.seconds, lag.calls, lag.ended_first) == (None, 1, True)


def test_with_several_pipelines_the_session_deploys_the_first_over_the_shared_defaults(tmp_path: Path) -> None:
    cdk_json = tmp_path / "cdk.json"
    cdk_json.write_text(
        json.dumps(
            {
                "context": {
                    "personalize": {
                        "defaults": {"data": {"minRating": 3.5}},
                        "pipelines": [
                            {"pipelineName": "films", "schedule": {"expression": "rate(1 day)"}},
                            {"pipelineName": "b"},
                        ],
                    }
                }
            }
        )
    )

    plan = make_plan(NOW, cdk_json=cdk_json)

    assert plan.config.data.min_rating == 3.5
    assert plan.config.schedule.expression == "rate(1 day)" and not plan.config.schedule.enabled
    assert plan.config.pipeline_name == plan.pipeline_name != "films"
