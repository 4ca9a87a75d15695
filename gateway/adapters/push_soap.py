"""Pushing over SOAP 1.1 or 1.2 with zeep: the endpoint offers the gateway's own WSDL (operation Submit).

The WSDL is read from the package, not fetched from the partner: the contract is
ours, the partner only gives the address. A SOAP fault (the partner could not take
the message now) is a failed attempt; a SubmitResponse carries the signed receipt,
whether it accepts or rejects.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import requests
import zeep
import zeep.exceptions

from gateway.adapters.soap import TNS, WSDL_PATH
from gateway.exceptions import DeliveryFailed
from gateway.outbound.push import PushAnswer

_BINDINGS = {"1.1": f"{{{TNS}}}GatewaySoap11Binding", "1.2": f"{{{TNS}}}GatewaySoap12Binding"}


@dataclass
class SoapPusher:
    version: str  # "1.1" or "1.2"
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def __call__(self, url: str, body: bytes, *, timeout_s: float, correlation_id: str) -> PushAnswer:
        client = self._client(timeout_s)
        service = client.create_service(_BINDINGS[self.version], url)
        try:
            with client.settings(extra_http_headers={"X-Correlation-ID": correlation_id}):
                response = service.Submit(message=body)
        except zeep.exceptions.Fault as fault:
            raise DeliveryFailed(f"SOAP fault from {url}: {fault.message}") from None
        except (zeep.exceptions.Error, requests.RequestException) as exc:
            raise DeliveryFailed(f"SOAP call to {url} failed: {exc}") from None
        return PushAnswer(200, response.receipt)

    def _client(self, timeout_s: float) -> zeep.Client:
        """One client per delivery thread (zeep's HTTP session is not shared between threads), the WSDL parsed once."""
        client = getattr(self._local, "client", None)
        if client is None:
            transport = zeep.Transport(timeout=timeout_s, operation_timeout=timeout_s)
            client = self._local.client = zeep.Client(str(WSDL_PATH), transport=transport)
        return client
