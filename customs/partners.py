"""The partner rules (config/partners.toml): which documents go to the NSW and the ASEAN partners.

A rule names document types and the role of the party they come from, and where
they go: a party id, or "destination" (the ASEAN partner of the document's
destination country). A rule with `acknowledge` makes this gateway the receiving
side, which answers with a CUSTOMS_RESPONSE. The rules say nothing about
transports: how a party receives its messages is its own configuration.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from customs.documents import prefixes
from gateway.config import read_toml
from gateway.exceptions import ConfigurationError
from gateway.parties import ROLES, Party

TO_DESTINATION = "destination"


@dataclass(frozen=True, slots=True)
class Countries:
    """Where, in a document's payload, the countries it travels between are written (XPath)."""

    origin: str  # the country that issued or exported it: the sending single window's
    destination: str  # the country it is for: the receiving single window's


# Paths below the payload: p: is its own namespace, cm: the common types'.
COUNTRIES: dict[str, Countries] = {
    "ATIGA_FORM_D": Countries("p:issuingAuthority/p:countryCode", "p:consignee/cm:countryCode"),
    "ACDD": Countries("p:countryOfExport", "p:countryOfDestination"),
}


def country(payload: etree._Element, path: str) -> str | None:
    found = payload.xpath(f"string({path})", namespaces=prefixes(payload, "p"))
    return str(found).strip() or None


@dataclass(frozen=True)
class Rule:
    name: str
    document_types: frozenset[str]
    from_role: str
    to: str  # a party id, or TO_DESTINATION
    acknowledge: bool = False

    def matches(self, document_type: str, sender: Party) -> bool:
        return document_type in self.document_types and self.from_role in sender.roles


class PartnerRules:
    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)

    @classmethod
    def load(cls, path: Path, document_types: Iterable[str], party_ids: Iterable[str]) -> PartnerRules:
        """Read and check the rules: every name they use must exist, or the gateway does not start."""
        entries = read_toml(path, "partner rules").get("rule", [])
        try:
            rules = [
                Rule(
                    name=entry["name"],
                    document_types=frozenset(entry["document_types"]),
                    from_role=entry["from"],
                    to=entry["to"],
                    acknowledge=bool(entry.get("acknowledge", False)),
                )
                for entry in entries
            ]
        except KeyError as exc:
            raise ConfigurationError(f"{path}: a [[rule]] entry lacks {exc}") from None
        known, registered = set(document_types), set(party_ids)
        for rule in rules:
            where = f"{path}, rule {rule.name!r}"
            if unknown := rule.document_types - known:
                raise ConfigurationError(f"{where}: unknown document types {sorted(unknown)}")
            if rule.from_role not in ROLES:
                raise ConfigurationError(f"{where}: unknown role {rule.from_role!r}; roles are {sorted(ROLES)}")
            if rule.to == TO_DESTINATION:
                if unplaced := rule.document_types - COUNTRIES.keys():
                    raise ConfigurationError(f"{where}: the destination of {sorted(unplaced)} is not known")
            elif rule.to not in registered:
                raise ConfigurationError(f"{where}: forwards to {rule.to!r}, which is not a registered party")
        return cls(rules)

    def rule_for(self, document_type: str, sender: Party) -> Rule | None:
        return next((rule for rule in self.rules if rule.matches(document_type, sender)), None)
