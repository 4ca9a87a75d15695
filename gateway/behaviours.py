"""Per-document-type behaviour at intake, registered against the type by the layer that owns it.

The pipeline's stages are the same for every message; a few document types need
more, and the code that knows about them plugs it in here instead of the
pipeline naming them:

- `entitle`: after validation, is the verified sender the party in charge of
  what the document concerns? (The customs business registers its checks.)
- `answer`: before the receipt is built, what the receipt carries besides the
  acknowledgement (a MESSAGE_QUERY's messages: gateway.outbound.pull).
- `recorded`: once the message is recorded, new or an identical resend (a
  MESSAGE_ACK marks the messages it names delivered).

The composition root (app/) registers them; a gateway without registrations
runs every common stage and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

from lxml import etree
from sqlalchemy import Connection

from gateway.errors import Problem
from gateway.exceptions import ConfigurationError
from gateway.parties import Party
from gateway.receipts import Batch

if TYPE_CHECKING:
    from gateway.pipeline import Intake
    from gateway.services import Services

Entitle = Callable[[Party, etree._Element, Connection], list[Problem]]
Answer = Callable[["Intake", "Services"], Batch]
Recorded = Callable[["Intake", "Services"], None]


@dataclass(frozen=True, slots=True)
class Behaviour:
    entitle: Entitle | None = None
    answer: Answer | None = None
    recorded: Recorded | None = None


NONE = Behaviour()


class Behaviours:
    """The registry: document type -> its behaviour (each hook registered at most once)."""

    def __init__(self) -> None:
        self._by_type: dict[str, Behaviour] = {}

    def register(
        self,
        document_type: str,
        *,
        entitle: Entitle | None = None,
        answer: Answer | None = None,
        recorded: Recorded | None = None,
    ) -> None:
        current = self._by_type.get(document_type, NONE)
        added = {"entitle": entitle, "answer": answer, "recorded": recorded}
        for hook in fields(Behaviour):
            if added[hook.name] is not None and getattr(current, hook.name) is not None:
                raise ConfigurationError(f"{document_type}: a {hook.name} hook is registered twice")
        self._by_type[document_type] = replace(current, **{k: v for k, v in added.items() if v is not None})

    def of(self, document_type: str) -> Behaviour:
        return self._by_type.get(document_type, NONE)

    def types(self) -> frozenset[str]:
        return frozenset(self._by_type)
