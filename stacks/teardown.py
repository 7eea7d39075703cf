"""Teardown on ``cdk destroy``: a custom resource that deletes what the workflow created at run time.

The Personalize resources the workflow creates are not CloudFormation resources; without
this, ``cdk destroy`` would leave the campaign billing every hour. Deleting them takes many
minutes (each deletion is asynchronous, and each must finish before the next one may start),
so the custom resource uses CDK's provider framework with an is-complete handler that is
called every :data:`QUERY_INTERVAL` until everything is gone.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import custom_resources as cr
from constructs import Construct

from contract.functions import DELETE_PERSONALIZE_RESOURCES, PAUSE_PIPELINE
from contract.names import PersonalizeNames
from contract.resources import TEARDOWN_RESOURCE_TYPE
from stacks.lambda_functions import allow, least_privilege_function, provider_framework_role
from stacks.nag_acknowledgements import PROVIDER_INVOKE_REASON, acknowledge_finding, acknowledge_reviewed_wildcards
from stacks.personalize_access import PersonalizeArns

# The provider framework's maximum; CloudFormation itself waits an hour for a custom resource.
# Real deletions take minutes each (a campaign alone often ten), in seven dependent stages.
TOTAL_TIMEOUT = Duration.hours(1)
# Deletions move in minutes: checking more often only costs invocations and state transitions.
QUERY_INTERVAL = Duration.minutes(1)
# The handler gives up with its own message (naming the stuck resource) before the framework's
# generic "Operation timed out" and before CloudFormation's hour, with room for on_event.
GIVE_UP_AFTER = Duration.minutes(55)

SCHEDULE_GROUP = "default"
SCHEDULER_PRINCIPAL = "scheduler.amazonaws.com"


class PersonalizeTeardown(Construct):
    """Deletes the pipeline's run-time Personalize resources when the stack is deleted.

    It depends on the state machine, the schedule and its own functions and roles, so
    CloudFormation deletes it first, while everything it needs still exists.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_name: str,
        solutions: tuple[str | None, ...],
        personalize_arns: PersonalizeArns,
        campaigns: tuple[str | None, ...] | None = None,
        state_machine: sfn.StateMachine,
        schedule: scheduler.Schedule,
        log_retention: logs.RetentionDays,
        wildcard_reasons: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        arns = personalize_arns
        stack = Stack.of(self)
        executions = stack.format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine.state_machine_name}:*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        schedule_role_arn = _schedule_role_arn(schedule)
        pause_statements = [
            allow(["scheduler:GetSchedule", "scheduler:UpdateSchedule"], [schedule.schedule_arn]),
            # UpdateSchedule sends the schedule's target role again.
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[schedule_role_arn],
                conditions={"StringEquals": {"iam:PassedToService": SCHEDULER_PRINCIPAL}},
            ),
            allow(["states:ListExecutions"], [state_machine.state_machine_arn]),
            allow(["states:StopExecution"], [executions]),
        ]
        delete_statements = [
            # List* calls support no resource-level permissions.
            allow(
                [
                    "personalize:ListDatasetGroups",
                    "personalize:ListCampaigns",
                    "personalize:ListSolutions",
                    "personalize:ListSolutionVersions",
                    "personalize:ListEventTrackers",
                    "personalize:ListFilters",
                    "personalize:ListDatasets",
                    "personalize:ListSchemas",
                ],
                ["*"],
            ),
            # A solution the config no longer names is deleted too (on the update that removes it).
            allow(["personalize:DeleteCampaign"], [arns.named_campaigns]),
            # Authorized against the solution resource type (register iam.personalize.solution-version-actions).
            allow(["personalize:StopSolutionVersionCreation"], [arns.named_solutions]),
            allow(["personalize:DeleteSolution"], [arns.named_solutions]),
            allow(["personalize:DeleteEventTracker"], [arns.event_trackers]),
            allow(["personalize:DeleteFilter"], [arns.filters]),
            allow(["personalize:DeleteDataset"], [arns.datasets]),
            allow(["personalize:DeleteSchema"], [arns.schema, arns.items_schemas]),
            allow(["personalize:DeleteDatasetGroup"], [arns.dataset_group]),
        ]
        reasons = {
            **wildcard_reasons,
            executions: "StopExecution is granted on the executions of this state machine only; their names "
            "are made per run, so the ARN ends in a wildcard.",
            arns.event_trackers: "Event tracker ARNs carry a generated id, not a name; the handler deletes only "
            "trackers whose name belongs to this pipeline.",
            arns.filters: "Filter ARNs are named per filter; the grant is limited to names that start with the "
            "pipeline name, and the handler checks each name.",
        }
        self.pause_function = least_privilege_function(
            self,
            PAUSE_PIPELINE,
            pause_statements,
            log_retention=log_retention,
            wildcard_reasons=reasons,
        )
        self.delete_function = least_privilege_function(
            self,
            DELETE_PERSONALIZE_RESOURCES,
            delete_statements,
            log_retention=log_retention,
            wildcard_reasons=reasons,
        )
        provider_logs = logs.LogGroup(
            self, "ProviderLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        # The framework's own functions get roles like ours (write to their log group, nothing
        # else) instead of the AWSLambdaBasicExecutionRole managed policy (logs:* everywhere).
        framework_roles = [
            provider_framework_role(self, name, provider_logs, purpose="the Personalize teardown")
            for name in ("OnEventRole", "CompleteRole")
        ]
        self.provider = cr.Provider(
            self,
            "Provider",
            on_event_handler=self.pause_function,
            is_complete_handler=self.delete_function,
            query_interval=QUERY_INTERVAL,
            total_timeout=TOTAL_TIMEOUT,
            log_group=provider_logs,
            framework_on_event_role=framework_roles[0],
            framework_complete_and_timeout_role=framework_roles[1],
            # Logging the waiter would cost CDK's logs:PutLogEvents grant on "*"; see SF1 below.
            disable_waiter_state_machine_logging=True,
        )
        self._acknowledge_framework_findings(framework_roles)
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.provider.service_token,
            resource_type=TEARDOWN_RESOURCE_TYPE,
            properties={
                "PipelineName": pipeline_name,
                # The names it may delete, from the one naming scheme: the handler derives none.
                "Names": PersonalizeNames(pipeline_name).as_properties(solutions, campaigns),
                "StateMachineArn": state_machine.state_machine_arn,
                "ScheduleName": schedule.schedule_name,
                "ScheduleGroupName": SCHEDULE_GROUP,
                "GiveUpAfterSeconds": str(int(GIVE_UP_AFTER.to_seconds())),
            },
        )
        # Deleted before all it needs: the references above already order it after the state
        # machine and schedule; the functions' roles and policies are made explicit here.
        for function in (self.pause_function, self.delete_function):
            self.resource.node.add_dependency(function, function.role)
        self.resource.node.add_dependency(state_machine, schedule)

    def _acknowledge_framework_findings(self, roles: list[iam.Role]) -> None:
        """What the provider framework adds and does not let us change, each with its reason."""
        framework_functions = [child for child in self.provider.node.children if isinstance(child, lambda_.Function)]
        invoked = {
            f"{function.function_arn}:*": PROVIDER_INVOKE_REASON
            for function in (self.pause_function, self.delete_function, *framework_functions)
        }
        for role in roles:
            acknowledge_reviewed_wildcards(role, invoked)
        waiter = self.provider.node.find_child("waiter-state-machine")
        acknowledge_reviewed_wildcards(waiter.node.find_child("Role"), invoked)  # type: ignore[arg-type]
        acknowledge_finding(
            waiter.node.find_child("Resource"),
            "AwsSolutions-SF1",
            "The provider framework's waiter state machine only calls isComplete until it reports done; "
            "that function logs every step, and logging the waiter would need CDK's logs:PutLogEvents grant on '*'.",
        )
        acknowledge_finding(
            waiter.node.find_child("Resource"),
            "AwsSolutions-SF2",
            "The provider framework's waiter state machine offers no tracing setting; it only waits and "
            "calls isComplete, whose own function is traced.",
        )


def _schedule_role_arn(schedule: scheduler.Schedule) -> str:
    """The role the schedule's target runs with (the L2 construct creates it and keeps no handle)."""
    target = schedule.node.default_child.target  # type: ignore[union-attr]
    role_arn: str = target.role_arn
    return role_arn
