"""Request bodies shared by every dialect: a size cap enforced while reading, and image fields.

The cap is enforced by an ASGI wrapper on ``receive`` (so chunked bodies without a
Content-Length are capped too); the error surfaces where a route reads its body and is
rendered in that route's dialect envelope.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool as run_sync
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from visage.api.errors import RequestTooLargeError
from visage.errors import InvalidParameterError
from visage.imaging import decode_base64

MAX_JSON_DEPTH = 32

T = TypeVar("T")


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


def _why(exc: BaseException) -> str:
    return ": a lone surrogate escape" if "surrogate" in str(exc) else ""


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def strict_loads(raw: bytes | str, **kwargs: Any) -> Any:
    """``json.loads`` that also refuses lone surrogates (``"\\ud800"``), raising ``ValueError``.

    Python's parser accepts an unpaired ``\\uD800``-``\\uDFFF`` escape and yields a string UTF-8
    cannot encode: it would fail later, far from the parser (a store write, an echoed error
    message), as a 500. Only a body holding such an escape pays for the walk.
    """
    data = json.loads(raw, **kwargs)
    probe = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    # A lone surrogate needs a backslash escape: a body without a backslash (a base64 image's body,
    # say) is cleared by one memchr, 30x faster than the regex over 650 KB.
    if probe.find(b"\\") != -1 and _SURROGATE_ESCAPE.search(probe):
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.keys())
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str):
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise ValueError("JSON string holds a lone surrogate escape (not Unicode text)") from None
    return data


#: Bodies larger than this are parsed on a worker thread: a 19 MB base64 JSON body takes tens of
#: milliseconds to parse, during which an event-loop parse would stall every other connection.
OFFLOAD_JSON_BYTES = 64 * 1024


async def loads_off_loop(raw: bytes) -> Any:
    """:func:`strict_loads`, on a worker thread when ``raw`` is over :data:`OFFLOAD_JSON_BYTES`."""
    return await off_loop_if_large(raw, strict_loads)


async def image_bytes_off_loop(value: object, field: str) -> bytes:
    """:func:`image_bytes`, base64-decoding a large text on a worker thread."""
    if isinstance(value, str) and len(value) > OFFLOAD_JSON_BYTES:
        return await run_sync(image_bytes, value, field)
    return image_bytes(value, field)


def json_object(raw: bytes) -> dict[str, Any]:
    """Parse a JSON object body; empty, malformed, non-object or absurdly nested JSON is a 400."""
    if not raw:
        raise InvalidParameterError("request body is empty; send a JSON object")
    try:
        data = strict_loads(raw)
    except (ValueError, RecursionError) as exc:
        raise InvalidParameterError(f"request body is not valid JSON{_why(exc)}") from exc
    if not isinstance(data, dict):
        raise InvalidParameterError("request body must be a JSON object")
    return data


async def off_loop_if_large(raw: bytes, fn: Callable[..., T], *args: Any) -> T:
    """``fn(raw, *args)``, on a worker thread when ``raw`` is over :data:`OFFLOAD_JSON_BYTES`.

    For a route that parses, validates and base64-decodes a large body in one call: one thread hop
    instead of one per step (each hop is a wake-up of a pool thread and of the event loop).
    """
    return fn(raw, *args) if len(raw) <= OFFLOAD_JSON_BYTES else await run_sync(fn, raw, *args)


async def read_json(request: Request) -> dict[str, Any]:
    """:func:`json_object` of the request body (parsed on a worker thread when it is large)."""
    return await off_loop_if_large(await request.body(), json_object)


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
