"""Where things are in the data bucket."""

from __future__ import annotations

# Each run writes its training file under training/<execution name>/ (expired after 90 days).
TRAINING_PREFIX = "training/"
# The pipeline-state record: what was trained and deployed, and how long each stage took.
STATE_KEY = "state/pipeline-state.json"
# data.importMode INCREMENTAL: the raw objects the interactions dataset holds (key -> ETag), and when
# the last FULL import was; replaced once a run's import is ACTIVE.
IMPORTED_OBJECTS_KEY = "state/imported-objects.json"
# A deployment to batch: the users each run recommends for (written by the data preparation) ...
BATCH_INPUT_PREFIX = "batch-input/"
# ... and what its batch inference job writes, one folder per run (recommendations/<run>/).
RECOMMENDATIONS_PREFIX = "recommendations/"
# The one object consumers read: which run's output is current (replaced only after validation).
MANIFEST_KEY = f"{RECOMMENDATIONS_PREFIX}latest.json"


def recommendations_prefix(solution: str | None = None) -> str:
    """Where a solution's batch output goes: recommendations/ for the single solution, and with
    several solutions recommendations/<solution>/ (each run in its own folder under it)."""
    return RECOMMENDATIONS_PREFIX if solution is None else f"{RECOMMENDATIONS_PREFIX}{solution}/"


def manifest_key(solution: str | None = None) -> str:
    """The manifest of a solution's published batch output (MANIFEST_KEY for the single solution)."""
    return f"{recommendations_prefix(solution)}latest.json"


# Users' deletion requests: CSV files with a USER_ID column dropped here are honoured by the next
# run, then moved under completed/<run>/ and still read, so the users stay out of every later
# training file.
DELETION_REQUESTS_PREFIX = "deletion-requests/"
DELETION_COMPLETED_PREFIX = f"{DELETION_REQUESTS_PREFIX}completed/"
