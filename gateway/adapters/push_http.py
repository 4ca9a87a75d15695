"""Pushing over plain HTTP: POST the signed envelope as application/xml; the answer is the signed receipt.

This is how one gateway delivers to another's `POST /v1/messages` door, and how a
party that registered an HTTP endpoint receives its replies.
"""

from __future__ import annotations

import threading

import requests

from gateway.exceptions import DeliveryFailed
from gateway.outbound.push import PushAnswer

MAX_ANSWER_BYTES = 1024 * 1024  # a receipt is a few kilobytes; more is not a receipt
_local = threading.local()


def push(url: str, body: bytes, *, timeout_s: float, correlation_id: str) -> PushAnswer:
    try:
        response = _session().post(
            url,
            data=body,
            headers={"Content-Type": "application/xml; charset=utf-8", "X-Correlation-ID": correlation_id},
            timeout=timeout_s,
            stream=True,
        )
        with response:
            answer = _read(response)
    except requests.RequestException as exc:
        raise DeliveryFailed(f"HTTP POST to {url} failed: {exc}") from None
    return PushAnswer(response.status_code, answer)


def _session() -> requests.Session:
    """One session per delivery thread: connections are reused, never shared between threads."""
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def _read(response: requests.Response) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise DeliveryFailed(f"the answer from {response.url} is larger than {MAX_ANSWER_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
