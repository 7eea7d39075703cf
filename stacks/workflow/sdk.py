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


def _compute_steps() -> types.ModuleType:
    """``steps/compute.py`` (GlueStartJobRunStep), unchanged. Its helper module ``steps/utils.py``
    imports boto3 for one function, the session's partition, which integration ARNs are written
    with; synth would pay ~0.3 s for it. That one function is replaced below, so while the SDK's
    modules load, ``boto3`` is an empty module, and the real one is left to whoever imports it."""
    if "stepfunctions.steps.compute" in sys.modules or "boto3" in sys.modules:
        return importlib.import_module("stepfunctions.steps.compute")
    sys.modules["boto3"] = types.ModuleType("boto3")
    try:
        return importlib.import_module("stepfunctions.steps.compute")
    finally:
        del sys.modules["boto3"]


GlueStartJobRunStep = _compute_steps().GlueStartJobRunStep

from stepfunctions.steps import integration_resources
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

# The SDK asks boto3 which partition the session's region is in to write a service integration's
# ARN (steps/utils.py). The definition is emitted for the aws partition, like every other ARN in
# it, whatever region the shell that runs synth has: synth stays deterministic and makes no
# boto3 session.
integration_resources.get_aws_partition = lambda: "aws"

__all__ = [
    "Catch",
    "Chain",
    "Choice",
    "ChoiceRule",
    "Fail",
    "GlueStartJobRunStep",
    "Graph",
    "Parallel",
    "Pass",
    "Retry",
    "State",
    "Succeed",
    "Task",
    "Wait",
]
