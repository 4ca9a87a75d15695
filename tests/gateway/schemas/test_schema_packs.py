"""Schema packs: a document type added by configuration alone, end to end, and the packs the registry refuses.

The pack under test is packs/wco_declaration, a type folder like the built-in ones: a WCO
Data Model style goods declaration (WCO_GOODS_DECLARATION) whose main XSD imports a
code-list XSD, with its sample. For the pipeline tests it is copied into the test's
configuration directory and named by a path relative to gateway.toml, the way an operator
drops one in; nothing else changes (config/routes.toml sends it to the "*" route, `default`).
The forms a pack may take, and the definitions refused without compiling, are in
test_catalogue.py.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from lxml import etree
from support import AMQP_URL, REPO, MessageFactory, wait_until, write_config

from app.wiring import assemble
from conformance import SAMPLES_DIR
from gateway import client, xmlsafe
from gateway.broker.connection import connect
from gateway.config import load_settings
from gateway.envelope import content_element, qname
from gateway.exceptions import ConfigurationError
from gateway.pipeline import Pipeline, Transport
from gateway.schemas.catalogue import DEFINITION_FILE
from gateway.schemas.registry import SchemaRegistry
from gateway.services import Services

PACK = Path(__file__).parent / "packs" / "wco_declaration"
SAMPLE = PACK / "sample.xml"
DOCUMENT_TYPE = "WCO_GOODS_DECLARATION"
WCO_NS = "urn:wco:datamodel:WCO:DEC-DMS:2"
ROOT = f"{{{WCO_NS}}}Declaration"
TRADER = "0312345678"
HTTP = Transport("http")
CONTENT = f"{qname('Body')}/{qname('Content')}"
SUBJECT = f"{qname('Header')}/{qname('Subject')}"


def w(path: str) -> str:
    """A path of WCO elements below the payload root, in Clark notation."""
    return "/".join(f"{{{WCO_NS}}}{step}" for step in path.split("/"))


# --- the pack on its own -------------------------------------------------------------------


def test_pack_sample_is_valid_against_the_pack() -> None:
    registry = SchemaRegistry.load([PACK])
    document = registry.get(DOCUMENT_TYPE)
    root = xmlsafe.parse(SAMPLE.read_bytes())

    assert document is not None and document.root == ROOT and document.definition.source == PACK / DEFINITION_FILE
    assert document.senders == {"trader", "logistics"} and document.functions == {"01", "02", "03"}
    assert root.findtext(f"{SUBJECT}/{qname('documentType')}") == DOCUMENT_TYPE
    assert root.findtext(f"{qname('Header')}/{qname('From')}/{qname('identity')}") == TRADER
    assert registry.validate_envelope(root) == []
    assert registry.validate_payload(document, content_element(root)) == []


def test_builtin_registry_does_not_know_the_pack_type() -> None:
    assert SchemaRegistry.load().get(DOCUMENT_TYPE) is None


def test_pack_may_be_named_by_its_definition_file() -> None:
    registry = SchemaRegistry.load([PACK / DEFINITION_FILE])
    assert registry.get(DOCUMENT_TYPE).root == ROOT
    assert set(registry.documents) == set(SchemaRegistry.load().documents) | {DOCUMENT_TYPE}


def test_imported_code_list_is_enforced() -> None:
    """The main XSD only imports the code lists: a value outside one must still be refused."""
    registry = SchemaRegistry.load([PACK])
    text = SAMPLE.read_text(encoding="utf-8").replace("<ModeCode>4</ModeCode>", "<ModeCode>8</ModeCode>")

    problems = registry.validate_payload(registry.get(DOCUMENT_TYPE), content_element(xmlsafe.parse(text.encode())))

    assert len(problems) == 1 and "ModeCode" in problems[0].message and "'8'" in problems[0].message


def test_functions_default_to_declare_amend_cancel(tmp_path: Path) -> None:
    pack = copy_pack(tmp_path, lambda text: re.sub(r"(?m)^functions = .*$", "", text))
    assert SchemaRegistry.load([pack]).get(DOCUMENT_TYPE).functions == {"01", "02", "03"}


# --- packs the registry refuses --------------------------------------------------------------


def copy_pack(tmp_path: Path, edit_toml: Callable[[str], str] = lambda text: text, name: str = "pack") -> Path:
    directory = shutil.copytree(PACK, tmp_path / name)
    pack_file = directory / DEFINITION_FILE
    pack_file.write_text(edit_toml(pack_file.read_text(encoding="utf-8")), encoding="utf-8")
    return directory


def refusal(packs: list[Path]) -> str:
    with pytest.raises(ConfigurationError) as caught:
        SchemaRegistry.load(packs)
    return str(caught.value)


def _truncate(xsd: Path) -> None:
    xsd.write_text(xsd.read_text(encoding="utf-8")[:-40], encoding="utf-8")


def _undefined_type(xsd: Path) -> None:
    xsd.write_text(xsd.read_text(encoding="utf-8").replace('type="ds:ID35"', 'type="ds:NoSuchType"', 1), encoding="utf-8")


def _lose_imported_file(xsd: Path) -> None:
    (xsd.parent / "WCO_DS_codelists.xsd").unlink()


def _lose_main_file(xsd: Path) -> None:
    xsd.unlink()


@pytest.mark.parametrize(
    "break_xsd", [_truncate, _undefined_type, _lose_imported_file, _lose_main_file],
    ids=["not-well-formed", "undefined-type", "imported-file-missing", "xsd-file-missing"],
)
def test_pack_whose_xsd_does_not_compile_is_refused(tmp_path: Path, break_xsd: Callable[[Path], None]) -> None:
    pack = copy_pack(tmp_path)
    main_xsd = (pack / "WCO_DEC_DMS_2.xsd").resolve()
    break_xsd(main_xsd)

    message = refusal([pack])

    assert str(main_xsd) in message and "cannot be compiled" in message


@pytest.mark.parametrize("key", ["type", "version", "xsd", "root", "senders"])
def test_pack_entry_missing_a_required_key_is_refused(tmp_path: Path, key: str) -> None:
    pack = copy_pack(tmp_path, lambda text: re.sub(rf"(?m)^{key} = .*$", "", text))

    message = refusal([pack])

    assert str(pack / DEFINITION_FILE) in message and repr(key) in message


@pytest.mark.parametrize(
    "make", [lambda d: d / "nowhere", lambda d: d / "broken.toml"], ids=["no-pack-file", "malformed-toml"]
)
def test_unreadable_pack_is_refused(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    (tmp_path / "broken.toml").write_text("[[document]\ntype = 1\n", encoding="utf-8")
    target = make(tmp_path)

    message = refusal([target])

    assert str(target) in message and "cannot be read" in message


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(
            lambda text: text.replace('senders = ["trader", "logistics"]', 'senders = ["traders"]'),
            id="unknown-sender-role",
        ),
        pytest.param(
            lambda text: text.replace(ROOT, f"{{{WCO_NS}}}GoodsDeclaration"),
            id="root-not-declared-by-its-schema",
        ),
    ],
)
def test_pack_that_makes_its_type_unusable_is_refused_at_load(tmp_path: Path, edit: Callable[[str], str]) -> None:
    pack = copy_pack(tmp_path, edit)

    message = refusal([pack])

    assert str(pack / DEFINITION_FILE) in message


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [("<ModeCode>4</ModeCode>", "<ModeCode>8</ModeCode>", "ModeCode"), ("<version>1.0</version>", "<version>one</version>", "version")],
    ids=["payload", "envelope"],
)
def test_pack_whose_sample_is_invalid_is_refused_at_load(tmp_path: Path, old: str, new: str, named: str) -> None:
    """Its sample is what the demo and the conformance suite send: a broken one would only mislead."""
    pack = copy_pack(tmp_path)
    sample = pack / "sample.xml"
    sample.write_text(sample.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")

    message = refusal([pack])

    assert str(pack / DEFINITION_FILE) in message and "sample" in message and named in message


def test_pack_type_without_a_route_is_refused_at_start_up(tmp_path: Path, pki_dir: Path) -> None:
    routes = (REPO / "config" / "routes.toml").read_text(encoding="utf-8")
    routes = routes[: routes.index("# Document types added by schema packs")]  # drop the "*" route
    (tmp_path / "routes.toml").write_text(routes, encoding="utf-8")
    config = write_config(
        tmp_path / "config", pki_dir, "unused",
        schemas={"packs": [str(PACK)]}, registry={"routes": str(tmp_path / "routes.toml")},
    )
    settings = load_settings(config, environ={"GATEWAY_DB_URL": f"sqlite:///{tmp_path / 'gateway.db'}"})

    with pytest.raises(ConfigurationError, match=r"no route for WCO_GOODS_DECLARATION/01, WCO_GOODS_DECLARATION/02"):
        assemble(settings)


# --- the pack in a running pipeline, by configuration alone --------------------------------------


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    """Overrides conftest's: the test configuration plus the pack, dropped into the config directory."""
    shutil.copytree(PACK, tmp_path / "config" / "packs" / "wco_declaration")
    return write_config(tmp_path / "config", pki_dir, namespace, schemas={"packs": ["packs/wco_declaration"]})


