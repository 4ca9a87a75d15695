"""Every kind of bad message through the intake pipeline, on the real broker.

Each rejection must come back with the designed HTTP status and error codes, as a
receipt signed by the gateway (function 22, status REJECTED, every error with a
message and, where the design gives one, a location); nothing may be stored as
accepted, and the rejection itself must be recorded. After all of them, a valid
message is still accepted. The catalogue runs once per store, in one gateway; the
other tests here, but the resends (record, duplicate, conflict), run on SQLite.

The sender 0309876543 (logistics, RSA-2048) has, besides its own certificate,
three rogue certificates registered for this module: an expired one, one from an
unknown CA and an RSA-1024 one, so that each of those cases isolates one rule;
and the ministry BCT is suspended.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from lxml import etree
from sqlalchemy import select
from support import AMQP_URL, GATEWAY_ID, REPO, MessageFactory, evaluate_location, write_config

from app.wiring import assemble
from conformance import SAMPLES_DIR, attacks
from gateway import client, xmlsafe
from gateway.config import load_settings
from gateway.envelope import qname
from gateway.errors import ErrorCode, Problem
from gateway.pipeline import Outcome, Pipeline, Transport, too_large
from gateway.services import Services
from gateway.signing.keys import SigningIdentity, load_certificates
from gateway.signing.pki import CertificateAuthority
from gateway.signing.verify import verify_envelope
from gateway.store.tables import rejections

pytestmark = pytest.mark.stores("sqlite")

HTTP = Transport("http")
SENDER = "0309876543"  # logistics: may send ECOM_DECLARATION
TRADER = "0312345678"  # trader: may send ECOM_DECLARATION too, with its own certificate
MARKETPLACE = "0101234567"  # may not send INSPECTION_RESULT
SUSPENDED = "BCT"  # a ministry, suspended for this module
DECLARATION_NS = "urn:customs.gov.vn:ecom:declaration:1"
SECRET = "s3cr3t-9b7e-must-never-leak"


def d(local: str) -> str:
    return f"{{{DECLARATION_NS}}}{local}"


# --- rogue credentials, registered to SENDER for this module ---------------------------


@dataclass(frozen=True)
class Rogues:
    expired: SigningIdentity  # issued by the test CA, expired yesterday; registered
    foreign: SigningIdentity  # issued by an unknown CA; registered
    weak: SigningIdentity  # RSA-1024, issued by the test CA; registered
    foreign_unregistered: SigningIdentity  # issued by an unknown CA; registered to nobody


@pytest.fixture(scope="module")
def rogues(pki_dir: Path) -> Rogues:
    key = serialization.load_pem_private_key((pki_dir / "ca.key.pem").read_bytes(), password=None)
    ca = CertificateAuthority(key, load_certificates(pki_dir / "ca.pem")[0])  # type: ignore[arg-type]
    return Rogues(
        expired=attacks.expired_identity(ca, "Sai Gon Express (expired)", SENDER),
        foreign=attacks.foreign_ca_identity("Sai Gon Express (foreign CA)", SENDER),
        weak=attacks.weak_rsa_identity(ca, "Sai Gon Express (weak key)", SENDER),
        foreign_unregistered=attacks.foreign_ca_identity("Nobody", "NOBODY"),
    )


@pytest.fixture(scope="module")
def parties_file(tmp_path_factory: pytest.TempPathFactory, rogues: Rogues) -> Path:
    """config/parties.toml with the registered rogue certificates added to SENDER, and SUSPENDED suspended."""
    directory = tmp_path_factory.mktemp("rogue-parties")
    extra = []
    for label, rogue in (("expired", rogues.expired), ("foreign", rogues.foreign), ("weak", rogues.weak)):
        path = directory / f"{label}.cert.pem"
        path.write_bytes(rogue.certificate.public_bytes(serialization.Encoding.PEM))
        extra.append(str(path))
    with (REPO / "config" / "parties.toml").open("rb") as handle:
        entries = tomllib.load(handle)["party"]
    lines = []
    for entry in entries:
        if entry["id"] == SENDER:
            entry = {**entry, "certificates": ["{pki}/" + f"{SENDER}.cert.pem", *extra]}
        if entry["id"] == SUSPENDED:
            entry = {**entry, "status": "suspended"}
        lines.append("[[party]]")
        lines.extend(f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in entry.items())
    path = directory / "parties.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str, parties_file: Path) -> Path:
    """Overrides conftest's: the same test configuration, with the rogue registrations."""
    return write_config(tmp_path / "config", pki_dir, namespace, registry={"parties": str(parties_file)})


