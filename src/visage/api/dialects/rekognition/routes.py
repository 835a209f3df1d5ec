"""``POST /`` with ``X-Amz-Target: RekognitionService.<Operation>``: the Rekognition face API.

One route serves every operation, as AWS does: the request is authenticated (SigV4), the target
names the operation, the JSON body is validated against botocore's service model, and the
operation runs on the same engine (and collection store) as every other dialect. Errors leave in
Rekognition's envelope (``errors.render_error``) whatever raised them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from visage.analysis.pipeline import AnalyzeOptions
from visage.analysis.quality_filter import quality_filter_reasons
from visage.api.body import strict_loads
from visage.api.dialects.rekognition import mapping
from visage.api.dialects.rekognition.errors import CONTENT_TYPE, RekognitionError, invalid_parameter
from visage.api.dialects.rekognition.idempotency import IdempotencyMemory
from visage.api.dialects.rekognition.protocol import TARGET_PREFIX, validate_request
from visage.api.dialects.rekognition.s3 import S3Reader
from visage.api.dialects.rekognition.sigv4 import KeyRing, SignedRequest, verify
from visage.api.state import AppState, get_state
from visage.api.url_fetch import UrlFetchError
from visage.config import Settings
from visage.engine import Engine
from visage.types import Face, ImageAnalysis

OFFLOAD_BYTES = 64 * 1024
ACCEPTED_CONTENT_TYPES = ("application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json")


@dataclass
class RekognitionState:
    """Per-app state of the dialect: the key ring, the S3 reader, idempotency tokens seen."""

    settings: Settings
    keys: KeyRing
    s3: S3Reader
    tokens: IdempotencyMemory

    @classmethod
    def from_settings(cls, settings: Settings) -> RekognitionState:
        inline = settings.aws_keys.get_secret_value() if settings.aws_keys else None
        return cls(settings, KeyRing(inline, settings.aws_keys_file), S3Reader(settings), IdempotencyMemory())


@dataclass
class Call:
    """One operation call: the request, the app state and the dialect state."""

    request: Request
    state: AppState
    rek: RekognitionState

    @property
    def engine(self) -> Engine:
        return self.state.engine

    async def image_bytes(self, image: dict[str, Any], field: str) -> bytes:
        """The bytes of an ``Image`` structure: ``Bytes`` (already base64-decoded) or ``S3Object``."""
        has_bytes, has_s3 = "Bytes" in image, "S3Object" in image
        if has_bytes == has_s3:
            raise invalid_parameter(f"{field} must contain exactly one of Bytes or S3Object")
        if has_bytes:
            return image["Bytes"]
        obj = image["S3Object"]
        limit = self.state.settings.max_image_bytes
        try:
            return await self.state.fetch(self.rek.s3.get, obj.get("Bucket"), obj.get("Name"), obj.get("Version"),
                                          limit)
        except UrlFetchError:
            raise RekognitionError("InvalidS3ObjectException", "Unable to read the S3 object within the time"
                                   " limit; retry later") from None

    async def analyze(self, data: bytes, options: AnalyzeOptions) -> ImageAnalysis:
        engine = self.engine
        return await self.state.infer(engine.analyze, data, options)


def analysis_options(templates: bool = False, wanted: set[str] | None = None) -> AnalyzeOptions:
    """What Rekognition's default FaceDetail needs: landmarks, pose, and face quality (Brightness,
    Sharpness) wherever the pipeline offers it (``AnalyzeOptions.quality``, once that lands); plus the
    engine attributes behind the ``wanted`` FaceDetail members that have a source (only those run)."""
    fields = {f.name for f in dataclasses.fields(AnalyzeOptions)}
    extra: dict[str, Any] = {"quality": True} if "quality" in fields else {}
    sources = engine_attributes(wanted)
    if sources:
        extra["attributes"] = sources
    # AWS: DetectFaces (and every operation here) works on "the 100 largest faces in the image".
    return AnalyzeOptions(landmarks=True, pose=True, templates=templates, max_faces=REKOGNITION_MAX_FACES, **extra)


REKOGNITION_MAX_FACES = 100


#: FaceDetail member -> the engine attribute that measures it (docs/attributes.md). An attribute the engine
#: lacks is not computed and its member stays absent. FaceOccluded also reads the quality occlusion measure
#: (always computed); EyeDirection, not listed, the Iris model's points (when the pipeline runs it).
ENGINE_ATTRIBUTE = {"AgeRange": "age", "Gender": "gender", "Emotions": "emotion", "Smile": "smile",
                    "MouthOpen": "mouth_open", "Sunglasses": "glasses", "Eyeglasses": "glasses",
                    "EyesOpen": "eyes_open", "Beard": "beard", "Mustache": "mustache", "FaceOccluded": "mask"}


def engine_attributes(wanted: set[str] | None) -> frozenset[str]:
    """The engine attributes behind the ``wanted`` FaceDetail members."""
    return frozenset(ENGINE_ATTRIBUTE[f] for f in wanted or () if f in ENGINE_ATTRIBUTE)


Handler = Callable[[Call, dict[str, Any]], Awaitable[dict[str, Any]]]
OPERATIONS: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        OPERATIONS[name] = fn
        return fn

    return register


def _set_dialect(request: Request) -> None:
    request.state.dialect = "rekognition"


router = APIRouter(tags=["rekognition"], dependencies=[Depends(_set_dialect)])


def _authenticate(request: Request, rek: RekognitionState, body: bytes) -> None:
    if rek.settings.rekognition_auth == "off":
        # Anonymous access: nothing is checked, but a signed request still names its region (for ARNs).
        scope = re.search(r"Credential=[^/,\s]+/\d{8}/([a-z0-9-]{1,32})/", request.headers.get("authorization", ""))
        request.state.aws_region = scope.group(1) if scope else None
        return
    if rek.keys.empty():
        raise RekognitionError(
            "AccessDeniedException",
            "Rekognition API access is not configured on this visage server: set VISAGE_AWS_KEYS "
            "('AKID:SECRET,...') or VISAGE_AWS_KEYS_FILE, or VISAGE_REKOGNITION_AUTH=off to allow anonymous access",
        )
    scope = request.scope
    signed = SignedRequest(
        method=request.method,
        raw_path=scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
        query_string=scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]],
        body=body,
    )
    identity = verify(signed, rek.keys)
    request.state.aws_access_key, request.state.aws_region = identity.access_key, identity.region


def _operation_name(request: Request) -> str:
    target = request.headers.get("x-amz-target", "")
    name = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else ""
    if name not in OPERATIONS:
        supported = ", ".join(sorted(OPERATIONS))
        what = f"operation {target!r}" if target else "a request without an X-Amz-Target header"
        raise RekognitionError(
            "UnknownOperationException",
            f"visage's Rekognition endpoint does not serve {what}; it serves RekognitionService.<op> for: {supported}",
        )
    return name


def _parse_body(request: Request, body: bytes) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind not in ACCEPTED_CONTENT_TYPES:
        raise invalid_parameter(f"Content-Type must be application/x-amz-json-1.1, got {kind or 'none'!r}")
    if not body.strip():
        return {}
    try:
        data = strict_loads(body)
    except (ValueError, RecursionError):
        raise invalid_parameter("Request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise invalid_parameter("Request body must be a JSON object")
    return data


@router.post(
    "/",
    summary="Amazon Rekognition face API (JSON 1.1, X-Amz-Target: RekognitionService.<Operation>, SigV4)",
    description="See docs/rekognition.md: point an AWS SDK's endpoint_url at this server.",
    response_class=JSONResponse,
)
async def rekognition(request: Request, state: AppState = Depends(get_state)) -> Response:
    rek: RekognitionState = request.app.state.rekognition
    body = await request.body()

    def admit() -> dict[str, Any]:
        _authenticate(request, rek, body)
        name = _operation_name(request)
        request.state.rekognition_operation = name
        return validate_request(name, _parse_body(request, body))

    # Hashing, parsing and base64-decoding a multi-megabyte body would stall the event loop.
    params = await run_in_threadpool(admit) if len(body) > OFFLOAD_BYTES else admit()
    name = request.state.rekognition_operation
    result = await OPERATIONS[name](Call(request, state, rek), params)
    headers = {"x-amzn-RequestId": getattr(request.state, "request_id", "")}
    return JSONResponse(result, headers=headers, media_type=CONTENT_TYPE)


# ---------------------------------------------------------------------------------- analysis


@operation("DetectFaces")
async def detect_faces(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    data = await call.image_bytes(p["Image"], "Image")
    wanted = mapping.requested_fields(p.get("Attributes"))
    result = await call.analyze(data, analysis_options(wanted=wanted))
    return {"FaceDetails": [mapping.face_detail(f, result.width, result.height, wanted, result.models)
                            for f in result.faces]}


def _passing(analysis: ImageAnalysis, level: str) -> list[Face]:
    size = (analysis.width, analysis.height)
    return [f for f in analysis.faces if not quality_filter_reasons(f, size, level)]


@operation("CompareFaces")
async def compare_faces(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    source_bytes = await call.image_bytes(p["SourceImage"], "SourceImage")
    target_bytes = await call.image_bytes(p["TargetImage"], "TargetImage")
    threshold = p.get("SimilarityThreshold", 80.0)
    level = p.get("QualityFilter", "NONE")
    options = analysis_options(templates=True)
    # Only the largest source face is compared; without a filter, the others need no template.
    source_options = dataclasses.replace(options, max_faces=1) if level == "NONE" else options
    source = await call.analyze(source_bytes, source_options)
    # ComparedFace carries Emotions and Smile: the target's faces get those attributes (where the engine has them).
    options = analysis_options(templates=True, wanted=set(mapping.COMPARED_FACE_ATTRIBUTES))
    candidates = _passing(source, level)
    if not candidates:
        which = "no face" if not source.faces else f"no face that passes QualityFilter {level}"
        raise invalid_parameter(f"There are no faces in the source image that can be compared ({which} found)")
    src = max(candidates, key=lambda f: f.box.area)
    target = await call.analyze(target_bytes, options)
    matches, unmatched = [], []
    for face in _passing(target, level):
        if face.template is None or src.template is None:
            continue
        similarity = call.engine.compare(src.template, face.template).similarity * 100.0
        wire = mapping.compared_face(face, target.width, target.height)
        if similarity >= threshold:
            matches.append({"Similarity": similarity, "Face": wire})
        else:
            unmatched.append(wire)
    matches.sort(key=lambda m: -m["Similarity"])
    return {
        "SourceImageFace": mapping.compared_source_face(src, source.width, source.height),
        "FaceMatches": matches,
        "UnmatchedFaces": unmatched,
    }
