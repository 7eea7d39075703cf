"""The state machine that runs a retraining, and the schedule that starts it."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack, TimeZone
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from contract.events import EVENT_DETAIL_TYPE, EVENT_SOURCE
from contract.readiness import ITEMS_IMPORT_READY, ReadinessCheck, planned_checks
from stacks.config import DeploymentConfig, ScheduleConfig
from stacks.nag_acknowledgements import acknowledge_finding, acknowledge_reviewed_wildcards
from stacks.personalize_access import PersonalizeArns
from stacks.schedule_start import ScheduleStart


def chosen_log_level_reason(level: str) -> str:
    """Why the state machine may log less than ALL events (cdk-nag AwsSolutions-SF1)."""
    return (
        f"The operator chose logging.stateMachineLevel {level} in the config (the default is ALL); "
        "each run's outcome is still published as an event and kept in the run record."
    )


# Why the state machine role holds statements on "*" (cdk-nag AwsSolutions-IAM5 acknowledgement).
ANY_RESOURCE_REASON = (
    "Added by CDK for execution logs and tracing, on APIs without resource-level permissions: "
    "CloudWatch Logs vended log delivery (CreateLogDelivery and its siblings, resource policies, DescribeLogGroups) "
    "and X-Ray (PutTraceSegments, PutTelemetryRecords, GetSamplingRules, GetSamplingTargets)."
)
# What the schedule sends: a run started by the schedule says so.
SCHEDULE_INPUT = '{"trigger":"schedule"}'
INVOKE_QUALIFIERS_REASON = (
    "grant_invoke also allows the versions and aliases of this one workflow function (its ARN and a "
    "qualifier); the definition invokes the unqualified ARN."
)


class RetrainingStateMachine(Construct):
    """Deploys exactly the definition synth emitted, with deploy-time ARNs substituted."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definition_text: str,
        substitutions: dict[str, str],
        functions: list[lambda_.IFunction],
        run_guard_role: iam.IRole,
        personalize_arns: PersonalizeArns,
        schedule: ScheduleConfig,
        log_retention: logs.RetentionDays,
        log_level: str,
        wildcard_reasons: Mapping[str, str],
        encryption_key: kms.IKey | None = None,
        deployment: DeploymentConfig | None = None,
        readiness_checks: tuple[ReadinessCheck, ...] | None = None,
        glue_job_arn: str | None = None,
    ) -> None:
        """``readiness_checks``: the waits of the definition (PipelineConfig.readiness_checks), whose
        Describe calls the role makes; by default those of ``deployment`` without items."""
        super().__init__(scope, construct_id)
        arns = personalize_arns
        deployment = deployment or DeploymentConfig()
        checks = readiness_checks or planned_checks(campaign=deployment.campaign, batch=deployment.batch_job)
        # Under /aws/vendedlogs/: Step Functions' best practices page ("Avoiding Amazon CloudWatch Logs
        # resource policy size limits"): log delivery then needs no per-group entry in the account's
        # 5,120-character Logs resource policy (register sfn.logs.vendedlogs-prefix). A stack
        # name is unique per account and region, so is this name.
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/vendedlogs/states/{Stack.of(self).stack_name}-retraining",
            retention=log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            # With a key, a fixed name: the role's KMS grant is scoped by the encryption context
            # aws:states:stateMachineArn, which CDK builds from the name (a generated name would
            # leave it empty and the grant unusable). Turning the key on replaces the state machine.
            state_machine_name=f"{Stack.of(self).stack_name}-retraining" if encryption_key is not None else None,
            comment="Retrains and redeploys the Amazon Personalize recommender",
            definition_body=sfn.DefinitionBody.from_string(definition_text),
            definition_substitutions=substitutions,
            state_machine_type=sfn.StateMachineType.STANDARD,
            # Tracing and logging add X-Ray and log-delivery actions on "*": those APIs have no
            # resource-level permissions.
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel[log_level], include_execution_data=True),
            # Execution data (inputs, outputs, history) under the pipeline's key, with data keys
            # reused for five minutes (the Step Functions default) to bound the KMS requests.
            encryption_configuration=(
                sfn.CustomerManagedEncryptionConfiguration(encryption_key, Duration.minutes(5))
                if encryption_key is not None
                else None
            ),
        )
        if log_level != "ALL":
            acknowledge_finding(
                self.state_machine.node.default_child, "AwsSolutions-SF1", chosen_log_level_reason(log_level)
            )
        # The definition is opaque to CDK, so the role's permissions are granted by hand.
        for function in functions:
            function.grant_invoke(self.state_machine)
        if glue_job_arn is not None:
            # What the .sync Glue integration calls: start the run, follow it, stop it when the
            # execution is stopped (register sfn.glue.sync).
            self.state_machine.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
                    resources=[glue_job_arn],
                )
            )
        describe_actions = sorted({check.iam_action for check in checks})
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=describe_actions,
                resources=[
                    arns.dataset_group,
                    arns.datasets,
                    arns.import_jobs,
                    *([arns.items_import_jobs] if ITEMS_IMPORT_READY in checks else []),
                    # One solution: its own ARNs. Several: the patterns of every solution's (and version's)
                    # and campaign's name, so that the policy stays one size whatever their number (an
                    # inline policy is at most 10,240 characters).
                    *(
                        [arns.named_solutions, *([arns.named_campaigns] if deployment.campaign else [])]
                        if len(arns.solutions) > 1
                        else [
                            *arns.solutions,
                            *arns.solution_versions,
                            *(arns.campaigns if deployment.campaign else []),
                        ]
                    ),
                    *([arns.batch_jobs] if deployment.batch_job else []),
                    arns.deletion_jobs,
                ],
            )
        )
        # Each run's outcome event, on the default bus only and only with the workflow's own source
        # and detail-type (both are IAM condition keys of PutEvents).
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["events:PutEvents"],
                resources=[Stack.of(self).format_arn(service="events", resource="event-bus", resource_name="default")],
                conditions={"StringEquals": {"events:source": EVENT_SOURCE, "events:detail-type": EVENT_DETAIL_TYPE}},
            )
        )
        acknowledge_reviewed_wildcards(
            self.state_machine.role,
            {
                **wildcard_reasons,
                "*": ANY_RESOURCE_REASON,
                **{f"{function.function_arn}:*": INVOKE_QUALIFIERS_REASON for function in functions},
            },
        )
        # "Look for another run" lists this state machine's executions. A separate policy on
        # that function's role: on the role's default policy, the state machine's ARN would make
        # the function depend on the state machine that depends on the function.
        list_own_executions = iam.Policy(
            self,
            "ListOwnExecutions",
            roles=[run_guard_role],
            statements=[
                iam.PolicyStatement(actions=["states:ListExecutions"], resources=[self.state_machine.state_machine_arn])
            ],
        )
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description="Starts a retraining of the Personalize recommender",
            schedule=scheduler.ScheduleExpression.expression(schedule.expression, TimeZone.of(schedule.time_zone)),
            target=targets.StepFunctionsStartExecution(
                self.state_machine,
                input=scheduler.ScheduleTargetInput.from_text(SCHEDULE_INPUT),
                retry_attempts=2,
                max_event_age=Duration.hours(1),
            ),
            enabled=schedule.enabled,
        )
        # The first scheduled run must find every permission in place: the schedule waits for the
        # one policy nothing else it depends on waits for (the state machine already waits for
        # its role's policy, and each function for its own).
        self.schedule.node.add_dependency(list_own_executions)
        if schedule.is_rate:
            ScheduleStart(
                self,
                "FirstRun",
                config=schedule,
                schedule=self.schedule,
                schedule_settings={
                    "TimeZone": schedule.time_zone,
                    "Enabled": str(schedule.enabled).lower(),
                    "Target": self.state_machine.state_machine_arn,
                    "Input": SCHEDULE_INPUT,
                },
                log_retention=log_retention,
                wildcard_reasons=wildcard_reasons,
            )
