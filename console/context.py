"""What the console's endpoints work with, built once per console process."""

from __future__ import annotations

from dataclasses import dataclass

from console.accounts import Accounts
from console.sessions import Sessions
from customs.rules import Rules
from gateway.services import Services


@dataclass
class Console:
    services: Services
    rules: Rules
    accounts: Accounts
    sessions: Sessions

    @classmethod
    def of(cls, services: Services, rules: Rules) -> Console:
        known = frozenset(party.identity for party in services.parties.all())
        return cls(services, rules, Accounts(services.engine, known), Sessions(services.engine, services.settings.console))
