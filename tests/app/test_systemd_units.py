"""The shipped systemd unit passes `systemd-analyze verify` for every role, and names the right stop behaviour."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO

from app.server import ROLES, STOP_TIMEOUT_S

UNIT = REPO / "deploy" / "systemd" / "gateway@.service"
SHIPPED_BINARY = "/opt/gateway/venv/bin/gateway"
ANALYZE = shutil.which("systemd-analyze")
needs_systemd = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed (apt-get install systemd)")


def installed(tmp_path: Path, text: str) -> Path:
    """The unit as an operator installs it, pointing at this environment's `gateway` command."""
    binary = Path(sys.executable).with_name("gateway")
    unit = tmp_path / "gateway@.service"
    unit.write_text(text.replace(SHIPPED_BINARY, str(binary)), encoding="utf-8")
    return unit


def verify(unit: Path, role: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run(
        [ANALYZE, "verify", str(unit.with_name(f"gateway@{role}.service"))],
        capture_output=True, text=True, timeout=60,
    )


@needs_systemd
@pytest.mark.parametrize("role", sorted(ROLES))
def test_the_unit_verifies_for_every_role(tmp_path: Path, role: str) -> None:
    checked = verify(installed(tmp_path, UNIT.read_text(encoding="utf-8")), role)
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stderr


@needs_systemd
def test_verification_catches_a_broken_unit(tmp_path: Path) -> None:
    broken = UNIT.read_text(encoding="utf-8").replace("\nKillMode=mixed\n", "\nKillMode=gently\n")
    checked = verify(installed(tmp_path, broken), "all")
    assert "kill mode" in checked.stderr


def test_the_unit_restarts_always_and_stops_by_draining_through_the_supervisor() -> None:
    settings = dict(
        line.split("=", 1) for line in UNIT.read_text(encoding="utf-8").splitlines() if "=" in line and not line.startswith("#")
    )
    assert settings["Restart"] == "always"
    assert settings["KillMode"] == "mixed" and settings["KillSignal"] == "SIGTERM"
    assert settings["ExecStart"] == f"{SHIPPED_BINARY} serve --role %i"
    assert float(settings["TimeoutStopSec"]) > STOP_TIMEOUT_S  # longer than the supervisor waits for its components
