"""Rows of a given age and state for the retention tests: inbound messages and the gateway's replies."""

from __future__ import annotations

import datetime as dt
import hashlib
import tarfile
import uuid
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import Engine, insert

from gateway.lifecycle import INBOUND, OUTBOUND, MessageStatus, OutboundStatus, entered, transition
from gateway.store.engine import writing
from gateway.store.messages import MessageStore, NewMessage
from gateway.store.tables import outbox

NOW = dt.datetime.now(dt.UTC)  # archives are signed now: the test PKI's certificates are valid around it
GATEWAY = "VNECOMGW"


def inbound(
    store: MessageStore,
    *,
    age_days: float,
    document_type: str = "ECOM_DECLARATION",
    status: str = MessageStatus.PROCESSED,
    sender: str = "0101234567",
) -> NewMessage:
    """A message received `age_days` before NOW, moved to `status` (accepted, queued or processed)."""
    message_id = str(uuid.uuid4())
    body = f"<Envelope id='{message_id}'>Hải quan</Envelope>".encode() + b"\x00\xff"
    new = NewMessage(
        sender=sender, message_id=message_id, recipient=GATEWAY, document_type=document_type, function="01",
        reference="REF", pre_reference=None, correlation_id=f"corr-{message_id}", door="http",
        digest=hashlib.sha256(body).hexdigest(), body=body, receipt=f"<Receipt for='{message_id}'/>".encode(),
        route="declarations",
    )
    received = NOW - dt.timedelta(days=age_days)
    recorded = store.record(new, received)
    assert recorded.pk is not None
    if status != MessageStatus.ACCEPTED:
        store.mark_queued([recorded.pk], received, "relay")
    if status == MessageStatus.PROCESSED:
        with writing(store.engine) as tx:
            assert transition(tx, INBOUND, recorded.pk, MessageStatus.PROCESSED, actor="worker", at=received,
                              values={"processed_at": received})
    return new


def reply(engine: Engine, *, source: int | None, age_days: float, delivered: bool = True) -> int:
    """An outbound message created `age_days` before NOW, answering the inbound row `source`."""
    created = NOW - dt.timedelta(days=age_days)
    with writing(engine) as tx:
        pk = tx.execute(
            OUTBOUND.with_initial_status(insert(outbox)).values(
                message_id=str(uuid.uuid4()), recipient="0101234567", document_type="ECOM_DECISION", function="26",
                correlation_id="corr", source=source, body=b"<Decision/>", created_at=created, attempts=0,
            ).returning(outbox.c.id)
        ).scalar_one()
        entered(tx, OUTBOUND, [pk], actor="worker", at=created)
        if delivered:
            transition(tx, OUTBOUND, pk, OutboundStatus.DELIVERED, actor="delivery", at=created,
                       values={"delivered_at": created, "delivery_receipt": b"<Ack/>"})
    return pk


def archived(paths: Iterable[Path]) -> dict[bytes, bytes]:
    """The inbound envelopes in the archives at `paths`, each with its receipt."""
    found: dict[bytes, bytes] = {}
    for path in paths:
        with tarfile.open(path) as tar:
            for member in tar:
                if member.name.startswith("inbound/") and member.name.endswith("/envelope.xml"):
                    receipt = tar.extractfile(member.name.replace("envelope.xml", "receipt.xml"))
                    found[tar.extractfile(member).read()] = receipt.read()  # type: ignore[union-attr]
    return found
