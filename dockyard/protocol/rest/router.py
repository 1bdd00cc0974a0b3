"""Operation routing for the REST protocols: method and path to one operation of the model.

Each operation's ``requestUri`` (``/things/{thingName}/jobs/{jobId}``, ``/{Key+}``,
``/v20180820/jobs?x``) becomes a regular expression over the raw (still percent-encoded) path
plus the query keys it requires. Candidates are tried most specific first: more literal
characters, then more required query keys, greedy labels last, so ``/things/x/jobs/$next``
finds StartNextPendingJobExecution before a ``{jobId}`` label can take ``$next``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from botocore.model import OperationModel, ServiceModel

_LABEL = re.compile(r"\{([A-Za-z0-9_]+)(\+?)\}")


@dataclass(frozen=True, slots=True)
class Route:
    operation: OperationModel
    pattern: re.Pattern[str]
    labels: tuple[str, ...]  # group name order: the URI labels as the model names them
    query: tuple[tuple[str, str | None], ...]  # required query keys (and values, when given)
    rank: tuple[int, int, int]

    def match(self, path: str, query: dict[str, list[str]]) -> dict[str, str] | None:
        found = self.pattern.fullmatch(path)
        if found is None:
            return None
        for key, value in self.query:
            if key not in query or (value is not None and value not in query[key]):
                return None
        return {label: unquote(found.group(index + 1)) for index, label in enumerate(self.labels)}


def compile_route(operation: OperationModel) -> Route:
    """The matcher of one operation's ``http.requestUri``."""
    uri = operation.http["requestUri"]
    path, _, query_part = uri.partition("?")
    labels: list[str] = []
    pattern = ""
    literal = 0
    greedy = 0
    position = 0
    for label in _LABEL.finditer(path):
        text = path[position : label.start()]
        pattern += re.escape(text)
        literal += len(text)
        labels.append(label.group(1))
        greedy += bool(label.group(2))
        pattern += "(.+)" if label.group(2) else "([^/]+)"
        position = label.end()
    tail = path[position:]
    pattern += re.escape(tail)
    literal += len(tail)
    if path != "/" and not labels:
        pattern += "/?"  # a trailing slash names the same collection
    query = tuple((key, value or None) for key, value in parse_qsl(query_part, keep_blank_values=True) if key)
    return Route(
        operation=operation,
        pattern=re.compile(pattern),
        labels=tuple(labels),
        query=query,
        rank=(-literal, -len(query), greedy),
    )


def _first_segment(path: str) -> str:
    return path.split("/", 2)[1] if path.startswith("/") else path


class Router:
    """Every operation of a REST model, by method and then by the path's first segment (only
    routes that can match it are tried: IoT has ~90 GET routes), most specific route first."""

    def __init__(self, model: ServiceModel) -> None:
        routes: dict[str, list[Route]] = {}
        for name in model.operation_names:
            operation = model.operation_model(name)
            routes.setdefault(operation.http["method"].upper(), []).append(compile_route(operation))
        self._routes: dict[str, tuple[dict[str, list[Route]], list[Route]]] = {}
        for method, found in routes.items():
            ranked = sorted(found, key=lambda r: r.rank)
            first = {id(r): _first_segment(r.operation.http["requestUri"].partition("?")[0]) for r in ranked}
            # A route whose first segment is a label ({Bucket}) may match any first segment.
            anywhere = [r for r in ranked if "{" in first[id(r)]]
            by_first = {
                segment: [r for r in ranked if first[id(r)] == segment or r in anywhere]
                for segment in set(first.values()) - {first[id(r)] for r in anywhere}
            }
            self._routes[method] = (by_first, anywhere)

    def match(
        self, method: str, path: str, query: dict[str, list[str]]
    ) -> tuple[OperationModel, dict[str, str]] | None:
        """The operation and its URI labels (decoded) for a raw path; None if none matches."""
        found = self._routes.get(method.upper())
        if found is None:
            return None
        by_first, anywhere = found
        for route in by_first.get(_first_segment(path), anywhere):
            labels = route.match(path, query)
            if labels is not None:
                return route.operation, labels
        return None
