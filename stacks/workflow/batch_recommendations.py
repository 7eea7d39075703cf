"""Phase 4b, a deployment to batch: this version's batch inference job, the check of its output,
and (once every target is deployed) the manifest that makes the output the one consumers read.

A job that fails, or an output with an error line or a missing user, ends the run ``failed``
with the reason, and ``recommendations/latest.json`` keeps naming the previous output.
"""

from __future__ import annotations

from contract.events import STAGE_BATCH_JOB, STAGE_BATCH_OUTPUT
from contract.functions import PUBLISH_BATCH_OUTPUT, START_BATCH_INFERENCE, VALIDATE_BATCH_OUTPUT
from contract.layout import manifest_key, recommendations_prefix
from contract.readiness import BATCH_READY
from contract.resources import BATCH_ROLE_PLACEHOLDER, DATA_BUCKET_PLACEHOLDER, KMS_KEY_PLACEHOLDER
from stacks.workflow.builder import RUN_CONTEXT, WorkflowBuilder
from stacks.workflow.sdk import Chain, State, Task

BUCKET = "${" + DATA_BUCKET_PLACEHOLDER + "}"


def output_prefix(solution: str | None) -> str:
    """This run's output folder: recommendations/<execution name>/ (recommendations/<solution>/<execution
    name>/ with several solutions)."""
    return f"States.Format('{recommendations_prefix(solution)}{{}}/', $$.Execution.Name)"


def build_batch_job(b: WorkflowBuilder, *, then: State) -> State:
    """Start the job, wait until it is ACTIVE, validate its output, go on to ``then``."""
    batch = b.solution.deployment.batch
    name = b.solution.name
    # deployment.batch.filter: the configured filter the job applies (kept by "Ensure filters"); with
    # several solutions, by solution.
    filter_path = f"$.filters.batchFilterArns.{name}" if b.in_branch else "$.filters.batchFilterArn"
    start = b.invoke(
        "Start batch recommendations",
        START_BATCH_INFERENCE,
        {
            "solutionVersionArn.$": "$.solutionVersion.arn",
            "inputPath.$": f"States.Format('s3://{BUCKET}/{{}}', $.data.batch.inputKey)",
            "outputPath.$": f"States.Format('s3://{BUCKET}/{recommendations_prefix(name)}{{}}/', $$.Execution.Name)",
            "roleArn": "${" + BATCH_ROLE_PLACEHOLDER + "}",
            "numResults": batch.num_results,
            "jobNamePrefix": b.names.batch_job_prefix,
            **({"kmsKeyArn": "${" + KMS_KEY_PLACEHOLDER + "}"} if b.config.encryption.kms_key is not None else {}),
            **({"filterArn.$": filter_path} if batch.filter else {}),
            **RUN_CONTEXT,
        },
        "$.batchJob",
        STAGE_BATCH_JOB,
    )
    validate = b.invoke(
        "Validate batch output",
        VALIDATE_BATCH_OUTPUT,
        {
            "bucket": BUCKET,
            "inputKey.$": "$.data.batch.inputKey",
            "outputPrefix.$": output_prefix(name),
            "numResults": batch.num_results,
        },
        "$.batchOutput",
        STAGE_BATCH_OUTPUT,
    )
    start.next(b.wait_until_active(BATCH_READY, validate, STAGE_BATCH_JOB))
    Chain([validate, then])
    return start


def build_publish_batch_output(b: WorkflowBuilder, *, then: State) -> Task:
    """Replace the manifest with this run's validated output, then go on to ``then``."""
    publish = b.invoke(
        "Publish batch recommendations",
        PUBLISH_BATCH_OUTPUT,
        {
            "bucket": BUCKET,
            "manifestKey": manifest_key(b.solution.name),
            "runName.$": "$$.Execution.Name",
            "solutionVersionArn.$": "$.solutionVersion.arn",
            "batchInferenceJobArn.$": "$.batchJob.arn",
            "inputKey.$": "$.data.batch.inputKey",
            "output.$": "$.batchOutput",
        },
        "$.batchManifest",
        STAGE_BATCH_OUTPUT,
    )
    publish.next(then)
    return publish
