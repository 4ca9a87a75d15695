"""The intake pipeline: one ordered list of named stages, the same for every door.

    parse -> envelope -> catalogue -> verify -> fresh -> authorise -> validate -> entitle
          -> answer -> receipt -> record -> recorded -> forward

Each stage is a plain function of the message in flight (`Intake`) and the
gateway's services; it either enriches the intake or raises `Rejected` with
every problem it found. A stage is one of three kinds:

- a *gate* (parse, envelope, verify) stops the message at once: after it fails
  nothing further can be checked meaningfully, or nothing may be (an envelope whose
  signature does not verify is not the sender's, so only its signature problems are
  reported and whatever else was found about it is dropped);
- a *check* (catalogue, fresh, authorise, validate, entitle) adds its problems to the
  intake and the next stages still run, so that one rejection lists every problem
  (a check skips what depends on a failed one: no payload schema without a known
  document type, no entitlement for a sender whose role may not send the type or
  on a payload that is not schema-valid);
- a *step* (answer onwards) runs only for a message without problems. The doors (gateway/adapters) read the body within the
size limit and hand it to `Pipeline.submit`; whatever happens, they get back a
signed receipt and an HTTP status that fits it.

The acceptance receipt is built and signed *before* the message is recorded so
that it is stored in the same transaction: an identical resend then gets back
exactly the receipt the sender got the first time.

Three stages run what a document type registered for itself (gateway.behaviours):
`entitle` (is the sender in charge of what the document concerns?), `answer`
(what the receipt carries: a MESSAGE_QUERY's messages) and `recorded` (a
MESSAGE_ACK marks the messages it names delivered). Such messages are recorded
and routed like every other, so each has its audit trail.

A store that fails anywhere in the stages is answered with STORE_UNAVAILABLE, in
one place (`Pipeline.submit`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import structlog
from lxml import etree
from sqlalchemy.exc import SQLAlchemyError

from gateway import metrics, xmlsafe
from gateway.broker.forwarder import Forwarded, accepted_message
from gateway.config import IntakeSettings
from gateway.envelope import Header, claimed_sender, content_element, read_header
from gateway.errors import ErrorCode, Problem
from gateway.exceptions import Rejected
from gateway.locations import locate
from gateway.parties import Party
from gateway.receipts import Batch, Receipt
from gateway.schemas.registry import DocumentType
from gateway.services import Services
from gateway.signing.binding import signer_problems
from gateway.signing.revocation.policy import UNCHECKED, Verdict
from gateway.signing.verify import PresentedCertificate, VerifiedSignature, verify_envelope
from gateway.store.messages import NewMessage, Recorded
from gateway.xsdtime import parse_zoned

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Transport:
    """What the door knows about how the message arrived."""

    door: str  # "http", "soap" or "amqp"
    correlation_id: str | None = None
    peer: str | None = None  # the client's address (HTTP, SOAP); for AMQP the message's user_id, else its app_id
    only: frozenset[str] | None = None  # the document types the door's operation takes (None: any)


@dataclass
class Intake:
    """A message in flight through the pipeline."""

    body: bytes
    transport: Transport
    received_at: dt.datetime
    digest: bytes
    root: etree._Element | None = None
    header: Header | None = None
    document: DocumentType | None = None
    signature: VerifiedSignature | None = None
    revocation: Verdict = UNCHECKED  # the signing certificate's revocation status and its source
    party: Party | None = None
    route: str | None = None  # the name of the route that takes it
    batch: Batch | None = None  # the messages a query asked for, carried in its receipt
    receipt: Receipt | None = None
    recorded: Recorded | None = None
    problems: list[Problem] = field(default_factory=list)  # what the checks found so far
    payload_valid: bool = False  # the payload passed its schema
    role_permitted: bool = False  # the sender's roles may send this document type

    @property
    def correlation_id(self) -> str:
        return self.transport.correlation_id or (self.header.message_id if self.header else "") or self.digest.hex()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a door sends back."""

    status: int
    receipt: bytes
    accepted: bool
    message_id: str | None = None
    codes: tuple[str, ...] = ()
    duplicate: bool = False


StageFunction = Callable[[Intake, Services], None]


