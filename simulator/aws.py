"""Route boto3 Personalize calls to the simulator through botocore's own client machinery.

Why: the handlers and the state machine must talk to the simulator exactly as they talk to
AWS. botocore still validates and serializes every request, and it parses every response
and error with its real parser, so modeled exception classes (``client.exceptions.X``) and
datetime fields behave as they do against the service. Only the HTTP round trip is
replaced, the way moto does it: a handler appended to ``botocore.handlers.BUILTIN_HANDLERS``
at import, so every session created afterwards carries it.

Difference from AWS worth knowing: the round trip is skipped at ``before-call``, so
botocore's automatic retries (which live in the HTTP layer) do not happen here. A
throttling injection reaches the caller on its first attempt: stricter than reality.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import boto3
import botocore.handlers
from botocore.awsrequest import AWSResponse
from botocore.client import BaseClient
from botocore.exceptions import ClientError, ParamValidationError
from botocore.model import OperationModel, ServiceModel, Shape
from botocore.parsers import create_parser

from simulator.personalize import PersonalizeSimulator
from simulator.service_model import SimulatedServiceError

SIMULATED_SERVICES = ("personalize", "personalize-runtime")
# Services answered by a routed handler while one is registered (see ``route``); else by moto.
ROUTABLE_SERVICES = ("stepfunctions", "cloudformation")
# Step Functions aws-sdk service names (as in arn:aws:states:::aws-sdk:<name>:<action>) → boto3 names.
SFN_SERVICE_NAMES = {
    "personalize": "personalize",
    "personalizeruntime": "personalize-runtime",
    "personalize-runtime": "personalize-runtime",
}
# The Pascal-case prefix Step Functions puts in front of aws-sdk error names.
SFN_ERROR_PREFIX = {"personalize": "Personalize", "personalize-runtime": "PersonalizeRuntime"}
REGION = "us-east-1"

_active: PersonalizeSimulator | None = None
ServiceHandler = Callable[[str, dict[str, Any]], dict[str, Any]]
_routes: dict[str, ServiceHandler] = {}
_clients: dict[str, BaseClient] = {}
_clients_lock = threading.Lock()
_request_ids = itertools.count(1)


class AwsSdkTaskError(Exception):
    """An aws-sdk Task failure, named the way Step Functions names it (``Personalize.X``)."""

    def __init__(self, *, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class AwsSdkParameterError(ValueError):
    """A Task parameter the API does not have: Step Functions rejects such a definition at deploy."""


# --------------------------------------------------------------------------- activation


class _Activation:
    """Returned by ``activate``: active at once, and a context manager that deactivates."""

    def __init__(self, simulator: PersonalizeSimulator) -> None:
        self.simulator = simulator

    def __enter__(self) -> PersonalizeSimulator:
        return self.simulator

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        deactivate()


def activate(simulator: PersonalizeSimulator) -> _Activation:
    """Make every personalize / personalize-runtime client answer from ``simulator``."""
    global _active
    if _active is not None and _active is not simulator:
        raise RuntimeError("another PersonalizeSimulator is already active; deactivate it first")
    _active = simulator
    return _Activation(simulator)


def deactivate() -> None:
    """Restore normal behaviour: clients talk to AWS again."""
    global _active
    _active = None


def active_simulator() -> PersonalizeSimulator | None:
    return _active


@contextlib.contextmanager
def route(service: str, handler: ServiceHandler) -> Iterator[None]:
    """Answer boto3 calls of ``service`` with ``handler(operation_name, params)`` while the context lasts.

    The handler receives the request as the service would (botocore has validated and
    serialized it) and returns the response members or raises SimulatedServiceError.
    """
    if service not in ROUTABLE_SERVICES:
        raise ValueError(f"{service!r} is not routable; add it to ROUTABLE_SERVICES")
    if service in _routes:
        raise RuntimeError(f"{service} is already routed")
    _routes[service] = handler
    try:
        yield
    finally:
        del _routes[service]


# --------------------------------------------------------------------------- botocore hook


def _before_call(model: OperationModel, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    """botocore's before-call hook: answer from the simulator instead of sending HTTP."""
    service = model.service_model.service_name
    routed = _routes.get(service)
    simulator = _active
    if routed is None and (simulator is None or service not in SIMULATED_SERVICES):
        return None
    if model.service_model.metadata["protocol"] == "query":
        assert routed is not None
        return _query_call(model, routed, params)
    request = _request_params(params)
    try:
        if routed is not None:
            result = routed(model.name, request)
        else:
            assert simulator is not None
            result = simulator.handle(model.name, request, service=service)
    except SimulatedServiceError as err:
        return _http_response(model, err.http_status, {"__type": err.code, "message": err.message}, err.code)
    return _http_response(model, 200, result, None)


