"""Errors of a REST service, with the HTTP status and code its model gives each error shape.

A service's error module declares one class per error it raises, under a base naming the
service (``class IotError(ModeledError): service = "iot"``); the status is read from the error
shape's ``error.httpStatusCode`` when the class is made, so ``LimitExceededException`` is 410
for IoT and ``ThrottlingException`` 429 for the jobs data plane, as their models say.
"""

from __future__ import annotations

from typing import Any, ClassVar

from dockyard.errors import ClientError
from dockyard.protocol.models import service_model


class ModeledError(ClientError):
    """An error shape of ``service``'s model; extra members (``resourceId``) go in the body."""

    service: ClassVar[str] = ""

    def __init__(self, message: str = "", **members: Any) -> None:
        super().__init__(message)
        self.members = members

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        if not cls.service:
            return
        model = service_model(cls.service)
        if cls.code not in model.shape_names:
            return  # a service's base class
        error = model.shape_for(cls.code).metadata.get("error", {})
        # A model without statuses (S3 Control's) leaves the class's own, 400 by default.
        cls.status = int(error.get("httpStatusCode", cls.status))
        cls.code = str(error.get("code", cls.code))
        cls.sender_fault = error.get("senderFault", cls.status < 500)
