"""HTTP status for each domain error code, shared by the dialects (each adds its own envelope)."""

from __future__ import annotations

from visage.errors import VisageError

HTTP_STATUS: dict[str, int] = {
    "invalid_parameter": 400,
    "invalid_base64": 400,
    "empty_image": 400,
    "invalid_image": 400,
    "image_too_large": 413,
    "image_too_many_pixels": 413,
    "image_too_small": 400,
    "no_face": 422,
    "template_model_mismatch": 400,
    "not_found": 404,
    "already_exists": 409,
    "limit_exceeded": 400,
    "url_not_allowed": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "throttled": 429,
    "timeout": 504,
    "model_unavailable": 503,
    "store_unavailable": 503,
    "store_locked": 503,
    "request_too_large": 413,
    "request_timeout": 408,
    "internal_error": 500,
}


def status_for(error: VisageError) -> int:
    return HTTP_STATUS.get(error.code, 500)


class RequestTooLargeError(VisageError):
    """The HTTP body is larger than ``max_request_bytes``."""

    code = "request_too_large"
