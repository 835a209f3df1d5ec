"""AWS Signature Version 4, verified on the server against locally configured access keys.

What a Rekognition client sends (botocore's ``SigV4Auth``)::

    Authorization: AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/rekognition/aws4_request,
                   SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=<hex>
    X-Amz-Date: 20240101T120000Z

The server rebuilds the canonical request from what it received (method, path, query, the signed
headers, the SHA-256 of the body), derives the signing key from the secret it holds for ``AKID``
and compares signatures in constant time. Failures use AWS's own error names and messages:
``MissingAuthenticationTokenException``, ``IncompleteSignatureException``,
``UnrecognizedClientException`` (unknown key), ``InvalidSignatureException`` (wrong signature,
wrong service scope, a date more than 5 minutes off).

Keys come from ``VISAGE_AWS_KEYS`` (``AKID:SECRET,...``) and/or ``VISAGE_AWS_KEYS_FILE`` (one
``AKID SECRET`` or ``AKID:SECRET`` per line, ``#`` comments); the file is re-read when its
modification time changes, so keys rotate without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from visage.api.dialects.rekognition.errors import RekognitionError
from visage.api.keys import WatchedFile

log = logging.getLogger("visage.rekognition.auth")

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "rekognition"
#: AWS refuses a request whose signing time is more than 5 minutes from its clock.
MAX_SKEW = timedelta(minutes=5)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_KEY_ID = re.compile(r"^[A-Za-z0-9_.\-+=/]{1,128}$")


def parse_keys(text: str | None) -> dict[str, str]:
    """``'AKID:SECRET,AKID2:SECRET2'`` (or one pair per line, ``:`` or whitespace separated)."""
    keys: dict[str, str] = {}
    for raw in re.split(r"[,\n]", text or ""):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if ":" in line:
            akid, _, secret = line.partition(":")
        else:
            parts = line.split()
            akid, secret = (parts[0], parts[1]) if len(parts) == 2 else (line, "")
        akid, secret = akid.strip(), secret.strip()
        if not _KEY_ID.match(akid) or not secret:
            log.warning("ignoring a malformed AWS key entry (expected 'AKID:SECRET' or 'AKID SECRET')")
            continue
        keys[akid] = secret
    return keys


class KeyRing:
    """Access key id -> secret, from a setting and an optional file re-read on change."""

    def __init__(self, inline: str | None = None, path: str | Path | None = None) -> None:
        self._inline = parse_keys(inline)
        self._file = WatchedFile(Path(path), parse_keys, {}, "AWS keys file", recheck_s=0.0) if path else None

    def _file_keys(self) -> dict[str, str]:
        return self._file.value() if self._file is not None else {}

    def secret(self, access_key: str) -> str | None:
        return self._file_keys().get(access_key) or self._inline.get(access_key)

    def empty(self) -> bool:
        return not self._inline and not self._file_keys()


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the verifier needs from an HTTP request (names lower-case, raw bytes where AWS signs them)."""

    method: str
    raw_path: str
    query_string: str
    headers: list[tuple[str, str]]
    body: bytes


def _incomplete(message: str) -> RekognitionError:
    return RekognitionError("IncompleteSignatureException", message)


def _invalid(message: str) -> RekognitionError:
    return RekognitionError("InvalidSignatureException", message)


def _parse_authorization(value: str) -> tuple[str, list[str], str]:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': {algorithm!r}; visage verifies {ALGORITHM} only")
    params: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, val = part.strip().partition("=")
        if sep:
            params[name.strip()] = val.strip()
    missing = [p for p in ("Credential", "SignedHeaders", "Signature") if p not in params]
    if missing:
        raise _incomplete(
            f"Authorization header requires '{missing[0]}' parameter. Authorization header requires "
            "'Credential', 'SignedHeaders' and 'Signature' parameters."
        )
    signed = params["SignedHeaders"].split(";")
    return params["Credential"], signed, params["Signature"]


def _header_map(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name.lower(), []).append(value)
    return out


