"""`gateway parties reload`: apply parties.toml (and the partner CAs it names) to the store, without a restart.

The file is read and checked completely (roles, certificate and CA files, no certificate
shared by two parties) before the store is touched, and the store is changed in one
transaction: a bad file is refused with one line and the registry in use stays. Every
running instance re-reads the registry from the store within its refresh time (30 s).
"""

from __future__ import annotations

import argparse

from app.cli.output import console
from gateway.config import load_settings
from gateway.parties import read_parties_file, sync_parties
from gateway.store.engine import make_engine


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parties = commands.add_parser("parties", help="the party registry").add_subparsers(title="parties commands")
    reload = parties.add_parser("reload", help="apply parties.toml to the store; running instances follow within 30 s")
    reload.set_defaults(run=_reload)


def _reload(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    configured = read_parties_file(settings.parties_file, settings.pki_dir)
    engine = make_engine(settings.db_url)
    try:
        sync_parties(engine, configured)
    finally:
        engine.dispose()
    certificates = sum(len(party.certificate_files) for party in configured)
    console.print(
        f"{len(configured)} parties ({certificates} certificate files) from {settings.parties_file} applied to the store; "
        "running instances use them within 30 s",
        markup=False, soft_wrap=True,
    )
    return 0
