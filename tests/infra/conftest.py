"""Shared fixtures of the infrastructure tests: the stack synthesized once per config.

Synth costs seconds (jsii, and the Data Science SDK imports sagemaker), so each config is
built once per session and every test reads the same template.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from stacks.config import PipelineConfig, load_config

# A config that differs from the defaults in every value a template depends on.
CUSTOM_BLOCK: dict[str, Any] = {
    "pipelineName": "films",
    "campaignMinProvisionedTps": 3,
    "schedule": {"expression": "cron(0 3 ? * MON *)", "timeZone": "Europe/Berlin", "enabled": False},
    "data": {"rawKey": "raw/ml-latest-small/ratings.csv", "format": "ratings-csv", "minRating": 3.5},
}


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


def synthesize(config: PipelineConfig, outdir: Path) -> SynthesizedPipeline:
    """Build the stack in-process, the way app.py does, into ``outdir``."""
    # Imported here, not at module level: test_app_errors.py needs neither CDK nor the SDK.
    import aws_cdk as cdk

    from stacks.artifacts import STACK_NAME
    from stacks.pipeline_stack import PersonalizePipelineStack
    from stacks.workflow import build_workflow_definition, render_definition

    definition_text = render_definition(build_workflow_definition(config))
    app = cdk.App(outdir=str(outdir))
    stack = PersonalizePipelineStack(app, STACK_NAME, config=config, definition_text=definition_text)
    template = Template.from_stack(stack)
    return SynthesizedPipeline(
        config=config,
        definition_text=definition_text,
        template=template,
        template_json=template.to_json(),
        outdir=outdir,
    )


@pytest.fixture(scope="session")
def default_pipeline(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    """The stack as the shipped cdk.json builds it (no personalize block = the defaults)."""
    return synthesize(load_config(None), tmp_path_factory.mktemp("cdk-out-default"))


@pytest.fixture(scope="session")
def custom_pipeline(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    """The stack for :data:`CUSTOM_BLOCK`: other name, capacity, schedule, time zone and data."""
    return synthesize(load_config(CUSTOM_BLOCK), tmp_path_factory.mktemp("cdk-out-custom"))


@pytest.fixture(scope="session", params=["default_pipeline", "custom_pipeline"], ids=["default", "custom"])
def pipeline(request: pytest.FixtureRequest) -> SynthesizedPipeline:
    """Each of the two synthesized stacks in turn, for properties that must hold for any config."""
    synthesized: SynthesizedPipeline = request.getfixturevalue(request.param)
    return synthesized


@pytest.fixture(scope="session")
def destroy_data_pipeline(tmp_path_factory: pytest.TempPathFactory) -> SynthesizedPipeline:
    """The default stack with the data retention switch set to destroy."""
    return synthesize(load_config({"data": {"onDestroy": "destroy"}}), tmp_path_factory.mktemp("cdk-out-destroy"))
