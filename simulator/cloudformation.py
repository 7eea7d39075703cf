"""CloudFormation's DescribeStacks for the offline account: the deployed stack and its outputs.

Tools find the pipeline's resources from the stack's outputs (tools/upload_movielens.py,
``python -m pipelinectl``). Offline, "deploying" the synthesized stack records it here with the
offline values of the template's outputs, so those tools take the same path as against AWS,
errors included: another name is "Stack with id X does not exist", as CloudFormation says it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import botocore.session

from simulator.service_model import SimulatedServiceError, check_response

MODEL = botocore.session.get_session().get_service_model("cloudformation")


class CloudFormationStacks:
    """The stacks of one offline account and region."""

    def __init__(self, *, region: str, account_id: str) -> None:
        self.region = region
        self.account_id = account_id
        self.stacks: dict[str, dict[str, Any]] = {}

    def deploy(
        self, name: str, outputs: Mapping[str, tuple[str, str]], *, created: datetime, status: str = "CREATE_COMPLETE"
    ) -> None:
        """Record ``name`` with ``outputs`` (key -> (value, description)) in ``status``."""
        self.stacks[name] = {
            "StackId": f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{name}/00000000-offline",
            "StackName": name,
            "CreationTime": created,
            "StackStatus": status,
            "Outputs": [
                {"OutputKey": key, "OutputValue": value, **({"Description": description} if description else {})}
                for key, (value, description) in outputs.items()
            ],
        }

    def handle(self, operation_name: str, params: dict[str, Any]) -> dict[str, Any]:
        if operation_name != "DescribeStacks":
            raise SimulatedServiceError("InvalidAction", f"cloudformation.{operation_name} is not simulated")
        name = params.get("StackName")
        if name is None:
            response = {"Stacks": list(self.stacks.values())}
        elif name in self.stacks:
            response = {"Stacks": [self.stacks[name]]}
        else:
            raise SimulatedServiceError("ValidationError", f"Stack with id {name} does not exist")
        check_response(MODEL.operation_model("DescribeStacks").output_shape, response)
        return response
