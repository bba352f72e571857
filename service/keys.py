"""API keys: the keys file of a deployment, and the keys a running app accepts.

The file holds one `tenant:sha256:<hex>` line per key (never a key itself), so a lost key
cannot be read back: `create_key` makes another. A running app re-reads the file when it
changes (`KeyRing`), so a key made while the service runs works at once.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from pathlib import Path

from .settings import Settings, hash_key

log = logging.getLogger("service")

HEADER = "# tenant:sha256:<hex of the key>, one per line\n"
# How often a request with a known key looks at the keys file's modification time (a stat is
# microseconds, but there is no reason to make one per request).
RECHECK_S = 1.0


def create_key(path: Path, tenant: str = "default") -> str:
    """A new random key for `tenant`, its digest appended to the keys file at `path` (created
    with mode 0600 if missing); returns the key, which is stored nowhere."""
    key = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as f:
        if f.tell() == 0:
            f.write(HEADER)
        f.write(f"{tenant}:sha256:{hash_key(key)}\n")
        f.flush()
        os.fsync(f.fileno())
    return key


def ensure_default_key(settings: Settings) -> str | None:
    """Create a key for tenant `default` when no key is configured; return it (else None)."""
    if settings.key_hashes():
        return None
    return create_key(settings.keys_file, "default")


class KeyRing:
    """{sha256 of key: tenant} of the settings (environment and keys file), re-read when the
    keys file changes. A file that no longer parses keeps the keys read before (and says so)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stamp = self._file_stamp()
        self._hashes = settings.key_hashes()
        self._checked = time.monotonic()

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            info = self.settings.keys_file.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def tenant(self, key: str) -> str | None:
        """The tenant of `key`, or None when no such key is configured. The keys file is looked
        at again at most every RECHECK_S (a removed key stops working), and at once for a key
        not known yet (a key just made works on its first request)."""
        if time.monotonic() - self._checked >= RECHECK_S:
            self._reload_if_changed()
        tenant = self._hashes.get(hash_key(key))
        if tenant is None and self._reload_if_changed():
            tenant = self._hashes.get(hash_key(key))
        return tenant

    def _reload_if_changed(self) -> bool:
        self._checked = time.monotonic()
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            self._hashes = self.settings.key_hashes()
        except ValueError as exc:
            log.error("keys file not reloaded, the previous keys stay valid: %s", exc)
            return False
        return True
