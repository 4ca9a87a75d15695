"""A resend of a purged message: recognised by its tombstone and answered, never taken as new."""

from __future__ import annotations

import datetime as dt
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path

from lxml import etree
from sqlalchemy import func, select
from support import MessageFactory

from gateway.config import RetentionSettings
from gateway.envelope import qname
from gateway.lifecycle import INBOUND, MessageStatus, transition
from gateway.pipeline import Pipeline, Transport
from gateway.retention.purge import Purger
from gateway.signing.keys import SigningIdentity
from gateway.store.engine import writing
from gateway.store.tables import messages as stored_messages

HTTP = Transport("http")


def test_a_resend_of_a_purged_message_gets_duplicate_purged_and_other_content_duplicate_conflict(
    pipeline: Pipeline, messages: MessageFactory, identity: Callable[[str], SigningIdentity], tmp_path: Path,
    pki_dir: Path,
) -> None:
    services = pipeline.services
    body = messages.signed("ECOM_ORDER")
    first = pipeline.submit(body, HTTP)
    assert first.accepted and first.message_id
    stored = services.store.get("0101234567", first.message_id)
    assert stored is not None
    with writing(services.engine) as tx:
        now = dt.datetime.now(dt.UTC)
        assert transition(tx, INBOUND, stored.pk, MessageStatus.PROCESSED, actor="worker", at=now)
    purger = Purger(services.engine, RetentionSettings(default_days=0, archive_dir=tmp_path), identity("VNECOMGW"), "VNECOMGW")
    report = purger.run(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1))
    assert report.inbound == 1

    receipt = tmp_path / "receipt.xml"
    with tarfile.open(report.archives[0]) as tar:
        names = [name for name in tar.getnames() if name.endswith("/receipt.xml")]
        receipt.write_bytes(tar.extractfile(names[0]).read())  # type: ignore[union-attr]
    assert receipt.read_bytes() == first.receipt
    checked = subprocess.run(  # as README, "Retention, archive and purge", says
        ["xmlsec1", "--verify", "--trusted-pem", str(pki_dir / "ca.pem"), str(receipt)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr

    again = pipeline.submit(body, HTTP)

    assert (again.status, again.accepted, again.codes) == (409, False, ("DUPLICATE_PURGED",))
    assert report.archives[0].name.encode() in again.receipt  # the answer names the archive ...
    assert b"DUPLICATE_PURGED" in again.receipt and b"Signature" in again.receipt  # ... in a signed rejection

    def same_id_other_content(root: etree._Element) -> None:
        root.find(f"{qname('Header')}/{qname('Reference')}/{qname('messageId')}").text = first.message_id
        root.find(f"{qname('Header')}/{qname('Subject')}/{qname('reference')}").text = "ANOTHER-REFERENCE"

    other = pipeline.submit(messages.signed("ECOM_ORDER", edit=same_id_other_content), HTTP)

    assert (other.status, other.codes) == (409, ("DUPLICATE_CONFLICT",))
    with services.engine.connect() as connection:  # neither resend was stored as a new message
        assert connection.execute(select(func.count()).select_from(stored_messages)).scalar_one() == 0
