"""The composition root: one gateway process's parts, wired together.

`gateway` knows nothing of routes.toml's handlers or of the customs business;
`routing` knows nothing of the doors. Here the routing table is read, the gateway's
services are built around it, and the business checks that run at intake
(entitlement, queries by reference) are plugged into the pipeline's hooks.
"""

from __future__ import annotations

from dataclasses import dataclass

import console.tables
import customs.state
from customs import entitlement
from customs.partners import PartnerRules
from customs.permissions import signed_messages
from customs.rules import Rules
from gateway.config import Settings
from gateway.outbound import pull
from gateway.pipeline import Pipeline
from gateway.schemas.registry import SchemaRegistry
from gateway.services import Services, build_services
from routing.table import RoutingTable
from routing.timers import Timers
from routing.worker import Worker


# The business's and the console's tables join the store's metadata before any store opens.
STATE_TABLES = (customs.state, console.tables)


@dataclass
class Assembly:
    """Everything a gateway process runs on."""

    services: Services
    routes: RoutingTable
    rules: Rules

    def pipeline(self) -> Pipeline:
        return Pipeline(self.services)

    def worker(self) -> Worker:
        return Worker(self.services, self.routes, self.rules)

    def timers(self) -> Timers:
        return Timers(self.services, self.routes, self.rules)

    def close(self) -> None:
        self.services.close()


def assemble(settings: Settings, sync_registry: bool = False, schemas: SchemaRegistry | None = None) -> Assembly:
    """Build the services with the routing table and the customs rules; fail fast on bad configuration.

    `schemas`: the registry of `settings.schema_packs`, already compiled (the tests compile it once per run).
    """
    routes = RoutingTable.load(settings.routes_file)
    services = build_services(settings, routes, sync_registry=sync_registry, schemas=schemas)
    try:
        documents = services.schemas.documents
        routes.check_covers(list(documents), {name: document.functions for name, document in documents.items()})
        rules = customs_rules(services)
        plug_business(services, rules)
    except BaseException:
        services.close()
        raise
    return Assembly(services, routes, rules)


def customs_rules(services: Services) -> Rules:
    """The customs rules of the configuration, each file read now (a mistake in one stops the start)."""
    settings = services.settings
    parties = (party.identity for party in services.parties.all())
    rules = Rules(settings.business_file, settings.risk_file, PartnerRules.load(settings.partners_file, services.schemas.documents, parties))
    rules.business, rules.risk  # noqa: B018
    return rules


def plug_business(services: Services, rules: Rules) -> None:
    """The customs checks that intake runs, against their document types."""
    entitlement.register(services.behaviours, rules)
    pull.register(
        services.behaviours,
        lambda connection, reader, reference: signed_messages(connection, reader, reference, rules=rules.business),
    )
