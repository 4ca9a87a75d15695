"""Applying parties.toml (and the certificate and partner-CA files it names) to the store without a restart.

`gateway parties reload` does it once; `serve` watches the files and does it when one of
them changes. The file is read and checked whole before the store is touched, and the
store is changed in one transaction, so a bad file changes nothing: the registry in use
stays, and the refusal is logged (or printed). Every running instance re-reads the
registry from the store (gateway.parties.PartyRegistry), so a change made by one reaches all.
"""

from __future__ import annotations

import threading
from pathlib import Path

import structlog

from gateway.config import Settings
from gateway.exceptions import ConfigurationError
from gateway.parties import PartyConfig, read_parties_file, sync_parties
from gateway.store.engine import make_engine

log = structlog.get_logger(__name__)
WATCH_INTERVAL_S = 2.0

Stamp = tuple[tuple[str, int, int], ...]


def reload_parties(settings: Settings) -> list[PartyConfig]:
    """Read parties.toml and make the store's registry match it; ConfigurationError (store untouched) when bad."""
    configured = read_parties_file(settings.parties_file, settings.pki_dir)
    engine = make_engine(settings.db_url)
    try:
        sync_parties(engine, configured)
    finally:
        engine.dispose()
    return configured


class RegistryWatcher:
    """Reloads the registry when parties.toml or a file it names changes (size or modification time)."""

    def __init__(self, settings: Settings, interval_s: float = WATCH_INTERVAL_S) -> None:
        self.settings = settings
        self.interval_s = interval_s
        self._files: tuple[Path, ...] = (settings.parties_file,)
        try:
            self._files += _named_files(read_parties_file(settings.parties_file, settings.pki_dir))
        except ConfigurationError:
            pass  # serve refuses such a file at start; watch the file alone
        self._stamp = self._stamp_of(self._files)

    def check(self) -> bool:
        """Reload if something changed since the last look; whether the store was changed."""
        stamp = self._stamp_of(self._files)
        if stamp == self._stamp:
            return False
        try:
            configured = reload_parties(self.settings)
        except ConfigurationError as exc:
            self._stamp = stamp  # refused once, not again until it changes (a store error is tried again)
            log.error("parties.toml refused; the registry in use stays", error=str(exc))
            return False
        self._files = (self.settings.parties_file, *_named_files(configured))
        self._stamp = self._stamp_of(self._files)
        log.info("party registry reloaded", parties=len(configured))
        return True

    def run(self, stopping: threading.Event) -> None:
        while not stopping.wait(self.interval_s):
            try:
                self.check()
            except Exception:  # the store may be away for a while: try again at the next look
                log.exception("party registry reload failed")

    @staticmethod
    def _stamp_of(files: tuple[Path, ...]) -> Stamp:
        stamps = []
        for path in files:
            try:
                status = path.stat()
                stamps.append((str(path), status.st_mtime_ns, status.st_size))
            except OSError:
                stamps.append((str(path), -1, -1))
        return tuple(stamps)


def _named_files(configured: list[PartyConfig]) -> tuple[Path, ...]:
    return tuple(path for party in configured for path in (*party.certificate_files, *party.anchor_files))
