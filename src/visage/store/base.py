"""The template store interface: one protocol, several backends chosen by URL.

The store knows nothing about images or models beyond a model *name* and a dimension: it keeps
face records (a box, a confidence, optional quality scores and one :class:`~visage.types.Template`)
in named collections, groups faces into users, and answers 1:N cosine searches. The engine and the
API dialects build on this; each dialect maps cosine to its own similarity scale.

Every backend must pass the same test suite (``tests/store``), so behaviour lives in this module
(records, validation, dedupe keys, page tokens) and backends only store and search.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Protocol, runtime_checkable

import numpy as np

from visage.errors import InvalidParameterError, TemplateMismatchError, VisageError
from visage.types import Box, Template

#: Rekognition's collection / user id alphabet and length.
ID_PATTERN = re.compile(r"^[a-zA-Z0-9_.\-]{1,255}$")
#: At most this many faces may be associated with one user (Rekognition's limit).
MAX_FACES_PER_USER = 100
#: Upper bound of ``max_results`` for list and search operations.
MAX_PAGE = 4096
USER_STATUS_ACTIVE = "ACTIVE"


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    """A collection and what it holds. ``model``/``dim`` fix which templates it accepts."""

    collection_id: str
    created_at: datetime
    model: str
    dim: int
    face_count: int
    user_count: int


@dataclass(frozen=True, slots=True)
class NewFace:
    """A face to add. ``face_id``/``created_at`` are only set when restoring a backup (import).

    ``image_width``/``image_height`` are the pixel size of the (orientation-corrected) image the
    box was found in, so a dialect can later give the box relative to its image (Rekognition's
    ``BoundingBox`` in ListFaces and search results). ``None`` when unknown (faces stored before
    the store kept it).
    """

    image_id: str
    box: Box
    confidence: float
    template: Template
    external_image_id: str | None = None
    quality: dict[str, float] | None = None
    face_id: str | None = None
    created_at: datetime | None = None
    image_width: int | None = None
    image_height: int | None = None


@dataclass(frozen=True, slots=True, eq=False)
class FaceRecord:
    """A stored face. Equality is by ``face_id`` and collection (templates are arrays).

    ``image_width``/``image_height``: the size of the image the box is in, ``None`` if not recorded.
    """

    face_id: str
    collection_id: str
    image_id: str
    external_image_id: str | None
    box: Box
    confidence: float
    quality: dict[str, float] | None
    template: Template
    user_id: str | None
    created_at: datetime
    image_width: int | None = None
    image_height: int | None = None

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, FaceRecord)
            and other.face_id == self.face_id
            and other.collection_id == self.collection_id
        )

    def __hash__(self) -> int:
        return hash((self.collection_id, self.face_id))


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user: a named group of at most :data:`MAX_FACES_PER_USER` faces of one collection."""

    collection_id: str
    user_id: str
    face_ids: tuple[str, ...]
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FaceHit:
    """One search result; ``cosine`` is the raw cosine similarity in [-1, 1]."""

    face: FaceRecord
    cosine: float


@dataclass(frozen=True, slots=True)
class UserHit:
    """A user found by search: its score is the best cosine of its faces (``best_face_id``)."""

    user_id: str
    cosine: float
    best_face_id: str


@dataclass(frozen=True, slots=True)
class AssociationResult:
    """Outcome of associate/disassociate: which faces succeeded, which failed and why.

    ``failed`` maps face id -> reason code (``face_not_found``, ``associated_to_a_different_user``,
    ``already_associated``, ``limit_exceeded``, ``not_associated``), like Rekognition's
    ``UnsuccessfulFaceAssociations``.
    """

    user_id: str
    succeeded: tuple[str, ...]
    failed: dict[str, str] = field(default_factory=dict)
    user_status: str = USER_STATUS_ACTIVE


@runtime_checkable
class TemplateStore(Protocol):
    """Persistent face-template collections with 1:N cosine search.

    Every write is durable when the call returns. Page tokens are opaque strings bound to one
    collection and one listing; pass them back unchanged.
    """

    # Collections
    def create_collection(self, collection_id: str, model: str, dim: int) -> CollectionInfo: ...
    def describe_collection(self, collection_id: str) -> CollectionInfo: ...
    def list_collections(
        self, max_results: int = 100, next_token: str | None = None
    ) -> tuple[list[str], str | None]: ...
    def delete_collection(self, collection_id: str) -> None: ...

    # Faces
    def add_faces(self, collection_id: str, faces: Sequence[NewFace]) -> list[FaceRecord]: ...
    def get_faces(self, collection_id: str, face_ids: Sequence[str]) -> list[FaceRecord]: ...
    def list_faces(
        self,
        collection_id: str,
        max_results: int = 100,
        next_token: str | None = None,
        user_id: str | None = None,
    ) -> tuple[list[FaceRecord], str | None]: ...
    def delete_faces(self, collection_id: str, face_ids: Sequence[str]) -> list[str]: ...
    def search(
        self, collection_id: str, template: Template, max_results: int = 10, min_cosine: float = -1.0
    ) -> list[FaceHit]: ...

    # Users
    def create_user(self, collection_id: str, user_id: str) -> UserRecord: ...
    def delete_user(self, collection_id: str, user_id: str) -> None: ...
    def get_user(self, collection_id: str, user_id: str) -> UserRecord: ...
    def list_users(
        self, collection_id: str, max_results: int = 100, next_token: str | None = None
    ) -> tuple[list[UserRecord], str | None]: ...
    def associate_faces(
        self, collection_id: str, user_id: str, face_ids: Sequence[str]
    ) -> AssociationResult: ...
    def disassociate_faces(
        self, collection_id: str, user_id: str, face_ids: Sequence[str]
    ) -> AssociationResult: ...
    def search_users(
        self, collection_id: str, template: Template, max_results: int = 10, min_cosine: float = -1.0
    ) -> list[UserHit]: ...

    # Backup / migration
    def export_collection(self, collection_id: str, fp: IO[str]) -> int: ...
    def import_collection(self, fp: IO[str], collection_id: str | None = None) -> CollectionInfo: ...

    def close(self) -> None: ...


