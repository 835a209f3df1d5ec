"""The native REST API: /v1/detect, /v1/analyze, /v1/embed, /v1/verify.

Each image endpoint takes a JSON body (base64 image), a multipart form (file or base64 field),
or a raw image body (``image/*`` / ``application/octet-stream``) with options in the query.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ValidationError

from visage.analysis.attributes import parse_attributes
from visage.analysis.keypoints import keypoint_set
from visage.analysis.pipeline import AnalyzeOptions
from visage.api.body import (
    OFFLOAD_JSON_BYTES,
    image_bytes,
    image_bytes_off_loop,
    json_object,
    media_type,
    off_loop_if_large,
    read_form,
)
from visage.api.native.schemas import (
    AnalyzeRequest,
    BodiesRequest,
    BodiesResponse,
    DetectRequest,
    DetectResponse,
    EmbedRequest,
    ErrorResponse,
    TemplateWire,
    VerifyRequest,
    VerifyResponse,
)
from visage.api.openapi import error_responses, request_schema
from visage.api.state import AppState, get_state, require_key
from visage.errors import InvalidParameterError
from visage.types import Face, ImageAnalysis, Template

T = TypeVar("T")

_ERRORS = error_responses(ErrorResponse, (400, 401, 404, 413, 422, 429, 503, 504))


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a route that also takes multipart and raw image bodies."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": request_schema(model)},
                "multipart/form-data": {"schema": {"type": "object", "properties": {"image": {
                    "type": "string", "format": "binary"}}}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    }


router = APIRouter(prefix="/v1", tags=["native"], responses=_ERRORS, dependencies=[Depends(require_key("read"))])


def _parse(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise InvalidParameterError(f"{where}: {first.get('msg', 'invalid value')}") from None


def _json_fields(raw: bytes, model: type[BaseModel], image_fields: tuple[str, ...]) -> tuple[Any, dict[str, bytes]]:
    """A JSON body's options and its base64 images decoded: parse, validate, decode in one call."""
    parsed = _parse(model, json_object(raw))
    images = {field: image_bytes(getattr(parsed, field), field)
              for field in image_fields if getattr(parsed, field, None) is not None}
    return parsed, images


async def _request_fields(
    request: Request, model: type[BaseModel], image_fields: tuple[str, ...]
) -> tuple[Any, dict[str, bytes]]:
    """Options (validated by ``model``) and raw image bytes, from whichever body form was sent."""
    kind = media_type(request)
    images: dict[str, bytes] = {}
    if kind == "application/json":
        return await off_loop_if_large(await request.body(), _json_fields, model, image_fields)
    if kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await read_form(request)
        options: dict[str, Any] = {}
        for key, value in form.items():
            if key in image_fields:
                images[key] = await image_bytes_off_loop(value, key)
                options[key] = ""
            elif isinstance(value, bytes):
                try:
                    options[key] = value.decode("utf-8")
                except UnicodeDecodeError:
                    raise InvalidParameterError(f"form field {key!r} must be text") from None
            else:
                options[key] = value
        return _parse(model, options), images
    if kind.startswith("image/") or kind in ("application/octet-stream", ""):
        if len(image_fields) != 1:
            raise InvalidParameterError("this endpoint needs two images: send JSON or multipart")
        options = dict(request.query_params)
        options[image_fields[0]] = ""
        parsed = _parse(model, options)
        images[image_fields[0]] = image_bytes(await request.body(), image_fields[0])
        return parsed, images
    raise InvalidParameterError(f"unsupported content type {kind!r}; send JSON, multipart or an image")


def _parsed_then(raw: bytes, model: type[BaseModel], image_fields: tuple[str, ...],
                 work: Callable[[Any, dict[str, bytes]], T]) -> tuple[Any, T]:
    return _then(*_json_fields(raw, model, image_fields), work)


def _then(options: Any, images: dict[str, bytes], work: Callable[[Any, dict[str, bytes]], T]) -> tuple[Any, T]:
    return options, work(options, images)


async def _infer_with_fields(
    request: Request, state: AppState, model: type[BaseModel], image_fields: tuple[str, ...],
    work: Callable[[Any, dict[str, bytes]], T],
) -> tuple[Any, T]:
    """The request's options and ``work(options, images)``, run on the inference pool.

    A large JSON body is parsed, validated and base64-decoded inside that same worker call: one
    hand-off to a worker thread and back per request instead of two. Each hand-off wakes a sleeping
    thread, 0.3-0.6 ms on the 2-core machine (``bench/bench_throughput.py`` measures the path).
    The parse then runs under the inference bound and deadline, like the work it feeds.
    """
    if media_type(request) == "application/json":
        raw = await request.body()
        if len(raw) > OFFLOAD_JSON_BYTES:
            return await state.infer(_parsed_then, raw, model, image_fields, work)
    options, images = await _request_fields(request, model, image_fields)
    return await state.infer(_then, options, images, work)


def _keypoints_json(face: Face, name: str) -> dict[str, Any] | None:
    """A vendor's named keypoint set for ``face``; None when its landmarks are not the 468-point mesh."""
    if face.landmarks is None or face.landmarks.scheme != "mesh468":
        return None
    iris = (face.attributes or {}).get("iris")
    iris_points = np.asarray(iris, np.float64) if isinstance(iris, list) else None
    points = keypoint_set(name, face.landmarks.points, iris_points)
    return {"set": name, "points": [{"name": n, "x": round(x, 2), "y": round(y, 2)} for n, x, y in points]}


