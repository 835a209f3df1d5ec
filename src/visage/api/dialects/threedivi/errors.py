"""3DiVi's error envelope: ``{"detail": "..."}`` (FastAPI's shape, as in seed 003), with the status of
the domain code. A base64 failure reads exactly as the seed's example; a block whose model visage does
not have answers 501 naming the missing capability."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from visage.errors import VisageError

SEED_BASE64_DETAIL = "Failed to decode base64 string"


class NotAvailableError(VisageError):
    """A processing block whose model (or measured method) this server does not have."""

    code = "not_available"


class MethodNotAllowedError(VisageError):
    """A block path asked with another method than POST."""

    code = "method_not_allowed"


def render_threedivi_error(request: Request, error: VisageError, status: int, request_id: str) -> Response:
    detail = error.message
    if error.code == "invalid_base64":
        detail = SEED_BASE64_DETAIL
    elif error.code == "not_available":
        status = 501
    elif error.code == "method_not_allowed":
        status = 405
    elif status >= 500 and error.code == "internal_error":
        detail = "internal error; see the server log (request id " + request_id + ")"
    headers: dict[str, str] = {}
    if status == 429:
        headers["Retry-After"] = "1"
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status == 405:
        headers["Allow"] = "POST"
    return JSONResponse({"detail": detail}, status_code=status, headers=headers or None)
