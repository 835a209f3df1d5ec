"""Qiniu/Baidu's error envelope ``{"error_code", "error_msg", "log_id", "result": null}`` and its codes.

Seed 002 shows the envelope and says a missing or bad ``Authorization`` gets error 401. The other codes
are Baidu's published face-API codes (the service Qiniu's face detect mirrors; docs/qiniu.md lists each
row and where it came from). ``error_msg`` is the vendor's fixed text, so clients that compare it keep
working; visage's exact reason is in the ``X-Visage-Error`` response header. Every error is HTTP 200,
as Baidu answers, except authentication (HTTP 401, as the seed says).
"""

from __future__ import annotations

import hashlib

from fastapi.responses import JSONResponse
from starlette.requests import Request

from visage.errors import VisageError

DIALECT = "qiniu"


class FaceTokenNotFoundError(VisageError):
    """A FACE_TOKEN this process never issued, or one whose time ran out."""

    code = "face_token_not_found"


class LivenessFailedError(VisageError):
    """A face failed the requested liveness_control level."""

    code = "liveness_failed"


class NotSupportedError(VisageError):
    """The request needs a capability this server's engine does not have (e.g. liveness)."""

    code = "not_supported"


# Baidu's parameter codes, by the field the InvalidParameterError names (details["param"]).
PARAM_CODES: dict[str, int] = {
    "image": 222013,
    "image_type": 222015,
    "max_face_num": 222016,
    "face_field": 222017,
    "liveness_control": 222020,
}

# domain code -> (error_code, error_msg, HTTP status)
CODES: dict[str, tuple[int, str, int]] = {
    "invalid_parameter": (216100, "invalid param", 200),
    "invalid_base64": (222013, "param[image] format error", 200),
    "missing_parameter": (222001, "param[] is null", 200),
    "not_json": (222200, "request body should be json format", 200),
    "empty_image": (216200, "empty image", 200),
    "invalid_image": (216201, "image format error", 200),
    "image_too_large": (216202, "image size error", 200),
    "request_too_large": (216202, "image size error", 200),
    "image_too_many_pixels": (216202, "image size error", 200),
    "image_too_small": (216202, "image size error", 200),
    "no_face": (222202, "pic not has face", 200),
    "url_not_allowed": (222204, "image_url_download_fail", 200),
    "url_fetch_failed": (222204, "image_url_download_fail", 200),
    "face_token_not_found": (222209, "face token not exist", 200),
    "liveness_failed": (223120, "liveness check fail", 200),
    "not_supported": (216102, "service not support", 200),
    "unauthorized": (401, "bad token", 401),
    "forbidden": (401, "bad token", 401),
    "throttled": (18, "Open api qps request limit reached", 200),
    "model_unavailable": (2, "Service temporarily unavailable", 200),
    "request_timeout": (2, "Service temporarily unavailable", 200),
    "timeout": (2, "Service temporarily unavailable", 200),
    "not_found": (3, "Unsupported openapi method", 200),
    "method_not_allowed": (3, "Unsupported openapi method", 405),
}
INTERNAL = (222302, "system error", 200)


class MethodNotAllowedError(VisageError):
    """``/v2/facedetect`` with a method other than POST."""

    code = "method_not_allowed"


class MissingParameterError(VisageError):
    """A required request field is absent or empty (Baidu 222001 ``param[<name>] is null``)."""

    code = "missing_parameter"


class NotJsonError(VisageError):
    """The body is not a JSON object (Baidu 222200)."""

    code = "not_json"


def log_id(request_id: str) -> int:
    """A number for Baidu's ``log_id``: the first 53 bits of sha256(request_id) (exact in JSON doubles)."""
    return int.from_bytes(hashlib.sha256(request_id.encode()).digest()[:8], "big") >> 11


def code_for(error: VisageError) -> tuple[int, str, int]:
    param = error.details.get("param") if isinstance(error.details, dict) else None
    if error.code == "missing_parameter" and param:
        return 222001, f"param[{param}] is null", 200
    if error.code in ("invalid_parameter", "invalid_base64") and param in PARAM_CODES:
        return PARAM_CODES[param], f"param[{param}] format error", 200
    return CODES.get(error.code, INTERNAL)


def render_error(request: Request, error: VisageError, status: int, request_id: str) -> JSONResponse:
    code, msg, http_status = code_for(error)
    detail = "internal error" if (code, msg, http_status) == INTERNAL else error.message
    detail = "".join(c if " " <= c <= "~" else "?" for c in detail[:300])  # printable ASCII only: a header
    headers = {"X-Visage-Error": detail}
    if http_status == 401:
        headers["WWW-Authenticate"] = "Qiniu"
    return JSONResponse({"error_code": code, "error_msg": msg, "log_id": log_id(request_id), "result": None},
                        status_code=http_status, headers=headers)
