"""`gateway audit verify|seal`: the console's audit trail.

    verify   walk the hash chain and check every seal against the gateway's certificate;
             exit 0 when intact, 1 with the first problem found
    seal     sign the chain's head now with the gateway's key (the console does it daily)
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from sqlalchemy import Engine

from app.cli.output import console, errors
from app.wiring import STATE_TABLES  # noqa: F401  (every table joins the store's metadata before it opens)
from console import audit
from gateway.config import load_settings
from gateway.signing.keys import SigningIdentity
from gateway.store.engine import make_engine


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    trail = commands.add_parser("audit", help="the operators' audit trail: verify it, seal it")
    actions = trail.add_subparsers(title="audit commands")
    actions.add_parser("verify", help="check the hash chain and the signed seals").set_defaults(run=_verify)
    actions.add_parser("seal", help="sign the chain's head with the gateway's key now").set_defaults(run=_seal)


@contextlib.contextmanager
def _store(args: argparse.Namespace) -> Iterator[tuple[Engine, SigningIdentity]]:
    """The configured store and the gateway's signing key."""
    settings = load_settings(args.config)
    identity = settings.gateway.identity
    signer = SigningIdentity.load(settings.party_key(identity), settings.party_cert(identity))
    engine = make_engine(settings.db_url)
    try:
        yield engine, signer
    finally:
        engine.dispose()


def _verify(args: argparse.Namespace) -> int:
    with _store(args) as (engine, signer), engine.connect() as connection:
        result = audit.verify(connection, signer.certificate)
    unsealed = result.records - result.sealed_through
    summary = f"{result.records} records, {result.seals} seals, sealed through record {result.sealed_through}"
    if not result.ok:
        for problem in result.problems:
            errors.print(f"audit trail broken: {problem}", markup=False, soft_wrap=True)
        console.print(summary, markup=False)
        return 1
    console.print(f"audit trail intact: {summary} ({unsealed} records since the last seal)", markup=False)
    return 0


def _seal(args: argparse.Namespace) -> int:
    with _store(args) as (engine, signer):
        head = audit.seal(engine, signer)
    console.print("the audit trail is empty: nothing to seal" if head is None else f"sealed through record {head}",
                  markup=False)
    return 0
