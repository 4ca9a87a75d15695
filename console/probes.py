"""Is the gateway well: the store and the broker answer, how deep each queue is, how far the relay lags."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import pika.exceptions
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from customs.timestamps import as_utc
from gateway.broker.connection import connect
from gateway.lifecycle import MessageStatus
from gateway.services import Services
from gateway.store.tables import messages


def health(services: Services) -> dict[str, Any]:
    checks: dict[str, Any] = {}
    try:
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            oldest = connection.execute(
                select(func.min(messages.c.received_at)).where(messages.c.status == MessageStatus.ACCEPTED.value)
            ).scalar()
        checks["store"] = {"ok": True}
        checks["relay_lag_s"] = round((dt.datetime.now(dt.UTC) - as_utc(oldest)).total_seconds(), 3) if oldest else 0.0
    except SQLAlchemyError as exc:
        checks["store"] = {"ok": False, "error": str(getattr(exc, "orig", exc)).splitlines()[0]}
    checks["broker"], checks["queues"] = queues(services)
    checks["ok"] = checks["store"]["ok"] and checks["broker"]["ok"]
    return checks


def queues(services: Services) -> tuple[dict[str, Any], dict[str, Any]]:
    """Whether the broker answers, and each queue's messages and consumers (None: not declared)."""
    broker = services.settings.broker
    try:
        connection = connect(broker.url, broker.publish_timeout_s, f"{broker.namespace}-console")
    except (pika.exceptions.AMQPError, OSError) as exc:
        return {"ok": False, "error": repr(exc)}, {}
    depths: dict[str, Any] = {}
    with contextlib.closing(connection):
        for queue in services.topology.queues():
            try:
                declared = connection.channel().queue_declare(queue, passive=True).method
                depths[queue] = {"messages": declared.message_count, "consumers": declared.consumer_count}
            except pika.exceptions.ChannelClosedByBroker:
                depths[queue] = None
    return {"ok": True}, depths
