"""The business part of `gateway demo`: declarations decided, inspected, shared and alerted on, live.

Every step sends signed messages over HTTP to the running gateway, waits until
the workers have committed their effect, and shows the signed replies the
gateway stored for sending (lane notices, result notices, alerts, copies).
Declaration numbers and order ids are fresh on every run.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from lxml import etree
from rich.table import Table
from sqlalchemy import Engine, select

from app.cli.output import console
from customs.permissions import readable
from gateway.exceptions import ReadRefused
from gateway.lifecycle import MessageStatus
from gateway.parties import load_registry
from gateway.store.tables import messages, outbox

Edit = Callable[[etree._Element], object]


@dataclass
class Step:
    title: str
    declaration: str


def set_text(root: etree._Element, local: str, value: str, nth: int = 1) -> None:
    """Set the n-th (1-based) element named `local` anywhere in the envelope."""
    list(root.iter(f"{{*}}{local}"))[nth - 1].text = value


def set_all(root: etree._Element, local: str, value: str) -> None:
    for element in root.iter(f"{{*}}{local}"):
        element.text = value


def drop_line(root: etree._Element, line: int) -> None:
    """Remove the item with this lineNumber (orders and declarations alike)."""
    for item in list(root.iter("{*}item")):
        if item.findtext("{*}lineNumber") == str(line):
            item.getparent().remove(item)


def fresh_number() -> str:
    return "1070" + "".join(random.choices("0123456789", k=8))


class BusinessDemo:
    """Drives the flow through `send(document_type, edit) -> message id` and reads the store."""

    def __init__(self, send: Callable[[str, Edit | None], str], engine: Engine) -> None:
        self.send = send
        self.engine = engine
        self.order_id = ""

    def run(self) -> None:
        console.print("\n4. The business: exemptions, lanes, inspections, platforms, policy, sharing")
        self.processed(self.send("POLICY_NOTICE", lambda root: set_text(root, "noticeNumber", f"{random.randint(100, 999)}/TB-BYT")))
        console.print("   BYT's policy notice is in force: health supplements (HS 210690) are never exempt.")
        self.declare("a. A low-value declaration: every item at most 1,000,000 VND", {2: "900000"}, supplement=False)
        number = self.declare("b. A health supplement: BYT's exception list requires inspection", {2: "900000"})
        self.inspect(number, issued=dt.datetime.now(dt.UTC), label="on time")
        self.declare("c. The declared quantity differs from the order", {2: "900000"}, quantity=5, supplement=False)
        self.declare("d. Cheap cosmetics from Korea: a risk profile selects red", {2: "900000", 3: "90000"}, supplement=False)
        late = self.declare("e. Another supplement; its inspection result arrives late", {2: "900000"})
        self.inspect(late, issued=dt.datetime.now(dt.UTC) - dt.timedelta(days=4), label="4 days after it was issued")
        self.processed(self.send("PLATFORM_REGISTRATION", lambda root: (set_text(root, "function", "02"), set_text(root, "status", "SUSPENDED"))))
        console.print("   The marketplace VIETSHOP is now suspended.")
        self.declare("f. An order from the suspended platform", {2: "900000"}, supplement=False)
        self.processed(self.send("PLATFORM_REGISTRATION", None))
        console.print("   VIETSHOP is active again.")
        self.reads(number)

    def reads(self, number: str) -> None:
        """Who may read declaration `number`: the declarant, the ministry that inspects it, customs; not the marketplace."""
        table = Table(title=f"g. Reading declaration {number} (gateway read {number} --as PARTY)", title_justify="left")
        for column in ("reader", "outcome"):
            table.add_column(column)
        with self.engine.connect() as connection:
            registry = load_registry(self.engine)
            for party in ("0309876543", "BYT", "HQHCM", "0101234567"):
                try:
                    seen = readable(connection, registry[party], number)
                    table.add_row(party, f"[green]{len(seen)} document(s)[/green]")
                except ReadRefused as refused:
                    table.add_row(party, f"[red]refused[/red]: {refused}")
        console.print(table)

    def declare(self, title: str, values: dict[int, str], quantity: int | None = None, supplement: bool = True) -> str:
        """Send a fresh order and its declaration (the samples, edited); `supplement=False` leaves out
        line 4, the health supplement, from both."""
        number, self.order_id = fresh_number(), f"VS-DEMO-{random.randint(10**8, 10**9)}"

        def order(root: etree._Element) -> None:
            set_all(root, "orderId", self.order_id)
            if not supplement:
                drop_line(root, 4)

        def declaration(root: etree._Element) -> None:
            set_text(root, "declarationNumber", number)
            set_all(root, "orderId", self.order_id)
            for line, value in values.items():
                set_text(root, "customsValueVND", value, line)
            if quantity is not None:
                set_text(root, "quantity", str(quantity), 1)
            if not supplement:
                drop_line(root, 4)

        self.processed(self.send("ECOM_ORDER", order))
        self.processed(self.send("ECOM_DECLARATION", declaration))

        self.show(title, number)
        return number

    def inspect(self, number: str, issued: dt.datetime, label: str) -> None:
        def edit(root: etree._Element) -> None:
            set_text(root, "declarationNumber", number)
            set_text(root, "issuedAt", issued.astimezone(dt.timezone(dt.timedelta(hours=7))).isoformat(timespec="seconds"))

        self.processed(self.send("INSPECTION_RESULT", edit))
        self.show(f"   BYT's inspection result for {number}, received {label}", number)

    def processed(self, message_id: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with self.engine.connect() as connection:
            while time.monotonic() < deadline:
                connection.rollback()
                status = connection.execute(select(messages.c.status).where(messages.c.message_id == message_id)).scalar()
                if status in (MessageStatus.PROCESSED.value, MessageStatus.FAILED.value):
                    return
                time.sleep(0.2)
        console.print(f"[red]message {message_id} was not processed within {timeout:.0f}s[/red]")

    def show(self, title: str, number: str) -> None:
        table = Table(title=title, title_justify="left")
        for column in ("to", "document", "fn", "what it says"):
            table.add_column(column)
        with self.engine.connect() as connection:
            rows = connection.execute(select(outbox).where(outbox.c.reference == number).order_by(outbox.c.id)).all()
        for row in rows:
            table.add_row(row.recipient, row.document_type, row.function, summary(row.body))
        console.print(table)


def summary(body: bytes) -> str:
    payload = etree.fromstring(body)[1][0][0]
    values = {local: [e.text for e in payload.iter(f"{{*}}{local}")] for local in ("lane", "outcome", "kind", "exemption", "code", "result")}
    parts = []
    if values["lane"]:
        parts.append(f"[bold]{values['lane'][0]}[/bold]")
    if values["outcome"]:
        parts.append(f"[bold]{values['outcome'][0]}[/bold]")
    if values["kind"]:
        parts.append(f"alert {values['kind'][0]}")
    if values["exemption"]:
        parts.append("items: " + " ".join(values["exemption"]))
    if values["code"]:
        parts.append("reasons: " + ", ".join(values["code"]))
    if values["result"] and not values["exemption"]:
        parts.append("items: " + " ".join(values["result"]))
    return "; ".join(parts) or etree.QName(payload).localname
