"""Every IAM grant in the template against the Service Authorization Reference (stacks/iam_reference.py).

Register iam.resource-types. Three rules, for any statement of any policy in the template:
1. every action granted is in the reference table (a new action needs its row, with its source);
2. every resource of an Allow statement is an ARN of a resource type of one of its actions, and
   ``"*"`` appears only for actions that have no resource type;
3. each role that is granted a Personalize or Step Functions action may perform it on every ARN
   its calls name, for each resource type the action requires: the solution version actions
   (DescribeSolutionVersion, GetSolutionMetrics, StopSolutionVersionCreation) are authorized
   against the *solution* type, so both the solution's and the version's ARN must be allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from contract.names import PersonalizeNames
from simulator.iam import ALLOW, Request, TemplateValues, evaluate
from stacks.iam_reference import ACTIONS, resource_types_of
from tests.infra.conftest import SynthesizedPipeline

REGION, ACCOUNT = "us-east-1", "123456789012"
Json = dict[str, Any]


def values_of(pipeline: SynthesizedPipeline) -> TemplateValues:
    return TemplateValues(pipeline.template_json, REGION, ACCOUNT, "PersonalizePipeline")


def statements(document: Json) -> list[Json]:
    found = document.get("Statement", [])
    return found if isinstance(found, list) else [found]


def all_statements(pipeline: SynthesizedPipeline) -> Iterator[tuple[str, Json]]:
    """(resource id, resolved statement) for every policy document in the template."""
    values = values_of(pipeline)

    def documents(value: Any) -> Iterator[Json]:
        if isinstance(value, dict):
            if isinstance(value.get("Statement"), list):
                yield value
            for item in value.values():
                yield from documents(item)
        elif isinstance(value, list):
            for item in value:
                yield from documents(item)

    for resource_id, resource in pipeline.resources.items():
        for document in documents(resource.get("Properties", {})):
            for statement in statements(values.resolve(document)):
                yield resource_id, statement


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_granted_action_is_in_the_reference_table(pipeline: SynthesizedPipeline) -> None:
    unknown = {
        f"{action} ({resource_id})"
        for resource_id, statement in all_statements(pipeline)
        if statement.get("Effect") == "Allow" and "Resource" in statement
        for action in as_list(statement["Action"])
        if action not in ACTIONS
    }
    assert unknown == set(), "add a row to stacks/iam_reference.py with the reference's resource types"


def test_every_resource_is_of_a_type_its_actions_are_authorized_against(pipeline: SynthesizedPipeline) -> None:
    problems = []
    for resource_id, statement in all_statements(pipeline):
        if statement.get("Effect") != "Allow" or "Resource" not in statement:
            continue
        actions = [a for a in as_list(statement["Action"]) if a in ACTIONS]
        for resource in as_list(statement["Resource"]):
            if resource == "*":
                needing_a_resource = [a for a in actions if not ACTIONS[a].any_resource_only]
                if needing_a_resource:
                    problems.append(f"{resource_id}: {needing_a_resource} on '*' (they have resource types)")
            elif not any(resource_types_of(action, resource) for action in actions):
                problems.append(f"{resource_id}: {resource} is of no resource type of {actions}")
    assert problems == []


# Actions whose request names a solution version: the reference gives versions no type of their
# own, so IAM may check the version's ARN or its solution's; both must be allowed.
VERSION = "solution version"
NAMES_A_VERSION = frozenset(
    {
        "personalize:DescribeSolutionVersion",
        "personalize:GetSolutionMetrics",
        "personalize:StopSolutionVersionCreation",
        "personalize:CreateCampaign",
        "personalize:UpdateCampaign",
    }
)


def example_arns(pipeline: SynthesizedPipeline) -> dict[str, list[str]]:
    """Per resource type, the ARNs this pipeline's calls name in the offline account."""
    names = PersonalizeNames(pipeline.config.pipeline_name)
    arn = f"arn:aws:personalize:{REGION}:{ACCOUNT}"
    # The retraining workflow (the provider framework's waiter is another state machine).
    state_machines = [
        values_of(pipeline).arn(rid)
        for rid, r in pipeline.resources.items()
        if r["Type"] == "AWS::StepFunctions::StateMachine" and "DefinitionSubstitutions" in r["Properties"]
    ]
    return {
        "personalize:datasetGroup": [f"{arn}:dataset-group/{names.dataset_group}"],
        "personalize:dataset": [f"{arn}:dataset/{names.dataset_group}/INTERACTIONS"],
        "personalize:datasetImportJob": [f"{arn}:dataset-import-job/{names.import_job_prefix}-20260105T060000-0a1b2c"],
        "personalize:schema": [f"{arn}:schema/{names.interactions_schema}"],
        "personalize:solution": [f"{arn}:solution/{names.solution}"],
        VERSION: [f"{arn}:solution/{names.solution}/0a1b2c3d"],
        "personalize:campaign": [f"{arn}:campaign/{names.campaign}"],
        "states:stateMachine": state_machines,
    }


def role_documents(pipeline: SynthesizedPipeline, role_id: str) -> list[Json]:
    values = values_of(pipeline)
    role = pipeline.resources[role_id]
    documents = [values.resolve(p["PolicyDocument"]) for p in role["Properties"].get("Policies", [])]
    for resource in pipeline.resources.values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"].get("Roles", []):
            documents.append(values.resolve(resource["Properties"]["PolicyDocument"]))
    return documents


def test_each_role_may_act_on_every_arn_its_calls_name(pipeline: SynthesizedPipeline) -> None:
    examples = example_arns(pipeline)
    denied = []
    for role_id, role in pipeline.resources.items():
        if role["Type"] != "AWS::IAM::Role":
            continue
        documents = role_documents(pipeline, role_id)
        granted = {
            action
            for document in documents
            for statement in statements(document)
            if statement.get("Effect") == "Allow"
            for action in as_list(statement["Action"])
            if action in ACTIONS and (action.startswith("personalize:") or action == "states:ListExecutions")
        }
        for action in sorted(granted):
            kinds = [*ACTIONS[action].required, *([VERSION] if action in NAMES_A_VERSION else [])]
            for kind in kinds:
                for arn in examples.get(kind, []):
                    if evaluate(documents, Request(action, arn)) != ALLOW:
                        denied.append(f"{role_id}: {action} on {arn}")
    assert denied == [], "\n".join(denied)
