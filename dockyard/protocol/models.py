"""botocore's service models, loaded once: the machine-readable truth for every API shape."""

from __future__ import annotations

import functools

import botocore.session
from botocore.model import OperationModel, ServiceModel


@functools.cache
def service_model(name: str) -> ServiceModel:
    """The botocore model of a service, e.g. ``ecs``, ``iot`` or ``s3control``."""
    return botocore.session.get_session().get_service_model(name)


@functools.cache
def operation(service: str, name: str) -> OperationModel | None:
    """The operation ``name`` of ``service``, or None when the model has no such operation."""
    model = service_model(service)
    if name not in model.operation_names:
        return None
    return model.operation_model(name)


@functools.cache
def signing_name(service: str) -> str:
    """The name a SigV4 scope must carry for ``service`` (``ecs``; botocore's signingName)."""
    metadata = service_model(service).metadata
    return str(metadata.get("signingName") or metadata["endpointPrefix"])
