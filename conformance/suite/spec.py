"""The published facts the suite checks against: document types, roles, functions, error codes.

They are read from the gateway's own published definitions (the built-in
catalogue, the envelope's function codes, the error catalogue), which the
README documents as the interface; the suite adds nothing of its own here.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass

from gateway.envelope import FUNCTION_NAMES
from gateway.errors import ErrorCode
from gateway.parties import ROLES
from gateway.schemas.registry import BUILTIN_PACK

DEFAULT_GATEWAY_ID = "VNECOMGW"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024  # README: [http] max_body_bytes, 10 MB
FUNCTIONS: tuple[str, ...] = tuple(sorted(FUNCTION_NAMES))
ALL_ROLES: tuple[str, ...] = tuple(sorted(ROLES))
ERROR_CODES: frozenset[str] = frozenset(code.name for code in ErrorCode)
UNPROVOKABLE_CODES = frozenset({"STORE_UNAVAILABLE", "INTERNAL_ERROR"})
"""Outcomes of a failing gateway, not of a message: no case can ask for them."""


@dataclass(frozen=True)
class DocumentSpec:
    """One document type of the catalogue: who may send it, with which function codes."""

    name: str
    senders: frozenset[str]
    functions: tuple[str, ...]


@functools.cache
def documents() -> dict[str, DocumentSpec]:
    """The built-in catalogue, by document type (catalogue order)."""
    with BUILTIN_PACK.open("rb") as handle:
        entries = tomllib.load(handle)["document"]
    return {
        entry["type"]: DocumentSpec(entry["type"], frozenset(entry["senders"]), tuple(entry["functions"]))
        for entry in entries
    }


def http_status(codes: frozenset[str]) -> int:
    """The status the plain HTTP door answers a rejection with: the most significant of its codes'."""
    return max(ErrorCode[code].status for code in codes)
