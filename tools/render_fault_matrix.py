#!/usr/bin/env python3
"""Write docs/fault-matrix.md from the scenarios of simulator/fault_scenarios.py.

python tools/render_fault_matrix.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.fault_scenarios import DOC, render_report  # noqa: E402

if __name__ == "__main__":
    DOC.write_text(render_report())
    print(f"wrote {DOC.relative_to(ROOT)}")