def wco_message(
    messages: MessageFactory, sender: str = TRADER, edit: Callable[[etree._Element], object] | None = None
) -> bytes:
    root = client.refresh(client.load_envelope(SAMPLE))
    root.find(f"{qname('Header')}/{qname('From')}/{qname('identity')}").text = sender
    if edit is not None:
        edit(root)
    return messages.sign(root, sender)


@pytest.fixture
def route_queue(services: Services) -> Iterator[Callable[[str], list[bytes]]]:
    connection = connect(AMQP_URL)
    channel = connection.channel()

    def drain(route: str) -> list[bytes]:
        bodies = []
        while (got := channel.basic_get(services.topology.route_queue(route), auto_ack=True))[0] is not None:
            bodies.append(got[2])
        return bodies

    yield drain
    connection.close()


def test_pack_configured_by_path_relative_to_the_config(services: Services, config_path: Path) -> None:
    assert services.settings.schema_packs == ((config_path.parent / "packs" / "wco_declaration").resolve(),)
    assert services.schemas.get(DOCUMENT_TYPE).schema.path.is_relative_to(config_path.parent)


def test_signed_declaration_from_a_trader_is_accepted_and_routed_to_default(
    pipeline: Pipeline, services: Services, messages: MessageFactory, route_queue: Callable[[str], list[bytes]]
) -> None:
    body = wco_message(messages)

    outcome = pipeline.submit(body, HTTP)

    assert (outcome.status, outcome.codes) == (200, ())
    receipt = client.read_receipt(outcome.receipt, services.trust)
    assert receipt.status == "ACCEPTED" and receipt.received_message_id == outcome.message_id
    stored = services.store.get(TRADER, outcome.message_id)
    assert (stored.document_type, stored.route, stored.body) == (DOCUMENT_TYPE, "default", body)
    assert wait_until(lambda: route_queue("default")) == [body]
    assert route_queue("declarations") == []


