"""Read what synth produced (cdk.out) the way a deployment would use it.

Offline runs execute the emitted definition file, after checking that the template deploys
that very text, and run each Lambda step from the asset folder CloudFormation would upload,
with the handler the template names. Nothing about the stack is restated here.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks.artifacts import DEFINITION_FILE_NAME, STACK_NAME, definition_file_name


class CloudAssemblyError(RuntimeError):
    """cdk.out is missing, stale, or does not hold what the offline run needs."""


@dataclass(frozen=True)
class LambdaFunction:
    """A function of the template: where its code is and which handler to call."""

    logical_id: str
    handler: str
    code_dir: Path
    timeout_seconds: int
    environment: dict[str, str]
    # MemorySize (CloudFormation's default is 128 MB).
    memory_mb: int = 128
    # Each layer's python/ folder, as the Lambda runtime puts /opt/python on sys.path.
    layer_dirs: tuple[Path, ...] = ()


@dataclass(frozen=True)
class SynthesizedPipeline:
    directory: Path
    template: dict[str, Any]
    definition_text: str
    state_machine_logical_id: str
    functions: dict[str, LambdaFunction]
    # The stack's name: PersonalizePipeline, or PersonalizePipeline-<name> for one of several pipelines.
    stack_name: str = STACK_NAME

    @property
    def definition_substitutions(self) -> dict[str, Any]:
        properties = self.template["Resources"][self.state_machine_logical_id]["Properties"]
        return properties.get("DefinitionSubstitutions", {})

    def asset_file(self, object_key: str) -> Path:
        """The cloud assembly's file that the deployment uploads as ``object_key`` (a file asset)."""
        assets = json.loads((self.directory / f"{self.stack_name}.assets.json").read_text())["files"]
        for asset in assets.values():
            if any(d["objectKey"] == object_key for d in asset["destinations"].values()):
                return self.directory / asset["source"]["path"]
        raise CloudAssemblyError(f"no file asset {object_key} in the cloud assembly")

    def output_value(self, name: str) -> Any:
        return self.template["Outputs"][name]["Value"]

    def resolve_definition(self, values: dict[str, str]) -> dict[str, Any]:
        """The definition with every ``${Placeholder}`` replaced, as Step Functions receives it."""
        text = self.definition_text
        missing = [key for key in self.definition_substitutions if key not in values]
        if missing:
            raise CloudAssemblyError(f"no offline value for substitutions {missing}")
        return substitute(text, values)


def load_synthesized_pipeline(directory: Path | str, stack_name: str = STACK_NAME) -> SynthesizedPipeline:
    """The stack ``stack_name`` of cdk.out: the one pipeline's, or one of several (``personalize.pipelines``)."""
    directory = Path(directory)
    template_path = directory / f"{stack_name}.template.json"
    several = directory / definition_file_name(stack_name, several=True)
    definition_path = several if several.exists() else directory / DEFINITION_FILE_NAME
    if not template_path.exists():
        others = sorted(p.name.removesuffix(".template.json") for p in directory.glob(f"{STACK_NAME}-*.template.json"))
        if others:
            raise CloudAssemblyError(
                f"{template_path} does not exist; this cdk.out has the stacks of several pipelines: "
                + ", ".join(others)
                + " (pass --pipeline NAME)"
            )
    for path in (template_path, definition_path):
        if not path.exists():
            raise CloudAssemblyError(f"{path} does not exist; synthesize first (npx cdk synth, or make synth)")
    template = json.loads(template_path.read_text())
    definition_text = definition_path.read_text()
    resources = template["Resources"]
    # The workflow's definition is a literal string; the teardown provider's waiter is built
    # from a Fn::Join of ARNs.
    machines = [
        key
        for key, res in resources.items()
        if res["Type"] == "AWS::StepFunctions::StateMachine" and isinstance(res["Properties"]["DefinitionString"], str)
    ]
    if len(machines) != 1:
        raise CloudAssemblyError(f"expected one workflow state machine in {template_path}, found {len(machines)}")
    deployed_text = resources[machines[0]]["Properties"]["DefinitionString"]
    if deployed_text != definition_text:
        raise CloudAssemblyError(f"the template's DefinitionString differs from {definition_path}; re-synthesize")
    return SynthesizedPipeline(
        directory=directory,
        template=template,
        definition_text=definition_text,
        state_machine_logical_id=machines[0],
        functions=_lambda_functions(directory, resources, stack_name),
        stack_name=stack_name,
    )


def _lambda_functions(directory: Path, resources: dict[str, Any], stack_name: str) -> dict[str, LambdaFunction]:
    assets = json.loads((directory / f"{stack_name}.assets.json").read_text())["files"]
    folder_by_key = {
        destination["objectKey"]: directory / asset["source"]["path"]
        for asset in assets.values()
        for destination in asset["destinations"].values()
    }
    functions = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        s3_key = properties["Code"].get("S3Key")
        if s3_key not in folder_by_key:
            raise CloudAssemblyError(f"function {logical_id} has no file asset in the cloud assembly")
        variables = properties.get("Environment", {}).get("Variables", {})
        layers = []
        for layer in properties.get("Layers", []):
            layer_key = resources[layer["Ref"]]["Properties"]["Content"]["S3Key"]
            if layer_key not in folder_by_key:
                raise CloudAssemblyError(
                    f"layer {layer['Ref']} of {logical_id} has no file asset in the cloud assembly"
                )
            layers.append(folder_by_key[layer_key] / "python")
        functions[logical_id] = LambdaFunction(
            logical_id=logical_id,
            handler=properties["Handler"],
            code_dir=folder_by_key[s3_key],
            timeout_seconds=int(properties.get("Timeout", 3)),
            environment={k: v for k, v in variables.items() if isinstance(v, str)},
            memory_mb=int(properties.get("MemorySize", 128)),
            layer_dirs=tuple(layers),
        )
    return functions


def load_for_command(directory: Path | str, stack_name: str = STACK_NAME) -> SynthesizedPipeline:
    """For command-line entry points: a stale or missing cdk.out is one line and exit status 2."""
    try:
        return load_synthesized_pipeline(directory, stack_name)
    except CloudAssemblyError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


def substitute(text: str, values: dict[str, str]) -> dict[str, Any]:
    """A definition's text with its ``${Placeholder}`` strings replaced, parsed."""
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    return json.loads(text)