StageKind = Literal["gate", "check", "step"]


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    run: StageFunction
    kind: StageKind


# --- the stages -------------------------------------------------------------


def parse(intake: Intake, services: Services) -> None:
    if not intake.body:
        raise Rejected.of(ErrorCode.REQUEST_EMPTY)
    if len(intake.body) > services.settings.http.max_body_bytes:
        raise Rejected(too_large(len(intake.body), services.settings.http.max_body_bytes))
    intake.root = xmlsafe.parse(intake.body, limits=structure_limits(services.settings.intake))


def structure_limits(intake: IntakeSettings) -> xmlsafe.StructureLimits:
    return xmlsafe.StructureLimits(
        max_elements=intake.max_elements,
        max_attributes_per_element=intake.max_attributes_per_element,
        max_namespaces_per_element=intake.max_namespaces_per_element,
        max_namespaces_in_scope=intake.max_namespaces_in_scope,
    )


def envelope(intake: Intake, services: Services) -> None:
    assert intake.root is not None
    intake.header = read_header(intake.root)


def catalogue(intake: Intake, services: Services) -> None:
    """The document type is one this door and the catalogue take, with one of its functions."""
    assert intake.header is not None and intake.root is not None
    header, problems = intake.header, []
    if intake.transport.only is not None and header.document_type not in intake.transport.only:
        problems.append(
            Problem(
                ErrorCode.OPERATION_MISMATCH,
                f"this operation takes {', '.join(sorted(intake.transport.only))}, not {header.document_type}",
                locate(intake.root, "Header/Subject/documentType"),
            )
        )
    intake.document = services.schemas.get(header.document_type)
    if intake.document is None:
        problems.append(
            Problem(
                ErrorCode.DOCUMENT_TYPE_UNKNOWN,
                f"document type {header.document_type!r} is not in the catalogue",
                locate(intake.root, "Header/Subject/documentType"),
            )
        )
    elif header.function not in intake.document.functions:
        problems.append(
            Problem(
                ErrorCode.FUNCTION_NOT_ALLOWED,
                f"function {header.function!r} is not allowed for {intake.document.name}; "
                f"allowed: {', '.join(sorted(intake.document.functions))}",
                locate(intake.root, "Header/Subject/function"),
            )
        )
    if problems:
        raise Rejected(*problems)


def verify(intake: Intake, services: Services) -> None:
    assert intake.root is not None and intake.header is not None
    identity = intake.header.sender.identity
    party = services.parties.get(identity)

    def admit(presented: PresentedCertificate) -> None:
        """Before the document is canonicalised: the certificate is the sender's and is trusted.

        A certificate refused so is still asked about revocation (when its path is trusted), so
        that a sender learns that its certificate is revoked even when it is not the registered one.
        """
        problems = signer_problems(identity, party, presented, services.trust, services.parties)
        if problems:
            revoked = revocation(presented, party, services)[1]
            raise Rejected(*problems, *([revoked] if revoked else []))

    signature = verify_envelope(
        intake.root,
        tuple(party.certificates.values()) if party else (),
        max_certificate_bytes=services.settings.intake.max_certificate_bytes,
        admit=admit,
    )
    problems = signer_problems(identity, party, signature, services.trust, services.parties)  # a registered one, when KeyInfo had none
    intake.revocation, revoked = revocation(signature, party, services)
    if revoked is not None:
        problems.append(revoked)
    if problems:
        raise Rejected(*problems)
    intake.signature, intake.party = signature, party
    # From here on only the verified tree is used: the one reference covers all of it
    # except the comments, which are not signed.
    intake.root = xmlsafe.without_comments(signature.root)


def revocation(
    signature: VerifiedSignature | PresentedCertificate, party: Party | None, services: Services
) -> tuple[Verdict, Problem | None]:
    """The signer's revocation status, and the problem its CA's policy sees in it.

    Asked only of a certificate on a trusted path that is valid now (whoever it is
    registered to, so a sender learns that its certificate is revoked even when it is
    not the registered one): only a trusted CA's certificate can make the gateway ask
    the OCSP responder it names.
    """
    path = services.trust.path(signature.certificate_der, signature.intermediates, party.anchors if party else ())
    if isinstance(path, Problem) or path.validity_problem(dt.datetime.now(dt.UTC), services.trust.clock_skew):
        return UNCHECKED, None
    verdict, policy = services.revocation.check(path.certificates)
    problem = verdict.problem(policy)
    if problem is not None:
        problem = replace(problem, location=locate(signature.root, "Header/From/identity"))
    return verdict, problem


