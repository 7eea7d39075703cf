"""Health that reaches a person: alarms on the state machine and on stale models, and a dashboard.

Three alarms notify the run-outcome topic (docs/runbook.md says what each means and what to
do): an execution failed, an execution timed out, and no successful retraining for longer
than the schedule allows. The last one is fed by an hourly heartbeat function that reads the
state record, because a CloudWatch alarm looks back at most seven days and the default
schedule is weekly: an alarm on "no success data point in the window" could not cover it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from contract.events import METRIC_NAMESPACE, RETRAINING_AGE_METRIC
from contract.functions import REPORT_RETRAINING_AGE
from contract.layout import STATE_KEY
from contract.personalize import TRAINING_MODES
from contract.readiness import SOLUTION_CHECKS, TRAINING_READY, ReadinessCheck
from stacks.config import PipelineConfig
from stacks.lambda_functions import least_privilege_function, put_metric_data_statement

# A run may end this much later than the schedule's longest interval before the model counts as
# stale: a slow training, or a failed run retried by hand the same day, is not yet an alarm.
STALENESS_GRACE = timedelta(days=1)
# The heartbeat reports hourly; three hours over the limit (or without a report) make the alarm.
HEARTBEAT_PERIOD = Duration.hours(1)
STALENESS_PERIODS = 3
EXECUTION_ALARM_PERIOD = Duration.minutes(5)


def staleness_threshold_hours(config: PipelineConfig) -> int:
    """Hours without a successful retraining that the schedule allows: its longest interval plus grace."""
    return math.ceil((config.schedule.longest_interval + STALENESS_GRACE).total_seconds() / 3600)


def stage_keys(config: PipelineConfig | None = None, checks: tuple[ReadinessCheck, ...] | None = None) -> list[str]:
    """The Stage dimension values the record step reports (training is kept per mode), of every
    planned check or of ``checks``."""
    keys = []
    for check in checks if checks is not None else (config or PipelineConfig()).readiness_checks:
        keys += [f"{check.key}.{mode}" for mode in TRAINING_MODES] if check is TRAINING_READY else [check.key]
    return keys


class PipelineMonitoring(Construct):
    """The alarms, the heartbeat that feeds the staleness alarm, and the dashboard."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        state_machine: sfn.StateMachine,
        topic: sns.ITopic,
        outcome_rules: Mapping[str, events.Rule],
        bucket: s3.IBucket,
        log_retention: logs.RetentionDays,
        wildcard_reasons: Mapping[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        pipeline = config.pipeline_name
        notify = actions.SnsAction(topic)

        self.failed_alarm = state_machine.metric_failed(period=EXECUTION_ALARM_PERIOD, statistic="Sum").create_alarm(
            self,
            "ExecutionsFailed",
            alarm_description=f"A retraining run of {pipeline} failed (docs/runbook.md: 'Run failed').",
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.timed_out_alarm = state_machine.metric_timed_out(
            period=EXECUTION_ALARM_PERIOD, statistic="Sum"
        ).create_alarm(
            self,
            "ExecutionsTimedOut",
            alarm_description=(
                f"A retraining run of {pipeline} hit the execution timeout; it published no outcome event "
                "(docs/runbook.md: 'Run timed out')."
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

        self.heartbeat = heartbeat = least_privilege_function(
            self,
            REPORT_RETRAINING_AGE,
            [
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[bucket.arn_for_objects(STATE_KEY)]),
                # A missing record is NoSuchKey (no successful run yet), not AccessDenied.
                iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]),
                put_metric_data_statement(),
            ],
            log_retention=log_retention,
            wildcard_reasons=wildcard_reasons,
        )
        events.Rule(
            self,
            "Heartbeat",
            description=f"Every hour: how long ago {pipeline} last retrained successfully, for the staleness alarm",
            schedule=events.Schedule.rate(HEARTBEAT_PERIOD),
            targets=[
                targets.LambdaFunction(
                    heartbeat,
                    event=events.RuleTargetInput.from_object(
                        {
                            "bucket": bucket.bucket_name,
                            "stateKey": STATE_KEY,
                            "metricNamespace": METRIC_NAMESPACE,
                            "pipelineName": pipeline,
                            # Several solutions: the ones the config lists now (a removed one's record
                            # stops aging the metric).
                            **({"solutions": [s.name for s in config.solutions]} if config.several_solutions else {}),
                        }
                    ),
                    retry_attempts=2,
                )
            ],
        )
        self.threshold_hours = staleness_threshold_hours(config)
        retraining_age = cloudwatch.Metric(
            namespace=METRIC_NAMESPACE,
            metric_name=RETRAINING_AGE_METRIC,
            dimensions_map={"PipelineName": pipeline},
            statistic="Maximum",
            period=HEARTBEAT_PERIOD,
        )
        self.stale_alarm = retraining_age.create_alarm(
            self,
            "NoRecentRetraining",
            alarm_description=(
                f"{pipeline} has not retrained successfully for more than {self.threshold_hours} hours "
                f"(schedule {config.schedule.expression} plus a day), or its heartbeat stopped reporting "
                "(docs/runbook.md: 'No recent retraining')."
            ),
            threshold=self.threshold_hours,
            evaluation_periods=STALENESS_PERIODS,
            datapoints_to_alarm=STALENESS_PERIODS,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            # No report is as bad as a stale one: the heartbeat stopped, or nothing ever succeeded.
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        self.alarms = alarms = (self.failed_alarm, self.timed_out_alarm, self.stale_alarm)
        for alarm in alarms:
            alarm.add_alarm_action(notify)
        self.stale_alarm.add_ok_action(notify)
        # The topic's policy (TLS only, EventBridge's rules) replaces SNS's default policy, so the
        # alarms may publish only if it says so (register sns.topic-policy.alarm-publish).
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlarmsPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions={
                    "ArnLike": {"aws:SourceArn": [alarm.alarm_arn for alarm in alarms]},
                    "StringEquals": {"aws:SourceAccount": Stack.of(self).account},
                },
            )
        )

        self.dashboard = self._dashboard(config, state_machine, outcome_rules, retraining_age)

    @staticmethod
    def _stage_metrics(config: PipelineConfig, period: Duration) -> list[cloudwatch.Metric]:
        """One line per stage the record step reports; with several solutions, the run's shared stages
        and each solution's own (dimension Solution, as lambdas/run_record puts them)."""

        def metric(stage: str, solution: str | None = None) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=METRIC_NAMESPACE,
                metric_name="StageDuration",
                dimensions_map={
                    "PipelineName": config.pipeline_name,
                    "Stage": stage,
                    **({"Solution": solution} if solution else {}),
                },
                statistic="Maximum",
                period=period,
                label=f"{solution}: {stage}" if solution else stage,
            )

        if not config.several_solutions:
            return [metric(stage) for stage in stage_keys(config)]
        solution_stages = {check.key for check in SOLUTION_CHECKS}
        shared = [metric(stage) for stage in stage_keys(config) if stage.split(".")[0] not in solution_stages]
        own = [
            metric(stage, solution.name)
            for solution in config.solutions
            for stage in stage_keys(config, config.solution_checks(solution))
        ]
        return shared + own

    def _dashboard(
        self,
        config: PipelineConfig,
        state_machine: sfn.StateMachine,
        outcome_rules: Mapping[str, events.Rule],
        retraining_age: cloudwatch.Metric,
    ) -> cloudwatch.Dashboard:
        pipeline = config.pipeline_name
        day = Duration.days(1)
        dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.days(35))
        dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(
                title="Alarms", alarms=[self.failed_alarm, self.timed_out_alarm, self.stale_alarm], width=24, height=3
            )
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Run outcomes per day (one outcome event per run)",
                left=[
                    cloudwatch.Metric(
                        namespace="AWS/Events",
                        metric_name="MatchedEvents",
                        dimensions_map={"RuleName": rule.rule_name},
                        statistic="Sum",
                        period=day,
                        label=outcome,
                    )
                    for outcome, rule in outcome_rules.items()
                ],
                stacked=True,
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Executions per day",
                left=[
                    state_machine.metric_succeeded(period=day, statistic="Sum", label="succeeded"),
                    state_machine.metric_failed(period=day, statistic="Sum", label="failed"),
                    state_machine.metric_timed_out(period=day, statistic="Sum", label="timed out"),
                    state_machine.metric_aborted(period=day, statistic="Sum", label="aborted"),
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Stage durations, creation to ACTIVE (seconds)",
                left=self._stage_metrics(config, day),
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Deployed model: "
                + ", ".join(dict.fromkeys(s.quality_gate.metric for s in config.trained_solutions)),
                left=[
                    cloudwatch.Metric(
                        namespace=METRIC_NAMESPACE,
                        metric_name="DeployedModelMetric",
                        dimensions_map={
                            "PipelineName": pipeline,
                            "Metric": solution.quality_gate.metric,
                            **({"Solution": solution.name} if solution.name else {}),
                        },
                        statistic="Maximum",
                        period=day,
                        label=f"{solution.name}: {solution.quality_gate.metric}"
                        if solution.name
                        else solution.quality_gate.metric,
                    )
                    for solution in config.trained_solutions
                ],
                left_annotations=(
                    [cloudwatch.HorizontalAnnotation(value=config.quality_gate.minimum, label="qualityGate.minimum")]
                    if not config.several_solutions and config.quality_gate.minimum is not None
                    else None
                ),
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Hours since the last successful retraining",
                left=[retraining_age],
                left_annotations=[cloudwatch.HorizontalAnnotation(value=self.threshold_hours, label="alarm")],
                width=6,
            ),
        )
        return dashboard
