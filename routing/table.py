"""The routing table (config/routes.toml): document type and function -> route -> handler.

Each route is one queue ({namespace}.route.<name>) and its handlers, which run in
order in one transaction (for example the business handler, then sharing). The first
route that matches a message wins; a route listing "*" matches every document
type, so a type added by a schema pack is routed without a code change.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from gateway.config import read_toml
from gateway.exceptions import ConfigurationError


@dataclass(frozen=True)
class Route:
    name: str
    document_types: frozenset[str]
    functions: frozenset[str] | None  # None: every function
    handlers: tuple[str, ...]  # "module:attribute", run in this order

    def matches(self, document_type: str, function: str) -> bool:
        type_ok = "*" in self.document_types or document_type in self.document_types
        return type_ok and (self.functions is None or function in self.functions)


@dataclass(frozen=True)
class Timer:
    """A handler task run periodically by the timers component (e.g. deciding declarations that waited)."""

    name: str
    task: str  # "module:attribute": (context) -> int, how many things it did
    every_s: float


class RoutingTable:
    def __init__(self, routes: list[Route], timers: list[Timer] | None = None) -> None:
        names = [route.name for route in routes]
        if len(set(names)) != len(names):
            raise ConfigurationError(f"route names must be unique: {names}")
        self.routes = routes
        self.timers = timers or []

    @classmethod
    def load(cls, path: Path) -> RoutingTable:
        raw = read_toml(path, "routing table")
        entries = raw.get("route", [])
        try:
            timers = [Timer(t["name"], t["task"], float(t["every_s"])) for t in raw.get("timer", [])]
        except KeyError as exc:
            raise ConfigurationError(f"{path}: a [[timer]] entry lacks {exc}") from None
        try:
            routes = [
                Route(
                    name=entry["name"],
                    document_types=frozenset(entry["document_types"]),
                    functions=frozenset(entry["functions"]) if "functions" in entry else None,
                    handlers=_handlers(path, entry),
                )
                for entry in entries
            ]
        except KeyError as exc:
            raise ConfigurationError(f"{path}: a [[route]] entry lacks {exc}") from None
        return cls(routes, timers)

    def route_for(self, document_type: str, function: str) -> Route | None:
        return next((route for route in self.routes if route.matches(document_type, function)), None)

    def route_name(self, document_type: str, function: str) -> str | None:
        route = self.route_for(document_type, function)
        return route.name if route is not None else None

    def check_covers(self, document_types: list[str], functions_of: dict[str, frozenset[str]]) -> None:
        """Refuse to start when an accepted document type and function would have nowhere to go."""
        missing = [
            f"{doc}/{function}"
            for doc in document_types
            for function in sorted(functions_of[doc])
            if self.route_for(doc, function) is None
        ]
        if missing:
            raise ConfigurationError(f"no route for {', '.join(missing)}; add one to routes.toml")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(route.name for route in self.routes)


def _handlers(path: Path, entry: dict) -> tuple[str, ...]:
    handlers = entry["handlers"]
    if not isinstance(handlers, list) or not handlers or not all(isinstance(h, str) for h in handlers):
        raise ConfigurationError(f"{path}: route {entry.get('name')!r}: handlers must be a non-empty list of names")
    return tuple(handlers)


def load_handler(reference: str) -> object:
    """Import "package.module:attribute" and return the attribute."""
    module_name, _, attribute = reference.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"handler {reference!r} cannot be loaded: {exc}") from None
