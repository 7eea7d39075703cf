"""The command-line tool (python -m pipelinectl) against the local simulator: every command, its
output and its exit code. ``--offline`` sessions are what the README's offline main job runs."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console

from pipelinectl.backend import Backend
from pipelinectl.cli import main
from pipelinectl.errors import ExitCode
from pipelinectl.offline_session import offline_backend
from simulator.cloud_assembly import SynthesizedPipeline


@dataclass
class Result:
    code: int
    out: str
    err: str


def run_cli(*argv: str, backend: Backend | None = None, answer: str | None = None) -> Result:
    out, err = io.StringIO(), io.StringIO()
    ask = (lambda question: (out.write(question) and answer) or "") if answer is not None else None
    code = main(list(argv), out=out, err=err, ask=ask, backend=backend)
    return Result(code, out.getvalue(), err.getvalue())


@contextmanager
def session(synthesized: SynthesizedPipeline, prior_runs: int, *, same_data: bool = False) -> Iterator[Backend]:
    """One offline session (as --offline opens it) for several commands, or to steer the simulator."""
    with offline_backend(
        synthesized.directory, prior_runs=prior_runs, same_data=same_data, console=Console(file=io.StringIO())
    ) as backend:
        yield backend


def offline(synthesized: SynthesizedPipeline, *argv: str) -> list[str]:
    return ["--offline", "--cdk-out", str(synthesized.directory), *argv]


# --------------------------------------------------------------------------- run and watch


def test_run_wait_shows_each_step_and_the_outcome_of_a_first_run(synthesized: SynthesizedPipeline) -> None:
    result = run_cli(*offline(synthesized, "run", "--wait", "--name", "first"))

    assert result.code == ExitCode.OK, result.err
    assert "7,663 generated ratings uploaded" in result.out
    assert "Started run first (arn:aws:states:us-east-1:123456789012:execution:PersonalizePipeline:first)" in result.out
    assert "(times are simulated)" in result.out
    for row in (
        "│ ✓ │ Prepare data                            │ done   │ 0:00:00 │ 4,239 of 7,663 ratings, 400 movies; FULL training",
        "│ ✓ │ Ensure dataset group                    │ done   │ 0:00:00 │ created movielens ",
        "│ ✓ │ Wait until dataset group is ACTIVE      │ ACTIVE │ 0:01:00 │ 5 checks",
        "│ ✓ │ Wait until dataset import job is ACTIVE │ ACTIVE │ 0:15:00 │ 16 checks",
        "│ ✓ │ Wait until solution version is ACTIVE   │ ACTIVE │ 2:00:00 │ 25 checks",
        "│ ✓ │ Evaluate new version                    │ done   │ 0:00:00 │ passed: NDCG@10 0.1052 (nothing served yet)",
        "│ ✓ │ Wait until campaign is ACTIVE           │ ACTIVE │ 0:10:00 │ 11 checks",
        "│ ✓ │ Smoke test recommendations              │ done   │ 0:00:00 │ user 1 gets 10 items, 10 through a filter",
    ):
        assert row in result.out, row
    assert "Outcome: succeeded after 2:29:00" in result.out
    assert "campaign movielens-campaign (created) now serves solution version f1b96eaa" in result.out
    assert "recommendations for user 1: 1, 2, 5, 3, 7, 15, 9, 11, 13, 16" in result.out


def test_a_second_run_reuses_everything_and_updates_the_campaign(synthesized: SynthesizedPipeline) -> None:
    result = run_cli(*offline(synthesized, "--offline-runs", "1", "run", "--wait"))

    assert result.code == ExitCode.OK, result.err
    assert "earlier run offline-week-1: succeeded (2:29:00 simulated)" in result.out
    assert "reused movielens " in result.out
    assert "│ ✓ │ Wait until campaign update is ACTIVE    │ ACTIVE │" in result.out
    assert "Wait until campaign is ACTIVE " not in result.out
    assert "(updated) now serves solution version" in result.out


def test_run_on_unchanged_data_is_skipped(synthesized: SynthesizedPipeline) -> None:
    result = run_cli(*offline(synthesized, "--offline-runs", "1", "--same-data", "run", "--wait"))

    assert result.code == ExitCode.OK, result.err
    assert "Outcome: skipped after 0:00:00: no new data since the last training" in result.out
    assert "Ensure dataset group" not in result.out


def test_a_failed_run_names_the_failed_step_and_the_cause_and_exits_1(synthesized: SynthesizedPipeline) -> None:
    with session(synthesized, 0) as backend:
        backend.offline.account.personalize.fail_next("solution_version", "Insufficient data for training")

        result = run_cli("--offline", "run", "--wait", "--name", "broken", backend=backend)
        history = run_cli("--offline", "history", backend=backend)

    assert result.code == ExitCode.RUN_FAILED
    assert "│ ✗ │ Wait until solution version is ACTIVE   │ failed (CREATE FAILED) │" in result.out
    assert "Outcome: failed at step 'Wait until solution version is ACTIVE' after" in result.out
    assert "error: SolutionVersionFailed" in result.out
    assert "Insufficient data for training" in result.out
    assert "The campaign keeps serving the previous version." in result.out
    assert "│ broken " in history.out and " failed " in history.out and "SolutionVersionFailed" in history.out


def test_a_rejected_run_exits_3_and_history_shows_both_metrics(synthesized: SynthesizedPipeline) -> None:
    with session(synthesized, 1) as backend:
        backend.offline.account.personalize.set_metrics(None, {"normalized_discounted_cumulative_gain_at_10": 0.05})

        result = run_cli("--offline", "run", "--wait", "--name", "worse", backend=backend)
        history = run_cli("--offline", "history", "-n", "1", backend=backend)

    assert result.code == ExitCode.REJECTED
    assert (
        "Evaluate new version                    │ done   │ 0:00:00 │ REJECTED: NDCG@10 0.0500 vs served 0.1052"
        in result.out
    )
    assert "Outcome: rejected by the quality gate" in result.out
    assert "the campaign keeps serving its version" in result.out
    assert "Last 1 run of PersonalizePipeline" in history.out
    assert "│ worse " in history.out and " rejected " in history.out
    assert "NDCG@10 0.0500 / 0.1052" in history.out


def test_run_without_wait_starts_and_says_how_to_follow(synthesized: SynthesizedPipeline) -> None:
    with session(synthesized, 0) as backend:
        started = run_cli("--offline", "run", "--name", "nightly", backend=backend)
        backend.offline.wait_for_background_executions()
        watched = run_cli("--offline", "watch", "nightly", backend=backend)
        latest = run_cli("--offline", "watch", backend=backend)
        unknown = run_cli("--offline", "watch", "no-such-run", backend=backend)

    assert started.code == ExitCode.OK
    assert "Started run nightly" in started.out and "Follow it with: python -m pipelinectl watch nightly" in started.out
    assert watched.code == ExitCode.OK and "Watching run nightly" in watched.out
    assert "Outcome: succeeded after 2:29:00" in watched.out
    assert latest.out == watched.out
    assert unknown.code == ExitCode.ACTION_NEEDED
    assert unknown.err == "error: no run no-such-run of this pipeline: `python -m pipelinectl history` lists the runs\n"


# --------------------------------------------------------------------------- history and status


def test_history_status_and_recommend_after_two_weekly_runs(synthesized: SynthesizedPipeline) -> None:
    """The read-only views on one offline session (two weekly runs, then a week of new ratings)."""
    with session(synthesized, 2) as backend:
        history = run_cli("--offline", "history", "-n", "5", backend=backend)
        status = run_cli("--offline", "status", backend=backend)
        recommend = run_cli("--offline", "recommend", "--user", "7", "--n", "3", backend=backend)
        unknown = run_cli("--offline", "recommend", "--user", "9999", backend=backend)
        anyway = run_cli("--offline", "recommend", "--user", "9999", "--any-user", "--n", "2", backend=backend)

    assert history.code == ExitCode.OK, history.err
    lines = [line for line in history.out.splitlines() if line.startswith("│ offline-week")]
    assert lines[0].split("│")[1:8] == [
        " offline-week-2 ",
        " 2026-01-12 08:30 ",
        " 2:25:01  ",
        " succeeded ",
        " 0e7a67ac ",
        " NDCG@10 0.1060 / 0.1052 ",
        " campaign updated ",
    ]
    assert "│ offline-week-1 │ 2026-01-05 06:01 │ 2:29:00  │ succeeded │ f1b96eaa │ NDCG@10 0.1052 " in lines[1]
    assert "Last 2 runs of PersonalizePipeline (times are simulated)" in history.out

    assert status.code == ExitCode.OK, status.err
    assert "Campaign  movielens-campaign (ACTIVE)" in status.out
    assert "Serves    solution version 0e7a67ac, trained FULL, 2026-01-12 08:45 UTC" in status.out
    assert "Since     2026-01-12 10:55 UTC" in status.out
    assert "│ NDCG@10      │ 0.1060 │" in status.out
    assert "│ precision@25 │" in status.out
    assert "Schedule  rate(7 days) (UTC), ENABLED" in status.out
    assert "Next run  2026-01-26 06:00 UTC" in status.out

    assert recommend.code == ExitCode.OK, recommend.err
    assert "Recommendations for user 7 (campaign movielens-campaign, version 0e7a67ac)" in recommend.out
    rows = [line for line in recommend.out.splitlines() if line.startswith("│ ")]
    assert [row.split("│")[1:4] for row in rows] == [
        [" 1 ", " 4    ", " Generated film 4 (1985) "],
        [" 2 ", " 3    ", " Generated film 3 (1987) "],
        [" 3 ", " 5    ", " Generated film 5 (1951) "],
    ]

    assert unknown.code == ExitCode.ACTION_NEEDED
    assert unknown.err.startswith("error: user 9999 is not in the interactions version 0e7a67ac was trained on (s3://")
    assert unknown.err.endswith("pick a user id from the ratings, or pass --any-user\n")
    assert unknown.err.count("\n") == 1
    assert anyway.code == ExitCode.OK and "Generated film 1 " in anyway.out


# --------------------------------------------------------------------------- rollback


def test_rollback_asks_returns_to_the_previous_version_and_then_has_nothing_older(
    synthesized: SynthesizedPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with session(synthesized, 2) as backend:
        outside_a_terminal = run_cli("--offline", "rollback", backend=backend)
        declined = run_cli("--offline", "rollback", backend=backend, answer="n")
        rolled_back = run_cli("--offline", "rollback", backend=backend, answer="y")
        status = run_cli("--offline", "status", backend=backend)
        again = run_cli("--offline", "rollback", "--yes", backend=backend)

    assert outside_a_terminal.code == ExitCode.ACTION_NEEDED
    assert outside_a_terminal.err == "error: rollback needs a confirmation: run it in a terminal, or pass --yes\n"
    assert declined.code == ExitCode.ACTION_NEEDED
    assert (
        "Switch campaign movielens-campaign from version 0e7a67ac (NDCG@10 0.1060) back to version f1b96eaa "
        in declined.out
    )
    assert "(NDCG@10 0.1052, deployed by run offline-week-1 on 2026-01-05 06:01 UTC)? [y/N]" in declined.out
    assert declined.err == "error: rollback cancelled: the campaign is unchanged\n"
    assert rolled_back.code == ExitCode.OK, rolled_back.err
    assert "Campaign movielens-campaign serves version f1b96eaa again (update ACTIVE after 0:10:00)" in rolled_back.out
    assert "Serves    solution version f1b96eaa" in status.out
    assert again.code == ExitCode.ACTION_NEEDED
    assert again.err.startswith("error: no earlier deployed version than f1b96eaa")


# --------------------------------------------------------------------------- errors a user can act on


def test_before_any_run_the_views_say_what_to_do(synthesized: SynthesizedPipeline) -> None:
    with session(synthesized, 0) as backend:
        history = run_cli("--offline", "history", backend=backend)
        watch = run_cli("--offline", "watch", backend=backend)
        status = run_cli("--offline", "status", backend=backend)
        recommend = run_cli("--offline", "recommend", "--user", "1", backend=backend)

    no_runs = "error: no runs yet: start one with `python -m pipelinectl run --wait`, or wait for the schedule (see `status`)\n"
    assert (history.code, history.err) == (ExitCode.ACTION_NEEDED, no_runs)
    assert (watch.code, watch.err) == (ExitCode.ACTION_NEEDED, no_runs)
    no_campaign = (
        "error: campaign movielens-campaign does not exist yet: the first successful run creates it "
        "(`python -m pipelinectl run --wait`)\n"
    )
    assert (status.code, status.err) == (ExitCode.ACTION_NEEDED, no_campaign)
    assert (recommend.code, recommend.err) == (ExitCode.ACTION_NEEDED, no_campaign)


def test_a_wrong_stack_name_names_the_pipeline_stack_that_is_there(synthesized: SynthesizedPipeline) -> None:
    result = run_cli(*offline(synthesized, "--offline-runs", "0", "--stack-name", "Personalize", "history"))

    assert result.code == ExitCode.ACTION_NEEDED
    assert result.err == (
        "error: no stack Personalize in us-east-1; the pipeline stack here is PersonalizePipeline: "
        "pass --stack-name with that name\n"
    )


def test_without_credentials_the_error_says_how_to_get_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    result = run_cli("--region", "eu-west-1", "status")

    assert result.code == ExitCode.ACTION_NEEDED
    assert result.err.startswith("error: no valid AWS credentials: run `aws configure` or `aws sso login`")
    assert result.err.count("\n") == 1


def test_a_missing_cloud_assembly_says_to_synthesize(tmp_path: Path) -> None:
    result = run_cli("--offline", "--cdk-out", str(tmp_path / "nothing"), "run")

    assert result.code == ExitCode.ACTION_NEEDED
    assert result.err.startswith("error: --offline needs the synthesized stack: ")
    assert "make synth" in result.err


def test_help_documents_every_command_and_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    text = capsys.readouterr().out
    assert exited.value.code == 0
    for command in ("run", "watch", "history", "status", "recommend", "rollback"):
        assert f"    {command}" in text
    assert "exit codes:" in text and "3    the run was rejected by the quality gate" in text
    with pytest.raises(SystemExit) as bad:
        main(["recommend"])
    assert bad.value.code == ExitCode.USAGE
