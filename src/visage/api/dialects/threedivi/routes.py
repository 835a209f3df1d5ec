"""3DiVi Image API processing blocks: ``POST /<block>/process/sample`` (a JSON sample) and
``POST /<block>/process/image`` (an image upload: multipart file or raw body), v1 and v2.

A block reads the sample, runs the engine once for what it needs, and answers the same sample with
its fields added (``objects`` of a detector; ``fitter``/``keypoints``, templates, quality, attributes
on existing face objects; ``verification``; ``search_result``). Face objects sent to a non-detector
block are matched to the engine's detections by box overlap (IoU >= 0.3); a sample with no face
objects is detected first. Blocks whose model visage lacks answer 501 with the missing capability.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse

from visage.analysis.pipeline import AnalyzeOptions
from visage.api.body import media_type, strict_loads
from visage.api.dialects.threedivi import mapping
from visage.api.dialects.threedivi.errors import MethodNotAllowedError, NotAvailableError
from visage.api.dialects.threedivi.roc import get_roc
from visage.api.dialects.threedivi.schemas import (
    Version,
    WireImage,
    b64encode,
    check_sample,
    parse_image,
    parse_template,
    parse_version,
    template_v1,
    template_v2,
)
from visage.api.state import AppState, get_state, require_key
from visage.calibration import get_calibration
from visage.config import Settings
from visage.errors import (
    EmptyImageError,
    ImageTooManyPixelsError,
    ImageTooSmallError,
    InvalidParameterError,
    NoFaceError,
    NotFoundError,
    TemplateMismatchError,
)
from visage.types import Face, ImageAnalysis, Template

DIALECT = "threedivi"
FITTER_KEYS = frozenset({"fitter", "angles", "keypoints", "pose"})


@dataclass(frozen=True)
class Block:
    name: str
    kind: str                     # "detect" | "objects" | "verify" | "search" | "body"
    outputs: tuple[str, ...] = ()  # fitter, template, quality, liveness, age, gender, emotion, mask
    summary: str = ""


BLOCKS: dict[str, Block] = {b.name: b for b in (
    Block("face-detector", "detect", (), "Detect faces (visage's block): id, class, confidence, bbox"),
    Block("face-detector-face-fitter", "detect", ("fitter",), "Detect faces, 21 fda keypoints and head angles"),
    Block("face-detector-template-extractor", "detect", ("template",), "Detect faces and extract templates"),
    Block("face-detector-liveness-estimator", "detect", ("liveness",), "Detect faces and estimate liveness"),
    Block("template-extractor", "objects", ("template",), "Templates of the sample's face objects"),
    Block("quality-assessment-estimator", "objects", ("fitter", "quality"), "ICAO-style quality of face objects"),
    Block("liveness-estimator", "objects", ("liveness",), "Liveness of the sample's face objects"),
    Block("age-estimator", "objects", ("age",), "Age of the sample's face objects"),
    Block("gender-estimator", "objects", ("gender",), "Gender of the sample's face objects"),
    Block("emotion-estimator", "objects", ("emotion",), "Emotions of the sample's face objects"),
    Block("mask-estimator", "objects", ("mask",), "Medical mask on the sample's face objects"),
    Block("body-detector", "body", (), "Detect human bodies"),
    Block("verify-matcher", "verify", (), "1:1 verification of two templates: distance, score, fa_r, fr_r"),
    Block("search-matcher", "search", (), "1:N search of templates in a visage collection"),
)}


# --------------------------------------------------------------------------- capabilities
def _option_fields() -> set[str]:
    return {f.name for f in dataclasses.fields(AnalyzeOptions)}


def _supported_attributes() -> frozenset[str]:
    if "attributes" not in _option_fields():
        return frozenset()
    try:
        from visage.analysis.attributes import SUPPORTED  # type: ignore[import-not-found]
    except ImportError:
        return frozenset()
    return frozenset(SUPPORTED)


# The attribute each 3DiVi output needs from the engine.
ATTRIBUTE_OF = {"liveness": "liveness", "age": "age", "gender": "gender", "emotion": "emotion", "mask": "mask"}


def check_available(block: Block, state: AppState) -> None:
    """Refuse (501) a block whose model this server does not have, before any work."""
    missing = []
    attrs = _supported_attributes()
    for out in block.outputs:
        if out in ATTRIBUTE_OF and ATTRIBUTE_OF[out] not in attrs:
            missing.append(f"{ATTRIBUTE_OF[out]} estimation")
        if out == "quality" and not {"quality", "icao"} <= _option_fields():
            missing.append("ICAO-style quality assessment")
    if block.kind == "body" and not callable(getattr(state.engine, "detect_bodies", None)):
        missing.append("body detection")
    if missing:
        raise NotAvailableError(f"{block.name} is not available on this server: no model for "
                                f"{', '.join(missing)} (see docs/threedivi.md)")


def options_for(block: Block) -> AnalyzeOptions:
    outs = set(block.outputs)
    kwargs: dict[str, Any] = {"landmarks": bool(outs & {"fitter", "quality"}), "pose": bool(outs & {"fitter",
                              "quality"}), "templates": "template" in outs}
    attrs = {ATTRIBUTE_OF[o] for o in outs if o in ATTRIBUTE_OF}
    if attrs:
        kwargs["attributes"] = frozenset(attrs)
    if "quality" in outs:
        kwargs.update(quality=True, icao=True, landmarks=True, pose=True)
        if "emotion" in _supported_attributes():  # the neutral-emotion fields of the quality block
            kwargs["attributes"] = frozenset({"emotion"})
    return AnalyzeOptions(**kwargs)


# --------------------------------------------------------------------------- one face's outputs
def face_fields(face: Face, block: Block, analysis: ImageAnalysis, version: Version,
                template_key: str) -> dict[str, Any]:
    """What ``block`` adds to one face object, in ``version``'s form."""
    w, h = analysis.width, analysis.height
    out: dict[str, Any] = {}
    if "fitter" in block.outputs:
        out.update(mapping.fitter_fields(face, w, h, version))
    if "template" in block.outputs:
        if face.template is None:
            raise NoFaceError("the engine made no template for this face")
        out.update(template_v1(face.template) if version == "v1" else template_v2(face.template, template_key))
    if "quality" in block.outputs:
        fields = mapping.quality_fields(face, version)
        if fields is None:
            raise NotAvailableError(f"{block.name} is not available on this server: its pipeline produces no "
                                    "ICAO-style quality (see docs/quality.md)")
        out.update(fields)
    for name in ("liveness", "age", "gender", "emotion", "mask"):
        if name in block.outputs:
            out.update(mapping.attribute_fields(name, face, version, block.name))
    return out


