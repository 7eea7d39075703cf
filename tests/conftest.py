"""Shared fixtures. Test levels: unit (handlers, config, simulator, interpreter), infra (the
synthesized template), e2e (the emitted definition run offline against the simulator)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
LAMBDAS = REPO / "lambdas"

# Handler modules are importable by their own names, as in the Lambda runtime.
for folder in sorted(LAMBDAS.iterdir()):
    if folder.is_dir() and str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

# jsii (every synth, in-process or by python app.py) runs on the project's Node 22, as `make` has it.
NODE_BIN = REPO / "node_modules" / ".bin"
if NODE_BIN.is_dir() and not os.environ.get("PATH", "").startswith(str(NODE_BIN)):
    os.environ["PATH"] = os.pathsep.join([str(NODE_BIN), os.environ.get("PATH", "")])


# The one non-default config besides the infrastructure tests' custom one, so that every
# single-value variation a test checks costs one synth in all: a daily schedule, ERROR-level
# state machine logs, an e-mail subscription, the data deleted with the stack, a customer-managed
# key the stack creates, a campaign of 3 TPS with batch output beside it, and (for the end-to-end
# training-policy tests) a recipe that supports UPDATE training with a metric floor.
VARIATIONS_BLOCK: dict[str, Any] = {
    "schedule": {"expression": "rate(1 day)"},
    "logging": {"stateMachineLevel": "ERROR"},
    "notifications": {"email": "ml-ops@example.com"},
    # The data deleted with the stack, and the data preparation given two full vCPUs.
    "data": {"onDestroy": "destroy", "lambdaMemoryMb": 3538},
    "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization",
    "training": {"mode": "UPDATE", "fullRetrainEveryDays": 7},
    "qualityGate": {
        "metric": "normalized_discounted_cumulative_gain_at_10",
        "maxRelativeRegression": 0.05,
        "minimum": 0.1,
    },
    # Everything encrypted with a key the stack creates (and deletes with the data).
    "encryption": {"kmsKey": "create"},
    # Another campaign capacity, and batch output beside the campaign, through the exclusion filter.
    "campaignMinProvisionedTps": 3,
    "deployment": {"targets": ["campaign", "batch"], "batch": {"numResults": 10, "filter": "unseen"}},
}

# Several solutions: README's two (top picks and similar items, each with a campaign) and a third with
# batch output only (a weekly list per user, through the exclusion filter), with a key the stack
# creates and keeps with the data (data.onDestroy retain): the end-to-end tests of several solutions
# and the infrastructure test of a kept key share its one synth.
SOLUTIONS_BLOCK: dict[str, Any] = {
    "solutions": [
        {"name": "picks", "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization-v2"},
        {"name": "similar", "recipeArn": "arn:aws:personalize:::recipe/aws-similar-items"},
        {
            "name": "mail",
            "recipeArn": "arn:aws:personalize:::recipe/aws-user-personalization-v2",
            "deployment": {"targets": ["batch"], "batch": {"numResults": 10, "filter": "unseen"}},
        },
    ],
    "encryption": {"kmsKey": "create"},
}

# Two pipelines from one app, one stack each: movielens (ml-100k files in a folder, imported incrementally,
# a daily schedule) and
# films, which is BATCH_ONLY_BLOCK exactly (its data from the shared defaults), so the batch tests and the
# tests of several pipelines and of many raw files share one synth. BATCH_ONLY_STACK is films' stack in it.
TWO_PIPELINES_BLOCK: dict[str, Any] = {
    "defaults": {"data": {"rawKey": "raw/ml-latest-small/ratings.csv", "format": "ratings-csv", "minRating": 3.5}},
    "pipelines": [
        {
            "pipelineName": "movielens",
            "data": {"rawKey": "raw/ml-100k/", "format": "ml-100k", "minRating": 4.0, "importMode": "INCREMENTAL"},
            "schedule": {"expression": "rate(1 day)"},
        },
        {"pipelineName": "films", "deployment": {"targets": ["batch"]}},
    ],
}
BATCH_ONLY_STACK = "PersonalizePipeline-films"
MANY_FILES_STACK = "PersonalizePipeline-movielens"

# An existing customer-managed key (encryption.kmsKey as an ARN).
IMPORTED_KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# The infrastructure tests' config, which differs from the defaults in every other value a template
# depends on.
CUSTOM_BLOCK: dict[str, Any] = {
    "pipelineName": "films",
    "schedule": {"expression": "cron(0 3 ? * MON *)", "timeZone": "Europe/Berlin", "enabled": False},
    "data": {"rawKey": "raw/ml-latest-small/ratings.csv", "format": "ratings-csv", "minRating": 3.5},
    "encryption": {"kmsKey": IMPORTED_KEY_ARN},
}
# A deployment to batch only (no campaign), with the custom data: the batch tests' own config.
BATCH_ONLY_BLOCK: dict[str, Any] = {
    "pipelineName": "films",
    "data": {"rawKey": "raw/ml-latest-small/ratings.csv", "format": "ratings-csv", "minRating": 3.5},
    "deployment": {"targets": ["batch"]},
}


def run_app(outdir: Path, personalize: object = None) -> subprocess.CompletedProcess[str]:
    """Run the real entry point (python app.py) into ``outdir``, with a ``personalize`` block
    passed as the CDK CLI passes context (CDK_CONTEXT_JSON); None means the defaults."""
    env = {**os.environ, "CDK_OUTDIR": str(outdir)}
    if personalize is not None:
        env["CDK_CONTEXT_JSON"] = json.dumps({"personalize": personalize})
    return subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@dataclass(frozen=True)
class AppSynth:
    """One run of the real entry point (python app.py): its result and the cdk.out it wrote."""

    completed: subprocess.CompletedProcess[str]
    outdir: Path


def _session_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder this test session's workers share (pytest-xdist gives each worker its own basetemp
    under one session folder); without xdist, the session's own basetemp."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def app_synth_once(tmp_path_factory: pytest.TempPathFactory, personalize: object = None) -> AppSynth:
    """``python app.py`` for one ``personalize`` block, run once per test session however many
    workers and modules ask for it: the first asks, the others wait for it and read the result.

    Synth costs seconds of CPU, so the suite synthesizes each config it tests exactly once.
    """
    key = hashlib.sha256(json.dumps(personalize, sort_keys=True).encode()).hexdigest()[:16]
    cache = _session_root(tmp_path_factory) / "app-synth"
    cache.mkdir(exist_ok=True)
    outdir, result_file = cache / key, cache / f"{key}.json"
    with open(cache / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not result_file.exists():
            completed = run_app(outdir, personalize)
            result = {"args": completed.args, "returncode": completed.returncode}
            result_file.write_text(json.dumps({**result, "stdout": completed.stdout, "stderr": completed.stderr}))
    result = json.loads(result_file.read_text())
    completed = subprocess.CompletedProcess(result["args"], result["returncode"], result["stdout"], result["stderr"])
    return AppSynth(completed, outdir)


def synthesize(tmp_path_factory: pytest.TempPathFactory, personalize: object = None) -> Path:
    """cdk.out of ``personalize`` (None: the defaults); synth must succeed, cdk-nag included."""
    synth = app_synth_once(tmp_path_factory, personalize)
    assert synth.completed.returncode == 0, synth.completed.stderr
    return synth.outdir


@pytest.fixture(scope="session")
def app_synth(tmp_path_factory: pytest.TempPathFactory) -> AppSynth:
    """The default config synthesized once by ``python app.py``, cdk-nag included, pass or fail.

    The security gates read the validation report even when synth failed; every other test
    takes :func:`cloud_assembly`.
    """
    return app_synth_once(tmp_path_factory)


@pytest.fixture(scope="session")
def cloud_assembly(app_synth: AppSynth) -> Path:
    """cdk.out of the default config, synthesized once by the real entry point (python app.py)."""
    assert app_synth.completed.returncode == 0, app_synth.completed.stderr
    return app_synth.outdir
