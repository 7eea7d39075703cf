"""Offline runs whose conversion the Glue engine does: the job's script runs with local Spark in the
simulator (simulator/glue.py), started by the state machine's GlueStartJobRunStep (.sync).

One pipeline, data.engine auto with a threshold of about 107 KB (data.glue.autoAboveGiB), so a small
upload stays with the Lambda and a larger one goes to Glue; then a job that fails.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from pipelinectl.run_view import RunView
from pipelinectl.workflow_graph import build_graph
from simulator.cloud_assembly import load_synthesized_pipeline
from simulator.offline import OfflinePipeline, offline_account
from simulator.sample_data import generate_ratings, to_u_data
from tests.conftest import synthesize

LAMBDA_DIR = Path(__file__).resolve().parents[2] / "lambdas" / "prepare_data"
if str(LAMBDA_DIR) not in sys.path:
    sys.path.insert(0, str(LAMBDA_DIR))

from movielens import ConversionStats, convert  # noqa: E402

GLUE_BLOCK: dict[str, Any] = {
    "pipelineName": "clicks",
    "data": {"rawKey": "raw/ratings/", "engine": "auto", "glue": {"autoAboveGiB": 0.0001}},
}


@pytest.fixture
def pipeline(spark: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflinePipeline]:
    synthesized = load_synthesized_pipeline(synthesize(tmp_path_factory, GLUE_BLOCK))
    with offline_account() as account:
        yield OfflinePipeline(synthesized, account)


def served_version(pipeline: OfflinePipeline) -> str:
    (campaign,) = pipeline.account.personalize.resources_of("campaign")
    return str(campaign["solutionVersionArn"])


def watch_table(pipeline: OfflinePipeline, execution_arn: str) -> str:
    """What `pipelinectl watch` prints for a finished run (the same view over the same history)."""
    history = pipeline.step_functions.handle("GetExecutionHistory", {"executionArn": execution_arn})
    view = RunView(build_graph(pipeline.definition))
    for event in history["events"]:
        view.apply(event)
    out = io.StringIO()
    Console(file=out, width=220).print(view.render(pipeline.account.clock.now()))
    return out.getvalue()


def replace_raw(pipeline: OfflinePipeline, files: dict[str, bytes]) -> None:
    s3 = pipeline.account.s3()
    for item in s3.list_objects_v2(Bucket=pipeline.bucket_name, Prefix="raw/ratings/").get("Contents", []):
        s3.delete_object(Bucket=pipeline.bucket_name, Key=item["Key"])
    for name, body in files.items():
        pipeline.upload_raw_data(body, name)


def test_lambda_below_the_threshold_glue_above_it_and_a_failed_job_leaves_the_campaign(
    pipeline: OfflinePipeline,
) -> None:
    small = to_u_data(generate_ratings(users=60))
    replace_raw(pipeline, {"day-1.data": small})
    first = pipeline.start_execution()
    assert (first.status, first.output["outcome"]) == ("SUCCEEDED", "succeeded"), first.cause
    assert first.output["data"]["engine"] == "lambda"

    # More than the threshold, in two files: the Glue job converts them into part files.
    big = to_u_data(generate_ratings(seed=11))
    replace_raw(pipeline, {"day-1.data": small, "day-2.data": big})
    second = pipeline.start_execution()
    assert (second.status, second.output["outcome"]) == ("SUCCEEDED", "succeeded"), second.cause
    data = second.output["data"]
    assert data["engine"] == "glue"
    assert data["engineReason"].endswith("above the 107,374 bytes data.engine auto gives one Lambda")
    assert data["interactionsUri"].endswith("/interactions/") and data["glue"]["outputFiles"] >= 1
    stats = ConversionStats()
    expected = b"".join(convert([small, big], "ml-100k", 4.0, stats))
    assert (data["rowsRead"], data["rowsWritten"]) == (stats.rows_read, stats.rows_written)
    # The import read the folder: Personalize holds exactly the rows the job wrote.
    (job,) = [j for j in pipeline.account.personalize.resources_of("import_job") if "interactions/" in str(j)]
    assert job["dataSource"]["dataLocation"] == data["interactionsUri"]
    assert len(expected.splitlines()) - 1 == data["rowsWritten"]
    deployed = served_version(pipeline)
    assert deployed == second.output["solutionVersionArn"]
    # `pipelinectl watch` shows the Glue stage: its table, from the execution's history.
    watched = watch_table(pipeline, pipeline.executions[-1]["executionArn"])
    assert "Convert with Glue" in watched and "job run SUCCEEDED in" in watched
    assert f"{data['rowsWritten']:,} of {data['rowsRead']:,} ratings in" in watched

    # A file the job cannot use at all: the job fails, the run fails with its error, nothing is deployed.
    replace_raw(pipeline, {"broken.data": b"1,2,4,100\n" * 20_000})
    third = pipeline.start_execution()
    assert (third.status, third.error) == ("FAILED", "States.TaskFailed")
    cause = json.loads(str(third.cause))
    assert cause["JobRunState"] == "FAILED"
    assert "has no usable rows: 20000 rows read, 20000 malformed" in cause["ErrorMessage"]
    assert served_version(pipeline) == deployed
    failed = [e for e in pipeline.events if e["detail"].get("outcome") == "failed"]
    assert failed[-1]["detail"]["failedStage"] == "prepare data"