# --- building bad messages -------------------------------------------------------------


Edit = Callable[[etree._Element], object]


@dataclass(frozen=True)
class Attack:
    body: bytes
    sender: str | None  # who the envelope claims to be from (None: no envelope to speak of)
    message_id: str | None

    def transformed(self, transform: Callable[[bytes], bytes]) -> Attack:
        return Attack(transform(self.body), self.sender, self.message_id)


@dataclass(frozen=True)
class Kit:
    messages: MessageFactory
    identity: Callable[[str], SigningIdentity]
    rogues: Rogues

    def envelope(
        self, document_type: str = "ECOM_DECLARATION", sender: str = SENDER, edit: Edit | None = None
    ) -> etree._Element:
        root = self.messages.envelope(document_type, sender)
        if edit is not None:
            edit(root)
        return root

    def attack(self, root: etree._Element, body: bytes) -> Attack:
        header = root.find(qname("Header"))
        sender = header.findtext(f"{qname('From')}/{qname('identity')}")
        return Attack(body, sender, header.findtext(f"{qname('Reference')}/{qname('messageId')}"))

    def signed_by(
        self,
        signer: SigningIdentity,
        document_type: str = "ECOM_DECLARATION",
        sender: str = SENDER,
        edit: Edit | None = None,
    ) -> Attack:
        root = self.envelope(document_type, sender, edit)
        return self.attack(root, client.sign(copy.deepcopy(root), signer))

    def signed(self, document_type: str = "ECOM_DECLARATION", sender: str = SENDER, edit: Edit | None = None) -> Attack:
        return self.signed_by(self.identity(sender), document_type, sender, edit)

    def tampered(self, transform: Callable[[bytes], bytes]) -> Attack:
        """A valid signed message, then `transform` applied to its bytes."""
        return self.signed().transformed(transform)

    def unsigned_attack(self, build: Callable[[etree._Element], bytes], sender: str = SENDER) -> Attack:
        root = self.envelope(sender=sender)
        return self.attack(root, build(root))


@pytest.fixture
def kit(messages: MessageFactory, identity: Callable[[str], SigningIdentity], rogues: Rogues) -> Kit:
    return Kit(messages, identity, rogues)


def set_text(path: str, value: str) -> Callable[[etree._Element], None]:
    """An edit that sets the text of the first element at `path` (Clark names, relative to the root)."""

    def edit(root: etree._Element) -> None:
        root.find(path).text = value

    return edit


def remove(path: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        element = root.find(path)
        element.getparent().remove(element)

    return edit


def both(*edits: Callable[[etree._Element], object]) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        for one in edits:
            one(root)

    return edit


CONTENT = f"{qname('Body')}/{qname('Content')}"
DECLARATION = f"{CONTENT}/{d('Declaration')}"
FIRST_ITEM = f"{DECLARATION}/{d('items')}/{d('item')}"
SUBJECT = f"{qname('Header')}/{qname('Subject')}"


def order_payload_instead(root: etree._Element) -> None:
    order = etree.parse(str(SAMPLES_DIR / "ECOM_ORDER.xml")).getroot().find(f"{CONTENT}/*")
    content = root.find(CONTENT)
    content.replace(content[0], order)


def second_payload(root: etree._Element) -> None:
    content = root.find(CONTENT)
    content.append(copy.deepcopy(content[0]))


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Kit], Attack]
    status: int
    codes: tuple[str, ...]
    location: str | None = None  # expected in the first error's location
    message: str | None = None  # expected in the first error's message
    line_has: str | None = None  # expected on the line of the body that the first error's location names

    @property
    def header_readable(self) -> bool:
        return not any(code.startswith(("XML_", "REQUEST_")) or code == "ENVELOPE_INVALID" for code in self.codes)


