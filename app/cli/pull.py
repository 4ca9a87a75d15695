"""`gateway pull --party ID`: a party fetches the messages the gateway holds for it, and may acknowledge them.

It signs a MESSAGE_QUERY with the party's key, sends it (HTTP, or the SOAP Pull
operation), checks the gateway's signature on the answer and on every message in
it, and lists them oldest first. With --ack it then sends a signed MESSAGE_ACK
naming them, and the gateway marks them delivered. Exit 0 when the query was
answered, 1 when it was rejected.
"""

from __future__ import annotations

import argparse

from rich.markup import escape
from rich.table import Table

from app.cli.output import console, write_raw
from gateway import client, xmlsafe
from gateway.config import Settings, load_settings
from gateway.envelope import Header, PartyRef, read_header
from gateway.exceptions import ConfigurationError, Rejected
from gateway.outbound.compose import EnvelopeComposer, Subject
from gateway.outbound.pull import MESSAGE_ACK, MESSAGE_QUERY, ack_content, query_content
from gateway.parties import read_parties_file
from gateway.schemas.registry import SchemaRegistry
from gateway.signing.keys import SigningIdentity
from gateway.signing.rotation import published_ders
from gateway.signing.trust import TrustStore
from gateway.signing.verify import verify_envelope


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pull = commands.add_parser("pull", help="as a party: fetch the messages the gateway holds for it")
    pull.add_argument("--party", required=True, help="the pulling party's id (its key is taken from the PKI dir)")
    pull.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway's base URL")
    pull.add_argument("--soap", action="store_true", help="use the SOAP Pull operation (SOAP 1.1; --soap12 for 1.2)")
    pull.add_argument("--soap12", action="store_true", help="use the SOAP Pull operation with SOAP 1.2")
    pull.add_argument("--limit", type=int, help="at most this many messages")
    pull.add_argument("--reference", help="the messages about this reference instead of the pending ones")
    pull.add_argument("--ack", action="store_true", help="acknowledge what was received: it will not be offered again")
    pull.add_argument("--raw", action="store_true", help="print each message's XML too")
    pull.set_defaults(run=run)


class Puller:
    """A party talking to the gateway: signed queries and acknowledgements, checked answers."""

    def __init__(self, settings: Settings, party: str, url: str, soap: str | None = None) -> None:
        configured = {p.identity: p for p in read_parties_file(settings.parties_file, settings.pki_dir)}
        if party not in configured:
            raise ConfigurationError(f"party {party!r} is not in {settings.parties_file}")
        me = configured[party]
        signer = SigningIdentity.load(settings.party_key(party), settings.party_cert(party))
        schemas = SchemaRegistry.load(settings.schema_packs)
        self.composer = EnvelopeComposer(PartyRef(me.identity, me.name, me.country), signer, schemas)
        self.gateway = PartyRef(settings.gateway.identity, settings.gateway.name, settings.gateway.country)
        self.trust = TrustStore.from_files(settings.trust_anchors, settings.clock_skew)
        self.gateway_cert = published_ders(settings.pki_dir, settings.gateway.identity)
        self.url = url
        self.soap = soap

    def query(self, limit: int | None = None, reference: str | None = None) -> client.ReceiptView:
        """Raises client.ReceiptError when the answer is not the gateway's signed receipt."""
        body = self.composer.compose(self.gateway, Subject(MESSAGE_QUERY, "11"), query_content(limit, reference)).body
        if self.soap:
            submission = client.post_soap(self.url, body, self.soap, pull=True)
        else:
            submission = client.post_http(self.url, body)
        return client.read_receipt(submission.receipt, self.trust, self.gateway_cert)

    def acknowledge(self, message_ids: list[str]) -> client.ReceiptView:
        body = self.composer.compose(self.gateway, Subject(MESSAGE_ACK, "99"), ack_content(message_ids)).body
        submission = client.post_soap(self.url, body, self.soap) if self.soap else client.post_http(self.url, body)
        return client.read_receipt(submission.receipt, self.trust, self.gateway_cert)


def run(args: argparse.Namespace) -> int:
    soap = "1.2" if args.soap12 else "1.1" if args.soap else None
    puller = Puller(load_settings(args.config), args.party, args.url, soap)
    try:
        answer = puller.query(args.limit, args.reference)
    except client.ReceiptError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        return 1
    if not answer.accepted:
        for code, message, _ in answer.errors:
            console.print(f"[red]{code}[/red] {escape(message)}")
        return 1
    table = Table("#", "message id", "from", "type", "fn", "reference", "answers", "signature",
                  title=f"{len(answer.batch)} message(s) for {args.party}, {answer.remaining} more pending")
    message_ids = []
    for number, body in enumerate(answer.batch, start=1):
        header, checked = _examine(body, puller.trust)
        message_ids.append(header.message_id)
        table.add_row(str(number), header.message_id, header.sender.identity, header.document_type, header.function,
                      header.reference or "", header.pre_reference or "", checked)
    console.print(table)
    if args.raw:
        for body in answer.batch:
            write_raw(body)
    if args.ack and message_ids:
        ack = puller.acknowledge(message_ids)
        console.print(f"acknowledged {len(message_ids)} message(s): {ack.status}")
    return 0


def _examine(body: bytes, trust: TrustStore) -> tuple[Header, str]:
    """The header of a message in the batch, and whether its own signature holds."""
    root = xmlsafe.parse(body)
    try:
        signature = verify_envelope(root)
    except Rejected as exc:
        return read_header(root), f"[red]{exc.problems[0].code.name}[/red]"
    problems = trust.check(signature.certificate_der, signature.intermediates)
    return read_header(root), "verified" if not problems else f"[red]{problems[0].code.name}[/red]"
