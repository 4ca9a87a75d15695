"""What a handler receives and what it must look like.

A handler is a plain function `(message, context) -> str`: it reads the message,
writes its effect through `context.tx` (the one transaction that also records the
processing, so the effect is committed exactly once), and returns a short
description of what it did. Messages it sends go through `context.emit`, which
signs and stores them in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from lxml import etree
from sqlalchemy import Connection

from gateway import xmlsafe
from gateway.envelope import Header, content_element, read_header
from gateway.outbound.compose import Subject
from gateway.outbound.outbox import OutboundMessage
from gateway.store.messages import StoredMessage

if TYPE_CHECKING:
    from gateway.services import Services


@dataclass(frozen=True)
class InboundMessage:
    """An accepted message as the store holds it (its signature was verified at intake)."""

    stored: StoredMessage

    @cached_property
    def root(self) -> etree._Element:
        return xmlsafe.without_comments(xmlsafe.parse(self.stored.body))

    @cached_property
    def header(self) -> Header:
        return read_header(self.root)

    @property
    def content(self) -> etree._Element | None:
        return content_element(self.root)


@dataclass
class HandlerContext:
    """One transaction's worth of a handler's world."""

    tx: Connection
    services: Services
    now: dt.datetime
    correlation_id: str
    source: int | None = None  # the store id of the inbound message being handled, if any
    emitted: list[OutboundMessage] = field(default_factory=list)

    def emit(self, recipient: str, subject: Subject, content: etree._Element) -> OutboundMessage:
        """Sign and store a message for `recipient`; it is published once the transaction commits."""
        message = self.services.outbox.emit(self.tx, recipient, subject, content, self.correlation_id, self.source)
        self.emitted.append(message)
        return message


class Handler(Protocol):
    def __call__(self, message: InboundMessage, context: HandlerContext) -> str: ...
