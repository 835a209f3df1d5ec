"""Backup and migration format: JSON lines, independent of any backend.

Line 1 is a header (``{"type": "collection", "format": "visage.store/1", ...}``), then one
``{"type": "face", ...}`` line per face (template as base64 little-endian float32, exactly the
stored bits, so search results are identical after a round trip), then one ``{"type": "user"}``
line per user with its face ids. Written and read only through the public :class:`TemplateStore`
operations, so any backend exports to any other.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import IO

import numpy as np

from visage.errors import InvalidParameterError
from visage.store.base import CollectionInfo, FaceRecord, NewFace, TemplateStore
from visage.types import Box, Template

FORMAT = "visage.store/1"
_BATCH = 1000


def _face_line(face: FaceRecord) -> dict[str, object]:
    return {
        "type": "face",
        "face_id": face.face_id,
        "image_id": face.image_id,
        "external_image_id": face.external_image_id,
        "box": face.box.to_dict(),
        "confidence": face.confidence,
        "quality": face.quality,
        "user_id": face.user_id,
        "created_at": face.created_at.isoformat(),
        "image_width": face.image_width,
        "image_height": face.image_height,
        "template": face.template.to_base64(),
    }


def export_collection(store: TemplateStore, collection_id: str, fp: IO[str]) -> int:
    """Write one collection to ``fp``; returns the number of faces written."""
    info = store.describe_collection(collection_id)
    header = {
        "type": "collection",
        "format": FORMAT,
        "collection_id": info.collection_id,
        "model": info.model,
        "dim": info.dim,
        "created_at": info.created_at.isoformat(),
    }
    fp.write(json.dumps(header) + "\n")
    written = 0
    token: str | None = None
    while True:
        faces, token = store.list_faces(collection_id, max_results=_BATCH, next_token=token)
        for face in faces:
            fp.write(json.dumps(_face_line(face)) + "\n")
        written += len(faces)
        if token is None:
            break
    while True:
        users, token = store.list_users(collection_id, max_results=_BATCH, next_token=token)
        for user in users:
            line = {
                "type": "user",
                "user_id": user.user_id,
                "face_ids": list(user.face_ids),
                "created_at": user.created_at.isoformat(),
            }
            fp.write(json.dumps(line) + "\n")
        if token is None:
            break
    return written


def _template_exact(model: str, text: str) -> Template:
    """Decode without renormalising: keep the exported bits so scores match to the last ulp."""
    import base64

    vec = np.frombuffer(base64.b64decode(text, validate=True), dtype="<f4").astype(np.float32)
    return Template(model=model, vector=vec)


def _new_face(line: dict, model: str) -> NewFace:
    return NewFace(
        face_id=line["face_id"],
        image_id=line["image_id"],
        external_image_id=line.get("external_image_id"),
        box=Box(**line["box"]),
        confidence=float(line["confidence"]),
        quality=line.get("quality"),
        template=_template_exact(model, line["template"]),
        created_at=datetime.fromisoformat(line["created_at"]),
        image_width=line.get("image_width"),
        image_height=line.get("image_height"),
    )


def import_collection(
    store: TemplateStore,
    fp: IO[str],
    collection_id: str | None = None,
    bulk_load: Callable[[str], AbstractContextManager[None]] | None = None,
) -> CollectionInfo:
    """Recreate an exported collection (optionally under a new id); it must not exist yet.

    ``bulk_load(collection_id)`` lets a backend wrap the face load in a faster bulk mode (the
    collection is new, so nothing else depends on its search index yet).
    """
    first = fp.readline()
    try:
        header = json.loads(first)
    except ValueError as exc:
        raise InvalidParameterError("import: first line is not JSON") from exc
    if header.get("type") != "collection" or header.get("format") != FORMAT:
        raise InvalidParameterError(f"import: not a {FORMAT} export")
    cid = collection_id or header["collection_id"]
    model, dim = header["model"], int(header["dim"])
    store.create_collection(cid, model, dim)
    with bulk_load(cid) if bulk_load else nullcontext():
        users = _load_faces(store, fp, cid, model)
    for user in users:
        store.create_user(cid, user["user_id"])
        for start in range(0, len(user["face_ids"]), 100):
            store.associate_faces(cid, user["user_id"], user["face_ids"][start : start + 100])
    return store.describe_collection(cid)


def _load_faces(store: TemplateStore, fp: IO[str], cid: str, model: str) -> list[dict]:
    """Add the face lines in batches; return the user lines, which need the faces first."""
    batch: list[NewFace] = []
    users: list[dict] = []
    for raw in fp:
        if not raw.strip():
            continue
        line = json.loads(raw)
        if line["type"] == "face":
            batch.append(_new_face(line, model))
            if len(batch) >= _BATCH:
                store.add_faces(cid, batch)
                batch = []
        elif line["type"] == "user":
            users.append(line)
        else:
            raise InvalidParameterError(f"import: unknown line type {line['type']!r}")
    if batch:
        store.add_faces(cid, batch)
    return users
