"""The published facts the suite checks against: document types, roles, functions, error codes.

They are read from the gateway's own published definitions (the built-in
document types' definitions, the envelope's function codes, the error catalogue),
which the README documents as the interface; the suite adds nothing of its own here.
"""

from __future__ import annotations

from gateway.envelope import FUNCTION_NAMES
from gateway.errors import ErrorCode
from gateway.parties import ROLES
from gateway.schemas.catalogue import Catalogue, builtin

DEFAULT_GATEWAY_ID = "VNECOMGW"
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024  # README: [http] max_body_bytes, 10 MB
FUNCTIONS: tuple[str, ...] = tuple(sorted(FUNCTION_NAMES))
ALL_ROLES: tuple[str, ...] = tuple(sorted(ROLES))
ERROR_CODES: frozenset[str] = frozenset(code.name for code in ErrorCode)
UNPROVOKABLE_CODES = frozenset({"STORE_UNAVAILABLE", "INTERNAL_ERROR", "CERTIFICATE_STATUS_UNKNOWN", "DUPLICATE_PURGED"})
"""Outcomes of a failing gateway, of its `hard` revocation policy (CERTIFICATE_STATUS_UNKNOWN: the suite cannot
know or set the policy; the default is `soft`), or of an operator's purge between two sends (DUPLICATE_PURGED:
tests/gateway/retention/test_resend.py provokes it), not of messages alone: no case can ask for them."""


def documents() -> Catalogue:
    """The built-in document types: who may send each, with which function codes, and its sample."""
    return builtin()


def http_status(codes: frozenset[str]) -> int:
    """The status the plain HTTP door answers a rejection with: the most significant of its codes'."""
    return max(ErrorCode[code].status for code in codes)
