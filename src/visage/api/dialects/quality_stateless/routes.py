"""``POST /quality/face/stateless``: the form field ``encrypted_image`` (also JSON and multipart).

Bodies accepted: ``application/x-www-form-urlencoded`` (the seed's ``curl -d``), ``multipart/form-data``
(a text field or a file) and ``application/json`` (``{"encrypted_image": "..."}``). Any other field is
a 1200 error. Auth: when visage API keys are configured (``VISAGE_API_KEYS``/``_FILE``), the call needs
``Authorization: Bearer <key>`` or ``X-API-Key: <key>`` (read role).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from visage.analysis.pipeline import AnalyzeOptions
from visage.api.body import media_type, read_json
from visage.api.dialects.quality_stateless import crypto
from visage.api.dialects.quality_stateless.errors import DIALECT, MethodNotAllowedError
from visage.api.dialects.quality_stateless.mapping import face_to_wire
from visage.api.dialects.quality_stateless.schemas import REQUEST_FIELDS, QualityResponse, SenseIdErrorResponse
from visage.api.openapi import error_responses
from visage.api.state import AppState, get_state, require_key
from visage.errors import InvalidParameterError, NoFaceError, NotFoundError
from visage.imaging import decode_base64

_OPTION_FIELDS = {f.name for f in dataclasses.fields(AnalyzeOptions)}


def _names(names: list[str]) -> str:
    """Client-supplied names for a message, bounded (a hostile body may hold thousands of long keys)."""
    shown = ", ".join(repr(n[:40]) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _set_dialect(request: Request) -> None:
    request.state.dialect = DIALECT


router = APIRouter(tags=["senseid"], dependencies=[Depends(_set_dialect), Depends(require_key("read"))],
                   responses=error_responses(SenseIdErrorResponse, (400, 401, 404, 411, 413, 429, 500)))


def analyze_options() -> AnalyzeOptions:
    """Landmarks, pose and quality (quality only where this engine build has it: docs/senseid.md)."""
    wanted: dict[str, Any] = {"landmarks": True, "pose": True, "templates": False, "quality": True}
    return AnalyzeOptions(**{k: v for k, v in wanted.items() if k in _OPTION_FIELDS})


async def _fields(request: Request, limit: int) -> dict[str, str | bytes]:
    kind = media_type(request)
    if kind == "application/json":
        data = await read_json(request)
        for key, value in data.items():
            if key in REQUEST_FIELDS and not isinstance(value, str):
                raise InvalidParameterError(f"{key} must be a string")
        return dict(data)
    if kind in ("application/x-www-form-urlencoded", "multipart/form-data"):
        try:
            form = await request.form(max_files=4, max_fields=16, max_part_size=limit)
        except MultiPartException as exc:
            raise InvalidParameterError(f"malformed form body: {exc.message}") from None
        fields: dict[str, str | bytes] = {}
        for key, value in form.multi_items():
            if key in fields:
                raise InvalidParameterError(f"form field {key!r} given more than once")
            if isinstance(value, UploadFile):
                fields[key] = await value.read()
            elif kind == "application/x-www-form-urlencoded":
                fields[key] = value.replace(" ", "+")  # an unencoded '+' of base64 arrives as a space
            else:
                fields[key] = value
        return fields
    raise InvalidParameterError(
        f"unsupported content type {kind or 'none'!r}; send a form (encrypted_image=...) or JSON")


def image_from(value: str | bytes, key: bytes | None) -> bytes:
    """The image bytes of ``encrypted_image`` in this server's mode (plain base64 or AES-256-GCM)."""
    if key is None:
        return value if isinstance(value, bytes) else decode_base64(value)
    envelope = value if isinstance(value, bytes) else decode_base64(value)
    return crypto.decrypt(key, envelope)


# Returned as built (no response_model): the key order is the seed's.
@router.post("/quality/face/stateless", responses={200: {"model": QualityResponse}},
             summary="Quality of each face in a photo (SenseID)")
async def quality_stateless(request: Request, state: AppState = Depends(get_state)) -> dict[str, Any]:
    fields = await _fields(request, state.settings.max_request_bytes)
    unknown = sorted(set(fields) - REQUEST_FIELDS)
    if unknown:
        raise InvalidParameterError(f"unknown field(s): {_names(unknown)}")
    if "encrypted_image" not in fields:
        raise InvalidParameterError("encrypted_image is required")
    image = image_from(fields["encrypted_image"], request.app.state.senseid_key)
    result = await state.infer(state.engine.analyze, image, analyze_options())
    if not result.faces:
        raise NoFaceError("no face detected in the image")
    return {"code": 1000, "faces": [face_to_wire(f) for f in result.faces],
            "request_id": request.state.request_id}


_OTHER_METHODS = ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]


@router.api_route("/quality/face/stateless", methods=_OTHER_METHODS, include_in_schema=False)
async def wrong_method(request: Request) -> None:
    raise MethodNotAllowedError(f"{request.method} is not allowed here; use POST")


@router.api_route("/quality/{rest:path}", methods=["POST", *_OTHER_METHODS], include_in_schema=False)
async def unknown_route(request: Request, rest: str) -> None:
    """Unknown paths under /quality/ answer in SenseID's envelope (seed 001's 404)."""
    raise NotFoundError(f"no route {request.method} {request.url.path}")
