"""Backup and migration format: JSON lines, independent of any backend.

Line 1 is a header (``{"type": "collection", "format": "visage.store/1", ...}``), then one
``{"type": "face", ...}`` line per face (template as base64 little-endian float32, exactly the
stored bits, so search results are identical after a round trip), then one ``{"type": "user"}``
line per user with its face ids. Written and read only through the public :class:`TemplateStore`
operations, so any backend exports to any other.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import numpy as np

from visage.errors import InvalidParameterError
from visage.store.base import (
    ID_PATTERN,
    MAX_FACES_PER_USER,
    CollectionInfo,
    FaceRecord,
    NewFace,
    TemplateStore,
    check_id,
    dedupe_key,
)
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


#: Longest line accepted on import: a 4096-d face line is ~60 kB, a user line of 100 ids ~4 kB.
MAX_LINE_CHARS = 1 << 20


def _fail(line: int, message: str) -> InvalidParameterError:
    return InvalidParameterError(f"import line {line}: {message}", line=line)


def _lines(fp: IO[str]) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line, refusing a line over :data:`MAX_LINE_CHARS` unread."""
    number = 0
    while True:
        number += 1
        try:
            raw = fp.readline(MAX_LINE_CHARS + 1)
        except UnicodeDecodeError as exc:
            raise _fail(number, "not UTF-8 text") from exc
        if not raw:
            return
        if len(raw) > MAX_LINE_CHARS:
            raise _fail(number, f"longer than {MAX_LINE_CHARS} characters")
        yield number, raw