Build = Callable[[Kit], Attack]


def tampered(transform: Callable[[bytes], bytes]) -> Build:
    """A valid signed ECOM_DECLARATION, then `transform` applied to its bytes."""
    return lambda kit: kit.tampered(transform)


def edited(edit: Edit | None, document_type: str = "ECOM_DECLARATION", sender: str = SENDER) -> Build:
    """An envelope (edited, when `edit` is given) signed correctly by its sender."""
    return lambda kit: kit.signed(document_type, sender, edit)


def signed_by(signer: Callable[[Kit], SigningIdentity], sender: str = SENDER) -> Build:
    """An envelope from `sender`, signed (in the gateway's profile) with another identity."""
    return lambda kit: kit.signed_by(signer(kit), sender=sender)


def by_hand(sign: Callable[[Kit, etree._Element], bytes]) -> Build:
    """An unsigned envelope signed by one of the attack library's hand-built signatures."""
    return lambda kit: kit.unsigned_attack(lambda root: sign(kit, root))


def raw(body: bytes) -> Build:
    return lambda kit: Attack(body, None, None)


def party(identity: str) -> Callable[[Kit], SigningIdentity]:
    return lambda kit: kit.identity(identity)


def encoded(kind: str) -> Build:
    return tampered(lambda body: attacks.wrong_encoding(body, kind))  # type: ignore[arg-type]


UNKNOWN_PARTY = "0399999999"
WITHOUT_KEY_INFO = attacks.key_info_removed

