"""Shared fixtures of the infrastructure tests: the stack synthesized once per config.

Synth costs seconds (jsii, and the Data Science SDK imports sagemaker), so each config is
built once per session, by the real entry point, and every test reads the same template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.config import PipelineConfig, load_config
from tests.conftest import CUSTOM_BLOCK, VARIATIONS_BLOCK
from tests.conftest import synthesize as synthesize_app


@dataclass(frozen=True)
class SynthesizedPipeline:
    """One synthesized PersonalizePipelineStack and what it was built from."""

    config: PipelineConfig
    definition_text: str
    template: Template
    template_json: dict[str, Any]
    outdir: Path

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.template_json["Resources"]
        return resources


def synthesize(
    tmp_path_factory: pytest.TempPathFactory, personalize: dict[str, Any] | None, stack_name: str | None = None
) -> SynthesizedPipeline:
    """The stack for ``personalize`` (None: the defaults) as ``python app.py`` writes it, cdk-nag
    included; each config is synthesized once per session and shared by every module and worker.
    ``stack_name``: one pipeline's stack of a block that lists several (``pipelines``)."""
    # Imported here, not at module level: test_app_errors.py needs neither CDK nor the SDK.
    from aws_cdk.assertions import Template

    from stacks.artifacts import STACK_NAME, definition_file_name
    from stacks.config import load_pipelines, pipeline_stack_name

    outdir = synthesize_app(tmp_path_factory, personalize)
    stack = stack_name or STACK_NAME
    template_json = json.loads((outdir / f"{stack}.template.json").read_text())
    configs = {pipeline_stack_name(c.pipeline_name): c for c in load_pipelines(personalize)}
    return SynthesizedPipeline(
        config=load_config(personalize) if stack_name is None else configs[stack],
        definition_text=(outdir / definition_file_name(stack, several=stack_name is not None)).read_text(),
        template=Template.from_json(template_json),
        template_json=template_json,
        outdir=outdir,
    )


@pytest.fixture(scope="session")
def default_pipeline(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    """The stack as the shipped cdk.json builds it (no personalize block = the defaults)."""
    return synthesize(tmp_path_factory, None)


@pytest.fixture(scope="session")
def custom_pipeline(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    """The stack for :data:`CUSTOM_BLOCK`: other name, schedule, time zone, data and key."""
    return synthesize(tmp_path_factory, CUSTOM_BLOCK)


@pytest.fixture(scope="session", params=["default_pipeline", "custom_pipeline"], ids=["default", "custom"])
def pipeline(request: pytest.FixtureRequest) -> SynthesizedPipeline:
    """Each of the two synthesized stacks in turn, for properties that must hold for any config."""
    synthesized: SynthesizedPipeline = request.getfixturevalue(request.param)
    return synthesized


@pytest.fixture(scope="session")
def variations_pipeline(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    """The stack for :data:`VARIATIONS_BLOCK`."""
    return synthesize(tmp_path_factory, VARIATIONS_BLOCK)