def fresh(intake: Intake, services: Services) -> None:
    """The signed sendDate is within the replay window around the time of receipt.

    Together with duplicate detection (sender, messageId) this stops replays: an old
    message sent again within the window is a duplicate of what the store holds, and
    outside it is refused whatever the store still holds. A sendDate that is not a
    zoned xs:dateTime is the envelope schema's to report.
    """
    assert intake.header is not None and intake.root is not None
    sent = parse_zoned(intake.header.send_date or "")
    if sent is None:
        return
    oldest = intake.received_at - dt.timedelta(seconds=services.settings.intake.max_age_s)
    latest = intake.received_at + services.settings.clock_skew
    if not oldest <= sent <= latest:
        raise Rejected.of(
            ErrorCode.SEND_DATE_OUT_OF_WINDOW,
            f"sendDate {intake.header.send_date} is outside [{oldest.isoformat(timespec='seconds')}, "
            f"{latest.isoformat(timespec='seconds')}], the window around its receipt at "
            f"{intake.received_at.isoformat(timespec='seconds')}",
            locate(intake.root, "Header/Subject/sendDate"),
        )


def authorise(intake: Intake, services: Services) -> None:
    assert intake.header is not None and intake.party is not None and intake.root is not None
    problems = []
    if intake.header.recipient.identity != services.settings.gateway.identity:
        problems.append(
            Problem(
                ErrorCode.RECIPIENT_UNKNOWN,
                f"the message is addressed to {intake.header.recipient.identity!r}, "
                f"this gateway is {services.settings.gateway.identity!r}",
                locate(intake.root, "Header/To/identity"),
            )
        )
    intake.role_permitted = intake.document is not None and bool(intake.party.roles & intake.document.senders)
    if intake.document is not None and not intake.role_permitted:
        problems.append(
            Problem(
                ErrorCode.ROLE_NOT_PERMITTED,
                f"party {intake.party.identity!r} has roles {sorted(intake.party.roles)}; "
                f"{intake.document.name} may be sent by {sorted(intake.document.senders)}",
                locate(intake.root, "Header/Subject/documentType"),
            )
        )
    if problems:
        raise Rejected(*problems)


def validate(intake: Intake, services: Services) -> None:
    assert intake.root is not None
    problems = services.schemas.validate_envelope(intake.root)
    if intake.document is not None:
        payload_problems = services.schemas.validate_payload(intake.document, content_element(intake.root))
        intake.payload_valid = not payload_problems
        problems += payload_problems
    if problems:
        raise Rejected(*problems)


def entitle(intake: Intake, services: Services) -> None:
    """The document type's own check of who is in charge (registered by the business), on the validated payload."""
    assert intake.root is not None and intake.header is not None and intake.party is not None
    check = services.behaviours.of(intake.header.document_type).entitle
    content = content_element(intake.root)
    if check is None or content is None or not (intake.payload_valid and intake.role_permitted):
        return  # asking who is in charge makes sense only of a valid payload its sender may send
    with services.engine.connect() as connection:
        problems = check(intake.party, content, connection)
    if problems:
        raise Rejected(*problems)


def answer(intake: Intake, services: Services) -> None:
    """What the receipt carries besides the acknowledgement (a query's messages), if the type answers."""
    assert intake.header is not None
    respond = services.behaviours.of(intake.header.document_type).answer
    if respond is not None:
        intake.batch = respond(intake, services)


def receipt(intake: Intake, services: Services) -> None:
    assert intake.header is not None
    intake.route = services.routes.route_name(intake.header.document_type, intake.header.function)
    if intake.route is None:  # the start-up check makes this a configuration fault, never the sender's
        raise Rejected.of(ErrorCode.INTERNAL_ERROR, f"no route for {intake.header.document_type}/{intake.header.function}")
    intake.receipt = services.receipts.acceptance(intake.header, intake.digest, intake.received_at, intake.batch)


