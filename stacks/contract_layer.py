"""The contract package (contract/) as a Lambda layer, so every handler imports the same facts.

The layer is built at synth from the repository's contract/ folder by copying it to
``python/contract/`` (where the Lambda Python runtime finds layer packages, /opt/python): local
bundling, no Docker and no network. Its asset hash comes from the folder's content, so synth
stays deterministic.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import BundlingOptions, DockerImage, ILocalBundling, Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

CONTRACT_DIR = Path(__file__).resolve().parent.parent / "contract"
LAYER_ID = "ContractLayer"


@jsii.implements(ILocalBundling)
class _CopyAsLayerPackage:
    """Copies contract/ to ``<output>/python/contract`` (only the .py files)."""

    def try_bundle(self, output_dir: str, *args: Any, **kwargs: Any) -> bool:
        shutil.copytree(
            CONTRACT_DIR,
            Path(output_dir) / "python" / "contract",
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        return True


def contract_layer(scope: Construct, runtime: lambda_.Runtime) -> lambda_.ILayerVersion:
    """The stack's one contract layer, created by the first function that needs it."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child(LAYER_ID)
    if existing is not None:
        return existing  # type: ignore[return-value]
    return lambda_.LayerVersion(
        stack,
        LAYER_ID,
        description="The pipeline's shared contract (names, bucket layout, statuses, event and metric names)",
        code=lambda_.Code.from_asset(
            str(CONTRACT_DIR),
            exclude=["__pycache__", "*.pyc"],
            bundling=BundlingOptions(
                # Never pulled: local bundling always succeeds, so no Docker is needed.
                image=DockerImage.from_registry("local-bundling-only"),
                local=_CopyAsLayerPackage(),
            ),
        ),
        compatible_runtimes=[runtime],
        compatible_architectures=[lambda_.Architecture.ARM_64],
    )
