"""stacks/workflow/sdk.py loads the Data Science SDK's state-machine core without its package
initialisers (which import sagemaker). The definition must be the one the whole SDK builds."""

from __future__ import annotations

import subprocess
import sys

from stacks.config import load_config
from stacks.workflow import build_workflow_definition, render_definition
from tests.conftest import REPO

WITH_THE_WHOLE_SDK = """
import logging

logging.getLogger("sagemaker.config").setLevel(logging.WARNING)  # it logs to stdout otherwise

import stepfunctions  # the SDK's own initialisers first: sagemaker and every step module
import stepfunctions.steps

from stacks.config import load_config
from stacks.workflow import build_workflow_definition, render_definition
from stacks.workflow.sdk import Task

assert Task is stepfunctions.steps.Task, "the workflow must use the SDK already imported"
print(render_definition(build_workflow_definition(load_config(None))), end="")
"""


def test_the_definition_is_the_one_the_whole_sdk_builds() -> None:
    whole = subprocess.run(
        [sys.executable, "-c", WITH_THE_WHOLE_SDK], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )

    assert whole.stdout == render_definition(build_workflow_definition(load_config(None)))


def test_building_the_definition_does_not_import_sagemaker() -> None:
    probe = (
        "import sys; from stacks.config import load_config; "
        "from stacks.workflow import build_workflow_definition; build_workflow_definition(load_config(None)); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sagemaker', 'boto3', 'botocore')))"
    )
    completed = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)

    assert completed.stdout.strip() == "[]"