def _request_time(headers: dict[str, list[str]]) -> tuple[datetime, str]:
    if "x-amz-date" in headers:
        text = headers["x-amz-date"][0].strip()
        try:
            return datetime.strptime(text, _AMZ_DATE).replace(tzinfo=UTC), text
        except ValueError:
            raise _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{text}'.") from None
    if "date" in headers:
        try:
            when = parsedate_to_datetime(headers["date"][0]).astimezone(UTC)
        except (TypeError, ValueError):
            raise _incomplete("Date header is not an RFC 1123 date") from None
        return when, when.strftime(_AMZ_DATE)
    raise _incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")


def canonical_request(req: SignedRequest, signed_headers: list[str], payload_hash: str) -> str:
    """The SigV4 canonical request exactly as botocore builds it for a JSON service."""
    from botocore.utils import normalize_url_path

    path = quote(normalize_url_path(req.raw_path or "/"), safe="/~")
    pairs = sorted(tuple(p.partition("=")[::2]) for p in req.query_string.split("&") if p)
    query = "&".join(f"{k}={v}" for k, v in pairs)
    headers = _header_map(req.headers)
    lines = []
    for name in signed_headers:
        values = headers.get(name)
        if values is None:
            raise _invalid(f"The request signature covers header '{name}', which the request does not carry.")
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}")
    return "\n".join([req.method.upper(), path, query, "\n".join(lines) + "\n", ";".join(signed_headers),
                      payload_hash])


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signature(secret: str, date: str, region: str, service: str, string_to_sign: str) -> str:
    key = _hmac(("AWS4" + secret).encode("utf-8"), date)
    key = _hmac(_hmac(_hmac(key, region), service), "aws4_request")
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Identity:
    """Who signed a verified request, and for which region."""

    access_key: str
    region: str


def verify(req: SignedRequest, keys: KeyRing, now: datetime | None = None) -> Identity:
    """Check the request's SigV4 signature; return the signer, or raise AWS's error."""
    headers = _header_map(req.headers)
    authorization = headers.get("authorization", [None])[0]
    if not authorization:
        raise RekognitionError(
            "MissingAuthenticationTokenException",
            "Missing Authentication Token: sign the request with AWS Signature Version 4",
        )
    credential, signed_headers, given = _parse_authorization(authorization)
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise _incomplete(
            f"Credential should be of the form 'AKID/YYYYMMDD/region/service/aws4_request'; got '{credential}'."
        )
    access_key, date, region, service, _ = parts
    if "host" not in signed_headers:
        raise _invalid("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
    # The operation travels in X-Amz-Target: unsigned, a captured request could be replayed as another
    # operation (AWS's JSON services refuse it the same way; SDKs always sign it).
    if "x-amz-target" in headers and "x-amz-target" not in signed_headers:
        raise _invalid("'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization.")
    when, amz_date = _request_time(headers)
    if service != SERVICE:
        raise _invalid(f"Credential should be scoped to correct service: '{SERVICE}'.")
    if date != amz_date[:8]:
        raise _invalid(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    secret = keys.secret(access_key)
    if secret is None:
        raise RekognitionError("UnrecognizedClientException", "The security token included in the request is invalid.")
    now = now or datetime.now(UTC)
    if when < now - MAX_SKEW:
        raise _invalid(
            f"Signature expired: {amz_date} is now earlier than {(now - MAX_SKEW).strftime(_AMZ_DATE)} "
            f"({now.strftime(_AMZ_DATE)} - 5 min.)"
        )
    if when > now + MAX_SKEW:
        raise _invalid(
            f"Signature not yet current: {amz_date} is still later than {(now + MAX_SKEW).strftime(_AMZ_DATE)} "
            f"({now.strftime(_AMZ_DATE)} + 5 min.)"
        )
    body_hash = hashlib.sha256(req.body).hexdigest()
    declared = headers.get("x-amz-content-sha256", [None])[0]
    if declared is not None and declared.strip() != body_hash:
        raise _invalid("The provided 'x-amz-content-sha256' header does not match what was computed.")
    creq = canonical_request(req, signed_headers, body_hash)
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(creq.encode("utf-8")).hexdigest()])
    expected = signature(secret, date, region, service, to_sign)
    if not hmac.compare_digest(expected, given.strip().lower()):
        raise _invalid(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
        )
    return Identity(access_key, region)
