"""The exchange handlers with the repository's partners.toml: documents from the NSW go to the partner of
their destination country; documents from a partner are checked, answered (21/22) and forwarded to the NSW;
answers travel back to the party that sent the document. Real intake, worker, broker, both stores."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree

from gateway.envelope import content_element, qname
from gateway.store.messages import StoredMessage

pytestmark = pytest.mark.stores("sqlite")  # business: SQLite; the PostgreSQL cross-checks are marked (tests/conftest.py)

PARTNER, NSW = "SG-ASW", "VNSW"
HANDLER = "routing.handlers.partners:handler"
RELAY = "routing.handlers.partners:relay"
NS = {
    "fd": "urn:customs.gov.vn:asw:atiga-form-d:1",
    "ac": "urn:customs.gov.vn:asw:acdd:1",
    "cm": "urn:customs.gov.vn:ecom:common:1",
    "cr": "urn:customs.gov.vn:asw:customs-response:1",
}


def setting(values: dict[str, str], reference: str | None = None, pre_reference: str | None = None) -> Callable[[etree._Element], None]:
    """An edit: payload fields by XPath, and the header's reference and preReference."""

    def edit(root: etree._Element) -> None:
        for path, value in values.items():
            for element in content_element(root).xpath(path, namespaces=NS):
                element.text = value
        subject = root.find(f"{qname('Header')}/{qname('Subject')}")
        for local, value in (("reference", reference), ("preReference", pre_reference)):
            if value is not None:
                subject.find(qname(local)).text = value

    return edit


def reasons(sent) -> list[str]:  # type: ignore[no-untyped-def]
    return sent.payload.xpath("cr:reasons/cr:reason/cm:code/text()", namespaces=NS)


def test_a_partners_document_is_accepted_answered_and_forwarded_to_the_nsw(exchange) -> None:  # type: ignore[no-untyped-def]
    stored = exchange.send("ATIGA_FORM_D")  # issued in Singapore, for a Vietnamese consignee

    (answer,) = exchange.sent("CUSTOMS_RESPONSE", PARTNER)
    assert (answer.header.function, answer.header.pre_reference, answer.header.reference) == ("21", stored.message_id, "SG26D0012345")
    assert answer.texts("messageId") == [stored.message_id] and reasons(answer) == []
    (forwarded,) = exchange.sent("ATIGA_FORM_D", NSW)
    assert (forwarded.header.function, forwarded.header.reference) == ("01", "SG26D0012345")
    assert forwarded.texts("referenceNumber") == ["SG26D0012345"]
    assert exchange.outcome(stored, HANDLER).startswith("accepted and forwarded ATIGA_FORM_D SG26D0012345 from SG-ASW to VNSW")


def test_a_document_that_is_not_for_us_or_not_the_partners_is_rejected_with_reasons_and_not_forwarded(exchange) -> None:  # type: ignore[no-untyped-def]
    exchange.send("ACDD", edit=setting({"ac:countryOfExport": "TH", "ac:countryOfDestination": "LA"}))

    (answer,) = exchange.sent("CUSTOMS_RESPONSE", PARTNER)
    assert answer.header.function == "22"
    assert reasons(answer) == ["NOT_FOR_THIS_COUNTRY", "ORIGIN_NOT_PARTNER"]
    assert exchange.sent("ACDD", NSW) == []


def test_a_certificate_of_origin_sent_twice_is_rejected_the_second_time(exchange) -> None:  # type: ignore[no-untyped-def]
    exchange.send("ATIGA_FORM_D")
    exchange.send("ATIGA_FORM_D")  # the same Form D in a new message

    first, second = exchange.sent("CUSTOMS_RESPONSE", PARTNER)
    assert (first.header.function, second.header.function) == ("21", "22")
    assert reasons(second) == ["DUPLICATE_REFERENCE"]
    assert len(exchange.sent("ATIGA_FORM_D", NSW)) == 1


def test_the_nsws_document_goes_to_the_destination_partner_and_the_answer_comes_back_to_the_nsw(exchange) -> None:  # type: ignore[no-untyped-def]
    to_singapore = setting({"ac:countryOfExport": "VN", "ac:countryOfDestination": "SG"}, reference="VN26A0000001")
    original = exchange.send("ACDD", NSW, to_singapore)
    (forwarded,) = exchange.sent("ACDD", PARTNER)
    assert exchange.sent("CUSTOMS_RESPONSE", NSW) == []  # the answer is the partner's to give

    answer = exchange.send(
        "CUSTOMS_RESPONSE", PARTNER,
        setting({"cr:respondsTo/cr:messageId": forwarded.header.message_id, "cr:respondsTo/cr:documentType": "ACDD"},
                reference="VN26A0000001", pre_reference=forwarded.header.message_id),
    )

    (relayed,) = exchange.sent("CUSTOMS_RESPONSE", NSW)
    assert (relayed.header.function, relayed.header.pre_reference) == ("22", original.message_id)
    assert relayed.texts("messageId") == [original.message_id]  # about the NSW's own message
    assert reasons(relayed) == ["ORIGIN_NOT_PARTNER"]  # the partner's reasons, as it gave them
    assert exchange.outcome(answer, HANDLER).startswith(f"relayed CUSTOMS_RESPONSE/22 from {PARTNER} to {NSW}")


def test_a_document_for_a_country_without_partner_is_answered_with_a_rejection(exchange) -> None:  # type: ignore[no-untyped-def]
    exchange.send("ACDD", NSW, setting({"ac:countryOfExport": "VN", "ac:countryOfDestination": "KH"}))

    (answer,) = exchange.sent("CUSTOMS_RESPONSE", NSW)
    assert answer.header.function == "22" and reasons(answer) == ["NO_PARTNER_FOR_DESTINATION"]
    assert exchange.sent("ACDD", PARTNER) == []


def test_replies_to_a_forwarded_document_are_relayed_and_others_kept(exchange) -> None:  # type: ignore[no-untyped-def]
    original = exchange.send("ACDD", NSW, setting({"ac:countryOfExport": "VN", "ac:countryOfDestination": "SG"}))
    (forwarded,) = exchange.sent("ACDD", PARTNER)

    notice = exchange.send("RESULT_NOTICE", PARTNER, setting({}, pre_reference=forwarded.header.message_id))
    stray: StoredMessage = exchange.send("RESULT_NOTICE", PARTNER)  # answers nothing we sent
    receipt = exchange.send("RECEIPT", PARTNER, setting({}, pre_reference=forwarded.header.message_id))

    (relayed,) = exchange.sent("RESULT_NOTICE", NSW)
    assert relayed.header.pre_reference == original.message_id
    assert exchange.outcome(notice, RELAY).startswith(f"relayed RESULT_NOTICE/23 from {PARTNER} to {NSW}")
    assert "is not a document we forwarded" in exchange.outcome(stray, RELAY)
    assert exchange.outcome(receipt, RELAY) == f"kept RECEIPT from {PARTNER}"
    assert exchange.sent("RECEIPT", NSW) == []
