"""Delivery: pushing the gateway's signed messages to partner endpoints, on the real broker and both stores.

The partners are real HTTP servers (tests/partner.py) answering over plain HTTP or SOAP with receipts
signed by their registered keys, or failing, stalling, rejecting, or answering with receipts that must
not count as delivery. Delivery runs in a thread with the production adapters.
"""

from __future__ import annotations

import os
import pwd
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from partner import ACCEPT, FAIL, FORGE, MISDIGEST, REJECT, TAMPER, PartnerEndpoint, write_parties
from rich.console import Console
from sqlalchemy.exc import OperationalError
from support import AMQP_URL, wait_until, write_config

from app.cli import outbox as outbox_cli
from app.cli.main import main
from conformance import SAMPLES_DIR
from gateway import client, xmlsafe
from gateway.adapters.pushers import PUSHERS
from gateway.envelope import PartyRef, content_element, read_header
from gateway.lifecycle import OutboundStatus
from gateway.outbound.compose import Subject
from gateway.outbound.delivery import Delivery
from gateway.outbound.outbox import OutboundMessage, OutboxEntry
from gateway.services import Services
from gateway.signing.keys import SigningIdentity
from gateway.signing.verify import verify_envelope
from gateway.store.engine import writing
from routing.publication import publish_emitted

MARKETPLACE, LOGISTICS, PARTNER, MINISTRY, TRADER = "0101234567", "0309876543", "SG-ASW", "BYT", "0312345678"
ENDPOINTS = {MARKETPLACE: "http", LOGISTICS: "http", PARTNER: "soap", MINISTRY: "soap12"}
MAX_ATTEMPTS = 3


@pytest.fixture
def partners(identity: Callable[[str], SigningIdentity]) -> Iterator[dict[str, PartnerEndpoint]]:
    impostor = identity("HQHCM")  # a registered key, but not the partner's
    made = {party: PartnerEndpoint(PartyRef(party, party, "VN"), identity(party), impostor).start() for party in ENDPOINTS}
    yield made
    for endpoint in made.values():
        endpoint.stop()


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str, partners: dict[str, PartnerEndpoint]) -> Path:
    """config/parties.toml with endpoints for four parties (TRADER still pulls); fast retries."""
    paths = {"http": "/v1/messages", "soap": "/soap", "soap12": "/soap"}
    parties = write_parties(
        tmp_path / "parties.toml",
        {p: {"endpoint": {"transport": t, "url": partners[p].url + paths[t]}} for p, t in ENDPOINTS.items()},
    )
    return write_config(
        tmp_path / "config", pki_dir, namespace,
        registry={"parties": str(parties)},
        delivery={"threads": 4, "timeout_s": 5.0, "max_attempts": MAX_ATTEMPTS, "first_retry_s": 0.3, "max_retry_s": 1.0},
    )


@pytest.fixture
def delivery(services: Services) -> Iterator[Delivery]:
    running = Delivery(services, PUSHERS)
    thread = threading.Thread(target=running.run, name="test-delivery", daemon=True)
    thread.start()
    yield running
    running.stop()
    thread.join(30)
    assert not thread.is_alive(), "delivery did not stop"


def emit(services: Services, recipient: str, reference: str = "107012345670") -> OutboundMessage:
    """What a handler does: sign and store a notice in its transaction, publish it after the commit."""
    content = content_element(client.load_envelope(SAMPLES_DIR / "RESULT_NOTICE.xml"))
    with writing(services.engine) as tx:
        message = services.outbox.emit(
            tx, recipient, Subject("RESULT_NOTICE", "23", reference), content, f"corr-{reference}", actor="worker"
        )
    publish_emitted(services, [message])
    return message


def entry(services: Services, message: OutboundMessage) -> OutboxEntry:
    found = services.outbox.get(message.message_id)
    assert found is not None
    return found


def moves(services: Services, message: OutboundMessage) -> list[tuple[str | None, str, str]]:
    return [(step.from_status, step.to_status, step.actor) for step in services.outbox.timeline(message.pk)]


def settled(services: Services, message: OutboundMessage, status: OutboundStatus, timeout: float = 30) -> OutboxEntry:
    wait_until(lambda: entry(services, message).status == status.value, timeout=timeout)
    return entry(services, message)


# --- delivered -------------------------------------------------------------------------------


@pytest.mark.parametrize("recipient", [MARKETPLACE, PARTNER, MINISTRY], ids=["http", "soap11", "soap12"])
def test_a_push_to_a_live_endpoint_is_delivered_with_the_partners_signed_receipt_as_proof(
    services: Services, partners: dict[str, PartnerEndpoint], delivery: Delivery, recipient: str
) -> None:
    message = emit(services, recipient)

    done = settled(services, message, OutboundStatus.DELIVERED)

    assert partners[recipient].accepted() == [message.body]  # exactly the stored signed bytes, once
    assert partners[recipient].pushes[0].door == ("soap" if ENDPOINTS[recipient].startswith("soap") else "http")
    proof = client.read_receipt(done.delivery_receipt, services.trust)
    assert (proof.signer, proof.received_message_id, proof.status) == (recipient, message.message_id, "ACCEPTED")
    assert done.attempts == 0 and done.delivered_at is not None and done.last_error is None
    assert moves(services, message) == [(None, "pending", "worker"), ("pending", "delivered", "delivery")]


