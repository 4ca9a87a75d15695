"""The services a gateway process uses, built once from the settings.

The routing table is given by the caller (the composition root reads routes.toml):
the gateway only needs to know which route, i.e. which queue, takes a message.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Engine

from gateway.behaviours import Behaviours
from gateway.broker.confirming import ConfirmingPublisher
from gateway.broker.forwarder import Forwarder
from gateway.broker.publisher import Publisher
from gateway.broker.topology import Topology
from gateway.config import BrokerSettings, Settings
from gateway.envelope import PartyRef
from gateway.outbound.compose import EnvelopeComposer
from gateway.outbound.outbox import Outbox
from gateway.parties import PartyRegistry, read_parties_file, sync_parties
from gateway.receipts import ReceiptBuilder
from gateway.schemas.registry import SchemaRegistry
from gateway.signing.expiry import CertificateInUse, certificates_in_use
from gateway.signing.revocation.checker import RevocationChecker
from gateway.signing.rotation import GatewayKeys
from gateway.signing.trust import TrustStore
from gateway.store.engine import make_engine
from gateway.store.group_commit import GroupCommitter
from gateway.store.messages import MessageStore


class Router(Protocol):
    """Which route (and so which queue) takes an accepted message."""

    @property
    def names(self) -> tuple[str, ...]: ...

    def route_name(self, document_type: str, function: str) -> str | None: ...


@dataclass
class Services:
    settings: Settings
    engine: Engine
    store: MessageStore
    schemas: SchemaRegistry
    parties: PartyRegistry
    trust: TrustStore
    revocation: RevocationChecker
    routes: Router
    topology: Topology
    keys: GatewayKeys  # the gateway's own key(s): they sign receipts and outgoing messages
    receipts: ReceiptBuilder
    recorder: GroupCommitter
    forwarder: Forwarder  # publishes what `recorder` commits, after the receipts are given
    outbox: Outbox
    behaviours: Behaviours
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def publisher(self) -> Publisher:
        """This thread's publisher (pika connections belong to one thread)."""
        publisher = getattr(self._local, "publisher", None)
        if publisher is None:
            broker = self.settings.broker
            publisher = Publisher(
                broker.url, broker.publish_timeout_s, name=f"{broker.namespace}-publisher", heartbeat_s=broker.heartbeat_s
            )
            self._local.publisher = publisher
        return publisher

    def certificates_in_use(self) -> list[CertificateInUse]:
        """Every party's certificates and CAs and the gateway's own (current and, during a rotation, next)."""
        return certificates_in_use(self.parties.all(), self.settings.gateway.identity, self.keys.certificates())

    def close(self) -> None:
        publisher = getattr(self._local, "publisher", None)
        if publisher is not None:
            publisher.close()
        self.revocation.stop()
        self.recorder.close()
        self.forwarder.close()
        self.engine.dispose()


def build_services(
    settings: Settings, routes: Router, sync_registry: bool = False, schemas: SchemaRegistry | None = None
) -> Services:
    """Compile schemas, open the store, load parties and trust; fail fast on bad configuration.

    `schemas`: the registry of `settings.schema_packs`, already compiled (it is immutable once loaded).
    """
    engine = make_engine(settings.db_url)
    if sync_registry:
        sync_parties(engine, read_parties_file(settings.parties_file, settings.pki_dir))
    if schemas is None:
        schemas = SchemaRegistry.load(settings.schema_packs)
    gateway = settings.gateway
    signer = GatewayKeys.load(settings.pki_dir, gateway.identity, settings.next_key_from)
    store = MessageStore(engine)
    parties = PartyRegistry(engine)
    us = PartyRef(gateway.identity, gateway.name, gateway.country)
    revocation = RevocationChecker(settings.revocation, settings.clock_skew)  # its CRL timer starts at the first check
    push_recipients = tuple(sorted(p.identity for p in parties.all() if p.endpoint is not None))
    return Services(
        settings=settings,
        engine=engine,
        store=store,
        schemas=schemas,
        parties=parties,
        trust=TrustStore.from_files(settings.trust_anchors, settings.clock_skew),
        revocation=revocation,
        routes=routes,
        topology=Topology(
            settings.broker.namespace,
            routes.names,
            settings.broker.max_attempts + 5,
            push_recipients,
            settings.delivery.retry_delays_ms() if push_recipients else (),
        ),
        keys=signer,
        receipts=ReceiptBuilder(us, signer),
        recorder=GroupCommitter(store),
        forwarder=make_forwarder(settings.broker, store),
        outbox=Outbox(engine, EnvelopeComposer(us, signer, schemas), parties),
        behaviours=Behaviours(),
    )


def make_forwarder(broker: BrokerSettings, store: MessageStore) -> Forwarder:
    """The process's forwarder: a broker that is down is tried again after `relay_interval_s`."""
    publisher = ConfirmingPublisher(
        broker.url,
        broker.publish_timeout_s,
        retry_after_s=broker.relay_interval_s,
        name=f"{broker.namespace}-forwarder",
        heartbeat_s=broker.heartbeat_s,
    )
    return Forwarder(store, publisher, batch=broker.relay_batch)
