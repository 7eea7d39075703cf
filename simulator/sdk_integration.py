"""Step Functions' AWS SDK integrations (``arn:aws:states:::aws-sdk:<service>:<action>``), offline.

Step Functions takes the parameters of an SDK integration in PascalCase and returns the
response in PascalCase, whatever the service's own casing (Personalize's is camelCase), and
names errors ``<Service>.<ErrorCode>``. This module does that translation against botocore's
service model and sends the call through a real boto3 client, so the request is validated by
botocore exactly as a Lambda's would be, and answered by whichever simulator is active.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from typing import Any

import boto3
from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError
from botocore.model import ListShape, MapShape, OperationNotFoundError, Shape, StructureShape

from simulator.interpreter import TaskFailure

SDK_RESOURCE_PREFIX = "arn:aws:states:::aws-sdk:"

# Service names as Step Functions spells them in error names.
ERROR_PREFIXES = {"personalize": "Personalize", "personalize-runtime": "PersonalizeRuntime", "s3": "S3"}


def is_sdk_integration(resource: str) -> bool:
    return resource.startswith(SDK_RESOURCE_PREFIX)


def call_sdk_integration(resource: str, parameters: dict[str, Any], *, region: str) -> dict[str, Any]:
    """Run one SDK-integration task the way Step Functions would; raise TaskFailure on error."""
    service, _, action = resource.removeprefix(SDK_RESOURCE_PREFIX).partition(":")
    if "." in action:
        raise TaskFailure("States.Runtime", f"integration pattern of {resource} is not supported offline")
    client = boto3.client(
        service,
        region_name=region,
        aws_access_key_id="offline",
        aws_secret_access_key="offline",
    )
    operation_name = action[0].upper() + action[1:]
    try:
        operation = client.meta.service_model.operation_model(operation_name)
    except OperationNotFoundError as error:
        raise TaskFailure("States.Runtime", f"{resource}: unknown action {action}") from error
    native = _from_pascal(parameters, operation.input_shape)
    method = getattr(client, xform_name(operation_name))
    prefix = ERROR_PREFIXES.get(service, service.title())
    try:
        response = method(**native)
    except ParamValidationError as error:
        raise TaskFailure(f"{prefix}.ValidationException", str(error)) from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "Unknown")
        if not code.endswith("Exception"):
            code += "Exception"
        message = error.response.get("Error", {}).get("Message", "")
        raise TaskFailure(f"{prefix}.{code}", f"{message} (Service: {prefix}, Status Code: "
                          f"{error.response.get('ResponseMetadata', {}).get('HTTPStatusCode', 400)}, "
                          f"Error Code: {code})") from None
    response.pop("ResponseMetadata", None)
    return _to_pascal(response, operation.output_shape)


def _pascal(name: str) -> str:
    return name[0].upper() + name[1:]


def _from_pascal(value: Any, shape: Shape | None) -> Any:
    """PascalCase parameters -> the model's member names, recursively through structures."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        by_pascal = {_pascal(member): member for member in shape.members}
        converted = {}
        for key, item in value.items():
            member = by_pascal.get(key, key)  # unknown keys are left for botocore to reject
            converted[member] = _from_pascal(item, shape.members.get(member))
        return converted
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_from_pascal(item, shape.member) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: _from_pascal(item, shape.value) for key, item in value.items()}
    return value


def _to_pascal(value: Any, shape: Shape | None) -> Any:
    """The response as Step Functions returns it: PascalCase members, JSON-safe scalars."""
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {_pascal(key): _to_pascal(item, shape.members.get(key)) for key, item in value.items()}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [_to_pascal(item, shape.member) for item in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {key: _to_pascal(item, shape.value) for key, item in value.items()}
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value
