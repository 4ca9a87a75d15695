"""`gateway messages show`: a stored message's header facts and timeline, for people and for scripts.

Run in-process through `app.cli.main.main` against the test's store (both stores);
the listing and counting of `gateway messages` are in test_cli.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from rich.console import Console
from support import MessageFactory

from app.cli import messages as messages_cli
from app.cli.main import main
from gateway.pipeline import Pipeline, Transport
from gateway.services import Services
from gateway.store.messages import NewMessage, StoredMessage

pytestmark = pytest.mark.integration

LOGISTICS = "0309876543"


@pytest.fixture
def show(config_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """`gateway messages show ARGS...` -> (exit status, what it printed)."""
    monkeypatch.setenv("GATEWAY_DB_URL", db_url)
    monkeypatch.setattr(messages_cli, "console", Console(width=250))  # table cells unfolded

    def run(*args: str) -> tuple[int, str]:
        capsys.readouterr()
        status = main(["--config", str(config_path), "messages", "show", *args])
        return status, capsys.readouterr().out

    return run


@pytest.fixture
def stored(pipeline: Pipeline, services: Services, messages: MessageFactory) -> StoredMessage:
    """An order accepted at the HTTP door, its broker confirm noted, then failed by a worker."""
    outcome = pipeline.submit(messages.signed("ECOM_ORDER"), Transport("http", correlation_id="corr-show"))
    assert outcome.accepted, outcome.codes
    assert services.forwarder.flush()
    found = services.store.get("0101234567", str(outcome.message_id))
    assert found is not None
    # what a handler's error may say is not markup for the operator's terminal
    assert services.store.mark_failed(found.pk, "KeyError: '[bold red]x[/bold red]'", dt.datetime.now(dt.UTC), "worker")
    return found


def test_show_prints_the_header_facts_and_the_timeline(stored: StoredMessage, show) -> None:  # type: ignore[no-untyped-def]
    status, out = show(str(stored.pk))

    assert status == 0
    facts = dict(line.strip().split("  ", 1) for line in out.split("Timeline")[0].splitlines() if "  " in line.strip())
    assert {name: facts[name].strip() for name in ("id", "message id", "sender", "door", "status", "correlation id")} == {
        "id": str(stored.pk), "message id": stored.message_id, "sender": "0101234567", "door": "http",
        "status": "failed", "correlation id": "corr-show",
    }
    # the test PKI's CA publishes a CRL (as keys init makes it) that does not name the sender
    assert facts["signer revocation"].strip() == "good (crl)"
    rows = [[cell.strip() for cell in line.strip("│ ").split("│")] for line in out.splitlines() if line.startswith("│")]
    assert [row[1:4] for row in rows] == [["-", "accepted", "http"], ["accepted", "queued", "http"], ["queued", "failed", "worker"]]
    assert rows[1][4] == "the broker confirmed it"
    assert rows[2][4] == "KeyError: '[bold red]x[/bold red]'"  # printed as it is, not interpreted


def test_show_by_message_id_and_json_for_scripts(stored: StoredMessage, show) -> None:  # type: ignore[no-untyped-def]
    status, out = show(stored.message_id, "--json")

    assert status == 0
    (line,) = out.splitlines()  # one object, on one line
    shown = json.loads(line)
    assert shown["message"]["id"] == stored.pk and shown["message"]["status"] == "failed"
    assert shown["message"]["last_error"] == "KeyError: '[bold red]x[/bold red]'"
    assert "body" not in shown["message"] and "receipt" not in shown["message"]
    assert (shown["message"]["revocation_status"], shown["message"]["revocation_source"]) == ("good", "crl")
    assert [(step["from"], step["to"], step["actor"]) for step in shown["timeline"]] == [
        (None, "accepted", "http"), ("accepted", "queued", "http"), ("queued", "failed", "worker"),
    ]
    times = [dt.datetime.fromisoformat(step["at"]) for step in shown["timeline"]]
    assert all(moment.utcoffset() == dt.timedelta(0) for moment in times) and times == sorted(times)
    assert dt.datetime.fromisoformat(shown["message"]["received_at"]) == times[0]


def test_a_message_id_of_several_senders_needs_sender(stored: StoredMessage, services: Services, show) -> None:  # type: ignore[no-untyped-def]
    original = services.store.find(stored.pk)[0]
    copy = NewMessage(
        **{field.name: original[field.name] for field in dataclasses.fields(NewMessage) if field.name in original},
        body=stored.body, receipt=b"<Receipt/>",
    )
    other = services.store.record(dataclasses.replace(copy, sender=LOGISTICS), dt.datetime.now(dt.UTC))
    assert other.new

    status, out = show(stored.message_id)
    assert status == 1
    assert " ".join(out.split()) == (
        f"messageId {stored.message_id} was sent by several parties (0101234567, {LOGISTICS}): name one with --sender"
    )

    status, out = show(stored.message_id, "--sender", LOGISTICS, "--json")
    assert status == 0
    shown = json.loads(out)
    assert shown["message"]["id"] == other.pk
    assert [(s["from"], s["to"]) for s in shown["timeline"]] == [(None, "accepted")]


def test_an_unknown_message_is_one_line_and_exit_1(stored: StoredMessage, show) -> None:  # type: ignore[no-untyped-def]
    assert show(str(stored.pk + 1000)) == (1, f"no stored message {stored.pk + 1000}\n")
    assert show(stored.message_id, "--sender", "nobody") == (1, f"no stored message {stored.message_id} from nobody\n")
