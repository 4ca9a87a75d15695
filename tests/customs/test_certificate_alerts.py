"""Certificate expiry alerts: one CERTIFICATE_EXPIRY per certificate and threshold, the tightest crossed,
sent signed to the operators (OPS), for the parties' certificates and the gateway's own."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest
from rows import in_context
from sqlalchemy import insert, select
from support import REPO

from customs.certificate_alerts import check_certificates, tightest_crossed
from customs.rules import parse_business
from customs.state import alerts
from gateway import xmlsafe
from gateway.envelope import content_element, read_header
from gateway.services import Services
from gateway.signing.expiry import CertificateInUse
from gateway.signing.keys import SigningIdentity, der_of, fingerprint
from gateway.signing.pki import load_ca
from gateway.signing.rotation import GatewayKeys
from gateway.signing.verify import verify_envelope
from gateway.store.engine import writing
from gateway.store.tables import outbox, party_certificates
from routing.table import RoutingTable, load_handler

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the raised-once race is cross-checked on PostgreSQL

MARKETPLACE = "0101234567"
GATEWAY = "VNECOMGW"
RA = "{urn:customs.gov.vn:ecom:risk-alert:1}"
CM = "{urn:customs.gov.vn:ecom:common:1}"
DAY = dt.timedelta(days=1)


def issue(pki_dir: Path, not_after: dt.datetime, uid: str = MARKETPLACE) -> SigningIdentity:
    """A certificate from the test CA that expires at `not_after`."""
    return load_ca(pki_dir).issue("Expiring", uid, "ec-p256", not_before=not_after - 400 * DAY, not_after=not_after)


def register(services: Services, party: str, *identities: SigningIdentity) -> list[str]:
    """Register the certificates to `party` in the store, as parties.toml or an operator would; their fingerprints."""
    with writing(services.engine) as tx:
        for signing in identities:
            certificate = signing.certificate
            tx.execute(
                insert(party_certificates).values(
                    fingerprint=fingerprint(certificate),
                    party=party,
                    der=der_of(certificate),
                    subject=certificate.subject.rfc4514_string(),
                    not_before=certificate.not_valid_before_utc,
                    not_after=certificate.not_valid_after_utc,
                    added_at=dt.datetime.now(dt.UTC),
                )
            )
    services.parties.refresh()
    return [fingerprint(signing.certificate) for signing in identities]


def raised(services: Services) -> list[tuple[str, str, float, str]]:
    """The CERTIFICATE_EXPIRY alerts, oldest first: (the certificate's fingerprint, from the reason; party;
    threshold; severity)."""
    with services.engine.connect() as connection:
        rows = connection.execute(select(alerts).where(alerts.c.kind == "CERTIFICATE_EXPIRY").order_by(alerts.c.id))
        return [
            (row.reasons[0]["text"].split("SHA-256 ", 1)[1][:64], row.party, row.metrics["THRESHOLD_DAYS"], row.severity)
            for row in rows
        ]


def by_certificate(services: Services) -> dict[str, tuple[str, float, str]]:
    """The alerts by certificate, when each certificate has at most one."""
    found = raised(services)
    assert len({print_ for print_, *_ in found}) == len(found), found
    return {print_: (party, threshold, severity) for print_, party, threshold, severity in found}


def sent(services: Services) -> list[tuple[str, bytes]]:
    query = select(outbox.c.recipient, outbox.c.body).where(outbox.c.document_type == "RISK_ALERT").order_by(outbox.c.id)
    with services.engine.connect() as connection:
        return [(recipient, body) for recipient, body in connection.execute(query)]


@pytest.mark.stores("sqlite", "postgresql")  # raised once: ON CONFLICT, per dialect
def test_each_certificate_gets_the_alert_of_the_tightest_threshold_it_crossed_once(
    services: Services, pki_dir: Path
) -> None:
    now = dt.datetime.now(dt.UTC)
    later, sixty, thirty, seven, expired = register(
        services,
        MARKETPLACE,
        *(issue(pki_dir, now + days * DAY) for days in (90, 45, 20, 5, -2)),
    )

    assert in_context(services, check_certificates) == 4
    assert in_context(services, check_certificates) == 0  # raised once

    assert by_certificate(services) == {
        sixty: (MARKETPLACE, 60, "LOW"),
        thirty: (MARKETPLACE, 30, "MEDIUM"),
        seven: (MARKETPLACE, 7, "HIGH"),  # found 5 days before: the 7-day alert, not the 60- and 30-day ones
        expired: (MARKETPLACE, 0, "HIGH"),
    }
    with services.engine.connect() as connection:
        (expired_row,) = [
            row for row in connection.execute(select(alerts)) if expired in row.reasons[0]["text"]
        ]
    assert expired_row.reasons[0]["code"] == "CERTIFICATE_EXPIRED" and "đã hết hạn" in expired_row.reasons[0]["text"]
    assert expired_row.metrics == {"DAYS_LEFT": -3, "THRESHOLD_DAYS": 0}  # whole days, rounded down: 2 days and a bit ago
    assert [recipient for recipient, _ in sent(services)] == ["OPS"] * 4


def test_a_certificate_gets_each_threshold_once_as_its_expiry_nears(services: Services, pki_dir: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    (print_,) = register(services, MARKETPLACE, issue(pki_dir, now + 50 * DAY))

    for days_later, threshold in ((0, 60), (25, 30), (44, 7), (51, 0)):
        at = now + days_later * DAY
        assert in_context(services, check_certificates, now=at) == 1, threshold
        assert in_context(services, check_certificates, now=at) == 0

    assert [(found, threshold) for found, _, threshold, _ in raised(services)] == [
        (print_, 60), (print_, 30), (print_, 7), (print_, 0)
    ]


def test_the_alert_is_a_valid_signed_risk_alert_about_the_party(services: Services, pki_dir: Path) -> None:
    not_after = dt.datetime.now(dt.UTC) + 10 * DAY + dt.timedelta(hours=12)
    (print_,) = register(services, MARKETPLACE, issue(pki_dir, not_after))

    assert in_context(services, check_certificates) == 1

    ((recipient, body),) = sent(services)
    assert recipient == "OPS"
    root = xmlsafe.parse(body)
    verify_envelope(root)  # raises unless the signature holds
    assert services.schemas.validate_envelope(root) == []
    header = read_header(root)
    assert (header.sender.identity, header.document_type, header.function) == (GATEWAY, "RISK_ALERT", "26")
    document = services.schemas.get("RISK_ALERT")
    assert document is not None and services.schemas.validate_payload(document, content_element(root)) == []
    alert = content_element(root)
    assert alert.findtext(f"{RA}kind") == "CERTIFICATE_EXPIRY"
    assert alert.findtext(f"{RA}subject/{RA}partyId") == MARKETPLACE
    assert alert.findtext(f"{RA}reasons/{RA}reason/{CM}code") == "CERTIFICATE_EXPIRING"
    text = alert.findtext(f"{RA}reasons/{RA}reason/{CM}text")
    assert MARKETPLACE in text and print_ in text and "CN=Expiring" in text
    assert not_after.replace(microsecond=0).isoformat() in text and "còn 10 ngày" in text and "30 ngày" in text


def test_the_gateways_own_certificates_are_checked_the_next_one_of_a_rotation_too(
    services: Services, pki_dir: Path
) -> None:
    current = services.keys.current.certificate
    near_expiry = current.not_valid_after_utc - 3 * DAY
    in_context(services, check_certificates, now=near_expiry)  # every certificate of the test PKI is near its end
    own = {print_: found for print_, found in by_certificate(services).items() if found[0] == GATEWAY}
    assert own == {fingerprint(current): (GATEWAY, 7, "HIGH")}

    following = issue(pki_dir, dt.datetime.now(dt.UTC) + 20 * DAY, uid=GATEWAY)
    services.keys = GatewayKeys(services.keys.current, following, None)  # `gateway keys rotate` was run
    assert in_context(services, check_certificates) == 1
    assert raised(services)[-1] == (fingerprint(following.certificate), GATEWAY, 30, "MEDIUM")


@pytest.mark.parametrize(
    ("left", "thresholds", "expected"),
    [
        (61 * DAY, (60, 30, 7, 0), None),
        (60 * DAY, (60, 30, 7, 0), 60),  # on the day itself
        (7 * DAY + dt.timedelta(seconds=1), (60, 30, 7, 0), 30),
        (dt.timedelta(seconds=1), (60, 30, 7, 0), 7),
        (dt.timedelta(0), (60, 30, 7, 0), 0),
        (-DAY, (14,), 14),  # without 0 in the list, an expired certificate has had its last alert
    ],
)
def test_the_tightest_threshold_crossed(left: dt.timedelta, thresholds: tuple[int, ...], expected: int | None) -> None:
    now = dt.datetime(2026, 12, 4, tzinfo=dt.UTC)
    certificate = CertificateInUse(MARKETPLACE, "signing", "CN=x", "ab" * 32, now + left)
    assert tightest_crossed(certificate, now, thresholds) == expected


def test_the_timers_component_runs_it_from_the_repository_routes(services: Services, pki_dir: Path, assembly) -> None:
    (timer,) = [
        t
        for t in RoutingTable.load(REPO / "config" / "routes.toml").timers
        if t.task == "customs.certificate_alerts:check_certificates"
    ]
    register(services, MARKETPLACE, issue(pki_dir, dt.datetime.now(dt.UTC) + 2 * DAY))

    assert assembly.timers().run_once(timer, load_handler(timer.task)) == 1  # type: ignore[arg-type]

    with services.engine.connect() as connection:
        published = connection.execute(
            select(outbox.c.published_at).where(outbox.c.document_type == "RISK_ALERT")
        ).scalars().all()
    assert len(published) == 1 and published[0] is not None


def _rules(edit: str) -> dict:
    text = (REPO / "config" / "business.toml").read_text(encoding="utf-8")
    return tomllib.loads(re.sub(r"(?m)^certificate_expiry_days = .*$", edit, text))


def test_the_thresholds_are_read_from_business_toml_tightest_last_and_none_negative() -> None:
    assert parse_business(_rules("certificate_expiry_days = [3, 14, 14]")).alerts.certificate_expiry_days == (14, 3)
    assert parse_business(_rules("")).alerts.certificate_expiry_days == (60, 30, 7, 0)  # absent: the default
    with pytest.raises(ValueError, match="negative"):
        parse_business(_rules("certificate_expiry_days = [30, -1]"))
