"""The README's offline main job (python -m simulator.demo): what a newcomer sees."""

from __future__ import annotations

import io

import pytest

from simulator import demo
from simulator.cloud_assembly import SynthesizedPipeline


def test_two_cycles_print_each_stage_the_gate_and_the_outcome(synthesized: SynthesizedPipeline) -> None:
    out = io.StringIO()

    status = demo.main(["--cdk-out", str(synthesized.directory), "--cycles", "2"], out=out)

    text = out.getvalue()
    assert status == 0, text
    assert text.count("Outcome: SUCCEEDED") == 2
    assert "dataset import job           ACTIVE (check" in text
    assert "training FULL: trainingMode is FULL" in text
    assert "Evaluate new version         passed: normalized_discounted_cumulative_gain_at_10" in text
    assert "campaign update              ACTIVE (check 4)" in text
    # 66 transitions of work, plus the outcome event.
    assert "(67 state transitions)" in text
    assert "Recommendations for user 1: " in text


def test_unchanged_data_is_reported_as_skipped(synthesized: SynthesizedPipeline) -> None:
    out = io.StringIO()

    demo.main(["--cdk-out", str(synthesized.directory), "--cycles", "2", "--same-data"], out=out)

    assert "Skipped: no new data since the last training" in out.getvalue()


def test_a_missing_cloud_assembly_is_one_line_and_status_2(tmp_path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        demo.main(["--cdk-out", str(tmp_path / "nothing")])

    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith("error: ")