def test_a_message_for_a_party_without_endpoint_is_not_pushed_but_waits_to_be_pulled(
    services: Services, partners: dict[str, PartnerEndpoint], delivery: Delivery, queues
) -> None:
    message = emit(services, TRADER)

    assert not message.push
    assert entry(services, message).status == OutboundStatus.PENDING.value
    assert services.topology.push_queue(TRADER) not in services.topology.queues()
    assert services.outbox.batch_for(TRADER, 10, 10**6).messages == (message.body,)


# --- failing, then recovering ------------------------------------------------------------------


@pytest.mark.parametrize("recipient", [MARKETPLACE, PARTNER], ids=["http", "soap11"])
def test_an_endpoint_that_fails_then_recovers_gets_the_message_once_with_the_same_id(
    services: Services, partners: dict[str, PartnerEndpoint], delivery: Delivery, recipient: str
) -> None:
    partner = partners[recipient]
    partner.modes = [FAIL, FAIL]  # then it accepts

    message = emit(services, recipient)
    done = settled(services, message, OutboundStatus.DELIVERED)

    assert [push.answer for push in partner.pushes] == [FAIL, FAIL, ACCEPT]
    assert {push.body for push in partner.pushes} == {message.body}  # every attempt: the same bytes, the same messageId
    gaps = [later.at - earlier.at for earlier, later in zip(partner.pushes, partner.pushes[1:], strict=False)]
    assert gaps[0] >= 0.25 and gaps[1] >= 0.55, f"the back-off did not double: {gaps}"  # 0.3 s, then 0.6 s
    assert done.attempts == 2 and done.last_error is None
    time.sleep(1.5)  # longer than any back-off: nothing more arrives once it is delivered
    assert len(partner.pushes) == 3


def test_a_partner_down_for_a_while_gets_everything_once_and_the_others_are_not_held_up(
    services: Services, partners: dict[str, PartnerEndpoint], delivery: Delivery
) -> None:
    down = partners[LOGISTICS]
    down.mode = FAIL
    for_down = [emit(services, LOGISTICS, f"DOWN-{n}") for n in range(3)]
    for_up = [emit(services, MARKETPLACE, f"UP-{n}") for n in range(3)]

    for message in for_up:
        settled(services, message, OutboundStatus.DELIVERED, timeout=10)
    wait_until(lambda: len(down.pushes) >= 3)
    down.mode = ACCEPT  # back before the last attempt
    for message in for_down:
        settled(services, message, OutboundStatus.DELIVERED)

    assert sorted(down.accepted()) == sorted(m.body for m in for_down)
    assert sorted(partners[MARKETPLACE].accepted()) == sorted(m.body for m in for_up)


def test_a_slow_partner_does_not_hold_up_the_others(
    services: Services, partners: dict[str, PartnerEndpoint], delivery: Delivery
) -> None:
    slow = partners[LOGISTICS]
    slow.delay_s = 2.0
    for_slow = [emit(services, LOGISTICS, f"SLOW-{n}") for n in range(3)]
    wait_until(lambda: slow.pushes, timeout=10)  # the slow partner has one push in hand
    started = time.monotonic()
    for_fast = [emit(services, recipient, f"FAST-{recipient}") for recipient in (MARKETPLACE, PARTNER, MINISTRY)]

    for message in for_fast:
        settled(services, message, OutboundStatus.DELIVERED, timeout=10)
    fast_done = time.monotonic() - started

    assert fast_done < 1.5, f"the other partners waited {fast_done:.1f}s behind the slow one"
    assert sum(entry(services, m).status == OutboundStatus.DELIVERED.value for m in for_slow) <= 1
    for message in for_slow:  # and the slow one gets all of its own, one at a time
        settled(services, message, OutboundStatus.DELIVERED, timeout=20)
    assert len(slow.pushes) == 3


def test_a_store_outage_costs_no_attempt_and_the_message_comes_back_when_it_is_over(
    services: Services, partners: dict[str, PartnerEndpoint], delivery: Delivery, monkeypatch: pytest.MonkeyPatch, queues
) -> None:
    # Longer than the push queue's delivery limit would allow, were the message simply handed back each time.
    outage = services.topology.delivery_limit + 2
    real_get = services.outbox.get
    failures = [OperationalError("SELECT ...", {}, OSError("the store is away")) for _ in range(outage)]

    def store_away_once(key: str | int) -> OutboxEntry | None:
        if failures and threading.current_thread().name.startswith("delivery"):  # not the test's own look-ups
            raise failures.pop()
        return real_get(key)

    monkeypatch.setattr(services.outbox, "get", store_away_once)
    message = emit(services, MARKETPLACE)

    done = settled(services, message, OutboundStatus.DELIVERED)

    assert not failures and done.attempts == 0
    assert partners[MARKETPLACE].accepted() == [message.body]
    assert queues.ready(services.topology.dead_letter_queue) == 0


