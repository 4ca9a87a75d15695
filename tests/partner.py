"""A partner's endpoint for push tests: a real HTTP server in a thread that answers pushed envelopes
(plain HTTP at /v1/messages, SOAP 1.1/1.2 at /soap through the gateway's own SOAP door code) with
receipts signed by the partner's key, and that can be told to fail, stall, reject or lie.

Also: writing a parties.toml from the repository's, with endpoints and trust anchors added.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from support import REPO

from gateway import xmlsafe
from gateway.adapters.soap import handle_soap
from gateway.config import write_table_array
from gateway.envelope import PartyRef, read_header
from gateway.errors import ErrorCode, Problem
from gateway.pipeline import Outcome, Transport
from gateway.receipts import ReceiptBuilder
from gateway.signing.keys import SigningIdentity

# What the partner does with one push.
ACCEPT = "accept"  # its signed acceptance
FAIL = "fail"  # 503 without a receipt (SOAP: a Receiver fault)
REJECT = "reject"  # its signed rejection (a final answer)
FORGE = "forge"  # an acceptance signed with a key that is not the partner's
TAMPER = "tamper"  # its signed acceptance, altered after signing
MISDIGEST = "misdigest"  # its signed acceptance of other bytes than those pushed


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@dataclass
class Push:
    body: bytes
    door: str
    answer: str
    at: float


@dataclass
class PartnerEndpoint:
    """One party's endpoint. `modes` are used up one per push; `mode` answers the rest."""

    party: PartyRef
    signer: SigningIdentity
    impostor: SigningIdentity  # signs the forged receipts
    mode: str = ACCEPT
    modes: list[str] = field(default_factory=list)
    delay_s: float = 0.0
    pushes: list[Push] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: WSGIServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> PartnerEndpoint:
        self._server = make_server("127.0.0.1", 0, self._app, server_class=_ThreadingServer, handler_class=_QuietHandler)
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # stop() waits for a poll: a test stops four of them
            name=f"partner-{self.party.identity}",
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def accepted(self) -> list[bytes]:
        return [push.body for push in self.pushes if push.answer == ACCEPT]

    # The "pipeline" that handle_soap and the HTTP route call.
    def submit(self, body: bytes, transport: Transport) -> Outcome:
        with self._lock:
            answer = self.modes.pop(0) if self.modes else self.mode
            self.pushes.append(Push(body, transport.door, answer, time.monotonic()))
        time.sleep(self.delay_s)
        if answer == FAIL:
            return Outcome(503, b"", False, codes=("STORE_UNAVAILABLE",))
        header = read_header(xmlsafe.parse(body))
        digest = hashlib.sha256(body if answer != MISDIGEST else body + b" ").digest()
        now = dt.datetime.now(dt.UTC)
        if answer == REJECT:
            problem = Problem(ErrorCode.ROLE_NOT_PERMITTED, "we take no such documents from you")
            rejection = ReceiptBuilder(self.party, self.signer).rejection(header, header.sender, digest, now, (problem,))
            return Outcome(403, rejection.body, False, header.message_id, ("ROLE_NOT_PERMITTED",))
        signer = self.impostor if answer == FORGE else self.signer
        receipt = ReceiptBuilder(self.party, signer).acceptance(header, digest, now).body
        if answer == TAMPER:
            receipt = receipt.replace(b"<status>ACCEPTED</status>", b"<status>DUPLICATE</status>")
        return Outcome(200, receipt, True, header.message_id)

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if environ["PATH_INFO"] == "/soap":
            response = handle_soap(self, body, environ.get("CONTENT_TYPE"), environ.get("HTTP_SOAPACTION"), None, None)  # type: ignore[arg-type]
            status, content_type, answer = response.status, response.content_type, response.body
        else:
            outcome = self.submit(body, Transport("http"))
            status, content_type, answer = outcome.status, "application/xml", outcome.receipt
        start_response(f"{status} {HTTPStatus(status).phrase}", [("Content-Type", content_type), ("Content-Length", str(len(answer)))])
        return [answer]


def write_parties(path: Path, extra: dict[str, dict[str, object]]) -> Path:
    """config/parties.toml with `extra` keys (endpoint, ca, ...) added to the parties named."""
    with (REPO / "config" / "parties.toml").open("rb") as handle:
        entries = tomllib.load(handle)["party"]
    return write_table_array(path, "party", [{**entry, **extra.get(entry["id"], {})} for entry in entries])
