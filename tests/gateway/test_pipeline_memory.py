"""Memory bounded for anonymous input: large certificates in KeyInfo are not kept after the request.

A valid signed message is replayed with its (unsigned) KeyInfo replaced: once with a large
self-issued certificate for the signer's own key (so the signature still verifies and the
certificate reaches path building), once with the real certificate followed by a large
junk intermediate. Each certificate is distinct. The process's resident memory
(/proc/self/status) must come back to about where it was.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from support import MessageFactory, write_config

from conformance import certificate_attacks
from gateway.pipeline import Pipeline, Transport
from gateway.signing.keys import SigningIdentity, der_of

pytestmark = pytest.mark.stores("sqlite")

SENDER = "0309876543"
CERTIFICATE_BYTES = 2 * 1024 * 1024
REQUESTS = 30
ALLOWED_GROWTH = 24 * 1024 * 1024  # against 60 MB of certificates sent


@pytest.fixture
def config_path(tmp_path: Path, pki_dir: Path, namespace: str) -> Path:
    """Overrides conftest's: certificates up to 4 MiB get through, so that the caches are what is tested."""
    return write_config(tmp_path / "config", pki_dir, namespace, intake={"max_certificate_bytes": 4 * 1024 * 1024})


def resident_bytes() -> int:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024


def test_many_large_distinct_certificates_leave_no_memory_behind(
    messages: MessageFactory, identity: Callable[[str], SigningIdentity], pipeline: Pipeline
) -> None:
    signer = identity(SENDER)

    def attack(n: int) -> bytes:
        if n % 2:
            chain = [certificate_attacks.padded_certificate(signer.certificate.public_key(), CERTIFICATE_BYTES)]
        else:
            chain = [der_of(signer.certificate), certificate_attacks.padded_certificate(None, CERTIFICATE_BYTES)]
        body = messages.signed("ECOM_DECLARATION", SENDER)
        return certificate_attacks.with_key_info_certificates(body, chain)

    for n in range(4):  # warm the allocator and every code path
        pipeline.submit(attack(n), Transport("http"))
    gc.collect()
    before = resident_bytes()

    outcomes = [pipeline.submit(attack(n), Transport("http")) for n in range(REQUESTS)]
    gc.collect()
    grown = resident_bytes() - before

    assert {outcome.status for outcome in outcomes[1::2]} == {403}  # the self-issued certificate is untrusted
    assert grown < ALLOWED_GROWTH, f"resident memory grew by {grown / 2**20:.0f} MiB"
