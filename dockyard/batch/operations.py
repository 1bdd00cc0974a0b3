"""What a job does to each item: ``LambdaInvoke`` runs a container (an ECS task of the
definition its ``FunctionArn`` names), the tagging, copy and checksum operations run in the
engine against the object store; any other operation is refused by name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dockyard.batch.errors import BadRequestException

CONTAINER = "LambdaInvoke"
IN_ENGINE = frozenset(
    {"S3PutObjectTagging", "S3DeleteObjectTagging", "S3PutObjectCopy", "S3ComputeObjectChecksum"}
)
SCHEMA_VERSIONS = ("1.0", "2.0")
CLUSTER_ARGUMENT = "dockyard:cluster"
CONCURRENCY_ARGUMENT = "dockyard:maxConcurrency"
DEFAULT_CLUSTER = "default"
DEFAULT_CONCURRENCY = 1000

# arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
_FUNCTION_ARN = re.compile(r"arn:[^:]+:lambda:([^:]*):(\d{12}):function:([^:]+)(?::([^:]+))?")
_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")


@dataclass(frozen=True)
class Function:
    """The task definition a FunctionArn names: its family and revision (None: the newest)."""

    family: str
    revision: int | None

    @property
    def reference(self) -> str:
        return self.family if self.revision is None else f"{self.family}:{self.revision}"


def name_of(operation: dict[str, Any]) -> str:
    """The one operation a JobOperation gives; BadRequest when it gives none or several."""
    given = [name for name, value in operation.items() if value is not None]
    if len(given) != 1:
        raise BadRequestException("A job's Operation must specify exactly one operation.")
    name = given[0]
    if name != CONTAINER and name not in IN_ENGINE:
        raise BadRequestException(f"Operation {name} is not supported by Dockyard.")
    return name


def function_of(function_arn: str, account_id: str) -> Function:
    """``…:function:NAME[:QUALIFIER]`` or ``NAME``: the family and revision ($LATEST: newest)."""
    found = _FUNCTION_ARN.fullmatch(function_arn)
    if found is not None:
        if found.group(2) != account_id:
            raise BadRequestException("LambdaInvoke's FunctionArn must be a function of the job's account.")
        name, qualifier = found.group(3), found.group(4)
    elif _NAME.fullmatch(function_arn):
        name, qualifier = function_arn, None
    else:
        raise BadRequestException(f"Invalid FunctionArn: {function_arn}")
    if qualifier is None or qualifier == "$LATEST":
        return Function(name, None)
    if not qualifier.isdigit():
        raise BadRequestException(
            f"FunctionArn qualifier {qualifier} is neither $LATEST nor a task definition revision."
        )
    return Function(name, int(qualifier))


def check_lambda(invoke: dict[str, Any], account_id: str) -> Function:
    """A LambdaInvoke operation Dockyard can run; its function."""
    if not invoke.get("FunctionArn"):
        raise BadRequestException("LambdaInvoke requires a FunctionArn.")
    version = invoke.get("InvocationSchemaVersion", "1.0")
    if version not in SCHEMA_VERSIONS:
        raise BadRequestException(f"InvocationSchemaVersion must be one of {', '.join(SCHEMA_VERSIONS)}.")
    arguments = invoke.get("UserArguments")
    if arguments and version != "2.0":
        raise BadRequestException("UserArguments require InvocationSchemaVersion 2.0.")
    concurrency_of(invoke)
    return function_of(invoke["FunctionArn"], account_id)


def cluster_of(invoke: dict[str, Any]) -> str:
    return str((invoke.get("UserArguments") or {}).get(CLUSTER_ARGUMENT) or DEFAULT_CLUSTER)


def concurrency_of(invoke: dict[str, Any]) -> int:
    text = (invoke.get("UserArguments") or {}).get(CONCURRENCY_ARGUMENT)
    if text is None:
        return DEFAULT_CONCURRENCY
    if not str(text).isdigit() or int(text) < 1:
        raise BadRequestException(f"{CONCURRENCY_ARGUMENT} must be a positive integer.")
    return int(text)