# ----------------------------------------------------------------------------- validation helpers


def check_id(value: str, what: str) -> str:
    """Reject ids outside Rekognition's alphabet so every dialect can round-trip them."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise InvalidParameterError(
            f"{what} must match [a-zA-Z0-9_.\\-]+ and be 1..255 characters", field=what, value=value
        )
    return value


def check_max_results(value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_PAGE:
        raise InvalidParameterError(f"max_results must be an integer in 1..{MAX_PAGE}", value=value)
    return value


def check_model(model: str, dim: int) -> None:
    if not isinstance(model, str) or not model or len(model) > 255:
        raise InvalidParameterError("model must be a non-empty string of at most 255 characters")
    if not isinstance(dim, int) or isinstance(dim, bool) or not 1 <= dim <= 16000:
        raise InvalidParameterError("dim must be an integer in 1..16000", value=dim)


def check_template(info: CollectionInfo, template: Template) -> None:
    """Templates of another model or dimension never enter (or query) a collection."""
    if template.model != info.model or template.dim != info.dim:
        raise TemplateMismatchError(
            f"collection {info.collection_id!r} holds {info.model}/{info.dim} templates, "
            f"got {template.model}/{template.dim}",
            collection_id=info.collection_id,
        )


def check_image_size(face: NewFace) -> tuple[int | None, int | None]:
    """Image width and height as stored: both positive integers, or both ``None`` (unknown)."""
    size = (face.image_width, face.image_height)
    if size == (None, None):
        return size
    if not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1_000_000 for v in size):
        raise InvalidParameterError(
            "image_width and image_height must both be integers in 1..1000000, or both None",
            image_width=face.image_width,
            image_height=face.image_height,
        )
    return size


def dedupe_key(face: NewFace) -> str:
    """Same image, same external id, same box (rounded to whole pixels) -> same face.

    This makes ``add_faces`` idempotent under client retries: re-indexing an image returns the
    faces stored the first time instead of duplicating them.
    """
    b = face.box
    box = ",".join(str(round(v)) for v in (b.left, b.top, b.width, b.height))
    return f"{face.image_id}\x1f{face.external_image_id or ''}\x1f{box}"


def check_face_ids(face_ids: object) -> list[str]:
    """1..100 distinct face ids per associate/disassociate call (Rekognition's bounds)."""
    if isinstance(face_ids, str) or not isinstance(face_ids, (list, tuple)):
        raise InvalidParameterError("face_ids must be a list of strings")
    ids = list(dict.fromkeys(face_ids))
    if not 1 <= len(ids) <= MAX_FACES_PER_USER or not all(isinstance(f, str) and f for f in ids):
        raise InvalidParameterError(f"face_ids must hold 1..{MAX_FACES_PER_USER} non-empty strings")
    return ids


def unit_vector(vector: np.ndarray) -> np.ndarray:
    """float32 unit vector; already-unit vectors keep their exact bits (so backups round-trip)."""
    vec = np.ascontiguousarray(vector, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vec))
    if not np.isfinite(norm) or norm == 0.0:
        raise InvalidParameterError("template vector must be finite and non-zero")
    if abs(norm - 1.0) > 1e-4:
        vec = (vec / norm).astype(np.float32)
    return vec


def best_users(
    order: Sequence[int],
    scores: Sequence[float],
    users: Sequence[str | None],
    face_ids: Sequence[str],
    max_results: int,
    min_cosine: float,
) -> list[UserHit]:
    """Fold face hits (best first) into user hits: a user's score is its best face's."""
    hits: dict[str, UserHit] = {}
    for i, s in zip(order, scores, strict=True):
        if s < min_cosine:
            break
        user = users[i]
        if user is not None and user not in hits:
            hits[user] = UserHit(user, float(s), face_ids[i])
            if len(hits) == max_results:
                break
    return list(hits.values())


class StoreLockedError(VisageError):
    """The embedded store's file is already open in another process (one owner at a time)."""

    code = "store_locked"
