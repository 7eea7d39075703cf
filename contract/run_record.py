"""The run record: what the pipeline trained, deployed and learned in earlier runs.

One small JSON object in the data bucket (``contract.layout.STATE_KEY``), kept beside the data
it describes. The data preparation reads it to plan a run (skip unchanged data, choose the
training mode, size the waits); the workflow's last step (lambdas/run_record) writes it; the
hourly heartbeat and the operator CLI read it. Everything here is pure except read/write, which
take the caller's S3 client.

The record (``version`` 2; a version-1 record, which had only ``lastSuccessfulRun``, is read
as if it were the same record without the newer parts):

- ``lastSuccessfulRun``: the run whose model the campaign serves (data fingerprint, ARNs,
  training mode).
- ``previousSuccessfulRun``: the one before it, whose solution version a rollback restores
  (docs/runbook.md).
- ``lastTraining``: the last run that trained a version, deployed or rejected by the quality
  gate; its fingerprint is what change detection compares with.
- ``lastFullTraining``: when the deployed model was last trained with FULL (the UPDATE floor).
- ``stageSeconds``: how long each stage took from creation to ACTIVE, as Personalize reports
  it; the next run waits that long before checking again.

With several solutions (config ``solutions``), each solution has a record of the parts above under
``solutions.<name>`` (its own runs, training, floor and stage durations), and the top-level
``stageSeconds`` keeps the durations of the run's shared stages (dataset group, datasets, imports).
The single solution of a config without ``solutions`` keeps the whole record, as before.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from contract.readiness import CAMPAIGN_CREATED, CAMPAIGN_UPDATED, TRAINING_READY
from contract.s3_json import read_json, write_json
from contract.timestamps import parse_time

STATE_VERSION = 2
# The readiness check whose duration depends on the training mode; its durations are kept per mode.
TRAINING_STAGE = TRAINING_READY.key
# A learned wait never polls more often than this, whatever the stage.
MIN_INTERVAL_SECONDS = 15
# The first wait is this share of the learned duration, later checks come at INTERVAL_SHARE of
# it: a stage that takes as long as last time is seen within 2.5% of its duration, one that
# runs up to 5% faster within 5%, one that runs longer within 2.5% (the target is 10%).
FIRST_WAIT_SHARE = 0.95
INTERVAL_SHARE = 0.025
# A stage never measured yet borrows a sibling's duration: an update deploys the new version
# on the same provisioned capacity that creating the campaign did (Personalize does not
# document different times), so the second run's update is sized from the first's creation.
BORROWED_DURATIONS = {CAMPAIGN_UPDATED.key: CAMPAIGN_CREATED.key}


def data_fingerprint(
    raw_etag: str, fmt: str, min_rating: float, items_etag: str | None = None, deleted_users: str | None = None
) -> str:
    """Content fingerprint of the training data a run would produce, known before converting it.

    S3's ETag (register s3.etag.same-bytes) is derived from the object's bytes (MD5, or MD5 of part MD5s for multipart
    uploads), so re-uploading the same file gives the same ETag while any changed byte gives
    another; format and threshold are part of it because they change what is imported.
    """
    text = f"{raw_etag.strip(chr(34))}|{fmt}|{min_rating:g}"
    # The movie file, when one is imported: a changed movie file alone is new data. Without one the
    # fingerprint is what it always was, so adding this did not make deployed pipelines retrain.
    if items_etag is not None:
        text += f"|items:{items_etag.strip(chr(34))}"
    # Users' deletion requests (a digest of the users left out): a new request is new data, so the
    # model that still knows them is replaced by one trained without them.
    if deleted_users is not None:
        text += f"|deleted:{deleted_users}"
    return hashlib.sha256(text.encode()).hexdigest()


def read_state(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    """The record, or {} before the first successful run."""
    return read_json(s3, bucket, key) or {}


def write_state(s3: Any, bucket: str, key: str, state: Mapping[str, Any]) -> None:
    write_json(s3, bucket, key, state)


def last_fingerprint(state: Mapping[str, Any]) -> str | None:
    """The data the last training used, deployed or rejected: the same data would train the same model."""
    for part in ("lastTraining", "lastSuccessfulRun"):
        fingerprint = state.get(part, {}).get("dataFingerprint")
        if isinstance(fingerprint, str) and fingerprint:
            return fingerprint
    return None


def solution_record(state: Mapping[str, Any], name: str | None) -> Mapping[str, Any]:
    """The record of one solution: the whole record for the single solution (None), else its part."""
    if name is None:
        return state
    part = state.get("solutions", {}).get(name) if isinstance(state.get("solutions"), Mapping) else None
    return part if isinstance(part, Mapping) else {}


def anything_trained(state: Mapping[str, Any]) -> bool:
    """Whether any solution of the pipeline was ever trained (missing data is then a failure, not a skip)."""
    solutions = state.get("solutions")
    others = solutions.values() if isinstance(solutions, Mapping) else ()
    return any(last_fingerprint(record) is not None for record in (state, *others) if isinstance(record, Mapping))


# --- planning a run ------------------------------------------------------------------------


def plan_training_mode(
    state: Mapping[str, Any], configured: str, full_every_days: int, now: datetime
) -> tuple[str, str]:
    """(mode, reason). UPDATE only builds on a FULL-trained model, and never past the floor."""
    if configured == "FULL":
        return "FULL", "trainingMode is FULL"
    last_full = state.get("lastFullTraining", {}).get("at")
    if not last_full:
        return "FULL", "no FULL-trained model is deployed yet; UPDATE needs one to build on"
    age_days = (now - parse_time(last_full)).total_seconds() / 86400
    if age_days >= full_every_days:
        return "FULL", (
            f"the last FULL training was {age_days:.1f} days ago; a FULL retrain is due every "
            f"{full_every_days} days (fullRetrainEveryDays)"
        )
    return "UPDATE", f"the last FULL training was {age_days:.1f} days ago (floor: {full_every_days} days)"


def learned_key(stage: str, training_mode: str) -> str:
    """Training durations differ by mode by an order of magnitude: keep one per mode."""
    return f"{stage}.{training_mode}" if stage == TRAINING_STAGE else stage


def plan_waits(
    state: Mapping[str, Any], polling: Mapping[str, Mapping[str, int]], training_mode: str
) -> dict[str, dict[str, int]]:
    """Per readiness check: seconds to wait after the first check, and between later checks.

    ``polling`` holds each check's configured ``intervalSeconds`` and ``maxChecks``. Without a
    learned duration both waits are the configured interval. With one (D seconds), the first
    wait is 0.95 D and later checks come every D/40 (at least 15 s, at most the configured
    interval), so the stage is seen within a few percent of its duration for a handful of
    transitions. The first wait never exceeds the configured total (interval x max checks):
    every wait stays bounded in attempts and time even with a corrupt record.
    """
    learned = state.get("stageSeconds", {})
    plan: dict[str, dict[str, int]] = {}
    for stage, settings in polling.items():
        interval = int(settings["intervalSeconds"])
        seconds = learned.get(learned_key(stage, training_mode), learned.get(BORROWED_DURATIONS.get(stage, "")))
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds <= 0:
            plan[stage] = {"firstSeconds": interval, "intervalSeconds": interval}
            continue
        cap = interval * int(settings["maxChecks"])
        plan[stage] = {
            "firstSeconds": max(MIN_INTERVAL_SECONDS, min(cap, int(seconds * FIRST_WAIT_SHARE))),
            "intervalSeconds": max(MIN_INTERVAL_SECONDS, min(interval, math.ceil(seconds * INTERVAL_SHARE))),
        }
    return plan


# --- recording a run -----------------------------------------------------------------------


def measured_stage_seconds(
    polls: Mapping[str, Any], resource_paths: Mapping[str, str], training_mode: str, *, created_since: datetime
) -> dict[str, int]:
    """Creation-to-ACTIVE seconds of every stage whose resource this run created, from the last Describe* answer.

    ``polls`` maps a check to its DescribeX response as Step Functions returns it;
    ``resource_paths`` maps it to the object that carries Status, CreationDateTime and
    LastUpdatedDateTime (``Campaign.LatestCampaignUpdate`` for an update). Personalize sets
    LastUpdatedDateTime when the status changes, so on an ACTIVE resource this run created it
    is the moment it became ACTIVE, measured by the service rather than by our polling.

    A resource created before ``created_since`` (the run's start) was reused: its times say
    nothing about how long creating one takes, and its LastUpdatedDateTime also moves for
    other reasons (a dataset's, after each import: register ``personalize.last-updated-moves``).
    """
    measured: dict[str, int] = {}
    for stage, path in resource_paths.items():
        resource: Any = polls.get(stage)
        for part in path.split("."):
            resource = resource.get(part) if isinstance(resource, Mapping) else None
        if not isinstance(resource, Mapping) or resource.get("Status") != "ACTIVE":
            continue
        try:
            created = parse_time(resource["CreationDateTime"])
            seconds = (parse_time(resource["LastUpdatedDateTime"]) - created).total_seconds()
        except (KeyError, ValueError):
            continue
        if created < created_since:
            continue
        if seconds > 0:
            measured[learned_key(stage, training_mode)] = round(seconds)
    return measured


def record_training(
    state: Mapping[str, Any],
    *,
    outcome: str,
    run: Mapping[str, Any],
    training_mode: str,
    run_started_at: str,
    stage_seconds: Mapping[str, int],
    recorded_at: datetime,
) -> dict[str, Any]:
    """The new record after a run that trained a version (``outcome`` succeeded or rejected).

    A rejected version changes what was last trained (the same data is not trained again) and
    what was learned about durations, but not what is deployed nor the FULL-training floor.
    """
    training = {**run, "outcome": outcome, "trainingMode": training_mode, "recordedAt": recorded_at.isoformat()}
    new_state: dict[str, Any] = {
        "version": STATE_VERSION,
        "lastSuccessfulRun": state.get("lastSuccessfulRun"),
        "previousSuccessfulRun": state.get("previousSuccessfulRun"),
        "lastTraining": training,
        "lastFullTraining": state.get("lastFullTraining"),
        "stageSeconds": {**state.get("stageSeconds", {}), **stage_seconds},
    }
    if outcome == "succeeded":
        new_state["previousSuccessfulRun"] = state.get("lastSuccessfulRun")
        new_state["lastSuccessfulRun"] = training
        if training_mode == "FULL":
            new_state["lastFullTraining"] = {"at": run_started_at, "solutionVersionArn": run.get("solutionVersionArn")}
    return {key: value for key, value in new_state.items() if value is not None}


# --- several solutions -----------------------------------------------------------------------

# What a solution's branch can end with (stacks/workflow/solutions.py); the run's outcome follows.
SOLUTION_OUTCOMES = ("succeeded", "rejected", "failed", "skipped")


def run_outcome(outcomes: list[str]) -> str:
    """The run's outcome from its solutions': failed when any failed, else succeeded when any was
    deployed, else rejected when any was rejected, else skipped (every one already trained)."""
    for outcome in ("failed", "succeeded", "rejected"):
        if outcome in outcomes:
            return outcome
    return "skipped"


def record_solution_training(state: Mapping[str, Any], name: str, new_record: Mapping[str, Any]) -> dict[str, Any]:
    """The whole record with one solution's part replaced."""
    solutions = dict(state.get("solutions", {})) if isinstance(state.get("solutions"), Mapping) else {}
    solutions[name] = dict(new_record)
    return {**state, "version": STATE_VERSION, "solutions": solutions}
