"""The port that delivery pushes through: the transport adapters (gateway/adapters/push_*.py) implement it.

Delivery knows only this: a pusher sends the signed envelope to a URL and brings
back what the recipient answered, or says why it could not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PushAnswer:
    """What the recipient answered: its signed receipt, if all is well."""

    status: int  # the HTTP status (200 for any SOAP response that is not a fault)
    body: bytes


class Pusher(Protocol):
    def __call__(self, url: str, body: bytes, *, timeout_s: float, correlation_id: str) -> PushAnswer:
        """Send `body` to `url`; raise `DeliveryFailed` when no answer came back."""
        ...
