"""AWS Glue in the offline account: the stack's Spark job, run for real with local Spark.

A Task ``arn:aws:states:::glue:startJobRun.sync`` (register sfn.glue.sync) starts a run of the job
the template defines. The run executes the job's own script, the file the stack deploys as an
asset, under the local pyspark of requirements-spark.txt (Glue 5.1's Spark release; register
glue.versions): the objects its arguments name are copied from the offline S3 into a folder,
the script reads and writes that folder through ``--data_root file://...``, and what it wrote is
copied back (register glue.spark-output-markers: without the local file system's ``.crc`` files).
Nothing stands in for the converter. The request is checked against botocore's Glue model, and
the answer is a JobRun of that model (register glue.job-run): SUCCEEDED, or FAILED with the
script's error as ErrorMessage, which fails the state as States.TaskFailed with the run as cause.

Spark is optional on a machine: without it a run fails with a message that says how to get it
(``make install-spark``); the tests that need it are in their own level (tests/spark).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import botocore.session

from simulator.interpreter import TaskFailure, TaskResult
from simulator.service_model import SimulatedServiceError, check_response, validate_request

REPO = Path(__file__).resolve().parents[1]


@functools.cache
def glue_model() -> Any:
    """botocore's Glue model, loaded on the first job run (every offline account imports this module)."""
    return botocore.session.get_session().get_service_model("glue")


# The Spark level's interpreter (make install-spark); PIPELINE_SPARK_PYTHON overrides it.
SPARK_PYTHON_ENV = "PIPELINE_SPARK_PYTHON"
DEFAULT_SPARK_PYTHON = REPO / ".venv-spark" / "bin" / "python"
# Simulated time a run takes: Glue's start-up (workers provisioned) plus the conversion.
STARTUP_SECONDS = 60
SECONDS_PER_GIB = 30
# Arguments whose values are keys of objects the script reads, and prefixes it writes.
READ_KEYS = ("--objects_key", "--excluded_users_key")
WRITTEN_PREFIXES = ("--output_prefix", "--stats_prefix", "--users_prefix")


def spark_python() -> Path | None:
    """The interpreter with pyspark, and Java on the PATH, or None when this machine has no Spark."""
    path = Path(os.environ.get(SPARK_PYTHON_ENV) or DEFAULT_SPARK_PYTHON)
    if not path.exists() or shutil.which("java") is None:
        return None
    return path


@dataclass(frozen=True)
class GlueJobDefinition:
    """The AWS::Glue::Job of the template, with its references resolved in the offline account."""

    name: str
    script: Path
    default_arguments: Mapping[str, str]
    glue_version: str
    worker_type: str
    workers: int
    timeout_minutes: int


