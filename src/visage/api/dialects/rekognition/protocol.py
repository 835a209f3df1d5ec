"""The wire protocol: AWS JSON 1.1 and Rekognition's own service model (from botocore).

Requests are validated member by member against botocore's ``rekognition`` service model, the
same document every AWS SDK is generated from: unknown members, missing required members, wrong
types, lengths, ranges, enums and patterns are refused with ``InvalidParameterException`` naming
the member, as Rekognition does ("1 validation error detected: Value ... at 'x' failed to satisfy
constraint: ..."). Blobs arrive as base64 text and leave this module as bytes.
"""

from __future__ import annotations

import binascii
import math
import re
from functools import lru_cache
from typing import Any

import pybase64

from visage.api.dialects.rekognition.errors import RekognitionError, invalid_parameter

TARGET_PREFIX = "RekognitionService."
SERVICE_NAME = "rekognition"
API_VERSION = "2016-06-27"


@lru_cache(maxsize=1)
def service_model() -> dict[str, Any]:
    """botocore's service-2 document for Rekognition (the installed botocore's version)."""
    from botocore.loaders import Loader

    return Loader().load_service_model(SERVICE_NAME, "service-2", API_VERSION)


def shapes() -> dict[str, Any]:
    return service_model()["shapes"]


def input_shape(operation: str) -> str:
    return service_model()["operations"][operation]["input"]["shape"]


def output_shape(operation: str) -> str:
    return service_model()["operations"][operation]["output"]["shape"]


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str] | None:
    """The model's (Java) regex in Python; ``None`` for the few Python cannot express (\\p{L})."""
    try:
        return re.compile(pattern)
    except re.error:
        return None


class _Errors:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, value: object, path: str, constraint: str) -> None:
        shown = "null" if value is None else _short(value)
        self.items.append(f"Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}")


def _short(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def validate_request(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """Validate ``body`` against the operation's input shape; return it with blobs decoded.

    Raises ``InvalidParameterException`` listing every violation (as AWS does), never a 500.
    """
    errors = _Errors()
    value = _check(input_shape(operation), body, "", errors)
    if errors.items:
        count = len(errors.items)
        head = f"{count} validation error{'s' if count > 1 else ''} detected: "
        raise invalid_parameter(head + "; ".join(errors.items))
    return value


def _check(shape_name: str, value: Any, path: str, errors: _Errors) -> Any:
    shape = shapes()[shape_name]
    kind = shape["type"]
    if kind == "structure":
        return _check_structure(shape, value, path, errors)
    if kind == "list":
        if not isinstance(value, list):
            errors.add(value, path, "Member must be a list")
            return value
        _check_length(shape, len(value), value, path, errors, "length")
        return [_check(shape["member"]["shape"], v, f"{path}.{i + 1}.member" if path else f"{i + 1}", errors)
                for i, v in enumerate(value)]
    if kind == "map":
        if not isinstance(value, dict):
            errors.add(value, path, "Member must be a map")
            return value
        _check_length(shape, len(value), value, path, errors, "length")
        out = {}
        for k, v in value.items():
            _check(shape["key"]["shape"], k, f"{path}.key", errors)
            out[k] = _check(shape["value"]["shape"], v, f"{path}.{k}", errors)
        return out
    if kind == "string":
        if not isinstance(value, str):
            errors.add(value, path, "Member must be a string")
            return value
        _check_length(shape, len(value), value, path, errors, "length")
        if "enum" in shape and value not in shape["enum"]:
            errors.add(value, path, f"Member must satisfy enum value set: [{', '.join(shape['enum'])}]")
        pattern = _pattern(shape["pattern"]) if "pattern" in shape else None
        if pattern is not None and not pattern.fullmatch(value):
            errors.add(value, path, f"Member must satisfy regular expression pattern: {shape['pattern']}")
        return value
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            errors.add(value, path, "Member must be an integer")
            return value
        _check_range(shape, value, path, errors)
        return value
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            errors.add(value, path, "Member must be a number")
            return value
        _check_range(shape, value, path, errors)
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            errors.add(value, path, "Member must be a boolean")
        return value
    if kind == "blob":
        if not isinstance(value, str):
            errors.add(None if value is None else "<blob>", path, "Member must be base64-encoded bytes")
            return value
        try:
            raw = pybase64.b64decode(value, validate=True)  # SIMD: 60x the stdlib's speed
        except (binascii.Error, ValueError):
            errors.add("<blob>", path, "Member must be base64-encoded bytes")
            return value
        if "min" in shape and len(raw) < shape["min"]:
            errors.add("<blob>", path, f"Member must have length greater than or equal to {shape['min']}")
        if "max" in shape and len(raw) > shape["max"]:
            # Rekognition names this condition itself: the image is over its 5 MB limit.
            raise RekognitionError(
                "ImageTooLargeException",
                f"Image size is too large: {len(raw)} bytes at '{path}', the limit is {shape['max']} bytes",
            )
        return raw
    if kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            errors.add(value, path, "Member must be a timestamp")
        return value
    return value


def _check_structure(shape: dict[str, Any], value: Any, path: str, errors: _Errors) -> Any:
    if not isinstance(value, dict):
        errors.add(value, path or "body", "Member must be a structure (JSON object)")
        return value
    members = shape["members"]
    out: dict[str, Any] = {}
    for key, item in value.items():
        where = f"{path}.{_lower_first(key)}" if path else _lower_first(key)
        if key not in members:
            errors.items.append(f"Unknown parameter '{key}' at '{where}'; known: {', '.join(members)}")
            continue
        if item is None:  # JSON null: the member is absent (AWS SDKs never send null)
            continue
        out[key] = _check(members[key]["shape"], item, where, errors)
    for key in shape.get("required", []):
        if key not in out:
            where = f"{path}.{_lower_first(key)}" if path else _lower_first(key)
            errors.add(None, where, "Member must not be null")
    return out


def _check_length(shape: dict[str, Any], length: int, value: object, path: str, errors: _Errors, what: str) -> None:
    if "min" in shape and length < shape["min"]:
        errors.add(value, path, f"Member must have {what} greater than or equal to {shape['min']}")
    if "max" in shape and length > shape["max"]:
        errors.add(value, path, f"Member must have {what} less than or equal to {shape['max']}")


def _check_range(shape: dict[str, Any], value: float, path: str, errors: _Errors) -> None:
    if "min" in shape and value < shape["min"]:
        errors.add(value, path, f"Member must have value greater than or equal to {shape['min']}")
    if "max" in shape and value > shape["max"]:
        errors.add(value, path, f"Member must have value less than or equal to {shape['max']}")
