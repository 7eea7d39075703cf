"""IAM as the offline account needs it: the template's policies, resolved and evaluated.

Two halves:

- :class:`TemplateValues` turns a template value (``Ref``, ``Fn::GetAtt``, ``Fn::Join``,
  ``Fn::Sub``, pseudo parameters) into the concrete text CloudFormation would produce in the
  offline account, so that a policy can be compared with the ARNs a request names.
- :func:`evaluate` decides one request against policy documents the way IAM's evaluation logic
  does for what these policies use (register ``iam.policy-evaluation``): an explicit Deny wins,
  otherwise an Allow is needed; Action and Resource match with ``*`` and ``?`` wildcards; a
  condition on a key the request does not carry does not match (except with ``...IfExists``
  and for negated operators). Operators: String(Not)Equals, String(Not)Like, Arn(Not)Like,
  Arn(Not)Equals, Bool, each with IfExists.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ALLOW, DENY, IMPLICIT_DENY = "Allow", "Deny", "ImplicitDeny"


class TemplateValueError(ValueError):
    """A template value the offline account cannot give a concrete value to."""


@dataclass
class TemplateValues:
    """Concrete values of a template's references in one offline account.

    ``names`` maps a logical id to its physical name (CloudFormation generates one from the
    stack and logical id when the template gives none; any stable name does here) or, for
    resources whose Ref is an ARN, to that ARN.
    """

    template: Mapping[str, Any]
    region: str
    account_id: str
    stack_name: str
    names: dict[str, str] = field(default_factory=dict)
    # Fn::GetAtt values known only once a resource exists (a custom resource's Data).
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def resources(self) -> Mapping[str, Any]:
        return self.template["Resources"]

    def pseudo(self, name: str) -> str:
        values = {
            "AWS::Partition": "aws",
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::NoValue": "",
        }
        if name not in values:
            raise TemplateValueError(f"no offline value for pseudo parameter {name}")
        return values[name]

    def name(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        if logical_id in self.names:
            return self.names[logical_id]
        declared = {
            "AWS::Logs::LogGroup": "LogGroupName",
            "AWS::CloudWatch::Alarm": "AlarmName",
            "AWS::Events::Rule": "Name",
        }.get(kind)
        properties = self.resources[logical_id].get("Properties", {})
        if declared and declared in properties:
            return self.resolve(properties[declared])
        generated = f"{self.stack_name}-{logical_id}"
        return generated.lower() if kind == "AWS::S3::Bucket" else generated

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name = self.name(logical_id)
        if name.startswith("arn:"):
            return name
        region, account = self.region, self.account_id
        builders = {
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
            "AWS::SNS::Topic": f"arn:aws:sns:{region}:{account}:{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{name}",
            "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{name}",
            "AWS::StepFunctions::StateMachine": f"arn:aws:states:{region}:{account}:stateMachine:{name}",
            "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{name}:*",
            "AWS::CloudWatch::Alarm": f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
            "AWS::Events::Rule": f"arn:aws:events:{region}:{account}:rule/{name}",
            "AWS::Scheduler::Schedule": f"arn:aws:scheduler:{region}:{account}:schedule/default/{name}",
            # A key's ARN ends in a generated key id; offline, the logical id stands in for it.
            "AWS::KMS::Key": f"arn:aws:kms:{region}:{account}:key/{name}",
        }
        if kind not in builders:
            raise TemplateValueError(f"no offline ARN for {kind} ({logical_id})")
        return builders[kind]

    def ref(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        # Resources whose Ref is their ARN (CloudFormation resource reference, "Return values").
        if kind in ("AWS::SNS::Topic", "AWS::StepFunctions::StateMachine"):
            return self.arn(logical_id)
        return self.name(logical_id)

    def get_att(self, logical_id: str, attribute: str) -> str:
        if (logical_id, attribute) in self.attributes:
            return self.attributes[(logical_id, attribute)]
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute == "Name":
            return self.name(logical_id)
        raise TemplateValueError(f"no offline value for Fn::GetAtt {logical_id}.{attribute}")

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function replaced by its offline result."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self.pseudo(argument) if argument.startswith("AWS::") else self.ref(argument)
            if function == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(logical_id, attribute)
            if function == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self.resolve(part)) for part in parts)
            if function == "Fn::Sub":
                return self._sub(argument)
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if name.startswith("AWS::"):
                return self.pseudo(name)
            logical_id, _, attribute = name.partition(".")
            return self.get_att(logical_id, attribute) if attribute else self.ref(logical_id)

        return re.sub(r"\$\{([^}!][^}]*)\}", replace, text)


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class Request:
    """One authorization question: who asks to do what to which resource, with which context keys."""

    action: str
    resource: str
    principal_service: str | None = None
    principal_arn: str | None = None
    context: Mapping[str, str] = field(default_factory=dict)


def evaluate(documents: Iterable[Mapping[str, Any]], request: Request, *, resource_policy: bool = False) -> str:
    """ALLOW, DENY (an explicit Deny matched) or IMPLICIT_DENY (no Allow matched).

    With ``resource_policy`` the statements' Principal must name the requester; identity
    policies have none.
    """
    decision = IMPLICIT_DENY
    for document in documents:
        for statement in _as_list(document.get("Statement", [])):
            if not _applies(statement, request, resource_policy):
                continue
            if statement.get("Effect") == "Deny":
                return DENY
            if statement.get("Effect") == "Allow":
                decision = ALLOW
    return decision


def _applies(statement: Mapping[str, Any], request: Request, resource_policy: bool) -> bool:
    if resource_policy and not _principal_matches(statement.get("Principal"), request):
        return False
    actions = _as_list(statement.get("Action", []))
    if not any(_wildcard(pattern, request.action, case_sensitive=False) for pattern in actions):
        return False
    resources = _as_list(statement.get("Resource", "*" if resource_policy else []))
    if not any(_wildcard(pattern, request.resource) for pattern in resources):
        return False
    return _conditions_match(statement.get("Condition", {}), request.context)


def _principal_matches(principal: Any, request: Request) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    if principal.get("AWS") == "*":
        return True
    if request.principal_service and request.principal_service in _as_list(principal.get("Service", [])):
        return True
    return bool(request.principal_arn and request.principal_arn in _as_list(principal.get("AWS", [])))


def _conditions_match(conditions: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    lowered = {key.lower(): value for key, value in context.items()}
    for operator, pairs in conditions.items():
        if_exists = operator.endswith("IfExists")
        base = operator.removesuffix("IfExists")
        for key, expected in pairs.items():
            actual = lowered.get(key.lower())
            if actual is None:
                if if_exists or "Not" in base:
                    continue
                return False
            if not _operator_matches(base, actual, [str(item) for item in _as_list(expected)]):
                return False
    return True


def _operator_matches(operator: str, actual: str, expected: list[str]) -> bool:
    if operator == "Bool":
        return actual.lower() in [item.lower() for item in expected]
    negated = "Not" in operator
    kind = operator.replace("Not", "")
    if kind in ("StringEquals", "ArnEquals"):
        matched = actual in expected
    elif kind in ("StringLike", "ArnLike"):
        matched = any(_wildcard(pattern, actual) for pattern in expected)
    else:
        raise TemplateValueError(f"condition operator {operator} is not evaluated offline; add it to simulator/iam.py")
    return not matched if negated else matched


def _wildcard(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    if not case_sensitive:
        pattern, value = pattern.lower(), value.lower()
    # fnmatch also treats [...] as a class; IAM does not, so escape brackets first.
    escaped = pattern.replace("[", "[[]")
    return fnmatch.fnmatchcase(value, escaped)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
