"""Two gateways on one machine, Vietnam's and a partner country's, exchanging e-Form D and ACDD.

`scripts/two-gateways` runs this module. Under var/two-gateways/ (or --dir) it
prepares two complete gateways that share nothing but the RabbitMQ server:
- each has its own development PKI with its own CA, its own store, broker
  namespace and port, and its National Single Window as a local party
  (VNSW in Vietnam, SG-NSW in Singapore);
- each registers the other as an ASEAN partner (role asw_partner): the other
  gateway's certificate registered to its party id, the other's CA trusted for
  that party id only, and an endpoint to push to (Vietnam pushes to Singapore
  over SOAP, Singapore to Vietnam over plain HTTP);
- the partner rules: a document from the local NSW goes to the partner of its
  destination country; a document from the partner is checked, answered with a
  signed CUSTOMS_RESPONSE (21 accepted, 22 rejected), and forwarded to the NSW.

It starts both, runs the exchanges in both directions and shows each step: the
NSW's receipt, the document pulled by the other NSW, the business answer pulled
back; then each gateway's outbox with the partners' signed receipts. --keep
leaves both running afterwards (Ctrl-C stops them).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from rich.table import Table

from app.cli.output import console
from app.cli.pull import Puller
from app.process import GatewayProcess
from conformance import sample
from gateway import client, xmlsafe
from gateway.config import DEFAULT_AMQP_URL, Settings, load_settings, write_config, write_table_array
from gateway.envelope import Header, PartyRef, qname, read_header
from gateway.outbound.outbox import Outbox
from gateway.schemas.catalogue import builtin, common_namespace
from gateway.signing.keys import SigningIdentity
from gateway.signing.pki import PartyKeySpec, init_pki
from gateway.signing.trust import TrustStore

EXCHANGED = ["ATIGA_FORM_D", "ACDD"]


@dataclass(frozen=True)
class Side:
    """One of the two gateways and its country's single window."""

    key: str  # "vn" or "sg": its directory and broker namespace suffix
    gateway: PartyRef
    nsw: PartyRef
    inbound_transport: str  # how the other gateway pushes to this one
    directory: Path
    port: int
    db_url: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config(self) -> Path:
        return self.directory / "gateway.toml"

    @property
    def pki(self) -> Path:
        return self.directory / "pki"

    @property
    def environment(self) -> dict[str, str]:
        """What makes this gateway itself whatever the caller's environment says."""
        var = self.directory / "var"
        return {"GATEWAY_DB_URL": self.db_url, "GATEWAY_PKI_DIR": str(self.pki), "GATEWAY_VAR_DIR": str(var)}

    def settings(self, amqp_url: str) -> Settings:
        return load_settings(self.config, environ={**self.environment, "GATEWAY_AMQP_URL": amqp_url})

    def endpoint(self) -> dict[str, str]:
        path = "/soap" if self.inbound_transport.startswith("soap") else "/v1/messages"
        return {"transport": self.inbound_transport, "url": self.url + path}


def sides(root: Path, vn_port: int, sg_port: int, db_urls: dict[str, str] | None = None) -> tuple[Side, Side]:
    def db(key: str) -> str:
        return (db_urls or {}).get(key) or f"sqlite:///{root / key / 'var' / 'gateway.db'}"

    vn = Side(
        "vn",
        PartyRef("VNECOMGW", "Hệ thống TMĐT Hải quan Việt Nam", "VN"),
        PartyRef("VNSW", "Cổng thông tin một cửa quốc gia", "VN"),
        "http", root / "vn", vn_port, db("vn"),
    )
    sg = Side(
        "sg",
        PartyRef("SG-ASW", "Singapore National Single Window (TradeNet)", "SG"),
        PartyRef("SG-NSW", "Singapore Customs TradeNet desk", "SG"),
        "soap", root / "sg", sg_port, db("sg"),
    )
    return vn, sg


