"""`gateway parties reload`: apply parties.toml (and the partner CAs it names) to the store, without a restart.

A bad file is refused with one line and the registry in use stays (app/registry_reload.py);
`serve` does the same by itself when the files change.
"""

from __future__ import annotations

import argparse

from app.cli.output import console
from app.registry_reload import reload_parties
from gateway.config import load_settings


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parties = commands.add_parser("parties", help="the party registry").add_subparsers(title="parties commands")
    reload = parties.add_parser("reload", help="apply parties.toml to the store; running instances follow within 30 s")
    reload.set_defaults(run=_reload)


def _reload(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    configured = reload_parties(settings)
    certificates = sum(len(party.certificate_files) for party in configured)
    console.print(
        f"{len(configured)} parties ({certificates} certificate files) from {settings.parties_file} applied to the store; "
        "running instances use them within 30 s",
        markup=False, soft_wrap=True,
    )
    return 0
