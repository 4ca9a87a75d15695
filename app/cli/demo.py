"""`gateway demo`: a flow a person can watch, end to end, on the real broker and store.

The gateway starts (all components), every document type goes in through one of
the doors (HTTP, SOAP 1.1, SOAP 1.2, AMQP) signed by its sender, the signed
receipts are verified and shown; then a series of bad inputs, each answered with
a signed rejection naming exactly what is wrong; then the workers' progress; then
the business flow (app.cli.business_demo) and its report; and the gateway
stops cleanly.
"""

from __future__ import annotations

import datetime as dt
import itertools
import secrets
import tempfile
import time
import zoneinfo
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path

from lxml import etree
from rich.panel import Panel
from rich.table import Table
from sqlalchemy import Engine

from app.cli.business_demo import BusinessDemo
from app.cli.output import console
from app.cli.report import period_of, render_tables
from app.process import GatewayProcess
from app.wiring import STATE_TABLES  # noqa: F401  (every table joins the store's metadata before it opens)
from conformance import SAMPLE_SENDERS, attacks, sample
from console import audit
from console.accounts import Accounts
from console.roles import Role
from console.server import split_bind
from customs.rules import business_rules
from customs.statistics import report
from gateway import client
from gateway.config import Settings, load_settings
from gateway.envelope import qname
from gateway.schemas.catalogue import builtin
from gateway.signing.keys import SigningIdentity
from gateway.signing.rotation import published_ders
from gateway.signing.trust import TrustStore
from gateway.store.engine import make_engine
from gateway.store.messages import MessageStore


class Demo:
    def __init__(self, settings: Settings, url: str) -> None:
        self.settings = settings
        self.url = url
        self.trust = TrustStore.from_files(settings.trust_anchors, settings.clock_skew)
        self.gateway_cert = published_ders(settings.pki_dir, settings.gateway.identity)
        self._identities: dict[str, SigningIdentity] = {}
        self._soap: object | None = None
        self._amqp: client.AmqpClient | None = None

    def identity(self, party: str) -> SigningIdentity:
        if party not in self._identities:
            self._identities[party] = SigningIdentity.load(self.settings.party_key(party), self.settings.party_cert(party))
        return self._identities[party]

    def envelope(self, document_type: str, sender: str | None = None) -> etree._Element:
        root = client.refresh(client.load_envelope(sample(document_type).file))
        if sender:
            root.find(f"{qname('Header')}/{qname('From')}/{qname('identity')}").text = sender
        return root

    def signed(self, document_type: str, signer: str | None = None) -> bytes:
        party = SAMPLE_SENDERS[document_type]
        return client.sign(self.envelope(document_type, party), self.identity(signer or party))

    def send_edited(self, document_type: str, edit: Callable[[etree._Element], object] | None) -> str:
        """Sign a sample (edited) as its usual sender, send it over HTTP; returns the accepted message id."""
        party = SAMPLE_SENDERS[document_type]
        root = self.envelope(document_type, party)
        if edit is not None:
            edit(root)
        receipt = self.send("HTTP", client.sign(root, self.identity(party)))
        if not receipt.accepted or not receipt.received_message_id:
            raise RuntimeError(f"the demo's {document_type} was rejected: {receipt.codes}")
        return receipt.received_message_id

    def send(self, door: str, body: bytes) -> client.ReceiptView:
        if door == "HTTP":
            raw = client.post_http(self.url, body).receipt
        elif door.startswith("SOAP"):
            import zeep

            if self._soap is None:
                self._soap = zeep.Client(self.url + "/soap?wsdl")
            service = self._soap.service if door == "SOAP 1.1" else self._soap.bind("GatewayService", "GatewaySoap12")  # type: ignore[attr-defined]
            raw = service.Submit(message=body).receipt
        else:
            if self._amqp is None:
                self._amqp = client.AmqpClient(self.settings.broker.url, f"{self.settings.broker.namespace}.inbound")
            raw = self._amqp.submit(body)
        return client.read_receipt(raw, self.trust, self.gateway_cert)

    def close(self) -> None:
        if self._amqp is not None:
            self._amqp.close()


def run_demo(args: Namespace) -> int:
    settings = load_settings(args.config)
    port = int(args.bind.rsplit(":", 1)[1])
    log_path = Path(tempfile.gettempdir()) / "gateway-demo.log"
    console.print(Panel.fit(
        "Customs single-window gateway: signed XML in through HTTP, SOAP and AMQP;\n"
        "verified, validated, stored, queued on RabbitMQ; a signed receipt for every message.",
        title="gateway demo",
    ))
    login, password = demo_operator(settings)
    console_port = split_bind(settings.console.bind)[1]
    gateway = GatewayProcess(Path(args.config or settings.config_dir / "gateway.toml"), log_path, port=port,
                             console_port=console_port)
    console.print(f"Starting the gateway on {gateway.url} (log: {log_path}) ...")
    gateway.start()
    console.print(f"[green]Gateway up[/green]: HTTP {gateway.url}/v1/messages, SOAP {gateway.url}/soap?wsdl, "
                  f"AMQP exchange {settings.broker.namespace}.inbound, workers and outbox relay running.")
    if gateway.wait_for_console():
        console.print(f"[green]Operators' console[/green]: {gateway.console_url}/admin/ (login {login}, password {password})\n",
                      highlight=False)
    else:
        console.print(f"[red]The operators' console does not answer at {gateway.console_url}[/red] (see {log_path})\n")
    demo = Demo(settings, gateway.url)
    try:
        accepted = _good_messages(demo)
        _bad_messages(demo)
        _processing(settings, accepted)
        engine = make_engine(settings.db_url)
        try:
            BusinessDemo(demo.send_edited, engine).run()
            _report(settings, engine)
        finally:
            engine.dispose()
        if args.keep:
            console.print(f"\nThe gateway keeps running: open {gateway.console_url}/admin/ and log in as {login} "
                          f"(password {password}). Ctrl-C stops it.")
            _wait_for_interrupt()
    finally:
        demo.close()
        console.print("\nStopping the gateway ...")
        status = gateway.stop()
    console.print(f"[green]Gateway stopped cleanly[/green] (exit status {status})." if status == 0 else f"[red]Gateway exit status {status}[/red]")
    return 0 if status == 0 else 1


