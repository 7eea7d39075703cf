"""Static security gates on what synth produced: cdk-nag, cfn-lint and checkov.

cdk-nag runs inside every synth (app.py); these tests read its report so that a finding shows
up as a failing test with the construct and the id to acknowledge. cfn-lint and checkov read
the template app.py wrote. asl-validator checks the emitted definition in
tests/unit/test_workflow.py. docs/security-gates.md lists every acknowledgement and skip.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stacks.artifacts import STACK_NAME, VALIDATION_REPORT_FILE_NAME
from stacks.state_machine import chosen_log_level_reason
from tests.conftest import CUSTOM_BLOCK, REPO, VARIATIONS_BLOCK, AppSynth, app_synth_once

Json = dict[str, Any]

NAG_PACK = "AwsSolutions"
SECURITY_DOC = REPO / "docs" / "security-gates.md"
CHECKOV = REPO / ".venv-tools" / "bin" / "checkov"
CHECKOV_CONFIG = REPO / ".checkov.yaml"
ACKNOWLEDGED_RULES = "aws:cdk:acknowledged-rules"
# A reason must say why *this* finding is acceptable; a few words cannot.
MIN_REASON_LENGTH = 60


def nag_report(outdir: Path) -> Json:
    """The AwsSolutions plugin's part of the validation report CDK wrote into ``outdir``."""
    report = json.loads((outdir / VALIDATION_REPORT_FILE_NAME).read_text())
    (plugin,) = report["pluginReports"]
    assert plugin["pluginName"] == NAG_PACK
    plugin_report: Json = plugin
    return plugin_report


def describe_findings(violations: list[Json]) -> str:
    return "\n".join(
        f"{v['ruleName']} on {c['constructPath']}: acknowledge as {NAG_PACK}::{v['ruleName']}"
        for v in violations
        for c in v["violatingConstructs"]
    )


def acknowledgements_in_assembly(outdir: Path) -> dict[tuple[str, str], str]:
    """(acknowledged id, construct path) -> reason, for every acknowledgement in the stack's metadata."""
    metadata: dict[str, list[Json]] = json.loads((outdir / f"{STACK_NAME}.metadata.json").read_text())
    return {
        (rule_id, path.removeprefix("/")): reason
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == ACKNOWLEDGED_RULES
        for rule_id, reason in entry["data"].items()
    }


# --- cdk-nag --------------------------------------------------------------------------------


def test_synth_runs_jsii_on_a_supported_node(app_synth: AppSynth) -> None:
    """jsii runs on the project's Node 22 (node_modules/.bin first on PATH), so it prints no end-of-life banner."""
    assert "end-of-life" not in app_synth.completed.stderr.lower(), app_synth.completed.stderr


def test_cdk_nag_reports_no_unacknowledged_finding(app_synth: AppSynth) -> None:
    report = nag_report(app_synth.outdir)

    assert report["violations"] == [], describe_findings(report["violations"])
    assert report["conclusion"] == "success"
    assert app_synth.completed.returncode == 0, app_synth.completed.stderr


