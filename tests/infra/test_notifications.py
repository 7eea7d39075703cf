"""Run notifications (stacks/notifications.py): the topic, who may publish to it, one rule per outcome, the e-mail subscription.

Expected values are written out here, not read back from the code under test.
"""

from __future__ import annotations

import json

from tests.infra.conftest import SynthesizedPipeline
from tests.infra.template_helpers import (
    Statement,
    notification_topic_id,
    only_resource,
    resources_of_type,
    workflow_state_machine,
)

# --- notifications --------------------------------------------------------------------------


def test_the_topic_accepts_only_tls_publishing(pipeline: SynthesizedPipeline) -> None:
    topic = notification_topic_id(pipeline)
    _, policy = only_resource(pipeline, "AWS::SNS::TopicPolicy")
    statements = [Statement.parse(s) for s in policy["PolicyDocument"]["Statement"]]

    assert policy["Topics"] == [{"Ref": topic}]
    assert (
        Statement(
            "Deny",
            frozenset({"sns:Publish"}),
            frozenset({f"${{{topic}}}"}),
            {"Bool": {"aws:SecureTransport": "false"}},
            "*",
        )
        in statements
    )


def test_eventbridge_and_this_stacks_alarms_may_publish_to_the_topic(pipeline: SynthesizedPipeline) -> None:
    """The topic policy replaces SNS's default policy (register sns.topic-policy.alarm-publish)."""
    topic = notification_topic_id(pipeline)
    _, policy = only_resource(pipeline, "AWS::SNS::TopicPolicy")
    allowed = {json.dumps(s["Principal"]): s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"}
    alarms = set(resources_of_type(pipeline, "AWS::CloudWatch::Alarm"))

    assert set(allowed) == {'{"Service": "events.amazonaws.com"}', '{"Service": "cloudwatch.amazonaws.com"}'}
    events_statement = allowed['{"Service": "events.amazonaws.com"}']
    assert (events_statement["Action"], events_statement["Resource"]) == ("sns:Publish", {"Ref": topic})
    assert "Condition" not in events_statement
    alarms_statement = allowed['{"Service": "cloudwatch.amazonaws.com"}']
    assert (alarms_statement["Action"], alarms_statement["Resource"]) == ("sns:Publish", {"Ref": topic})
    condition = alarms_statement["Condition"]
    assert condition["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert {arn["Fn::GetAtt"][0] for arn in condition["ArnLike"]["aws:SourceArn"]} == alarms
    assert {arn["Fn::GetAtt"][1] for arn in condition["ArnLike"]["aws:SourceArn"]} == {"Arn"}
    assert len(alarms) == 3


def test_one_rule_per_outcome_routes_this_pipelines_events_to_the_topic(pipeline: SynthesizedPipeline) -> None:
    topic = notification_topic_id(pipeline)
    state_machine_id, _ = workflow_state_machine(pipeline)
    rules = {
        rid: r
        for rid, r in resources_of_type(pipeline, "AWS::Events::Rule").items()
        if "EventPattern" in r["Properties"]
    }
    patterns = {}
    for rule in rules.values():
        properties = rule["Properties"]
        assert properties["State"] == "ENABLED"
        assert "EventBusName" not in properties  # the default bus, where the workflow puts its events
        assert [target["Arn"] for target in properties["Targets"]] == [{"Ref": topic}]
        pattern = properties["EventPattern"]
        patterns[pattern["detail"]["outcome"][0]] = pattern

    assert set(patterns) == {"succeeded", "failed", "skipped", "rejected"}
    for outcome, pattern in patterns.items():
        assert pattern == {
            "source": ["personalize-retraining"],
            "detail-type": ["Retraining run finished"],
            "resources": [{"Ref": state_machine_id}],
            "detail": {"pipelineName": [pipeline.config.pipeline_name], "outcome": [outcome]},
        }


def test_no_email_subscription_unless_configured(pipeline: SynthesizedPipeline) -> None:
    pipeline.template.resource_count_is("AWS::SNS::Subscription", 0)


def test_the_configured_email_is_subscribed_to_the_topic(variations_pipeline: SynthesizedPipeline) -> None:
    with_email = variations_pipeline
    _, subscription = only_resource(with_email, "AWS::SNS::Subscription")

    assert subscription == {
        "Protocol": "email",
        "TopicArn": {"Ref": notification_topic_id(with_email)},
        "Endpoint": "ml-ops@example.com",
    }


def test_outputs_name_the_notification_topic(pipeline: SynthesizedPipeline) -> None:
    assert pipeline.template_json["Outputs"]["NotificationTopicArn"]["Value"] == {
        "Ref": notification_topic_id(pipeline)
    }
