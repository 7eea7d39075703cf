"""Names of the files synth writes beside the template, and the stack's name (light: no CDK or SDK imports)."""

from __future__ import annotations

import json
import re

DEFINITION_FILE_NAME = "personalize-workflow.asl.json"


def definition_file_name(stack_name: str, *, several: bool) -> str:
    """The definition beside a stack's template: ``DEFINITION_FILE_NAME`` for the one pipeline of the
    app; with several pipelines (``personalize.pipelines``), ``<stack>.asl.json`` each."""
    return f"{stack_name}.asl.json" if several else DEFINITION_FILE_NAME


# With encryption.kmsKey naming an existing key: the statements its key policy needs.
KEY_POLICY_FILE_NAME = "key-policy-to-add.json"
STACK_NAME = "PersonalizePipeline"
# Written by CDK's policy validation (the cdk-nag plugin app.py adds) on every synth.
VALIDATION_REPORT_FILE_NAME = "validation-report.json"

# `-c stackName=...` deploys a second copy of the pipeline beside the first (the real-account
# acceptance test, tools/acceptance.py, deploys and destroys one of its own). Every physical name
# in the stack derives from the stack or from pipelineName, so two copies with different names of
# both do not collide.
STACK_NAME_CONTEXT_KEY = "stackName"
# CloudFormation's rule for stack names.
STACK_NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")


class StackNameError(ValueError):
    """A ``stackName`` context value CloudFormation would refuse."""


def stack_name_from_context(value: object) -> str:
    """The stack's name: ``STACK_NAME`` unless the ``stackName`` context key gives another."""
    if value is None:
        return STACK_NAME
    if not isinstance(value, str) or not STACK_NAME_PATTERN.fullmatch(value):
        raise StackNameError(
            f'Invalid context "{STACK_NAME_CONTEXT_KEY}": got {json.dumps(value)}; expected a CloudFormation stack '
            "name (a letter, then up to 127 letters, digits or hyphens), for example "
            f"-c {STACK_NAME_CONTEXT_KEY}=PersonalizePipeline-acc202601050600."
        )
    return value
