"""Shared fixtures. Test levels: unit (handlers, config, simulator, interpreter), infra (the
synthesized template), e2e (the emitted definition run offline against the simulator)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

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


def run_app(outdir: Path, personalize: object = None) -> subprocess.CompletedProcess[str]:
    """Run the real entry point (python app.py) into ``outdir``, with a ``personalize`` block
    passed as the CDK CLI passes context (CDK_CONTEXT_JSON); None means the defaults."""
    env = {**os.environ, "CDK_OUTDIR": str(outdir)}
    if personalize is not None:
        env["CDK_CONTEXT_JSON"] = json.dumps({"personalize": personalize})
    return subprocess.run([sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def synthesize(outdir: Path, personalize: dict | None = None) -> Path:
    """cdk.out of ``personalize`` (None: the defaults); synth must succeed, cdk-nag included."""
    completed = run_app(outdir, personalize)
    assert completed.returncode == 0, completed.stderr
    return outdir


@dataclass(frozen=True)
class AppSynth:
    """One run of the real entry point (python app.py): its result and the cdk.out it wrote."""

    completed: subprocess.CompletedProcess[str]
    outdir: Path


@pytest.fixture(scope="session")
def app_synth(tmp_path_factory: pytest.TempPathFactory) -> AppSynth:
    """The default config synthesized once by ``python app.py``, cdk-nag included, pass or fail.

    The security gates read the validation report even when synth failed; every other test
    takes :func:`cloud_assembly`.
    """
    outdir = tmp_path_factory.mktemp("cdk.out")
    return AppSynth(run_app(outdir), outdir)


@pytest.fixture(scope="session")
def cloud_assembly(app_synth: AppSynth) -> Path:
    """cdk.out of the default config, synthesized once by the real entry point (python app.py)."""
    assert app_synth.completed.returncode == 0, app_synth.completed.stderr
    return app_synth.outdir
