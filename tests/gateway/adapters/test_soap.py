"""The SOAP door: unit tests of `handle_soap` against a stub pipeline, and interop with zeep over real HTTP."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests
import zeep
import zeep.exceptions
from lxml import etree
from support import served

from gateway.adapters.soap import SUBMIT_ACTION, TNS, SoapResponse, handle_soap, outcome_response, wsdl
from gateway.pipeline import Outcome, Transport

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
SOAP11_CT = "text/xml; charset=utf-8"
SOAP12_CT = f'application/soap+xml; charset=utf-8; action="{SUBMIT_ACTION}"'
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# Deliberately awkward bytes: CRLFs, non-ASCII, odd spacing; they must reach the pipeline untouched.
MESSAGE = b'<?xml version="1.0" encoding="UTF-8"?>\r\n<e:Envelope xmlns:e="urn:test">  <e:x>\xc3\xa9\xe1\xba\xa1</e:x>\r\n</e:Envelope>\r\n'
RECEIPT = b'<?xml version="1.0"?>\n<r:Receipt xmlns:r="urn:test:receipt">signed \xe2\x9c\x93</r:Receipt>'
ACCEPTED = Outcome(status=200, receipt=RECEIPT, accepted=True, message_id="m-1")
REJECTED = Outcome(
    status=403, receipt=RECEIPT, accepted=False, message_id="m-1", codes=("SIGNATURE_INVALID", "PAYLOAD_SCHEMA_INVALID")
)
UNAVAILABLE = Outcome(status=503, receipt=RECEIPT, accepted=False, message_id="m-1", codes=("STORE_UNAVAILABLE",))


@dataclass
class StubPipeline:
    """Records what the door submits and answers with a fixed outcome (the pipeline is tested elsewhere)."""

    outcome: Outcome = ACCEPTED
    calls: list[tuple[bytes, Transport]] = field(default_factory=list)

    def submit(self, body: bytes, transport: Transport) -> Outcome:
        self.calls.append((body, transport))
        return self.outcome


def envelope(ns: str, body: str, header: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope xmlns:s="{ns}" xmlns:gw="{TNS}">'
        f"{header}<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def submit_body(message: bytes = MESSAGE) -> str:
    return f"<gw:Submit><gw:message>{base64.b64encode(message).decode()}</gw:message></gw:Submit>"


VERSIONS = {"1.1": (SOAP11_NS, SOAP11_CT), "1.2": (SOAP12_NS, SOAP12_CT)}


def call(
    version: str,
    body: bytes | None = None,
    outcome: Outcome = ACCEPTED,
    soap_action: str | None = f'"{SUBMIT_ACTION}"',
    content_type: str | None = None,
) -> tuple[SoapResponse, StubPipeline]:
    ns, default_type = VERSIONS[version]
    pipeline = StubPipeline(outcome)
    response = handle_soap(
        pipeline,  # type: ignore[arg-type]
        envelope(ns, submit_body()) if body is None else body,
        default_type if content_type is None else content_type,
        soap_action,
        "corr-1",
        "192.0.2.7",
    )
    return response, pipeline


def parse_response(response: SoapResponse, version: str) -> etree._Element:
    assert response.body.startswith(b"<?xml")
    root = etree.fromstring(response.body)
    assert root.tag == f"{{{VERSIONS[version][0]}}}Envelope"
    return root


@dataclass
class Fault:
    code: str  # as written, e.g. "soapenv:Client"
    code_qname: etree.QName
    reason: str
    error_codes: list[str]
    receipt: bytes | None
    root: etree._Element


def read_fault(response: SoapResponse, version: str) -> Fault:
    root = parse_response(response, version)
    ns = VERSIONS[version][0]
    fault = root.find(f"{{{ns}}}Body/{{{ns}}}Fault")
    assert fault is not None, response.body
    if version == "1.1":
        assert response.content_type.startswith("text/xml")
        code_element = fault.find("faultcode")
        reason = fault.findtext("faultstring")
        detail = fault.find("detail")
    else:
        assert response.content_type.startswith("application/soap+xml")
        code_element = fault.find(f"{{{ns}}}Code/{{{ns}}}Value")
        text = fault.find(f"{{{ns}}}Reason/{{{ns}}}Text")
        assert text.get(XML_LANG) == "en"
        reason = text.text
        detail = fault.find(f"{{{ns}}}Detail")
    prefix, _, local = code_element.text.partition(":")
    receipt = detail.findtext(f"{{{TNS}}}receipt")
    return Fault(
        code=code_element.text,
        code_qname=etree.QName(code_element.nsmap[prefix], local),
        reason=reason,
        error_codes=[e.text for e in detail.iterfind(f"{{{TNS}}}errorCode")],
        receipt=base64.b64decode(receipt) if receipt is not None else None,
        root=root,
    )


# --- successful calls ------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_submit_passes_the_exact_bytes_and_answers_with_the_receipt(version: str) -> None:
    response, pipeline = call(version)

    assert response.status == 200
    assert response.content_type == ("text/xml; charset=utf-8" if version == "1.1" else "application/soap+xml; charset=utf-8")
    [(body, transport)] = pipeline.calls
    assert body == MESSAGE
    assert transport == Transport(door="soap", correlation_id="corr-1", peer="192.0.2.7")

    root = parse_response(response, version)
    ns = VERSIONS[version][0]
    answer = root.find(f"{{{ns}}}Body/{{{TNS}}}SubmitResponse")
    assert [etree.QName(child).localname for child in answer] == ["accepted", "receipt"]
    assert answer.findtext(f"{{{TNS}}}accepted") == "true"
    assert base64.b64decode(answer.findtext(f"{{{TNS}}}receipt")) == RECEIPT


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_rejection_is_a_normal_response_with_error_codes(version: str) -> None:
    response, _ = call(version, outcome=REJECTED)

    assert response.status == 200
    answer = parse_response(response, version).find(f".//{{{TNS}}}SubmitResponse")
    assert answer.findtext(f"{{{TNS}}}accepted") == "false"
    assert base64.b64decode(answer.findtext(f"{{{TNS}}}receipt")) == RECEIPT
    assert [e.text for e in answer.iterfind(f"{{{TNS}}}errorCode")] == ["SIGNATURE_INVALID", "PAYLOAD_SCHEMA_INVALID"]


@pytest.mark.parametrize("soap_action", [None, "", '""', SUBMIT_ACTION, f'"{SUBMIT_ACTION}"'])
def test_soap11_action_may_be_quoted_empty_or_absent(soap_action: str | None) -> None:
    response, pipeline = call("1.1", soap_action=soap_action)
    assert response.status == 200
    assert len(pipeline.calls) == 1


@pytest.mark.parametrize("content_type", ["application/soap+xml", "Application/SOAP+XML; charset=UTF-8", SOAP12_CT])
def test_soap12_action_parameter_is_optional(content_type: str) -> None:
    response, _ = call("1.2", content_type=content_type, soap_action=None)
    assert response.status == 200


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_header_blocks_not_for_us_or_optional_are_ignored(version: str) -> None:
    ns = VERSIONS[version][0]
    role = "actor" if version == "1.1" else "role"
    header = (
        f'<s:Header><x:Trace xmlns:x="urn:x">1</x:Trace>'
        f'<x:Optional xmlns:x="urn:x" s:mustUnderstand="0">2</x:Optional>'
        f'<x:Elsewhere xmlns:x="urn:x" s:mustUnderstand="1" s:{role}="urn:some:other:node">3</x:Elsewhere></s:Header>'
    )
    response, pipeline = call(version, envelope(ns, submit_body(), header))
    assert response.status == 200
    assert pipeline.calls[0][0] == MESSAGE


# --- faults -------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "code", "status"), [("1.1", "Server", 503), ("1.2", "Receiver", 503)])
def test_store_unavailable_is_a_receiver_fault_that_carries_the_signed_receipt(version: str, code: str, status: int) -> None:
    response, _ = call(version, outcome=UNAVAILABLE)

    assert response.status == status
    fault = read_fault(response, version)
    assert fault.code_qname == etree.QName(VERSIONS[version][0], code)
    assert fault.error_codes == ["STORE_UNAVAILABLE"]
    assert fault.receipt == RECEIPT


def test_internal_error_outcome_is_a_server_fault_with_status_500() -> None:
    response, _ = call("1.1", outcome=Outcome(status=500, receipt=RECEIPT, accepted=False, codes=("INTERNAL_ERROR",)))
    assert response.status == 500
    fault = read_fault(response, "1.1")
    assert fault.code == "soapenv:Server"
    assert (fault.error_codes, fault.receipt) == (["INTERNAL_ERROR"], RECEIPT)


SENDER = {"1.1": ("soapenv:Client", 500), "1.2": ("env:Sender", 400)}


def assert_sender_fault(version: str, response: SoapResponse, pipeline: StubPipeline, error_code: str) -> Fault:
    code, status = SENDER[version]
    fault = read_fault(response, version)
    assert (response.status, fault.code, fault.error_codes) == (status, code, [error_code])
    assert fault.code_qname.localname in ("Client", "Sender")
    assert fault.receipt is None
    assert fault.reason
    assert pipeline.calls == []
    return fault


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_malformed_xml_is_a_sender_fault(version: str) -> None:
    ns = VERSIONS[version][0]
    response, pipeline = call(version, envelope(ns, submit_body())[:-20])
    assert_sender_fault(version, response, pipeline, "XML_MALFORMED")


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_dtd_in_the_soap_envelope_is_refused_without_resolving_it(version: str) -> None:
    ns = VERSIONS[version][0]
    body = (
        f'<?xml version="1.0"?>\n<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        f'<s:Envelope xmlns:s="{ns}" xmlns:gw="{TNS}"><s:Body><gw:Submit><gw:message>&xxe;</gw:message>'
        f"</gw:Submit></s:Body></s:Envelope>"
    ).encode()
    response, pipeline = call(version, body)
    assert_sender_fault(version, response, pipeline, "XML_DTD_FORBIDDEN")
    assert b"root:" not in response.body


@pytest.mark.parametrize(("version", "other"), [("1.1", SOAP12_NS), ("1.2", SOAP11_NS), ("1.1", "urn:not:soap")])
def test_wrong_envelope_namespace_is_a_version_mismatch(version: str, other: str) -> None:
    response, pipeline = call(version, envelope(other, submit_body()))

    assert response.status == 500
    fault = read_fault(response, version)
    assert fault.code_qname == etree.QName(VERSIONS[version][0], "VersionMismatch")
    assert fault.error_codes == ["SOAP_VERSION_MISMATCH"]
    assert pipeline.calls == []


@pytest.mark.parametrize("version", ["1.1", "1.2"])
def test_a_document_that_is_not_an_envelope_is_a_sender_fault(version: str) -> None:
    response, pipeline = call(version, b'<e:Declaration xmlns:e="urn:test"/>')
    assert_sender_fault(version, response, pipeline, "SOAP_INVALID")


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize(
    "inside",
    [
        "",  # no Body at all
        "<s:Body/><s:Body/>",
        "<s:Body/><s:Header/>",
    ],
)
def test_envelope_without_exactly_one_body_is_a_sender_fault(version: str, inside: str) -> None:
    ns = VERSIONS[version][0]
    body = f'<s:Envelope xmlns:s="{ns}">{inside}</s:Envelope>'.encode()
    response, pipeline = call(version, body)
    assert_sender_fault(version, response, pipeline, "SOAP_INVALID")


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize(
    "body",
    [
        f'<gw:Query><gw:message>{base64.b64encode(MESSAGE).decode()}</gw:message></gw:Query>',
        f'<x:Submit xmlns:x="urn:other"><x:message>{base64.b64encode(MESSAGE).decode()}</x:message></x:Submit>',
    ],
)
def test_unknown_body_element_is_an_unknown_operation(version: str, body: str) -> None:
    response, pipeline = call(version, envelope(VERSIONS[version][0], body))
    assert_sender_fault(version, response, pipeline, "SOAP_OPERATION_UNKNOWN")


def test_soap11_action_for_another_operation_is_refused() -> None:
    response, pipeline = call("1.1", soap_action=f'"{TNS}#Query"')
    assert_sender_fault("1.1", response, pipeline, "SOAP_OPERATION_UNKNOWN")


def test_soap12_action_for_another_operation_is_refused() -> None:
    response, pipeline = call("1.2", content_type=f'application/soap+xml; action="{TNS}#Query"')
    assert_sender_fault("1.2", response, pipeline, "SOAP_OPERATION_UNKNOWN")


@pytest.mark.parametrize("version", ["1.1", "1.2"])
@pytest.mark.parametrize(
    "body",
    [
        "<gw:Submit><gw:message>not base64!</gw:message></gw:Submit>",
        "<gw:Submit><gw:message>QUJ</gw:message></gw:Submit>",  # truncated
        "<gw:Submit><gw:message>\u00e9\u00e9\u00e9\u00e9</gw:message></gw:Submit>",  # non-ASCII
        "<gw:Submit/>",
        "<gw:Submit><message>QUJD</message></gw:Submit>",  # unqualified
        "<gw:Submit><gw:message>QUJD</gw:message><gw:message>QUJD</gw:message></gw:Submit>",
        "<gw:Submit><gw:message><gw:x/></gw:message></gw:Submit>",
    ],
)
def test_missing_or_bad_message_is_a_sender_fault(version: str, body: str) -> None:
    response, pipeline = call(version, envelope(VERSIONS[version][0], body))
    assert_sender_fault(version, response, pipeline, "SOAP_MESSAGE_INVALID")


def test_base64_may_be_wrapped_over_lines() -> None:
    encoded = base64.encodebytes(MESSAGE * 20).decode()  # 76-character lines
    response, pipeline = call("1.1", envelope(SOAP11_NS, f"<gw:Submit><gw:message>\n{encoded}</gw:message></gw:Submit>"))
    assert response.status == 200
    assert pipeline.calls[0][0] == MESSAGE * 20


@pytest.mark.parametrize(("version", "flag"), [("1.1", "1"), ("1.2", "true"), ("1.2", "1")])
def test_mandatory_header_we_do_not_understand_is_a_must_understand_fault(version: str, flag: str) -> None:
    ns = VERSIONS[version][0]
    header = f'<s:Header><wsse:Security xmlns:wsse="urn:example:wsse" s:mustUnderstand="{flag}"/></s:Header>'
    response, pipeline = call(version, envelope(ns, submit_body(), header))

    assert response.status == 500
    fault = read_fault(response, version)
    assert fault.code_qname == etree.QName(ns, "MustUnderstand")
    assert fault.error_codes == ["SOAP_MUST_UNDERSTAND"]
    assert "Security" in fault.reason
    assert pipeline.calls == []
    if version == "1.2":  # SOAP 1.2 names the blocks in env:NotUnderstood header blocks
        [notice] = fault.root.iterfind(f"{{{ns}}}Header/{{{ns}}}NotUnderstood")
        prefix, _, local = notice.get("qname").partition(":")
        assert etree.QName(notice.nsmap[prefix], local) == etree.QName("urn:example:wsse", "Security")


@pytest.mark.parametrize("content_type", [None, "", "application/xml", "text/plain; charset=utf-8"])
def test_non_soap_content_type_is_refused(content_type: str | None) -> None:
    pipeline = StubPipeline()
    response = handle_soap(pipeline, envelope(SOAP11_NS, submit_body()), content_type, None, None, None)  # type: ignore[arg-type]
    assert response.status == 415
    fault = read_fault(response, "1.1")
    assert (fault.code, fault.error_codes) == ("soapenv:Client", ["CONTENT_TYPE_UNSUPPORTED"])
    assert pipeline.calls == []


def test_fault_reason_survives_characters_xml_cannot_carry() -> None:
    response = handle_soap(StubPipeline(), b"<x/>", "text/xml\x01", None, None, None)  # type: ignore[arg-type]
    assert read_fault(response, "1.1").error_codes == ["CONTENT_TYPE_UNSUPPORTED"]


@pytest.mark.parametrize(("content_type", "version"), [(SOAP11_CT, "1.1"), (SOAP12_CT, "1.2"), (None, "1.1")])
def test_outcome_response_wraps_a_refusal_made_at_the_door(content_type: str | None, version: str) -> None:
    refused = Outcome(status=413, receipt=RECEIPT, accepted=False, codes=("REQUEST_TOO_LARGE",))
    response = outcome_response(refused, content_type)

    assert response.status == 200
    answer = parse_response(response, version).find(f".//{{{TNS}}}SubmitResponse")
    assert answer.findtext(f"{{{TNS}}}accepted") == "false"
    assert answer.findtext(f"{{{TNS}}}errorCode") == "REQUEST_TOO_LARGE"
    assert base64.b64decode(answer.findtext(f"{{{TNS}}}receipt")) == RECEIPT


# --- the WSDL ---------------------------------------------------------------------------------


def test_wsdl_points_both_ports_at_the_service_url() -> None:
    url = "https://gateway.example.vn/soap"
    root = etree.fromstring(wsdl(url))
    locations = [a.get("location") for a in root.iter("{*}address")]
    assert locations == [url, url]
    assert root.get("targetNamespace") == TNS
    assert wsdl("http://other/soap") != wsdl(url)  # the cached template is not modified


# --- interop with zeep over real HTTP ----------------------------------------------------------


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class LiveGateway:
    url: str
    pipeline: StubPipeline
    content_types: list[str]


@pytest.fixture(scope="module")
def live_gateway() -> Iterator[LiveGateway]:
    pipeline = StubPipeline()
    content_types: list[str] = []
    holder: dict[str, str] = {}

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        if environ["REQUEST_METHOD"] == "GET":
            response = SoapResponse(200, "text/xml; charset=utf-8", wsdl(holder["url"]))
        else:
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            content_types.append(environ.get("CONTENT_TYPE", ""))
            response = handle_soap(
                pipeline,  # type: ignore[arg-type]
                body,
                environ.get("CONTENT_TYPE"),
                environ.get("HTTP_SOAPACTION"),
                None,
                environ.get("REMOTE_ADDR"),
            )
        start_response(
            f"{response.status} {HTTPStatus(response.status).phrase}",
            [("Content-Type", response.content_type), ("Content-Length", str(len(response.body)))],
        )
        return [response.body]

    with served(make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)) as base:
        holder["url"] = f"{base}/soap"
        yield LiveGateway(holder["url"], pipeline, content_types)


@pytest.fixture
def client(live_gateway: LiveGateway) -> zeep.Client:
    live_gateway.pipeline.outcome = ACCEPTED
    live_gateway.pipeline.calls.clear()
    live_gateway.content_types.clear()
    session = requests.Session()
    session.trust_env = False  # never route 127.0.0.1 through a proxy from the environment
    return zeep.Client(live_gateway.url + "?wsdl", transport=zeep.Transport(session=session))


def test_zeep_submits_over_soap11(client: zeep.Client, live_gateway: LiveGateway) -> None:
    result = client.service.Submit(message=MESSAGE)

    assert result.accepted is True
    assert result.receipt == RECEIPT
    assert not result.errorCode
    assert live_gateway.pipeline.calls[0][0] == MESSAGE
    assert live_gateway.content_types[0].startswith("text/xml")


def test_zeep_submits_over_soap12(client: zeep.Client, live_gateway: LiveGateway) -> None:
    live_gateway.pipeline.outcome = REJECTED
    result = client.bind("GatewayService", "GatewaySoap12").Submit(message=MESSAGE)

    assert result.accepted is False
    assert result.receipt == RECEIPT
    assert result.errorCode == ["SIGNATURE_INVALID", "PAYLOAD_SCHEMA_INVALID"]
    assert live_gateway.pipeline.calls[0][0] == MESSAGE
    assert live_gateway.content_types[0].startswith("application/soap+xml")


@pytest.mark.parametrize("port", ["GatewaySoap11", "GatewaySoap12"])
def test_zeep_sees_an_unavailable_store_as_a_fault_with_the_receipt(
    client: zeep.Client, live_gateway: LiveGateway, port: str
) -> None:
    live_gateway.pipeline.outcome = UNAVAILABLE
    with pytest.raises(zeep.exceptions.Fault) as caught:
        client.bind("GatewayService", port).Submit(message=MESSAGE)

    detail = caught.value.detail
    assert detail.findtext(f"{{{TNS}}}errorCode") == "STORE_UNAVAILABLE"
    assert base64.b64decode(detail.findtext(f"{{{TNS}}}receipt")) == RECEIPT
