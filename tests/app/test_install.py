"""A fresh `pip install` of the project gives a `gateway` that works from any directory.

The package is installed (not linked to the checkout) into a new virtual environment; everything then
runs from a directory that is not the checkout: `gateway init`, `gateway keys init`, `gateway serve`
and `gateway submit` of a sample that ships with the package.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import sysconfig
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import AMQP_URL, REPO

from app.process import GatewayProcess
from app.wiring import assemble
from gateway.broker.connection import connect
from gateway.config import load_settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the project built and installed from the checkout; returns its bin/.

    What is under test is the project's own packaging (its modules, package data and entry points), so the
    dependencies are those of the test run's environment, seen through a path file, rather than downloaded
    and installed again (`scripts/install` installs them from the registry). Only a directory named in a
    path file is added, not its own path files, so the checkout's editable install does not come along.
    """
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    site_packages = Path(subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True, capture_output=True, text=True,
    ).stdout.strip())
    (site_packages / "test-run-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--no-deps", str(REPO)],
        check=True, timeout=900, capture_output=True,
    )
    return venv / "bin"


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    directory = tmp_path / "somewhere-else"
    directory.mkdir()
    return directory


def run(bin_dir: Path, cwd: Path, env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "gateway"), *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def environment(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    env |= {"GATEWAY_HOME": str(tmp_path / "gw"), "GATEWAY_AMQP_URL": AMQP_URL, "COLUMNS": "200"}
    yield env


def test_init_keys_serve_and_submit_from_outside_the_checkout(
    installed: Path, elsewhere: Path, environment: dict[str, str], tmp_path: Path
) -> None:
    home = Path(environment["GATEWAY_HOME"])
    assert run(installed, elsewhere, environment, "init", str(home)).returncode == 0
    config = home / "gateway.toml"
    namespace = f"gwtest-{uuid.uuid4().hex[:10]}"
    config.write_text(re.sub(r'(?m)^namespace = "gateway"', f'namespace = "{namespace}"', config.read_text()), encoding="utf-8")
    assert run(installed, elsewhere, environment, "keys", "init").returncode == 0
    assert (home / "var" / "pki" / "ca.pem").is_file()

    sample = subprocess.run(
        [str(installed / "python"), "-c", "from conformance import SAMPLES_DIR; print(SAMPLES_DIR / 'ECOM_ORDER.xml')"],
        cwd=elsewhere, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert not sample.startswith(str(REPO)), "the sample must come from the installed package"

    gateway = GatewayProcess(config, tmp_path / "serve.log", env=environment, command=[str(installed / "gateway")])
    gateway.start(cwd=elsewhere)
    try:
        submitted = run(installed, elsewhere, environment, "submit", sample, "--party", "0101234567", "--fresh", "--url", gateway.url)
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        assert "ACCEPTED" in submitted.stdout
        counted = run(installed, elsewhere, environment, "messages", "--count")
        assert counted.returncode == 0 and "ECOM_ORDER" in counted.stdout
        assert gateway.wait_for_console(), "the operators' console must answer, its pages shipped in the package"
        with urllib.request.urlopen(gateway.console_url + "/admin/login", timeout=5) as page:
            login = page.read().decode()
        assert '<html lang="vi">' in login and "Đăng nhập" in login  # the templates and the catalogue are installed
        with urllib.request.urlopen(gateway.console_url + "/admin/static/console.css", timeout=5) as css:
            assert css.status == 200 and b"font" in css.read()
    finally:
        gateway.stop()
        assembly = assemble(load_settings(config, environ=environment))
        with contextlib.closing(connect(AMQP_URL)) as connection:
            assembly.services.topology.delete(connection.channel())
        assembly.close()
    assert list(elsewhere.iterdir()) == [], "nothing may be created in the working directory"


def test_a_command_without_configuration_says_so_and_creates_nothing(
    installed: Path, elsewhere: Path, environment: dict[str, str]
) -> None:
    environment.pop("GATEWAY_HOME")
    for argv in (("messages", "--count"), ("serve",), ("keys", "init"), ("report",)):
        result = run(installed, elsewhere, environment, *argv)
        assert result.returncode == 2, argv
        assert result.stderr.startswith("configuration error: no configuration found"), (argv, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert list(elsewhere.iterdir()) == []
