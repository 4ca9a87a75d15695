"""Reading a CRL or an OCSP answer from a file or over HTTP, with a size limit and a timeout."""

from __future__ import annotations

import urllib.request
from pathlib import Path

MAX_BYTES = 16 * 1024 * 1024  # larger than any CRL a CA of this scale publishes


class FetchError(Exception):
    """The source could not be read (down, slow, too large, not found)."""


def read_source(source: str, timeout_s: float, data: bytes | None = None, content_type: str | None = None) -> bytes:
    """The bytes at `source` (an http(s) URL, POSTed `data` when given, or a file path)."""
    try:
        if source.startswith(("http://", "https://")):
            request = urllib.request.Request(source, data=data, headers={"Content-Type": content_type} if content_type else {})
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 (scheme checked above)
                body: bytes = response.read(MAX_BYTES + 1)
        elif "://" in source:
            raise FetchError(f"{source}: only http, https and files are fetched")
        else:
            with Path(source).open("rb") as handle:
                body = handle.read(MAX_BYTES + 1)
    except (OSError, ValueError) as exc:  # URLError, timeouts and HTTP errors are OSErrors
        raise FetchError(f"{source}: {exc}") from None
    if len(body) > MAX_BYTES:
        raise FetchError(f"{source}: larger than {MAX_BYTES} bytes")
    return body
