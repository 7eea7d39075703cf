"""The retraining schedule's first run: one period after the deployment, not at once.

Register scheduler.rate.first-invocation: EventBridge Scheduler starts a rate schedule without a
StartDate immediately, that is seconds after `cdk deploy` and before anyone uploaded data. The
StartDate is computed at deploy time (synth must stay deterministic) by a small custom resource
(handler lambdas/schedule_start/) through CDK's provider framework, and set on the schedule.

The resource's properties repeat every setting of the schedule, so any change to the schedule
also recomputes its StartDate: CloudFormation then updates the schedule with a start in the
future, never with the one of an earlier deployment (register scheduler.start-date.not-in-past).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CustomResource, RemovalPolicy
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import custom_resources as cr
from constructs import Construct

from contract.functions import COMPUTE_SCHEDULE_START
from contract.resources import SCHEDULE_START_RESOURCE_TYPE
from stacks.config import ScheduleConfig
from stacks.lambda_functions import least_privilege_function, provider_framework_role
from stacks.nag_acknowledgements import PROVIDER_INVOKE_REASON, acknowledge_reviewed_wildcards


class ScheduleStart(Construct):
    """Sets ``schedule``'s StartDate, computed at deploy time, for a rate() schedule."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ScheduleConfig,
        schedule: scheduler.Schedule,
        schedule_settings: Mapping[str, Any],
        log_retention: logs.RetentionDays,
        wildcard_reasons: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        function = least_privilege_function(
            self, COMPUTE_SCHEDULE_START, [], log_retention=log_retention, wildcard_reasons=wildcard_reasons
        )
        provider_logs = logs.LogGroup(
            self, "ProviderLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        framework_role = provider_framework_role(
            self, "OnEventRole", provider_logs, purpose="the schedule's start date"
        )
        provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=function,
            log_group=provider_logs,
            framework_on_event_role=framework_role,
        )
        framework_functions = [child for child in provider.node.children if isinstance(child, lambda_.Function)]
        acknowledge_reviewed_wildcards(
            framework_role,
            {f"{f.function_arn}:*": PROVIDER_INVOKE_REASON for f in (function, *framework_functions)},
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=provider.service_token,
            resource_type=SCHEDULE_START_RESOURCE_TYPE,
            properties={
                "Expression": config.expression,
                "ConfiguredStartDate": config.start_date or "",
                # Any change to the schedule's settings recomputes the start (see the module docstring).
                "ScheduleSettings": dict(schedule_settings),
            },
        )
        self.start_date = self.resource.get_att_string("StartDate")
        cfn_schedule: scheduler.CfnSchedule = schedule.node.default_child  # type: ignore[assignment]
        cfn_schedule.start_date = self.start_date
