"""An offline AWS account in which the synthesized pipeline runs for real, minus the services.

What is real here: the definition synth wrote (checked to be the text the template deploys),
the ASL interpreter (aws-local-stepfunctions), the Lambda handler code loaded from the cloud
assembly's asset folders, boto3/botocore with their request validation. What is simulated:
Amazon Personalize (:mod:`simulator.personalize`), S3 (moto), and the clock.
"""

from __future__ import annotations

import contextlib
import io
import json
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

import boto3
from moto import mock_aws

from contract.resources import (
    GLUE_START_JOB_RUN_SYNC,
    PERSONALIZE_ROLE_PLACEHOLDER,
    PUT_EVENTS_INTEGRATION,
    SCHEDULE_START_RESOURCE_TYPE,
    SDK_INTEGRATION_PREFIX,
    TEARDOWN_RESOURCE_TYPE,
)
from pipelinectl.schedule import next_run
from simulator import aws as simulated_aws
from simulator.clock import SimulatedClock
from simulator.cloud_assembly import SynthesizedPipeline, substitute
from simulator.cloudformation import CloudFormationStacks
from simulator.events import EventBus, PutEventsTaskError
from simulator.glue import GlueJobs, job_definition
from simulator.iam import ALLOW, DENY, Request, TemplateValues, evaluate
from simulator.interpreter import ExecutionEvent, ExecutionResult, TaskFailure, TaskRequest, run_execution
from simulator.lambda_runtime import environment, invoke_lambda
from simulator.personalize import PersonalizeSimulator, StageDurations
from simulator.provider_framework import CustomResourceOutcome, OfflineCustomResource
from simulator.sample_data import Rating, to_ratings_csv, to_u_data
from simulator.sns import Topics
from simulator.step_functions import StepFunctionsAccount, StepFunctionsExecutions
from stacks.artifacts import STACK_NAME

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STATE_MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:PersonalizePipeline"
SCHEDULE_NAME = "PersonalizePipeline-RetrainingSchedule-offline"
OFFLINE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "offline",
    "AWS_SECRET_ACCESS_KEY": "offline",
    "AWS_SESSION_TOKEN": "offline",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@dataclass
class OfflineAccount:
    """One simulated account: a clock, Personalize, EventBridge's buses and S3 (moto), active while the context lasts."""

    clock: SimulatedClock
    personalize: PersonalizeSimulator
    step_functions: StepFunctionsExecutions
    cloudformation: CloudFormationStacks
    event_bus: EventBus
    # Every stack's state machine (several pipelines); ``step_functions`` is the first stack's.
    state_machines: StepFunctionsAccount | None = None
    # The stacks deployed into the account, in order (several pipelines deploy one each).
    pipelines: list[OfflinePipeline] = field(default_factory=list)
    # One S3 client for the account's life: making a boto3 client costs ~35 ms, and the harness
    # and the simulated services call S3 dozens of times per run (boto3 clients are thread-safe).
    s3_client: Any = None

    def s3(self) -> Any:
        return self.s3_client


@contextlib.contextmanager
def offline_account(
    *, durations: StageDurations | None = None, start: datetime | None = None
) -> Iterator[OfflineAccount]:
    """Activate the simulated services for this process; restore everything afterwards."""
    with environment(OFFLINE_CREDENTIALS), mock_aws():
        clock = SimulatedClock(start) if start else SimulatedClock()

        s3 = boto3.client("s3", region_name=REGION)

        def read_s3(bucket: str, key: str) -> bytes:
            return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

        def list_s3(bucket: str, prefix: str) -> list[str]:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            return [item["Key"] for page in pages for item in page.get("Contents", [])]

        def write_s3(bucket: str, key: str, body: bytes) -> None:
            s3.put_object(Bucket=bucket, Key=key, Body=body)

        personalize = PersonalizeSimulator(
            clock,
            region=REGION,
            account_id=ACCOUNT_ID,
            durations=durations or StageDurations(),
            s3_reader=read_s3,
            s3_lister=list_s3,
            s3_writer=write_s3,
        )
        step_functions = StepFunctionsExecutions(clock, STATE_MACHINE_ARN)
        state_machines = StepFunctionsAccount(step_functions)
        cloudformation = CloudFormationStacks(region=REGION, account_id=ACCOUNT_ID)
        with (
            simulated_aws.activate(personalize),
            simulated_aws.route("stepfunctions", state_machines.handle),
            simulated_aws.route("cloudformation", cloudformation.handle),
        ):
            event_bus = EventBus(region=REGION, account_id=ACCOUNT_ID, clock=clock.now)
            yield OfflineAccount(
                clock=clock,
                personalize=personalize,
                step_functions=step_functions,
                state_machines=state_machines,
                cloudformation=cloudformation,
                event_bus=event_bus,
                s3_client=s3,
            )


