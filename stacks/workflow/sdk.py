"""The AWS Step Functions Data Science SDK's state-machine core, the only part the workflow uses.

``import stepfunctions`` runs the SDK's package initialisers, which import every step module,
the SageMaker steps among them, and so the whole sagemaker SDK: about 2.5 s, most of synth's
Python time, for modules synth never uses. The core (``steps/states.py``, ``steps/choice_rule.py``,
``steps/fields.py``, ``inputs/``, ``exceptions.py``) imports none of them. This module loads
those files from the installed SDK, unchanged and under their own names, with the two package
initialisers left out. If the whole SDK is already imported in this process, it is used as is.

Every workflow module takes the SDK's classes from here.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path


def _packages_without_initialisers() -> None:
    """``stepfunctions`` and ``stepfunctions.steps`` as bare packages over the SDK's own folders."""
    if "stepfunctions" in sys.modules:
        return
    spec = importlib.util.find_spec("stepfunctions")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the AWS Step Functions Data Science SDK (stepfunctions) is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    for name, folder in (("stepfunctions", root), ("stepfunctions.steps", root / "steps")):
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]
        package.__package__ = name
        package.__file__ = str(folder / "__init__.py")
        sys.modules[name] = package


_packages_without_initialisers()

from stepfunctions.steps.choice_rule import ChoiceRule
from stepfunctions.steps.states import (
    Catch,
    Chain,
    Choice,
    Fail,
    Graph,
    Parallel,
    Pass,
    Retry,
    State,
    Succeed,
    Task,
    Wait,
)

__all__ = [
    "Catch",
    "Chain",
    "Choice",
    "ChoiceRule",
    "Fail",
    "Graph",
    "Parallel",
    "Pass",
    "Retry",
    "State",
    "Succeed",
    "Task",
    "Wait",
]
