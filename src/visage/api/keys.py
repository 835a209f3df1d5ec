"""API keys that rotate without a restart: from settings and/or a file re-read when it changes.

File format, one key per line: ``KEY`` (read-only) or ``KEY:admin`` / ``KEY:read``; ``#`` starts
a comment. The file is re-read at most once a second when its modification time or size changes,
so an operator rotates keys by rewriting it (write a temporary file and rename it into place).
"""

from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from pathlib import Path

log = logging.getLogger("visage.keys")


def parse_keys(text: str, sep: str = ",") -> dict[str, str]:
    """``'k1:admin,k2'`` -> ``{'k1': 'admin', 'k2': 'read'}`` (a bare key is read-only)."""
    keys: dict[str, str] = {}
    for raw in text.replace("\n", sep).split(sep):
        item = raw.split("#", 1)[0].strip()
        if not item:
            continue
        key, _, role = item.partition(":")
        role = role.strip() or "read"
        if role not in ("read", "admin"):
            raise ValueError(f"unknown key role {role!r}: use 'read' or 'admin'")
        keys[key.strip()] = role
    return keys


class KeyRing:
    """The keys in force now; thread-safe, cheap to query on every request."""

    def __init__(self, inline: str | None = None, path: Path | None = None, recheck_s: float = 1.0) -> None:
        self._inline = parse_keys(inline or "")
        self._path = path
        self._recheck_s = recheck_s
        self._lock = threading.Lock()
        self._file_keys: dict[str, str] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked = 0.0
        if path is not None:
            self._reload(force=True)

    @property
    def enabled(self) -> bool:
        return bool(self._inline) or self._path is not None

    def role_of(self, presented: str) -> str | None:
        """The role of ``presented`` or None; constant-time comparison against every key."""
        self._reload()
        found = None
        for key, role in (*self._inline.items(), *self._file_keys.items()):
            if hmac.compare_digest(key.encode(), presented.encode()):
                found = role if found is None or role == "admin" else found
        return found

    def _reload(self, force: bool = False) -> None:
        if self._path is None:
            return
        now = time.monotonic()
        if not force and now - self._checked < self._recheck_s:
            return
        with self._lock:
            self._checked = now
            try:
                st = os.stat(self._path)
            except FileNotFoundError:
                if self._file_keys:
                    log.warning("keys file %s disappeared; its keys are revoked", self._path)
                self._file_keys, self._stamp = {}, None
                return
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == self._stamp and not force:
                return
            try:
                self._file_keys = parse_keys(self._path.read_text())
                self._stamp = stamp
                log.info("loaded %d keys from %s", len(self._file_keys), self._path)
            except (OSError, ValueError) as exc:
                log.error("keys file %s not reloaded (%s); keeping the previous keys", self._path, exc)
