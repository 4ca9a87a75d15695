"""The supervisor restarts a component that exits, with back-off, and gives up only on one that keeps exiting."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

from app.supervisor import Supervisor
from gateway.config import SupervisorSettings

FAST = SupervisorSettings(first_restart_s=0.05, max_restart_s=0.2, max_restarts=3, window_s=30.0)
context = multiprocessing.get_context("spawn")


def stay_up(marker: str) -> None:
    """A component that runs until terminated, noting each start in `marker`."""
    with open(marker, "a", encoding="utf-8") as handle:
        handle.write("start\n")
    while True:
        time.sleep(0.1)


def crash(marker: str) -> None:
    with open(marker, "a", encoding="utf-8") as handle:
        handle.write("start\n")
    raise SystemExit(3)


def starts(marker: Path) -> int:
    return marker.read_text(encoding="utf-8").count("start") if marker.exists() else 0


def wait_for(condition, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def supervise(tmp_path: Path, targets: dict[str, object]) -> tuple[Supervisor, threading.Event, threading.Thread, list[int]]:
    def spawn(name: str) -> multiprocessing.process.BaseProcess:
        return context.Process(target=targets[name], args=(str(tmp_path / name),))

    supervisor = Supervisor(tuple(targets), spawn, FAST, stop_timeout_s=5.0)
    stopping, status = threading.Event(), []
    thread = threading.Thread(target=lambda: status.append(supervisor.run(stopping)))
    thread.start()
    return supervisor, stopping, thread, status


def test_a_killed_component_is_restarted_and_the_others_keep_running(tmp_path: Path) -> None:
    supervisor, stopping, thread, status = supervise(tmp_path, {"worker": stay_up, "door": stay_up})
    try:
        wait_for(lambda: starts(tmp_path / "worker") == 1 and starts(tmp_path / "door") == 1)
        door = supervisor.children["door"].process
        victim = supervisor.children["worker"].process
        assert victim is not None and door is not None
        victim.kill()
        wait_for(lambda: starts(tmp_path / "worker") == 2)
        assert supervisor.children["door"].process is door and door.is_alive()
        assert supervisor.restarts.labels("worker")._value.get() == 1
    finally:
        stopping.set()
        thread.join(20)
    assert status == [0]
    assert all(child.process is not None and not child.process.is_alive() for child in supervisor.children.values())


def test_a_component_that_keeps_exiting_stops_the_gateway_with_a_reason(tmp_path: Path) -> None:
    supervisor, stopping, thread, status = supervise(tmp_path, {"broken": crash, "door": stay_up})
    thread.join(30)
    assert not thread.is_alive() and status == [1]
    assert starts(tmp_path / "broken") == FAST.max_restarts
    assert not supervisor.children["door"].process.is_alive()  # type: ignore[union-attr]  # stopped with the rest


def test_restarts_back_off(tmp_path: Path) -> None:
    policy = SupervisorSettings(first_restart_s=0.4, max_restart_s=10.0, max_restarts=10, window_s=30.0)
    supervisor = Supervisor(("x",), lambda _: context.Process(target=crash, args=(str(tmp_path / "x"),)), policy, 5.0)
    delays = [supervisor._note_death("x", 3, now) for now in (0.0, 1.0, 2.0, 3.0)]
    assert delays == [0.4, 0.8, 1.6, 3.2]
