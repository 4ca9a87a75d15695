"""Configuration: defaults, the file, the environment, path resolution, and write_config."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from support import write_config as write_test_config

from gateway.config import DEFAULT_AMQP_URL, load_settings, write_config
from gateway.exceptions import ConfigurationError
from gateway.pipeline import structure_limits
from gateway.xmlsafe import StructureLimits


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory that is not the configuration directory."""
    directory = tmp_path / "cwd"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


def config_file(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "gateway.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults ------------------------------------------------------------------------------


def test_defaults_of_an_empty_file_are_relative_to_the_file(tmp_path: Path, elsewhere: Path) -> None:
    path = config_file(tmp_path / "instance", "")

    settings = load_settings(path, environ={})

    instance = tmp_path / "instance"
    var = instance / "var"
    assert settings.config_dir == instance
    assert (settings.var_dir, settings.pki_dir) == (var, var / "pki")
    assert settings.db_url == f"sqlite:///{var / 'gateway.db'}"
    assert settings.trust_anchors == (var / "pki" / "ca.pem",)
    assert settings.parties_file == instance / "parties.toml"
    assert settings.routes_file == instance / "routes.toml"
    assert settings.schema_packs == ()
    assert settings.broker.url == DEFAULT_AMQP_URL == "amqp://guest:guest@127.0.0.1:5672/%2F"
    assert settings.broker.namespace == "gateway"
    assert settings.http.bind == "127.0.0.1:8080"
    assert settings.gateway.identity == "VNECOMGW"
    assert settings.clock_skew == dt.timedelta(minutes=5)
    assert (settings.log_format, settings.log_level) == ("json", "info")
    assert settings.party_key("X1") == var / "pki" / "X1.key.pem"
    assert settings.party_cert("X1") == var / "pki" / "X1.cert.pem"
    assert list(elsewhere.iterdir()) == []


def test_no_configuration_anywhere_is_an_error_that_says_what_to_do(elsewhere: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"no configuration found: .*gateway init DIR"):
        load_settings(environ={})
    assert list(elsewhere.iterdir()) == []


def test_gateway_home_names_the_instance_directory(tmp_path: Path, elsewhere: Path) -> None:
    config_file(tmp_path / "home", '[broker]\nnamespace = "from-home"\n[paths]\nvar = "state"\n')

    settings = load_settings(environ={"GATEWAY_HOME": str(tmp_path / "home")})

    assert settings.broker.namespace == "from-home" and settings.var_dir == tmp_path / "home" / "state"
    with pytest.raises(ConfigurationError, match=r"GATEWAY_HOME=.*has no gateway.toml; .*gateway init"):
        load_settings(environ={"GATEWAY_HOME": str(tmp_path / "empty")})


def test_paths_in_the_file_are_relative_to_the_file_not_the_working_directory(tmp_path: Path, elsewhere: Path) -> None:
    path = config_file(tmp_path / "etc", '[paths]\nvar = "../state"\npki = "keys"\n')

    settings = load_settings(path, environ={})

    assert (settings.var_dir, settings.pki_dir) == (tmp_path / "state", tmp_path / "etc" / "keys")


def test_default_file_is_read_from_the_working_directory(elsewhere: Path) -> None:
    config_file(elsewhere / "config", '[broker]\nnamespace = "from-cwd"\n')

    assert load_settings(environ={}).broker.namespace == "from-cwd"


def test_values_in_the_file_replace_the_defaults(tmp_path: Path, elsewhere: Path) -> None:
    path = config_file(
        tmp_path / "etc",
        '[gateway]\nidentity = "GW2"\n[http]\nbind = "0.0.0.0:9000"\nthreads = 9\n'
        '[broker]\nurl = "amqp://u:p@mq:5672/gw"\nprefetch = 7\n[store]\nurl = "postgresql://db/gw"\n'
        '[trust]\nclock_skew_s = 30\n[logging]\nformat = "console"\nlevel = "debug"\n',
    )

    settings = load_settings(path, environ={})

    assert settings.config_dir == tmp_path / "etc"
    assert (settings.gateway.identity, settings.http.bind, settings.http.threads) == ("GW2", "0.0.0.0:9000", 9)
    assert (settings.broker.url, settings.broker.prefetch) == ("amqp://u:p@mq:5672/gw", 7)
    assert settings.db_url == "postgresql://db/gw"
    assert settings.clock_skew == dt.timedelta(seconds=30)
    assert (settings.log_format, settings.log_level) == ("console", "debug")


def test_the_structural_limits_are_read_from_intake(tmp_path: Path, elsewhere: Path) -> None:
    path = config_file(
        tmp_path / "etc",
        "[intake]\nmax_elements = 1000\nmax_attributes_per_element = 8\nmax_namespaces_per_element = 4\n"
        "max_namespaces_in_scope = 6\nmax_certificate_bytes = 4096\n",
    )

    intake = load_settings(path, environ={}).intake

    assert structure_limits(intake) == StructureLimits(1000, 8, 4, 6)
    assert intake.max_certificate_bytes == 4096


def test_the_next_keys_moment_is_a_zoned_date_time(tmp_path: Path, elsewhere: Path) -> None:
    path = config_file(tmp_path / "etc", '[keys]\nnext_from = "2027-01-01T00:00:00+07:00"\n')

    assert load_settings(path, environ={}).next_key_from == dt.datetime(2026, 12, 31, 17, tzinfo=dt.UTC)
    assert load_settings(config_file(tmp_path / "none", ""), environ={}).next_key_from is None


@pytest.mark.parametrize("value", ["2027-01-01T00:00:00", "tomorrow"])
def test_a_next_key_moment_without_offset_or_unreadable_is_refused(tmp_path: Path, value: str) -> None:
    path = config_file(tmp_path, f'[keys]\nnext_from = "{value}"\n')

    with pytest.raises(ConfigurationError, match=r"\[keys\] next_from must be a date-time with its offset"):
        load_settings(path, environ={})


# --- the environment -----------------------------------------------------------------------

FILE_WITH_EVERYTHING = (
    '[paths]\nvar = "/srv/file-var"\npki = "/srv/file-pki"\n[broker]\nurl = "amqp://file/"\n'
    '[store]\nurl = "sqlite:////srv/file.db"\n[logging]\nformat = "json"\nlevel = "info"\n'
)


@pytest.mark.parametrize(
    ("variable", "value", "read"),
    [
        ("GATEWAY_DB_URL", "postgresql+psycopg://env-db/gw", lambda s: s.db_url),
        ("GATEWAY_AMQP_URL", "amqp://env:env@env-mq:5672/%2F", lambda s: s.broker.url),
        ("GATEWAY_PKI_DIR", "/srv/env-pki", lambda s: str(s.pki_dir)),
        ("GATEWAY_VAR_DIR", "/srv/env-var", lambda s: str(s.var_dir)),
        ("GATEWAY_LOG_FORMAT", "console", lambda s: s.log_format),
        ("GATEWAY_LOG_LEVEL", "warning", lambda s: s.log_level),
    ],
)
def test_environment_overrides_the_file(tmp_path: Path, variable: str, value: str, read) -> None:  # type: ignore[no-untyped-def]
    path = config_file(tmp_path, FILE_WITH_EVERYTHING)
    assert read(load_settings(path, environ={})) != value

    assert read(load_settings(path, environ={variable: value})) == value


def test_gateway_config_names_the_file(tmp_path: Path, elsewhere: Path) -> None:
    path = config_file(tmp_path / "somewhere", '[broker]\nnamespace = "from-env"\n')

    settings = load_settings(environ={"GATEWAY_CONFIG": str(path)})

    assert settings.broker.namespace == "from-env" and settings.config_dir == tmp_path / "somewhere"


def test_explicit_path_wins_over_gateway_config(tmp_path: Path) -> None:
    chosen = config_file(tmp_path / "a", '[broker]\nnamespace = "explicit"\n')
    ignored = config_file(tmp_path / "b", '[broker]\nnamespace = "env"\n')

    assert load_settings(chosen, environ={"GATEWAY_CONFIG": str(ignored)}).broker.namespace == "explicit"


def test_pki_and_db_follow_the_var_dir_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(config_file(tmp_path, "[http]\n"), environ={"GATEWAY_VAR_DIR": str(tmp_path / "v")})

    assert settings.pki_dir == tmp_path / "v" / "pki"
    assert settings.db_url == f"sqlite:///{tmp_path / 'v' / 'gateway.db'}"
    assert settings.trust_anchors == (tmp_path / "v" / "pki" / "ca.pem",)


def test_process_environment_is_used_when_none_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_DB_URL", "sqlite:////from/process/env.db")

    assert load_settings(config_file(tmp_path, "")).db_url == "sqlite:////from/process/env.db"


# --- paths ---------------------------------------------------------------------------------


def test_relative_paths_are_resolved_against_the_config_dir(tmp_path: Path, elsewhere: Path) -> None:
    path = config_file(
        tmp_path / "etc" / "gw",
        '[registry]\nparties = "parties.toml"\nroutes = "../shared/routes.toml"\n'
        '[trust]\nanchors = ["anchors/root.pem", "/abs/ca.pem"]\n[schemas]\npacks = ["packs/wco", "../more/x"]\n',
    )
    base = tmp_path / "etc" / "gw"

    settings = load_settings(path, environ={})

    assert settings.parties_file == base / "parties.toml"
    assert settings.routes_file == tmp_path / "etc" / "shared" / "routes.toml"
    assert settings.trust_anchors == (base / "anchors" / "root.pem", Path("/abs/ca.pem"))
    assert settings.schema_packs == (base / "packs" / "wco", tmp_path / "etc" / "more" / "x")
    assert all(p.is_absolute() for p in (settings.parties_file, *settings.trust_anchors, *settings.schema_packs))


@pytest.mark.parametrize("pki_source", ["file", "environment"])
def test_pki_placeholder_is_the_pki_dir(tmp_path: Path, pki_source: str) -> None:
    pki = tmp_path / "keys"
    text = (
        '[trust]\nanchors = ["{pki}/ca.pem", "{pki}/old/ca-2019.pem"]\n'
        '[registry]\nparties = "{pki}/registry/parties.toml"\nroutes = "{config}/routing/routes.toml"\n'
    )
    if pki_source == "file":
        text = f'[paths]\npki = "{pki}"\n' + text
    environ = {"GATEWAY_PKI_DIR": str(pki)} if pki_source == "environment" else {}

    settings = load_settings(config_file(tmp_path / "etc", text), environ=environ)

    assert settings.pki_dir == pki
    assert settings.trust_anchors == (pki / "ca.pem", pki / "old" / "ca-2019.pem")
    assert settings.parties_file == pki / "registry" / "parties.toml"
    assert settings.routes_file == tmp_path / "etc" / "routing" / "routes.toml"


# --- errors --------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "section",
    ["gateway", "http", "broker", "paths", "trust", "registry", "schemas", "logging", "keys"],
)
def test_unknown_key_in_a_section_is_refused(tmp_path: Path, section: str) -> None:
    path = config_file(tmp_path, f"[{section}]\nbogus_setting = 1\n")

    with pytest.raises(ConfigurationError) as caught:
        load_settings(path, environ={})

    assert str(path) in str(caught.value) and "bogus_setting" in str(caught.value)


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_missing_explicit_file_is_refused(tmp_path: Path, how: str) -> None:
    missing = tmp_path / "nope" / "gateway.toml"
    arguments = {"path": missing, "environ": {}} if how == "argument" else {"environ": {"GATEWAY_CONFIG": str(missing)}}

    with pytest.raises(ConfigurationError, match="does not exist") as caught:
        load_settings(**arguments)

    assert str(missing) in str(caught.value)


