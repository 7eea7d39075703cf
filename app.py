#!/usr/bin/env python3
"""CDK entry point: validate the config, emit the workflow definition, build the stack (one per
pipeline when ``personalize.pipelines`` lists several).

Every synth runs the cdk-nag AwsSolutions checks: an unacknowledged finding stops synth with
exit code 1 (docs/security-gates.md says how to fix or acknowledge one).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import aws_cdk as cdk

from stacks.artifacts import (
    KEY_POLICY_FILE_NAME,
    STACK_NAME_CONTEXT_KEY,
    VALIDATION_REPORT_FILE_NAME,
    StackNameError,
    definition_file_name,
    stack_name_from_context,
)
from stacks.config import (
    CONTEXT_KEY,
    ConfigError,
    lists_pipelines,
    load_pipelines,
    pipeline_stack_name,
    pipelines_warnings,
)


def main() -> int:
    app = cdk.App()
    context = app.node.try_get_context(CONTEXT_KEY)
    try:
        configs = load_pipelines(context)
        several = lists_pipelines(context)
        stack_context = app.node.try_get_context(STACK_NAME_CONTEXT_KEY)
        if several and stack_context is not None:
            raise StackNameError(
                f'"{STACK_NAME_CONTEXT_KEY}" names the one stack of a single pipeline; with "personalize.pipelines" '
                "each pipeline's stack is PersonalizePipeline-<pipelineName>"
            )
        stack_names = (
            [pipeline_stack_name(c.pipeline_name) for c in configs]
            if several
            else [stack_name_from_context(stack_context)]
        )
    except (ConfigError, StackNameError) as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 1
    for warning in pipelines_warnings(configs):
        print(f"Configuration warning: {warning}", file=sys.stderr)

    from cdk_nag import AwsSolutionsChecks

    from stacks.pipeline_stack import PersonalizePipelineStack
    from stacks.workflow import build_workflow_definition, render_definition

    stacks = []
    for config, stack_name in zip(configs, stack_names, strict=True):
        definition_text = render_definition(build_workflow_definition(config))
        stack = PersonalizePipelineStack(
            app,
            stack_name,
            config=config,
            definition_text=definition_text,
            description="Amazon Personalize movie recommender that retrains itself on a schedule"
            + (f" (pipeline {config.pipeline_name})" if several else ""),
        )
        stacks.append((stack, stack_name, definition_text))
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
    for stack, stack_name, definition_text in stacks:
        # The emitted definition sits beside the template; the template deploys this very text.
        Path(assembly.directory, definition_file_name(stack_name, several=several)).write_text(definition_text)
        if stack.key_policy_to_add is not None:
            name = KEY_POLICY_FILE_NAME if not several else f"{stack_name}.{KEY_POLICY_FILE_NAME}"
            key_policy = Path(assembly.directory, name)
            key_policy.write_text(json.dumps(stack.key_policy_to_add, indent=2) + "\n")
            print(
                f"encryption.kmsKey names an existing key: add the statements of {key_policy} to its key policy "
                "before the first run (README, 'Encryption with your own key').",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
