"""What a conformance case is: its description, the messages it sends, and what must come back.

A case is one or more steps run in order. Each step builds one message (from a
sample, signed as a party, then edited or attacked), sends it through the door
of the run and states the outcome it expects. Cases of one step describe one
rule; cases of several steps need state (a resend, an amendment of an earlier
declaration) and refer to earlier steps by name. Nothing in a case is
specific to one run: message ids, dates and keys are chosen when it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conformance.suite import spec

DOORS: tuple[str, ...] = ("http", "soap11", "soap12", "amqp")
DOOR_TAGS = {"http": "http", "soap11": "soap", "soap12": "soap", "amqp": "amqp"}
CATEGORY_TAGS = frozenset(
    {
        "document",
        "envelope",
        "xml",
        "security",
        "signature",
        "certificate",
        "party",
        "permission",
        "schema",
        "boundary",
        "limits",
        "duplicate",
        "transport",
        "business",
    }
)


def known_tags() -> frozenset[str]:
    """Categories, doors and document types: the only tags a case may carry (typos are refused)."""
    return CATEGORY_TAGS | frozenset(DOOR_TAGS.values()) | frozenset(spec.documents())


@dataclass(frozen=True)
class BusinessExpectation:
    """What the business handlers must answer an accepted message with (observed by a `BusinessProbe`)."""

    notice: str  # the document type of the notice, e.g. LANE_NOTICE
    lane: str | None = None  # for a lane notice: GREEN, YELLOW or RED

    def describe(self) -> str:
        return self.notice + (f" (lane {self.lane})" if self.lane else "")


@dataclass(frozen=True)
class Expectation:
    """The outcome a step must get: accepted, or rejected with exactly these error codes; or, for a step whose
    receipt may not be delivered where it asks (`Step.reply_to`), no answer there at all (`answered` False)."""

    accepted: bool
    codes: frozenset[str] = frozenset()
    same_receipt_as: str | None = None  # an earlier step whose receipt must come back byte for byte
    business: BusinessExpectation | None = None
    within_s: float | None = None  # the receipt must come back this many seconds after the message was sent
    answered: bool = True

    @property
    def http_status(self) -> int:
        return 200 if self.accepted else spec.http_status(self.codes)

    def describe(self) -> str:
        if not self.answered:
            return "nothing delivered to the queue named in reply_to"
        if not self.accepted:
            return f"rejected: {', '.join(sorted(self.codes))} (HTTP {self.http_status})" + self._in_time()
        text = "accepted (HTTP 200)"
        if self.same_receipt_as:
            text += f", with the receipt of step {self.same_receipt_as!r} again"
        if self.business:
            text += f", then {self.business.describe()}"
        return text + self._in_time()

    def _in_time(self) -> str:
        return f", within {self.within_s:g} s" if self.within_s is not None else ""


@dataclass(frozen=True)
class SenderSpec:
    """Which party signs the message, and whom From/identity names.

    `role`, `allowed` and `status` select the signing party among the identities
    the run has: it has `role` (if given), may (True) or may not (False) send the
    step's document type, or either (None), and has `status`. `claim` says whom
    the envelope names: that party ("self"), another registered party
    ("other-party") or a party nobody registered ("unregistered").
    `distinct_from` names an earlier step whose sender this one must not be.
    """

    role: str | None = None
    allowed: bool | None = True
    status: str = "active"
    claim: str = "self"
    distinct_from: str | None = None


@dataclass(frozen=True)
class SignatureSpec:
    """How the signature is made; the defaults are the gateway's profile.

    Algorithms are named (``sha256``, ``exclusive``, ``enveloped``...) or given as
    URIs. `method` names the hash of the signature method, whose URI follows the
    signing key's type ("mismatched" names the other key type's method);
    `reference` is "whole" (``URI=""``), "header-by-id" or a literal URI for the
    whole envelope; `value_key` "fresh" signs with a new key while KeyInfo
    carries the signer's certificate; `key_info` is "chain", "leaf" or "none";
    `prefix_list` is an InclusiveNamespaces PrefixList given to every exclusive
    canonicalisation (SignedInfo's and the Reference's), `#default` included.
    """

    method: str = "sha256"
    digest: str = "sha256"
    c14n: str = "exclusive"
    transforms: tuple[str, ...] = ("enveloped", "exclusive")
    reference: str = "whole"
    value_key: str = "signer"
    key_info: str = "chain"
    prefix_list: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    """A named transformation (see `conformance.suite.operations`) and its parameters."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Edit:
    """One change to an envelope tree, at the nodes an XPath selects (see `conformance.suite.edits`).

    Prefixes: ``e`` the envelope, ``ds`` XML-DSig, ``cm`` the common types, ``p``
    the payload's own namespace.
    """

    op: str  # set, remove, append, duplicate, replace_payload
    path: str = ""
    value: str | None = None
    attribute: str | None = None  # set: this attribute instead of the text
    fill: int | None = None  # set: this many copies of `char` instead of `value`
    seconds_from_now: int | None = None  # set: the xs:dateTime this many seconds from when the case runs
    char: str = "x"
    element: str | None = None  # append: the new element's prefixed name
    times: int = 1  # duplicate: how many copies
    sample: str | None = None  # replace_payload: the sample whose payload goes in


