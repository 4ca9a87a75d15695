"""The `gateway` command."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import requests
from lxml import etree
from pika.exceptions import AMQPError
from rich.markup import escape
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from app.cli import audit, certs, db, messages, operators, outbox, parties, pull, read, report, retention
from app.cli.output import console, errors, write_json, write_raw
from gateway import logs
from gateway.client import ReceiptView
from gateway.config import load_settings
from gateway.exceptions import ConfigurationError, GatewayError, Rejected
from gateway.signing.keys import SigningIdentity
from gateway.signing.rotation import published_ders
from gateway.store.schema import SchemaMismatch


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    logs.configure("console", "warning")  # stdout carries only the command's output; `serve` configures its own
    try:
        return int(args.run(args) or 0)
    except SchemaMismatch as exc:
        return fail("the store cannot be used", exc)
    except ConfigurationError as exc:
        return fail("configuration error", exc)
    except Rejected as exc:  # a file that is not a readable envelope
        return fail(f"{getattr(args, 'file', 'the input')} cannot be used", exc)
    except GatewayError as exc:
        return fail("error", exc)
    except requests.RequestException as exc:  # (an OSError too: caught first)
        return fail("cannot reach the gateway", exc)
    except OSError as exc:  # a missing key or sample file
        return fail("error", exc)
    except SQLAlchemyError as exc:
        return fail("the store is unavailable", getattr(exc, "orig", None) or exc)
    except AMQPError as exc:
        return fail("the broker is unavailable", repr(exc))
    except etree.XMLSyntaxError as exc:
        return fail("not well-formed XML", exc)


def fail(what: str, problem: object) -> int:
    """One line on stderr; the message is printed as it is (its [section] names are not markup)."""
    first_line = next((line.strip() for line in str(problem).splitlines() if line.strip()), type(problem).__name__)
    errors.print(Text.assemble((f"{what}: ", "red"), first_line), soft_wrap=True)
    return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="Customs single-window message gateway")
    parser.add_argument(
        "--config",
        help="configuration file (default: $GATEWAY_CONFIG, else $GATEWAY_HOME/gateway.toml, "
        "else ./gateway.toml or ./config/gateway.toml)",
    )
    commands = parser.add_subparsers(title="commands")

    init = commands.add_parser("init", help="write an instance directory: configuration, rules and var/")
    init.add_argument("directory", type=Path, help="where (created if missing); then use GATEWAY_HOME=DIRECTORY")
    init.add_argument("--force", action="store_true", help="overwrite the configuration files already there")
    init.set_defaults(run=_init)

    serve = commands.add_parser("serve", help="run the gateway until interrupted")
    serve.add_argument("--bind", help="HOST:PORT for HTTP (default from the configuration, 127.0.0.1:8080)")
    serve.add_argument("--console-bind", help="HOST:PORT for the operators' console (default from the configuration, "
                       "127.0.0.1:8081)")
    serve.add_argument("--role", choices=["all", "ingress", "workers", "delivery", "console"], help="the part to run (default: all)")
    serve.set_defaults(run=_serve)

    keys = commands.add_parser("keys", help="development PKI").add_subparsers(title="keys commands")
    init = keys.add_parser("init", help="make a CA, the gateway's key and a key per registered party")
    init.add_argument("--dir", type=Path, help="where to write them (default: $GATEWAY_PKI_DIR or var/pki)")
    init.add_argument("--force", action="store_true", help="replace existing keys and the CA")
    init.set_defaults(run=_keys_init)
    revoke = keys.add_parser("revoke", help="revoke a party's development certificate in the CA's CRL (ca.crl.pem)")
    revoke.add_argument("party", help="the party's identity")
    revoke.add_argument("--dir", type=Path, help="the PKI directory (default: $GATEWAY_PKI_DIR or var/pki)")
    revoke.set_defaults(run=_keys_revoke)
    rotate = keys.add_parser("rotate", help="make the gateway's next key and certificate (see [keys] next_from)")
    rotate.add_argument("--finish", action="store_true", help="the next key becomes the current one (after next_from)")
    rotate.add_argument("--dir", type=Path, help="the PKI directory (default: $GATEWAY_PKI_DIR or var/pki)")
    rotate.set_defaults(run=_keys_rotate)

    sign = commands.add_parser("sign", help="sign an envelope and print it")
    _signing_arguments(sign)
    sign.set_defaults(run=_sign)

    submit = commands.add_parser("submit", help="sign if needed, send, verify and print the receipt")
    _signing_arguments(submit)
    submit.add_argument("--url", default="http://127.0.0.1:8080", help="the gateway's base URL")
    submit.add_argument("--soap", action="store_true", help="use the SOAP door (SOAP 1.1; --soap12 for 1.2)")
    submit.add_argument("--soap12", action="store_true", help="use the SOAP door with SOAP 1.2")
    submit.add_argument("--raw", action="store_true", help="print the receipt's XML too, byte for byte")
    submit.add_argument("--json", action="store_true", help="print the receipt's facts as one JSON object instead")
    submit.set_defaults(run=_submit)

    bench = commands.add_parser("bench", help="measure and print figures").add_subparsers(title="benchmarks")
    intake = bench.add_parser("intake", help="throughput and latency of the intake path over HTTP")
    intake.add_argument("--seconds", type=float, default=15.0, help="how long to drive each phase")
    intake.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    intake.add_argument("--rate", type=float, default=400.0, help="offered rate (messages/s) for the latency phase")
    intake.add_argument("--bind", default="127.0.0.1:8091", help="where the benchmarked gateway listens")
    intake.add_argument("--db", metavar="URL", help="run on a fresh database of this PostgreSQL server (default: SQLite)")
    intake.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto",
                        help="closed-loop load generator (auto: wrk when installed)")
    intake.add_argument("--soak", type=float, metavar="MINUTES", help="then hold 80%% of the peak this long, reading memory")
    intake.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    intake.set_defaults(run=_bench_intake)
    large = bench.add_parser("large", help="memory that one large message costs the process that handles it")
    large.add_argument("--megabytes", type=float, default=10.0, help="size of the signed message")
    large.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    large.set_defaults(run=_bench_large)
    bench_console = bench.add_parser("console", help="the console's search and dashboard queries on a million messages")
    bench_console.add_argument("--db-url", help="an empty store to seed (default: a new SQLite file in a temporary "
                               "directory); e.g. postgresql://postgres@127.0.0.1/bench")
    bench_console.add_argument("--messages", type=int, default=1_000_000, help="inbound messages to seed")
    bench_console.add_argument("--days", type=int, default=30, help="the period they are spread over")
    bench_console.add_argument("--repeat", type=int, default=50, help="runs of each query")
    bench_console.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    bench_console.set_defaults(run=_bench_console)

    demo = commands.add_parser("demo", help="drive a realistic flow end to end and show what happens")
    demo.add_argument("--bind", default="127.0.0.1:8080", help="where the demo gateway listens")
    demo.add_argument("--keep", action="store_true", help="keep the gateway running after the demo, until Ctrl-C "
                      "(to look around in the operators' console)")
    demo.set_defaults(run=_demo)

    db.register(commands)
    certs.register(commands)
    parties.register(commands)
    messages.register(commands)
    read.register(commands)
    report.register(commands)
    outbox.register(commands)
    pull.register(commands)
    retention.register(commands)
    operators.register(commands)
    audit.register(commands)
    return parser


def _signing_arguments(command: argparse.ArgumentParser) -> None:
    command.add_argument("file", type=Path, help="an envelope (signed or not)")
    command.add_argument("--party", required=True, help="the signing party's id (its key is taken from the PKI dir)")
    command.add_argument("--key", type=Path, help="private key PEM (default: <pki>/<party>.key.pem)")
    command.add_argument("--cert", type=Path, help="certificate PEM (default: <pki>/<party>.cert.pem)")
    command.add_argument("--fresh", action="store_true", help="give the envelope a new messageId and sendDate first")


def _init(args: argparse.Namespace) -> int:
    from app.instance import init_instance

    directory = args.directory.resolve()
    init_instance(directory, force=args.force)
    console.print(
        f"instance written to {directory}\nnext: export GATEWAY_HOME={directory}; gateway keys init; gateway serve",
        markup=False, highlight=False, soft_wrap=True,
    )
    return 0


def _serve(args: argparse.Namespace) -> int:
    from app.server import serve

    if args.console_bind:
        os.environ["GATEWAY_CONSOLE_BIND"] = args.console_bind  # read by every component's settings
    return serve(args.config, args.role or "all", args.bind)


def _keys_init(args: argparse.Namespace) -> int:
    from gateway.parties import read_parties_file
    from gateway.signing.pki import init_pki
    from gateway.signing.revocation.dev_crl import CRL_FILE, issue_crl

    settings = load_settings(args.config)
    directory = (args.dir or settings.pki_dir).resolve()
    parties = [p.key_spec() for p in read_parties_file(settings.parties_file, directory)]
    if settings.gateway.identity not in {p.identity for p in parties}:
        from gateway.signing.pki import PartyKeySpec

        gateway = settings.gateway
        parties.append(PartyKeySpec(gateway.identity, gateway.name, gateway.country, gateway.key_kind))
    made = init_pki(directory, parties, force=args.force)
    issue_crl(directory)
    console.print(
        f"PKI in {directory}: CA ca.pem, its CRL {CRL_FILE}; keys made for {', '.join(made) if made else 'nobody (all present)'}"
    )
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from gateway.signing.revocation.dev_crl import CRL_FILE, revoke_party

    directory = (args.dir or load_settings(args.config).pki_dir).resolve()
    certificate = revoke_party(directory, args.party)
    console.print(
        f"revoked {certificate.subject.rfc4514_string()} (serial {certificate.serial_number:x}) in {directory / CRL_FILE}; "
        "gateways see it at their next CRL refresh ([revocation] refresh_s)",
        markup=False, highlight=False, soft_wrap=True,
    )
    return 0


def _keys_rotate(args: argparse.Namespace) -> int:
    from gateway.signing import rotation
    from gateway.signing.pki import PartyKeySpec, cert_path

    settings = load_settings(args.config)
    directory = (args.dir or settings.pki_dir).resolve()
    gateway = settings.gateway
    if args.finish:
        identity = rotation.finish(directory, gateway.identity)
        message = (
            f"the next key is now the current one ({cert_path(directory, gateway.identity)}, expires "
            f"{identity.certificate.not_valid_after_utc:%Y-%m-%d}); the old pair is {rotation.previous_name(gateway.identity)}.*; "
            "remove [keys] next_from and restart the gateway"
        )
    else:
        identity = rotation.rotate(directory, PartyKeySpec(gateway.identity, gateway.name, gateway.country, gateway.key_kind))
        message = (
            f"next key and certificate in {cert_path(directory, rotation.next_name(gateway.identity))} "
            f"(expires {identity.certificate.not_valid_after_utc:%Y-%m-%d}); set [keys] next_from to the moment it takes over, "
            "restart the gateway, and have partners fetch GET /v1/certificates before that moment"
        )
    console.print(message, markup=False, highlight=False, soft_wrap=True)
    return 0


def _identity(args: argparse.Namespace) -> SigningIdentity:
    settings = load_settings(args.config)
    return SigningIdentity.load(args.key or settings.party_key(args.party), args.cert or settings.party_cert(args.party))


def _prepared(args: argparse.Namespace) -> bytes:
    """The file's envelope, signed by --party unless it already is."""
    from gateway import client

    root = client.load_envelope(args.file)
    if client.is_signed(root):
        if args.fresh:
            raise SystemExit("--fresh cannot change a signed envelope")
        return args.file.read_bytes()
    if args.fresh:
        client.refresh(root)
    return client.sign(root, _identity(args))