def test_cdk_nag_passes_for_a_custom_config(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Acknowledged wildcards carry the pipeline's name: another name must not become a finding."""
    custom = app_synth_once(tmp_path_factory, CUSTOM_BLOCK)
    report = nag_report(custom.outdir)

    assert report["violations"] == [], describe_findings(report["violations"])
    assert custom.completed.returncode == 0, custom.completed.stderr


def test_a_quieter_state_machine_log_level_is_the_operators_acknowledged_choice(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """logging.stateMachineLevel ERROR is a documented option: synth passes the gate, with SF1
    acknowledged on the state machine alone and the level named in the reason."""
    quiet = app_synth_once(tmp_path_factory, VARIATIONS_BLOCK)
    report = nag_report(quiet.outdir)

    assert quiet.completed.returncode == 0, quiet.completed.stderr
    assert report["violations"] == [], describe_findings(report["violations"])
    sf1 = [v for v in report["suppressedViolations"] if v["ruleName"] == "AwsSolutions-SF1"]
    on_workflow = [(v["acknowledgedAt"], v["reason"]) for v in sf1 if "/Retraining/" in v["acknowledgedAt"]]
    assert on_workflow == [
        ("PersonalizePipeline/Retraining/StateMachine/Resource", chosen_log_level_reason("ERROR"))
    ], sf1


def test_every_acknowledgement_is_used_on_the_construct_that_has_the_finding(app_synth: AppSynth) -> None:
    """No stale acknowledgement, none on a parent construct (it would cover its children's
    future findings too), and every IAM5 acknowledgement names one resource, never an action."""
    suppressed = nag_report(app_synth.outdir)["suppressedViolations"]
    used = {(s["acknowledgedId"], s["acknowledgedAt"]) for s in suppressed}

    assert set(acknowledgements_in_assembly(app_synth.outdir)) == used
    for finding in suppressed:
        assert [c["constructPath"] for c in finding["violatingConstructs"]] == [finding["acknowledgedAt"]]
        assert finding["acknowledgedId"] == f"{NAG_PACK}::{finding['ruleName']}"
        if finding["ruleName"].startswith("AwsSolutions-IAM5"):
            assert finding["ruleName"].startswith("AwsSolutions-IAM5[Resource::"), finding["ruleName"]


def test_every_acknowledgement_has_a_specific_reason_listed_in_the_docs(app_synth: AppSynth) -> None:
    reasons = set(acknowledgements_in_assembly(app_synth.outdir).values())
    doc = " ".join(SECURITY_DOC.read_text().split())

    for reason in reasons:
        assert len(reason) >= MIN_REASON_LENGTH, reason
        assert " ".join(reason.split()) in doc, f"docs/security-gates.md lacks the reason: {reason}"


# --- cfn-lint -------------------------------------------------------------------------------


def test_cfn_lint_finds_no_error_in_the_template(cloud_assembly: Path) -> None:
    """Errors only: cfn-lint's W3005 (DependsOn beside a GetAtt) is normal CDK output."""
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(cloud_assembly / f"{STACK_NAME}.template.json", config=ManualArgs(regions=["us-east-1"]))
    errors = [str(match) for match in matches if match.rule.severity == "error"]

    assert errors == []


# --- checkov --------------------------------------------------------------------------------


# Skips that only the default mode needs: with encryption.kmsKey, the key is on every log group,
# the topic and the functions' environment, and these checks must pass.
UNENCRYPTED_MODE_SKIPS = {"CKV_AWS_158", "CKV_AWS_26", "CKV_AWS_173"}


@pytest.fixture(scope="module")
def checkov_both_modes(
    cloud_assembly: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path, Json, subprocess.CompletedProcess[str]]:
    """One checkov run (its start-up is most of its time) over the default template and the one with a
    customer-managed key, without the skips only the default mode needs."""
    default = cloud_assembly / f"{STACK_NAME}.template.json"
    encrypted = app_synth_once(tmp_path_factory, VARIATIONS_BLOCK).outdir / f"{STACK_NAME}.template.json"
    skips = [c for c in yaml.safe_load(CHECKOV_CONFIG.read_text())["skip-check"] if c not in UNENCRYPTED_MODE_SKIPS]
    assert CHECKOV.exists(), "checkov is missing: run `make install` (it creates .venv-tools)"
    completed = subprocess.run(
        [
            *(str(CHECKOV), "--config-file", str(CHECKOV_CONFIG), "--file", str(default), "--file", str(encrypted)),
            *("--output", "json", "--skip-check", ",".join(skips)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return default, encrypted, json.loads(completed.stdout), completed


def failed_checks(result: Json, template: Path) -> list[str]:
    """checkov's failed checks (``<id> <resource>: <title>``) on one of the templates it read."""
    return [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for c in result["results"]["failed_checks"]
        if Path(c["file_abs_path"]).resolve() == template.resolve()
    ]


def test_checkov_passes_every_check_not_on_the_documented_skip_list(
    checkov_both_modes: tuple[Path, Path, Json, subprocess.CompletedProcess[str]],
) -> None:
    default, encrypted, result, completed = checkov_both_modes

    # Only the skips of the default mode fail on the default template, and nothing else anywhere.
    assert {f.split()[0] for f in failed_checks(result, default)} <= UNENCRYPTED_MODE_SKIPS
    assert len(result["results"]["failed_checks"]) == len(failed_checks(result, default))
    assert result["summary"]["parsing_errors"] == 0
    assert result["summary"]["resource_count"] == sum(
        len(json.loads(t.read_text())["Resources"]) for t in (default, encrypted)
    )
    assert "Traceback" not in completed.stderr, completed.stderr


def test_with_a_customer_managed_key_checkov_needs_no_encryption_skip(
    checkov_both_modes: tuple[Path, Path, Json, subprocess.CompletedProcess[str]],
) -> None:
    _, encrypted, result, _ = checkov_both_modes

    assert UNENCRYPTED_MODE_SKIPS <= set(yaml.safe_load(CHECKOV_CONFIG.read_text())["skip-check"])
    assert failed_checks(result, encrypted) == []
    assert result["summary"]["passed"] > 0


def test_every_checkov_skip_is_explained_in_the_docs() -> None:
    skipped = yaml.safe_load(CHECKOV_CONFIG.read_text())["skip-check"]
    doc = SECURITY_DOC.read_text()

    for check_id in skipped:
        assert f"| {check_id} |" in doc, f"docs/security-gates.md has no row for {check_id}"