def record(intake: Intake, services: Services) -> None:
    assert intake.header is not None and intake.receipt is not None and intake.route is not None
    assert intake.root is not None
    header = intake.header
    intake.recorded = services.recorder.record(
        NewMessage.of(
            header,
            body=intake.body,
            digest=intake.digest.hex(),
            receipt=intake.receipt.body,
            route=intake.route,
            correlation_id=intake.correlation_id[:128],
            door=intake.transport.door,
            revocation_status=str(intake.revocation.status),
            revocation_source=str(intake.revocation.source),
        ),
        intake.received_at,
    )
    if intake.recorded.conflict:
        raise Rejected.of(
            ErrorCode.DUPLICATE_CONFLICT,
            f"message id {header.message_id} from {header.sender.identity} was already received "
            "with different content",
            locate(intake.root, "Header/Reference/messageId"),
        )
    if (purged := intake.recorded.purged) is not None:
        raise Rejected.of(
            ErrorCode.DUPLICATE_PURGED,
            f"message id {header.message_id} from {header.sender.identity} was received on "
            f"{purged.received_at:%Y-%m-%d %H:%M:%S} UTC and processed; the gateway has since archived it "
            f"(archive {purged.archive}) with its receipt, whose SHA-256 is {purged.receipt_digest}",
            locate(intake.root, "Header/Reference/messageId"),
        )


def recorded(intake: Intake, services: Services) -> None:
    """What the document type does once it is recorded (again on an identical resend: it must be idempotent)."""
    assert intake.header is not None
    after = services.behaviours.of(intake.header.document_type).recorded
    if after is not None:
        after(intake, services)


def forward(intake: Intake, services: Services) -> None:
    """Hand a new message to this process's forwarder: it is published after the receipt is given (see forwarder.py)."""
    assert intake.recorded is not None and intake.header is not None and intake.route is not None
    if not intake.recorded.new:
        return  # an identical resend: the original is (or will be) on its way already
    header = intake.header
    services.forwarder.forward(
        Forwarded(
            intake.recorded.pk,
            intake.transport.door,
            accepted_message(
                services.topology.messages_exchange,
                intake.route,
                intake.body,
                pk=intake.recorded.pk,
                message_id=header.message_id,
                correlation_id=intake.correlation_id,
                sender=header.sender.identity,
                document_type=header.document_type,
                function=header.function,
                digest=intake.digest.hex(),
            ),
        )
    )


DEFAULT_STAGES: tuple[Stage, ...] = (
    Stage("parse", parse, "gate"),
    Stage("envelope", envelope, "gate"),
    Stage("catalogue", catalogue, "check"),
    Stage("verify", verify, "gate"),
    Stage("fresh", fresh, "check"),
    Stage("authorise", authorise, "check"),
    Stage("validate", validate, "check"),
    Stage("entitle", entitle, "check"),
    Stage("answer", answer, "step"),
    Stage("receipt", receipt, "step"),
    Stage("record", record, "step"),
    Stage("recorded", recorded, "step"),
    Stage("forward", forward, "step"),
)


# --- running them -----------------------------------------------------------


