"""The run record (contract/run_record.py): planning a run from it and recording a run into it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from contract import run_record as ps
from contract.readiness import READINESS_CHECKS, TRAINING_READY

NOW = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
POLLING = {
    "DatasetImportJob": {"intervalSeconds": 60, "maxChecks": 360},
    "SolutionVersion": {"intervalSeconds": 300, "maxChecks": 288},
    "DatasetGroup": {"intervalSeconds": 15, "maxChecks": 80},
}


def test_the_training_stage_is_the_workflows_training_check() -> None:
    assert ps.TRAINING_STAGE == TRAINING_READY.key


# --- training mode ---------------------------------------------------------------------------


def test_full_mode_always_trains_full() -> None:
    state = {"lastFullTraining": {"at": (NOW - timedelta(days=1)).isoformat()}}

    assert ps.plan_training_mode(state, "FULL", 7, NOW) == ("FULL", "trainingMode is FULL")


def test_update_mode_needs_a_full_trained_model_first() -> None:
    mode, reason = ps.plan_training_mode({}, "UPDATE", 7, NOW)

    assert (mode, reason) == ("FULL", "no FULL-trained model is deployed yet; UPDATE needs one to build on")


@pytest.mark.parametrize(
    ("age", "expected"),
    [(timedelta(days=6, hours=23), "UPDATE"), (timedelta(days=7), "FULL"), (timedelta(days=30), "FULL")],
)
def test_update_mode_falls_back_to_full_at_the_floor(age: timedelta, expected: str) -> None:
    state = {"lastFullTraining": {"at": (NOW - age).isoformat().replace("+00:00", "Z")}}

    assert ps.plan_training_mode(state, "UPDATE", 7, NOW)[0] == expected


# --- waits ------------------------------------------------------------------------------------


def test_without_a_learned_duration_both_waits_are_the_configured_interval() -> None:
    assert ps.plan_waits({}, POLLING, "FULL") == {
        "DatasetImportJob": {"firstSeconds": 60, "intervalSeconds": 60},
        "SolutionVersion": {"firstSeconds": 300, "intervalSeconds": 300},
        "DatasetGroup": {"firstSeconds": 15, "intervalSeconds": 15},
    }


def test_learned_durations_size_the_first_wait_and_shorten_the_interval() -> None:
    state = {"stageSeconds": {"DatasetImportJob": 900, "SolutionVersion.FULL": 7200, "DatasetGroup": 60}}

    assert ps.plan_waits(state, POLLING, "FULL") == {
        "DatasetImportJob": {"firstSeconds": 855, "intervalSeconds": 23},
        "SolutionVersion": {"firstSeconds": 6840, "intervalSeconds": 180},
        "DatasetGroup": {"firstSeconds": 57, "intervalSeconds": 15},
    }


def test_training_waits_follow_the_mode_of_this_run() -> None:
    state = {"stageSeconds": {"SolutionVersion.FULL": 7200, "SolutionVersion.UPDATE": 1200}}

    assert ps.plan_waits(state, POLLING, "UPDATE")["SolutionVersion"] == {"firstSeconds": 1140, "intervalSeconds": 30}
    assert ps.plan_waits(state, POLLING, "FULL")["SolutionVersion"]["firstSeconds"] == 6840


def test_a_campaign_update_never_measured_borrows_the_creation_time() -> None:
    polling = {"CampaignUpdate": {"intervalSeconds": 60, "maxChecks": 180}}

    assert ps.plan_waits({"stageSeconds": {"Campaign": 600}}, polling, "FULL") == {
        "CampaignUpdate": {"firstSeconds": 570, "intervalSeconds": 15}
    }
    learned = {"stageSeconds": {"Campaign": 600, "CampaignUpdate": 1200}}
    assert ps.plan_waits(learned, polling, "FULL")["CampaignUpdate"]["firstSeconds"] == 1140


@pytest.mark.parametrize("learned", [10**9, -5, 0, "7200", True, None])
def test_a_corrupt_or_huge_duration_keeps_every_wait_bounded(learned: Any) -> None:
    plan = ps.plan_waits({"stageSeconds": {"DatasetImportJob": learned}}, POLLING, "FULL")["DatasetImportJob"]

    assert 15 <= plan["firstSeconds"] <= 60 * 360
    assert 15 <= plan["intervalSeconds"] <= 60


def test_every_configured_check_gets_a_plan() -> None:
    polling = {c.key: {"intervalSeconds": c.interval_seconds, "maxChecks": c.max_checks} for c in READINESS_CHECKS}

    assert set(ps.plan_waits({}, polling, "FULL")) == {c.key for c in READINESS_CHECKS}


# --- measuring and recording ------------------------------------------------------------------


RUN_START = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
PATHS = {check.key: check.resource_path for check in READINESS_CHECKS}


def test_durations_are_measured_from_personalizes_own_timestamps() -> None:
    polls = {
        "DatasetImportJob": {
            "DatasetImportJob": {
                "Status": "ACTIVE",
                "CreationDateTime": "2026-03-10T06:02:00Z",
                "LastUpdatedDateTime": "2026-03-10T06:17:30.500Z",
            }
        },
        "SolutionVersion": {
            "SolutionVersion": {"Status": "ACTIVE", "CreationDateTime": 1773122400, "LastUpdatedDateTime": 1773129600}
        },
        "CampaignUpdate": {
            "Campaign": {
                "Status": "ACTIVE",
                "CreationDateTime": "2025-01-01T00:00:00Z",
                "LastUpdatedDateTime": "2026-03-10T09:00:00Z",
                "LatestCampaignUpdate": {
                    "Status": "ACTIVE",
                    "CreationDateTime": "2026-03-10T08:50:00Z",
                    "LastUpdatedDateTime": "2026-03-10T09:00:00Z",
                },
            }
        },
        # Not ACTIVE (a failed or pending answer) and unparseable answers teach nothing.
        "Solution": {
            "Solution": {
                "Status": "CREATE IN_PROGRESS",
                "CreationDateTime": "2026-03-10T06:00:00Z",
                "LastUpdatedDateTime": "2026-03-10T06:00:01Z",
            }
        },
        "Dataset": {"Dataset": {"Status": "ACTIVE", "CreationDateTime": "yesterday", "LastUpdatedDateTime": "now"}},
    }

    assert ps.measured_stage_seconds(polls, PATHS, "UPDATE", created_since=RUN_START) == {
        "DatasetImportJob": 930,
        "SolutionVersion.UPDATE": 7200,
        "CampaignUpdate": 600,
    }


def test_a_resource_created_before_the_run_teaches_no_duration() -> None:
    """Reused: its creation says nothing about this run, and its LastUpdatedDateTime moves for other reasons."""
    polls = {
        "Dataset": {
            "Dataset": {
                "Status": "ACTIVE",
                "CreationDateTime": "2026-03-03T06:01:00Z",
                # moved by last week's import, not by the dataset's creation
                "LastUpdatedDateTime": "2026-03-03T06:18:00Z",
            }
        },
        "DatasetImportJob": {
            "DatasetImportJob": {
                "Status": "ACTIVE",
                "CreationDateTime": "2026-03-10T06:02:00Z",
                "LastUpdatedDateTime": "2026-03-10T06:17:00Z",
            }
        },
    }

    assert ps.measured_stage_seconds(polls, PATHS, "FULL", created_since=RUN_START) == {"DatasetImportJob": 900}


RUN = {"dataFingerprint": "f2", "executionName": "week-2", "datasetImportJobArn": "i2", "solutionVersionArn": "v2"}
EARLIER = {
    "version": 2,
    "lastSuccessfulRun": {"dataFingerprint": "f1", "solutionVersionArn": "v1"},
    "lastTraining": {"dataFingerprint": "f1", "outcome": "succeeded"},
    "lastFullTraining": {"at": "2026-03-01T06:00:00Z", "solutionVersionArn": "v1"},
    "stageSeconds": {"DatasetImportJob": 800, "Campaign": 600},
}


def record(outcome: str, mode: str = "FULL", state: dict[str, Any] | None = None) -> dict[str, Any]:
    return ps.record_training(
        EARLIER if state is None else state,
        outcome=outcome,
        run=RUN,
        training_mode=mode,
        run_started_at="2026-03-10T06:00:00Z",
        stage_seconds={"DatasetImportJob": 900},
        recorded_at=NOW,
    )


def test_a_successful_full_run_is_deployed_trained_and_resets_the_floor() -> None:
    state = record("succeeded")

    assert state["lastSuccessfulRun"] == {
        **RUN,
        "outcome": "succeeded",
        "trainingMode": "FULL",
        "recordedAt": NOW.isoformat(),
    }
    assert state["lastTraining"] == state["lastSuccessfulRun"]
    assert state["lastFullTraining"] == {"at": "2026-03-10T06:00:00Z", "solutionVersionArn": "v2"}
    assert state["stageSeconds"] == {"DatasetImportJob": 900, "Campaign": 600}
    assert ps.last_fingerprint(state) == "f2"


def test_a_successful_update_run_keeps_the_floor() -> None:
    assert record("succeeded", mode="UPDATE")["lastFullTraining"] == EARLIER["lastFullTraining"]


def test_a_rejected_version_changes_what_was_trained_but_not_what_is_deployed() -> None:
    state = record("rejected")

    assert state["lastSuccessfulRun"] == EARLIER["lastSuccessfulRun"]
    assert state["lastFullTraining"] == EARLIER["lastFullTraining"]
    assert state["lastTraining"]["outcome"] == "rejected"
    assert ps.last_fingerprint(state) == "f2"


def test_a_version_1_record_still_answers_change_detection() -> None:
    v1 = {"version": 1, "lastSuccessfulRun": {"dataFingerprint": "f0"}}

    assert ps.last_fingerprint(v1) == "f0"
    assert ps.plan_training_mode(v1, "UPDATE", 7, NOW)[0] == "FULL"
    assert record("succeeded", state=v1)["version"] == 2


def test_the_first_rejection_leaves_nothing_deployed() -> None:
    state = record("rejected", state={})

    assert "lastSuccessfulRun" not in state and "lastFullTraining" not in state
    assert state["lastTraining"]["dataFingerprint"] == "f2"