@dataclass(frozen=True)
class Hold:
    """Slow connections the case holds open on the door while its steps run (see `conformance.suite.holds`).

    `name` is the kind of slow request (with `params`); each of the `connections` must be closed by the
    gateway within `closed_within_s` of its opening.
    """

    name: str
    connections: int
    closed_within_s: float
    params: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        kind = self.name.replace("_", " ")
        return f"{self.connections} connections ({kind}), each closed within {self.closed_within_s:g} s"


@dataclass(frozen=True)
class Step:
    """One message of a case and the outcome it must get."""

    name: str
    expect: Expectation
    sample: str | None = None  # conformance/samples/<sample>.xml: an unsigned envelope of that document type
    body: Operation | None = None  # instead of a sample: raw bytes made by a named body operation
    resend: str | None = None  # instead of a sample: exactly the bytes an earlier step sent
    sender: SenderSpec = SenderSpec()
    signer: str = "sender"
    signature: SignatureSpec = SignatureSpec()
    message_id: str | None = None  # reuse the messageId of an earlier step
    pre_reference: str | None = None  # Subject/preReference: the messageId of an earlier step
    function: str | None = None  # Subject/function, instead of the sample's
    edits: tuple[Edit, ...] = ()  # before signing
    after_signing: tuple[Edit, ...] = ()  # on the signed tree: tampering
    attack: Operation | None = None  # on the signed bytes
    content_type: str | None = None  # the transport's content type ("" for none), instead of application/xml
    operation: str | None = None  # the SOAP operation, instead of Submit (e.g. Pull)
    reply_to: str | None = None  # AMQP: "ordinary-queue", a queue the run declares with a name of its choosing


@dataclass(frozen=True)
class Case:
    """A conformance case: what it checks, why, and its steps."""

    id: str
    title: str
    checks: str
    why: str
    tags: tuple[str, ...]
    steps: tuple[Step, ...]
    doors: tuple[str, ...] = DOORS
    family: str | None = None  # the generated family it comes from, if any
    hold: Hold | None = None  # slow connections held open while the steps run


    @property
    def business(self) -> bool:
        return any(step.expect.business for step in self.steps)

    def describe_expectation(self) -> str:
        if len(self.steps) == 1:
            text = self.steps[0].expect.describe()
        else:
            text = "; ".join(f"{step.name}: {step.expect.describe()}" for step in self.steps)
        return f"{text}, while holding {self.hold.describe()}" if self.hold else text


class Unavailable(Exception):
    """A case needs something this run does not have (an identity, the CA's key...): it is skipped, saying what."""
