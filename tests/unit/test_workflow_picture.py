"""The workflow picture (docs/workflow.md) is generated from the definition synth emits."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from contract.wait_states import WaitStateNames
from pipelinectl.picture import render_markdown, render_mermaid, with_readme_picture
from pipelinectl.workflow_graph import FAIL, TASK, WAIT, build_graph
from stacks.artifacts import DEFINITION_FILE_NAME
from stacks.config import load_config
from stacks.workflow import build_workflow_definition

REPO = Path(__file__).resolve().parents[2]
PICTURE = REPO / "docs" / "workflow.md"
README = REPO / "README.md"
# The statement forms the generator writes; anything else is a change to review (GitHub renders
# Mermaid 11: checked by hand with its parser, which is too large a dependency for the suite).
MERMAID_LINE = re.compile(
    r"^(stateDiagram-v2"
    r"|(    )+state \"[^\";]+\" as [A-Za-z0-9]+"
    r"|(    )+(\[\*\]|[A-Za-z0-9]+) --> ([A-Za-z0-9]+|\[\*\])( : [^\";:]+)?"
    r"|    state [A-Za-z0-9]+ \{|        --|    \}"
    r"|    note (left|right) of [A-Za-z0-9]+|        [^\";]+|    end note)$"
)


@pytest.fixture(scope="module")
def definition(cloud_assembly: Path) -> dict[str, Any]:
    """The definition synth emits for a config without ``solutions`` (one solution)."""
    return json.loads((cloud_assembly / DEFINITION_FILE_NAME).read_text())


@pytest.fixture(scope="module")
def shipped_definition() -> dict[str, Any]:
    """The definition of the shipped cdk.json (two solutions), as `make picture` synthesizes it: app.py
    emits exactly build_workflow_definition of the loaded config (tests/unit/test_workflow.py)."""
    block = json.loads((REPO / "cdk.json").read_text())["context"]["personalize"]
    return build_workflow_definition(load_config(block))


def test_the_committed_picture_matches_the_emitted_definition(shipped_definition: dict[str, Any]) -> None:
    assert PICTURE.read_text() == render_markdown(shipped_definition), (
        "docs/workflow.md no longer matches cdk.out/personalize-workflow.asl.json: run `make picture` and commit it"
    )


def test_the_picture_of_several_solutions_draws_one_region_per_branch(shipped_definition: dict[str, Any]) -> None:
    graph = build_graph(shipped_definition)
    text = render_mermaid(graph)

    (branches,) = graph.branches.values()
    assert [branch.start for branch in branches] == ["picks: Plan", "similar: Plan"]
    assert "    state TrainEachSolution {\n" in text and "\n        --\n" in text
    assert "        WaitForSimilarSolutionVersion --> SimilarEvaluateNewVersion : ACTIVE\n" in text
    assert "        PicksSmokeTestRecommendations --> PicksRollBackTheCampaign : error\n" in text
    assert "        PicksSolutionDeployed --> [*]\n" in text
    assert "    TrainEachSolution --> RecordSolutions\n" in text
    # Every state of every branch belongs to a step, as on the main path.
    for branch, raw in zip(branches, shipped_definition["States"]["Train each solution"]["Branches"], strict=True):
        assert set(branch.step_of_state) == set(raw["States"])
    bad = [line for line in text.splitlines() if not MERMAID_LINE.match(line)]
    assert bad == []


def test_the_readme_shows_the_same_picture(shipped_definition: dict[str, Any]) -> None:
    readme = README.read_text()
    assert readme == with_readme_picture(readme, shipped_definition), (
        "README.md's workflow picture no longer matches the definition: run `make picture` and commit it"
    )


def test_every_wait_fragment_is_one_step_with_its_bound(definition: dict[str, Any]) -> None:
    graph = build_graph(definition)

    waits = [step for step in graph.steps.values() if step.kind == WAIT]
    assert [step.name for step in waits] == [
        "Wait until dataset group is ACTIVE",
        "Wait until dataset is ACTIVE",
        "Wait until dataset import job is ACTIVE",
        "Wait until items dataset is ACTIVE",
        "Wait until items import job is ACTIVE",
        "Wait until data deletion job is COMPLETED",
        "Wait until solution is ACTIVE",
        "Wait until solution version is ACTIVE",
        "Wait until campaign update is ACTIVE",
        "Wait until campaign is ACTIVE",
        "Wait until campaign rollback is ACTIVE",
    ]
    training = next(step for step in waits if step.wait == WaitStateNames("solution version"))
    assert training.states == tuple(
        name for name in WaitStateNames("solution version").all if name in definition["States"]
    )
    update = next(step for step in waits if step.wait == WaitStateNames("campaign update"))
    assert "Campaign update visible?" in update.states and "Campaign update never visible" in update.states
    assert training.max_checks == 288
    # Every state is shown, in a step of its own or in the step that stands for it.
    assert set(graph.step_of_state) == set(definition["States"])
    assert graph.step_of_state["Failed in training"] == graph.step_of_state["Publish failure"] == "RunFailed"
    assert graph.step_of_state["Solution version failed without a reason"] == "WaitForSolutionVersion"
    assert len(definition["States"]) > 60 and len(graph.steps) == 58


def test_the_diagram_draws_the_run_and_folds_failures_into_a_note(definition: dict[str, Any]) -> None:
    text = render_mermaid(build_graph(definition))

    assert "    WaitForSolutionVersion --> EvaluateNewVersion : ACTIVE\n" in text
    assert "    NewData --> SkipNoNewData : data.unchanged\n" in text
    assert "    CampaignCreatedOrUpdated --> WaitForCampaignUpdate : campaign.action is updated\n" in text
    assert "    QualityGatePassed --> RecordRejectedVersion : otherwise\n" in text
    # Error edges would hide the run: one note says it. Only the input check routes there by choice.
    assert [line.strip() for line in text.splitlines() if "--> RunFailed" in line] == [
        "RunInputHasATrigger --> RunFailed : otherwise",
        "RunTriggerIsText --> RunFailed : otherwise",
        "RollBackTheCampaign --> RunFailed : otherwise",
    ]
    working = [s for s in build_graph(definition).steps.values() if s.kind in (TASK, WAIT)]
    assert f"Reached from each of the {len(working)} working steps on any error" in text
    bad = [line for line in text.splitlines() if not MERMAID_LINE.match(line)]
    assert bad == []


def test_a_step_without_a_catch_is_drawn_with_its_own_error_edge(definition: dict[str, Any]) -> None:
    changed = copy.deepcopy(definition)
    del changed["States"]["Prepare data"]["Catch"]
    changed["States"]["Start training"]["Catch"][0]["Next"] = "Run failed"

    text = render_mermaid(build_graph(changed))

    assert "note left of RunFailed" not in text
    assert "    StartTraining --> RunFailed : error\n" in text


def test_the_picture_changes_with_the_definition(definition: dict[str, Any]) -> None:
    changed = copy.deepcopy(definition)
    states = changed["States"]
    states["Smoke test recommendations"]["Next"] = "Summarize run"

    assert render_markdown(changed) != render_markdown(definition)
    assert build_graph(changed).steps["RecordSuccessfulRun"].kind == TASK
    assert [s.kind for s in build_graph(changed).failure_steps] == [FAIL]