# --------------------------------------------------------------------------- running blocks
class Runner:
    def __init__(self, state: AppState, settings: Settings) -> None:
        self.state = state
        self.settings = settings

    def check_pixels(self, pixels: Any) -> None:
        h, w = pixels.shape[:2]
        if w * h > self.settings.max_image_pixels:
            raise ImageTooManyPixelsError(f"image is {w}x{h} = {w * h} pixels; the limit is "
                                          f"{self.settings.max_image_pixels}")
        if min(w, h) < self.settings.min_image_side:
            raise ImageTooSmallError(f"image is {w}x{h}; the shorter side must be at least "
                                     f"{self.settings.min_image_side} pixels")

    async def analyze(self, image: WireImage, options: AnalyzeOptions) -> ImageAnalysis:
        engine = self.state.engine
        if image.pixels is not None:
            self.check_pixels(image.pixels)
            return await self.state.infer(engine.analyze, image.pixels, options)
        if not image.encoded:
            raise EmptyImageError("image is empty (0 bytes)")
        return await self.state.infer(engine.analyze, image.encoded, options)

    async def run(self, block: Block, sample: dict[str, Any], version: Version) -> dict[str, Any]:
        objects = check_sample(sample, version)
        if block.kind not in ("search",):
            for key in ("collection_id", "knn", "threshold"):
                if key in sample:
                    raise InvalidParameterError(f"unknown field in the sample for {block.name}: {key}")
        check_available(block, self.state)
        if block.kind == "verify":
            return self.verify(sample, objects, version)
        if block.kind == "search":
            return await self.search(sample, objects, version)
        image = parse_image(sample, version)
        if image is None:
            key = "$image" if version == "v1" else "_image"
            raise InvalidParameterError(f"{block.name} needs an image: the sample has no '{key}'")
        if block.kind == "body":  # only reached once the engine offers body detection
            return await self.bodies(sample, objects, image)
        analysis = await self.analyze(image, options_for(block))
        key = self.settings.threedivi_template_key
        faces_in = [i for i, o in enumerate(objects) if o.get("class", "face") == "face"]
        if block.kind == "detect" or not faces_in:
            kept = [o for o in objects if o.get("class", "face") != "face"]
            start = 1 + max((o["id"] for o in kept if isinstance(o.get("id"), int)), default=-1)
            new = []
            for n, face in enumerate(analysis.faces):
                obj = mapping.face_object(face, start + n, analysis.width, analysis.height)
                obj.update(face_fields(face, block, analysis, version, key))
                new.append(obj)
            return {**sample, "objects": kept + new}
        boxes = []
        for i in faces_in:
            if "bbox" not in objects[i]:
                raise InvalidParameterError(f"objects[{i}] has no bbox: send the output of a face detector block")
            boxes.append(mapping.pixel_box(objects[i]["bbox"], analysis.width, analysis.height, f"objects[{i}].bbox"))
        matches = mapping.match_faces(boxes, analysis)
        out_objects = [dict(o) for o in objects]
        for i, j in zip(faces_in, matches, strict=True):
            if j is None:
                raise NoFaceError(f"objects[{i}]: no face found at its bbox (box overlap with every detected face "
                                  f"is below {mapping.MATCH_IOU})")
            fields = face_fields(analysis.faces[j], block, analysis, version, key)
            # Keypoints and angles the client sent (from its fitter) are kept, not replaced by ours.
            out_objects[i].update({k: v for k, v in fields.items() if not (k in FITTER_KEYS and k in objects[i])})
        return {**sample, "objects": out_objects}

    def templates_of(self, objects: list[dict[str, Any]], version: Version) -> list[tuple[int, Template]]:
        found = []
        for i, obj in enumerate(objects):
            t = parse_template(obj, version, f"objects[{i}]")
            if t is not None:
                found.append((i, t))
        return found

    def verify(self, sample: dict[str, Any], objects: list[dict[str, Any]], version: Version) -> dict[str, Any]:
        found = self.templates_of(objects, version)
        if len(found) != 2:
            field = "$template" if version == "v1" else "template"
            raise InvalidParameterError(f"verify-matcher needs exactly two objects with a '{field}'; got {len(found)}")
        (_, a), (_, b) = found
        a.check_compatible(b)
        cosine = a.cosine(b)
        distance = round(max(0.0, 1.0 - cosine), 6)  # the rates are read at the distance the client sees
        fa_r, fr_r = get_roc(a.model).rates(distance)
        score = get_calibration(a.model).similarity(cosine)
        return {**sample, "verification": {"distance": round(distance, 6), "fa_r": round(fa_r, 6),
                                           "fr_r": round(fr_r, 6), "score": round(score, 6)}}

    async def search(self, sample: dict[str, Any], objects: list[dict[str, Any]], version: Version) -> dict[str, Any]:
        collection_id = sample.get("collection_id")
        if not isinstance(collection_id, str) or not collection_id:
            raise InvalidParameterError("search-matcher needs 'collection_id' (a visage collection) in the sample")
        knn = sample.get("knn", 1)
        if not isinstance(knn, int) or isinstance(knn, bool) or not 1 <= knn <= 100:
            raise InvalidParameterError("'knn' must be an integer in 1..100")
        threshold = sample.get("threshold", 0.0)
        if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0.0 <= threshold <= 1.0:
            raise InvalidParameterError("'threshold' must be a score in [0, 1]")
        found = self.templates_of(objects, version)
        if not found:
            image = parse_image(sample, version)
            if image is None:
                raise InvalidParameterError("search-matcher needs objects with templates, or an image to extract them")
            sample = await self.run(BLOCKS["face-detector-template-extractor"],
                                    {k: v for k, v in sample.items() if k not in ("collection_id", "knn",
                                                                                   "threshold")}, version)
            sample.update({"collection_id": collection_id, "knn": knn, "threshold": threshold})
            objects = sample["objects"]
            found = self.templates_of(objects, version)
            if not found:
                raise NoFaceError("no face found in the image")
        results = await self.state.infer(self._search_all, collection_id, [t for _, t in found], knn, float(threshold))
        out_objects = [dict(o) for o in objects]
        for (i, _), hits in zip(found, results, strict=True):
            out_objects[i]["search_result"] = hits
        return {**sample, "objects": out_objects}

    def _search_all(self, collection_id: str, templates: list[Template], knn: int,
                    threshold: float) -> list[list[dict[str, Any]]]:
        store = self.state.store
        info = store.describe_collection(collection_id)
        out = []
        for t in templates:
            if t.model != info.model or t.dim != info.dim:
                raise TemplateMismatchError(f"collection {collection_id} holds {info.model}/{info.dim} templates; "
                                            f"this one is {t.model}/{t.dim}")
            calibration, roc = get_calibration(t.model), get_roc(t.model)
            min_cos = -1.0 if threshold <= 0.0 else calibration.cosine_at(threshold)
            hits = []
            for hit in store.search(collection_id, t, knn, min_cos):
                distance = round(max(0.0, 1.0 - hit.cosine), 6)
                fa_r, fr_r = roc.rates(distance)
                hits.append({"face_id": hit.face.face_id, "image_id": hit.face.image_id,
                             "external_image_id": hit.face.external_image_id, "user_id": hit.face.user_id,
                             "distance": round(distance, 6), "score": round(calibration.similarity(hit.cosine), 6),
                             "fa_r": round(fa_r, 6), "fr_r": round(fr_r, 6)})
            out.append(hits)
        return out

    async def bodies(self, sample: dict[str, Any], objects: list[dict[str, Any]], image: WireImage) -> dict[str, Any]:
        engine = self.state.engine
        rgb = image.pixels if image.pixels is not None else (await self.state.infer(engine.decode, image.encoded)).rgb
        found = await self.state.infer(engine.detect_bodies, rgb)  # type: ignore[attr-defined]
        kept = [o for o in objects if o.get("class") != "body"]
        start = 1 + max((o["id"] for o in kept if isinstance(o.get("id"), int)), default=-1)
        height, width = rgb.shape[:2]
        return {**sample, "objects": kept + mapping.body_objects(found, start, width, height)}