def _query_call(
    model: OperationModel, handler: ServiceHandler, request_dict: dict[str, Any]
) -> tuple[AWSResponse, dict[str, Any]]:
    """A query-protocol (XML) service, such as CloudFormation, answered with parsed members.

    botocore has validated and flattened the request into form fields; only top-level scalar
    members are read back (all DescribeStacks has). The answer skips the XML round trip:
    botocore takes the parsed response as is and raises the modeled error for a status >= 300.
    """
    request = {key: value for key, value in request_dict["body"].items() if key not in ("Action", "Version")}
    metadata = {"RequestId": _next_request_id()}
    try:
        status, parsed = 200, handler(model.name, request)
    except SimulatedServiceError as err:
        status = err.http_status
        parsed = {"Error": {"Code": err.code, "Message": err.message, "Type": "Sender"}}
    parsed = {**parsed, "ResponseMetadata": {**metadata, "HTTPStatusCode": status}}
    url = f"https://{model.service_model.endpoint_prefix}.{REGION}.amazonaws.com/"
    return AWSResponse(url, status, {"x-amzn-requestid": metadata["RequestId"]}, _RawBody(b"")), parsed


def _request_params(request_dict: dict[str, Any]) -> dict[str, Any]:
    """The request as the service receives it: botocore's serialized JSON body."""
    body = request_dict.get("body") or b"{}"
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    decoded: dict[str, Any] = json.loads(body or "{}")
    return decoded


def _http_response(
    model: OperationModel, status: int, body: dict[str, Any], error_code: str | None
) -> tuple[AWSResponse, dict[str, Any]]:
    """Serialize like the service, then let botocore's own parser read it back."""
    raw = json.dumps(body, default=_epoch_seconds).encode("utf-8")
    headers = {
        "x-amzn-requestid": _next_request_id(),
        "content-type": "application/x-amz-json-1.1",
        "content-length": str(len(raw)),
    }
    if error_code:
        headers["x-amzn-errortype"] = error_code
    parser = create_parser(model.service_model.metadata["protocol"])
    response = {"status_code": status, "headers": headers, "body": raw, "context": {"operation_name": model.name}}
    parsed: dict[str, Any] = parser.parse(response, model.output_shape)
    url = f"https://{model.service_model.endpoint_prefix}.{REGION}.amazonaws.com/"
    return AWSResponse(url, status, headers, _RawBody(raw)), parsed


