"""Who may publish to the stack's SNS topics, offline: EventBridge rules and CloudWatch alarms.

A topic with an ``AWS::SNS::TopicPolicy`` is governed by that policy alone: it replaces SNS's
default policy (register ``sns.topic-policy.replaces-default``). Each publisher is a service
principal acting for one resource of this account (register ``sns.topic-policy.alarm-publish``
and ``events.sns-target.policy``): a rule publishes as ``events.amazonaws.com`` with the rule's
ARN as ``aws:SourceArn``, an alarm as ``cloudwatch.amazonaws.com`` with the alarm's ARN. A
refused publication is what CloudWatch writes in the alarm's history; nothing is delivered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator.iam import ALLOW, Request, TemplateValues, evaluate

EVENTS_PRINCIPAL = "events.amazonaws.com"
CLOUDWATCH_PRINCIPAL = "cloudwatch.amazonaws.com"


@dataclass(frozen=True)
class Publication:
    topic_arn: str
    publisher: str  # the rule's or alarm's ARN
    message: str


@dataclass
class Topics:
    """The template's topics, their policies, and what reached them."""

    values: TemplateValues
    delivered: list[Publication] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def _policies_of(self, topic_arn: str) -> list[Mapping[str, Any]] | None:
        """The documents of the topic policies naming this topic; None if it keeps SNS's default policy."""
        documents = [
            self.values.resolve(resource["Properties"]["PolicyDocument"])
            for resource in self.values.resources.values()
            if resource["Type"] == "AWS::SNS::TopicPolicy"
            and topic_arn in self.values.resolve(resource["Properties"]["Topics"])
        ]
        return documents or None

    def publish(self, topic_arn: str, *, service: str, source_arn: str, message: str) -> bool:
        """Publish as ``service`` on behalf of ``source_arn``; False (and a history line) if refused."""
        request = Request(
            action="sns:Publish",
            resource=topic_arn,
            principal_service=service,
            context={
                "aws:SourceArn": source_arn,
                "aws:SourceAccount": self.values.account_id,
                "aws:SecureTransport": "true",
            },
        )
        documents = self._policies_of(topic_arn)
        if documents is None:
            # SNS's default policy: the owner account's principals and services acting for it.
            allowed = True
        else:
            allowed = evaluate(documents, request, resource_policy=True) == ALLOW
        if not allowed:
            self.refused.append(
                f"Resource: {source_arn} is not authorized to perform: SNS:Publish on resource: {topic_arn}"
            )
            return False
        self.delivered.append(Publication(topic_arn, source_arn, message))
        return True

    # ------------------------------------------------------------------ publishers

    def deliver_event(self, event: Mapping[str, Any]) -> None:
        """Every enabled rule whose pattern matches sends the event to its SNS targets (register events.sns-target.policy)."""
        for logical_id, resource in self.values.resources.items():
            if resource["Type"] != "AWS::Events::Rule":
                continue
            properties = resource["Properties"]
            pattern = properties.get("EventPattern")
            if pattern is None or properties.get("State", "ENABLED") != "ENABLED":
                continue
            if not matches(self.values.resolve(pattern), event):
                continue
            for target in properties.get("Targets", []):
                arn = self.values.resolve(target["Arn"])
                if arn.startswith("arn:aws:sns:"):
                    self.publish(
                        arn, service=EVENTS_PRINCIPAL, source_arn=self.values.arn(logical_id), message=json.dumps(event)
                    )

    def fire_alarm(self, logical_id: str, *, state: str = "ALARM") -> list[bool]:
        """The alarm changes to ``state``: each of that state's actions publishes."""
        properties = self.values.resources[logical_id]["Properties"]
        actions_key = {"ALARM": "AlarmActions", "OK": "OKActions"}[state]
        alarm_arn = self.values.arn(logical_id)
        message = json.dumps({"AlarmName": self.values.name(logical_id), "NewStateValue": state})
        return [
            self.publish(
                self.values.resolve(action), service=CLOUDWATCH_PRINCIPAL, source_arn=alarm_arn, message=message
            )
            for action in properties.get(actions_key, [])
        ]


def matches(pattern: Any, event: Any) -> bool:
    """EventBridge pattern matching for what the stack's rules use: exact values, nested objects.

    A list in the pattern matches when the event's value (or any element of an event list) is
    in it; every key of the pattern must match.
    """
    if isinstance(pattern, Mapping):
        return isinstance(event, Mapping) and all(
            key in event and matches(value, event[key]) for key, value in pattern.items()
        )
    if isinstance(pattern, list):
        candidates = event if isinstance(event, list) else [event]
        return any(candidate in pattern for candidate in candidates)
    return bool(pattern == event)
