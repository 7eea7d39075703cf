"""Several solutions from one dataset (issue 13): the config, the recipe types, the workflow's branches.

A config without ``solutions`` is today's single solution, and must give today's definition byte for
byte: a deployed pipeline that upgrades keeps its resources and its state machine.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from stacks.config import load_config
from stacks.workflow import build_workflow_definition, render_definition
from tests.conftest import BATCH_ONLY_BLOCK, CUSTOM_BLOCK, VARIATIONS_BLOCK

# sha256 of the definitions these configs gave before solutions existed (commit f985584).
SINGLE_SOLUTION_DEFINITIONS = {
    "default": "07e6c164e2bf3948d1aa139b3f24a9fed925813a54fd6a661577096151925f12",
    "variations": "d6d74250be5ef2f6ac411c14c8574d065ff131cc9178879312ade2de778e024e",
    "custom": "f1c4c0300ba23c2611630031e76acdf9e018c5868fc47efdc7b3a1466b09c7de",
    "batch-only": "a2ae7d6e566b190fdd3a1096e1f8c6fbd21a76fc263a994301645826bb0e6de9",
}
SINGLE_SOLUTION_BLOCKS: dict[str, Any] = {
    "default": None,
    "variations": VARIATIONS_BLOCK,
    "custom": CUSTOM_BLOCK,
    "batch-only": BATCH_ONLY_BLOCK,
}


def lambda_engine(block: dict[str, Any] | None) -> dict[str, Any]:
    """The block with data.engine "lambda": the conversion as it was before the Glue engine existed."""
    block = dict(block or {})
    return {**block, "data": {**block.get("data", {}), "engine": "lambda"}}


@pytest.mark.parametrize("name", sorted(SINGLE_SOLUTION_BLOCKS))
def test_a_config_without_solutions_gives_the_definition_it_gave_before(name: str) -> None:
    """Since data.engine (default auto) adds the Glue stage, the definitions of before are those of
    data.engine "lambda"; auto adds exactly the Glue states and the prepare step's two fields."""
    lambda_only = build_workflow_definition(load_config(lambda_engine(SINGLE_SOLUTION_BLOCKS[name])))
    assert hashlib.sha256(render_definition(lambda_only).encode()).hexdigest() == SINGLE_SOLUTION_DEFINITIONS[name]
    auto = build_workflow_definition(load_config(SINGLE_SOLUTION_BLOCKS[name]))
    assert set(auto["States"]) - set(lambda_only["States"]) == {
        "Which engine?",
        "Convert with Glue",
        "Read Glue output",
    }
    prepare = auto["States"]["Prepare data"]["Parameters"]
    assert {k: v for k, v in prepare.items() if k not in ("engine", "engineThresholdBytes")} == (
        lambda_only["States"]["Prepare data"]["Parameters"]
    )
