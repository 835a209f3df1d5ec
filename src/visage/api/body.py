"""Request bodies shared by every dialect: a size cap enforced while reading, and image fields.

The cap is enforced by an ASGI wrapper on ``receive`` (so chunked bodies without a
Content-Length are capped too); the error surfaces where a route reads its body and is
rendered in that route's dialect envelope.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from visage.api.errors import RequestTooLargeError
from visage.errors import InvalidParameterError
from visage.imaging import decode_base64

MAX_JSON_DEPTH = 32


class BodyLimitMiddleware:
    """Refuse request bodies over ``limit`` bytes without buffering them."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big_declared = declared is not None and declared.isdigit() and int(declared) > limit
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            if too_big_declared:
                raise RequestTooLargeError(f"request body is larger than {limit} bytes")
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise RequestTooLargeError(f"request body is larger than {limit} bytes")
            return message

        await self.app(scope, limited_receive, send)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_json(request: Request) -> dict[str, Any]:
    """Parse a JSON object body; malformed, non-object or absurdly nested JSON is a 400."""
    raw = await request.body()
    if not raw:
        raise InvalidParameterError("request body is empty; send a JSON object")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidParameterError("request body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise InvalidParameterError("request body must be a JSON object")
    return data


async def read_form(request: Request) -> dict[str, str | bytes]:
    """Multipart or urlencoded form fields; uploaded files become bytes."""
    form = await request.form()
    fields: dict[str, str | bytes] = {}
    for key, value in form.multi_items():
        if key in fields:
            raise InvalidParameterError(f"form field {key!r} given more than once")
        fields[key] = await value.read() if isinstance(value, UploadFile) else value
    return fields


def image_bytes(value: object, field: str) -> bytes:
    """An image from a form file (bytes) or base64 text (with or without a data-URI prefix)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return decode_base64(value)
    raise InvalidParameterError(f"{field} must be base64 text or an uploaded file")
