"""A real OCSP responder on 127.0.0.1, built with cryptography's OCSP builder: the conformance suite
runs one for its `revoked` signer, and the tests use it (good, revoked, slow and down).

It answers for one CA, signing with the CA's key; a test sets which serial numbers are
revoked, how long it waits before answering (a slow responder), or stops it (a down one).
It counts the questions it was asked, so a test can show that a cached answer asks none.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from gateway.signing.pki import CertificateAuthority


class OcspResponder:
    def __init__(self, ca: CertificateAuthority) -> None:
        self.ca = ca
        self.revoked: set[int] = set()
        self.delay_s = 0.0
        self.questions = 0
        responder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                responder.questions += 1
                request = ocsp.load_der_ocsp_request(self.rfile.read(int(self.headers["Content-Length"])))
                time.sleep(responder.delay_s)
                body = responder.answer(request)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/ocsp-response")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up waiting (a slow responder)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ocsp"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def answer(self, request: ocsp.OCSPRequest) -> bytes:
        now = dt.datetime.now(dt.UTC)
        revoked = request.serial_number in self.revoked
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=request.serial_number,
            algorithm=request.hash_algorithm,
            cert_status=ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            this_update=now - dt.timedelta(seconds=10),
            next_update=now + dt.timedelta(hours=1),
            revocation_time=now - dt.timedelta(hours=1) if revoked else None,
            revocation_reason=None,
        )
        response = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.ca.certificate).sign(
            self.ca.key, hashes.SHA256()
        )
        return response.public_bytes(serialization.Encoding.DER)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
