"""`gateway purge [--dry-run]` and `gateway archive verify FILE`: retention (README, "Retention, archive and purge").

    purge [--dry-run]              archive then remove what is past its retention and in a final state; with
                                   --dry-run, only count it. Exit 0.
    archive verify FILE [--ca PEM] check a signed archive offline: the manifest's signature, the signer's chain
                                   (to --ca, else the configured trust anchors), every file's digest.
                                   Exit 0 when it holds, 1 (with the reason on one line) when it does not.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from app.cli.output import console, errors
from gateway.config import load_settings
from gateway.retention.purge import Purger
from gateway.retention.verify import ArchiveInvalid, verify_archive
from gateway.signing.trust import TrustStore
from gateway.store.engine import make_engine


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    purge = commands.add_parser("purge", help="archive (signed) then remove messages past their retention")
    purge.add_argument("--dry-run", action="store_true", help="count what would be purged; change nothing")
    purge.set_defaults(run=_purge)
    archive = commands.add_parser("archive", help="signed archives of purged messages")
    actions = archive.add_subparsers(title="archive commands")
    verify = actions.add_parser("verify", help="check an archive's signature, signer and contents offline")
    verify.add_argument("file", type=Path)
    verify.add_argument("--ca", type=Path, action="append", help="PEM file of a CA to trust (default: [trust] anchors)")
    verify.set_defaults(run=_verify)


def _purge(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    engine = make_engine(settings.db_url)
    try:
        purger = Purger.of(settings, engine)
        now = dt.datetime.now(dt.UTC)
        report = purger.due(now) if args.dry_run else purger.run(now)
    finally:
        engine.dispose()
    verb = "would purge" if args.dry_run else "purged"
    console.print(
        f"{verb} {report.inbound} inbound, {report.outbound} outbound messages and {report.rejections} rejections"
        + "".join(f"\narchive: {path}" for path in report.archives),
        soft_wrap=True,
    )
    return 0


def _verify(args: argparse.Namespace) -> int:
    anchors = args.ca or load_settings(args.config).trust_anchors
    try:
        verified = verify_archive(args.file, TrustStore.from_files(anchors))
    except ArchiveInvalid as exc:
        errors.print(f"archive invalid: {exc}", soft_wrap=True, markup=False)
        return 1
    console.print(
        f"{args.file}: valid; signed by {verified.signer} on {verified.created_at:%Y-%m-%d %H:%M:%S} UTC; "
        f"{verified.files} files; {verified.counts['inbound']} inbound, {verified.counts['outbound']} outbound "
        f"messages, {verified.counts['rejections']} rejections",
        soft_wrap=True,
        markup=False,
    )
    return 0
