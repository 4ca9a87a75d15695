"""Faults under load: kill -9 of each component of a running gateway, then of the whole process group.

Every time: nothing accepted is lost (each accepted message ends processed), nothing is processed twice
(one processing record per handler of its route), and the doors that did not crash keep answering
while the supervisor restarts the one that did.
"""

from __future__ import annotations

import json
import os
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from load import Load, wait_until_processed
from sqlalchemy import func, select
from support import AMQP_URL, LiveGateway, MessageFactory, wait_until

from app.wiring import Assembly
from gateway import client
from gateway.store.tables import messages, processing

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SENDER = "0101234567"


@pytest.fixture
def load(own_gateway: LiveGateway, messages: MessageFactory) -> Iterator[Load]:
    with Load(own_gateway.url, messages, "ECOM_ORDER", SENDER) as running:
        yield running


def component_pids(gateway: LiveGateway) -> dict[str, int]:
    """The newest pid of each component, from the supervisor's log."""
    pids = {}
    for line in gateway.log().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "component started":
            pids[event["component"]] = event["pid"]
    return pids


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def restarted(gateway: LiveGateway, component: str, old_pid: int) -> bool:
    return component_pids(gateway).get(component, old_pid) != old_pid


def accepted_grows(load: Load, by: int = 5, timeout: float = 20.0) -> None:
    load.wait_for_accepted(since=time.monotonic(), count=by, timeout=timeout)


def pinned_workers(master: int, count: int, gone: int) -> bool:
    """Whether `master` has `count` workers again, without `gone`, each of them kept to one core."""
    workers = children_of(master)
    try:
        return len(workers) == count and gone not in workers and all(len(os.sched_getaffinity(pid)) == 1 for pid in workers)
    except ProcessLookupError:
        return False


def check_each_worker_keeps_a_core_of_its_own(workers: list[int]) -> None:
    kept = [os.sched_getaffinity(pid) for pid in workers]
    assert all(len(allowed) == 1 for allowed in kept), kept
    if len(workers) <= len(os.sched_getaffinity(0)):
        assert len(set.union(*kept)) == len(workers), kept


def check_all_processed_once(assembly: Assembly, message_ids: list[str]) -> None:
    engine = assembly.services.engine
    handlers = len(assembly.routes.route_for("ECOM_ORDER", "01").handlers)  # type: ignore[union-attr]

    wait_until_processed(engine, message_ids)
    with engine.connect() as connection:
        per_message = connection.execute(
            select(func.count())
            .select_from(processing.join(messages, processing.c.message == messages.c.id))
            .where(messages.c.message_id.in_(message_ids))
            .group_by(processing.c.message)
        ).scalars().all()
    assert len(per_message) == len(message_ids) and set(per_message) == {handlers}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_killing_any_one_component_loses_nothing_and_the_other_doors_keep_answering(
    own_gateway: LiveGateway, load: Load, assembly: Assembly, messages: MessageFactory
) -> None:
    accepted_grows(load)
    partner = client.AmqpClient(AMQP_URL, assembly.services.topology.inbound_exchange)
    amqp_accepted: list[str] = []
    try:
        http_master = component_pids(own_gateway)["http"]
        (one_worker, *_) = children_of(http_master)
        workers = len(children_of(http_master))
        os.kill(one_worker, signal.SIGKILL)  # gunicorn replaces its worker; the other worker serves meanwhile
        accepted_grows(load)
        # the replacement pins itself once it has loaded the application, and takes the core its predecessor left
        wait_until(lambda: pinned_workers(http_master, workers, one_worker), timeout=30)
        check_each_worker_keeps_a_core_of_its_own(children_of(http_master))
        for component in ("amqp", "relay", "workers", "timers", "delivery"):
            old = component_pids(own_gateway)[component]
            killed_at = time.monotonic()
            os.kill(old, signal.SIGKILL)
            accepted_grows(load)  # the HTTP door answers while the component is down
            assert not load.unanswered_since(killed_at), f"HTTP failed while {component} was down"
            wait_until(lambda c=component, o=old: restarted(own_gateway, c, o), timeout=20)
            receipt = client.read_receipt(partner.submit(messages.signed("ECOM_ORDER", SENDER), str(uuid.uuid4())), None)
            assert receipt.accepted, (component, receipt.errors)
            amqp_accepted.append(receipt.received_message_id)
        old = component_pids(own_gateway)["http"]
        orphans = children_of(old)
        os.kill(old, signal.SIGKILL)  # the HTTP door itself: the AMQP door answers meanwhile
        receipt = client.read_receipt(partner.submit(messages.signed("ECOM_ORDER", SENDER), str(uuid.uuid4())), None)
        assert receipt.accepted
        amqp_accepted.append(receipt.received_message_id)
        wait_until(lambda: restarted(own_gateway, "http", old), timeout=20)
        accepted_grows(load, timeout=40)
        # its workers notice their master is gone and stop, leaving the listening port to the new ones
        wait_until(lambda: not any(Path(f"/proc/{pid}").exists() for pid in orphans), timeout=40)
    finally:
        partner.close()
    load.stop()
    check_all_processed_once(assembly, load.accepted() + amqp_accepted)
    assert "keeps failing" not in own_gateway.log()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_killing_the_whole_process_group_loses_nothing_accepted(
    own_gateway: LiveGateway, load: Load, assembly: Assembly
) -> None:
    accepted_grows(load, by=20)
    assert own_gateway.process is not None
    os.killpg(own_gateway.process.pid, signal.SIGKILL)
    own_gateway.process.wait()
    load.stop()
    survivors = load.accepted()
    own_gateway.start()  # the same store and broker namespace: a restart by systemd
    check_all_processed_once(assembly, survivors)
