"""The `gateway-conformance` command: list the cases, run them against a gateway, export signed messages.

    gateway-conformance list [--tag T] [--only ID] [--skip ID]
    gateway-conformance run --target URL [--soap|--soap12|--amqp-exchange NAME] --party ID --key FILE
                            --cert FILE --ca FILE [--roles R,R] [--identities DIR] [--parties FILE]
                            [--tag T] [--only ID] [--skip ID] [--junit FILE] [--html FILE]
    gateway-conformance export ID... --out DIR --party ID --key FILE --cert FILE [...]

It exits 0 when every case selected passed or was skipped, 1 when one failed, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from conformance.suite import spec
from conformance.suite.builder import Builder, Message
from conformance.suite.doors import open_door
from conformance.suite.identities import Credentials
from conformance.suite.manifest import MANIFEST, ManifestError, Suite, load_suite
from conformance.suite.model import DOORS, Case, Unavailable
from conformance.suite.reports import console as console_report
from conformance.suite.reports import html, junit
from conformance.suite.results import RunInfo, Summary
from conformance.suite.runner import Runner
from conformance.suite.verdict import ReceiptCheck
from gateway.client import certificate_der
from gateway.signing.trust import TrustStore

console = Console(emoji=False, highlight=False)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        suite = load_suite(args.manifest)
        cases = suite.select(args.tag, args.only, args.skip)
        if not cases:
            console.print("[red]no case matches --tag/--only/--skip[/red]")
            return 2
        return int(args.run(args, suite, cases))
    except (ManifestError, ValueError, OSError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway-conformance", description="The gateway's conformance message suite")
    commands = parser.add_subparsers(title="commands")

    listing = commands.add_parser("list", help="print the cases")
    _selection(listing)
    listing.set_defaults(run=_list)

    run = commands.add_parser("run", help="run the cases against a gateway")
    run.add_argument("--target", required=True, help="the gateway's base URL (the broker's URL with --amqp-exchange)")
    door = run.add_mutually_exclusive_group()
    door.add_argument("--soap", action="store_true", help="drive the SOAP 1.1 door (POST /soap)")
    door.add_argument("--soap12", action="store_true", help="drive the SOAP 1.2 door")
    door.add_argument("--amqp-exchange", metavar="NAME", help="drive the AMQP door: publish to this inbound exchange")
    _signing(run)
    run.add_argument("--ca", type=Path, required=True, help="PEM trust anchors: receipts must chain to them")
    run.add_argument("--gateway-cert", type=Path, help="the gateway's certificate: receipts must be signed with it")
    run.add_argument("--junit", type=Path, help="write a JUnit XML report here")
    run.add_argument("--html", type=Path, help="write an HTML report here")
    _selection(run)
    run.set_defaults(run=_run)

    export = commands.add_parser("export", help="write the signed message(s) of cases to files")
    export.add_argument("only", nargs="+", metavar="ID", help="case ids (glob patterns allowed)")
    export.add_argument("--out", type=Path, required=True, help="the directory to write to")
    _signing(export)
    export.add_argument("--ca", type=Path, help="PEM trust anchors (to mint credentials with ca.key.pem)")
    export.set_defaults(run=_export, tag=[], skip=[], manifest=MANIFEST)
    return parser


def _selection(command: argparse.ArgumentParser) -> None:
    command.add_argument("--tag", action="append", default=[], help="only cases with this tag (repeatable)")
    command.add_argument("--only", action="append", default=[], help="only this case id or glob (repeatable)")
    command.add_argument("--skip", action="append", default=[], help="not this case id or glob (repeatable)")
    command.add_argument("--manifest", type=Path, default=MANIFEST, help=argparse.SUPPRESS)


def _signing(command: argparse.ArgumentParser) -> None:
    command.add_argument("--party", required=True, help="the party the run signs as (its From/identity)")
    command.add_argument("--key", type=Path, required=True, help="its private key (PEM)")
    command.add_argument("--cert", type=Path, required=True, help="its certificate (PEM, chain after it)")
    command.add_argument("--roles", help="its roles, comma-separated (default: from --parties)")
    command.add_argument(
        "--identities", type=Path, help="more identities: <party>.key.pem, <party>.cert.pem, ca.key.pem"
    )
    command.add_argument("--parties", type=Path, help="the gateway's parties.toml: roles and status of the parties")
    command.add_argument("--gateway-id", default=spec.DEFAULT_GATEWAY_ID, help="To/identity (default %(default)s)")
    command.add_argument(
        "--max-body-bytes",
        type=int,
        default=spec.DEFAULT_MAX_BODY_BYTES,
        help="the gateway's body limit (default 10 MiB)",
    )


def _credentials(args: argparse.Namespace) -> Credentials:
    return Credentials.load(
        args.party,
        args.key,
        args.cert,
        args.ca,
        roles=args.roles.split(",") if args.roles else None,
        identities_dir=args.identities,
        parties_file=args.parties,
        gateway_id=args.gateway_id,
    )


# --- list ---------------------------------------------------------------------------


def _list(args: argparse.Namespace, suite: Suite, cases: list[Case]) -> int:
    """One line per case (its id, expectation, tags and doors), its title below: readable, and easy to grep."""
    console.print(f"Conformance suite {suite.version} (seed {suite.seed})", highlight=False)
    for case in cases:
        doors = "" if case.doors == DOORS else f" ({', '.join(case.doors)} only)"
        line = f"{case.id}  {case.describe_expectation()}  [{', '.join(case.tags)}]{doors}\n    {case.title}"
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    counts = Counter(tag for case in cases for tag in case.tags)
    summary = f"{len(cases)} cases; by tag: " + ", ".join(f"{tag} {n}" for tag, n in sorted(counts.items()))
    console.print(summary, highlight=False, soft_wrap=True)
    return 0


# --- run ----------------------------------------------------------------------------


def _run(args: argparse.Namespace, suite: Suite, cases: list[Case]) -> int:
    soap = "1.1" if args.soap else "1.2" if args.soap12 else None
    door = open_door(args.target, soap, args.amqp_exchange)
    receipts = ReceiptCheck(
        TrustStore.from_files([args.ca]), certificate_der(args.gateway_cert) if args.gateway_cert else None
    )
    runner = Runner(door, Builder(_credentials(args), args.max_body_bytes), receipts)
    started, clock = dt.datetime.now(dt.UTC), time.monotonic()
    try:
        results = console_report.run_with_progress(runner, cases, console)
    finally:
        door.close()
    info = RunInfo(args.target, door.name, args.party, suite.version, suite.seed, started, time.monotonic() - clock)
    console_report.report(results, console)
    if args.junit:
        junit.write(args.junit, results, info)
    if args.html:
        html.write(args.html, results, info)
    return 0 if Summary.of(results).ok else 1


# --- export -------------------------------------------------------------------------


def _export(args: argparse.Namespace, suite: Suite, cases: list[Case]) -> int:
    builder = Builder(_credentials(args), args.max_body_bytes)
    args.out.mkdir(parents=True, exist_ok=True)
    for case in cases:
        try:
            prepared = builder.prepare(case)
        except Unavailable as exc:
            console.print(f"[yellow]skipped[/yellow] {escape(case.id)}: {escape(str(exc))}", highlight=False)
            continue
        sent: dict[str, Message] = {}
        for number, step in enumerate(prepared, start=1):
            message = builder.build(step, sent)
            sent[step.step.name] = message
            name = case.id if len(prepared) == 1 else f"{case.id}.{number}-{step.step.name}"
            path = args.out / f"{name}.xml"
            path.write_bytes(message.body)
            console.print(f"{escape(str(path))}: expected {escape(step.step.expect.describe())}", highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