DEMO_OPERATOR = "demo"


def demo_operator(settings: Settings) -> tuple[str, str]:
    """The console account of the demo (an operator), with a new random password each run: none is in the repo."""
    password = secrets.token_urlsafe(12)
    engine = make_engine(settings.db_url)
    try:
        accounts = Accounts(engine)
        by = audit.Entry("operator:demo-script", "account.add", "local")
        if accounts.get(DEMO_OPERATOR) is None:
            accounts.add(DEMO_OPERATOR, Role.OPERATOR.value, password, party=None, by=by)
        else:
            accounts.set_password(DEMO_OPERATOR, password, by=by)
    finally:
        engine.dispose()
    return DEMO_OPERATOR, password


def _wait_for_interrupt() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def _good_messages(demo: Demo) -> list[str]:
    table = Table(title="1. Every document type, signed by its sender, through the four doors")
    for column in ("document type", "sender", "door", "receipt", "message id"):
        table.add_column(column)
    doors = itertools.cycle(["HTTP", "SOAP 1.1", "SOAP 1.2", "AMQP"])
    accepted = []
    for document_type, sender in SAMPLE_SENDERS.items():
        door = next(doors)
        receipt = demo.send(door, demo.signed(document_type))
        colour = "green" if receipt.accepted else "red"
        table.add_row(document_type, sender, door, f"[{colour}]{receipt.status}[/{colour}] (fn {receipt.function}, signature verified)", receipt.received_message_id or "-")
        if receipt.accepted and receipt.received_message_id:
            accepted.append(receipt.received_message_id)
    console.print(table)
    return accepted


def _bad_messages(demo: Demo) -> None:
    table = Table(title="2. Bad input: every one gets a signed rejection saying exactly what is wrong")
    for column in ("what was sent", "error code(s)", "first message"):
        table.add_column(column)
    order = demo.signed("ECOM_ORDER")

    def schema_invalid() -> bytes:
        root = demo.envelope("ECOM_DECLARATION", "0309876543")
        for hs_code in root.iter(f"{{{builtin().namespace('ECOM_DECLARATION')}}}hsCode"):
            hs_code.text = "12345678901"
        return client.sign(root, demo.identity("0309876543"))

    resend_body = demo.signed("ECOM_ORDER")
    cases: list[tuple[str, Callable[[], bytes]]] = [
        ("body changed after signing", lambda: attacks.body_changed_after_signing(order)),
        ("header changed after signing", lambda: attacks.header_changed_after_signing(order)),
        ("signed copy moved into a wrapper", lambda: attacks.wrap_signed_envelope_in_wrapper(order)),
        ("order signed by a logistics firm's key", lambda: demo.signed("ECOM_ORDER", signer="0309876543")),
        ("marketplace sends an inspection result", lambda: client.sign(demo.envelope("INSPECTION_RESULT", "0101234567"), demo.identity("0101234567"))),
        ("no signature", lambda: attacks.signature_removed(order)),
        ("external entity (XXE)", lambda: attacks.xxe(order)),
        ("entity-expansion bomb", attacks.entity_bomb),
        ("11-digit HS codes", schema_invalid),
        ("identical resend", lambda: resend_body),
    ]
    demo.send("HTTP", resend_body)
    for label, build in cases:
        receipt = demo.send("HTTP", build())
        if receipt.accepted:
            table.add_row(label, f"[green]{receipt.status}[/green]", "the original receipt again (same message id)")
        else:
            table.add_row(label, f"[red]{' '.join(dict.fromkeys(receipt.codes))}[/red]", receipt.errors[0][1][:90])
    console.print(table)


def _report(settings: Settings, engine: Engine) -> None:
    """The numbers of today's flow, as `gateway report` prints them."""
    zone = zoneinfo.ZoneInfo(business_rules(settings.business_file).calendar.timezone)
    console.print("\n5. gateway report (today)")
    with engine.connect() as connection:
        render_tables(report(connection, period_of(None, None, zone, dt.datetime.now(dt.UTC))), console)


def _processing(settings: Settings, accepted: list[str]) -> None:
    store = MessageStore(make_engine(settings.db_url))
    console.print("\n3. The workers take the accepted messages from RabbitMQ and record them processed ...")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done = {row["message_id"] for row in store.list(limit=500, status="processed")}
        if set(accepted) <= done:
            break
        time.sleep(0.5)
    table = Table(title="Stored messages (gateway messages --count)")
    for column in ("status", "document type", "sender", "count"):
        table.add_column(column)
    for status, document_type, sender, count in store.count_by("status", "document_type", "sender"):
        table.add_row(status, document_type, sender, str(count))
    console.print(table)
    store.engine.dispose()
