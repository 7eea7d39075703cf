"""The stack as a whole (stacks/pipeline_stack.py): log retention everywhere, and the outputs that tell a user what to do next.

Expected values are written out here, not read back from the code under test.
"""

from __future__ import annotations

from tests.infra.conftest import SynthesizedPipeline
from tests.infra.template_helpers import (
    HANDLERS,
    LOG_RETENTION_DAYS,
    bucket_id,
    render,
    resources_of_type,
    workflow_state_machine,
)

# --- logs and outputs -----------------------------------------------------------------------


def test_every_log_group_has_a_retention(pipeline: SynthesizedPipeline) -> None:
    log_groups = resources_of_type(pipeline, "AWS::Logs::LogGroup")

    # One per workflow function, one for the state machine, one per teardown function, one for
    # the teardown provider's framework functions, one for the retraining-age heartbeat, and for
    # a rate() schedule one for the start-date function and one for its provider, and the Glue job's
    # error and output groups (register glue.logging).
    start_date = 2 if pipeline.config.schedule.is_rate else 0
    assert len(log_groups) == len(HANDLERS) + 1 + 2 + 1 + 1 + start_date + 2
    assert {rid: lg["Properties"].get("RetentionInDays") for rid, lg in log_groups.items()} == {
        rid: LOG_RETENTION_DAYS for rid in log_groups
    }


def test_outputs_tell_where_to_upload_and_what_to_start(pipeline: SynthesizedPipeline) -> None:
    bucket = bucket_id(pipeline)
    state_machine_id, _ = workflow_state_machine(pipeline)
    raw_key = pipeline.config.data.raw_key
    outputs = pipeline.template_json["Outputs"]

    assert outputs["DataBucketName"]["Value"] == {"Ref": bucket}
    assert outputs["RawDataKey"]["Value"] == raw_key
    assert render(outputs["RawDataUri"]["Value"]) == f"s3://${{{bucket}}}/{raw_key}"
    assert outputs["StateMachineArn"]["Value"] == {"Ref": state_machine_id}


def test_custom_outputs_name_the_configured_pipeline_and_raw_key(custom_pipeline: SynthesizedPipeline) -> None:
    custom_pipeline.template.has_output("PipelineName", {"Value": "films"})
    custom_pipeline.template.has_output("RawDataKey", {"Value": "raw/ml-latest-small/ratings.csv"})
