"""Where run outcomes go: one SNS topic, fed by EventBridge rules on the workflow's own events.

The workflow publishes one event per run (stacks/workflow/, ``Publish …`` states) to the
account's default bus. One rule per outcome routes it to the topic: each rule's
``MatchedEvents`` metric then counts that outcome for the dashboard, and a subscriber who
only wants failures can subscribe a queue behind one rule later without touching the workflow.
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from contract.events import EVENT_DETAIL_TYPE, EVENT_SOURCE, OUTCOMES


class RunNotifications(Construct):
    """The topic, its optional e-mail subscription and the rules that feed it the run outcomes."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        state_machine: sfn.IStateMachine,
        email: str | None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"Personalize pipeline {pipeline_name}",
            enforce_ssl=True,
        )
        # Not encrypted at rest with a customer managed key: checkov's CKV_AWS_26 skip in
        # docs/security-gates.md says why.
        if email is not None:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.rules: dict[str, events.Rule] = {}
        for outcome in OUTCOMES:
            self.rules[outcome] = events.Rule(
                self,
                f"Run{outcome.title()}",
                description=f"Sends the '{outcome}' outcome of the {pipeline_name} retraining runs to the topic",
                event_pattern=events.EventPattern(
                    source=[EVENT_SOURCE],
                    detail_type=[EVENT_DETAIL_TYPE],
                    # Step Functions adds the state machine's ARN to every event it puts.
                    resources=[state_machine.state_machine_arn],
                    detail={"pipelineName": [pipeline_name], "outcome": [outcome]},
                ),
                targets=[targets.SnsTopic(self.topic)],
            )
