#!/usr/bin/env python3
"""CDK entry point: validate the config, emit the workflow definition, build the stack.

Every synth runs the cdk-nag AwsSolutions checks: an unacknowledged finding stops synth with
exit code 1 (docs/security-gates.md says how to fix or acknowledge one).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import aws_cdk as cdk

from stacks.artifacts import (
    DEFINITION_FILE_NAME,
    KEY_POLICY_FILE_NAME,
    STACK_NAME_CONTEXT_KEY,
    VALIDATION_REPORT_FILE_NAME,
    StackNameError,
    stack_name_from_context,
)
from stacks.config import CONTEXT_KEY, ConfigError, config_warnings, load_config


def main() -> int:
    app = cdk.App()
    try:
        config = load_config(app.node.try_get_context(CONTEXT_KEY))
        stack_name = stack_name_from_context(app.node.try_get_context(STACK_NAME_CONTEXT_KEY))
    except (ConfigError, StackNameError) as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 1
    for warning in config_warnings(config):
        print(f"Configuration warning: {warning}", file=sys.stderr)

    from cdk_nag import AwsSolutionsChecks

    from stacks.pipeline_stack import PersonalizePipelineStack
    from stacks.workflow import build_workflow_definition, render_definition

    definition_text = render_definition(build_workflow_definition(config))
    stack = PersonalizePipelineStack(
        app,
        stack_name,
        config=config,
        definition_text=definition_text,
        description="Amazon Personalize movie recommender that retrains itself on a schedule",
    )
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    report = Path(app.outdir, VALIDATION_REPORT_FILE_NAME)
    report.unlink(missing_ok=True)  # a stale report must not explain this synth
    try:
        assembly = app.synth()
    except RuntimeError:
        if not report.exists():
            raise
        # CDK prints each finding with its construct and acknowledgement id (Node writes it, so it
        # may land before or after this line).
        print(
            f"Security gate: cdk-nag reported findings nobody acknowledged (ERROR lines; report: {report}). "
            "Fix them, or acknowledge each with its reason as docs/security-gates.md describes.",
            file=sys.stderr,
        )
        return 1
    # The emitted definition sits beside the template; the template deploys this very text.
    Path(assembly.directory, DEFINITION_FILE_NAME).write_text(definition_text)
    if stack.key_policy_to_add is not None:
        key_policy = Path(assembly.directory, KEY_POLICY_FILE_NAME)
        key_policy.write_text(json.dumps(stack.key_policy_to_add, indent=2) + "\n")
        print(
            f"encryption.kmsKey names an existing key: add the statements of {key_policy} to its key policy "
            "before the first run (README, 'Encryption with your own key').",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