CASES = [
    # --- the XML layer
    Case("not well-formed", tampered(attacks.not_well_formed), 400, ("XML_MALFORMED",), location="line "),
    Case("latin-1 declared UTF-8", encoded("latin-1-declared-utf-8"), 400, ("XML_ENCODING",), message="UTF-8"),
    Case("UTF-16", encoded("utf-16"), 400, ("XML_ENCODING",), message="UTF-16"),
    Case("declared Latin-1", encoded("declared-latin-1"), 400, ("XML_ENCODING",), message="ISO-8859-1"),
    Case("DOCTYPE", tampered(attacks.with_doctype), 400, ("XML_DTD_FORBIDDEN",), location="line "),
    Case("XXE", tampered(attacks.xxe), 400, ("XML_DTD_FORBIDDEN",), location="line "),
    Case("entity bomb", raw(attacks.entity_bomb()), 400, ("XML_DTD_FORBIDDEN",), location="line "),
    Case("deep nesting", raw(attacks.deep_nesting(10_000)), 400, ("XML_LIMIT_EXCEEDED",), location="line "),
    Case(
        "huge attribute",
        tampered(lambda body: attacks.huge_attribute(10_300_000, body)),  # over libxml2's node limit, under 10 MiB
        400, ("XML_LIMIT_EXCEEDED",), location="line ",
    ),
    Case(
        "processing instruction", tampered(attacks.with_processing_instruction),
        400, ("XML_FORBIDDEN_CONSTRUCT",), location="line ",
    ),
    Case("empty body", raw(b""), 400, ("REQUEST_EMPTY",)),
    # --- the envelope
    Case(
        "signed envelope in a wrapper root", tampered(attacks.wrap_signed_envelope_in_wrapper),
        400, ("ENVELOPE_INVALID",), location="/w:Wrapper",
    ),
    Case(
        "unknown document type", edited(set_text(f"{SUBJECT}/{qname('documentType')}", "ECOM_SOMETHING")),
        422, ("DOCUMENT_TYPE_UNKNOWN",), location="/env:Envelope/env:Header/env:Subject/env:documentType", message="ECOM_SOMETHING",
    ),
    Case(
        "function not allowed for the type", edited(set_text(f"{SUBJECT}/{qname('function')}", "26")),
        422, ("FUNCTION_NOT_ALLOWED",), location="/env:Envelope/env:Header/env:Subject/env:function", message="'26'",
    ),
    # --- the signature
    Case("no signature", tampered(attacks.signature_removed), 403, ("SIGNATURE_MISSING",)),
    Case(
        "two signatures", lambda kit: kit.tampered(lambda body: attacks.two_signatures(body, kit.identity(SENDER))),
        403, ("SIGNATURE_MULTIPLE",), location="Signature[2]",
    ),
    Case(
        "body changed after signing", tampered(lambda body: attacks.body_changed_after_signing(body, "customsValueVND")),
        403, ("SIGNATURE_DIGEST_MISMATCH",), location="Reference",
    ),
    Case(
        "Subject/reference changed after signing", tampered(attacks.header_changed_after_signing),
        403, ("SIGNATURE_DIGEST_MISMATCH",), location="Reference",
    ),
    Case(
        "To/identity changed after signing",
        tampered(lambda body: attacks.header_changed_after_signing(body, ("To", "identity"), "OTHERGW")),
        403, ("SIGNATURE_DIGEST_MISMATCH",), location="Reference",
    ),
    Case(
        "signed by a key that is not the certificate's",
        by_hand(lambda kit, root: attacks.signed_with_other_key(root, kit.identity(SENDER), kit.identity(TRADER))),
        403, ("SIGNATURE_INVALID",), location="Signature",
    ),
    Case(
        "no KeyInfo, signed by another party's key",
        lambda kit: signed_by(party(SENDER), sender=TRADER)(kit).transformed(WITHOUT_KEY_INFO),
        403, ("SIGNATURE_INVALID",), location="Signature",
    ),
    Case(
        "no KeyInfo from an unknown party",
        lambda kit: signed_by(party(SENDER), sender=UNKNOWN_PARTY)(kit).transformed(WITHOUT_KEY_INFO),
        403, ("CERTIFICATE_MISSING",), location="Signature",
    ),
    Case(
        "certificate of another registered party", signed_by(party(SENDER), sender=TRADER),
        403, ("CERTIFICATE_NOT_REGISTERED",), location="KeyInfo", message=f"it is registered to party '{SENDER}'",
    ),
    Case("expired certificate", signed_by(lambda kit: kit.rogues.expired), 403, ("CERTIFICATE_EXPIRED",), message="not at"),
    Case(
        "certificate from an unknown CA", signed_by(lambda kit: kit.rogues.foreign),
        403, ("CERTIFICATE_UNTRUSTED",), message="Unknown Test CA",
    ),
    Case(
        "unregistered certificate from an unknown CA", signed_by(lambda kit: kit.rogues.foreign_unregistered),
        403, ("CERTIFICATE_UNTRUSTED", "CERTIFICATE_NOT_REGISTERED"),
    ),
    Case(
        "SHA-1 signature", by_hand(lambda kit, root: attacks.sha1_signature(root, kit.identity(SENDER))),
        403, ("SIGNATURE_ALGORITHM",), location="SignatureMethod", message="rsa-sha1",
    ),
    Case("RSA-1024 key", signed_by(lambda kit: kit.rogues.weak), 403, ("KEY_TOO_WEAK",), message="1024"),
    Case(
        "wrapping: signed copy in ds:Object", tampered(attacks.wrap_signed_copy_in_object),
        403, ("SIGNATURE_PROFILE",), location="Signature",
    ),
    Case(
        "wrapping: signed original inside a forged envelope", tampered(attacks.wrap_signed_envelope_in_forged_envelope),
        403, ("SIGNATURE_MISPLACED",), location="Signature",
    ),
    Case(
        "wrapping: forged payload before the signed one", tampered(attacks.second_unsigned_content),
        403, ("SIGNATURE_DIGEST_MISMATCH",), location="Reference",
    ),
    Case(
        "wrapping: forged Body before the signed one", tampered(lambda body: attacks.second_unsigned_content(body, "body")),
        403, ("SIGNATURE_DIGEST_MISMATCH",), location="Reference",
    ),
    Case(
        "wrapping: reference to the Header by Id",
        by_hand(lambda kit, root: attacks.reference_by_id(root, kit.identity(SENDER))),
        403, ("SIGNATURE_PROFILE",), location="Reference", message="URI",
    ),
    # --- the party and authorisation
    Case(
        "role may not send the type", edited(None, "INSPECTION_RESULT", MARKETPLACE),
        403, ("ROLE_NOT_PERMITTED",), location="/env:Envelope/env:Header/env:Subject/env:documentType", message="INSPECTION_RESULT",
    ),
    Case(
        "suspended party", edited(None, "INSPECTION_RESULT", SUSPENDED),
        403, ("PARTY_SUSPENDED",), message="suspended",
    ),
    Case(
        "unknown party", signed_by(party(SENDER), sender=UNKNOWN_PARTY),
        403, ("PARTY_UNKNOWN",), location="/env:Envelope/env:Header/env:From/env:identity", message=UNKNOWN_PARTY,
    ),
    Case(
        "addressed to another gateway", edited(set_text(f"{qname('Header')}/{qname('To')}/{qname('identity')}", "OTHERGW")),
        422, ("RECIPIENT_UNKNOWN",), location="/env:Envelope/env:Header/env:To/env:identity", message="OTHERGW",
    ),
    # --- the schemas (a schema location is "line N, <path>": the line is checked against the body)
    Case(
        "11-digit HS code", edited(set_text(f"{FIRST_ITEM}/{d('hsCode')}", "39269099123")),
        422, ("PAYLOAD_SCHEMA_INVALID",), message="39269099123", line_has="<hsCode>39269099123</hsCode>",
    ),
    Case(
        "negative customs value", edited(set_text(f"{FIRST_ITEM}/{d('customsValueVND')}", "-1")),
        422, ("PAYLOAD_SCHEMA_INVALID",), message="-1", line_has="<customsValueVND>-1</customsValueVND>",
    ),
    Case(
        "missing required element", edited(remove(f"{DECLARATION}/{d('declarant')}")),
        422, ("PAYLOAD_SCHEMA_INVALID",), message="declarant", line_has="<customsOffice>",
    ),
    Case(
        "wrong root element in Content", edited(order_payload_instead),
        422, ("PAYLOAD_SCHEMA_INVALID",), location="/env:Envelope/env:Body/env:Content/order:Order", message="Declaration",
    ),
    Case(
        "two elements in Content", edited(second_payload),
        422, ("ENVELOPE_SCHEMA_INVALID", "PAYLOAD_SCHEMA_INVALID"), message="Declaration", line_has="<Declaration",
    ),
    Case(
        "sendDate without a time zone", edited(set_text(f"{SUBJECT}/{qname('sendDate')}", "2026-03-11T07:45:30")),
        422, ("ENVELOPE_SCHEMA_INVALID",),
        message="2026-03-11T07:45:30", line_has="<sendDate>2026-03-11T07:45:30</sendDate>",
    ),
]


