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
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

log = logging.getLogger("visage.keys")
T = TypeVar("T")


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


class WatchedFile(Generic[T]):
    """A file parsed into a value, re-read when its modification time or size changes.

    Checked at most once per ``recheck_s``. A file that fails to parse keeps the previous value (a
    bad edit never opens or closes the door by accident); a file that disappears yields ``empty``
    (its keys are revoked, never replaced by open access). Shared by every dialect's key store.
    """

    def __init__(self, path: Path, parse: Callable[[str], T], empty: T, what: str = "keys file",
                 recheck_s: float = 1.0) -> None:
        self.path = Path(path).expanduser()
        self._parse, self._empty, self._what, self._recheck_s = parse, empty, what, recheck_s
        self._lock = threading.Lock()
        self._value: T = empty
        self._stamp: tuple[int, int] | None = None
        self._checked = float("-inf")
        self._reload()

    def value(self) -> T:
        if time.monotonic() - self._checked >= self._recheck_s:
            self._reload()
        return self._value

    def _reload(self) -> None:
        with self._lock:
            self._checked = time.monotonic()
            try:
                st = os.stat(self.path)
            except OSError:
                if self._stamp is not None:
                    log.warning("%s %s disappeared; its keys are revoked", self._what, self.path)
                self._value, self._stamp = self._empty, None
                return
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == self._stamp:
                return
            try:
                self._value = self._parse(self.path.read_text())
                log.info("loaded %s %s", self._what, self.path)
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                log.error("%s %s not reloaded (%s); keeping the previous keys", self._what, self.path, exc)
            self._stamp = stamp


class KeyRing:
    """The native API keys in force now; thread-safe, cheap to query on every request."""

    def __init__(self, inline: str | None = None, path: Path | None = None, recheck_s: float = 1.0) -> None:
        self._inline = parse_keys(inline or "")
        self._file = WatchedFile(path, parse_keys, {}, "API keys file", recheck_s) if path is not None else None

    @property
    def enabled(self) -> bool:
        return bool(self._inline) or self._file is not None

    def role_of(self, presented: str) -> str | None:
        """The role of ``presented`` or None; constant-time comparison against every key."""
        file_keys = self._file.value() if self._file is not None else {}
        found = None
        for key, role in (*self._inline.items(), *file_keys.items()):
            if hmac.compare_digest(key.encode(), presented.encode()):
                found = role if found is None or role == "admin" else found
        return found
