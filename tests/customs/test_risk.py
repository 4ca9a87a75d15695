"""Lane selection: which profiles fire, the lane they give, and draws that replay exactly from the record."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest

from customs.risk import RiskFacts, assess, draw, replay
from customs.rules import parse_risk, risk_rules

REPO = Path(__file__).resolve().parents[2]
RULES = risk_rules(REPO / "config" / "risk.toml")
DAY = dt.date(2026, 11, 23)
CLEAN = RiskFacts(
    direction="IMPORT",
    declarant="0309876543",
    compliance="moderate",
    total_value_vnd=4_670_880,
    border_gate="02B1",
    items=({"hs_code": "62014090", "origin": "CN", "value_vnd": 841_600, "quantity": 1.0},),
    platforms=frozenset({"VIETSHOP"}),
    transport_modes=frozenset({"AIR"}),
    platform_not_registered=False,
    mismatch=False,
)
NO_RANDOM = replace(RULES, random=replace(RULES.random, minimum_rate_percent=0.0))


def fired(facts: RiskFacts, rules=NO_RANDOM) -> list[str]:
    return [p["id"] for p in assess(facts, rules, DAY).profiles]


def test_a_clean_declaration_fires_nothing_and_goes_green() -> None:
    assessment = assess(CLEAN, NO_RANDOM, DAY)

    assert assessment.profiles == () and assessment.lane == "GREEN"


def test_a_mismatch_selects_yellow_with_its_plain_reason() -> None:
    assessment = assess(replace(CLEAN, mismatch=True), NO_RANDOM, DAY)

    assert assessment.lane == "YELLOW"
    assert [p["id"] for p in assessment.selected()] == ["RP-ORDER-MISMATCH"]
    assert "không khớp" in assessment.selected()[0]["reason"]


def test_item_conditions_must_hold_for_one_and_the_same_item() -> None:
    cheap_lipstick = {"hs_code": "33041000", "origin": "KR", "value_vnd": 90_000, "quantity": 3.0}  # 30,000 each
    dear_lipstick = {"hs_code": "33041000", "origin": "KR", "value_vnd": 900_000, "quantity": 3.0}
    cheap_jacket = {"hs_code": "62014090", "origin": "CN", "value_vnd": 10_000, "quantity": 1.0}

    assert fired(replace(CLEAN, items=(cheap_lipstick,))) == ["RP-COSMETICS-KR-VALUE"]
    assert fired(replace(CLEAN, items=(dear_lipstick, cheap_jacket))) == []


def test_red_beats_yellow() -> None:
    facts = replace(CLEAN, declarant="0312345678", mismatch=True)

    assessment = assess(facts, NO_RANDOM, DAY)

    assert {p["id"] for p in assessment.selected()} == {"RP-WATCHED-TRADER", "RP-ORDER-MISMATCH"}
    assert assessment.lane == "RED"


def test_direction_and_validity_limit_a_profile() -> None:
    exporting = replace(CLEAN, direction="EXPORT", mismatch=True)
    cheap = replace(CLEAN, items=({"hs_code": "33041000", "origin": "KR", "value_vnd": 1, "quantity": 1.0},))

    assert fired(exporting) == []
    assert fired(cheap) == ["RP-COSMETICS-KR-VALUE"]
    assert [p["id"] for p in assess(cheap, NO_RANDOM, dt.date(2028, 1, 1)).profiles] == []  # valid_to 2027-12-31


def test_a_partial_selection_follows_its_draw() -> None:
    facts = replace(CLEAN, compliance="poor", total_value_vnd=20_000_000)
    outcomes = {assess(facts, NO_RANDOM, DAY, seed=f"{n:032x}").lane for n in range(40)}

    assert outcomes == {"GREEN", "YELLOW"}  # selection_percent = 50


def test_random_selection_at_the_minimum_rate_is_recorded_and_replays_identically() -> None:
    always = replace(RULES, random=replace(RULES.random, minimum_rate_percent=100.0))

    assessment = assess(CLEAN, always, DAY)
    record = {"seed": assessment.seed, "profiles": list(assessment.profiles), "random": assessment.random, "lane": assessment.lane}

    assert assessment.lane == "YELLOW" and assessment.random["selected"]
    assert replay(record) == {}


def test_the_random_rate_selects_about_its_share() -> None:
    selected = sum(assess(CLEAN, RULES, DAY, seed=f"{n:032x}").random["selected"] for n in range(5000))

    assert 60 <= selected <= 140  # 2% of 5000 = 100


def test_a_tampered_record_does_not_replay() -> None:
    assessment = assess(replace(CLEAN, compliance="poor", total_value_vnd=20_000_000), NO_RANDOM, DAY)
    record = {"seed": assessment.seed, "profiles": list(assessment.profiles), "random": assessment.random, "lane": assessment.lane}

    forged = {**record, "lane": "RED"}
    other_seed = {**record, "seed": "ff" * 16}

    assert replay(forged) == {"lane": {"recorded": "RED", "replayed": assessment.lane}}
    assert set(replay(other_seed)) >= {"RP-POOR-COMPLIANCE-HIGH-VALUE", "RANDOM"}


def test_draws_are_deterministic_per_seed_and_name() -> None:
    assert draw("00" * 16, "A") == draw("00" * 16, "A")
    assert draw("00" * 16, "A") != draw("00" * 16, "B")
    assert 0 <= draw("ab" * 16, "RANDOM") < 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"conditions": {"colour": ["red"]}}, "unknown condition"),
        ({"conditions": {"trader_lists": ["nobody"]}}, "unknown list"),
        ({"lane": "GREEN"}, "lane"),
    ],
)
def test_a_bad_profile_is_refused(change: dict, message: str) -> None:
    profile = {"id": "X", "version": 1, "valid_from": "2026-01-01", "lane": "RED", "reason": "r", **change}

    with pytest.raises(ValueError, match=message):
        parse_risk({"version": "1", "profile": [profile]})
