"""Configuration: one TOML file (plus parties.toml, routes.toml and the rules beside it) and the environment.

Which file: `--config FILE`, else GATEWAY_CONFIG, else `gateway.toml` in the
instance directory GATEWAY_HOME, else ./gateway.toml or ./config/gateway.toml
(a checkout). Finding none is an error: a command never falls back to defaults
that would read or create a store in whatever directory it was started from.
Relative paths in the file are relative to the file. Every value has a default;
the environment variables of DESIGN.md's interface contract override the file:
GATEWAY_DB_URL, GATEWAY_AMQP_URL, GATEWAY_PKI_DIR (and GATEWAY_VAR_DIR, GATEWAY_CONSOLE_BIND).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from gateway.exceptions import ConfigurationError

CONFIG_FILE = "gateway.toml"
SEARCHED = (Path(CONFIG_FILE), Path("config") / CONFIG_FILE)  # from the working directory, in this order
DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@dataclass(frozen=True)
class GatewayIdentity:
    identity: str = "VNECOMGW"
    name: str = "Hệ thống TMĐT Hải quan Việt Nam"
    country: str = "VN"
    key_kind: str = "ec-p256"


@dataclass(frozen=True)
class HttpSettings:
    bind: str = "127.0.0.1:8080"
    processes: int = 0  # 0: one per core
    threads: int = 8  # per process: the threads that run the doors on complete requests
    max_body_bytes: int = 10 * 1024 * 1024
    timeout_s: int = 30
    # Slow clients (app/httpd): a request's headers must arrive within header_timeout_s; its body within
    # body_timeout_s, extended by a second for every body_min_rate bytes received.
    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    body_min_rate: int = 32 * 1024
    max_connections: int = 1000  # per process; over it a request gets 503
    switch_interval_s: float = 0.0005  # the GIL switch interval in the HTTP workers
    pin_to_core: bool = True  # each HTTP process keeps to a core of its own (app/httpd/affinity.py)


@dataclass(frozen=True)
class BrokerSettings:
    url: str = DEFAULT_AMQP_URL
    namespace: str = "gateway"
    prefetch: int = 32
    max_attempts: int = 5
    publish_timeout_s: float = 5.0
    heartbeat_s: int = 30  # AMQP heartbeats; an idle publisher connection older than half of it is replaced before use
    relay_interval_s: float = 2.0
    relay_grace_s: float = 10.0
    relay_batch: int = 500


@dataclass(frozen=True)
class IntakeSettings:
    """What intake accepts beyond the schemas."""

    max_age_s: float = 86400.0  # how long before its receipt a message may have been sent (the replay window)
    # The shape of a document, refused while it is parsed (gateway/xmlsafe.py, StructureLimits):
    max_elements: int = 50_000
    max_attributes_per_element: int = 64
    max_namespaces_per_element: int = 16
    max_namespaces_in_scope: int = 32
    max_certificate_bytes: int = 16 * 1024  # the DER of any one certificate in KeyInfo


@dataclass(frozen=True)
class RevocationSettings:
    """Revocation checking of signing certificates (gateway/signing/revocation)."""

    policy: str = "soft"  # off, soft or hard: the default for every trust anchor and partner CA
    by_ca: tuple[tuple[str, str], ...] = ()  # (SHA-256 fingerprint of a CA, policy): exceptions to `policy`
    crls: tuple[str, ...] = ()  # CRL files (absolute paths) or http(s) URLs fetched on the timer
    ocsp: str | None = None  # the OCSP responder for certificates that name none (AIA)
    ocsp_timeout_s: float = 2.0
    ocsp_cache_s: float = 300.0  # longest an OCSP answer is kept (less when its nextUpdate is sooner)
    ocsp_failure_cache_s: float = 30.0  # how long a responder that failed is not asked again for that certificate
    refresh_s: float = 300.0  # how often CRLs are fetched again
    cache_dir: Path = Path("crl")

    def policy_for(self, ca_fingerprint: str) -> str:
        return dict(self.by_ca).get(ca_fingerprint, self.policy)


@dataclass(frozen=True)
class SupervisorSettings:
    """Restarting components that exit (app/supervisor.py)."""

    first_restart_s: float = 0.5  # the wait before the first restart; it doubles with each recent exit ...
    max_restart_s: float = 30.0  # ... up to this
    max_restarts: int = 5  # a component that exits this many times ...
    window_s: float = 60.0  # ... within this many seconds stops the gateway


@dataclass(frozen=True)
class DeliverySettings:
    """Getting the gateway's own messages to their recipients (gateway/outbound/delivery.py)."""

    threads: int = 8  # pushes in flight at once, over all recipients
    in_flight: int = 1  # pushes in flight per recipient: 1 keeps its messages in order, and a slow one holds 1 thread
    timeout_s: float = 10.0  # for one push, connection and answer
    max_attempts: int = 8  # push attempts before a message is parked for an operator
    first_retry_s: float = 5.0  # the wait after the first failed attempt; it doubles after each one
    max_retry_s: float = 600.0  # up to this
    batch_size: int = 50  # messages in the answer to one pull query (the query may ask for fewer)
    batch_bytes: int = 4 * 1024 * 1024  # and at most this many bytes of them (always at least one message)

    def retry_delays_ms(self) -> tuple[int, ...]:
        """The wait after each failed attempt but the last, in milliseconds."""
        return tuple(
            round(min(self.first_retry_s * 2**attempt, self.max_retry_s) * 1000) for attempt in range(self.max_attempts - 1)
        )


