"""The console's searches page newest first; a time range alone pages on (received_at, id), every row once."""

from __future__ import annotations

import datetime as dt

from aged import NOW, inbound

from console import search
from console.context import Console


def test_a_time_range_pages_newest_first_by_received_at_then_id_and_lists_every_row_once(console: Console) -> None:
    ages = [1, 3, 2, 2, 5, 2, 0.5]  # received out of id order, three at the same instant
    created = [inbound(console.services.store, age_days=age) for age in ages]
    mine = {new.message_id for new in created}
    window = search.Window(limit=2, since=NOW - dt.timedelta(days=4), until=NOW)
    seen: list[tuple[dt.datetime, int]] = []
    with console.services.engine.connect() as connection:
        while True:
            found = search.messages_page(connection, window)
            seen += [(item["received_at"], item["id"]) for item in found["items"] if item["message_id"] in mine]
            if found["next"] is None:
                break
            window = search.Window(limit=2, before=found["next"], since=window.since, until=window.until)
    assert len(seen) == len({pk for _, pk in seen}) == len([age for age in ages if age < 4])
    assert seen == sorted(seen, reverse=True)