class _RawBody:
    """Minimal urllib3-like body so AWSResponse.content works for after-call handlers."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> list[bytes]:
        return [self._data]


def _epoch_seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _next_request_id() -> str:
    return f"00000000-0000-4000-8000-{next(_request_ids):012d}"


def _register() -> None:
    """Append the hook to botocore's built-ins once, and to boto3's default session if it exists."""
    for service in SIMULATED_SERVICES + ROUTABLE_SERVICES:
        event = f"before-call.{service}"
        if (event, _before_call) not in botocore.handlers.BUILTIN_HANDLERS:
            botocore.handlers.BUILTIN_HANDLERS.append((event, _before_call))
        if boto3.DEFAULT_SESSION is not None:
            boto3.DEFAULT_SESSION._session.register(event, _before_call, unique_id=f"simulator-{event}")


_register()


# --------------------------------------------------------------------------- aws-sdk tasks


def call(service: str, operation_name: str, params: dict[str, Any]) -> dict[str, Any]:
    """Run one Step Functions aws-sdk Task against the active simulator.

    ``service`` is the SDK integration name (``personalize``) and ``operation_name`` the
    action (``describeCampaign`` or ``DescribeCampaign``). Parameters and the result use the
    PascalCase keys Step Functions uses; timestamps come back as ISO-8601 UTC strings.
    """
    boto_name = SFN_SERVICE_NAMES.get(service.lower())
    if boto_name is None:
        raise AwsSdkParameterError(f"service {service!r} is not simulated; use one of {sorted(SFN_SERVICE_NAMES)}")
    client = _client(boto_name)
    operation = _operation_model(client, operation_name)
    api_params = to_api_params(operation.input_shape, params, operation.name)
    prefix = SFN_ERROR_PREFIX[boto_name]
    try:
        result = getattr(client, _method_name(client, operation.name))(**api_params)
    except ClientError as exc:
        error = sfn_error_name(client.meta.service_model, prefix, exc.response["Error"]["Code"])
        raise AwsSdkTaskError(error=error, cause=_cause(exc, prefix)) from exc
    except ParamValidationError as exc:
        raise AwsSdkTaskError(error=f"{prefix}.InvalidInputException", cause=str(exc)) from exc
    result.pop("ResponseMetadata", None)
    converted: dict[str, Any] = to_sfn_output(operation.output_shape, result) if operation.output_shape else {}
    return converted


def sfn_error_name(service_model: ServiceModel, prefix: str, code: str) -> str:
    """The Error an aws-sdk task reports for a service error ``code``.

    Register ``sfn.aws-sdk.error-names``: a modeled exception arrives as ``Service.Code``; an
    error the service model does not declare (Personalize's ThrottlingException) arrives under
    the SDK's generic exception, ``Service.ServiceException`` (``Personalize.PersonalizeException``).
    """
    modeled = {shape.name for shape in service_model.error_shapes}
    return f"{prefix}.{code}" if code in modeled else f"{prefix}.{prefix}Exception"


def _client(service: str) -> BaseClient:
    """One client per service with static dummy credentials: no environment needed."""
    with _clients_lock:
        if service not in _clients:
            session = boto3.session.Session(
                aws_access_key_id="simulated",
                aws_secret_access_key="simulated",
                region_name=REGION,
            )
            _clients[service] = session.client(service)
        return _clients[service]


def _operation_model(client: BaseClient, operation_name: str) -> OperationModel:
    model = client.meta.service_model
    pascal = operation_name[:1].upper() + operation_name[1:]
    if pascal not in model.operation_names:
        raise AwsSdkParameterError(f"{model.service_name} has no action {operation_name!r}")
    return model.operation_model(pascal)


def _method_name(client: BaseClient, operation_name: str) -> str:
    return next(name for name, op in client.meta.method_to_api_mapping.items() if op == operation_name)


def _cause(exc: ClientError, prefix: str) -> str:
    """The Cause text Step Functions shows: the message plus the SDK's service details."""
    error = exc.response.get("Error", {})
    meta = exc.response.get("ResponseMetadata", {})
    return (
        f"{error.get('Message', '')} (Service: {prefix}, Status Code: {meta.get('HTTPStatusCode', 400)}, "
        f"Request ID: {meta.get('RequestId', '')})"
    )


def to_api_params(shape: Shape, value: Any, path: str) -> Any:
    """Map Step Functions' PascalCase parameter names onto the model's member names."""
    if shape.type_name == "structure":
        if not isinstance(value, dict):
            return value
        members = {name.lower(): name for name in shape.members}
        converted = {}
        for key, item in value.items():
            member = members.get(key.lower())
            if member is None:
                raise AwsSdkParameterError(
                    f"{path}: unknown parameter {key!r}; expected one of {sorted(shape.members)}"
                )
            converted[member] = to_api_params(shape.members[member], item, f"{path}.{member}")
        return converted
    if shape.type_name == "list" and isinstance(value, list):
        return [to_api_params(shape.member, item, path) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: to_api_params(shape.value, item, path) for key, item in value.items()}
    return value


def to_sfn_output(shape: Shape, value: Any) -> Any:
    """Shape a boto3 result as Step Functions returns it: PascalCase members, ISO timestamps."""
    if shape.type_name == "structure" and isinstance(value, dict):
        return {
            key[:1].upper() + key[1:]: to_sfn_output(shape.members[key], item)
            for key, item in value.items()
            if key in shape.members
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [to_sfn_output(shape.member, item) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: to_sfn_output(shape.value, item) for key, item in value.items()}
    if isinstance(value, datetime):
        return iso_timestamp(value)
    return value


def iso_timestamp(value: datetime) -> str:
    """ISO-8601 in UTC with a Z, milliseconds only when present (java.time.Instant style)."""
    utc = value.astimezone(UTC)
    millis = utc.microsecond // 1000
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"
