#!/usr/bin/env python3
"""CDK entry point: validate the config, emit the workflow definition, build the stack."""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk

from stacks.artifacts import DEFINITION_FILE_NAME, STACK_NAME
from stacks.config import CONTEXT_KEY, ConfigError, load_config


def main() -> int:
    app = cdk.App()
    try:
        config = load_config(app.node.try_get_context(CONTEXT_KEY))
    except ConfigError as error:
        print(f"Configuration error: {error}", file=sys.stderr)
        return 1

    # Imported after validation: the Data Science SDK takes seconds to import.
    from stacks.pipeline_stack import PersonalizePipelineStack
    from stacks.workflow import build_workflow_definition, render_definition

    definition_text = render_definition(build_workflow_definition(config))
    PersonalizePipelineStack(
        app,
        STACK_NAME,
        config=config,
        definition_text=definition_text,
        description="Amazon Personalize movie recommender that retrains itself on a schedule",
    )
    assembly = app.synth()
    # The emitted definition sits beside the template; the template deploys this very text.
    Path(assembly.directory, DEFINITION_FILE_NAME).write_text(definition_text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
