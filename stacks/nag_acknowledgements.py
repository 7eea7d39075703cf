"""Reviewed cdk-nag findings, each acknowledged on exactly the construct that has it.

app.py runs the AwsSolutions checks on every synth, and a finding nobody acknowledged stops
synth (and so the tests). Wildcard resources (AwsSolutions-IAM5) are acknowledged per policy
and per resource from a table of reviewed wildcards: each entry says why that wildcard cannot
be narrower. A wildcard that is not in the table stays a finding. The table does not judge
*actions*: which actions may use ``"*"`` is enforced by tests/infra/test_security_gates.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

NAG_PACK = "AwsSolutions"


def acknowledge_finding(resource: IConstruct | None, finding: str, reason: str) -> None:
    """Acknowledge ``finding`` (e.g. ``AwsSolutions-S1``) on ``resource`` and nothing else.

    ``resource`` is usually a construct's ``node.default_child``, which CDK types as optional.
    """
    if resource is None:
        raise ValueError(f"{finding} cannot be acknowledged: the construct has no CloudFormation resource")
    Validations.of(resource).acknowledge(Acknowledgment(id=f"{NAG_PACK}::{finding}", reason=reason))


def acknowledge_reviewed_wildcards(role: iam.IRole, reasons: Mapping[str, str]) -> None:
    """Acknowledge AwsSolutions-IAM5 for each wildcard resource of ``role``'s default policy that
    ``reasons`` (resource ARN -> why it must be a wildcard) explains.

    Call it once the role holds all its statements (a Lambda function adds its X-Ray statement
    when it is created). Only wildcards that are really on the policy are acknowledged.
    """
    stack = Stack.of(role)
    default_policy = role.node.find_child("DefaultPolicy")
    assert isinstance(default_policy, iam.Policy)
    reason_by_finding = {flatten_reference(stack.resolve(arn)): reason for arn, reason in reasons.items()}
    document = stack.resolve(default_policy.document)
    granted = {
        flatten_reference(resource)
        for statement in document["Statement"]
        if statement["Effect"] == "Allow"
        for resource in _as_list(statement.get("Resource", []))
    }
    for resource in sorted(granted & set(reason_by_finding)):
        if "*" in resource:
            finding = f"AwsSolutions-IAM5[Resource::{resource}]"
            acknowledge_finding(default_policy.node.default_child, finding, reason_by_finding[resource])


def flatten_reference(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag names it in a finding: ``<Bucket.Arn>/training/*``.

    The same rendering as cdk-nag's ``flattenCfnReference`` (Ref and GetAtt in angle brackets,
    Join concatenated); other intrinsics are not used in this stack's policies.
    """
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Fn::Sub" and isinstance(argument, str):
            # The CDK assets bucket a Glue job's script is read from: cdk-nag renders the template.
            return flatten_reference(argument)
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(flatten_reference(part) for part in parts)
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Ref":
            return f"<{argument}>"
    raise ValueError(f"cannot name the cdk-nag finding of the policy resource {value!r}")


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# Why a custom-resource provider's roles may invoke "<function arn>:*" (cdk-nag AwsSolutions-IAM5).
PROVIDER_INVOKE_REASON = (
    "The provider framework grants lambda:InvokeFunction on the function and its versions and aliases "
    "(<arn>:*); it invokes the unqualified ARN of this construct's own functions only."
)
