"""The SOAP door's Pull operation: it takes queries only, and zeep calls it from the published WSDL."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

import pytest
import zeep
from lxml import etree

from gateway.adapters.soap import PULL, SUBMIT, TNS, WSDL_PATH, handle_soap
from gateway.pipeline import Outcome, Transport

QUERY = b"<signed-query/>"
ANSWER = b"<signed-receipt-with-batch/>"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"


@dataclass
class StubPipeline:
    calls: list[tuple[bytes, Transport]] = field(default_factory=list)

    def submit(self, body: bytes, transport: Transport) -> Outcome:
        self.calls.append((body, transport))
        return Outcome(200, ANSWER, True, "m-1")


def call(operation: str, part: str, action: str | None) -> tuple[etree._Element, StubPipeline, int]:
    body = (
        f'<s:Envelope xmlns:s="{SOAP11}" xmlns:gw="{TNS}"><s:Body><gw:{operation}>'
        f"<gw:{part}>{base64.b64encode(QUERY).decode()}</gw:{part}></gw:{operation}></s:Body></s:Envelope>"
    ).encode()
    pipeline = StubPipeline()
    response = handle_soap(pipeline, body, "text/xml; charset=utf-8", action, None, None)  # type: ignore[arg-type]
    return etree.fromstring(response.body), pipeline, response.status


def test_pull_hands_the_query_to_the_pipeline_for_queries_only_and_answers_with_a_pull_response() -> None:
    root, pipeline, status = call("Pull", "query", f'"{PULL.action}"')

    ((body, transport),) = pipeline.calls
    assert (status, body, transport.door, transport.only) == (200, QUERY, "soap", frozenset({"MESSAGE_QUERY"}))
    response = root.find(f"{{{SOAP11}}}Body/{{{TNS}}}PullResponse")
    assert response.findtext(f"{{{TNS}}}accepted") == "true"
    assert base64.b64decode(response.findtext(f"{{{TNS}}}receipt")) == ANSWER


def test_submit_still_takes_any_document() -> None:
    _, pipeline, _ = call("Submit", "message", f'"{SUBMIT.action}"')

    assert pipeline.calls[0][1].only is None


@pytest.mark.parametrize(("operation", "part", "action"), [
    ("Pull", "query", f'"{SUBMIT.action}"'),  # the action names another operation
    ("Submit", "message", f'"{PULL.action}"'),
])
def test_an_action_that_names_another_operation_is_refused(operation: str, part: str, action: str) -> None:
    root, pipeline, status = call(operation, part, action)

    assert status == 500 and not pipeline.calls
    assert root.findtext(f".//{{{TNS}}}errorCode") == "SOAP_OPERATION_UNKNOWN"


def test_pull_with_a_message_part_is_a_bad_message() -> None:
    root, pipeline, _ = call("Pull", "message", None)

    assert not pipeline.calls and root.findtext(f".//{{{TNS}}}errorCode") == "SOAP_MESSAGE_INVALID"


def test_zeep_sees_pull_in_both_bindings() -> None:
    client = zeep.Client(str(WSDL_PATH))
    for binding in ("GatewaySoap11Binding", "GatewaySoap12Binding"):
        operations = client.wsdl.bindings[f"{{{TNS}}}{binding}"]._operations
        assert {"Submit", "Pull"} <= set(operations)
        assert operations["Pull"].soapaction == PULL.action
