"""The stack: composes the pipeline's constructs from the validated config."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Aspects, CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from contract.functions import (
    COMPLETE_DELETION_REQUESTS,
    ENSURE_DATASET_GROUP,
    LOOK_FOR_ANOTHER_RUN,
    PREPARE_DATA,
    PUBLISH_BATCH_OUTPUT,
    READ_GLUE_OUTPUT,
    RECORD_IMPORT,
    RECORD_RUN,
    VALIDATE_BATCH_OUTPUT,
)
from contract.layout import BATCH_INPUT_PREFIX, manifest_key
from contract.names import PersonalizeNames
from contract.recipes import PERSONALIZED_RANKING
from contract.resources import (
    BATCH_ROLE_PLACEHOLDER,
    DATA_BUCKET_PLACEHOLDER,
    GLUE_JOB_PLACEHOLDER,
    KMS_KEY_PLACEHOLDER,
    PERSONALIZE_ROLE_PLACEHOLDER,
)
from stacks.config import PipelineConfig
from stacks.data_bucket import DataBucket
from stacks.encryption import (
    PERSONALIZE_KEY_ACTIONS,
    S3_READ_WRITE_KEY_ACTIONS,
    EncryptWithKey,
    PipelineKey,
    key_policy_document,
    service_statements,
)
from stacks.glue_job import GlueConversion
from stacks.lambda_functions import WorkflowFunctions, pass_to_personalize
from stacks.monitoring import PipelineMonitoring
from stacks.notifications import RunNotifications
from stacks.personalize_access import (
    BatchInferenceRole,
    PersonalizeArns,
    PersonalizeServiceRole,
    batch_output_objects_arn,
)
from stacks.state_machine import RetrainingStateMachine
from stacks.teardown import PersonalizeTeardown

LOG_RETENTION = logs.RetentionDays.THREE_MONTHS


class PersonalizePipelineStack(Stack):
    """S3 data bucket, roles, Lambda steps, the retraining state machine and its schedule."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PipelineConfig,
        definition_text: str,
        **kwargs: Any,
    ) -> None:
        """``definition_text`` is the workflow definition (stacks/workflow), with placeholders for
        the ARNs the stack substitutes."""
        super().__init__(scope, construct_id, **kwargs)
        # With an existing key (encryption.kmsKey as an ARN): the statements its policy needs.
        self.key_policy_to_add: dict[str, Any] | None = None
        names = PersonalizeNames(config.pipeline_name)
        deployment = config.deployment
        solutions = config.trained_solutions
        arns = PersonalizeArns(
            self, names, [s.recipe_arn for s in solutions], solutions=tuple(s.resource_name for s in solutions)
        )

        key = (
            PipelineKey(self, "Encryption", config=config.encryption, destroy_on_delete=config.data.destroy_on_delete)
            if config.encryption.kms_key is not None
            else None
        )
        data = DataBucket(
            self,
            "Data",
            training_file_retention=Duration.days(90),
            destroy_on_delete=config.data.destroy_on_delete,
            encryption_key=key.key if key else None,
            expire_batch_input=deployment.batch_job,
        )
        # Each wildcard ARN a policy may name, with the reason it cannot be narrower.
        wildcard_reasons = {**data.wildcard_reasons, **arns.wildcard_reasons}
        personalize_role = PersonalizeServiceRole(
            self, "PersonalizeAccess", bucket=data.bucket, wildcard_reasons=wildcard_reasons
        )
        batch_role = None
        if deployment.batch_job:
            # The users file: each run's own (batch-input/<run>/users.json) or the configured one.
            users_key = deployment.batch.users_key
            batch_input_arn = data.bucket.arn_for_objects(users_key or f"{BATCH_INPUT_PREFIX}*")
            several = config.several_solutions
            wildcard_reasons |= {
                data.bucket.arn_for_objects(f"{BATCH_INPUT_PREFIX}*"): "Each run writes the users of its batch job "
                "to batch-input/{execution name}/users.json, a key known only at run time.",
                batch_output_objects_arn(data.bucket): "Each run's batch job writes its output under "
                "recommendations/{execution name}/, a key known only at run time; the pattern excludes the "
                "manifest recommendations/latest.json.",
                batch_output_objects_arn(data.bucket, several=True): "Each run's batch job of a solution writes "
                "its output under recommendations/{solution}/{execution name}/, a key known only at run time; the "
                "pattern excludes each solution's manifest recommendations/{solution}/latest.json.",
            }
            batch_role = BatchInferenceRole(
                self,
                "BatchInference",
                bucket=data.bucket,
                input_objects_arn=batch_input_arn,
                wildcard_reasons=wildcard_reasons,
                several=several,
            )
            data.allow_batch_jobs(input_objects_arn=batch_input_arn, output_objects_arn=batch_role.output_objects_arn)
        if config.data.raw_is_prefix:
            wildcard_reasons |= {
                data.bucket.arn_for_objects(f"{config.data.raw_key}*"): "data.rawKey is a prefix: the ratings are "
                "every object under it (daily drops), whose keys are known only when a run lists them."
            }
        steps = WorkflowFunctions(
            self,
            "Steps",
            bucket=data.bucket,
            raw_key=config.data.raw_key,
            items_key=config.data.items_object_key if config.data.uses_items else None,
            personalize_arns=arns,
            personalize_role=personalize_role.role,
            log_retention=LOG_RETENTION,
            wildcard_reasons=wildcard_reasons,
            deployment=deployment,
            functions=config.functions,
            prepare_memory_mb=config.data.lambda_memory_mb,
            manifest_keys=[manifest_key(s.name) for s in solutions if s.deployment.batch_job],
            ranking=any(s.recipe_type == PERSONALIZED_RANKING for s in solutions),
            batch_role=batch_role.role if batch_role else None,
            batch_input_arn=batch_input_arn if batch_role else None,
            batch_output_arn=batch_role.output_objects_arn if batch_role else None,
            incremental=config.data.incremental,
        )
        glue_job = (
            GlueConversion(
                self,
                "GlueConversion",
                config=config.data.glue,
                bucket=data.bucket,
                raw_key=config.data.raw_key,
                log_retention=LOG_RETENTION,
                wildcard_reasons=wildcard_reasons,
                encryption_key=key.key if key else None,
            )
            if config.data.may_use_glue
            else None
        )
        substitutions = {
            DATA_BUCKET_PLACEHOLDER: data.bucket.bucket_name,
            PERSONALIZE_ROLE_PLACEHOLDER: personalize_role.role.role_arn,
            **{f.placeholder: steps.functions[f.key].function_arn for f in config.functions},
        }
        if batch_role is not None:
            substitutions[BATCH_ROLE_PLACEHOLDER] = batch_role.role.role_arn
        if glue_job is not None:
            substitutions[GLUE_JOB_PLACEHOLDER] = glue_job.job_name
        if key is not None:
            substitutions[KMS_KEY_PLACEHOLDER] = key.key_arn
        workflow = RetrainingStateMachine(
            self,
            "Retraining",
            definition_text=definition_text,
            substitutions=substitutions,
            functions=list(steps.functions.values()),
            run_guard_role=steps.role_of(LOOK_FOR_ANOTHER_RUN),
            personalize_arns=arns,
            schedule=config.schedule,
            log_retention=LOG_RETENTION,
            log_level=config.logging.state_machine_level,
            wildcard_reasons=wildcard_reasons,
            encryption_key=key.key if key else None,
            deployment=deployment,
            readiness_checks=config.readiness_checks,
            glue_job_arn=glue_job.job_arn if glue_job is not None else None,
        )
        notifications = RunNotifications(
            self,
            "Notifications",
            pipeline_name=config.pipeline_name,
            state_machine=workflow.state_machine,
            email=config.notifications.email,
        )
        monitoring = PipelineMonitoring(
            self,
            "Monitoring",
            config=config,
            state_machine=workflow.state_machine,
            topic=notifications.topic,
            outcome_rules=notifications.rules,
            bucket=data.bucket,
            log_retention=LOG_RETENTION,
            wildcard_reasons=wildcard_reasons,
        )
        teardown = PersonalizeTeardown(
            self,
            "Teardown",
            pipeline_name=config.pipeline_name,
            solutions=tuple(s.resource_name for s in solutions),
            # With several solutions, the campaigns the config keeps (a single solution's Names keep it
            # as it always was: a deployment to batch only never created one).
            campaigns=tuple(s.resource_name for s in solutions if s.deployment.campaign)
            if config.several_solutions
            else None,
            personalize_arns=arns,
            state_machine=workflow.state_machine,
            schedule=workflow.schedule,
            log_retention=LOG_RETENTION,
            wildcard_reasons=wildcard_reasons,
        )

        if key is not None:
            self._encrypt_with(key, personalize_role.role, steps, monitoring)
            if batch_role is not None:
                self._batch_jobs_use(key, batch_role.role, steps)
            self._callers_of_the_encrypted_state_machine(key, workflow, teardown)

        CfnOutput(self, "DataBucketName", value=data.bucket.bucket_name, description="Bucket of raw and training data")
        CfnOutput(self, "RawDataKey", value=config.data.raw_key, description="Where the raw ratings file goes")
        CfnOutput(
            self,
            "ItemsKey",
            value=config.data.items_object_key,
            description="Where the movie file goes (u.item or movies.csv; data.itemsKey, data.useItems "
            + config.data.use_items
            + ")",
        )
        CfnOutput(
            self,
            "RawDataUri",
            value=f"s3://{data.bucket.bucket_name}/{config.data.raw_key}",
            description="Upload the raw ratings here (tools/upload_movielens.py does it)",
        )
        CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        CfnOutput(self, "ScheduleName", value=workflow.schedule.schedule_name)
        CfnOutput(self, "PipelineName", value=config.pipeline_name)
        if config.several_solutions:
            CfnOutput(
                self,
                "Solutions",
                value=json.dumps(
                    {
                        str(s.name): {
                            "solution": names.for_solution(s.resource_name).solution,
                            "campaign": names.for_solution(s.resource_name).campaign if s.deployment.campaign else None,
                            "recipeType": s.recipe_type,
                            **({"batch": manifest_key(s.name)} if s.deployment.batch_job else {}),
                        }
                        for s in config.solutions
                    },
                    separators=(",", ":"),
                ),
                description="The solutions this deployment keeps: any other solution of this pipeline, and its "
                "campaign, is deleted by this deploy, so that a solution removed from the config stops billing",
            )
        CfnOutput(
            self,
            "DeploymentTargets",
            value=",".join(deployment.targets),
            description="Where promoted versions go (deployment.targets): campaign, batch",
        )
        CfnOutput(
            self,
            "NotificationTopicArn",
            value=notifications.topic.topic_arn,
            description="Run outcomes and alarms; subscribe here (or set notifications.email)",
        )
        CfnOutput(self, "DashboardName", value=monitoring.dashboard.dashboard_name)
        CfnOutput(
            self,
            "Filters",
            value=json.dumps({f.name: f.expression for f in config.filters}, separators=(",", ":")),
            description="The configured filters (named <PipelineName>-filter-<name>) and their expressions",
        )

    def _encrypt_with(
        self,
        key: PipelineKey,
        personalize_role: iam.IRole,
        steps: WorkflowFunctions,
        monitoring: PipelineMonitoring,
    ) -> None:
        """The key on everything that holds data, and the right to use it for whoever reads that data."""
        Aspects.of(self).add(EncryptWithKey(key.key))
        # Personalize reads the SSE-KMS training files through its role, and uses the key for
        # the dataset group it creates with it.
        personalize_role.add_to_principal_policy(
            iam.PolicyStatement(actions=PERSONALIZE_KEY_ACTIONS, resources=[key.key_arn])
        )
        # The dataset group is created with the key and the role Personalize uses it through.
        steps.role_of(ENSURE_DATASET_GROUP).add_to_principal_policy(pass_to_personalize(personalize_role))
        # Every function that reads or writes the bucket: the raw file, the training file, the run
        # record, the deletion requests.
        for role in (
            steps.role_of(PREPARE_DATA),
            steps.role_of(RECORD_RUN),
            steps.role_of(COMPLETE_DELETION_REQUESTS),
            *(steps.role_of(f) for f in (READ_GLUE_OUTPUT, RECORD_IMPORT) if f.key in steps.functions),
        ):
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=S3_READ_WRITE_KEY_ACTIONS, resources=[key.key_arn])
            )
        if monitoring.heartbeat.role is not None:
            monitoring.heartbeat.role.add_to_principal_policy(
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[key.key_arn])
            )
        statements = service_statements(self)
        key.add_service_statements(statements)
        if not key.created:
            # For the user to add to the existing key's policy (app.py writes it beside the template).
            self.key_policy_to_add = key_policy_document(self, statements)

    def _batch_jobs_use(self, key: PipelineKey, batch_role: iam.IRole, steps: WorkflowFunctions) -> None:
        """Batch jobs read and write SSE-KMS objects through their role (register
        personalize.batch.permissions); the steps around them read and write the same objects."""
        batch_role.add_to_principal_policy(
            iam.PolicyStatement(actions=PERSONALIZE_KEY_ACTIONS, resources=[key.key_arn])
        )
        for spec in (VALIDATE_BATCH_OUTPUT, PUBLISH_BATCH_OUTPUT):
            steps.role_of(spec).add_to_principal_policy(
                iam.PolicyStatement(actions=S3_READ_WRITE_KEY_ACTIONS, resources=[key.key_arn])
            )

    def _callers_of_the_encrypted_state_machine(
        self, key: PipelineKey, workflow: RetrainingStateMachine, teardown: PersonalizeTeardown
    ) -> None:
        """Starting an execution (the schedule) and stopping one with an error and cause (the
        teardown) encrypt data with the state machine's key (register kms.pipeline-key.services):
        both may use the key for this state machine's encryption context only."""
        context = {
            "StringEquals": {
                "kms:EncryptionContext:aws:states:stateMachineArn": workflow.state_machine.state_machine_arn
            }
        }
        statement = iam.PolicyStatement(
            actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[key.key_arn], conditions=context
        )
        callers = [
            role
            for role in self.node.find_all()
            if isinstance(role, iam.Role) and role.node.id.startswith("SchedulerRoleForTarget")
        ]
        if teardown.pause_function.role is not None:
            callers.append(teardown.pause_function.role)
        for role in callers:
            role.add_to_principal_policy(statement)
