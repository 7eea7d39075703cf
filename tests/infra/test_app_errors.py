"""The real entry point (app.py) with a bad config: one readable line, exit code 1, no traceback.

The CDK CLI hands context (cdk.json's and ``-c key=value``) to the app in the
``CDK_CONTEXT_JSON`` environment variable, which ``aws_cdk.App`` reads; these tests set it
directly, so they run ``app.py`` exactly as ``cdk synth`` would, without Node's CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, run_app


@pytest.mark.parametrize(
    ("personalize", "expected_line"),
    [
        pytest.param(
            {"schedule": {"expression": "rate(1 days)"}},
            'Configuration error: Invalid cdk.json context "personalize.schedule.expression": got "rate(1 days)"; '
            "expected an EventBridge Scheduler expression: rate(<n> minute(s)|hour(s)|day(s)) or cron(<minutes> "
            "<hours> <day-of-month> <month> <day-of-week> <year>) with '?' in one of the two day fields, for "
            'example "rate(7 days)" or "cron(0 3 ? * MON *)".',
            id="bad-schedule-in-cdk-json",
        ),
        pytest.param(
            {"data": {"rawKey": "raw/u.data", "minrating": 3}},
            'Configuration error: Invalid cdk.json context "personalize.data.minrating": got 3; expected no such '
            "key (known keys: engine, format, glue, importMode, itemsKey, lambdaMemoryMb, minRating, onDestroy, rawKey, "
            "useItems), for "
            "example removing it or fixing its spelling.",
            id="unknown-key-in-data",
        ),
        pytest.param(
            # `cdk synth -c personalize='{...}'` passes the block as JSON text.
            '{"campaignMinProvisionedTps": 0}',
            'Configuration error: Invalid cdk.json context "personalize.campaignMinProvisionedTps": got 0; '
            "expected an integer of at least 1 (Personalize bills this provisioned capacity every hour), "
            "for example 1.",
            id="bad-value-in-json-from-command-line",
        ),
        pytest.param(
            {"training": {"mode": "UPDATE"}},
            'Configuration error: Invalid cdk.json context "personalize.training.mode": got "UPDATE"; expected '
            "FULL for recipe aws-user-personalization-v2: Personalize accepts trainingMode UPDATE only for "
            'aws-user-personalization and aws-hrnn-coldstart, for example "FULL", or "UPDATE" with recipeArn '
            '"arn:aws:personalize:::recipe/aws-user-personalization".',
            id="update-training-with-the-default-v2-recipe",
        ),
    ],
)
def test_bad_config_prints_one_error_line_exits_1_and_writes_no_template(
    personalize: Any, expected_line: str, tmp_path: Path
) -> None:
    result = run_app(tmp_path, personalize)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr == expected_line + "\n"
    assert result.stdout == ""
    # Nothing half-built is left in cdk.out for a later deploy to pick up.
    assert list(tmp_path.glob("*.template.json")) == []


def test_broken_json_from_command_line_prints_one_error_line_and_exits_1(tmp_path: Path) -> None:
    # `cdk synth -c personalize='{"pipelineName": "films"'` (closing brace missing).
    result = run_app(tmp_path, '{"pipelineName": "films"')

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith('Configuration error: Invalid cdk.json context "personalize')
    assert result.stderr.endswith(
        'got "{\\"pipelineName\\": \\"films\\""; '
        'expected a JSON object, for example -c personalize=\'{"pipelineName": "movies"}\'.\n'
    )


def test_a_stack_name_with_several_pipelines_is_refused(tmp_path: Path) -> None:
    env_context = {"personalize": {"pipelines": [{"pipelineName": "films"}]}, "stackName": "Mine"}
    result = subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO,
        env={**os.environ, "CDK_OUTDIR": str(tmp_path), "CDK_CONTEXT_JSON": json.dumps(env_context)},
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 1
    assert result.stderr == (
        'Configuration error: "stackName" names the one stack of a single pipeline; with "personalize.pipelines" '
        "each pipeline's stack is PersonalizePipeline-<pipelineName>\n"
    )