def _sign(args: argparse.Namespace) -> int:
    sys.stdout.buffer.write(_prepared(args))
    sys.stdout.buffer.write(b"\n")
    return 0


def _submit(args: argparse.Namespace) -> int:
    from gateway import client
    from gateway.signing.trust import TrustStore

    settings = load_settings(args.config)
    body = _prepared(args)
    if args.soap or args.soap12:
        submission = client.post_soap(args.url, body, "1.2" if args.soap12 else "1.1")
    else:
        submission = client.post_http(args.url, body)
    trust = TrustStore.from_files(settings.trust_anchors, settings.clock_skew)
    gateway_cert = published_ders(settings.pki_dir, settings.gateway.identity)
    try:
        receipt = client.read_receipt(submission.receipt, trust, gateway_cert)
    except client.ReceiptError as exc:
        console.print(f"[red]HTTP {submission.http_status}: {escape(str(exc))}[/red]")
        return 1
    if args.json:
        write_json(receipt_record(receipt, submission.http_status))
    else:
        print_receipt(receipt, submission.http_status)
    if args.raw:
        write_raw(receipt.raw)
    return 0 if receipt.accepted else 1


def receipt_record(receipt: ReceiptView, http_status: int) -> dict[str, object]:
    return {
        "status": receipt.status,
        "http_status": http_status,
        "function": receipt.function,
        "received_message_id": receipt.received_message_id,
        "digest": receipt.digest,
        "signer": receipt.signer,
        "errors": [{"code": code, "message": message, "location": location} for code, message, location in receipt.errors],
    }


def print_receipt(receipt: ReceiptView, http_status: int) -> None:
    colour = "green" if receipt.accepted else "red"
    console.print(
        f"[{colour}]{receipt.status}[/{colour}] (HTTP {http_status}, function {receipt.function}) "
        f"message {receipt.received_message_id or '-'}; receipt signed by {receipt.signer}, signature verified"
    )
    for code, message, location in receipt.errors:
        console.print(f"  [red]{code}[/red] {escape(message)}" + (f"  [dim]at {escape(location)}[/dim]" if location else ""))


def _bench_large(args: argparse.Namespace) -> int:
    from app.bench.large import run_large_bench

    return run_large_bench(args)


def _bench_intake(args: argparse.Namespace) -> int:
    from app.bench.intake import run_intake_bench

    return run_intake_bench(args)


def _bench_console(args: argparse.Namespace) -> int:
    from app.bench.console import run_console_bench

    return run_console_bench(args)


def _demo(args: argparse.Namespace) -> int:
    from app.cli.demo import run_demo

    return run_demo(args)


if __name__ == "__main__":
    sys.exit(main())
