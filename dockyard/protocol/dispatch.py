"""Dispatch from botocore operation names to domain methods.

A service's provider is a list of modules; the action ``CreateCluster`` is the function
``create_cluster`` in one of them, called with the request's members as snake_case keywords.
An operation of the model with no such function still gets a proper AWS error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from botocore.model import ServiceModel

from dockyard.context import RequestContext
from dockyard.errors import UnsupportedFeatureException
from dockyard.protocol import read_cache

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_READ_PREFIXES = ("Describe", "List", "Get", "Discover")


def snake_case(name: str) -> str:
    """``registerTaskDefinition`` -> ``register_task_definition``; ``PIDMode`` -> ``pid_mode``."""
    return _CAMEL_BOUNDARY.sub("_", name).lower()


@dataclass(frozen=True, slots=True)
class Action:
    """A domain method bound to an operation, with its keyword names precomputed."""

    function: Callable[..., Any]
    keywords: dict[str, str]  # wire member name -> python keyword
    writes: bool
    cached: bool = False  # answered from protocol.read_cache while the store is unchanged

    def __call__(self, ctx: RequestContext) -> Any:
        if self.cached:
            return read_cache.answer(ctx, self._call)
        return self._call(ctx)

    def _call(self, ctx: RequestContext) -> Any:
        keywords = self.keywords
        return self.function(
            ctx, **{keywords[name]: value for name, value in ctx.params.items() if name in keywords}
        )


def build_actions(model: ServiceModel, modules: Iterable[ModuleType]) -> dict[str, Action]:
    """Bind every operation of ``model`` that one of ``modules`` implements. A module's
    ``CACHED_READS`` names read-only operations whose answers ``protocol.read_cache`` keeps."""
    modules = list(modules)
    cached = {name for module in modules for name in getattr(module, "CACHED_READS", ())}
    actions: dict[str, Action] = {}
    for name in model.operation_names:
        function_name = snake_case(name)
        for module in modules:
            function = getattr(module, function_name, None)
            if function is not None:
                shape = model.operation_model(name).input_shape
                members = shape.members if shape is not None else {}
                actions[name] = Action(
                    function=function,
                    keywords={member: snake_case(member) for member in members},
                    writes=not name.startswith(_READ_PREFIXES),
                    cached=name in cached and name.startswith(_READ_PREFIXES),
                )
                break
    return actions


def not_implemented(operation_name: str) -> UnsupportedFeatureException:
    return UnsupportedFeatureException(f"{operation_name} is not supported by Dockyard yet.")
