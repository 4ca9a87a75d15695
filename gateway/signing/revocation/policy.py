"""What a revocation check found, and what a policy makes of it.

`off` checks nothing; `soft` refuses a revoked certificate and accepts (and records)
one whose status is unknown; `hard` refuses both.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gateway.errors import ErrorCode, Problem


class Status(enum.StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"  # no CRL covers the certificate and no OCSP answer was had
    UNCHECKED = "unchecked"  # the policy is off, or the signer's certificate is itself an anchor


class Source(enum.StrEnum):
    CRL = "crl"
    OCSP = "ocsp"
    NONE = "none"


class Policy(enum.StrEnum):
    OFF = "off"
    SOFT = "soft"
    HARD = "hard"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The status of a certificate path (the worst of its certificates), where it came from, and why."""

    status: Status
    source: Source
    detail: str = ""

    def problem(self, policy: Policy) -> Problem | None:
        """The rejection this verdict earns under `policy`, if any."""
        if self.status is Status.REVOKED and policy is not Policy.OFF:
            return Problem(ErrorCode.CERTIFICATE_REVOKED, self.detail)
        if self.status is Status.UNKNOWN and policy is Policy.HARD:
            return Problem(ErrorCode.CERTIFICATE_STATUS_UNKNOWN, self.detail)
        return None


UNCHECKED = Verdict(Status.UNCHECKED, Source.NONE)
