"""`gateway bench intake`: throughput, latency and CPU cost of the intake path, and its in-process ceiling.

1. A gateway (role ingress: HTTP, AMQP door, outbox relay) starts as a subprocess with its own
   store (SQLite, or a fresh database on the PostgreSQL server of `--db`) and broker namespace,
   on the developer PKI. The signed 8 KB declarations (distinct message ids, RSA-2048) are
   prepared before it is measured.
2. Throughput: closed loop (wrk when installed, else Python load processes); accepted messages
   per second, and the CPU each role spent per accepted message (app/bench/processes.py).
3. Latency: open loop at the offered rate, from each request's scheduled time: p50/p95/p99;
   and from acceptance to the broker's confirmation (the lifecycle's `queued`), p50/p99.
4. With `--soak MINUTES`: memory of every gateway process under 80% of the peak (app/bench/soak.py).
5. Ceiling: in this process, on the same kind of messages, parse + envelope + verify +
   authorise + validate + signed receipt, one core; and the ratio of the measured throughput to it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import statistics
import tempfile
import time
from argparse import Namespace
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, select

from app.bench import bodies, load, wrk
from app.bench.instance import bench_config, bench_store, remove_topology, require_keys
from app.bench.load import LoadResult
from app.bench.processes import HTTP, LOAD, ProcessTable
from app.bench.soak import SoakFigures, print_soak, run_soak
from app.process import GatewayProcess
from app.wiring import assemble
from conformance import sample
from gateway import client, pipeline
from gateway.config import Settings, load_settings
from gateway.exceptions import ConfigurationError
from gateway.lifecycle import MessageStatus
from gateway.signing.keys import SigningIdentity
from gateway.store.tables import message_history, messages

DECLARATION = sample("ECOM_DECLARATION")
SAMPLE, PARTY = DECLARATION.file, DECLARATION.sender
LOAD_PROCESSES = 2
PEAK_GUESS_PER_S = 2000  # messages signed for the closed loop, per second of it: more than it can take
CEILING_MESSAGES = 1000
console = Console(stderr=True)


@dataclass(frozen=True)
class Figures:
    accepted_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    offered_per_s: float
    achieved_per_s: float
    ceiling_per_s: float
    ratio: float
    message_bytes: int
    rejected: int
    cores: int
    store: str
    generator: str
    repeated: int
    cpu_ms_per_message: dict[str, float]  # role -> CPU ms per accepted message in the closed loop
    cpu_ms_per_message_total: float  # every role but the load generator
    http_threads_cpu_ms_per_message: dict[str, float]  # the HTTP workers' CPU by thread role (processes.HTTP_THREAD_ROLES)
    accept_to_queued_p50_ms: float
    accept_to_queued_p99_ms: float
    queued_measured: int
    soak: SoakFigures | None


def run_intake_bench(args: Namespace) -> int:
    settings = load_settings(args.config)
    require_keys(settings, PARTY)
    use_wrk = _use_wrk(args.generator)
    signer = bodies.Signer(settings.pki_dir, PARTY, SAMPLE)
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp, bench_store(args.db, Path(tmp)) as db_url:
        directory = Path(tmp)
        bench_settings, config_path = bench_config(settings, directory, db_url)
        with console.status("signing the messages (before the gateway is measured)"):
            closed = bodies.prepare(signer, int(PEAK_GUESS_PER_S * args.seconds), directory / "closed", LOAD_PROCESSES)
            opened = bodies.prepare(signer, int(args.rate * args.seconds * 1.2), directory / "open", LOAD_PROCESSES)
        gateway = GatewayProcess(
            config_path, directory / "gateway.log", {"GATEWAY_DB_URL": db_url},
            role="ingress", port=int(args.bind.rsplit(":", 1)[1]),
        )
        console.print(f"starting the gateway (ingress) on {gateway.url}; log in {gateway.log_path}")
        gateway.start()
        try:
            processes = ProcessTable(gateway.process.pid)
            generator = "wrk" if use_wrk else "python"
            console.print(f"throughput: {args.clients} clients, closed loop, {args.seconds:.0f} s ({generator})")
            throughput, cpu, threads = _measured(processes, lambda: _closed_loop(gateway.url, closed, args, use_wrk))
            console.print(f"latency: {args.rate:.0f} messages/s offered, {args.seconds:.0f} s")
            began = dt.datetime.now(dt.UTC)
            latency = load.drive(gateway.url, opened, args.clients, args.seconds, args.rate)
            queued = accept_to_queued(db_url, began)
            soak = run_soak(
                gateway.url, signer, processes, directory, args.soak, args.clients,
                throughput.accepted / args.seconds, LOAD_PROCESSES,
            ) if args.soak else None
        finally:
            gateway.stop()
        console.print("ceiling: the intake stages in-process, one core")
        ceiling, size = _ceiling(bench_settings)
        remove_topology(bench_settings)
    figures = _figures(throughput, latency, args, ceiling, size, cpu, threads, queued, generator, soak)
    if args.json:
        print(json.dumps(asdict(figures)))
    else:
        _print(figures)
    return 0


def _use_wrk(choice: str) -> bool:
    if choice == "wrk" and not wrk.available():
        raise ConfigurationError("wrk is not installed (Debian package wrk); use --generator python")
    return choice == "wrk" or (choice == "auto" and wrk.available())


def _measured(
    processes: ProcessTable, phase: Callable[[], LoadResult]
) -> tuple[LoadResult, dict[str, float], dict[str, float]]:
    """Run `phase`; the CPU seconds each role spent meanwhile (the load generator's as waited-for children),
    and those of the HTTP workers' threads by their role."""
    before, children_before = processes.sample(), _children_cpu_s()
    result = phase()
    after = processes.sample()
    cpu = after.minus(before)
    cpu[LOAD] = _children_cpu_s() - children_before
    return result, cpu, after.http_threads_minus(before)


def _children_cpu_s() -> float:
    times = os.times()
    return times.children_user + times.children_system


def _closed_loop(url: str, shares: list[Path], args: Namespace, use_wrk: bool) -> LoadResult:
    if use_wrk:
        return wrk.drive(url, shares, args.clients, args.seconds)
    return load.drive(url, shares, args.clients, args.seconds, rate=None)


def accept_to_queued(db_url: str, since: dt.datetime) -> list[float]:
    """Seconds from receipt to the broker's confirmation, for each message received since `since`."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                select(messages.c.received_at, message_history.c.at)
                .join(message_history, (message_history.c.kind == "inbound") & (message_history.c.message == messages.c.id))
                .where(message_history.c.to_status == MessageStatus.QUEUED, messages.c.received_at >= since)
            ).all()
    finally:
        engine.dispose()
    return [(_aware(queued) - _aware(received)).total_seconds() for received, queued in rows]


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)  # SQLite gives naive UTC


def _ceiling(settings: Settings) -> tuple[float, int]:
    services = assemble(settings, sync_registry=True).services
    try:
        identity = SigningIdentity.load(settings.party_key(PARTY), settings.party_cert(PARTY))
        bodies = [client.sign(client.refresh(client.load_envelope(SAMPLE)), identity) for _ in range(CEILING_MESSAGES)]
        stages = (
            pipeline.parse, pipeline.envelope, pipeline.catalogue, pipeline.verify, pipeline.authorise, pipeline.validate,
            pipeline.receipt,
        )
        transport = pipeline.Transport("bench")
        started = time.perf_counter()
        for body in bodies:
            intake = pipeline.Intake(body, transport, dt.datetime.now(dt.UTC), hashlib.sha256(body).digest())
            for stage in stages:
                stage(intake, services)
        return CEILING_MESSAGES / (time.perf_counter() - started), len(bodies[0])
    finally:
        services.close()


def _figures(
    throughput: LoadResult, latency: LoadResult, args: Namespace, ceiling: float, size: int,
    cpu: dict[str, float], threads: dict[str, float], queued: list[float], generator: str, soak: SoakFigures | None,
) -> Figures:
    accepted = throughput.accepted / args.seconds
    return Figures(
        accepted_per_s=round(accepted, 1),
        p50_ms=_percentile_ms(latency.latencies, 50),
        p95_ms=_percentile_ms(latency.latencies, 95),
        p99_ms=_percentile_ms(latency.latencies, 99),
        offered_per_s=args.rate,
        achieved_per_s=round(latency.accepted / args.seconds, 1),
        ceiling_per_s=round(ceiling, 1),
        ratio=round(accepted / ceiling, 3),
        message_bytes=size,
        rejected=sum(throughput.other.values()) + sum(latency.other.values()) + throughput.errors + latency.errors,
        cores=os.cpu_count() or 1,
        store="postgresql" if args.db else "sqlite",
        generator=generator,
        repeated=throughput.repeated,
        cpu_ms_per_message={role: _per_message_ms(seconds, throughput.accepted) for role, seconds in cpu.items()},
        cpu_ms_per_message_total=_per_message_ms(sum(cpu.values()) - cpu[LOAD], throughput.accepted),
        http_threads_cpu_ms_per_message={role: _per_message_ms(seconds, throughput.accepted) for role, seconds in threads.items()},
        accept_to_queued_p50_ms=_percentile_ms(queued, 50),
        accept_to_queued_p99_ms=_percentile_ms(queued, 99),
        queued_measured=len(queued),
        soak=soak,
    )


def _percentile_ms(values: list[float], q: int) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000, 2) if len(values) > 1 else float("nan")


def _per_message_ms(seconds: float, accepted: int) -> float:
    return round(seconds * 1000 / accepted, 3) if accepted else float("nan")


def _cpu_rows(figures: Figures) -> list[tuple[str, str]]:
    """Per role, and under the HTTP workers, per thread role."""
    rows = []
    for role, ms in figures.cpu_ms_per_message.items():
        rows.append((f"  {role}", f"{ms:.2f} ms"))
        if role == HTTP:
            rows += [(f"    {thread}", f"{spent:.2f} ms") for thread, spent in figures.http_threads_cpu_ms_per_message.items()]
    return rows


def _print(figures: Figures) -> None:
    table = Table(title="gateway bench intake", show_header=False)
    rows = [
        (f"accepted messages/s (closed loop, {figures.generator}, {figures.store})", f"{figures.accepted_per_s:.1f}"),
        (f"latency at {figures.offered_per_s:.0f}/s offered: p50 / p95 / p99", f"{figures.p50_ms:.1f} / {figures.p95_ms:.1f} / {figures.p99_ms:.1f} ms"),
        ("achieved at that rate", f"{figures.achieved_per_s:.1f}/s"),
        ("accepted to queued on the broker at that rate: p50 / p99",
         f"{figures.accept_to_queued_p50_ms:.1f} / {figures.accept_to_queued_p99_ms:.1f} ms ({figures.queued_measured} messages)"),
        ("in-process ceiling (one core): parse+validate+verify+receipt", f"{figures.ceiling_per_s:.1f}/s"),
        ("ratio accepted / ceiling", f"{figures.ratio:.2f} (on {figures.cores} cores)"),
        ("CPU per accepted message, all but the load generator", f"{figures.cpu_ms_per_message_total:.2f} ms"),
        *_cpu_rows(figures),
        ("message size (signed, RSA-2048)", f"{figures.message_bytes} bytes"),
        ("answers other than 200, and connection errors", str(figures.rejected)),
    ]
    if figures.repeated:
        rows.append(("messages sent twice (prepared ones ran out; answered as duplicates, not counted)", str(figures.repeated)))
    for label, value in rows:
        table.add_row(label, value)
    Console().print(table)
    if figures.soak:
        print_soak(figures.soak)