def _replace(path: str, text: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        root.find(f"{CONTENT}/{ROOT}/{w(path)}").text = text

    return edit


def _remove(path: str) -> Callable[[etree._Element], None]:
    def edit(root: etree._Element) -> None:
        element = root.find(f"{CONTENT}/{ROOT}/{w(path)}")
        element.getparent().remove(element)

    return edit


def _order_payload(root: etree._Element) -> None:
    content = root.find(CONTENT)
    order = etree.parse(str(SAMPLES_DIR / "ECOM_ORDER.xml")).getroot().find(f"{CONTENT}/*")
    content.replace(content[0], order)


@pytest.mark.parametrize(
    ("edit", "mentioned"),
    [
        (_replace("GoodsShipment/Consignment/ArrivalTransportMeans/ModeCode", "9"), "ModeCode"),
        (_replace("GoodsShipment/GovernmentAgencyGoodsItem/Origin/CountryCode", "China"), "CountryCode"),
        (_remove("Declarant"), "Declarant"),
        (_order_payload, ROOT),
    ],
    ids=["code-list-value", "country-code", "missing-declarant", "wrong-root"],
)
def test_declaration_with_invalid_payload_is_rejected(
    pipeline: Pipeline, services: Services, messages: MessageFactory,
    route_queue: Callable[[str], list[bytes]], edit: Callable[[etree._Element], None], mentioned: str,
) -> None:
    body = wco_message(messages, edit=edit)

    outcome = pipeline.submit(body, HTTP)

    assert (outcome.status, outcome.codes) == (422, ("PAYLOAD_SCHEMA_INVALID",))
    receipt = client.read_receipt(outcome.receipt, services.trust)
    assert receipt.status == "REJECTED" and any(mentioned in message for _, message, _ in receipt.errors)
    assert services.store.get(TRADER, outcome.message_id) is None
    assert route_queue("default") == []


@pytest.mark.parametrize("party", ["0101234567", "BYT", "HQHCM"], ids=["marketplace", "ministry", "customs"])
def test_party_without_a_sender_role_is_not_permitted(
    pipeline: Pipeline, services: Services, messages: MessageFactory, party: str
) -> None:
    outcome = pipeline.submit(wco_message(messages, sender=party), HTTP)

    assert (outcome.status, outcome.codes) == (403, ("ROLE_NOT_PERMITTED",))
    (error,) = client.read_receipt(outcome.receipt, services.trust).errors
    assert DOCUMENT_TYPE in error[1] and "'logistics', 'trader'" in error[1]
    assert services.store.get(party, outcome.message_id) is None


def test_function_outside_the_pack_list_is_not_allowed(pipeline: Pipeline, messages: MessageFactory) -> None:
    def query(root: etree._Element) -> None:
        root.find(f"{SUBJECT}/{qname('function')}").text = "11"

    outcome = pipeline.submit(wco_message(messages, edit=query), HTTP)

    assert (outcome.status, outcome.codes) == (422, ("FUNCTION_NOT_ALLOWED",))


WRAPPER_XSD = """<?xml version="1.0" encoding="UTF-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:example:metadata:1"
           xmlns="urn:example:metadata:1" elementFormDefault="qualified" version="1.0">
  {import_}
  <xs:element name="Wrapper">
    <xs:complexType><xs:sequence>
      <xs:element name="sentBy" type="xs:string"/>
      <xs:any namespace="urn:wco:datamodel:WCO:DEC-DMS:2" processContents="strict"/>
    </xs:sequence></xs:complexType>
  </xs:element>
</xs:schema>
"""


@pytest.mark.parametrize("imported", [False, True], ids=["without-the-wrapped-schema", "with-it"])
def test_a_metadata_wrapper_pack_needs_the_schema_of_what_it_wraps(tmp_path: Path, imported: bool) -> None:
    """The wrapper's strict wildcard can only match elements the pack declares: without the wrapped
    namespace's XSD every message would fail, so the pack is refused at start with the fix."""
    directory = copy_pack(
        tmp_path,
        lambda text: text.replace('xsd = "WCO_DEC_DMS_2.xsd"', 'xsd = "wrapper.xsd"')
        .replace('root = "{urn:wco:datamodel:WCO:DEC-DMS:2}Declaration"', 'root = "{urn:example:metadata:1}Wrapper"')
        .replace('sample = "sample.xml"\n', ""),
    )
    import_ = '<xs:import namespace="urn:wco:datamodel:WCO:DEC-DMS:2" schemaLocation="WCO_DEC_DMS_2.xsd"/>'
    (directory / "wrapper.xsd").write_text(WRAPPER_XSD.format(import_=import_ if imported else ""), encoding="utf-8")

    if imported:
        assert SchemaRegistry.load([directory]).get(DOCUMENT_TYPE) is not None
    else:
        message = refusal([directory])
        assert str(directory / DEFINITION_FILE) in message and DOCUMENT_TYPE in message
        assert "strict wildcard" in message and "urn:wco:datamodel:WCO:DEC-DMS:2" in message and "xs:import" in message
