"""`gateway bench large`: what one large message costs in memory in the process that handles it.

The declaration schema bounds a declaration (999 items of at most 512 characters each: about
1.8 MB of UTF-8), so the message is built as the largest declaration the schema allows and then
brought to the asked size with whitespace between the items (ignorable in element-only content:
still schema-valid, still signed). A gateway with one HTTP process takes it; the growth of that
process's peak resident memory (VmHWM) over its resident memory before, against the message's
size, is the figure.
"""

from __future__ import annotations

import http.client
import json
import tempfile
import time
from argparse import Namespace
from dataclasses import asdict, dataclass
from pathlib import Path

from lxml import etree
from rich.console import Console
from rich.table import Table

from app.bench.instance import bench_config, bench_store, remove_topology, require_keys
from app.bench.processes import gateway_processes, peak_resident_bytes, resident_bytes_of
from app.process import GatewayProcess, ProcessFailed
from conformance import sample
from gateway import client
from gateway.config import load_settings
from gateway.signing.keys import SigningIdentity

DECLARATION = sample("ECOM_DECLARATION")
MAX_ITEMS = 999
DESCRIPTION = ("Áo khoác lông vũ siêu nhẹ, chống nước, có mũ trùm đầu tháo rời được " * 8)[:512]
console = Console(stderr=True)


@dataclass(frozen=True)
class LargeFigures:
    message_bytes: int
    items: int
    status: int
    seconds: float
    resident_before_bytes: int
    peak_bytes: int
    cost_bytes: int  # peak - before
    cost_per_message_byte: float


def run_large_bench(args: Namespace) -> int:
    settings = load_settings(args.config)
    require_keys(settings, DECLARATION.sender)
    identity = SigningIdentity.load(settings.party_key(DECLARATION.sender), settings.party_cert(DECLARATION.sender))
    with console.status("building and signing the message"):
        body, items = build(identity, int(args.megabytes * 2**20))
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp, bench_store(None, Path(tmp)) as db_url:
        bench_settings, config_path = bench_config(
            settings, Path(tmp), db_url, processes=1, max_body_bytes=max(settings.http.max_body_bytes, len(body))
        )
        gateway = GatewayProcess(config_path, Path(tmp) / "gateway.log", {"GATEWAY_DB_URL": db_url}, role="ingress")
        console.print(f"starting the gateway (ingress, one HTTP process) on {gateway.url}")
        gateway.start()
        try:
            worker = _http_worker(gateway.process.pid)
            before = resident_bytes_of(worker) or 0
            started = time.perf_counter()
            status = _post(gateway.url, body)
            seconds = time.perf_counter() - started
            peak = peak_resident_bytes(worker) or 0
        finally:
            gateway.stop()
        remove_topology(bench_settings)
    figures = LargeFigures(
        message_bytes=len(body), items=items, status=status, seconds=round(seconds, 2),
        resident_before_bytes=before, peak_bytes=peak, cost_bytes=peak - before,
        cost_per_message_byte=round((peak - before) / len(body), 2),
    )
    if args.json:
        print(json.dumps(asdict(figures)))
    else:
        _print(figures)
    return 0 if status == 200 else 1


def build(identity: SigningIdentity, size: int) -> tuple[bytes, int]:
    """A signed declaration of about `size` bytes: as many maximal items as fit (up to 999), then padding."""
    root = client.refresh(client.load_envelope(DECLARATION.file))
    container = next(root.iter("{*}items"))
    template = container[0]
    for extra in container[1:]:
        container.remove(extra)
    template.find("{*}description").text = DESCRIPTION
    item_bytes = len(etree.tostring(template, encoding="utf-8"))
    count = max(1, min(MAX_ITEMS, size // item_bytes))
    for number in range(2, count + 1):
        item = etree.fromstring(etree.tostring(template))
        item.find("{*}lineNumber").text = str(number)
        item.find("{*}orderLine").text = str(number)
        container.append(item)
    padding = size - len(etree.tostring(root, encoding="utf-8")) - 4096  # the signature takes about 4 KB
    if padding > 0:
        spaces = padding // count
        for item in container:
            item.tail = "\n" + " " * spaces
    return client.sign(root, identity), count


def _http_worker(root: int) -> int:
    workers = [pid for pid, title in gateway_processes(root).items() if "worker [gateway-http]" in title]
    if len(workers) != 1:
        raise ProcessFailed(f"expected one HTTP worker process, found {len(workers)}")
    return workers[0]


def _post(url: str, body: bytes) -> int:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=300)
    try:
        connection.request("POST", "/v1/messages", body, {"Content-Type": "application/xml"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def _print(figures: LargeFigures) -> None:
    table = Table(title="gateway bench large", show_header=False)
    mb = 2**20
    for label, value in (
        ("message size", f"{figures.message_bytes / mb:.1f} MB ({figures.items} items, then whitespace)"),
        ("answer", f"HTTP {figures.status} in {figures.seconds:.2f} s"),
        ("HTTP process resident before", f"{figures.resident_before_bytes / mb:.0f} MB"),
        ("its peak while handling the message", f"{figures.peak_bytes / mb:.0f} MB"),
        ("cost of the message: peak - before", f"{figures.cost_bytes / mb:.1f} MB"),
        ("cost per byte of message", f"{figures.cost_per_message_byte:.2f}x"),
    ):
        table.add_row(label, value)
    Console().print(table)