# --------------------------------------------------------------------------- HTTP
def _set_dialect(request: Request) -> None:
    request.state.dialect = DIALECT


def _version_param(request: Request, default: Version) -> Version:
    v = request.query_params.get("version", default)
    if v not in ("v1", "v2"):
        raise InvalidParameterError("query parameter 'version' must be v1 or v2")
    return v  # type: ignore[return-value]


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _loads(raw: bytes) -> Any:
    """Strict JSON: NaN and Infinity (which Python's parser accepts) are refused."""
    return strict_loads(raw, parse_constant=_reject_constant)


async def _sample_from_json(request: Request, default: Version) -> tuple[dict[str, Any], Version]:
    kind = media_type(request)
    if kind not in ("application/json", ""):
        raise InvalidParameterError(f"process/sample takes a JSON sample (application/json), not {kind!r}; "
                                    "upload images to process/image")
    raw = await request.body()
    if not raw:
        raise InvalidParameterError("request body is empty; send a JSON sample")
    try:
        sample = await run_in_threadpool(_loads, raw)
    except (ValueError, RecursionError):
        raise InvalidParameterError("request body is not valid JSON") from None
    if not isinstance(sample, dict):
        raise InvalidParameterError("the sample must be a JSON object")
    return sample, parse_version(sample, default)