# --- never recovering: parked, then resent by an operator --------------------------------------


def test_an_endpoint_that_never_recovers_parks_the_message_and_an_operator_resends_it(
    services: Services, partners: dict[str, PartnerEndpoint], delivery: Delivery, config_path: Path, db_url: str,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    partner = partners[MARKETPLACE]
    partner.mode = FAIL
    message = emit(services, MARKETPLACE)

    parked = settled(services, message, OutboundStatus.PARKED)
    assert parked.attempts == MAX_ATTEMPTS and len(partner.pushes) == MAX_ATTEMPTS
    assert parked.last_error is not None and parked.last_error.startswith(f"{MAX_ATTEMPTS} attempts failed")
    time.sleep(1.5)
    assert len(partner.pushes) == MAX_ATTEMPTS  # parked: nothing more is tried

    monkeypatch.setenv("GATEWAY_DB_URL", db_url)
    monkeypatch.setenv("GATEWAY_AMQP_URL", AMQP_URL)
    monkeypatch.setattr(outbox_cli, "console", Console(width=250))  # table cells unfolded
    cli = ["--config", str(config_path), "outbox"]
    assert main([*cli, "list", "--status", "parked"]) == 0
    listed = capsys.readouterr().out
    assert message.message_id in listed and "parked" in listed
    assert main([*cli, "show", message.message_id]) == 0
    assert "attempts failed" in capsys.readouterr().out

    partner.mode = ACCEPT
    assert main([*cli, "resend", str(message.pk), "--reason", "partner fixed its certificate store"]) == 0
    assert "pending again" in capsys.readouterr().out
    delivered = settled(services, message, OutboundStatus.DELIVERED)

    assert partner.accepted() == [message.body]  # the same messageId and bytes as every earlier attempt
    assert delivered.delivery_receipt is not None
    assert main([*cli, "resend", message.message_id]) == 1  # only a parked message can be resent
    operator = f"operator:{pwd.getpwuid(os.getuid()).pw_name}"
    timeline = services.outbox.timeline(message.pk)
    assert [(s.from_status, s.to_status, s.actor) for s in timeline] == [
        (None, "pending", "worker"),
        ("pending", "parked", "delivery"),
        ("parked", "pending", operator),  # the refused second resend left no trace
        ("pending", "delivered", "delivery"),
    ]
    assert timeline[1].reason == parked.last_error and timeline[2].reason == "partner fixed its certificate store"
    assert main([*cli, "show", message.message_id]) == 0
    shown = capsys.readouterr().out
    assert "Timeline" in shown and operator in shown and "partner fixed its certificate store" in shown


# --- answers that are not a proof of delivery -------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (FORGE, "CERTIFICATE_NOT_REGISTERED"),  # signed, but not with the partner's registered key
        (TAMPER, "SIGNATURE_DIGEST_MISMATCH"),  # the partner's receipt, changed after signing
        (MISDIGEST, "is not the SHA-256 of what was sent"),  # the partner's receipt of other bytes
    ],
)
def test_a_receipt_that_is_not_the_partners_signature_on_what_was_sent_is_not_a_delivery(
    services: Services, partners: dict[str, PartnerEndpoint], delivery: Delivery, answer: str, why: str
) -> None:
    partners[PARTNER].mode = answer
    message = emit(services, PARTNER)

    parked = settled(services, message, OutboundStatus.PARKED)

    assert parked.delivered_at is None and parked.delivery_receipt is None
    assert parked.attempts == MAX_ATTEMPTS
    assert why in (parked.last_error or "")


def test_a_signed_rejection_parks_the_message_at_once(
    services: Services, partners: dict[str, PartnerEndpoint], delivery: Delivery
) -> None:
    partners[MARKETPLACE].mode = REJECT
    message = emit(services, MARKETPLACE)

    parked = settled(services, message, OutboundStatus.PARKED)

    assert parked.attempts == 1 and len(partners[MARKETPLACE].pushes) == 1
    assert "refused by the recipient" in (parked.last_error or "") and "ROLE_NOT_PERMITTED" in (parked.last_error or "")


def test_a_pushed_envelope_is_the_gateways_signed_message_to_the_recipient(
    services: Services, partners: dict[str, PartnerEndpoint], delivery: Delivery
) -> None:
    message = emit(services, PARTNER)
    settled(services, message, OutboundStatus.DELIVERED)

    (received,) = partners[PARTNER].accepted()
    signature = verify_envelope(xmlsafe.parse(received))
    header = read_header(signature.root)
    assert signature.certificate_der == client.certificate_der(services.settings.party_cert(services.settings.gateway.identity))
    assert services.trust.check(signature.certificate_der, signature.intermediates) == []
    assert (header.sender.identity, header.recipient.identity, header.message_id) == (
        services.settings.gateway.identity, PARTNER, message.message_id
    )
