"""Which method of a REST API a request is for (pure).

Resource paths are templates: a literal segment, ``{name}`` (exactly one segment) or a
last ``{name+}`` (greedy: one or more segments). When several resources match, the more
specific wins, segment by segment: literal before ``{name}`` before ``{name+}``; on the
matched resource, the request's method before ``ANY`` (API Gateway Developer Guide, "Set
up a proxy integration with a proxy resource": a more specific resource takes precedence
over a greedy one). No resource or method: None (API Gateway answers 403).

>>> routes = [Route("/orders", "POST", "aws_proxy", "u"),
...           Route("/orders/{orderId}", "GET", "aws_proxy", "u"),
...           Route("/{proxy+}", "ANY", "aws_proxy", "u")]
>>> found = match(routes, "GET", "/orders/42")
>>> found.route.resource_path, found.path_parameters
('/orders/{orderId}', {'orderId': '42'})
>>> match(routes, "DELETE", "/orders/42/items").path_parameters
{'proxy': 'orders/42/items'}
>>> match(routes[:2], "DELETE", "/orders") is None
True
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

_LITERAL, _PARAM, _GREEDY = 0, 1, 2


@dataclass(frozen=True)
class Route:
    """One method of one resource and its integration (type and URI)."""

    resource_path: str
    method: str
    integration_type: str | None
    uri: str | None


@dataclass(frozen=True)
class Match:
    """The route a request matched and its path parameters (URL-decoded)."""

    route: Route
    path_parameters: dict[str, str]


def segments(path: str) -> list[str]:
    """The non-empty segments of a path (``//`` and a trailing ``/`` ignored).

    >>> segments("/orders//42/")
    ['orders', '42']
    """
    return [part for part in path.split("/") if part]


def match(routes: Iterable[Route], method: str, path: str) -> Match | None:
    """The most specific resource matching ``path``, then its method or ANY."""
    parts = segments(path)
    by_resource: dict[str, dict[str, Route]] = {}
    for route in routes:
        by_resource.setdefault(route.resource_path, {})[route.method.upper()] = route
    best: tuple[tuple[int, ...], str, dict[str, str]] | None = None
    for resource_path in by_resource:
        bound = _bind(segments(resource_path), parts)
        if bound is None:
            continue
        rank, parameters = bound
        if best is None or rank < best[0]:
            best = (rank, resource_path, parameters)
    if best is None:
        return None
    methods = by_resource[best[1]]
    chosen = methods.get(method.upper()) or methods.get("ANY")
    return None if chosen is None else Match(chosen, best[2])


def _bind(template: list[str], parts: list[str]
          ) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """(specificity rank, parameters) if the template matches the segments."""
    rank: list[int] = []
    parameters: dict[str, str] = {}
    for index, piece in enumerate(template):
        if piece.startswith("{") and piece.endswith("+}"):
            rest = parts[index:]
            if index != len(template) - 1 or not rest:
                return None
            parameters[piece[1:-2]] = unquote("/".join(rest))
            rank.append(_GREEDY)
            return tuple(rank), parameters
        if index >= len(parts):
            return None
        if piece.startswith("{") and piece.endswith("}"):
            parameters[piece[1:-1]] = unquote(parts[index])
            rank.append(_PARAM)
        elif piece == parts[index]:
            rank.append(_LITERAL)
        else:
            return None
    return (tuple(rank), parameters) if len(template) == len(parts) else None