def _object(number: int, raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _fail(number, "not valid JSON (truncated?)") from exc
    if not isinstance(data, dict):
        raise _fail(number, "not a JSON object")
    return data


def _text(number: int, line: dict[str, Any], key: str, *, optional: bool = False, limit: int = 255) -> str | None:
    value = line.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise _fail(number, f"{key!r} must be a string of 1..{limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(number, f"{key!r} holds a lone surrogate") from None
    return value


def _ident(number: int, line: dict[str, Any], key: str) -> str:
    value = _text(number, line, key)
    assert value is not None
    if not ID_PATTERN.match(value):
        raise _fail(number, f"{key!r} must match [a-zA-Z0-9_.\\-]+")
    return value


def _number(number: int, value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(number, f"{what} must be a finite number")
    return float(value)


def _when(number: int, line: dict[str, Any]) -> datetime | None:
    value = line.get("created_at")
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(number, "'created_at' must be an ISO 8601 string")
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise _fail(number, "'created_at' is not an ISO 8601 time") from None


def _header(number: int, raw: str, collection_id: str | None) -> tuple[str, str, int]:
    header = _object(number, raw)
    if header.get("type") != "collection" or header.get("format") != FORMAT:
        raise _fail(number, f"not a {FORMAT} export header")
    cid = collection_id if collection_id is not None else _ident(number, header, "collection_id")
    check_id(cid, "collection_id")
    model = _text(number, header, "model")
    dim = header.get("dim")
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 16000:
        raise _fail(number, "'dim' must be an integer in 1..16000")
    _when(number, header)
    assert model is not None
    return cid, model, dim


def _size(number: int, line: dict[str, Any], key: str) -> int | None:
    value = line.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
        raise _fail(number, f"{key!r} must be an integer in 1..1000000 or null")
    return value


def _face(number: int, line: dict[str, Any], model: str, dim: int) -> NewFace:
    box = line.get("box")
    if not isinstance(box, dict) or set(box) != {"left", "top", "width", "height"}:
        raise _fail(number, "'box' must be an object of left, top, width, height")
    values = {k: _number(number, v, f"box.{k}") for k, v in box.items()}
    if values["width"] <= 0 or values["height"] <= 0:
        raise _fail(number, "box width and height must be positive")
    quality = line.get("quality")
    if quality is not None:
        if not isinstance(quality, dict):
            raise _fail(number, "'quality' must be an object of numbers or null")
        quality = {_text(number, {"k": k}, "k"): _number(number, v, f"quality.{k}") for k, v in quality.items()}
    user_id = line.get("user_id")
    if user_id is not None:
        _ident(number, line, "user_id")
    text = line.get("template")
    if not isinstance(text, str):
        raise _fail(number, "'template' must be base64 text")
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise _fail(number, "'template' is not valid base64") from None
    if len(raw) != 4 * dim:
        raise _fail(number, f"template has {len(raw) / 4:g} values; the collection's dim is {dim}")
    # Keep the exported bits (no renormalising) so scores match to the last ulp after a round trip.
    vector = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    norm = float(np.linalg.norm(vector))
    if not math.isfinite(norm) or norm == 0.0:
        raise _fail(number, "template must be finite and non-zero")
    width, height = _size(number, line, "image_width"), _size(number, line, "image_height")
    if (width is None) != (height is None):
        raise _fail(number, "'image_width' and 'image_height' are given together or not at all")
    return NewFace(
        face_id=_ident(number, line, "face_id"),
        image_id=_text(number, line, "image_id") or "",
        external_image_id=_text(number, line, "external_image_id", optional=True),
        box=Box(**values),
        confidence=_number(number, line.get("confidence"), "'confidence'"),
        quality=quality,
        template=Template(model=model, vector=vector),
        created_at=_when(number, line),
        image_width=width,
        image_height=height,
    )


@dataclass
class _User:
    user_id: str
    face_ids: list[str]


@dataclass
class _Checked:
    """What the validating pass learnt: enough to import without surprises."""

    collection_id: str
    model: str
    dim: int
    faces: int = 0
    users: list[_User] = field(default_factory=list)


def _records(fp: IO[str], collection_id: str | None) -> Iterator[tuple[int, NewFace | _User | _Checked]]:
    """Header first, then each face and user line, fully checked (types, base64, dim, ids)."""
    lines = _lines(fp)
    first = next(lines, None)
    if first is None or not first[1].strip():
        raise _fail(1, "the file is empty; expected a collection header")
    cid, model, dim = _header(first[0], first[1], collection_id)
    yield first[0], _Checked(cid, model, dim)
    for number, raw in lines:
        if not raw.strip():
            continue
        line = _object(number, raw)
        kind = line.get("type")
        if kind == "face":
            yield number, _face(number, line, model, dim)
        elif kind == "user":
            ids = line.get("face_ids")
            if not isinstance(ids, list) or not all(isinstance(f, str) for f in ids):
                raise _fail(number, "'face_ids' must be a list of strings")
            if len(ids) > MAX_FACES_PER_USER:
                raise _fail(number, f"a user holds at most {MAX_FACES_PER_USER} faces")
            _when(number, line)
            yield number, _User(_ident(number, line, "user_id"), ids)
        elif kind == "collection":
            raise _fail(number, "a second collection header")
        else:
            raise _fail(number, f"unknown line type {str(kind)[:40]!r}")


def check_export(fp: IO[str], collection_id: str | None = None) -> _Checked:
    """Read a whole export and check it, touching no store: every problem is a 400 naming its line."""
    checked: _Checked | None = None
    face_lines: dict[str, int] = {}
    dedupe: dict[str, int] = {}
    owner: dict[str, str] = {}
    user_lines: dict[str, int] = {}
    for number, rec in _records(fp, collection_id):
        if isinstance(rec, _Checked):
            checked = rec
        elif isinstance(rec, NewFace):
            assert rec.face_id is not None
            if rec.face_id in face_lines:
                raise _fail(number, f"face_id {rec.face_id!r} already given on line {face_lines[rec.face_id]}")
            key = dedupe_key(rec)
            if key in dedupe:
                raise _fail(number, f"same image, external id and box as the face on line {dedupe[key]}")
            face_lines[rec.face_id] = dedupe[key] = number
        else:
            if rec.user_id in user_lines:
                raise _fail(number, f"user {rec.user_id!r} already given on line {user_lines[rec.user_id]}")
            user_lines[rec.user_id] = number
            for fid in rec.face_ids:
                if fid not in face_lines:
                    raise _fail(number, f"user {rec.user_id!r} names face {fid[:64]!r}, not an earlier face line")
                if owner.setdefault(fid, rec.user_id) != rec.user_id:
                    raise _fail(number, f"face {fid[:64]!r} already belongs to user {owner[fid]!r}")
            checked.users.append(_User(rec.user_id, list(dict.fromkeys(rec.face_ids))))  # type: ignore[union-attr]
    assert checked is not None
    checked.faces = len(face_lines)
    return checked


def import_collection(
    store: TemplateStore,
    fp: IO[str],
    collection_id: str | None = None,
    bulk_load: Callable[[str], AbstractContextManager[None]] | None = None,
) -> CollectionInfo:
    """Recreate an exported collection (optionally under a new id); it must not exist yet.

    The file is checked in full first (nothing is written if any line is wrong), then loaded in
    one transaction where the backend offers ``atomic()`` (SQLite, PostgreSQL: other readers see
    nothing until it commits, and a process killed midway leaves nothing); elsewhere a load that
    fails midway deletes what it made. Either way a failed import leaves nothing and can be retried.
    ``bulk_load(collection_id)`` lets a backend wrap the face load in a faster bulk mode (the
    collection is new, so nothing else depends on its search index yet).
    """
    if not fp.seekable():
        fp = io.StringIO(fp.read())
    start = fp.tell()
    checked = check_export(fp, collection_id)
    fp.seek(start)
    atomic = getattr(store, "atomic", None)
    if atomic is not None:
        with atomic():
            _load(store, fp, checked, bulk_load)
    else:
        store.create_collection(checked.collection_id, checked.model, checked.dim)
        try:
            _load(store, fp, checked, bulk_load, created=True)
        except BaseException:
            with suppress(Exception):
                store.delete_collection(checked.collection_id)
            raise
    return store.describe_collection(checked.collection_id)


def _load(store: TemplateStore, fp: IO[str], checked: _Checked,
          bulk_load: Callable[[str], AbstractContextManager[None]] | None, created: bool = False) -> None:
    """The load itself, from a checked file (readers on other connections see it only once committed)."""
    cid = checked.collection_id
    if not created:
        store.create_collection(cid, checked.model, checked.dim)
    batch: list[NewFace] = []
    with bulk_load(cid) if bulk_load else nullcontext():
        for _, rec in _records(fp, cid):
            if isinstance(rec, NewFace):
                batch.append(rec)
                if len(batch) >= _BATCH:
                    store.add_faces(cid, batch)
                    batch = []
        if batch:
            store.add_faces(cid, batch)
    for user in checked.users:
        store.create_user(cid, user.user_id)
        if user.face_ids:
            result = store.associate_faces(cid, user.user_id, user.face_ids)
            if result.failed:
                raise InvalidParameterError(f"import: user {user.user_id!r} could not take faces {result.failed}")
