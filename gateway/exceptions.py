"""The gateway's own exceptions, under one root.

`GatewayError` is what a caller catches to tell the gateway's refusals and faults
from programming errors. Store failures are SQLAlchemy's own (`SQLAlchemyError`):
the pipeline answers them with STORE_UNAVAILABLE in one place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lxml import etree

    from gateway.errors import ErrorCode, Problem


class GatewayError(Exception):
    """The root of the gateway's exceptions."""


class ConfigurationError(GatewayError):
    """The gateway's configuration is inconsistent; raised at start-up, never per message."""


class Rejected(GatewayError):
    """Raised by an intake stage that found the message unacceptable; carries every problem found."""

    def __init__(self, *problems: Problem) -> None:
        if not problems:
            raise ValueError("a rejection needs at least one problem")
        super().__init__("; ".join(f"{p.code.name}: {p.message}" for p in problems))
        self.problems = problems

    @classmethod
    def of(cls, code: ErrorCode, message: str | None = None, location: str | None = None) -> Rejected:
        from gateway.errors import Problem

        return cls(Problem(code, message or code.summary, location))

    @property
    def status(self) -> int:
        """The HTTP status for the rejection: the most significant of its problems' statuses."""
        return max(p.code.status for p in self.problems)


class BodyIncomplete(GatewayError):
    """The request's body did not arrive within its deadline (README, Security: slow clients)."""

    def __init__(self, received: int) -> None:
        super().__init__(f"the body did not arrive in time ({received} bytes received)")
        self.received = received


class ReadRefused(GatewayError):
    """The party may read nothing about the reference (also what it is told when nothing exists)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReceiptError(GatewayError):
    """A receipt that cannot be trusted or read."""


class InvalidOutboundMessage(GatewayError):
    """The gateway built a message that its own schemas refuse."""


class UnknownRecipient(GatewayError):
    """An outbound message was addressed to a party the registry does not know."""


class PoisonMessage(GatewayError):
    """A broker message that can never be processed (not in the store, or its bytes differ from the store's)."""


class DeliveryFailed(GatewayError):
    """A push attempt that did not deliver. `final`: trying the same bytes again cannot help (a signed rejection)."""

    def __init__(self, reason: str, final: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.final = final


class RetryNotScheduled(GatewayError):
    """The broker did not take the message into its delay queue: the attempt is handed back instead."""


class SoapFault(GatewayError):
    """A SOAP-level problem.

    `code` is the SOAP 1.2 name (Sender, Receiver, VersionMismatch, MustUnderstand); SOAP 1.1
    spells the first two Client and Server. `error_codes` go into the detail as gw:errorCode.
    """

    def __init__(
        self,
        code: str,
        error_codes: tuple[str, ...],
        reason: str,
        *,
        receipt: bytes | None = None,
        not_understood: tuple[etree.QName, ...] = (),
    ) -> None:
        super().__init__(reason)
        self.code = code
        self.error_codes = error_codes
        self.reason = reason
        self.receipt = receipt
        self.not_understood = not_understood
