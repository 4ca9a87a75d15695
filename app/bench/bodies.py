"""Signed messages for a benchmark, prepared before it starts and kept on disk.

Signing costs more CPU than the gateway spends on a message, so it never runs while the
gateway is measured: each share of distinct, freshly signed messages is written by its own
process into a file of records (`<length>\\n<bytes>`), which the Python load processes and
the wrk script read back in turn.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.process import ProcessFailed


@dataclass(frozen=True)
class Signer:
    """Who signs, and which sample envelope is refreshed (new message id and date) before each signature."""

    pki_dir: Path
    party: str
    sample: Path


def prepare(signer: Signer, count: int, directory: Path, shares: int) -> list[Path]:
    """`count` distinct signed messages in `shares` files under `directory`, signed in parallel."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = [directory / f"bodies-{index}.bin" for index in range(shares)]
    sizes = [count // shares + (1 if index < count % shares else 0) for index in range(shares)]
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_write, args=(signer, size, path)) for size, path in zip(sizes, paths)]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode != 0:
            raise ProcessFailed(f"signing the benchmark's messages failed (exit status {process.exitcode})")
    return paths


def read(path: Path) -> Iterator[bytes]:
    """The messages of one share, in order."""
    with path.open("rb") as records:
        while header := records.readline():
            yield records.read(int(header))


def _write(signer: Signer, count: int, path: Path) -> None:
    from gateway import client
    from gateway.signing.keys import SigningIdentity

    identity = SigningIdentity.load(signer.pki_dir / f"{signer.party}.key.pem", signer.pki_dir / f"{signer.party}.cert.pem")
    with path.open("wb") as records:
        for _ in range(count):
            body = client.sign(client.refresh(client.load_envelope(signer.sample)), identity)
            records.write(b"%d\n" % len(body))
            records.write(body)
