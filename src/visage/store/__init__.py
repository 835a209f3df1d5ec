"""Persistent face-template collections: one :class:`TemplateStore` interface, backends by URL."""

from __future__ import annotations

from visage.errors import InvalidParameterError
from visage.store.base import (
    AssociationResult,
    CollectionInfo,
    FaceHit,
    FaceRecord,
    NewFace,
    TemplateStore,
    UserHit,
    UserRecord,
)

__all__ = [
    "AssociationResult",
    "CollectionInfo",
    "FaceHit",
    "FaceRecord",
    "NewFace",
    "TemplateStore",
    "UserHit",
    "UserRecord",
    "open_store",
]


def open_store(url: str) -> TemplateStore:
    """Open the store a URL names: ``sqlite:///path.db`` (embedded) or ``postgresql://...``.

    Backends import lazily so the embedded default never needs a PostgreSQL driver.
    """
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from visage.store.sqlite import SQLiteStore

        return SQLiteStore.from_url(url)
    if scheme in ("postgresql", "postgres"):
        from visage.store.postgres import PostgresStore

        return PostgresStore.from_url(url)
    raise InvalidParameterError(f"no template store backend for URL scheme {scheme!r}", url=url)
