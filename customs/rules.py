"""The business rules and risk profiles, read from configuration and re-read when their file changes.

Both files are parsed completely before they replace what is in use: a file with
a mistake is refused (logged, the previous rules stay) rather than half applied.
At start-up a mistake is fatal, like any other configuration error.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import structlog

from customs.partners import PartnerRules
from gateway.config import read_toml
from gateway.exceptions import ConfigurationError

log = structlog.get_logger(__name__)

LANES = ("GREEN", "YELLOW", "RED")
WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
COMPLIANCE_LEVELS = ("priority", "high", "moderate", "poor", "non-compliant")
CERTIFICATE_EXPIRY_DAYS = (60, 30, 7, 0)  # [alerts] certificate_expiry_days when not set


# --- business.toml --------------------------------------------------------------


@dataclass(frozen=True)
class Threshold:
    rule: str
    max_value_vnd: int
    effective_from: dt.date
    effective_to: dt.date | None = None

    def in_force(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


@dataclass(frozen=True)
class Authority:
    ministry: str
    hs_prefixes: tuple[str, ...]


@dataclass(frozen=True)
class Calendar:
    timezone: str = "Asia/Ho_Chi_Minh"
    country: str = "VN"
    working_days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    working_hours: tuple[tuple[dt.time, dt.time], ...] = ((dt.time(8), dt.time(12)), (dt.time(13), dt.time(17)))
    extra_holidays: frozenset[dt.date] = frozenset()
    extra_working_days: frozenset[dt.date] = frozenset()


@dataclass(frozen=True)
class AlertSettings:
    window: dt.timedelta
    min_messages: int
    rejection_rate_threshold: float
    mismatch_rate_threshold: float
    subscribers: dict[str, tuple[str, ...]]  # alert kind -> party ids
    certificate_expiry_days: tuple[int, ...]  # days before a certificate's notAfter it is alerted about; 0: expired
    unauthenticated_rejections_threshold: int | None  # per door and peer in a window (None: never)


@dataclass(frozen=True)
class Subscription:
    party: str
    document_types: frozenset[str]
    when: str  # "always" | "needs_subscriber_inspection"


SUBSCRIPTION_CONDITIONS = ("always", "needs_subscriber_inspection")


@dataclass(frozen=True)
class BusinessRules:
    version: str
    responsible_roles: tuple[str, ...]
    value_tolerance_percent: float
    quantity_tolerance: float
    wait_for_orders: dt.timedelta
    thresholds: tuple[Threshold, ...]
    calendar: Calendar
    deadline_working_hours: float
    authorities: tuple[Authority, ...]
    alerts: AlertSettings
    subscriptions: tuple[Subscription, ...]

    def threshold_on(self, day: dt.date) -> Threshold | None:
        return next((t for t in self.thresholds if t.in_force(day)), None)

    def ministry_for(self, hs_code: str) -> str | None:
        """The ministry in charge of goods with this HS code (the longest matching prefix wins)."""
        best: tuple[int, str] | None = None
        for authority in self.authorities:
            for prefix in authority.hs_prefixes:
                if hs_code.startswith(prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), authority.ministry)
        return best[1] if best else None

    def priority_of(self, role: str) -> int:
        """Lower is stronger; roles not listed come after all listed ones."""
        return self.responsible_roles.index(role) if role in self.responsible_roles else len(self.responsible_roles)


def parse_business(raw: dict[str, Any]) -> BusinessRules:
    orders, matching = raw.get("orders", {}), raw.get("matching", {})
    calendar, inspection, alerts = raw.get("calendar", {}), raw.get("inspection", {}), raw.get("alerts", {})
    subscribers: dict[str, list[str]] = {}
    for entry in alerts.get("subscription", []):
        for kind in entry["kinds"]:
            subscribers.setdefault(kind, []).append(entry["party"])
    subscriptions = tuple(
        Subscription(entry["party"], frozenset(entry["document_types"]), entry.get("when", "always"))
        for entry in raw.get("sharing", {}).get("subscription", [])
    )
    for subscription in subscriptions:
        _one_of("sharing.subscription.when", subscription.when, SUBSCRIPTION_CONDITIONS)
    thresholds = tuple(
        Threshold(entry["rule"], int(entry["max_value_vnd"]), _date(entry["effective_from"]), _date(entry.get("effective_to")))
        for entry in raw.get("exemption", {}).get("threshold", [])
    )
    if not thresholds:
        raise ValueError("[exemption] needs at least one [[exemption.threshold]]")
    return BusinessRules(
        version=str(raw["version"]),
        responsible_roles=tuple(orders.get("responsible_roles", ())),
        value_tolerance_percent=float(matching.get("value_tolerance_percent", 0.0)),
        quantity_tolerance=float(matching.get("quantity_tolerance", 0.0)),
        wait_for_orders=dt.timedelta(seconds=float(matching.get("wait_for_orders_s", 3600))),
        thresholds=thresholds,
        calendar=Calendar(
            timezone=calendar.get("timezone", "Asia/Ho_Chi_Minh"),
            country=calendar.get("country", "VN"),
            working_days=tuple(WEEKDAYS.index(_one_of("working_days", d, WEEKDAYS)) for d in calendar.get("working_days", WEEKDAYS[:5])),
            working_hours=tuple(
                (dt.time.fromisoformat(start), dt.time.fromisoformat(end))
                for start, end in calendar.get("working_hours", [["08:00", "12:00"], ["13:00", "17:00"]])
            ),
            extra_holidays=frozenset(_date(d) for d in calendar.get("extra_holidays", [])),
            extra_working_days=frozenset(_date(d) for d in calendar.get("extra_working_days", [])),
        ),
        deadline_working_hours=float(inspection.get("deadline_working_hours", 2.0)),
        authorities=tuple(Authority(a["ministry"], tuple(a["hs_prefixes"])) for a in inspection.get("authority", [])),
        alerts=AlertSettings(
            window=dt.timedelta(seconds=float(alerts.get("window_s", 86400))),
            min_messages=int(alerts.get("min_messages", 10)),
            rejection_rate_threshold=float(alerts.get("rejection_rate_threshold", 1.0)),
            mismatch_rate_threshold=float(alerts.get("mismatch_rate_threshold", 1.0)),
            subscribers={kind: tuple(parties) for kind, parties in subscribers.items()},
            certificate_expiry_days=_expiry_days(alerts.get("certificate_expiry_days", CERTIFICATE_EXPIRY_DAYS)),
            unauthenticated_rejections_threshold=_optional_count(alerts.get("unauthenticated_rejections_threshold")),
        ),
        subscriptions=subscriptions,
    )


# --- risk.toml ------------------------------------------------------------------

CONDITION_KEYS = frozenset(
    {
        "hs_prefixes",
        "origin_countries",
        "traders",
        "trader_lists",
        "platforms",
        "platform_lists",
        "origin_lists",
        "compliance_levels",
        "total_value_vnd_above",
        "total_value_vnd_below",
        "unit_value_vnd_above",
        "unit_value_vnd_below",
        "border_gates",
        "transport_modes",
        "platform_not_registered",
        "mismatch",
    }
)


@dataclass(frozen=True)
class RiskProfile:
    id: str
    version: int
    valid_from: dt.date
    valid_to: dt.date | None
    direction: str | None  # None: both
    lane: str
    selection_percent: float
    priority: int
    alert: bool
    reason: str
    instructions: str
    conditions: dict[str, Any] = field(hash=False)

    def valid_on(self, day: dt.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class RandomSelection:
    minimum_rate_percent: float
    lane: str
    reason: str
    instructions: str


@dataclass(frozen=True)
class RiskRules:
    version: str
    random: RandomSelection
    lists: dict[str, frozenset[str]]
    default_compliance: str
    compliance: dict[str, str]
    profiles: tuple[RiskProfile, ...]

    def compliance_of(self, party: str) -> str:
        return self.compliance.get(party, self.default_compliance)


def parse_risk(raw: dict[str, Any]) -> RiskRules:
    lists = {name: frozenset(values) for name, values in raw.get("lists", {}).items()}
    profiles = []
    for entry in raw.get("profile", []):
        conditions = dict(entry.get("conditions", {}))
        unknown = set(conditions) - CONDITION_KEYS
        if unknown:
            raise ValueError(f"profile {entry.get('id')}: unknown condition(s) {sorted(unknown)}")
        for key in ("trader_lists", "platform_lists", "origin_lists"):
            missing = [name for name in conditions.get(key, []) if name not in lists]
            if missing:
                raise ValueError(f"profile {entry['id']}: unknown list(s) {missing}")
        profiles.append(
            RiskProfile(
                id=entry["id"],
                version=int(entry["version"]),
                valid_from=_date(entry["valid_from"]),
                valid_to=_date(entry.get("valid_to")),
                direction=entry.get("direction"),
                lane=_one_of(f"profile {entry['id']} lane", entry["lane"], LANES[1:]),
                selection_percent=float(entry.get("selection_percent", 100)),
                priority=int(entry.get("priority", 100)),
                alert=bool(entry.get("alert", False)),
                reason=entry["reason"],
                instructions=entry.get("instructions", ""),
                conditions=conditions,
            )
        )
    ids = [p.id for p in profiles]
    if len(set(ids)) != len(ids):
        raise ValueError(f"profile ids must be unique: {ids}")
    random_entry = raw.get("random", {})
    compliance = raw.get("compliance", {})
    levels = dict(compliance.get("levels", {}))
    for level in [compliance.get("default", "moderate"), *levels.values()]:
        _one_of("compliance level", level, COMPLIANCE_LEVELS)
    return RiskRules(
        version=str(raw["version"]),
        random=RandomSelection(
            minimum_rate_percent=float(random_entry.get("minimum_rate_percent", 0.0)),
            lane=_one_of("random lane", random_entry.get("lane", "YELLOW"), LANES[1:]),
            reason=random_entry.get("reason", "Selected at random."),
            instructions=random_entry.get("instructions", ""),
        ),
        lists=lists,
        default_compliance=compliance.get("default", "moderate"),
        compliance=levels,
        profiles=tuple(sorted(profiles, key=lambda p: (p.priority, p.id))),
    )


# --- reloading ------------------------------------------------------------------

T = TypeVar("T")


class ReloadingFile(Generic[T]):
    """A configuration file parsed into `T`, re-read when its modification time or size changes."""

    def __init__(self, path: Path, parse: Callable[[dict[str, Any]], T], what: str) -> None:
        self.path = path
        self._parse = parse
        self._what = what
        self._lock = threading.Lock()
        self._stamp = self._stat()
        self._value = self._load()  # fatal at start-up

    def get(self) -> T:
        stamp = self._stat()
        if stamp != self._stamp:
            with self._lock:
                if stamp != self._stamp:
                    try:
                        self._value = self._load()
                        log.info("configuration reloaded", file=str(self.path), what=self._what)
                    except ConfigurationError as exc:
                        log.error("configuration change refused; keeping the rules in use", error=str(exc))
                    self._stamp = stamp
        return self._value

    def _stat(self) -> tuple[int, int]:
        try:
            stat = self.path.stat()
        except OSError:
            return (0, 0)
        return (stat.st_mtime_ns, stat.st_size)

    def _load(self) -> T:
        raw = read_toml(self.path, self._what)
        try:
            return self._parse(raw)
        except (KeyError, ValueError, TypeError) as exc:
            raise ConfigurationError(f"{self._what} {self.path}: {exc!r}") from None


_files: dict[tuple[Path, str], ReloadingFile[Any]] = {}
_files_lock = threading.Lock()


def _reloading(path: Path, parse: Callable[[dict[str, Any]], T], what: str) -> ReloadingFile[T]:
    key = (path, what)
    with _files_lock:
        if key not in _files:
            _files[key] = ReloadingFile(path, parse, what)
        return _files[key]


@dataclass(frozen=True)
class Rules:
    """The customs rules in force: business and risk rules re-read when their files change, partner rules fixed at start."""

    business_file: Path
    risk_file: Path
    partners: PartnerRules

    @property
    def business(self) -> BusinessRules:
        return business_rules(self.business_file)

    @property
    def risk(self) -> RiskRules:
        return risk_rules(self.risk_file)


def business_rules(path: Path) -> BusinessRules:
    """The business rules in force (one reloading reader per file and process)."""
    return _reloading(path, parse_business, "business rules").get()


def risk_rules(path: Path) -> RiskRules:
    """The risk profiles in force (one reloading reader per file and process)."""
    return _reloading(path, parse_risk, "risk profiles").get()


def _date(value: object) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _expiry_days(values: Iterable[object]) -> tuple[int, ...]:
    days = tuple(sorted({int(value) for value in values}, reverse=True))  # type: ignore[call-overload]
    if any(day < 0 for day in days):
        raise ValueError(f"alerts.certificate_expiry_days: {list(days)} has a negative number of days")
    return days


def _optional_count(value: object) -> int | None:
    if value is None:
        return None
    count = int(value)  # type: ignore[call-overload]
    if count < 0:
        raise ValueError(f"alerts.unauthenticated_rejections_threshold: {count} is negative")
    return count


def _one_of(what: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ValueError(f"{what}: {value!r} is not one of {allowed}")
    return value