@dataclass(frozen=True)
class RetentionSettings:
    """How long messages in a final state are kept before `gateway purge` archives and removes them.

    Periods are in days; None keeps for ever (the default for everything).
    """

    document_types: dict[str, float] = field(default_factory=dict)  # inbound messages, by document type
    default_days: float | None = None  # inbound messages of the types not named above
    outbox_days: float | None = None  # the gateway's own messages, once delivered
    rejections_days: float | None = None
    archive_dir: Path = Path("archive")  # under the var directory unless absolute
    every_s: float = 0.0  # the purge timer (in the timers component); 0: only `gateway purge`
    batch: int = 500  # messages per archive and per transaction

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ConfigurationError(f"[retention] batch must be at least 1, not {self.batch}")

    @property
    def keeps_everything(self) -> bool:
        return not self.document_types and self.default_days is self.outbox_days is self.rejections_days is None


@dataclass(frozen=True)
class ConsoleSettings:
    """The operators' console (console/): its own listener, never the parties' port."""

    bind: str = "127.0.0.1:8081"
    session_ttl_s: float = 8 * 3600.0  # a session cookie expires this long after the login
    secure_cookies: bool = False  # true when the console is served over TLS (behind a proxy): cookies only over HTTPS
    login_max_failures: int = 5  # failed logins for one account, or ten times this from one address ...
    login_window_s: float = 900.0  # ... within this many seconds refuse further tries until the window passes
    seal_interval_s: float = 86400.0  # how often the console signs the audit trail's head with the gateway's key


