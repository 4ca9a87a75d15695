"""`gateway bench intake`: throughput and latency of the intake path, and its in-process ceiling.

1. A gateway (role ingress: HTTP, AMQP door, outbox relay) starts as a subprocess
   with its own store and broker namespace, on the developer PKI.
2. Throughput: load processes drive it closed-loop with signed 8 KB declarations
   (distinct message ids, RSA-2048 signatures); accepted messages per second.
3. Latency: open-loop at the offered rate; p50/p95/p99.
4. Ceiling: in this process, on the same kind of messages, parse + envelope +
   verify + authorise + validate + signed receipt, one core; and the ratio of the
   measured throughput to that ceiling.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from argparse import Namespace
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from app.bench.load import LoadPlan, LoadResult, run_load_process
from app.process import GatewayProcess
from app.wiring import assemble
from conformance import sample
from gateway import client, pipeline
from gateway.broker.connection import connect
from gateway.config import Settings, load_settings, write_config
from gateway.signing.keys import SigningIdentity

DECLARATION = sample("ECOM_DECLARATION")
SAMPLE, PARTY = DECLARATION.file, DECLARATION.sender
LOAD_PROCESSES = 2
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


def run_intake_bench(args: Namespace) -> int:
    settings = load_settings(args.config)
    if not (settings.pki_dir / f"{PARTY}.key.pem").exists():
        console.print("[red]no development keys: run `gateway keys init` first[/red]")
        return 2
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
        bench_settings, config_path = _bench_config(settings, Path(tmp))
        gateway = GatewayProcess(
            config_path,
            Path(tmp) / "gateway.log",
            {"GATEWAY_DB_URL": bench_settings.db_url},
            role="ingress",
            port=int(args.bind.rsplit(":", 1)[1]),
        )
        console.print(f"starting the gateway (ingress) on {gateway.url}; log in {gateway.log_path}")
        gateway.start()
        try:
            console.print(f"throughput: {args.clients} clients, closed loop, {args.seconds:.0f} s")
            throughput = _load(gateway.url, settings.pki_dir, args.clients, args.seconds, rate=None)
            console.print(f"latency: {args.rate:.0f} messages/s offered, {args.seconds:.0f} s")
            latency = _load(gateway.url, settings.pki_dir, args.clients, args.seconds, rate=args.rate)
        finally:
            gateway.stop()
        console.print("ceiling: the intake stages in-process, one core")
        ceiling, size = _ceiling(bench_settings)
        _remove_topology(bench_settings)
    figures = _figures(throughput, latency, args, ceiling, size)
    if args.json:
        print(json.dumps(figures.__dict__))
    else:
        _print(figures)
    return 0


def _bench_config(settings: Settings, directory: Path) -> tuple[Settings, Path]:
    """The benchmarked gateway's own configuration: a fresh store and broker namespace, the same PKI and rules."""
    db_url = f"sqlite:///{directory / 'var' / 'gateway.db'}"
    path = write_config(
        directory / "gateway.toml",
        {
            "gateway": settings.gateway.__dict__,
            "paths": {"var": str(directory / "var"), "pki": str(settings.pki_dir)},
            "http": {**settings.http.__dict__, "bind": "127.0.0.1:0"},
            "broker": {"namespace": f"bench-{uuid.uuid4().hex[:8]}"},
            "trust": {"anchors": [str(p) for p in settings.trust_anchors]},
            "registry": {"parties": str(settings.parties_file), "routes": str(settings.routes_file),
                         "partners": str(settings.partners_file)},
            "schemas": {"packs": [str(p) for p in settings.schema_packs]},
            "logging": {"format": "json", "level": "warning"},
        },
    )
    return load_settings(path, {**os.environ, "GATEWAY_DB_URL": db_url}), path


def _load(url: str, pki_dir: Path, clients: int, seconds: float, rate: float | None) -> LoadResult:
    context = multiprocessing.get_context("spawn")
    per_process_threads = max(1, clients // LOAD_PROCESSES)
    budget = (rate * 1.2 if rate else 1500.0) * seconds / LOAD_PROCESSES
    plan = LoadPlan(
        url, pki_dir, PARTY, SAMPLE, per_process_threads, int(budget), seconds,
        rate / LOAD_PROCESSES if rate else None,
    )
    ready = context.Barrier(LOAD_PROCESSES)
    results = context.Queue()
    processes = [context.Process(target=run_load_process, args=(plan, ready, results)) for _ in range(LOAD_PROCESSES)]
    for process in processes:
        process.start()
    total = LoadResult()
    for _ in processes:
        total.merge(results.get())
    for process in processes:
        process.join()
    return total


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


def _remove_topology(settings: Settings) -> None:
    services = assemble(settings).services
    try:
        connection = connect(settings.broker.url)
        services.topology.delete(connection.channel())
        connection.close()
    finally:
        services.close()


def _figures(throughput: LoadResult, latency: LoadResult, args: Namespace, ceiling: float, size: int) -> Figures:
    def percentile(values: list[float], q: int) -> float:
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1] * 1000 if len(values) > 1 else float("nan")

    accepted = throughput.accepted / args.seconds
    return Figures(
        accepted_per_s=round(accepted, 1),
        p50_ms=round(percentile(latency.latencies, 50), 2),
        p95_ms=round(percentile(latency.latencies, 95), 2),
        p99_ms=round(percentile(latency.latencies, 99), 2),
        offered_per_s=args.rate,
        achieved_per_s=round(latency.accepted / args.seconds, 1),
        ceiling_per_s=round(ceiling, 1),
        ratio=round(accepted / ceiling, 3),
        message_bytes=size,
        rejected=sum(throughput.other.values()) + sum(latency.other.values()) + throughput.errors + latency.errors,
        cores=os.cpu_count() or 1,
    )


def _print(figures: Figures) -> None:
    table = Table(title="gateway bench intake", show_header=False)
    rows = [
        ("accepted messages/s (closed loop)", f"{figures.accepted_per_s:.1f}"),
        (f"latency at {figures.offered_per_s:.0f}/s offered: p50 / p95 / p99", f"{figures.p50_ms:.1f} / {figures.p95_ms:.1f} / {figures.p99_ms:.1f} ms"),
        ("achieved at that rate", f"{figures.achieved_per_s:.1f}/s"),
        ("in-process ceiling (one core): parse+validate+verify+receipt", f"{figures.ceiling_per_s:.1f}/s"),
        ("ratio accepted / ceiling", f"{figures.ratio:.2f} (on {figures.cores} cores)"),
        ("message size (signed, RSA-2048)", f"{figures.message_bytes} bytes"),
        ("answers other than 200, and connection errors", str(figures.rejected)),
    ]
    for label, value in rows:
        table.add_row(label, value)
    Console().print(table)