# --- checking a rejection -------------------------------------------------------------


def gateway_certificate(services: Services) -> bytes:
    return client.certificate_der(services.settings.party_cert(GATEWAY_ID))


def rejection_rows(services: Services, outcome: Outcome) -> list:
    with services.engine.connect() as connection:
        return connection.execute(select(rejections).where(rejections.c.receipt == outcome.receipt)).all()


def check_rejection(
    services: Services, attack: Attack, outcome: Outcome, case: Case, kept: bytes | None = None
) -> client.ReceiptView:
    """Everything a rejection promises; returns the receipt for case-specific checks.

    `kept` is the body already stored under the attack's (sender, messageId), if any: it must be untouched.
    """
    assert (outcome.status, outcome.codes, outcome.accepted) == (case.status, case.codes, False), outcome
    receipt = client.read_receipt(outcome.receipt, services.trust, gateway_certificate(services))
    assert (receipt.status, receipt.function, receipt.signer) == ("REJECTED", "22", GATEWAY_ID)
    assert tuple(dict.fromkeys(receipt.codes)) == case.codes
    assert all(message.strip() for _, message, _ in receipt.errors)
    assert receipt.digest == base64.b64encode(hashlib.sha256(attack.body).digest()).decode()
    _, first_message, first_location = receipt.errors[0]
    if case.location is not None:
        assert first_location is not None and case.location in first_location, receipt.errors
    if case.message is not None:
        assert case.message in first_message, receipt.errors
    if case.line_has is not None:
        located = re.match(r"line (\d+)", first_location or "")
        assert located, receipt.errors
        line = int(located.group(1))
        assert case.line_has in attack.body.decode("utf-8").splitlines()[line - 1]
    if case.header_readable:
        assert outcome.message_id == attack.message_id
        assert receipt.received_message_id == attack.message_id

    if attack.sender and attack.message_id:
        stored = services.store.get(attack.sender, attack.message_id)
        assert (stored.body if stored else None) == kept
    (row,) = rejection_rows(services, outcome)
    assert row.codes == " ".join(sorted(case.codes))
    assert row.door == "http" and row.digest == hashlib.sha256(attack.body).hexdigest()
    assert [error["code"] for error in json.loads(row.errors)] == list(receipt.codes)
    within_limit = len(attack.body) <= services.settings.http.max_body_bytes
    assert row.body == (attack.body if within_limit else None)  # an oversized body is not kept
    if case.header_readable:
        assert (row.sender, row.message_id) == (attack.sender, attack.message_id)
    return receipt