@dataclass(frozen=True)
class Settings:
    """The whole configuration, resolved: paths are absolute, URLs are final."""

    config_dir: Path
    var_dir: Path
    pki_dir: Path
    db_url: str
    gateway: GatewayIdentity = field(default_factory=GatewayIdentity)
    http: HttpSettings = field(default_factory=HttpSettings)
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    supervisor: SupervisorSettings = field(default_factory=SupervisorSettings)
    intake: IntakeSettings = field(default_factory=IntakeSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    trust_anchors: tuple[Path, ...] = ()
    revocation: RevocationSettings = field(default_factory=RevocationSettings)
    next_key_from: dt.datetime | None = None  # [keys] next_from: when the gateway's next key starts signing
    clock_skew: dt.timedelta = dt.timedelta(minutes=5)
    schema_packs: tuple[Path, ...] = ()
    parties_file: Path = Path("parties.toml")
    routes_file: Path = Path("routes.toml")
    partners_file: Path = Path("partners.toml")  # which documents go to and come from the NSW and ASEAN partners
    business_file: Path = Path("business.toml")  # orders, matching, exemption, calendar, inspection, alerts, sharing
    risk_file: Path = Path("risk.toml")  # risk profiles, lists and random selection; re-read when it changes
    log_format: str = "json"
    log_level: str = "info"

    def party_key(self, identity: str) -> Path:
        return self.pki_dir / f"{identity}.key.pem"

    def party_cert(self, identity: str) -> Path:
        return self.pki_dir / f"{identity}.cert.pem"


def read_toml(path: Path, what: str) -> dict[str, Any]:
    """A TOML file's content; an unreadable or invalid file is a `ConfigurationError` naming it."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationError(f"{what} {path} cannot be read: {exc}") from None


def find_config(path: Path | str | None = None, environ: dict[str, str] | None = None) -> Path:
    """The configuration file to use (see the module's docstring); a ConfigurationError when there is none."""
    env = os.environ if environ is None else environ
    if path or env.get("GATEWAY_CONFIG"):
        named = Path(path or env["GATEWAY_CONFIG"])
        if not named.is_file():
            raise ConfigurationError(f"configuration file {named} does not exist")
        return named.resolve()
    if env.get("GATEWAY_HOME"):
        home = Path(env["GATEWAY_HOME"])
        if not (home / CONFIG_FILE).is_file():
            raise ConfigurationError(f"GATEWAY_HOME={home} has no {CONFIG_FILE}; make an instance there with `gateway init {home}`")
        return (home / CONFIG_FILE).resolve()
    for candidate in SEARCHED:
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigurationError(
        "no configuration found: pass --config FILE, or set GATEWAY_HOME to an instance directory "
        "(make one with `gateway init DIR`), or run from a directory with gateway.toml or config/gateway.toml"
    )


def load_settings(path: Path | str | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read the configuration file that `find_config` finds."""
    env = dict(os.environ if environ is None else environ)
    config_path = find_config(path, env)
    raw = read_toml(config_path, "configuration file")
    _check_file(config_path, raw)
    config_dir = config_path.parent
    paths = raw.get("paths", {})
    # The environment's paths are the shell's (relative to the working directory); the file's are its own.
    var_dir = _directory(env.get("GATEWAY_VAR_DIR"), config_dir, paths.get("var"), config_dir / "var")
    pki_dir = _directory(env.get("GATEWAY_PKI_DIR"), config_dir, paths.get("pki"), var_dir / "pki")
    db_url = env.get("GATEWAY_DB_URL") or raw.get("store", {}).get("url") or f"sqlite:///{var_dir / 'gateway.db'}"

    def relative(value: str) -> Path:
        text = value.replace("{pki}", str(pki_dir)).replace("{config}", str(config_dir))
        candidate = Path(text)
        return candidate if candidate.is_absolute() else (config_dir / candidate).resolve()

    trust = raw.get("trust", {})
    broker = {**raw.get("broker", {}), "url": env.get("GATEWAY_AMQP_URL") or raw.get("broker", {}).get("url", DEFAULT_AMQP_URL)}
    logging = raw.get("logging", {})
    retention = raw.get("retention", {})
    try:
        return Settings(
            config_dir=config_dir,
            var_dir=var_dir,
            pki_dir=pki_dir,
            db_url=db_url,
            gateway=GatewayIdentity(**raw.get("gateway", {})),
            http=HttpSettings(**raw.get("http", {})),
            broker=BrokerSettings(**broker),
            delivery=DeliverySettings(**raw.get("delivery", {})),
            supervisor=SupervisorSettings(**raw.get("supervisor", {})),
            intake=IntakeSettings(**raw.get("intake", {})),
            retention=RetentionSettings(
                **{**retention, "archive_dir": var_dir / retention.get("archive_dir", "archive")}  # (absolute stays)
            ),
            console=ConsoleSettings(**_with_env(raw.get("console", {}), "bind", env.get("GATEWAY_CONSOLE_BIND"))),
            trust_anchors=tuple(relative(p) for p in trust.get("anchors", ["{pki}/ca.pem"])),
            revocation=_revocation(raw.get("revocation", {}), relative, var_dir),
            next_key_from=_zoned(config_path, "keys", "next_from", raw.get("keys", {}).get("next_from")),
            clock_skew=dt.timedelta(seconds=trust.get("clock_skew_s", 300)),
            schema_packs=tuple(relative(p) for p in raw.get("schemas", {}).get("packs", [])),
            parties_file=relative(raw.get("registry", {}).get("parties", "parties.toml")),
            routes_file=relative(raw.get("registry", {}).get("routes", "routes.toml")),
            partners_file=relative(raw.get("registry", {}).get("partners", "partners.toml")),
            business_file=relative(raw.get("registry", {}).get("business", "business.toml")),
            risk_file=relative(raw.get("registry", {}).get("risk", "risk.toml")),
            log_format=env.get("GATEWAY_LOG_FORMAT") or logging.get("format", "json"),
            log_level=env.get("GATEWAY_LOG_LEVEL") or logging.get("level", "info"),
        )
    except TypeError as exc:
        raise ConfigurationError(f"{config_path}: {exc}") from None


def _with_env(section: dict[str, Any], key: str, from_env: str | None) -> dict[str, Any]:
    return {**section, key: from_env} if from_env else section


def _revocation(raw: dict[str, Any], relative: Callable[[str], Path], var_dir: Path) -> RevocationSettings:
    """[revocation]: CRL sources resolved (a URL stays as written), per-CA policies from the three lists."""
    by_ca = tuple((print_.lower().replace(":", ""), policy) for policy in POLICIES for print_ in raw.get(policy, []))
    return RevocationSettings(
        policy=raw.get("policy", "soft"),
        by_ca=by_ca,
        crls=tuple(c if "://" in c else str(relative(c)) for c in raw.get("crls", ["{pki}/ca.crl.pem"])),
        ocsp=raw.get("ocsp") or None,
        ocsp_timeout_s=raw.get("ocsp_timeout_s", 2.0),
        ocsp_cache_s=raw.get("ocsp_cache_s", 300.0),
        ocsp_failure_cache_s=raw.get("ocsp_failure_cache_s", 30.0),
        refresh_s=raw.get("refresh_s", 300.0),
        cache_dir=var_dir / "crl",
    )


def _zoned(path: Path, section: str, key: str, value: str | None) -> dt.datetime | None:
    """An ISO 8601 date-time with its offset (a moment, not a wall-clock time), or None when not set."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ConfigurationError(f"{path}: [{section}] {key} must be a date-time with its offset, e.g. 2027-01-01T00:00:00+07:00, not {value!r}")
    return moment


def _directory(from_env: str | None, config_dir: Path, from_file: str | None, default: Path) -> Path:
    if from_env:
        return Path(from_env).resolve()
    if from_file:
        return (config_dir / from_file).resolve()
    return default.resolve()


# What each section may hold, and of which kind: a value of another kind is refused when the file is read,
# before any component starts. The dataclass sections take their kinds from the dataclasses' fields.
Kind = type | tuple[type, ...]
NUMBER: Kind = (int, float)
TEXT_LIST = "list of strings"
DAYS_BY_NAME = "table of numbers of days"
_SECTIONS: dict[str, dict[str, Kind | str]] = {
    "paths": {"var": str, "pki": str},
    "store": {"url": str},
    "trust": {"anchors": TEXT_LIST, "clock_skew_s": NUMBER},
    "revocation": {
        "policy": str,
        "hard": TEXT_LIST,
        "soft": TEXT_LIST,
        "off": TEXT_LIST,
        "crls": TEXT_LIST,
        "ocsp": str,
        "ocsp_timeout_s": NUMBER,
        "ocsp_cache_s": NUMBER,
        "ocsp_failure_cache_s": NUMBER,
        "refresh_s": NUMBER,
    },
    "keys": {"next_from": str},
    "registry": {"parties": str, "routes": str, "business": str, "risk": str, "partners": str},
    "schemas": {"packs": TEXT_LIST},
    "logging": {"format": str, "level": str},
    "retention": {
        "document_types": DAYS_BY_NAME, "default_days": NUMBER, "outbox_days": NUMBER, "rejections_days": NUMBER,
        "archive_dir": str, "every_s": NUMBER, "batch": int,
    },
}
POLICIES = ("off", "soft", "hard")
_CHOICES = {("revocation", "policy"): POLICIES, ("logging", "format"): ("json", "console"), ("logging", "level"): ("debug", "info", "warning", "error")}
_DATACLASSES = {
    "gateway": GatewayIdentity,
    "http": HttpSettings,
    "broker": BrokerSettings,
    "delivery": DeliverySettings,
    "supervisor": SupervisorSettings,
    "intake": IntakeSettings,
    "console": ConsoleSettings,
}
_KINDS_BY_NAME: dict[str, Kind] = {"int": int, "float": NUMBER, "str": str, "bool": bool}


def _expected(section: str) -> dict[str, Kind | str]:
    if section in _DATACLASSES:
        return {f.name: _KINDS_BY_NAME[str(f.type)] for f in fields(_DATACLASSES[section])}
    return _SECTIONS[section]


def _check_file(path: Path, raw: dict[str, Any]) -> None:
    """Every section and key known, every value of its kind: a mistake names the file, the section and the key."""
    for section, values in raw.items():
        if (section not in _SECTIONS and section not in _DATACLASSES) or not isinstance(values, dict):
            raise ConfigurationError(f"{path}: unknown section [{section}]")
        expected = _expected(section)
        unknown = set(values) - set(expected)
        if section == "registry" and "exchange" in unknown:
            raise ConfigurationError(f"{path}: [registry] exchange is now called partners (the partner single-window rules)")
        if unknown:
            raise ConfigurationError(f"{path}: unknown key(s) {sorted(unknown)} in [{section}]")
        for key, value in values.items():
            _check_value(path, section, key, value, expected[key])


def _check_value(path: Path, section: str, key: str, value: Any, kind: Kind | str) -> None:
    where = f"{path}: [{section}] {key}"
    if kind == DAYS_BY_NAME:
        if not isinstance(value, dict):
            raise ConfigurationError(f"{where} must be a table of document type = days, not {value!r}")
        for name, days in value.items():
            _check_value(path, section, f"{key}.{name}", days, NUMBER)
        return
    if kind == TEXT_LIST:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigurationError(f"{where} must be a list of strings, not {value!r}")
        return
    assert not isinstance(kind, str)
    wanted = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in wanted or not isinstance(value, wanted):
        raise ConfigurationError(f"{where} must be {_kind_name(wanted)}, not {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise ConfigurationError(f"{where} must not be negative, not {value!r}")
    if (section, key) in _CHOICES and value not in _CHOICES[section, key]:
        raise ConfigurationError(f"{where} must be one of {', '.join(_CHOICES[section, key])}, not {value!r}")


def _kind_name(kinds: tuple[type, ...]) -> str:
    if kinds == (int, float):
        return "a number"
    return " or ".join({int: "an integer", float: "a number", str: "a string", bool: "true or false"}[k] for k in kinds)


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """Write a gateway.toml from plain values (for generated set-ups: demo, benchmark, tests)."""
    lines = []
    for name, section in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in section.items())
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def write_table_array(path: Path, name: str, entries: list[dict[str, Any]]) -> Path:
    """Write a TOML file of `[[name]]` tables (e.g. a generated parties.toml)."""
    lines = []
    for entry in entries:
        lines.append(f"[[{name}]]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in entry.items())
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key} = {_toml_value(v)}" for key, v in value.items()) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string
