"""SenseID's error envelope ``{"code", "message", "request_id"}`` and its code/status table (seed 001).

Seed 001 codes: 1200 invalid argument, 2003 invalid image size (pixels), 2004 invalid content length
(bytes), 2005 invalid image type or corrupted, 4000 detection failed (no face); HTTP statuses 400,
404, 411, 413, 500. Errors the seed has no code for (auth, overload, server faults) keep their HTTP
status and carry that status number as ``code`` (docs/senseid.md lists every row).
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.requests import Request

from visage.errors import VisageError

DIALECT = "quality_stateless"


class MethodNotAllowedError(VisageError):
    """The route exists but not for this HTTP method."""

    code = "method_not_allowed"


# domain code -> (SenseID code, HTTP status)
CODES: dict[str, tuple[int, int]] = {
    "invalid_parameter": (1200, 400),
    "invalid_base64": (1200, 400),
    "url_not_allowed": (1200, 400),
    "not_found": (1200, 404),
    "method_not_allowed": (1200, 405),
    "empty_image": (2004, 411),
    "image_too_large": (2004, 413),
    "request_too_large": (2004, 413),
    "image_too_many_pixels": (2003, 400),
    "image_too_small": (2003, 400),
    "invalid_image": (2005, 400),
    "no_face": (4000, 400),
    "unauthorized": (401, 401),
    "forbidden": (403, 403),
    "throttled": (429, 429),
    "model_unavailable": (503, 503),
    "store_locked": (503, 503),
    "store_unavailable": (503, 503),
    "request_timeout": (408, 408),
    "timeout": (504, 504),
}

MESSAGES = {
    1200: "invalid argument",
    2003: "invalid image size",
    2004: "invalid content length",
    2005: "invalid image type or corrupted",
    4000: "detection failed",
}


def code_for(error: VisageError) -> tuple[int, int]:
    return CODES.get(error.code, (500, 500))


def render_error(request: Request, error: VisageError, status: int, request_id: str) -> JSONResponse:
    code, http_status = code_for(error)
    title = MESSAGES.get(code)
    message = f"{title}: {error.message}" if title else error.message
    if code == 500:
        message = "internal error"  # never the exception text of an unexpected fault
    headers = {"Retry-After": "1"} if http_status in (429, 503) else None
    return JSONResponse({"code": code, "message": message, "request_id": request_id},
                        status_code=http_status, headers=headers)