class Pipeline:
    def __init__(self, services: Services, stages: Sequence[Stage] = DEFAULT_STAGES) -> None:
        self.services = services
        self.stages = tuple(stages)

    def replacing(self, name: str, run: StageFunction) -> Pipeline:
        """The same pipeline with one stage replaced (for tests that break a stage on purpose)."""
        if name not in {stage.name for stage in self.stages}:
            raise KeyError(name)
        return Pipeline(self.services, [replace(s, run=run) if s.name == name else s for s in self.stages])

    def submit(self, body: bytes, transport: Transport) -> Outcome:
        """Run every stage; always returns a signed receipt."""
        started = time.perf_counter()
        intake = Intake(body, transport, dt.datetime.now(dt.UTC), hashlib.sha256(body).digest())
        bound = log.bind(door=transport.door, correlation_id=transport.correlation_id, digest=intake.digest.hex())
        stage_name = "start"
        try:
            for stage in self.stages:
                stage_name = stage.name
                self._run(stage, intake)
                if stage.name == "envelope" and intake.header:
                    bound = bound.bind(message_id=intake.header.message_id, sender=intake.header.sender.identity, document_type=intake.header.document_type)
        except Rejected as rejection:
            outcome = self._reject(intake, rejection.problems, rejection.status)
            bound.info("message rejected", stage=stage_name, codes=list(outcome.codes))
        except SQLAlchemyError as exc:
            bound.error("store unavailable", stage=stage_name, error=repr(exc))
            problem = Problem(ErrorCode.STORE_UNAVAILABLE, ErrorCode.STORE_UNAVAILABLE.summary)
            outcome = self._reject(intake, (problem,), problem.code.status)
        except Exception:
            bound.exception("pipeline failed", stage=stage_name)
            outcome = self._reject(intake, (Problem(ErrorCode.INTERNAL_ERROR, ErrorCode.INTERNAL_ERROR.summary),), 500)
        else:
            outcome = self._accept(intake)
            bound.info("message accepted" if not outcome.duplicate else "identical resend answered with the original receipt")
        metrics.observe_intake(transport.door, _label(outcome), time.perf_counter() - started)
        return outcome

    def _run(self, stage: Stage, intake: Intake) -> None:
        if stage.kind == "step" and intake.problems:
            raise Rejected(*intake.problems)
        try:
            stage.run(intake, self.services)
        except Rejected as rejection:
            if stage.kind != "check":
                raise  # a gate: only its own problems count
            intake.problems.extend(rejection.problems)

    def refuse(self, transport: Transport, problem: Problem, body: bytes = b"") -> Outcome:
        """A signed rejection for a message the door refused before reading it (size, content type)."""
        intake = Intake(body, transport, dt.datetime.now(dt.UTC), hashlib.sha256(body).digest())
        outcome = self._reject(intake, (problem,), problem.code.status)
        log.info("message refused at the door", door=transport.door, codes=list(outcome.codes))
        metrics.observe_intake(transport.door, _label(outcome), 0.0)
        return outcome

    def _accept(self, intake: Intake) -> Outcome:
        assert intake.recorded is not None and intake.receipt is not None and intake.header is not None
        duplicate = not intake.recorded.new
        receipt_body = intake.recorded.receipt if duplicate and intake.recorded.receipt else intake.receipt.body
        return Outcome(200, receipt_body, True, intake.header.message_id, duplicate=duplicate)

    def _reject(self, intake: Intake, problems: tuple[Problem, ...], status: int) -> Outcome:
        header = intake.header
        sender = header.sender if header else claimed_sender(intake.root)
        built = self.services.receipts.rejection(header, sender, intake.digest, intake.received_at, problems)
        codes = tuple(dict.fromkeys(p.code.name for p in problems))
        authenticated = intake.signature is not None  # set only once the signature verified as the sender
        try:
            self.services.store.record_rejection(
                received_at=intake.received_at,
                door=intake.transport.door,
                peer=intake.transport.peer,
                sender=sender.identity if sender else None,
                message_id=header.message_id if header else None,
                document_type=header.document_type if header else None,
                correlation_id=intake.transport.correlation_id,
                digest=intake.digest.hex(),
                problems=problems,
                body=intake.body if len(intake.body) <= self.services.settings.http.max_body_bytes else None,
                receipt=built.body,
                authenticated=authenticated,
            )
        except SQLAlchemyError:
            log.warning("could not record the rejection", exc_info=True)
        if not authenticated:
            metrics.UNAUTHENTICATED_REJECTIONS.labels(intake.transport.door).inc()
        return Outcome(status, built.body, False, header.message_id if header else None, codes)


def too_large(size: int, limit: int) -> Problem:
    return Problem(ErrorCode.REQUEST_TOO_LARGE, f"the body has {size} bytes; the limit is {limit}")


def _label(outcome: Outcome) -> str:
    """The intake metric's outcome label: accepted, duplicate, or the first rejection code."""
    return "duplicate" if outcome.duplicate else "accepted" if outcome.accepted else outcome.codes[0]
