"""The definition built in a second process (stacks/definition_build.py) is the one built in-process."""

from __future__ import annotations

import re

import pytest

from stacks.config import load_config
from stacks.definition_build import DefinitionBuild, DefinitionBuildError
from stacks.workflow import build_workflow_definition, render_definition
from tests.infra.conftest import CUSTOM_BLOCK


@pytest.mark.parametrize("block", [None, CUSTOM_BLOCK], ids=["default", "custom"])
def test_the_second_process_emits_exactly_the_in_process_definition(block: object) -> None:
    build = DefinitionBuild(block)

    assert build.text() == render_definition(build_workflow_definition(load_config(block)))
    assert build.text() is build.text()  # awaited once


def test_a_failed_build_says_why() -> None:
    with pytest.raises(DefinitionBuildError, match=re.escape('Invalid cdk.json context "personalize.pipelineName"')):
        DefinitionBuild({"pipelineName": "no spaces allowed"}).text()
