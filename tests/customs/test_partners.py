"""The partner rules (config/partners.toml): read, checked at start-up, matched by document type and role."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import REPO

from customs.partners import TO_DESTINATION, PartnerRules
from gateway.config import write_table_array
from gateway.exceptions import ConfigurationError
from gateway.parties import Party

DOCUMENT_TYPES = ["ATIGA_FORM_D", "ACDD", "ECOM_ORDER"]
PARTIES = ["VNSW", "SG-ASW"]


def party(*roles: str) -> Party:
    return Party("P", "P", "VN", frozenset(roles))


def load(tmp_path: Path, *rules: dict[str, object]) -> PartnerRules:
    return PartnerRules.load(write_table_array(tmp_path / "partners.toml", "rule", list(rules)), DOCUMENT_TYPES, PARTIES)


def test_the_repository_rules_send_the_nsws_documents_out_and_the_partners_documents_in() -> None:
    rules = PartnerRules.load(REPO / "config" / "partners.toml", DOCUMENT_TYPES, PARTIES)

    outward = rules.rule_for("ACDD", party("nsw"))
    inward = rules.rule_for("ATIGA_FORM_D", party("asw_partner"))

    assert outward is not None and (outward.to, outward.acknowledge) == (TO_DESTINATION, False)
    assert inward is not None and (inward.to, inward.acknowledge) == ("VNSW", True)
    assert rules.rule_for("ECOM_ORDER", party("nsw")) is None
    assert rules.rule_for("ACDD", party("marketplace")) is None


@pytest.mark.parametrize(
    ("rule", "complaint"),
    [
        ({"name": "r", "document_types": ["NOPE"], "from": "nsw", "to": "VNSW"}, "unknown document types ['NOPE']"),
        ({"name": "r", "document_types": ["ACDD"], "from": "smuggler", "to": "VNSW"}, "unknown role 'smuggler'"),
        ({"name": "r", "document_types": ["ACDD"], "from": "nsw", "to": "NOBODY"}, "'NOBODY', which is not a registered party"),
        ({"name": "r", "document_types": ["ECOM_ORDER"], "from": "nsw", "to": "destination"}, "the destination of ['ECOM_ORDER'] is not known"),
        ({"name": "r", "document_types": ["ACDD"], "from": "nsw"}, "lacks 'to'"),
    ],
)
def test_a_rule_naming_what_does_not_exist_stops_the_gateway(tmp_path: Path, rule: dict[str, object], complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(complaint)):
        load(tmp_path, rule)


def test_a_missing_rules_file_stops_the_gateway(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        PartnerRules.load(tmp_path / "partners.toml", DOCUMENT_TYPES, PARTIES)


def test_the_first_matching_rule_wins(tmp_path: Path) -> None:
    rules = load(
        tmp_path,
        {"name": "first", "document_types": ["ACDD"], "from": "nsw", "to": "SG-ASW"},
        {"name": "second", "document_types": ["ACDD", "ATIGA_FORM_D"], "from": "nsw", "to": "VNSW"},
    )

    assert rules.rule_for("ACDD", party("nsw")).name == "first"  # type: ignore[union-attr]
    assert rules.rule_for("ATIGA_FORM_D", party("nsw", "customs")).name == "second"  # type: ignore[union-attr]