@dataclass(frozen=True)
class OfflineSnapshot:
    """An offline pipeline's account at one moment, for :meth:`OfflinePipeline.restore`."""

    now: datetime
    personalize: dict[str, Any]
    objects: dict[str, bytes]


@dataclass
class OfflinePipeline:
    """The synthesized stack "deployed" into an offline account."""

    synthesized: SynthesizedPipeline
    account: OfflineAccount
    bucket_name: str = "personalizepipeline-databucket-offline"
    invocations: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    function_logs: io.StringIO = field(default_factory=io.StringIO)
    _lambda_faults: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # The one pipeline's stack keeps the harness's fixed names; each of several pipelines' stacks
        # (PersonalizePipeline-<name>) gets its own, derived from the stack's name as CloudFormation's are.
        self.stack_name = self.synthesized.stack_name
        own = self.stack_name != STACK_NAME
        prefix = f"{self.stack_name}-" if own else ""
        if own and self.bucket_name == OfflinePipeline.bucket_name:
            self.bucket_name = f"{self.stack_name.lower()}-databucket-offline"
        self.account.s3().create_bucket(Bucket=self.bucket_name)
        self.account.s3().put_bucket_versioning(Bucket=self.bucket_name, VersioningConfiguration={"Status": "Enabled"})
        self._function_arns = {
            logical_id: f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{prefix}{logical_id}"
            for logical_id in self.synthesized.functions
        }
        self._functions_by_arn = {arn: self.synthesized.functions[lid] for lid, arn in self._function_arns.items()}
        self.state_machine_arn = f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{self.stack_name}"
        self.personalize_role_arn = f"arn:aws:iam::{ACCOUNT_ID}:role/{self.stack_name}-PersonalizeRole"
        if own:
            assert self.account.state_machines is not None
            self.step_functions = self.account.state_machines.add(self.state_machine_arn)
        else:
            self.step_functions = self.account.step_functions
        self.schedule_name = SCHEDULE_NAME if not own else f"{self.stack_name}-RetrainingSchedule-offline"
        self.values = self._template_values(prefix)
        self.topics = Topics(self.values)
        self.account.event_bus.listeners.append(self.topics.deliver_event)
        self.account.pipelines.append(self)
        self.account.personalize.s3_access_denied = self._route_s3_access
        self.account.personalize.batch_s3_access_denied = self._route_batch_s3_access
        self.definition = self.synthesized.resolve_definition(self._substitution_values())
        job = job_definition(self.synthesized.template["Resources"], self.values.resolve, self.synthesized.asset_file)
        self.glue = (
            GlueJobs(job, read_object=self._read_object, write_object=self._write_object, clock=self.account.clock.now)
            if job is not None
            else None
        )
        self._deploy_schedule()
        self.teardown = self._deploy_teardown()
        self._record_stack()
        self._state_types = {name: state["Type"] for name, state in self.definition["States"].items()}
        self._background: list[threading.Thread] = []
        self._background_errors: list[BaseException] = []
        self.step_functions.starter = self.start_from_api
        self.step_functions.state_machine = {
            "stateMachineArn": self.state_machine_arn,
            "name": self.stack_name,
            "status": "ACTIVE",
            "definition": json.dumps(self.definition, indent=2),
            "roleArn": f"arn:aws:iam::{ACCOUNT_ID}:role/{self.stack_name}-StateMachineRole",
            "type": "STANDARD",
            "creationDate": self.account.clock.now(),
        }

    def _template_values(self, prefix: str = "") -> TemplateValues:
        """Physical names in the offline account: those the harness fixes, else the logical id (after
        the stack's name, for one of several pipelines' stacks)."""
        resources = self.synthesized.template["Resources"]
        names = {logical_id: f"{prefix}{logical_id}" for logical_id in resources}
        fixed = {
            "AWS::StepFunctions::StateMachine": self.state_machine_arn,
            "AWS::Scheduler::Schedule": self.schedule_name,
            "AWS::S3::Bucket": self.bucket_name,
        }
        names.update({lid: fixed[r["Type"]] for lid, r in resources.items() if r["Type"] in fixed})
        role = self.synthesized.definition_substitutions.get(PERSONALIZE_ROLE_PLACEHOLDER, {}).get(
            "Fn::GetAtt", [None]
        )[0]
        if role is not None:
            names[role] = self.personalize_role_arn.rpartition("/")[2]
        return TemplateValues(self.synthesized.template, REGION, ACCOUNT_ID, self.stack_name, names)

    def owns_role(self, role_arn: str) -> bool:
        """A role of this stack (several stacks in one account each decide for their own roles)."""
        roles = [lid for lid, r in self.synthesized.template["Resources"].items() if r["Type"] == "AWS::IAM::Role"]
        return role_arn == self.personalize_role_arn or role_arn in {self.values.arn(lid) for lid in roles}

    def _owner_of(self, role_arn: str) -> OfflinePipeline:
        return next((p for p in self.account.pipelines if p.owns_role(role_arn)), self)

    def _route_s3_access(self, role_arn: str, location: str) -> str | None:
        return self._owner_of(role_arn)._personalize_s3_access_denied(role_arn, location)

    def _route_batch_s3_access(self, role_arn: str, input_path: str, output_path: str) -> str | None:
        return self._owner_of(role_arn)._batch_s3_access_denied(role_arn, input_path, output_path)

    def _batch_s3_access_denied(self, role_arn: str, input_path: str, output_path: str) -> str | None:
        """A batch job's reads and writes, decided by its role's policies and the bucket policy.

        Register personalize.batch.permissions (the requests are assumed: ListBucket, GetObject on
        the input file, PutObject of ``<input file name>.out`` under the output path).
        """
        bucket, _, input_key = input_path.removeprefix("s3://").partition("/")
        out_bucket, _, output_prefix = output_path.removeprefix("s3://").partition("/")
        output_key = f"{output_prefix}{input_key.rpartition('/')[2]}.out"
        return self._service_access_denied(
            role_arn,
            [
                ("s3:ListBucket", f"arn:aws:s3:::{bucket}", bucket),
                ("s3:GetObject", f"arn:aws:s3:::{bucket}/{input_key}", bucket),
                ("s3:PutObject", f"arn:aws:s3:::{out_bucket}/{output_key}", out_bucket),
            ],
            key_actions=("kms:Decrypt", "kms:GenerateDataKey"),
        )

    def _service_access_denied(
        self, role_arn: str, requests: list[tuple[str, str, str]], *, key_actions: tuple[str, ...]
    ) -> str | None:
        """Personalize acting on S3 through ``role_arn``: each (action, resource, bucket) must be allowed
        by the role's policies and by the bucket's policy for the service principal, and with SSE-KMS
        each of ``key_actions`` by the key (register s3.sse-kms.decrypt)."""
        role_name = role_arn.rpartition("/")[2]
        resources = self.synthesized.template["Resources"]
        identity = [
            self.values.resolve(r["Properties"]["PolicyDocument"])
            for r in resources.values()
            if r["Type"] == "AWS::IAM::Policy" and role_name in self.values.resolve(r["Properties"].get("Roles", []))
        ]
        context = {"aws:SourceAccount": ACCOUNT_ID, "aws:SecureTransport": "true"}
        for action, resource, bucket in requests:
            bucket_policy = [
                self.values.resolve(r["Properties"]["PolicyDocument"])
                for r in resources.values()
                if r["Type"] == "AWS::S3::BucketPolicy" and self.values.resolve(r["Properties"]["Bucket"]) == bucket
            ]
            as_role = Request(action, resource, principal_arn=role_arn, context=context)
            as_service = Request(action, resource, principal_service="personalize.amazonaws.com", context=context)
            if (
                evaluate(identity, as_role) != ALLOW
                or evaluate(bucket_policy, as_service, resource_policy=True) != ALLOW
            ):
                return (
                    f"Insufficient privileges for accessing data in S3 ({action} on {resource} denied). Check that the "
                    "role passed in roleArn and the bucket policy allow Amazon Personalize to do it."
                )
        for bucket in sorted({bucket for _, _, bucket in requests}):
            key_arn, key_policy = self._bucket_kms_key(bucket)
            for key_action in key_actions:
                if key_policy is not None and not self._key_allows(
                    key_arn, key_policy, identity, Request(key_action, "*", principal_arn=role_arn)
                ):
                    return (
                        f"Insufficient privileges for accessing data in S3 ({key_action} on {key_arn} denied): the "
                        "objects are encrypted with that KMS key. Check that its key policy lets the role passed in "
                        "roleArn use it."
                    )
        return None

    def _personalize_s3_access_denied(self, role_arn: str, location: str) -> str | None:
        """Personalize's reads for an import, decided by the role's policies and the bucket policy.

        Register personalize.s3-access.policy (the requests are assumed: ListBucket on the bucket
        without a prefix, then GetObject on the file; the documented policies allow exactly those).
        """
        bucket, _, key = location.removeprefix("s3://").partition("/")
        return self._service_access_denied(
            role_arn,
            [
                ("s3:ListBucket", f"arn:aws:s3:::{bucket}", bucket),
                ("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", bucket),
            ],
            key_actions=("kms:Decrypt",),
        )

    @staticmethod
    def _key_allows(key_arn: str | None, key_policy: Mapping[str, Any], identity: list[Any], request: Request) -> bool:
        """KMS's rule: the key policy allows the principal itself, or it allows the account (its root)
        and then the principal's IAM policies decide, on the key's ARN."""
        if evaluate([key_policy], request, resource_policy=True) == DENY:
            return False
        if evaluate([key_policy], request, resource_policy=True) == ALLOW:
            return True
        account_root = replace(request, principal_arn=f"arn:aws:iam::{ACCOUNT_ID}:root")
        return (
            evaluate([key_policy], account_root, resource_policy=True) == ALLOW
            and evaluate(identity, replace(request, resource=key_arn)) == ALLOW
        )

    def _bucket_kms_key(self, bucket: str) -> tuple[str | None, Mapping[str, Any] | None]:
        """The KMS key of the bucket's default encryption (SSE-KMS) and, for a key the stack creates,
        its key policy (an imported key's policy is not in the template: offline, it is not checked)."""
        resources = self.synthesized.template["Resources"]
        for resource in resources.values():
            if resource["Type"] != "AWS::S3::Bucket" or self.bucket_name != bucket:
                continue
            encryption = resource.get("Properties", {}).get("BucketEncryption", {})
            for rule in encryption.get("ServerSideEncryptionConfiguration", []):
                default = rule.get("ServerSideEncryptionByDefault", {})
                if default.get("SSEAlgorithm") == "aws:kms" and "KMSMasterKeyID" in default:
                    key = default["KMSMasterKeyID"]
                    logical_id = key.get("Fn::GetAtt", [None])[0] if isinstance(key, dict) else None
                    if logical_id in resources and resources[logical_id]["Type"] == "AWS::KMS::Key":
                        policy = self.values.resolve(resources[logical_id]["Properties"]["KeyPolicy"])
                        return self.values.resolve(key), policy
                    return self.values.resolve(key), None
        return None, None

    def fire_alarm(self, alarm: str, *, state: str = "ALARM") -> list[bool]:
        """CloudWatch moves the alarm (its logical id, or a unique part of it) to ``state``; True per action that published."""
        resources = self.synthesized.template["Resources"]
        (logical_id,) = [lid for lid, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm" and alarm in lid]
        return self.topics.fire_alarm(logical_id, state=state)

    def scheduler(self) -> Any:
        return boto3.client("scheduler", region_name=REGION)

    def destroy(self) -> CustomResourceOutcome:
        """What `cdk destroy` does first: CloudFormation deletes the teardown custom resource."""
        return self.teardown.delete()

    def _deploy_schedule(self) -> None:
        """Create the template's schedule (moto's Scheduler), as CloudFormation would.

        Its start-date custom resource (if the template has one) is created first, since the
        schedule's StartDate reads it.
        """
        resources = self.synthesized.template["Resources"]
        for logical_id, resource in resources.items():
            if resource["Type"] == SCHEDULE_START_RESOURCE_TYPE:
                start = self._create_custom_resource(logical_id)
                self.values.attributes[(logical_id, "StartDate")] = start.data["StartDate"]
        (schedule,) = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Scheduler::Schedule"]
        settings = self._offline_value(schedule)
        # Register scheduler.rate.first-invocation: without a StartDate a schedule starts when it
        # is created; moto would stamp the creation with the real time, so the simulated
        # deployment time is given as its start.
        start_date = settings.pop("StartDate", None)
        self.deployed_at = self.account.clock.now()
        self.scheduler().create_schedule(
            Name=self.schedule_name,
            StartDate=datetime.fromisoformat(start_date.replace("Z", "+00:00")) if start_date else self.deployed_at,
            **settings,
        )

    def first_scheduled_run(self) -> datetime | None:
        """When the deployed schedule first starts a run (register scheduler.rate.first-invocation).

        A rate schedule's first invocation is its StartDate (its creation when it has none); a
        cron schedule's is its first matching time after that.
        """
        schedule = self.scheduler().get_schedule(Name=self.schedule_name)
        start = schedule["StartDate"]
        if schedule["ScheduleExpression"].startswith("rate("):
            return start  # type: ignore[no-any-return]
        return next_run(schedule["ScheduleExpression"], schedule.get("ScheduleExpressionTimezone", "UTC"), start, start)

    def _create_custom_resource(self, logical_id: str) -> OfflineCustomResource:
        resources = self.synthesized.template["Resources"]
        resource = OfflineCustomResource(
            self.synthesized,
            logical_id,
            clock=self.account.clock,
            properties=self._offline_value(resources[logical_id]["Properties"]),
            invoke=lambda function, event: invoke_lambda(
                function,
                event,
                arn=self._function_arns[function.logical_id],
                log=self.function_logs,
                clock=self.account.clock.now,
            ),
        )
        outcome = resource.create()
        if outcome.status != "SUCCESS":
            raise RuntimeError(f"custom resource {logical_id} failed to create: {outcome.reason}")
        return resource

    def _record_stack(self) -> None:
        """CloudFormation's record of the deployed stack: its outputs with the offline values."""
        outputs = {
            key: (self._offline_value(output["Value"]), output.get("Description", ""))
            for key, output in self.synthesized.template["Outputs"].items()
        }
        self.account.cloudformation.deploy(self.stack_name, outputs, created=self.account.clock.now())

    def _deploy_teardown(self) -> OfflineCustomResource:
        resources = self.synthesized.template["Resources"]
        (logical_id,) = [rid for rid, r in resources.items() if r["Type"] == TEARDOWN_RESOURCE_TYPE]
        return self._create_custom_resource(logical_id)

    def _offline_value(self, value: Any) -> Any:
        """A template value with Ref, GetAtt, Join and Sub replaced by the offline account's names."""
        return self.values.resolve(value)

    @property
    def raw_data_key(self) -> str:
        return self.synthesized.output_value("RawDataKey")

    def snapshot(self) -> OfflineSnapshot:
        """What a later run depends on: the time, Personalize's state and the data bucket's objects."""
        s3 = self.account.s3()
        objects = {
            item["Key"]: bytes(s3.get_object(Bucket=self.bucket_name, Key=item["Key"])["Body"].read())
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket_name)
            for item in page.get("Contents", [])
        }
        return OfflineSnapshot(self.account.clock.now(), self.account.personalize.export_state(), objects)

    def restore(self, snapshot: OfflineSnapshot) -> None:
        """Bring a freshly deployed pipeline to a snapshot (executions and events are not carried)."""
        self.account.clock.set(snapshot.now)
        self.account.personalize.import_state(snapshot.personalize)
        for key, body in snapshot.objects.items():
            self.account.s3().put_object(Bucket=self.bucket_name, Key=key, Body=body)

    @property
    def raw_data_format(self) -> str:
        """data.format of the deployed config, as the workflow hands it to the data preparation."""
        return str(self.definition["States"]["Prepare data"]["Parameters"]["format"])

    def upload_ratings(self, ratings: list[Rating]) -> None:
        """Upload ``ratings`` as the raw file, in the deployed config's format."""
        self.upload_raw_data(to_ratings_csv(ratings) if self.raw_data_format == "ratings-csv" else to_u_data(ratings))

    def upload_raw_data(self, body: bytes, name: str = "ratings-0001.txt") -> str:
        """Upload ratings where the deployed config reads them: at data.rawKey, or when that is a
        folder, as ``name`` in it. Returns the object's key."""
        key = self.raw_data_key + name if self.raw_data_key.endswith("/") else self.raw_data_key
        self.account.s3().put_object(Bucket=self.bucket_name, Key=key, Body=body)
        return key

    @property
    def items_key(self) -> str:
        """Where the deployed config reads the movie file (data.itemsKey, or beside the ratings)."""
        return str(self.definition["States"]["Prepare data"]["Parameters"]["items"]["key"])

    def upload_items(self, body: bytes) -> None:
        """Upload the movie file (u.item or movies.csv) where the deployed config reads it."""
        self.account.s3().put_object(Bucket=self.bucket_name, Key=self.items_key, Body=body)

    def start_execution(
        self,
        *,
        name: str | None = None,
        execution_input: Any = None,
        on_event: Callable[[ExecutionEvent], None] | None = None,
        gap: timedelta = timedelta(minutes=1),
        definition: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Run one execution to its end on the simulated clock, starting ``gap`` after the last.

        ``definition`` runs another definition with this stack's substitutions (a benchmark's
        baseline); by default the one synth emitted.
        """
        execution_input = {"trigger": "offline"} if execution_input is None else execution_input
        execution = self._begin(name or str(uuid.uuid4()), execution_input, gap)
        return self._run(execution, execution_input, on_event, definition)

    def start_from_api(self, name: str, input_text: str) -> dict[str, Any]:
        """StartExecution: the execution starts now and runs on a thread of its own.

        The caller follows it through DescribeExecution and GetExecutionHistory, as in AWS;
        :meth:`wait_for_background_executions` waits for every one started this way.
        """
        execution_input = json.loads(input_text)
        execution = self._begin(name, execution_input, timedelta(minutes=1))

        def run() -> None:
            try:
                self._run(execution, execution_input, None, None)
            except BaseException as error:
                execution.update(status="FAILED", stopDate=self.account.clock.now())
                self._background_errors.append(error)

        thread = threading.Thread(target=run, name=f"execution {name}", daemon=True)
        self._background.append(thread)
        thread.start()
        return execution

    def wait_for_background_executions(self) -> None:
        """Wait for executions started through StartExecution; re-raise what broke one of them."""
        for thread in self._background:
            thread.join()
        if self._background_errors:
            raise self._background_errors[0]

    def _begin(self, name: str, execution_input: Any, gap: timedelta) -> dict[str, Any]:
        start = self.account.clock.advance(gap.total_seconds())
        return self.step_functions.mark_running(name, start_date=start, execution_input=execution_input)

    def _run(
        self,
        execution: dict[str, Any],
        execution_input: Any,
        on_event: Callable[[ExecutionEvent], None] | None,
        definition: dict[str, Any] | None,
    ) -> ExecutionResult:
        step_functions = self.step_functions
        # The execution whose tasks are being answered (an outcome event names it).
        self._execution_arn = execution["executionArn"]
        state_types = (
            self._state_types if definition is None else {n: s["Type"] for n, s in definition["States"].items()}
        )

        def record(event: ExecutionEvent) -> None:
            step_functions.record_event(execution["executionArn"], event, state_types)
            if on_event is not None:
                on_event(event)

        result = run_execution(
            self.definition if definition is None else self.resolve(definition),
            execution_input,
            execution_name=execution["name"],
            state_machine_arn=self.state_machine_arn,
            start_time=execution["startDate"],
            task_handler=self._run_task,
            on_event=record,
        )
        step_functions.finish(execution, result)
        self.account.clock.set(max(result.stop_time, self.account.clock.now()))
        return result

    @property
    def events(self) -> list[dict[str, Any]]:
        """The events the workflow put on the account's buses, as a rule's target receives them."""
        return self.account.event_bus.events

    @property
    def executions(self) -> list[dict[str, Any]]:
        return self.step_functions.executions

    def mark_running(self, name: str, *, start_date: datetime | None = None) -> dict[str, Any]:
        """Record an execution of the state machine as RUNNING (tests use it for overlaps)."""
        return self.step_functions.mark_running(name, start_date=start_date)

    def resolve(self, definition: dict[str, Any]) -> dict[str, Any]:
        """``definition`` with this stack's ``${Placeholder}`` values filled in."""
        return substitute(json.dumps(definition), self._substitution_values())

    # -- wiring ------------------------------------------------------------------------------

    def _substitution_values(self) -> dict[str, str]:
        return {
            key: str(self.values.resolve(value)) for key, value in self.synthesized.definition_substitutions.items()
        }

    def _run_task(self, request: TaskRequest) -> Any:
        self.account.clock.set(request.now)
        if request.resource == PUT_EVENTS_INTEGRATION:
            try:
                return self.account.event_bus.put_events_task(
                    request.input, execution_arn=self._execution_arn, state_machine_arn=self.state_machine_arn
                )
            except PutEventsTaskError as error:
                raise TaskFailure(error.error, error.cause) from None
        if request.resource == GLUE_START_JOB_RUN_SYNC and self.glue is not None:
            return self.glue.start_job_run_sync(request.input)
        if request.resource.startswith(SDK_INTEGRATION_PREFIX):
            service, _, action = request.resource.removeprefix(SDK_INTEGRATION_PREFIX).partition(":")
            try:
                return simulated_aws.call(service, action, request.input)
            except simulated_aws.AwsSdkTaskError as error:
                raise TaskFailure(error.error, error.cause) from None
        function = self._functions_by_arn.get(request.resource)
        if function is None:
            raise TaskFailure("States.Runtime", f"no offline implementation of resource {request.resource}")
        self.invocations.append((function.logical_id, request.input))
        faults = self._lambda_faults.get(request.resource)
        if faults:
            raise TaskFailure(*faults.pop(0))
        return invoke_lambda(
            function, request.input, arn=request.resource, log=self.function_logs, clock=self.account.clock.now
        )

    def _read_object(self, bucket: str, key: str) -> bytes:
        body: bytes = self.account.s3().get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def _write_object(self, bucket: str, key: str, data: bytes) -> None:
        self.account.s3().put_object(Bucket=bucket, Key=key, Body=data)

    def clear_faults(self) -> None:
        """Forget every injected Lambda and Personalize fault not yet used (all recovered)."""
        self._lambda_faults.clear()
        self.account.personalize.clear_faults()

    def fail_lambda(self, step: str, error: str, cause: str, *, times: int = 1) -> None:
        """The next ``times`` invocations of a workflow step's function fail with ``error``.

        ``step`` is the key of its ``<step>FunctionArn`` substitution (``StartTraining``); the
        failure is what Step Functions sees from Lambda (a service error such as
        ``Lambda.ServiceException``, or a crashed handler's error type and cause).
        """
        arn = self._substitution_values().get(f"{step}FunctionArn")
        if arn is None:
            raise ValueError(f"no workflow function {step!r}")
        self._lambda_faults.setdefault(arn, []).extend([(error, cause)] * times)