# --- the tests ------------------------------------------------------------------------


@pytest.mark.stores("sqlite", "postgresql")
def test_every_bad_message_gets_a_signed_rejection_and_the_gateway_stays_healthy(
    kit: Kit, pipeline: Pipeline, services: Services
) -> None:
    """The whole catalogue, one case after another on one gateway, then a valid message; every failing case is named."""
    failures = {}
    for case in CASES:
        attack = case.build(kit)
        try:
            check_rejection(services, attack, pipeline.submit(attack.body, HTTP), case)
        except AssertionError as failure:
            failures[case.name] = failure
    assert not failures, "\n".join(f"{name}: {failure}" for name, failure in failures.items())

    good = kit.signed()
    outcome = pipeline.submit(good.body, HTTP)

    assert (outcome.status, outcome.accepted, outcome.codes) == (200, True, ())
    receipt = client.read_receipt(outcome.receipt, services.trust, gateway_certificate(services))
    assert (receipt.status, receipt.function, receipt.received_message_id) == ("ACCEPTED", "99", good.message_id)
    assert services.store.get(SENDER, good.message_id).body == good.body


def test_several_schema_errors_are_all_listed(kit: Kit, pipeline: Pipeline, services: Services) -> None:
    two_errors = both(
        set_text(f"{FIRST_ITEM}/{d('hsCode')}", "39269099123"),
        set_text(f"{FIRST_ITEM}/{d('customsValueVND')}", "-5"),
    )
    case = Case("two payload errors", edited(two_errors), 422, ("PAYLOAD_SCHEMA_INVALID",))
    attack = case.build(kit)

    receipt = check_rejection(services, attack, pipeline.submit(attack.body, HTTP), case)

    messages = " | ".join(message for _, message, _ in receipt.errors)
    assert len(receipt.errors) >= 2
    assert "39269099123" in messages and "-5" in messages
    assert len({location for _, _, location in receipt.errors}) >= 2


def external_subset(body: bytes, uri: str) -> bytes:
    root = etree.fromstring(body)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", doctype=f'<!DOCTYPE Envelope SYSTEM "{uri}">')


def external_parameter_entity(body: bytes, uri: str) -> bytes:
    root = etree.fromstring(body)
    doctype = f'<!DOCTYPE Envelope [<!ENTITY % ext SYSTEM "{uri}"> %ext;]>'
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", doctype=doctype)


