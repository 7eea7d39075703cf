#!/usr/bin/env python3
"""Synth time of this app against a bare one-bucket CDK app, side by side in one run (make bench-synth).

Both are synthesized the way ``cdk synth`` runs them (``python <app>`` with CDK_OUTDIR), on the
same machine, alternately, ``--rounds`` times each; the medians and their ratio are printed. The
bare app is written to a temporary folder: aws-cdk-lib, one stack, one S3 bucket.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BARE_APP = """
import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

app = cdk.App()
stack = cdk.Stack(app, "Bare")
s3.Bucket(stack, "Bucket")
app.synth()
"""


def synth_seconds(app: Path, outdir: Path) -> float:
    env = {**os.environ, "CDK_OUTDIR": str(outdir)}
    env["PATH"] = os.pathsep.join([str(REPO / "node_modules" / ".bin"), env.get("PATH", "")])
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, str(app)], cwd=app.parent, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if completed.returncode != 0:
        raise SystemExit(f"synth of {app} failed:\n{completed.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="synths of each app (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        bare = Path(temp) / "bare_app.py"
        bare.write_text(BARE_APP)
        ours, baseline = [], []
        for round_number in range(args.rounds):
            baseline.append(synth_seconds(bare, Path(temp) / f"bare-{round_number}"))
            ours.append(synth_seconds(REPO / "app.py", Path(temp) / f"ours-{round_number}"))
    ours_median, baseline_median = statistics.median(ours), statistics.median(baseline)
    print(f"{'':24}{'median':>8}  runs")
    print(f"{'bare one-bucket app':24}{baseline_median:7.2f}s  " + " ".join(f"{t:.2f}" for t in baseline))
    print(f"{'this app (app.py)':24}{ours_median:7.2f}s  " + " ".join(f"{t:.2f}" for t in ours))
    print(f"ratio {ours_median / baseline_median:.2f}x (issue 11 target: at most 1.6x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
