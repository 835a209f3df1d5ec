"""``POST /v2/facedetect`` (seed 002): a JSON body in, ``{error_code, error_msg, log_id, result}`` out."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import io
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from fastapi import APIRouter, Depends, Request
from PIL import Image

from visage.analysis.pipeline import AnalyzeOptions
from visage.api.body import image_bytes_off_loop, loads_off_loop, media_type
from visage.api.dialects.qiniu import auth
from visage.api.dialects.qiniu.errors import (
    DIALECT,
    FaceTokenNotFoundError,
    LivenessFailedError,
    MethodNotAllowedError,
    MissingParameterError,
    NotJsonError,
    NotSupportedError,
    log_id,
)
from visage.api.dialects.qiniu.mapping import FACE_FIELDS, face_to_wire
from visage.api.dialects.qiniu.schemas import (
    FACE_TYPES,
    IMAGE_TYPES,
    LIVENESS_LEVELS,
    MAX_FACE_NUM,
    MAX_FACES_WITH_CROPS,
    REQUEST_FIELDS,
    DetectResponse,
)
from visage.api.dialects.qiniu.tokens import FaceTokenCache, face_token, image_digest
from visage.api.state import AppState, get_state
from visage.api.url_fetch import FetchPolicy, fetch_url
from visage.engine import Engine
from visage.errors import InvalidParameterError, NoFaceError
from visage.imaging import DecodedImage
from visage.types import Box, Face, ImageAnalysis

_OPTION_FIELDS = {f.name for f in dataclasses.fields(AnalyzeOptions)}
ATTRIBUTE_FIELDS = ("age", "gender", "emotion", "expression", "glasses", "face_shape", "face_type", "mask")

# Liveness score (probability of a live face) a face needs per liveness_control level. NORMAL is the
# liveness model's own calibrated threshold (docs/attributes.md); LOW and HIGH are chosen either side of
# it, not measured against Baidu's levels (docs/qiniu.md).
LIVENESS_THRESHOLDS: dict[str, float | None] = {"LOW": 0.25, "NORMAL": None, "HIGH": 0.75}


@dataclass
class QiniuState:
    keys: auth.QiniuKeys
    tokens: FaceTokenCache
    fetch: FetchPolicy


@dataclass(frozen=True)
class DetectParams:
    image: str
    image_type: str
    fields: frozenset[str]
    max_face_num: int
    face_type: str
    liveness: str
    sort: int
    crops: bool


def _names(names: list[str]) -> str:
    """Client-supplied names for a message, bounded (a hostile body may hold thousands of long keys)."""
    shown = ", ".join(repr(n[:40]) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _set_dialect(request: Request) -> None:
    request.state.dialect = DIALECT


router = APIRouter(tags=["qiniu"], dependencies=[Depends(_set_dialect)])


def _choice(data: dict[str, Any], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = data.get(name, default)
    if not isinstance(value, str) or value.upper() not in allowed:
        raise InvalidParameterError(f"{name} must be one of {', '.join(allowed)}", param=name)
    return value.upper()


def _int(data: dict[str, Any], name: str, lo: int, hi: int, default: int) -> int:
    value = data.get(name, default)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise InvalidParameterError(f"{name} must be an integer from {lo} to {hi}", param=name)
    return value


def parse_params(data: dict[str, Any]) -> DetectParams:
    unknown = sorted(set(data) - REQUEST_FIELDS)
    if unknown:
        raise InvalidParameterError(f"unknown field(s): {_names(unknown)}")
    image = data.get("image")
    if image is None or image == "":
        raise MissingParameterError("image is required", param="image")
    if not isinstance(image, str):
        raise InvalidParameterError("image must be a string", param="image")
    if data.get("image_type") in (None, ""):
        raise MissingParameterError("image_type is required", param="image_type")
    image_type = _choice(data, "image_type", IMAGE_TYPES, "BASE64")
    raw_fields = data.get("face_field", "")
    if not isinstance(raw_fields, str):
        raise InvalidParameterError("face_field must be a comma-separated string", param="face_field")
    fields = frozenset(f.strip() for f in raw_fields.split(",") if f.strip())
    bad = sorted(fields - set(FACE_FIELDS))
    if bad:
        raise InvalidParameterError(f"unknown face_field value(s) {_names(bad)}; known: {', '.join(FACE_FIELDS)}",
                                    param="face_field")
    return DetectParams(
        image=image, image_type=image_type, fields=fields,
        max_face_num=_int(data, "max_face_num", 1, MAX_FACE_NUM, 1),
        face_type=_choice(data, "face_type", FACE_TYPES, "LIVE"),
        liveness=_choice(data, "liveness_control", LIVENESS_LEVELS, "NONE"),
        sort=_int(data, "face_sort_type", 0, 1, 0),
        crops=bool(_int(data, "display_corp_image", 0, 1, 0)),
    )


def _attribute_names(params: DetectParams) -> frozenset[str]:
    try:
        from visage.analysis.attributes import ATTRIBUTES
    except ImportError:  # an engine build without face attributes
        return frozenset()
    wanted = {f for f in ATTRIBUTE_FIELDS if f in params.fields}
    if "expression" in wanted:
        wanted.add("smile")  # the expression's probability is the smile decision's
    if params.liveness != "NONE" or "spoofing" in params.fields:
        wanted.add("liveness")  # spoofing is the liveness model's spoof probability
    if "eye_status" in params.fields:
        wanted.add("eyes_open")  # the eye-state model, where the engine has it
    return frozenset(wanted) & frozenset(ATTRIBUTES)


def analyze_options(params: DetectParams) -> AnalyzeOptions:
    want: dict[str, Any] = {"landmarks": True, "pose": True, "templates": False}
    if params.fields & {"quality", "eye_status"}:
        want["quality"] = True
    names = _attribute_names(params)
    if names:
        want["attributes"] = names
    if params.liveness != "NONE" and ("liveness" not in names or "attributes" not in _OPTION_FIELDS):
        raise NotSupportedError("liveness_control needs the liveness model, which this server's engine lacks")
    return AnalyzeOptions(**{k: v for k, v in want.items() if k in _OPTION_FIELDS})


def _analyze(engine: Engine, image: bytes, options: AnalyzeOptions) -> tuple[DecodedImage, ImageAnalysis]:
    decoded = engine.decode(image)
    return decoded, engine.analyze(decoded, options)


def _iou(a: Box, b: tuple[int, int, int, int]) -> float:
    bl, bt, bw, bh = b
    ix = max(0.0, min(a.right, bl + bw) - max(a.left, bl))
    iy = max(0.0, min(a.bottom, bt + bh) - max(a.top, bt))
    inter = ix * iy
    union = a.area + bw * bh - inter
    return inter / union if union > 0 else 0.0


def _crop_base64(rgb: np.ndarray, box: Box) -> str:
    h, w = rgb.shape[:2]
    c = box.clipped(w, h)
    x0, y0 = int(c.left), int(c.top)
    x1, y1 = max(x0 + 1, round(c.right)), max(y0 + 1, round(c.bottom))
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb[y0:y1, x0:x1])).save(buf, "JPEG", quality=90)
    return base64.b64encode(buf.getvalue()).decode()


def _check_liveness(faces: list[Face], level: str) -> None:
    for i, face in enumerate(faces):
        live = (face.attributes or {}).get("liveness")
        if not isinstance(live, dict) or not isinstance(live.get("score"), int | float):
            raise NotSupportedError("the engine returned no liveness score")
        threshold = LIVENESS_THRESHOLDS[level]
        if threshold is None:
            threshold = float(live.get("threshold", 0.5))
        if float(live["score"]) < threshold:
            raise LivenessFailedError(
                f"face {i} liveness score {float(live['score']):.4f} is below the {level} threshold {threshold}")


async def _image(params: DetectParams, q: QiniuState,
                 state: AppState) -> tuple[bytes, tuple[int, int, int, int] | None]:
    if params.image_type == "BASE64":
        return await image_bytes_off_loop(params.image, "image"), None
    if params.image_type == "URL":
        deadline = time.monotonic() + q.fetch.timeout_s  # one deadline, the wait for a fetch thread included
        return await state.fetch(fetch_url, params.image, q.fetch, deadline), None
    resolved = q.tokens.resolve(params.image)
    if resolved is None:
        raise FaceTokenNotFoundError("face_token unknown to this server, or expired (docs/qiniu.md)")
    return resolved


# The response is returned as built (no response_model): key order and integer-vs-float types are wire facts.
@router.post("/v2/facedetect", responses={200: {"model": DetectResponse}},
             summary="Detect faces (Qiniu/Baidu face detect)")
async def facedetect(request: Request, state: AppState = Depends(get_state)) -> dict[str, Any]:
    q: QiniuState = request.app.state.qiniu
    body = await request.body()
    auth.verify(request, body, q.keys)
    # The signature covers the body only under a Content-Type other than application/octet-stream (or none):
    # parsing JSON from such a body would let one captured token carry any request. JSON must say so.
    if media_type(request) != "application/json":
        raise NotJsonError("send the JSON body with 'Content-Type: application/json'")
    try:
        data = await loads_off_loop(body) if body else None
    except (ValueError, RecursionError):
        raise NotJsonError("request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise NotJsonError("request body must be a JSON object")
    params = parse_params(data)
    options = analyze_options(params)
    image, stored_box = await _image(params, q, state)
    decoded, result = await state.infer(_analyze, state.engine, image, options)
    if not result.faces:
        raise NoFaceError("no face found in the image")
    digest = image_digest(image)
    if stored_box is not None:  # FACE_TOKEN: the same face again, under the token asked for
        best = max(result.faces, key=lambda f: _iou(f.box, stored_box))
        if _iou(best.box, stored_box) < 0.5:
            raise FaceTokenNotFoundError("the face of this face_token is no longer found in its image")
        chosen = [(best, params.image)]
    else:
        faces = list(result.faces)
        if params.sort == 1:
            cx, cy = result.width / 2.0, result.height / 2.0
            faces.sort(key=lambda f: (f.box.center[0] - cx) ** 2 + (f.box.center[1] - cy) ** 2)
        else:
            faces.sort(key=lambda f: f.box.area, reverse=True)
        limit = min(params.max_face_num, MAX_FACES_WITH_CROPS) if params.crops else params.max_face_num
        chosen = [(f, face_token(digest, f.box)) for f in faces[:limit]]
    if params.liveness != "NONE":
        _check_liveness([f for f, _ in chosen], params.liveness)
    q.tokens.remember(image, digest, {tok: f.box for f, tok in chosen})
    crops: list[str | None] = [None] * len(chosen)
    if params.crops:
        crops = await asyncio.to_thread(lambda: [_crop_base64(decoded.rgb, f.box) for f, _ in chosen])
    size = (result.width, result.height)
    face_list = [face_to_wire(f, tok, params.fields, crop, size) for (f, tok), crop in zip(chosen, crops, strict=True)]
    return {"error_code": 0, "error_msg": "SUCCESS", "log_id": log_id(request.state.request_id),
            "result": {"face_num": len(face_list), "face_list": face_list}}


@router.api_route("/v2/facedetect", methods=["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"],
                  include_in_schema=False)
async def wrong_method(request: Request) -> None:
    raise MethodNotAllowedError(f"{request.method} is not allowed here; use POST")
