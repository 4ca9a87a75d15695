"""Instance directories: the configuration and state of one gateway, anywhere on disk.

`gateway init DIR` writes the defaults that ship with the package (gateway.toml,
parties.toml, routes.toml, partners.toml, business.toml, risk.toml) and an empty
var/ for the store and keys. Paths in gateway.toml are relative to it, so the
directory can be moved as a whole; GATEWAY_HOME=DIR (or --config DIR/gateway.toml)
selects it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from gateway.exceptions import ConfigurationError

DEFAULTS = Path(__file__).resolve().parent / "defaults"
FILES = ("gateway.toml", "parties.toml", "routes.toml", "partners.toml", "business.toml", "risk.toml")


def init_instance(directory: Path, force: bool = False) -> list[Path]:
    """Write an instance directory; returns the files written. Existing files are kept unless `force`."""
    existing = [directory / name for name in FILES if (directory / name).exists()]
    if existing and not force:
        raise ConfigurationError(
            f"{directory} already holds {', '.join(p.name for p in existing)}; pass --force to overwrite them"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "var").mkdir(mode=0o700, exist_ok=True)
        written = []
        for name in FILES:
            shutil.copyfile(DEFAULTS / name, directory / name)
            written.append(directory / name)
    except OSError as exc:
        raise ConfigurationError(f"cannot write the instance directory {directory}: {exc.strerror or exc}") from None
    return written
