"""`gateway certs list [--expiring 60d] [--json]`: every certificate in use and when it expires.

Lists the parties' registered certificates and partner CAs (as the store has them) and
the gateway's own signing certificate (and the next one during a key rotation), soonest
expiry first. With `--expiring`, only those that expire within that time (or have
expired), and the exit status is 1 when there is any, so that a cron job or a
monitoring check can run it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re

from rich.markup import escape
from rich.table import Table

from app.cli.output import console, write_json
from gateway.config import load_settings
from gateway.parties import PartyRegistry
from gateway.signing.expiry import CertificateInUse, certificates_in_use
from gateway.signing.rotation import own_certificates
from gateway.store.engine import make_engine

_UNITS = {"d": dt.timedelta(days=1), "w": dt.timedelta(weeks=1), "h": dt.timedelta(hours=1)}


def duration(text: str) -> dt.timedelta:
    """"60d", "8w", "12h" (a bare number is days)."""
    match = re.fullmatch(r"(\d+)([dwh]?)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 60d, 8w or 12h")
    return int(match.group(1)) * _UNITS[match.group(2) or "d"]


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    certs = commands.add_parser("certs", help="the certificates in use").add_subparsers(title="certs commands")
    listing = certs.add_parser("list", help="every party's certificates and CAs and the gateway's own, with their expiry")
    listing.add_argument("--expiring", type=duration, metavar="TIME", help="only those expiring within TIME (60d, 8w, 12h)")
    listing.add_argument("--json", action="store_true", help="one JSON object for scripts")
    listing.set_defaults(run=_list)


def _list(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    engine = make_engine(settings.db_url)
    try:
        parties = PartyRegistry(engine).all()
    finally:
        engine.dispose()
    own = own_certificates(settings.pki_dir, settings.gateway.identity)
    now = dt.datetime.now(dt.UTC)
    found = certificates_in_use(parties, settings.gateway.identity, own)
    if args.expiring is not None:
        found = [entry for entry in found if entry.not_after <= now + args.expiring]
    if args.json:
        write_json({"certificates": [_json(entry, now) for entry in found]})
    else:
        table = Table("party", "kind", "subject", "expires", "days left", "SHA-256", title="Certificates in use")
        for entry in found:
            days = entry.days_left(now)
            table.add_row(
                escape(entry.party), entry.kind, escape(entry.subject), entry.not_after.isoformat(timespec="seconds"),
                f"[red]{days}[/red]" if days < 0 else str(days), entry.fingerprint[:16],
            )
        console.print(table)
    return 1 if args.expiring is not None and found else 0


def _json(entry: CertificateInUse, now: dt.datetime) -> dict[str, object]:
    return {
        "party": entry.party,
        "kind": entry.kind,
        "subject": entry.subject,
        "fingerprint": entry.fingerprint,
        "not_after": entry.not_after.isoformat(),
        "days_left": entry.days_left(now),
    }