@pytest.mark.parametrize(
    "inject",
    [
        lambda body, uri: attacks.xxe(body, target=uri),
        lambda body, uri: attacks.xxe(body, target=uri, field=("Body", "Content", d("Declaration"), d("declarationNumber"))),
        external_subset,
        external_parameter_entity,
    ],
    ids=["entity-in-reference", "entity-in-payload", "external-subset", "external-parameter-entity"],
)
def test_a_rejected_xxe_never_carries_the_file(
    inject: Callable[[bytes, str], bytes], kit: Kit, pipeline: Pipeline, services: Services, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET, encoding="utf-8")
    attack = kit.tampered(lambda body: inject(body, secret.as_uri()))

    outcome = pipeline.submit(attack.body, HTTP)

    assert (outcome.status, outcome.accepted) == (400, False)
    assert SECRET.encode() not in outcome.receipt
    assert SECRET not in " ".join(message for _, message, _ in client.read_receipt(outcome.receipt, services.trust).errors)
    (row,) = rejection_rows(services, outcome)
    assert SECRET not in row.errors
    assert services.store.get(attack.sender, attack.message_id) is None


@pytest.mark.parametrize(
    ("edit", "tag"),
    [
        pytest.param(
            set_text(f"{SUBJECT}/{qname('sendDate')}", "2026-03-11T07:45:30"), qname("sendDate"), id="envelope-error"
        ),
        pytest.param(
            set_text(f"{FIRST_ITEM}/{d('hsCode')}", "39269099123"),
            d("hsCode"),
            id="payload-error",
        ),
    ],
)
def test_a_schema_error_location_is_a_path_in_the_received_envelope(
    edit: Callable[[etree._Element], None], tag: str, kit: Kit, pipeline: Pipeline
) -> None:
    attack = kit.signed(edit=edit)

    outcome = pipeline.submit(attack.body, HTTP)

    assert outcome.status == 422
    location = client.read_receipt(outcome.receipt, None).errors[0][2]
    found = evaluate_location(location, etree.fromstring(attack.body))
    assert [element.tag for element in found] == [tag], location


def test_a_message_without_key_info_is_verified_with_the_registered_certificate(
    kit: Kit, pipeline: Pipeline, services: Services
) -> None:
    attack = kit.signed(sender=TRADER).transformed(attacks.key_info_removed)

    outcome = pipeline.submit(attack.body, HTTP)

    assert (outcome.status, outcome.accepted) == (200, True), outcome.codes
    assert services.store.get(TRADER, attack.message_id).body == attack.body


@pytest.mark.parametrize("kind", ["rsa-1024", "ec-p256"])
def test_every_registered_certificate_is_tried_when_key_info_is_absent(
    kind: str, kit: Kit, pki_dir: Path
) -> None:
    """The verify stage's fallback, called directly with the registry's order made explicit."""
    key = serialization.load_pem_private_key((pki_dir / "ca.key.pem").read_bytes(), password=None)
    ca = CertificateAuthority(key, load_certificates(pki_dir / "ca.pem")[0])  # type: ignore[arg-type]
    older = ca.issue("Sai Gon Express (older certificate)", SENDER, kind).certificate
    signer = kit.identity(SENDER)
    root = xmlsafe.parse(kit.signed().transformed(attacks.key_info_removed).body)

    verified = verify_envelope(root, (older, signer.certificate))

    assert verified.certificate == signer.certificate


def test_a_latin1_declaration_hidden_past_the_head_is_refused(kit: Kit, pipeline: Pipeline, services: Services) -> None:
    case = Case("late Latin-1 declaration", encoded("declared-latin-1-late"), 400, ("XML_ENCODING",), message="ISO-8859-1")
    attack = case.build(kit)

    check_rejection(services, attack, pipeline.submit(attack.body, HTTP), case)


