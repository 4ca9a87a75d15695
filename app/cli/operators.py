"""`gateway operators add|list|disable|passwd|token`: the console's accounts, from a shell on the server.

    add LOGIN --role R [--party ID] [--password-stdin]   a new account (the password is asked twice, or read
                                                         from stdin for scripts)
    list                                                 every account
    disable LOGIN [--reason TEXT]                        it can no longer log in; its sessions and tokens end
    passwd LOGIN [--password-stdin]                      a new password; the account's sessions end
    token LOGIN --name NAME                              a new API token for the account, printed this once

Every change is an audit record naming the shell account that made it (`operator:<login name>`).
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import sys
from collections.abc import Iterator

from rich.table import Table

from app.cli.operator import operator_actor
from app.cli.output import console
from app.wiring import STATE_TABLES  # noqa: F401  (every table joins the store's metadata before it opens)
from console import audit
from console.accounts import AccountError, Accounts
from console.roles import Role
from gateway.config import load_settings
from gateway.parties import read_parties_file
from gateway.store.engine import make_engine

LOCAL = "local"  # the address of a command run on the server


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    operators = commands.add_parser("operators", help="the operators' console accounts")
    actions = operators.add_subparsers(title="operators commands")
    add = actions.add_parser("add", help="a new account")
    add.add_argument("login")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument("--party", help="for --role party: the registered party whose staff this is")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    add.set_defaults(run=_add)
    listing = actions.add_parser("list", help="every account")
    listing.set_defaults(run=_list)
    disable = actions.add_parser("disable", help="disable an account")
    disable.add_argument("login")
    disable.add_argument("--reason", help="why (kept in the audit trail)")
    disable.set_defaults(run=_disable)
    passwd = actions.add_parser("passwd", help="set an account's password")
    passwd.add_argument("login")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from stdin (one line)")
    passwd.set_defaults(run=_passwd)
    token = actions.add_parser("token", help="a new API token for an account (printed once)")
    token.add_argument("login")
    token.add_argument("--name", required=True, help="what the token is for")
    token.set_defaults(run=_token)


@contextlib.contextmanager
def accounts_of(args: argparse.Namespace) -> Iterator[Accounts]:
    """The accounts of the configured store, knowing the configured parties."""
    settings = load_settings(args.config)
    parties = frozenset(party.identity for party in read_parties_file(settings.parties_file, settings.pki_dir))
    engine = make_engine(settings.db_url)
    try:
        yield Accounts(engine, parties)
    finally:
        engine.dispose()


def _by(action: str, reason: str | None = None) -> audit.Entry:
    return audit.Entry(operator_actor(), action, LOCAL, reason=reason)


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def _add(args: argparse.Namespace) -> int:
    password = _password(args)
    with accounts_of(args) as accounts:
        operator = accounts.add(args.login, args.role, password, party=args.party, by=_by("account.add"))
    console.print(f"account {operator.login} ({operator.role}) added", markup=False)
    return 0


def _list(args: argparse.Namespace) -> int:
    table = Table("login", "role", "party", "status", title="Console accounts")
    with accounts_of(args) as accounts:
        everyone = accounts.all()
    for operator in everyone:
        table.add_row(operator.login, operator.role, operator.party or "-", operator.status)
    console.print(table)
    return 0


def _disable(args: argparse.Namespace) -> int:
    with accounts_of(args) as accounts:
        operator = accounts.disable(args.login, by=_by("account.disable", args.reason))
    console.print(f"account {operator.login} disabled", markup=False)
    return 0


def _passwd(args: argparse.Namespace) -> int:
    with accounts_of(args) as accounts:
        if accounts.get(args.login) is None:
            raise AccountError(f"no account {args.login}")
        accounts.set_password(args.login, _password(args), by=_by("account.password"))
    console.print(f"password of {args.login} changed; its sessions have ended", markup=False)
    return 0


def _token(args: argparse.Namespace) -> int:
    with accounts_of(args) as accounts:
        operator = accounts.get(args.login)
        if operator is None or not operator.active:
            raise AccountError(f"no active account {args.login}")
        _, secret = accounts.issue_token(operator, args.name, by=_by("token.issue"))
    sys.stdout.write(secret + "\n")
    return 0