_FORM_PARAMS = {"collection_id": str, "knn": int, "threshold": float}


async def _sample_from_upload(request: Request, block: Block, version: Version) -> dict[str, Any]:
    kind = media_type(request)
    files: list[bytes] = []
    params: dict[str, Any] = {}
    if kind == "multipart/form-data":
        form = await request.form()
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files.append(await value.read())
            elif key in _FORM_PARAMS and block.kind == "search":
                try:
                    params[key] = _FORM_PARAMS[key](value)
                except ValueError:
                    raise InvalidParameterError(f"form field {key!r} must be a {_FORM_PARAMS[key].__name__}") from None
            else:
                raise InvalidParameterError(f"unknown form field {key!r}: upload the image as a file")
    elif kind.startswith("image/") or kind == "application/octet-stream":
        files.append(await request.body())
        if block.kind == "search":
            for key, conv in _FORM_PARAMS.items():
                if key in request.query_params:
                    try:
                        params[key] = conv(request.query_params[key])
                    except ValueError:
                        raise InvalidParameterError(f"query parameter {key!r} must be a {conv.__name__}") from None
    else:
        raise InvalidParameterError(f"process/image takes a multipart upload or a raw image body, not {kind!r}")
    want = 2 if block.kind == "verify" else 1
    if len(files) != want:
        raise InvalidParameterError(f"{block.name}/process/image takes {want} image file(s); got {len(files)}")
    for data in files:
        if not data:
            raise EmptyImageError("image is empty (0 bytes)")

    def image_field(data: bytes) -> dict[str, Any]:
        enc = b64encode(data)
        return {"$image": enc} if version == "v1" else {"_image": {"blob": enc, "format": "IMAGE"}}

    if block.kind == "verify":
        return {"objects": [], "_pair": [image_field(d) for d in files]}
    return {**image_field(files[0]), **params}


