"""Reading the envelope header, and who a broken header claims to be from."""

from __future__ import annotations

import pytest
from lxml import etree

from gateway.envelope import PartyRef, claimed_sender, read_header
from gateway.exceptions import Rejected
from gateway.namespaces import ENVELOPE_NS
from tests.support import evaluate_location


def envelope(header_children: str) -> etree._Element:
    return etree.fromstring(
        f'<Envelope xmlns="{ENVELOPE_NS}"><Header>{header_children}</Header><Body/></Envelope>'.encode()
    )


FROM = "<From><identity>0101234567</identity><name>Shop</name><countryCode>VN</countryCode></From>"


def test_a_header_without_subject_is_refused_with_an_evaluable_location() -> None:
    root = envelope(f"<Reference><version>1.0</version><messageId>m-1</messageId></Reference>{FROM}")

    with pytest.raises(Rejected) as refused:
        read_header(root)

    problem = refused.value.problems[0]
    assert problem.code.name == "ENVELOPE_INVALID"
    assert problem.location is not None
    subject = etree.SubElement(root.find(f"{{{ENVELOPE_NS}}}Header"), f"{{{ENVELOPE_NS}}}Subject")
    assert evaluate_location(problem.location, root) == [subject]  # where the missing element belongs


def test_the_claimed_sender_of_a_broken_header_is_read_from_its_from() -> None:
    root = envelope(f"<Reference><version>1.0</version></Reference>{FROM}")

    assert claimed_sender(root) == PartyRef(identity="0101234567", name="Shop", country_code="VN")


def test_no_sender_is_claimed_without_a_from_identity() -> None:
    assert claimed_sender(envelope("<From><name>Shop</name></From>")) is None
    assert claimed_sender(envelope("")) is None
    assert claimed_sender(etree.fromstring(b"<Other/>")) is None
