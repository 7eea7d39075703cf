"""IAM rules over every policy document in the template, whichever construct wrote it.

test_lambda_functions.py and test_state_machine.py check each role's exact actions; these rules hold for any policy a later
change adds (a role's inline or attached policy, a managed policy, a resource policy): no
managed *FullAccess policy, no wildcard action, ``Resource: "*"`` only for actions that have no
resource-level permission, and ``iam:PassRole`` only for the Personalize role, to Personalize
(plus, for the teardown pausing the schedule, the schedule's own role to EventBridge Scheduler).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tests.infra.conftest import SynthesizedPipeline
from tests.infra.template_helpers import (
    LOG_DELIVERY_ACTIONS,
    PASSED_TO_PERSONALIZE,
    STATE_MACHINE_XRAY_ACTIONS,
    as_list,
    personalize_service_role_id,
    render,
)

Json = dict[str, Any]

# Actions the Service Authorization Reference lists without any resource type: "*" is the only
# resource they accept. Each is granted on "*" where the code says so in a comment.
PERSONALIZE_LIST_ACTIONS = frozenset(
    {
        "personalize:ListDatasetGroups",
        "personalize:ListSchemas",
        "personalize:ListDatasets",
        "personalize:ListDatasetImportJobs",
        "personalize:ListSolutions",
        "personalize:ListSolutionVersions",
        "personalize:ListCampaigns",
        # The teardown lists what may hang off the dataset group before deleting it.
        "personalize:ListEventTrackers",
        "personalize:ListFilters",
        # Users' deletion requests: a retried step finds the job it started.
        "personalize:ListDataDeletionJobs",
    }
)
# PutMetricData names no resource; every grant of it must carry the namespace condition (below).
PUT_METRIC_DATA = "cloudwatch:PutMetricData"
ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS = (
    PERSONALIZE_LIST_ACTIONS | STATE_MACHINE_XRAY_ACTIONS | LOG_DELIVERY_ACTIONS | {PUT_METRIC_DATA}
)
OWN_METRIC_NAMESPACE = {"StringEquals": {"cloudwatch:namespace": "PersonalizePipeline"}}
FORBIDDEN_MANAGED_POLICY_MARKERS = ("FullAccess", "AdministratorAccess")


@dataclass(frozen=True)
class FoundStatement:
    """One statement of some policy document, and where in the template it was found."""

    resource_id: str
    path: str
    raw: Json

    @property
    def allows(self) -> bool:
        return bool(self.raw["Effect"] == "Allow")

    @property
    def actions(self) -> list[str]:
        return [str(action) for action in as_list(self.raw.get("Action", []))]

    @property
    def resources(self) -> list[str]:
        return [render(resource) for resource in as_list(self.raw.get("Resource", []))]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.path}: {self.raw}"


def policy_statements(value: Any, resource_id: str, path: str = "") -> Iterator[FoundStatement]:
    """Every statement of every policy document (any dict with a ``Statement`` list) under ``value``."""
    if isinstance(value, dict):
        if "Statement" in value:
            for statement in as_list(value["Statement"]):
                yield FoundStatement(resource_id, path, statement)
        for key, child in value.items():
            yield from policy_statements(child, resource_id, f"{path}/{key}")
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from policy_statements(child, resource_id, f"{path}/{index}")


def all_statements(pipeline: SynthesizedPipeline) -> list[FoundStatement]:
    return [
        statement
        for resource_id, resource in pipeline.resources.items()
        for statement in policy_statements(resource.get("Properties", {}), resource_id)
    ]


def allow_statements(pipeline: SynthesizedPipeline) -> list[FoundStatement]:
    return [statement for statement in all_statements(pipeline) if statement.allows]


def test_the_walk_finds_every_kind_of_policy_document_in_the_stack(pipeline: SynthesizedPipeline) -> None:
    """Trust policies, role policies and the bucket policy: the rules below see all of them."""
    paths = {(pipeline.resources[s.resource_id]["Type"], s.path) for s in all_statements(pipeline)}

    assert {
        ("AWS::IAM::Role", "/AssumeRolePolicyDocument"),
        ("AWS::IAM::Policy", "/PolicyDocument"),
        ("AWS::S3::BucketPolicy", "/PolicyDocument"),
    } <= paths


def test_no_managed_full_access_or_administrator_policy(pipeline: SynthesizedPipeline) -> None:
    for resource_id, resource in pipeline.resources.items():
        for arn in resource.get("Properties", {}).get("ManagedPolicyArns", []):
            name = render(arn)
            assert not any(marker in name for marker in FORBIDDEN_MANAGED_POLICY_MARKERS), (resource_id, name)


def test_no_allowed_action_has_a_wildcard(pipeline: SynthesizedPipeline) -> None:
    """Neither "*" nor "service:*" nor "service:Get*": every allowed action is named."""
    for statement in allow_statements(pipeline):
        assert "NotAction" not in statement.raw, str(statement)
        for action in statement.actions:
            assert "*" not in action, str(statement)


def test_any_resource_only_for_actions_without_resource_level_permissions(pipeline: SynthesizedPipeline) -> None:
    for statement in allow_statements(pipeline):
        assert "NotResource" not in statement.raw, str(statement)
        if "*" in statement.resources:
            unscoped = set(statement.actions) - ACTIONS_WITHOUT_RESOURCE_LEVEL_PERMISSIONS
            assert unscoped == set(), f"{sorted(unscoped)} may name a resource: {statement}"


def test_pass_role_only_passes_the_personalize_role_to_personalize(pipeline: SynthesizedPipeline) -> None:
    """Passes of one role to one service each: the import and data deletion steps hand Personalize its
    role, and the teardown re-sends the schedule's own role to EventBridge Scheduler when it
    disables the schedule (UpdateSchedule takes the whole target, role included)."""
    personalize_role_arn = f"${{{personalize_service_role_id(pipeline)}.Arn}}"
    (schedule_id,) = [rid for rid, r in pipeline.resources.items() if r["Type"] == "AWS::Scheduler::Schedule"]
    schedule_role_arn = render(pipeline.resources[schedule_id]["Properties"]["Target"]["RoleArn"])
    allowed = {
        personalize_role_arn: PASSED_TO_PERSONALIZE,
        schedule_role_arn: {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
    }
    pass_role = [s for s in allow_statements(pipeline) if "iam:PassRole" in s.actions]

    assert {resource for s in pass_role for resource in s.resources} == set(allowed)
    for statement in pass_role:
        assert statement.actions == ["iam:PassRole"] and len(statement.resources) == 1, str(statement)
        assert statement.raw.get("Condition") == allowed[statement.resources[0]], str(statement)


def test_metrics_may_be_put_only_into_the_pipelines_own_namespace(pipeline: SynthesizedPipeline) -> None:
    grants = [s for s in allow_statements(pipeline) if PUT_METRIC_DATA in s.actions]

    assert len(grants) == 2  # the record step and the heartbeat
    for statement in grants:
        assert statement.actions == [PUT_METRIC_DATA], str(statement)
        assert statement.raw.get("Condition") == OWN_METRIC_NAMESPACE, str(statement)