def test_malformed_file_is_a_configuration_error(tmp_path: Path) -> None:
    path = config_file(tmp_path, "[http\nbind = 1\n")

    with pytest.raises(ConfigurationError) as caught:
        load_settings(path, environ={})

    assert str(path) in str(caught.value)


# --- write_config ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "Hệ thống TMĐT Hải quan Việt Nam",
        'the "quoted" gateway',
        r"C:\gateways\new\tab",
        "tab\tseparated",
        pytest.param(
            "two\nlines",
        ),
    ],
    ids=["unicode", "quotes", "backslashes", "tab", "newline"],
)
def test_write_config_round_trips_through_load_settings(tmp_path: Path, name: str) -> None:
    sections = {
        "gateway": {"identity": "GW-RT", "name": name, "country": "VN", "key_kind": "rsa-2048"},
        "paths": {"var": str(tmp_path / "var"), "pki": str(tmp_path / "pki")},
        "http": {"bind": "127.0.0.1:8123", "processes": 3, "threads": 2, "switch_interval_s": 0.001},
        "broker": {"namespace": "rt", "relay_interval_s": 0.25, "max_attempts": 4, "url": "amqp://a:b@h:5672/%2F"},
        "trust": {"anchors": ["{pki}/ca.pem", "other/ca.pem"], "clock_skew_s": 42},
        "schemas": {"packs": ["packs/one", str(tmp_path / "abs-pack")]},
    }

    path = write_config(tmp_path / "etc" / "gateway.toml", sections)
    settings = load_settings(path, environ={})

    assert path.exists() and settings.config_dir == tmp_path / "etc"
    assert (settings.gateway.identity, settings.gateway.name, settings.gateway.key_kind) == ("GW-RT", name, "rsa-2048")
    assert (settings.var_dir, settings.pki_dir) == (tmp_path / "var", tmp_path / "pki")
    assert (settings.http.bind, settings.http.processes, settings.http.threads) == ("127.0.0.1:8123", 3, 2)
    assert settings.http.switch_interval_s == 0.001
    assert (settings.broker.namespace, settings.broker.relay_interval_s, settings.broker.max_attempts) == ("rt", 0.25, 4)
    assert settings.broker.url == "amqp://a:b@h:5672/%2F"
    assert settings.trust_anchors == (tmp_path / "pki" / "ca.pem", tmp_path / "etc" / "other" / "ca.pem")
    assert settings.clock_skew == dt.timedelta(seconds=42)
    assert settings.schema_packs == (tmp_path / "etc" / "packs" / "one", tmp_path / "abs-pack")


def test_test_support_config_round_trips(tmp_path: Path) -> None:
    path = write_test_config(tmp_path / "cfg", tmp_path / "pki", "ns-rt", http={"threads": 6}, schemas={"packs": ["p"]})

    settings = load_settings(path, environ={})

    assert settings.broker.namespace == "ns-rt" and settings.http.threads == 6 and settings.http.processes == 2
    assert settings.pki_dir == tmp_path / "pki" and settings.var_dir == tmp_path / "cfg" / "var"
    assert settings.schema_packs == (tmp_path / "cfg" / "p",)
    assert settings.parties_file.name == "parties.toml" and settings.parties_file.exists()


def test_push_retries_wait_twice_as_long_each_time_up_to_the_cap(tmp_path: Path) -> None:
    path = write_config(tmp_path / "gateway.toml", {"delivery": {"max_attempts": 6, "first_retry_s": 0.5, "max_retry_s": 3.0}})

    delivery = load_settings(path, environ={}).delivery

    assert delivery.retry_delays_ms() == (500, 1000, 2000, 3000, 3000)  # one wait between each two attempts
