"""The HTTP door: a plain WSGI application.

    POST /v1/messages   a signed envelope as application/xml; the signed receipt comes back
    POST /soap          the SOAP 1.1/1.2 door (gateway/adapters/soap.py)
    GET  /soap?wsdl     its WSDL
    GET  /v1/certificates  the gateway's certificates (PEM): the current one, and the next during a rotation
    GET  /healthz       the process is alive
    GET  /readyz        the store and the broker answer
    GET  /metrics       Prometheus metrics

The size limit is enforced before anything is parsed: a declared Content-Length
over the limit is refused without reading the body, and a chunked body is read
only up to one byte past the limit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

import structlog
from sqlalchemy import text

from gateway import metrics
from gateway.signing.expiry import earliest_expiry
from gateway.adapters import soap
from gateway.errors import ErrorCode, Problem
from gateway.exceptions import BodyIncomplete
from gateway.pipeline import Outcome, Pipeline, Transport, too_large

log = structlog.get_logger(__name__)

XML_TYPES = frozenset({"application/xml", "text/xml"})
_CORRELATION_ID = re.compile(r"^[\x21-\x7e]{1,128}$")
SOAP_OVERHEAD = 64 * 1024

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            408: "Request Timeout", 409: "Conflict", 413: "Content Too Large", 415: "Unsupported Media Type",
            422: "Unprocessable Content", 500: "Internal Server Error", 503: "Service Unavailable"}


class GatewayApp:
    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.limit = pipeline.services.settings.http.max_body_bytes

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        routes = {
            ("/v1/messages", "POST"): self.post_message,
            ("/soap", "POST"): self.post_soap,
            ("/soap", "GET"): self.get_wsdl,
            ("/v1/certificates", "GET"): self.get_certificates,
            ("/healthz", "GET"): self.healthz,
            ("/readyz", "GET"): self.readyz,
            ("/metrics", "GET"): self.metrics,
        }
        handler = routes.get((path, method))
        if handler is None:
            allowed = [m for (p, m) in routes if p == path]
            status = 405 if allowed else 404
            extra = [("Allow", ", ".join(allowed))] if allowed else []
            return _respond(start_response, status, b"", "text/plain", extra)
        return handler(environ, start_response)

    def body_limit(self, path: str) -> int:
        """The largest body the door at `path` takes: the SOAP door's base64 body is 4/3 of the envelope plus its wrapping."""
        return self.limit * 4 // 3 + SOAP_OVERHEAD if path == "/soap" else self.limit

    # --- doors -------------------------------------------------------------

    def post_message(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        transport = Transport("http", _correlation_id(environ), environ.get("REMOTE_ADDR"))
        media_type, charset = _media_type(environ.get("CONTENT_TYPE"))
        if media_type not in XML_TYPES or charset not in (None, "utf-8"):
            problem = Problem(
                ErrorCode.CONTENT_TYPE_UNSUPPORTED,
                f"content type {environ.get('CONTENT_TYPE')!r} is not accepted; send application/xml (UTF-8)",
            )
            return self._outcome(start_response, self.pipeline.refuse(transport, problem), close=True)
        body = _read_body(environ, self.limit)
        if isinstance(body, Problem):
            return self._outcome(start_response, self.pipeline.refuse(transport, body), close=True)
        return self._outcome(start_response, self.pipeline.submit(body, transport))

    def post_soap(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        limit = self.body_limit("/soap")
        body = _read_body(environ, limit)
        if isinstance(body, Problem):
            outcome = self.pipeline.refuse(Transport("soap", _correlation_id(environ), environ.get("REMOTE_ADDR")), body)
            response = soap.outcome_response(outcome, environ.get("CONTENT_TYPE"))
            return _respond(start_response, response.status, response.body, response.content_type, [("Connection", "close")])
        response = soap.handle_soap(
            self.pipeline,
            body,
            environ.get("CONTENT_TYPE"),
            environ.get("HTTP_SOAPACTION"),
            _correlation_id(environ),
            environ.get("REMOTE_ADDR"),
        )
        return _respond(start_response, response.status, response.body, response.content_type)

    def get_wsdl(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("QUERY_STRING", "").lower() != "wsdl":
            return _respond(start_response, 404, b"", "text/plain")
        host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        url = f"{environ.get('wsgi.url_scheme', 'http')}://{host}/soap"
        return _respond(start_response, 200, soap.wsdl(url), "text/xml; charset=utf-8")

    def get_certificates(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """What partners register to verify our receipts and messages (README, Rotating the gateway's key)."""
        body = self.pipeline.services.keys.published()
        return _respond(start_response, 200, body, "application/pem-certificate-chain")

    # --- operations --------------------------------------------------------

    def healthz(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        return _respond(start_response, 200, b'{"status":"ok"}', "application/json")

    def readyz(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        checks = {"store": self._store_ready(), "broker": self._broker_ready()}
        ready = all(checks.values())
        body = json.dumps({"status": "ready" if ready else "not ready", "checks": checks}).encode()
        return _respond(start_response, 200 if ready else 503, body, "application/json")

    def metrics(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        body, content_type = metrics.exposition(earliest_expiry(self.pipeline.services.certificates_in_use()))
        return _respond(start_response, 200, body, content_type)

    def _store_ready(self) -> bool:
        try:
            with self.pipeline.services.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:  # any failure means "not ready"; the reason is logged
            log.warning("store not ready", exc_info=True)
            return False

    def _broker_ready(self) -> bool:
        return self.pipeline.services.publisher().ready()

    def _outcome(self, start_response: StartResponse, outcome: Outcome, close: bool = False) -> Iterable[bytes]:
        headers = [("X-Receipt-Status", "accepted" if outcome.accepted else "rejected")]
        if outcome.message_id:
            headers.append(("X-Message-Id", outcome.message_id))
        if outcome.codes:
            headers.append(("X-Error-Codes", " ".join(outcome.codes)))
        if close:
            headers.append(("Connection", "close"))
        return _respond(start_response, outcome.status, outcome.receipt, "application/xml; charset=utf-8", headers)


def _respond(
    start_response: StartResponse, status: int, body: bytes, content_type: str, headers: list[tuple[str, str]] | None = None
) -> Iterable[bytes]:
    start_response(
        f"{status} {_REASONS.get(status, 'Unknown')}",
        [("Content-Type", content_type), ("Content-Length", str(len(body))), *(headers or [])],
    )
    return [body]


def _read_body(environ: dict[str, Any], limit: int) -> bytes | Problem:
    """The body, or the problem with it: over `limit` (read no further than needed), or not arrived in time."""
    length_header = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    try:
        if length_header:
            try:
                length = int(length_header)
            except ValueError:
                return b""
            return too_large(length, limit) if length > limit else stream.read(length)
        body = stream.read(limit + 1)
    except BodyIncomplete as incomplete:
        return Problem(ErrorCode.REQUEST_TIMEOUT, str(incomplete))
    return too_large(len(body), limit) if len(body) > limit else body


def _media_type(header: str | None) -> tuple[str, str | None]:
    if not header:
        return "", None
    media_type, *parameters = (part.strip() for part in header.split(";"))
    charset = None
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return media_type.lower(), charset


def _correlation_id(environ: dict[str, Any]) -> str | None:
    value = environ.get("HTTP_X_CORRELATION_ID")
    return value if value and _CORRELATION_ID.match(value) else None
