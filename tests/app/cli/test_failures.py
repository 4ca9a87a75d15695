"""Every command meets every environmental failure with one clear line on stderr and a non-zero status.

Failures: no configuration anywhere, a configuration file that does not exist, a value of the wrong kind,
a store that cannot be reached, a gateway that cannot be reached, an input file that is missing or is not
XML. The commands run in-process through `app.cli.main.main`: an exception that escaped it would fail the
test with its traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from support import previous_release_store, write_config

from app.cli.main import main

UNREACHABLE_URL = "http://127.0.0.1:9"  # the discard port: nothing listens there
UNREACHABLE_DB = "postgresql://postgres@127.0.0.1:9/none"

CONFIGURED = [
    ["serve"],
    ["keys", "init"],
    ["keys", "rotate"],
    ["sign", "{file}", "--party", "0101234567"],
    ["submit", "{file}", "--party", "0101234567", "--url", UNREACHABLE_URL],
    ["messages"],
    ["messages", "--count"],
    ["messages", "show", "1"],
    ["read", "107012345670", "--as", "HQHCM"],
    ["report"],
    ["pull", "--party", "0101234567", "--url", UNREACHABLE_URL],
    ["outbox", "list"],
    ["outbox", "show", "1"],
    ["outbox", "resend", "1"],
    ["operators", "list"],
    ["operators", "disable", "nobody"],
    ["audit", "verify"],
    ["audit", "seal"],
    ["purge"],
    ["purge", "--dry-run"],
    ["db", "upgrade"],
    ["db", "current"],
]
USE_THE_STORE = [
    argv for argv in CONFIGURED
    if argv[0] in {"serve", "messages", "read", "report", "outbox", "operators", "audit", "db", "purge"}
]
NEED_A_CURRENT_STORE = [argv for argv in USE_THE_STORE if argv[0] != "db"]
TAKE_A_FILE = [argv for argv in CONFIGURED if "{file}" in argv]
CALL_THE_GATEWAY = [argv for argv in CONFIGURED if UNREACHABLE_URL in argv]


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """`serve` configures logging for its process; here it runs in the test's, whose output is captured."""
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(autouse=True)
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, and no gateway variables in the environment."""
    for variable in ("GATEWAY_CONFIG", "GATEWAY_HOME", "GATEWAY_PKI_DIR", "GATEWAY_VAR_DIR", "GATEWAY_DB_URL"):
        monkeypatch.delenv(variable, raising=False)
    directory = tmp_path / "cwd"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    path = tmp_path / "order.xml"
    path.write_bytes((Path(__file__).parents[3] / "conformance" / "samples" / "ECOM_ORDER.xml").read_bytes())
    return path


def one_line_failure(argv: list[str], capsys: pytest.CaptureFixture[str], *, starts: str, contains: str = "") -> None:
    status = main(argv)
    captured = capsys.readouterr()
    assert status != 0, argv
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, (argv, captured.err)
    assert lines[0].startswith(starts), (argv, lines[0])
    assert contains in lines[0], (argv, lines[0])


def filled(argv: list[str], file: Path) -> list[str]:
    return [str(file) if part == "{file}" else part for part in argv]


@pytest.mark.parametrize("argv", CONFIGURED, ids=" ".join)
def test_no_configuration_anywhere(argv: list[str], sample: Path, elsewhere: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one_line_failure(filled(argv, sample), capsys, starts="configuration error: no configuration found")
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("argv", CONFIGURED, ids=" ".join)
def test_a_configuration_file_that_does_not_exist(
    argv: list[str], sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "gateway.toml"
    one_line_failure(["--config", str(missing), *filled(argv, sample)], capsys, starts="configuration error", contains=str(missing))


@pytest.mark.parametrize("argv", CONFIGURED, ids=" ".join)
def test_a_value_of_the_wrong_kind(argv: list[str], sample: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config", tmp_path / "pki", "gwtest-unused", http={"processes": "two"})
    one_line_failure(
        ["--config", str(config), *filled(argv, sample)], capsys, starts="configuration error", contains="[http] processes"
    )


@pytest.mark.parametrize("argv", USE_THE_STORE, ids=" ".join)
def test_a_store_that_cannot_be_reached(
    argv: list[str], tmp_path: Path, pki_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config", pki_dir, "gwtest-unused")
    monkeypatch.setenv("GATEWAY_DB_URL", UNREACHABLE_DB)
    one_line_failure(["--config", str(config), *argv], capsys, starts="the store is unavailable", contains="127.0.0.1")


@pytest.mark.parametrize("argv", CALL_THE_GATEWAY, ids=" ".join)
def test_a_gateway_that_cannot_be_reached(
    argv: list[str], sample: Path, tmp_path: Path, pki_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config", pki_dir, "gwtest-unused")
    one_line_failure(["--config", str(config), *filled(argv, sample)], capsys, starts="cannot reach the gateway")


@pytest.mark.parametrize("argv", TAKE_A_FILE, ids=" ".join)
def test_an_input_file_that_is_missing(argv: list[str], tmp_path: Path, pki_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config", pki_dir, "gwtest-unused")
    missing = tmp_path / "input.xml"
    one_line_failure(["--config", str(config), *filled(argv, missing)], capsys, starts="error: ", contains="No such file")


@pytest.mark.parametrize("argv", TAKE_A_FILE, ids=" ".join)
def test_an_input_file_that_is_not_xml(argv: list[str], tmp_path: Path, pki_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "config", pki_dir, "gwtest-unused")
    garbage = tmp_path / "input.xml"
    garbage.write_bytes(b"not xml at all")
    one_line_failure(
        ["--config", str(config), *filled(argv, garbage)], capsys, starts=f"{garbage} cannot be used", contains="XML_MALFORMED"
    )


@pytest.mark.parametrize("argv", NEED_A_CURRENT_STORE, ids=" ".join)
def test_a_store_whose_schema_is_behind(
    argv: list[str], tmp_path: Path, pki_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "config", pki_dir, "gwtest-unused")
    database = tmp_path / "old.db"
    previous_release_store(f"sqlite:///{database}")
    monkeypatch.setenv("GATEWAY_DB_URL", f"sqlite:///{database}")
    one_line_failure(["--config", str(config), *argv], capsys, starts="the store cannot be used", contains="gateway db upgrade")
