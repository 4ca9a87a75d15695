"""The closed-loop phase driven by wrk, a compiled load generator, when it is installed.

At a thousand requests a second a Python thread per connection takes most of a core, the
core the gateway is measured on; wrk costs a small fraction of that (its CPU is counted
apart either way). It posts the shares of messages signed beforehand (app/bench/bodies.py)
through wrk.lua and reports what came back.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from importlib.resources import as_file, files
from pathlib import Path

from app.bench.load import LoadResult
from app.process import ProcessFailed


def available() -> bool:
    return shutil.which("wrk") is not None


def drive(url: str, shares: list[Path], clients: int, seconds: float) -> LoadResult:
    """Closed loop for `seconds` on `clients` connections, one wrk thread per share."""
    with as_file(files("app.bench") / "wrk.lua") as script:
        command = [
            "wrk", f"--threads={len(shares)}", f"--connections={max(clients, len(shares))}",
            f"--duration={max(1, round(seconds))}s", "--timeout=30s", f"--script={script}",
            url, "--", str(shares[0].parent),
        ]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        output, errors = process.communicate()
    if process.returncode != 0:
        raise ProcessFailed(f"wrk failed: {errors.strip() or output.strip()}")
    summary = json.loads(output.strip().splitlines()[-1])
    failures = summary["connect"] + summary["read"] + summary["write"] + summary["timeout"]
    other = {int(status): count for status, count in summary["other"].items()}
    completed = summary["completed"]
    return LoadResult(
        sent=completed,
        accepted=completed - sum(other.values()) - summary["repeated"],
        other=other,
        errors=failures,
        repeated=summary["repeated"],
    )
