"""`gateway report`: the statistics of a period (customs.statistics) as terminal tables, CSV or JSON.

The CSV is in long format, one figure per row, so that a spreadsheet can filter
and pivot it, and reports of several periods can be appended to one another:
    period_from, period_to, section, dimension, key, subkey, measure, value
where `dimension` names what `key` (and `subkey`) are, e.g. "lane/direction",
GREEN, IMPORT, declarations, 12. The summary's rows have section "summary".
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import zoneinfo
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from app.cli.output import console, errors
from customs.statistics import Period, Report
from gateway.config import load_settings

DEFAULT_DAYS = 30


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    report = commands.add_parser(
        "report", help="statistics of a period: messages, declarations, exemptions, inspections, alerts, platforms"
    )
    report.add_argument(
        "--from",
        dest="start",
        help=f"start, YYYY-MM-DD or ISO 8601, local time (default: {DEFAULT_DAYS} days before the end)",
    )
    report.add_argument(
        "--to", dest="end", help="end, excluded, YYYY-MM-DD or ISO 8601, local time (default: tomorrow, so today is in)"
    )
    report.add_argument("--format", choices=("table", "csv", "json"), default="table")
    report.add_argument("--output", type=Path, help="write to this file instead of the terminal")
    report.add_argument("--top", type=int, default=10, help="how many platforms to list (default 10)")
    report.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from customs.rules import business_rules
    from customs.statistics import report
    from gateway.store.engine import make_engine

    settings = load_settings(args.config)
    zone = zoneinfo.ZoneInfo(business_rules(settings.business_file).calendar.timezone)
    try:
        period = period_of(args.start, args.end, zone, dt.datetime.now(dt.UTC))
    except ValueError as exc:
        errors.print(f"[red]invalid period:[/red] {exc}")
        return 2
    engine = make_engine(settings.db_url)
    try:
        with engine.connect() as connection:
            result = report(connection, period, top=args.top)
    finally:
        engine.dispose()
    if args.format == "table" and args.output is None:
        render_tables(result, console)
        return 0
    text = RENDERERS[args.format](result)
    if args.output is None:
        print(text, end="")
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


def period_of(start: str | None, end: str | None, zone: zoneinfo.ZoneInfo, now: dt.datetime) -> Period:
    """The period [start, end) from the command line; dates and times without a zone are local."""
    end_at = (
        _moment(end, zone)
        if end
        else dt.datetime.combine(now.astimezone(zone).date() + dt.timedelta(days=1), dt.time(), zone)
    )
    start_at = _moment(start, zone) if start else end_at - dt.timedelta(days=DEFAULT_DAYS)
    return Period(start_at, end_at)


def _moment(text: str, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


# --- renderers ----------------------------------------------------------------------


def render_tables(result: Report, console: Console) -> None:
    """Each table under its own heading (a table's title would wrap at the table's width)."""
    period = result.period
    start, end = (moment.isoformat(timespec="minutes") for moment in (period.start, period.end))
    console.rule(f"[bold]Report from {start} to {end} (excluded)")
    summary = Table("figure", "value")
    for name, value in result.summary.items():
        summary.add_row(name.replace("_", " "), f"{value:,}")
    console.print(summary)
    for stat in result.tables:
        console.print(f"\n[bold]{stat.title}[/bold]" + ("" if stat.rows else " — none in this period"), highlight=False)
        if not stat.rows:
            continue
        table = Table(*stat.keys, *stat.measures)
        for column in table.columns[len(stat.keys) :]:
            column.justify = "right"
        for row in stat.rows:
            table.add_row(*(str(v) for v in row[: len(stat.keys)]), *(f"{v:,}" for v in row[len(stat.keys) :]))
        console.print(table)


def render_table_text(result: Report) -> str:
    buffer = io.StringIO()
    render_tables(result, Console(file=buffer, width=120, color_system=None))
    return buffer.getvalue()


def render_json(result: Report) -> str:
    return json.dumps(result.document(), ensure_ascii=False, indent=2) + "\n"


RENDERERS: dict[str, Callable[[Report], str]] = {"table": render_table_text, "csv": Report.csv, "json": render_json}
