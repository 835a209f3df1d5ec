"""``ClientRequestToken`` replay: the same token gets the same success, not a conflict."""

from __future__ import annotations

import threading
from collections import OrderedDict


class IdempotencyMemory:
    """ClientRequestToken replay for CreateUser/DeleteUser: the same token returns the same success
    (boto3 fills the token in; a retry after a lost response must not turn into an error).
    Kept per process and bounded."""

    def __init__(self, size: int = 10_000) -> None:
        self._seen: OrderedDict[tuple[str, str, str, str], None] = OrderedDict()
        self._lock = threading.Lock()
        self._size = size

    def remember(self, *key: str) -> None:
        with self._lock:
            self._seen[key] = None
            self._seen.move_to_end(key)
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)

    def seen(self, *key: str) -> bool:
        with self._lock:
            return key in self._seen
