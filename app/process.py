"""Running a gateway as a subprocess and waiting for it: used by the demo, the benchmark and the tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from gateway.exceptions import GatewayError


class ProcessFailed(GatewayError):
    """A process a command started (a gateway, a load generator) failed; the message says where to look."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class GatewayProcess:
    """`gateway serve` in its own process group, logging to a file."""

    def __init__(
        self,
        config: Path,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        role: str | None = None,
        port: int | None = None,
        command: Sequence[str] | None = None,
        console_port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.console_url = f"http://127.0.0.1:{console_port or free_port()}"  # the operators' console: its own port
        self.env = {**os.environ, **(env or {}), "GATEWAY_CONFIG": str(config)}
        self.log_path = log_path
        self.role = role
        self.command = list(command or [sys.executable, "-m", "app"])  # the `gateway` program
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0, cwd: Path | None = None) -> GatewayProcess:
        command = [*self.command, "serve", "--bind", f"127.0.0.1:{self.port}", "--console-bind", self.console_url[7:]]
        if self.role:
            command += ["--role", self.role]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ProcessFailed(
                    f"the gateway exited with status {self.process.returncode}: {self.last_log_line()} (log: {self.log_path})"
                )
            if self.healthy():
                return self
            time.sleep(0.2)
        self.stop()
        raise ProcessFailed(f"the gateway did not start within {timeout}s (log: {self.log_path})")

    def last_log_line(self) -> str:
        """The last line the gateway logged: on a failed start, what stopped it."""
        lines = self.log_path.read_text(errors="replace").strip().splitlines() if self.log_path.exists() else []
        return lines[-1].strip() if lines else "nothing logged"

    def healthy(self) -> bool:
        return _answers(self.url + "/healthz")

    def wait_for_console(self, timeout: float = 30.0) -> bool:
        """Whether the operators' console answers (its login page) within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _answers(self.console_url + "/admin/login"):
                return True
            time.sleep(0.2)
        return False

    def stop(self, timeout: float = 40.0) -> int | None:
        """SIGTERM, wait for a clean stop, and kill the process group only if it does not come."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
