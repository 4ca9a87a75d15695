"""`gateway bench intake --soak MINUTES`: memory of every gateway process under a long, steady load.

After the closed-loop phase has measured the peak, the gateway is driven open loop at 80% of
it for the given minutes, with messages signed beforehand; the resident memory of each of its
processes is read at the start, every minute and at the end. A process whose memory keeps
growing after the first minute (warm-up: caches, connections, imports) leaks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from app.bench import bodies, load
from app.bench.load import LoadResult
from app.bench.processes import ProcessTable

SHARE_OF_PEAK = 0.8
SAMPLE_EVERY_S = 60.0


@dataclass(frozen=True)
class SoakFigures:
    minutes: float
    offered_per_s: float
    achieved_per_s: float
    resident_bytes: dict[str, dict[str, int]]  # process -> {"start", "1 min", ..., "end"} -> bytes
    growth_after_first_minute_pct: dict[str, float]  # process -> growth from its first-minute reading to the end


def run_soak(url: str, signer: bodies.Signer, processes: ProcessTable, directory: Path, minutes: float,
             clients: int, peak_per_s: float, shares: int) -> SoakFigures:
    rate = SHARE_OF_PEAK * peak_per_s
    seconds = minutes * 60
    Console(stderr=True).print(f"soak: {rate:.0f} messages/s offered for {minutes:g} min; signing the messages first")
    prepared = bodies.prepare(signer, int(rate * seconds * 1.05) + shares, directory / "soak", shares)
    readings: list[tuple[str, dict[str, int]]] = [("start", processes.resident_bytes())]
    outcome: list[LoadResult] = []
    driver = threading.Thread(target=lambda: outcome.append(load.drive(url, prepared, clients, seconds, rate)))
    driver.start()
    minute = 0
    while driver.is_alive():
        driver.join(SAMPLE_EVERY_S)
        if driver.is_alive():
            minute += 1
            readings.append((f"{minute} min", processes.resident_bytes()))
    readings.append(("end", processes.resident_bytes()))
    table = _by_process(readings)
    return SoakFigures(
        minutes=minutes,
        offered_per_s=round(rate, 1),
        achieved_per_s=round(outcome[0].accepted / seconds, 1) if outcome else 0.0,
        resident_bytes=table,
        growth_after_first_minute_pct={name: _growth(sizes) for name, sizes in table.items()},
    )


def print_soak(figures: SoakFigures) -> None:
    labels = list(next(iter(figures.resident_bytes.values()), {}))
    table = Table(title=f"soak: {figures.achieved_per_s:.0f}/s achieved of {figures.offered_per_s:.0f}/s offered, "
                        f"{figures.minutes:g} min; resident memory (MB)")
    for column in ("process", *labels, "growth after 1 min"):
        table.add_column(column)
    for name, sizes in figures.resident_bytes.items():
        growth = figures.growth_after_first_minute_pct[name]
        table.add_row(name, *(f"{sizes.get(label, 0) / 2**20:.0f}" for label in labels), f"{growth:+.1f}%")
    Console().print(table)


def _by_process(readings: list[tuple[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for label, sizes in readings:
        for name, size in sizes.items():
            table.setdefault(name, {})[label] = size
    return table


def _growth(sizes: dict[str, int]) -> float:
    """Growth from the first-minute reading (or the first there is) to the last, in percent."""
    values = list(sizes.values())
    base = sizes.get("1 min", values[0])
    return round((values[-1] - base) * 100 / base, 1) if base else 0.0
