"""The contract package (contract/): each shared fact defined once, and shipped to every function as a layer."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from simulator.cloud_assembly import load_synthesized_pipeline

REPO = Path(__file__).resolve().parents[2]
CONTRACT = REPO / "contract"
# Facts that once had several definitions; now only contract/ may assign them.
SHARED_FACTS = (
    "TRAINING_MODES",
    "UPDATE_CAPABLE_RECIPES",
    "PENDING_STATUSES",
    "DELETING_STATUSES",
    "FAILED_STATUSES",
    "IN_PROGRESS",
    "IN_FLIGHT",
    "STATE_KEY",
    "TRAINING_PREFIX",
    "METRIC_NAMESPACE",
    "EVENT_SOURCE",
    "EVENT_DETAIL_TYPE",
    "OUTCOMES",
    "STAGE_DURATION_METRIC",
    "DEPLOYED_MODEL_METRIC",
    "RETRAINING_AGE_METRIC",
    "RATE_PATTERN",
    "CRON_PATTERN",
    "TEARDOWN_RESOURCE_TYPE",
    "SCHEDULE_START_RESOURCE_TYPE",
    "PUT_EVENTS_INTEGRATION",
    "SDK_INTEGRATION_PREFIX",
)
CODE_FOLDERS = ("stacks", "lambdas", "pipelinectl", "simulator", "tools")


def test_each_shared_fact_is_assigned_only_in_the_contract() -> None:
    # The simulated Personalize states the service's rules on its own (from docs/aws-behaviour.md),
    # so that a wrong contract fails a test instead of agreeing with itself.
    allowed_elsewhere = {
        ("simulator/personalize/core.py", "IN_FLIGHT"),
        ("simulator/personalize/core.py", "UPDATE_CAPABLE_RECIPES"),
    }
    definitions = []
    for folder in CODE_FOLDERS:
        for path in (REPO / folder).rglob("*.py"):
            relative = str(path.relative_to(REPO))
            for name in re.findall(r"^([A-Z_]+)\s*(?::[^=]+)?=", path.read_text(), re.MULTILINE):
                if name in SHARED_FACTS and (relative, name) not in allowed_elsewhere:
                    definitions.append(f"{relative}: {name}")

    assert definitions == [], "import it from contract/ instead"


def test_the_contract_needs_only_the_standard_library() -> None:
    imported = {
        module.split(".")[0]
        for path in CONTRACT.glob("*.py")
        for module in re.findall(r"^(?:from|import) ([\w.]+)", path.read_text(), re.MULTILINE)
    }

    assert imported - {"__future__", "contract"} <= set(sys.stdlib_module_names)


def test_every_function_gets_the_contract_layer_with_exactly_the_contract(cloud_assembly: Path) -> None:
    functions = [f for f in load_synthesized_pipeline(cloud_assembly).functions.values() if f.handler.count(".") == 1]
    python_functions = [f for f in functions if (f.code_dir / f"{f.handler.split('.')[0]}.py").exists()]

    assert len(python_functions) >= 14
    for function in python_functions:
        (layer,) = function.layer_dirs
        shipped = {p.relative_to(layer / "contract"): p.read_text() for p in (layer / "contract").glob("*.py")}
        assert shipped == {p.relative_to(CONTRACT): p.read_text() for p in CONTRACT.glob("*.py")}, function.logical_id


def test_every_handler_imports_with_only_its_asset_and_its_layers(cloud_assembly: Path, tmp_path: Path) -> None:
    """As in Lambda: the asset and /opt/python, nothing of this repository (python -I, run elsewhere)."""
    functions = load_synthesized_pipeline(cloud_assembly).functions.values()
    by_folder = {}
    for function in functions:
        module = function.handler.rpartition(".")[0]
        if (function.code_dir / f"{module}.py").exists():
            by_folder.setdefault((function.code_dir, function.layer_dirs), set()).add(function.handler)
    for (code_dir, layers), handlers in by_folder.items():
        script = (
            "import importlib, sys\n"
            f"sys.path[:0] = {[str(code_dir), *map(str, layers)]!r}\n"
            f"for handler in {sorted(handlers)!r}:\n"
            "    module, _, name = handler.rpartition('.')\n"
            "    assert callable(getattr(importlib.import_module(module), name)), handler\n"
        )
        completed = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True)
        assert completed.returncode == 0, f"{sorted(handlers)}: {completed.stderr}"
