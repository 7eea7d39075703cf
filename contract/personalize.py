"""Personalize's statuses and training modes, as the pipeline reads them (register personalize.status-sequences)."""

from __future__ import annotations

ACTIVE = "ACTIVE"
# On its way to ACTIVE (or to CREATE FAILED).
PENDING_STATUSES = ("CREATE PENDING", "CREATE IN_PROGRESS")
# A batch inference job's own words for the same (register personalize.batch.request: the model's
# BatchInferenceJob.status lists PENDING, IN PROGRESS, ACTIVE and CREATE FAILED).
BATCH_JOB_PENDING_STATUSES = ("PENDING", "IN PROGRESS")
STOPPING = "CREATE STOPPING"
DELETING_STATUSES = ("DELETE PENDING", "DELETE IN_PROGRESS")
# A wait that reads one of these gives up: the resource will not become ACTIVE.
FAILED_STATUSES = ("CREATE FAILED", "CREATE STOPPED", *DELETING_STATUSES)

# CreateSolutionVersion trainingMode. UPDATE trains only on what changed and exists for two
# recipes only (register personalize.update-training.recipes).
TRAINING_MODES = ("FULL", "UPDATE")
UPDATE_CAPABLE_RECIPES = ("aws-user-personalization", "aws-hrnn-coldstart")