def _face_json(face: Face, keypoints: str | None = None, landmarks: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"box": face.box.to_dict(), "confidence": face.confidence}
    if face.landmarks is not None and landmarks:
        out["landmarks"] = face.landmarks.to_list()
    if face.pose is not None:
        out["pose"] = face.pose.to_dict()
    if keypoints is not None and (named := _keypoints_json(face, keypoints)) is not None:
        out["keypoints"] = named
    if face.template is not None:
        out["template"] = face.template.to_dict()
    if face.quality is not None:
        out["quality"] = face.quality
    if face.attributes is not None:
        out["attributes"] = face.attributes
    return out


def analysis_json(result: ImageAnalysis, models: list[str], keypoints: str | None = None,
                  landmarks: bool = True) -> dict[str, Any]:
    """The stable native shape (also printed by ``visage detect --json``).

    ``keypoints`` adds a named vendor set per face; ``landmarks=False`` leaves out the raw points
    (computed only because the keypoint set needed them).
    """
    return {
        "width": result.width,
        "height": result.height,
        "faces": [_face_json(f, keypoints, landmarks) for f in result.faces],
        "models": list(dict.fromkeys([*models, *result.models])),
        "timings_ms": {k: round(v, 2) for k, v in result.timings_ms.items()},
        **({"unsupported": list(result.unsupported)} if result.unsupported else {}),
    }


@router.post("/detect", response_model=DetectResponse, response_model_exclude_none=True,
             openapi_extra=_json_body(DetectRequest), summary="Detect faces, landmarks and head pose")
async def detect(request: Request, state: AppState = Depends(get_state)) -> dict[str, Any]:
    def work(req: DetectRequest, images: dict[str, bytes]) -> ImageAnalysis:
        options = AnalyzeOptions(landmarks=req.landmarks or req.keypoints is not None, pose=req.pose,
                                 templates=False, max_faces=req.max_faces, quality=req.quality, icao=req.icao)
        return state.engine.analyze(images["image"], options)

    req, result = await _infer_with_fields(request, state, DetectRequest, ("image",), work)
    return analysis_json(result, state.engine.pipeline.models(), req.keypoints, req.landmarks)


@router.post("/analyze", response_model=DetectResponse, response_model_exclude_none=True,
             openapi_extra=_json_body(AnalyzeRequest),
             summary="Faces with attributes (age, gender, emotion, smile, liveness; see docs/attributes.md)")
async def analyze(request: Request, state: AppState = Depends(get_state)) -> dict[str, Any]:
    def work(req: AnalyzeRequest, images: dict[str, bytes]) -> ImageAnalysis:
        options = AnalyzeOptions(landmarks=req.landmarks or req.keypoints is not None, pose=req.pose,
                                 templates=req.templates, max_faces=req.max_faces,
                                 attributes=parse_attributes(req.attributes), quality=req.quality, icao=req.icao)
        return state.engine.analyze(images["image"], options)

    req, result = await _infer_with_fields(request, state, AnalyzeRequest, ("image",), work)
    return analysis_json(result, state.engine.pipeline.models(), req.keypoints, req.landmarks)


@router.post("/bodies", response_model=BodiesResponse, openapi_extra=_json_body(BodiesRequest),
             summary="Person (body) boxes with confidence (CenterNet)")
async def bodies(request: Request, state: AppState = Depends(get_state)) -> dict[str, Any]:
    req, images = await _request_fields(request, BodiesRequest, ("image",))
    engine = state.engine
    decoded = await state.infer(engine.decode, images["image"])
    t0 = time.perf_counter()
    found = await state.infer(engine.detect_bodies, decoded, req.min_score)
    ms = (time.perf_counter() - t0) * 1000
    return {"width": decoded.width, "height": decoded.height, "bodies": [b.to_dict() for b in found],
            "models": ["human-centernet"], "timings_ms": {"bodies": round(ms, 2)}}


@router.post("/embed", response_model=DetectResponse, response_model_exclude_none=True,
             openapi_extra=_json_body(EmbedRequest), summary="Face templates of every face")
async def embed(request: Request, state: AppState = Depends(get_state)) -> dict[str, Any]:
    _, result = await _infer_with_fields(request, state, EmbedRequest, ("image",),
                                         lambda req, images: state.engine.embed(images["image"], req.max_faces))
    return analysis_json(result, state.engine.pipeline.models())


def _template(wire: TemplateWire) -> Template:
    template = Template.from_base64(wire.model, wire.vector)
    if wire.dim is not None and wire.dim != template.dim:
        raise InvalidParameterError(f"template dim {wire.dim} does not match its {template.dim} values")
    return template


@router.post("/verify", response_model=VerifyResponse, openapi_extra=_json_body(VerifyRequest),
             summary="1:1 verification of two images or two templates")
async def verify(request: Request, state: AppState = Depends(get_state)) -> dict[str, Any]:
    req, images = await _request_fields(request, VerifyRequest, ("image_a", "image_b"))
    sides = []
    for side in ("a", "b"):
        image, template = images.get(f"image_{side}"), getattr(req, f"template_{side}")
        if (image is None) == (template is None):
            raise InvalidParameterError(f"give exactly one of image_{side} or template_{side}")
        sides.append(_template(template) if template is not None else
                     await state.infer(state.engine.largest_template, image))
    match = state.engine.compare(sides[0], sides[1], req.threshold)
    return {"similarity": match.similarity, "match": match.match, "threshold": match.threshold,
            "model": match.model, "cosine": match.cosine}