def build_router(settings: Settings) -> APIRouter:
    prefix = settings.threedivi_prefix.strip().strip("/")
    router = APIRouter(prefix=f"/{prefix}" if prefix else "", tags=["3DiVi Image API"],
                       dependencies=[Depends(_set_dialect), Depends(require_key("read"))])
    default: Version = settings.threedivi_version  # type: ignore[assignment]

    def sample_route(block: Block) -> Callable:
        async def handler(request: Request, state: AppState = Depends(get_state)) -> JSONResponse:
            sample, version = await _sample_from_json(request, _version_param(request, default))
            return JSONResponse(await Runner(state, settings).run(block, sample, version))
        return handler

    def image_route(block: Block) -> Callable:
        async def handler(request: Request, state: AppState = Depends(get_state)) -> JSONResponse:
            version = _version_param(request, default)
            sample = await _sample_from_upload(request, block, version)
            runner = Runner(state, settings)
            if block.kind == "verify":
                pair = sample.pop("_pair")
                ext = BLOCKS["face-detector-template-extractor"]
                objects = []
                for side in pair:
                    res = await runner.run(ext, side, version)
                    faces = [o for o in res["objects"] if o.get("class") == "face"]
                    if not faces:
                        raise NoFaceError("no face found in one of the two images")
                    objects.append(faces[0])
                sample = {"objects": objects}
            return JSONResponse(await runner.run(block, sample, version))
        return handler

    for block in BLOCKS.values():
        router.add_api_route(f"/{block.name}/process/sample", sample_route(block), methods=["POST"],
                             summary=f"{block.summary} (JSON sample, v1 or v2)", name=f"{block.name} sample",
                             openapi_extra={"requestBody": {"required": True, "content": {
                                 "application/json": {"schema": {"type": "object"}}}}})
        router.add_api_route(f"/{block.name}/process/image", image_route(block), methods=["POST"],
                             summary=f"{block.summary} (image upload; ?version=v1|v2)", name=f"{block.name} image",
                             openapi_extra={"requestBody": {"required": True, "content": {
                                 "multipart/form-data": {"schema": {"type": "object", "properties": {
                                     "image": {"type": "string", "format": "binary"}}}},
                                 "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}}})
    async def other(block: str, form: str) -> JSONResponse:
        if block in BLOCKS and form in ("sample", "image"):
            raise MethodNotAllowedError(f"use POST on /{block}/process/{form}")
        if block in BLOCKS:
            raise NotFoundError(f"{block} has process/sample and process/image, not process/{form}")
        raise NotFoundError(f"no processing block {block!r}; blocks: {', '.join(BLOCKS)}")

    # Registered last: only what no block route matched lands here, so it answers in this dialect.
    router.add_api_route("/{block}/process/{form}", other, include_in_schema=False,
                         methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    return router


def mount(app: FastAPI, settings: Settings) -> None:
    """Mount the blocks (unless disabled) and register the ``{"detail": ...}`` error renderer."""
    from visage.api.dialects.threedivi.errors import render_threedivi_error

    app.state.error_renderers[DIALECT] = render_threedivi_error
    if settings.threedivi_enabled:
        app.include_router(build_router(settings))