def prepare(pair: tuple[Side, Side], base: Settings, namespace: str) -> None:
    """Write both gateways' PKIs and configurations (each knows the other only as a partner), and for each
    NSW an unsigned e-Form D and ACDD for the other country."""
    for side in pair:
        init_pki(side.pki, [_key_spec(side.gateway, "ec-p256"), _key_spec(side.nsw, "rsa-2048")])
    for side, other in (pair, pair[::-1]):
        partner = {
            "id": other.gateway.identity, "name": other.gateway.name, "country": other.gateway.country_code,
            "roles": ["asw_partner"],
            "certificates": [str(other.pki / f"{other.gateway.identity}.cert.pem")],
            "ca": str(other.pki / "ca.pem"),  # trusted for this party id, and no other
            "endpoint": other.endpoint(),
        }
        parties = write_table_array(side.directory / "parties.toml", "party", [
            {**_entry(side.gateway), "roles": ["customs"], "key": "ec-p256"},
            {**_entry(side.nsw), "roles": ["nsw"]},
            partner,
        ])
        exchange = write_table_array(side.directory / "partners.toml", "rule", [
            {"name": "to-asean-partner", "document_types": EXCHANGED, "from": "nsw", "to": "destination"},
            {"name": "from-asean-partner", "document_types": EXCHANGED, "from": "asw_partner", "to": side.nsw.identity,
             "acknowledge": True},
        ])
        write_config(side.config, {
            "gateway": {"identity": side.gateway.identity, "name": side.gateway.name,
                        "country": side.gateway.country_code, "key_kind": "ec-p256"},
            "paths": {"var": str(side.directory / "var"), "pki": str(side.pki)},
            "http": {"bind": f"127.0.0.1:{side.port}", "processes": 1, "threads": 4},
            "broker": {"namespace": f"{namespace}-{side.key}", "relay_interval_s": 0.5, "relay_grace_s": 2.0},
            "delivery": {"first_retry_s": 1.0, "max_retry_s": 30.0},
            "registry": {"parties": str(parties), "routes": str(base.routes_file), "partners": str(exchange),
                         "business": str(base.business_file), "risk": str(base.risk_file)},
            "logging": {"format": "json", "level": "info"},
        })
        for kind in EXCHANGED:  # ready for `gateway submit ... --party <its NSW> --fresh`, by hand
            unsigned = document(kind, side, other, reference(kind, side.gateway.country_code))
            (side.directory / f"{kind}.xml").write_bytes(etree.tostring(unsigned, xml_declaration=True, encoding="UTF-8"))


def _key_spec(party: PartyRef, kind: str) -> PartyKeySpec:
    return PartyKeySpec(party.identity, party.name, party.country_code, kind)


def _entry(party: PartyRef) -> dict[str, object]:
    return {"id": party.identity, "name": party.name, "country": party.country_code}


@contextlib.contextmanager
def running(pair: tuple[Side, Side], amqp_url: str, keep: Callable[[], None] | None = None) -> Iterator[None]:
    """Both gateways up for the block (and, with `keep`, until it returns), then stopped cleanly."""
    processes = [
        GatewayProcess(
            side.config, side.directory / "gateway.log", {**side.environment, "GATEWAY_AMQP_URL": amqp_url}, port=side.port
        )
        for side in pair
    ]
    try:
        for process in processes:
            process.start()
        yield
        if keep is not None:
            keep()
    finally:
        for process in processes:
            process.stop()


