"""The outbound transports: the adapter that carries a push for each endpoint transport of parties.toml."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.adapters import push_http
from gateway.adapters.push_soap import SoapPusher
from gateway.outbound.push import Pusher

PUSHERS: Mapping[str, Pusher] = {
    "http": push_http.push,
    "soap": SoapPusher("1.1"),
    "soap12": SoapPusher("1.2"),
}
