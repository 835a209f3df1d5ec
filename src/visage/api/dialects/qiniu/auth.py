"""Qiniu's management token (管理凭证, "QiniuToken" v2) checked on every call when keys are configured.

``Authorization: Qiniu <AccessKey>:<EncodedSign>`` where ``EncodedSign`` is the URL-safe base64 of
HMAC-SHA1(SecretKey, signingStr) and, following developer.qiniu.com/kodo/1201/access-token and the
``QiniuMacAuth`` of Qiniu's SDKs::

    signingStr = <Method> " " <Path> ["?" <RawQuery>]
                 "\\nHost: " <Host>
                 ["\\nContent-Type: " <Content-Type>]            when the header is present
                 ["\\n" <X-Qiniu-Key> ": " <value> ...]          X-Qiniu-* headers, canonical keys, sorted
                 "\\n\\n"
                 [<body>]   when there is a body and a Content-Type other than application/octet-stream

Method, path, query, Host and Content-Type are taken exactly as this server received them (a proxy that
rewrites Host or the path breaks the signature: configure it to pass them through).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

from starlette.requests import Request

from visage.api.keys import WatchedFile
from visage.errors import UnauthorizedError


class QiniuKeys:
    """AK -> SK from ``VISAGE_QINIU_KEYS`` and ``VISAGE_QINIU_KEYS_FILE`` (re-read on change: rotate
    keys by rewriting the file, no restart)."""

    def __init__(self, inline: str | None = None, path: Path | None = None) -> None:
        self._inline = parse_keys(inline)
        self._file = WatchedFile(path, parse_keys, {}, "Qiniu keys file") if path is not None else None

    @property
    def required(self) -> bool:
        """Auth is on when any key source is configured (an empty or missing file closes, never opens)."""
        return bool(self._inline) or self._file is not None

    def current(self) -> dict[str, bytes]:
        """The keys in force now."""
        return {**self._inline, **self._file.value()} if self._file is not None else self._inline


def parse_keys(text: str | None) -> dict[str, bytes]:
    """``'AK1:SK1,AK2:SK2'`` -> ``{AK: SK bytes}``."""
    keys: dict[str, bytes] = {}
    for item in (text or "").replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        ak, sep, sk = item.partition(":")
        if not sep or not ak.strip() or not sk.strip():
            raise ValueError("VISAGE_QINIU_KEYS must be 'AK:SK' pairs separated by commas")
        keys[ak.strip()] = sk.strip().encode()
    return keys


def _canonical(key: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in key.split("-"))


def signing_string(method: str, path: str, query: str, host: str, content_type: str | None,
                   qiniu_headers: dict[str, str], body: bytes) -> bytes:
    data = f"{method} {path}"
    if query:
        data += f"?{query}"
    data += f"\nHost: {host}"
    if content_type:
        data += f"\nContent-Type: {content_type}"
    for key in sorted(qiniu_headers):
        data += f"\n{key}: {qiniu_headers[key]}"
    data += "\n\n"
    raw = data.encode()
    if body and content_type and content_type != "application/octet-stream":
        raw += body
    return raw


def sign(secret_key: bytes, data: bytes) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret_key, data, hashlib.sha1).digest()).decode()


def token(access_key: str, secret_key: bytes, data: bytes) -> str:
    """The ``Authorization`` value a Qiniu client sends (clients, docs and tests)."""
    return f"Qiniu {access_key}:{sign(secret_key, data)}"


def request_signing_string(request: Request, body: bytes) -> bytes:
    scope = request.scope
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
    query = scope.get("query_string", b"").decode("latin-1")
    qiniu = {_canonical(k): v for k, v in request.headers.items()
             if k.lower().startswith("x-qiniu-") and len(k) > len("x-qiniu-")}
    return signing_string(request.method, path, query, request.headers.get("host", ""),
                          request.headers.get("content-type"), qiniu, body)


def verify(request: Request, body: bytes, keys: QiniuKeys) -> str | None:
    """The AccessKey of a valid token (None when no keys are configured); UnauthorizedError otherwise."""
    if not keys.required:
        return None
    header = request.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme != "Qiniu" or not credential.strip():
        raise UnauthorizedError("missing 'Authorization: Qiniu <AccessKey>:<EncodedSign>'")
    access_key, sep, presented = credential.strip().partition(":")
    secret = keys.current().get(access_key)
    if not sep or not access_key or secret is None:
        raise UnauthorizedError("unknown AccessKey")
    expected = sign(secret, request_signing_string(request, body))
    if not hmac.compare_digest(expected.rstrip("=").encode(), presented.rstrip("=").encode()):
        raise UnauthorizedError("signature does not match the request (see docs/qiniu.md for the signing string)")
    return access_key
