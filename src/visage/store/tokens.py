"""Opaque page tokens for keyset pagination.

A token records where the previous page ended (the last key it returned) plus what it was a page
*of* (listing kind, collection, filter), so a token replayed against another listing is rejected
instead of silently returning the wrong rows. Keyset (not offset) paging stays correct and cheap
while faces are added or deleted between pages.
"""

from __future__ import annotations

import base64
import json
from typing import TypeVar

from visage.errors import InvalidParameterError

K = TypeVar("K", int, str)


def encode(kind: str, scope: str, after: object) -> str:
    raw = json.dumps({"k": kind, "s": scope, "a": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(token: str | None, kind: str, scope: str, start: K) -> K:
    """The ``after`` key of a token made by :func:`encode` for the same kind and scope (``start``
    without a token). The key must have ``start``'s type: a forged token can't reach a query with a
    key of another type."""
    if token is None:
        return start
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        if data["k"] != kind or data["s"] != scope:
            raise ValueError("token belongs to another listing")
        after = data["a"]
        if type(after) is not type(start):
            raise ValueError("token key of the wrong type")
        return after
    except (ValueError, KeyError, TypeError, UnicodeError) as exc:
        raise InvalidParameterError("invalid next_token", token=token) from exc