@dataclass
class GlueJobs:
    """StartJobRun (.sync) for the stack's job: the integration waits inside the call, so no GetJobRun."""

    job: GlueJobDefinition
    read_object: Callable[[str, str], bytes]
    write_object: Callable[[str, str, bytes], None]
    clock: Callable[[], datetime]
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def start_job_run_sync(self, params: dict[str, Any]) -> TaskResult:
        """The .sync integration: the run, started and waited for; a run that does not succeed fails the state."""
        operation = glue_model().operation_model("StartJobRun")
        try:
            validate_request(operation, params)
        except SimulatedServiceError as error:
            raise TaskFailure("Glue.InvalidInputException", str(error)) from None
        if params["JobName"] != self.job.name:
            raise TaskFailure("Glue.EntityNotFoundException", f"Job {params['JobName']} not found")
        arguments = {**self.job.default_arguments, **params.get("Arguments", {})}
        started = self.clock()
        run_id = "jr_" + hashlib.sha256(f"{self.job.name}|{started.isoformat()}|{len(self.runs)}".encode()).hexdigest()
        error, read_bytes = self._execute(arguments)
        seconds = STARTUP_SECONDS + round(read_bytes / 1024**3 * SECONDS_PER_GIB)
        run: dict[str, Any] = {
            "Id": run_id,
            "Attempt": 0,
            "JobName": self.job.name,
            "JobMode": "SCRIPT",
            "StartedOn": started,
            "LastModifiedOn": started + timedelta(seconds=seconds),
            "CompletedOn": started + timedelta(seconds=seconds),
            "JobRunState": "FAILED" if error else "SUCCEEDED",
            "Arguments": dict(params.get("Arguments", {})),
            "ExecutionTime": seconds,
            "Timeout": self.job.timeout_minutes,
            "WorkerType": self.job.worker_type,
            "NumberOfWorkers": self.job.workers,
            "GlueVersion": self.job.glue_version,
            **({"ErrorMessage": error} if error else {}),
        }
        check_response(glue_model().shape_for("JobRun"), run)
        self.runs[run_id] = run
        if error:
            raise TaskFailure("States.TaskFailed", json.dumps(_as_json(run)))
        return TaskResult(_as_json(run), elapsed_seconds=seconds)

    def _execute(self, arguments: Mapping[str, str]) -> tuple[str | None, int]:
        """Run the script over a local copy of what it reads; returns (error message or None, bytes read)."""
        python = spark_python()
        if python is None:
            return (
                "this machine has no local Spark to run the Glue job with: `make install-spark` installs pyspark "
                "and, when java is missing, a Java runtime (or set data.engine to lambda)",
                0,
            )
        root = arguments.get("--data_root", "")
        bucket = root.removeprefix("s3://").rstrip("/")
        if not root.startswith("s3://") or not bucket:
            return f"--data_root must be s3://<bucket>; got {root!r}", 0
        with tempfile.TemporaryDirectory(prefix="offline-glue-") as folder:
            local = Path(folder)
            read_bytes = 0
            try:
                for name in READ_KEYS:
                    if arguments.get(name):
                        self._copy_in(bucket, arguments[name], local)
                listed = (local / arguments.get("--objects_key", "")).read_text().split()
                for key in listed:
                    read_bytes += self._copy_in(bucket, key, local)
            except (OSError, LookupError) as error:
                return f"cannot read the job's input: {error}", read_bytes
            command = [str(python), str(self.job.script)]
            for name, value in {**arguments, "--data_root": local.as_uri(), "--local": "true"}.items():
                command += [name, value]
            finished = subprocess.run(command, capture_output=True, text=True, check=False)
            if finished.returncode != 0:
                return _error_message(finished.stderr), read_bytes
            for name in WRITTEN_PREFIXES:
                if arguments.get(name):
                    self._copy_out(bucket, arguments[name], local)
        return None, read_bytes

    def _copy_in(self, bucket: str, key: str, local: Path) -> int:
        data = self.read_object(bucket, key)
        path = local / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return len(data)

    def _copy_out(self, bucket: str, prefix: str, local: Path) -> None:
        folder = local / prefix
        if not folder.exists():
            return
        for path in sorted(folder.rglob("*")):
            # S3 has no checksum files: a local file system writes them beside each file.
            if path.is_file() and not path.name.endswith(".crc"):
                self.write_object(bucket, str(path.relative_to(local)), path.read_bytes())


def _error_message(stderr: str) -> str:
    """What Glue reports for a script that raised: the exception's last line."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    raised = [line for line in lines if not line.startswith((" ", "\t")) and ": " in line and "Error" in line]
    return (raised[-1] if raised else (lines[-1] if lines else "the script exited with an error"))[:2048]


def _as_json(value: Any) -> Any:
    """The run as Step Functions hands it on (timestamps as text)."""
    return json.loads(json.dumps(value, default=lambda t: t.isoformat() if isinstance(t, datetime) else str(t)))


def job_definition(
    resources: Mapping[str, Any], resolve: Callable[[Any], Any], script_of: Callable[[str], Path]
) -> GlueJobDefinition | None:
    """The template's one Glue job, if the stack has one (data.engine other than lambda)."""
    jobs = [(lid, r) for lid, r in resources.items() if r["Type"] == "AWS::Glue::Job"]
    if not jobs:
        return None
    (logical_id, resource), *others = jobs
    if others:
        raise ValueError("the offline account runs one Glue job per stack")
    properties = resource["Properties"]
    location = str(resolve(properties["Command"]["ScriptLocation"]))
    return GlueJobDefinition(
        name=str(resolve({"Ref": logical_id})),
        script=script_of(location.rpartition("/")[2]),
        default_arguments={k: str(resolve(v)) for k, v in properties.get("DefaultArguments", {}).items()},
        glue_version=properties.get("GlueVersion", ""),
        worker_type=properties.get("WorkerType", ""),
        workers=int(properties.get("NumberOfWorkers", 0)),
        timeout_minutes=int(properties.get("Timeout", 480)),
    )
