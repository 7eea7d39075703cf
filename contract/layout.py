"""Where things are in the data bucket."""

from __future__ import annotations

# Each run writes its training file under training/<execution name>/ (expired after 90 days).
TRAINING_PREFIX = "training/"
# The pipeline-state record: what was trained and deployed, and how long each stage took.
STATE_KEY = "state/pipeline-state.json"
