"""FACE_TOKENs: deterministic names for faces, resolvable for a while in this process's memory.

``face_token = hex(sha256("visage-face-token-v1|" sha256(image bytes) "|" left,top,width,height))[:32]``
with the box in whole pixels: the same image gives the same token on every request, every restart and
every replica (the engine is deterministic on the same bytes). Resolving a token needs the image: the
encoded bytes are kept in a bounded cache (total bytes, oldest dropped first, and a time to live), keyed
by the image's hash so that the faces of one image share one copy. Replicas compute identical tokens
but do **not** share the cache: a token resolves only on the replica that saw the image, within its TTL
(route a client to one replica, or send the image again).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from visage.types import Box

PREFIX = b"visage-face-token-v1|"


def image_digest(image: bytes) -> bytes:
    return hashlib.sha256(image).digest()


def box_key(box: Box) -> tuple[int, int, int, int]:
    return (round(box.left), round(box.top), round(box.width), round(box.height))


def face_token(digest: bytes, box: Box) -> str:
    l, t, w, h = box_key(box)  # noqa: E741
    return hashlib.sha256(PREFIX + digest + f"|{l},{t},{w},{h}".encode()).hexdigest()[:32]


@dataclass
class _Entry:
    image: bytes
    expires: float
    boxes: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)


class FaceTokenCache:
    """Thread-safe LRU of images by digest, bounded by total bytes and by time."""

    def __init__(self, ttl_s: float, max_bytes: int, clock=time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_bytes = max_bytes
        self._clock = clock
        self._lock = threading.Lock()
        self._images: OrderedDict[bytes, _Entry] = OrderedDict()
        self._tokens: dict[str, bytes] = {}
        self._bytes = 0

    def remember(self, image: bytes, digest: bytes, tokens: dict[str, Box]) -> None:
        """Keep ``image`` (once) so that each of ``tokens`` resolves until the TTL runs out."""
        if not tokens or len(image) > self.max_bytes:
            return
        now = self._clock()
        with self._lock:
            self._expire(now)
            entry = self._images.get(digest)
            if entry is None:
                entry = _Entry(image=image, expires=now + self.ttl_s)
                self._images[digest] = entry
                self._bytes += len(image)
            entry.expires = now + self.ttl_s
            self._images.move_to_end(digest)
            for tok, box in tokens.items():
                entry.boxes[tok] = box_key(box)
                self._tokens[tok] = digest
            while self._bytes > self.max_bytes and self._images:
                self._drop(next(iter(self._images)))

    def resolve(self, token: str) -> tuple[bytes, tuple[int, int, int, int]] | None:
        """(image bytes, box) of a live token, or None."""
        now = self._clock()
        with self._lock:
            self._expire(now)
            digest = self._tokens.get(token)
            entry = self._images.get(digest) if digest is not None else None
            if entry is None or token not in entry.boxes:
                return None
            self._images.move_to_end(digest)
            return entry.image, entry.boxes[token]

    def __len__(self) -> int:
        with self._lock:
            return len(self._tokens)

    @property
    def bytes(self) -> int:
        return self._bytes

    def _expire(self, now: float) -> None:
        for digest in [d for d, e in self._images.items() if e.expires <= now]:
            self._drop(digest)

    def _drop(self, digest: bytes) -> None:
        entry = self._images.pop(digest)
        self._bytes -= len(entry.image)
        for tok in entry.boxes:
            if self._tokens.get(tok) == digest:
                del self._tokens[tok]
