"""`gateway report` in-process against the test store: terminal tables, CSV (long format) and JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from rows import accept, decided, decision, declaration, in_context, item
from support import MessageFactory

from app.cli import report as report_command
from app.cli.main import main
from gateway.pipeline import Pipeline, Transport
from gateway.services import Services


@pytest.fixture
def command(config_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The command line's start, with the test store and a terminal wide enough for rich's tables."""
    monkeypatch.setenv("GATEWAY_DB_URL", db_url)
    monkeypatch.setattr(report_command, "console", Console(width=200))
    return ["--config", str(config_path), "report"]


@pytest.fixture
def filled(pipeline: Pipeline, messages: MessageFactory, services: Services) -> None:
    """Today: a green declaration with two exempt items and a message rejected at intake."""
    declared = accept(pipeline, messages, "ECOM_DECLARATION")
    assert not pipeline.submit(b"<not-xml", Transport("http")).accepted
    now = dt.datetime.now(dt.UTC)
    goods = [item(1, "39269099", 349790), item(2, "62014090", 841600)]

    def arrange(context) -> None:  # type: ignore[no-untyped-def]
        declaration(context.tx, "107012345670", "0309876543", declared.pk, goods, at=now, lane="GREEN")
        decision(context.tx, "107012345670", "GREEN", [decided(g, "EXEMPT", "DE_MINIMIS_1M") for g in goods], at=now)

    in_context(services, arrange)


def test_json_is_one_object_with_the_period_the_summary_and_the_tables(
    command: list[str], filled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command, "--format", "json"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["declarations"] == 1 and report["summary"]["declared_value_vnd"] == 1191390
    assert report["summary"]["exemptions_granted"] == 2 and report["summary"]["messages_rejected"] == 1
    assert report["tables"]["declarations_by_lane"] == [
        {"lane": "GREEN", "direction": "IMPORT", "declarations": 1, "declared_value_vnd": 1191390}
    ]
    start, end = (dt.datetime.fromisoformat(report["period"][bound]) for bound in ("from", "to"))
    assert end - start == dt.timedelta(days=30) and start < dt.datetime.now(dt.UTC) < end
    assert end.utcoffset() == dt.timedelta(hours=7)  # local midnight in Ho Chi Minh City


def test_csv_has_one_figure_per_row_for_spreadsheets(command: list[str], filled: None, tmp_path: Path) -> None:
    output = tmp_path / "report.csv"

    assert main([*command, "--format", "csv", "--output", str(output)]) == 0

    rows = list(csv.DictReader(io.StringIO(output.read_text(encoding="utf-8"))))
    assert list(rows[0]) == ["period_from", "period_to", "section", "dimension", "key", "subkey", "measure", "value"]
    figures = {(r["section"], r["key"], r["subkey"], r["measure"]): r["value"] for r in rows}
    assert figures[("summary", "", "", "declarations")] == "1"
    assert figures[("declarations_by_lane", "GREEN", "IMPORT", "declared_value_vnd")] == "1191390"
    assert figures[("exemptions", "EXEMPT", "DE_MINIMIS_1M", "items")] == "2"
    assert figures[("rejections_by_code", "XML_MALFORMED", "", "rejections")] == "1"
    assert {r["dimension"] for r in rows if r["section"] == "declarations_by_lane"} == {"lane/direction"}
    assert len({(r["period_from"], r["period_to"]) for r in rows}) == 1


def test_tables_on_the_terminal(command: list[str], filled: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(command) == 0

    out = capsys.readouterr().out
    for title in (
        "Declarations by lane and direction",
        "Item exemptions",
        "Rejections at intake by error code",
        "Top 10 platforms",
    ):
        assert title in out
    assert "1,191,390" in out and "DE_MINIMIS_1M" in out and "none in this period" in out  # no alerts, no inspections


def test_a_period_is_given_in_local_dates_with_its_end_excluded(
    command: list[str], filled: None, capsys: pytest.CaptureFixture[str]
) -> None:
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).date()

    assert main([*command, "--from", str(today - dt.timedelta(days=3)), "--to", str(today), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["summary"].values()) == {0}
    assert report["period"] == {
        "from": f"{today - dt.timedelta(days=3)}T00:00:00+07:00",
        "to": f"{today}T00:00:00+07:00",
    }


@pytest.mark.parametrize("period", [["--from", "yesterday"], ["--from", "2026-03-02", "--to", "2026-03-01"]])
def test_an_invalid_period_is_refused(
    command: list[str], capsys: pytest.CaptureFixture[str], period: list[str]
) -> None:
    assert main([*command, *period]) == 2
    assert "invalid period" in capsys.readouterr().err
