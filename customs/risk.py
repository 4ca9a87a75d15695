"""Lane selection: risk profiles, a minimum random rate, and seeded draws that replay exactly.

A profile *fires* when all its conditions hold for the declaration; it then
*selects* its lane when its draw falls under its selection percentage. Every
draw comes from one seed recorded with the decision: draw = HMAC-SHA256(seed,
name) read as a number in [0, 1). The seed is fresh and unpredictable for each
decision (a declarant cannot aim for a lucky draw), and the record keeps it,
so `replay` recomputes every draw and the lane exactly.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from customs.rules import LANES, RiskProfile, RiskRules

RANDOM = "RANDOM"


@dataclass(frozen=True)
class RiskFacts:
    """What the profiles may look at."""

    direction: str
    declarant: str
    compliance: str
    total_value_vnd: int
    border_gate: str
    items: tuple[dict[str, Any], ...]  # hs_code, origin, value_vnd, quantity
    platforms: frozenset[str]
    transport_modes: frozenset[str]
    platform_not_registered: bool
    mismatch: bool


@dataclass(frozen=True)
class Assessment:
    lane: str
    seed: str
    profiles: tuple[dict[str, Any], ...]  # every profile that fired, with its draw and whether it selected
    random: dict[str, Any]

    def selected(self) -> list[dict[str, Any]]:
        return [p for p in self.profiles if p["selected"]]


def assess(facts: RiskFacts, rules: RiskRules, on: dt.date, seed: str | None = None) -> Assessment:
    seed = seed or secrets.token_hex(16)
    fired = [p for p in rules.profiles if p.valid_on(on) and _fires(p, facts, rules)]
    profiles = tuple(_drawn(p, seed) for p in fired)
    random_draw = draw(seed, RANDOM)
    random = {
        "draw": random_draw,
        "rate_percent": rules.random.minimum_rate_percent,
        "lane": rules.random.lane,
        "reason": rules.random.reason,
        "instructions": rules.random.instructions,
        "selected": random_draw * 100 < rules.random.minimum_rate_percent,
    }
    return Assessment(lane_of(profiles, random), seed, profiles, random)


def replay(record: dict[str, Any]) -> dict[str, Any]:
    """Recompute the draws and the lane of a decision record; returns what differs (empty: identical)."""
    seed = record["seed"]
    differences: dict[str, Any] = {}
    profiles = []
    for profile in record["profiles"]:
        again = {**profile, "draw": draw(seed, profile["id"])}
        again["selected"] = again["draw"] * 100 < profile["selection_percent"]
        if (again["draw"], again["selected"]) != (profile["draw"], profile["selected"]):
            differences[profile["id"]] = {"recorded": profile, "replayed": again}
        profiles.append(again)
    random = {**record["random"], "draw": draw(seed, RANDOM)}
    random["selected"] = random["draw"] * 100 < random["rate_percent"]
    if (random["draw"], random["selected"]) != (record["random"]["draw"], record["random"]["selected"]):
        differences[RANDOM] = {"recorded": record["random"], "replayed": random}
    lane = lane_of(profiles, random)
    if lane != record["lane"]:
        differences["lane"] = {"recorded": record["lane"], "replayed": lane}
    return differences


def draw(seed: str, name: str) -> float:
    digest = hmac.new(bytes.fromhex(seed), name.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def lane_of(profiles: Any, random: dict[str, Any]) -> str:
    lanes = [p["lane"] for p in profiles if p["selected"]] + ([random["lane"]] if random["selected"] else [])
    return max(lanes, key=LANES.index, default="GREEN")


def _drawn(profile: RiskProfile, seed: str) -> dict[str, Any]:
    value = draw(seed, profile.id)
    return {
        "id": profile.id,
        "version": profile.version,
        "lane": profile.lane,
        "priority": profile.priority,
        "selection_percent": profile.selection_percent,
        "draw": value,
        "selected": value * 100 < profile.selection_percent,
        "alert": profile.alert,
        "reason": profile.reason,
        "instructions": profile.instructions,
    }


def _fires(profile: RiskProfile, facts: RiskFacts, rules: RiskRules) -> bool:
    c = profile.conditions
    if profile.direction and profile.direction != facts.direction:
        return False
    traders = set(c.get("traders", [])).union(*(rules.lists[name] for name in c.get("trader_lists", [])))
    platforms = set(c.get("platforms", [])).union(*(rules.lists[name] for name in c.get("platform_lists", [])))
    checks = [
        not traders or facts.declarant in traders,
        not platforms or bool(facts.platforms & platforms),
        "compliance_levels" not in c or facts.compliance in c["compliance_levels"],
        "total_value_vnd_above" not in c or facts.total_value_vnd > c["total_value_vnd_above"],
        "total_value_vnd_below" not in c or facts.total_value_vnd < c["total_value_vnd_below"],
        "border_gates" not in c or facts.border_gate in c["border_gates"],
        "transport_modes" not in c or bool(facts.transport_modes & set(c["transport_modes"])),
        not c.get("platform_not_registered") or facts.platform_not_registered,
        not c.get("mismatch") or facts.mismatch,
        any(_item_fires(c, item, rules) for item in facts.items),
    ]
    return all(checks)


def _item_fires(c: dict[str, Any], item: dict[str, Any], rules: RiskRules) -> bool:
    """Item conditions must all hold for one and the same item."""
    origins = set(c.get("origin_countries", [])).union(*(rules.lists[name] for name in c.get("origin_lists", [])))
    unit_value = item["value_vnd"] / item["quantity"] if item["quantity"] else item["value_vnd"]
    return all(
        [
            "hs_prefixes" not in c or any(item["hs_code"].startswith(p) for p in c["hs_prefixes"]),
            not origins or item["origin"] in origins,
            "unit_value_vnd_above" not in c or unit_value > c["unit_value_vnd_above"],
            "unit_value_vnd_below" not in c or unit_value < c["unit_value_vnd_below"],
        ]
    )