class Nsw:
    """A country's National Single Window talking to its own gateway: sends documents, pulls what comes back."""

    def __init__(self, side: Side, amqp_url: str) -> None:
        settings = side.settings(amqp_url)
        self.side = side
        self.signer = SigningIdentity.load(settings.party_key(side.nsw.identity), settings.party_cert(side.nsw.identity))
        self.trust = TrustStore.from_files(settings.trust_anchors, settings.clock_skew)
        self.puller = Puller(settings, side.nsw.identity, side.url)

    def send(self, document: etree._Element) -> client.ReceiptView:
        body = client.sign(document, self.signer)
        return client.read_receipt(client.post_http(self.side.url, body).receipt, self.trust, self.puller.gateway_cert)

    def receive(self, wanted: Callable[[Header], bool], timeout: float = 60.0) -> tuple[Header, bytes]:
        """Pull (and acknowledge) until a message `wanted` arrives."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self.puller.query()
            if answer.batch:
                headers = [(read_header(xmlsafe.parse(body)), body) for body in answer.batch]
                self.puller.acknowledge([header.message_id for header, _ in headers])
                found = next(((h, b) for h, b in headers if wanted(h)), None)
                if found is not None:
                    return found
            time.sleep(0.3)
        raise TimeoutError(f"{self.side.nsw.identity} received nothing of the kind within {timeout}s")


# --- the documents -------------------------------------------------------------------


def document(kind: str, sender: Side, receiver: Side, reference: str, origin: str | None = None) -> etree._Element:
    """A sample e-Form D or ACDD from `sender`'s NSW, issued in `origin` (its country) for `receiver`'s country."""
    root = client.refresh(client.load_envelope(sample(kind).file))
    header = root.find(qname("Header"))
    for element, party in ((header.find(qname("From")), sender.nsw), (header.find(qname("To")), sender.gateway)):
        element.find(qname("name")).text = party.name
        element.find(qname("identity")).text = party.identity
        element.find(qname("countryCode")).text = party.country_code
    header.find(f"{qname('Subject')}/{qname('reference')}").text = reference
    ns = {"fd": builtin().namespace("ATIGA_FORM_D"), "ac": builtin().namespace("ACDD"), "cm": common_namespace()}
    origin = origin or sender.gateway.country_code
    destination = receiver.gateway.country_code
    values = {
        "ATIGA_FORM_D": {
            "//fd:referenceNumber": reference,
            "//fd:issuingAuthority/fd:countryCode": origin,
            "//fd:exporter/cm:countryCode": origin,
            "//fd:exporter/cm:address/cm:countryCode": origin,
            "//fd:consignee/cm:countryCode": destination,
            "//fd:consignee/cm:address/cm:countryCode": destination,
        },
        "ACDD": {
            "//ac:documentNumber": reference,
            "//ac:countryOfExport": origin,
            "//ac:countryOfDestination": destination,
            "//ac:consignee/ac:address/cm:countryCode": destination,
        },
    }[kind]
    for path, value in values.items():
        for element in root.xpath(path, namespaces=ns):
            element.text = value
    return root


def reference(kind: str, country: str) -> str:
    return f"{country}{'26D' if kind == 'ATIGA_FORM_D' else '26A'}{random.randrange(10**7):07d}"


# --- the demo --------------------------------------------------------------------------


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/two-gateways", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path("var/two-gateways"), help="where both gateways live")
    parser.add_argument("--vn-port", type=int, default=8081)
    parser.add_argument("--sg-port", type=int, default=8082)
    parser.add_argument("--config", help="the configuration whose routes, business and risk rules both use")
    parser.add_argument("--keep", action="store_true", help="leave both gateways running after the exchange")
    args = parser.parse_args(argv)
    amqp_url = os.environ.get("GATEWAY_AMQP_URL", DEFAULT_AMQP_URL)
    pair = sides(args.dir.resolve(), args.vn_port, args.sg_port)
    prepare(pair, load_settings(args.config), "two")
    vn, sg = pair
    console.print(f"Vietnam:   {vn.gateway.identity} at {vn.url} (config {vn.config})")
    console.print(f"Singapore: {sg.gateway.identity} at {sg.url} (config {sg.config})")
    console.print("Each has its own CA; each trusts the other's CA for the other's party id only.\n")
    with running(pair, amqp_url, _wait_for_interrupt if args.keep else None):
        nsws = {side.key: Nsw(side, amqp_url) for side in pair}
        table = Table("document", "from", "to", "sent (receipt)", "arrived at", "answer", "reason")
        for kind, sender, receiver, origin in (
            ("ATIGA_FORM_D", sg, vn, None),
            ("ATIGA_FORM_D", vn, sg, None),
            ("ACDD", sg, vn, None),
            ("ACDD", vn, sg, None),
            ("ACDD", sg, vn, "TH"),  # exported from Thailand, says the document: Vietnam refuses it
        ):
            table.add_row(*exchange(nsws[sender.key], nsws[receiver.key], kind, origin))
        console.print(table)
        for side in pair:
            _show_outbox(side, amqp_url)
    console.print("Both gateways stopped.")
    return 0


def exchange(sender: Nsw, receiver: Nsw, kind: str, origin: str | None = None) -> tuple[str, ...]:
    """One document from one NSW to the other, and the answer back; a row for the table."""
    route = (kind, sender.side.nsw.identity, receiver.side.nsw.identity)
    ref = reference(kind, origin or sender.side.gateway.country_code)
    receipt = sender.send(document(kind, sender.side, receiver.side, ref, origin))
    if not receipt.accepted:
        return *route, f"REJECTED {' '.join(receipt.codes)}", "-", "-", "-"
    arrived = "-"
    if origin is None:
        header, _ = receiver.receive(lambda h: h.document_type == kind and h.reference == ref)
        arrived = f"{receiver.side.nsw.identity} (from {header.sender.identity})"
    sent = receipt.received_message_id
    answer, body = sender.receive(lambda h: h.document_type == "CUSTOMS_RESPONSE" and h.pre_reference == sent)
    reasons = xmlsafe.parse(body).xpath("//cm:code/text()", namespaces={"cm": common_namespace()})
    verdict = {"21": "21 accepted", "22": "22 rejected"}[answer.function]
    return *route, f"{receipt.status} {ref}", arrived, verdict, " ".join(reasons)


def _show_outbox(side: Side, amqp_url: str) -> None:
    from app.wiring import assemble

    services = assemble(side.settings(amqp_url)).services
    try:
        outbox: Outbox = services.outbox
        title = f"{side.gateway.identity}: what it sent"
        table = Table("recipient", "type", "fn", "status", "proof of delivery", title=title)
        for entry in reversed(outbox.entries(limit=50)):
            proof = read_header(xmlsafe.parse(entry.delivery_receipt)) if entry.delivery_receipt else None
            shown = f"{proof.document_type} signed by {proof.sender.identity}" if proof else "-"
            table.add_row(entry.message.recipient, entry.message.document_type, entry.message.function, entry.status, shown)
        console.print(table)
    finally:
        services.close()


def _wait_for_interrupt() -> None:
    console.print("Both gateways keep running; Ctrl-C stops them.")
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    sys.exit(run())
