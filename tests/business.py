"""Handler fixtures: signed messages through the real intake, processed as a worker processes them
(routing.processing.process, then publishing what the handlers emitted), and the gateway's signed outbound
messages read back (signature verified) from the outbox.

The worker's own machinery around `process` (consuming, acknowledging, retrying, dead-lettering) is tested
on the real broker in tests/routing/test_worker.py; here each message is processed in the test's thread,
oldest first, as soon as the test asks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from lxml import etree
from sqlalchemy import select, update
from support import MessageFactory

from app.wiring import Assembly
from conformance import SAMPLE_SENDERS
from gateway import xmlsafe
from gateway.envelope import Header, content_element, qname, read_header
from gateway.lifecycle import MessageStatus
from gateway.pipeline import Outcome, Pipeline, Transport
from gateway.services import Services
from gateway.signing.verify import verify_envelope
from gateway.store.messages import StoredMessage
from gateway.store.tables import messages as messages_table
from gateway.store.tables import outbox, processing
from routing.processing import process
from routing.publication import publish_emitted

HTTP = Transport("http")
GATEWAY = "VNECOMGW"
IR_NS = "urn:customs.gov.vn:ecom:inspection-result:1"
CM_NS = "urn:customs.gov.vn:ecom:common:1"
Edit = Callable[[etree._Element], None]


@dataclass(frozen=True)
class Sent:
    """A message the gateway stored for sending, its signature verified."""

    recipient: str
    header: Header
    payload: etree._Element

    def texts(self, local: str) -> list[str]:
        return [element.text for element in self.payload.iter(f"{{*}}{local}")]


class Exchange:
    """Sends signed messages through intake; processes them as a worker would when asked."""

    def __init__(self, assembly: Assembly, messages: MessageFactory) -> None:
        self.assembly = assembly
        self.pipeline: Pipeline = assembly.pipeline()
        self.services: Services = assembly.services
        self.messages = messages
        self.handlers = assembly.worker().handlers  # route -> its handlers, loaded as the workers load them

    def offer(
        self, document_type: str, party: str | None = None, edit: Callable[[etree._Element], object] | None = None
    ) -> Outcome:
        """Submit a signed sample (edited); returns intake's outcome, accepted or not."""
        return self.pipeline.submit(self.messages.signed(document_type, party, edit), HTTP)

    def submit(
        self,
        document_type: str,
        party: str | None = None,
        edit: Callable[[etree._Element], object] | None = None,
        received_at: dt.datetime | None = None,
    ) -> StoredMessage:
        """Submit and expect acceptance; `received_at` rewrites when intake received it (before any worker runs)."""
        outcome = self.offer(document_type, party, edit)
        assert outcome.accepted, outcome.codes
        stored = self.services.store.get(party or SAMPLE_SENDERS[document_type], str(outcome.message_id))
        assert stored is not None
        if received_at is not None:
            with self.services.engine.begin() as connection:
                connection.execute(
                    update(messages_table)
                    .where(messages_table.c.id == stored.pk)
                    .values(received_at=received_at.astimezone(dt.UTC))
                )
        return stored

    def process(self) -> None:
        """Process every message intake accepted, oldest first, as a worker would; a handler's failure fails the test."""
        while pending := self._pending():
            for stored in pending:
                processed = process(self.services, self.assembly.rules, stored, self.handlers[stored.route], actor="worker")
                assert processed.outcome == "processed", (stored.document_type, stored.message_id, processed)
                publish_emitted(self.services, processed.emitted)

    def send(
        self,
        document_type: str,
        party: str | None = None,
        edit: Callable[[etree._Element], object] | None = None,
        received_at: dt.datetime | None = None,
    ) -> StoredMessage:
        stored = self.submit(document_type, party, edit, received_at)
        self.process()
        return stored

    def outcome(self, stored: StoredMessage, handler: str) -> str:
        """What a handler reported about the message (`handler` as in routes.toml)."""
        with self.services.engine.connect() as connection:
            query = select(processing.c.outcome).where(
                processing.c.message == stored.pk, processing.c.handler == handler
            )
            return str(connection.execute(query).scalar_one())

    def sent(self, document_type: str, recipient: str | None = None) -> list[Sent]:
        """The gateway's outbound messages of this type (oldest first), each signature verified."""
        query = (
            select(outbox.c.recipient, outbox.c.body)
            .where(outbox.c.document_type == document_type)
            .order_by(outbox.c.id)
        )
        if recipient is not None:
            query = query.where(outbox.c.recipient == recipient)
        with self.services.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [_verified(self.services, row.recipient, row.body) for row in rows]

    def _pending(self) -> list[StoredMessage]:
        with self.services.engine.connect() as connection:
            keys = connection.execute(
                select(messages_table.c.sender, messages_table.c.message_id)
                .where(messages_table.c.status.in_([MessageStatus.ACCEPTED.value, MessageStatus.QUEUED.value]))
                .order_by(messages_table.c.id)
            ).all()
        found = [self.services.store.get(sender, message_id) for sender, message_id in keys]
        return [stored for stored in found if stored is not None]


def _verified(services: Services, recipient: str, body: bytes) -> Sent:
    signature = verify_envelope(xmlsafe.parse(body))
    assert services.trust.check(signature.certificate_der, signature.intermediates) == []
    gateway = services.parties.get(GATEWAY)
    assert gateway is not None and hashlib.sha256(signature.certificate_der).hexdigest() in gateway.certificates
    header = read_header(signature.root)
    assert header.sender.identity == GATEWAY and header.recipient.identity == recipient
    payload = content_element(signature.root)
    assert payload is not None
    return Sent(recipient, header, payload)


@pytest.fixture
def exchange(assembly: Assembly, messages: MessageFactory) -> Iterator[Exchange]:
    yield Exchange(assembly, messages)


def inspection_result(
    items: list[tuple[int, str, str, str | None]],
    issued: str | None = None,
    ministry: str | None = None,
    certificate: str | None = None,
    number: str | None = None,
    function: str | None = None,
) -> Edit:
    """An edit of the sample INSPECTION_RESULT: its items as (line, HS code, PASS|FAIL, reason); what is
    not given keeps the sample's value (declaration 107012345670, BYT, issued 2026-03-11T14:20:00+07:00)."""
    header = {"function": function, "reference": number}
    payload_texts = {
        f"{{{IR_NS}}}declarationNumber": number,
        f"{{{IR_NS}}}inspectionAuthority/{{{CM_NS}}}code": ministry,
        f"{{{IR_NS}}}inspectionCertificateNumber": certificate,
        f"{{{IR_NS}}}issuedAt": issued,
    }

    def edit(root: etree._Element) -> None:
        for local, value in header.items():
            if value is not None:
                root.find(f"{qname('Header')}/{qname('Subject')}/{qname(local)}").text = value
        payload = content_element(root)
        for path, value in payload_texts.items():
            if value is not None:
                payload.find(path).text = value
        parent = payload.find(f"{{{IR_NS}}}items")
        for old in list(parent):
            parent.remove(old)
        for line, hs_code, outcome, reason in items:
            item = etree.SubElement(parent, f"{{{IR_NS}}}item")
            for local, value in (
                ("lineNumber", str(line)),
                ("hsCode", hs_code),
                ("result", outcome),
                ("reason", reason),
            ):
                if value is not None:
                    etree.SubElement(item, f"{{{IR_NS}}}{local}").text = value

    return edit


@pytest.fixture(name="inspection_result")
def inspection_result_fixture() -> Callable[..., Edit]:
    return inspection_result
