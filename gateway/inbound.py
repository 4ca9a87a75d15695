"""An accepted inbound message as the store holds it, read back for processing."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from lxml import etree

from gateway import xmlsafe
from gateway.envelope import Header, content_element, read_header
from gateway.store.messages import StoredMessage


@dataclass(frozen=True)
class InboundMessage:
    """An accepted message (its signature was verified at intake), parsed on first use."""

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