def test_a_replay_with_a_comment_in_the_message_id_is_not_a_new_message(
    kit: Kit, pipeline: Pipeline, services: Services
) -> None:
    original = kit.signed()
    assert pipeline.submit(original.body, HTTP).status == 200
    replay = original.transformed(lambda body: attacks.comment_in_text(body, ("Header", "Reference", "messageId"), 8))

    outcome = pipeline.submit(replay.body, HTTP)

    assert services.store.get(SENDER, original.message_id[:8]) is None
    assert outcome.message_id in (None, original.message_id)
    assert not (outcome.accepted and not outcome.duplicate)


@pytest.mark.stores("sqlite", "postgresql")
def test_an_identical_resend_gets_the_original_receipt(kit: Kit, pipeline: Pipeline, services: Services) -> None:
    good = kit.signed()

    first = pipeline.submit(good.body, HTTP)
    again = pipeline.submit(good.body, HTTP)

    assert (first.status, first.duplicate) == (200, False)
    assert (again.status, again.accepted, again.duplicate, again.codes) == (200, True, True, ())
    assert again.receipt == first.receipt
    assert services.store.count_by("sender", message_id=good.message_id) == [(SENDER, 1)]


@pytest.mark.stores("sqlite", "postgresql")
def test_a_conflicting_resend_is_rejected_and_the_original_kept(kit: Kit, pipeline: Pipeline, services: Services) -> None:
    original = kit.signed()
    accepted = pipeline.submit(original.body, HTTP)
    assert accepted.status == 200

    def same_id_other_content(root: etree._Element) -> None:
        root.find(f"{qname('Header')}/{qname('Reference')}/{qname('messageId')}").text = original.message_id
        root.find(f"{FIRST_ITEM}/{d('quantity')}").text = "7"

    case = Case(
        "conflicting resend", edited(same_id_other_content), 409, ("DUPLICATE_CONFLICT",),
        location="/env:Envelope/env:Header/env:Reference/env:messageId", message=original.message_id,
    )
    conflicting = case.build(kit)
    assert conflicting.message_id == original.message_id and conflicting.body != original.body

    outcome = pipeline.submit(conflicting.body, HTTP)

    check_rejection(services, conflicting, outcome, case, kept=original.body)


@pytest.mark.parametrize(
    ("problem", "status"),
    [
        (too_large(20_000_000, 10 * 1024 * 1024), 413),
        (Problem(ErrorCode.CONTENT_TYPE_UNSUPPORTED, "text/plain is not accepted; send application/xml"), 415),
    ],
    ids=["too-large", "content-type"],
)
def test_a_door_refusal_gets_a_signed_rejection(
    problem: Problem, status: int, pipeline: Pipeline, services: Services
) -> None:
    outcome = pipeline.refuse(HTTP, problem)

    case = Case("door", raw(b""), status, (problem.code.name,), message=problem.message)
    check_rejection(services, Attack(b"", None, None), outcome, case)


# --- a gateway with a small size limit --------------------------------------------------


@pytest.fixture
def small_limit_services(
    tmp_path: Path, pki_dir: Path, namespace: str, db_url: str, parties_file: Path
) -> Iterator[Services]:
    """The module's configuration with http.max_body_bytes = 4096."""
    config = write_config(
        tmp_path / "small-config", pki_dir, namespace, http={"max_body_bytes": 4096}, registry={"parties": str(parties_file)}
    )
    settings = load_settings(config, environ={"GATEWAY_DB_URL": db_url, "GATEWAY_AMQP_URL": AMQP_URL})
    built = assemble(settings, sync_registry=True).services
    yield built
    built.close()


def test_a_body_over_the_size_limit_is_refused_before_parsing(kit: Kit, small_limit_services: Services) -> None:
    pipeline = Pipeline(small_limit_services)
    good = kit.signed()
    assert len(good.body) > 4096

    outcome = pipeline.submit(good.body, HTTP)

    limit = f"{len(good.body)} bytes; the limit is 4096"
    case = Case("over the limit", raw(good.body), 413, ("REQUEST_TOO_LARGE",), message=limit)
    check_rejection(small_limit_services, good, outcome, case)
    assert outcome.message_id is None  # refused before the header was read
