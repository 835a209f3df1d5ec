"""3DiVi Image API wire forms: the *sample* (a JSON object passed from block to block), v1 and v2.

v1 (``$image``): image as a base64 string, fitter keypoints as a flat ``[x, y, 0, ...]`` pixel array
with ``left_eye``/``right_eye``, head angles under ``angles``, templates as ``$template`` (base64) plus
``template_size``. v2 (``_image``): image as ``{"blob", "format": "IMAGE"}`` (or a raw ``NDARRAY``),
named keypoints ``{"<name>": {"proj": [x, y]}}`` normalised to the image, ``pose``, and templates as
``{"<key>": {"blob", "format": "NDARRAY", "dtype": "uint8", "shape": [n]}}``. Boxes are
``[x1, y1, x2, y2]`` normalised to the image in both.

Everything here is syntax: which version a sample speaks, which keys it may carry (unknown keys are
an error, not silently dropped), and the template blob codec. Meaning is in :mod:`.mapping`.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pybase64

from visage.errors import InvalidBase64Error, InvalidParameterError
from visage.types import Template

Version = Literal["v1", "v2"]

# Keys a sample may carry at the top level, and on each object, in either version: every field any
# block of seed 003 reads or writes (a sample flows from block to block), plus visage's search-matcher
# parameters and results. Anything else is refused with its name.
TOP_LEVEL_KEYS = frozenset({"$image", "_image", "objects", "verification", "collection_id", "knn", "threshold"})
OBJECT_KEYS_COMMON = frozenset({
    "id", "class", "confidence", "bbox", "liveness", "gender", "age", "emotions", "quality", "search_result",
})
OBJECT_KEYS_V1 = frozenset({"fitter", "angles", "$template", "template_size", "mask"})
OBJECT_KEYS_V2 = frozenset({"keypoints", "pose", "template", "has_medical_mask"})
MAX_OBJECTS = 256

_B64_CHARS = re.compile(r"^[A-Za-z0-9+/=\s]*$")


def b64decode(text: object, what: str) -> bytes:
    """Strict base64 (standard alphabet, whitespace ignored); the seed's error text when it is not."""
    if not isinstance(text, str):
        raise InvalidParameterError(f"{what} must be a base64 string")
    if not _B64_CHARS.match(text):
        raise InvalidBase64Error(f"{what}: Failed to decode base64 string")
    compact = "".join(text.split())
    try:
        return pybase64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidBase64Error(f"{what}: Failed to decode base64 string") from None


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class WireImage:
    """The sample's image: encoded bytes (``IMAGE``) or raw pixels (``NDARRAY``, H x W x 3 uint8)."""

    encoded: bytes | None = None
    pixels: np.ndarray | None = None


def parse_version(sample: dict[str, Any], default: Version) -> Version:
    """v1 or v2 from the sample's own keys; mixing the two is an error, neither means ``default``."""
    has_v1_image, has_v2_image = "$image" in sample, "_image" in sample
    if has_v1_image and has_v2_image:
        raise InvalidParameterError("a sample carries either '$image' (v1) or '_image' (v2), not both")
    found: set[str] = set()
    if has_v1_image:
        found.add("v1")
    if has_v2_image:
        found.add("v2")
    objects = sample.get("objects")
    for obj in objects if isinstance(objects, list) else []:  # a non-list is refused by check_sample
        if isinstance(obj, dict):
            if obj.keys() & OBJECT_KEYS_V1:
                found.add("v1")
            if obj.keys() & OBJECT_KEYS_V2:
                found.add("v2")
    if len(found) > 1:
        raise InvalidParameterError("the sample mixes v1 fields ($image, fitter, angles, $template, mask) with "
                                    "v2 fields (_image, keypoints, pose, template, has_medical_mask)")
    return found.pop() if found else default  # type: ignore[return-value]


def check_sample(sample: dict[str, Any], version: Version) -> list[dict[str, Any]]:
    """Validate the sample's shape; return its objects (a list of dicts, possibly empty)."""
    unknown = sorted(set(sample) - TOP_LEVEL_KEYS)
    if unknown:
        raise InvalidParameterError(f"unknown field(s) in the sample: {', '.join(unknown)}")
    objects = sample.get("objects", [])
    if objects is None:
        objects = []
    if not isinstance(objects, list):
        raise InvalidParameterError("'objects' must be an array")
    if len(objects) > MAX_OBJECTS:
        raise InvalidParameterError(f"'objects' has {len(objects)} entries; at most {MAX_OBJECTS}")
    allowed = OBJECT_KEYS_COMMON | (OBJECT_KEYS_V1 if version == "v1" else OBJECT_KEYS_V2)
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict):
            raise InvalidParameterError(f"objects[{i}] must be an object")
        unknown = sorted(set(obj) - allowed)
        if unknown:
            raise InvalidParameterError(f"unknown field(s) in objects[{i}] for {version}: {', '.join(unknown)}")
        if "bbox" in obj:
            parse_bbox(obj["bbox"], f"objects[{i}].bbox")
        if "class" in obj and not isinstance(obj["class"], str):
            raise InvalidParameterError(f"objects[{i}].class must be a string")
    return objects


def parse_bbox(value: object, where: str) -> tuple[float, float, float, float]:
    """``[x1, y1, x2, y2]``, normalised, finite, x1 < x2 and y1 < y2."""
    if not isinstance(value, list) or len(value) != 4 or not all(_is_number(v) for v in value):
        raise InvalidParameterError(f"{where} must be [x1, y1, x2, y2] (numbers normalised to the image)")
    x1, y1, x2, y2 = (float(v) for v in value)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)) or x2 <= x1 or y2 <= y1:
        raise InvalidParameterError(f"{where} must be finite with x1 < x2 and y1 < y2")
    return x1, y1, x2, y2


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def parse_image(sample: dict[str, Any], version: Version) -> WireImage | None:
    """The sample's image, or None when it has none."""
    if version == "v1":
        if "$image" not in sample:
            return None
        return WireImage(encoded=b64decode(sample["$image"], "$image"))
    if "_image" not in sample:
        return None
    img = sample["_image"]
    if not isinstance(img, dict):
        raise InvalidParameterError("'_image' must be an object {\"blob\": ..., \"format\": \"IMAGE\"}")
    unknown = sorted(set(img) - {"blob", "format", "dtype", "shape"})
    if unknown:
        raise InvalidParameterError(f"unknown field(s) in _image: {', '.join(unknown)}")
    fmt = img.get("format", "IMAGE")
    blob = b64decode(img.get("blob"), "_image.blob")
    if fmt == "IMAGE":
        return WireImage(encoded=blob)
    if fmt == "NDARRAY":
        shape, dtype = img.get("shape"), img.get("dtype", "uint8")
        if dtype != "uint8" or not isinstance(shape, list) or len(shape) != 3 or shape[2] != 3 \
                or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
            raise InvalidParameterError("an NDARRAY _image must be dtype uint8 with shape [height, width, 3] (RGB)")
        if len(blob) != shape[0] * shape[1] * 3:
            raise InvalidParameterError(f"_image.blob has {len(blob)} bytes; shape {shape} needs "
                                        f"{shape[0] * shape[1] * 3}")
        return WireImage(pixels=np.frombuffer(blob, np.uint8).reshape(shape))
    raise InvalidParameterError("_image.format must be 'IMAGE' (encoded file) or 'NDARRAY' (raw RGB uint8)")


# --------------------------------------------------------------------------- templates
# The blob is opaque to clients (3DiVi's is a uint8 array too). visage's is self-describing, so a
# template can never be compared with one of another embedding model:
#   b"VSGT" | u8 format version (1) | u8 model-name length n | model name (ASCII) | zero padding to a
#   multiple of 4 | the unit vector as little-endian float32.
_MAGIC = b"VSGT"
_BLOB_VERSION = 1


def encode_template(template: Template) -> bytes:
    name = template.model.encode("ascii")
    if len(name) > 255:
        raise InvalidParameterError("embedding model name too long for a template blob")
    head = _MAGIC + struct.pack("<BB", _BLOB_VERSION, len(name)) + name
    head += b"\0" * (-len(head) % 4)
    return head + template.vector.astype("<f4").tobytes()


def decode_template(blob: bytes, where: str) -> Template:
    if len(blob) < 6 or blob[:4] != _MAGIC:
        raise InvalidParameterError(f"{where} is not a visage template (make it with a template-extractor block "
                                    "of this server)")
    version, n = struct.unpack_from("<BB", blob, 4)
    if version != _BLOB_VERSION:
        raise InvalidParameterError(f"{where}: unknown template blob version {version}")
    start = 6 + n
    start += -start % 4
    body = blob[start:]
    if len(blob) < 6 + n or not body or len(body) % 4:
        raise InvalidParameterError(f"{where}: truncated template blob")
    try:
        model = blob[6:6 + n].decode("ascii")
    except UnicodeDecodeError:
        raise InvalidParameterError(f"{where}: corrupt template blob") from None
    vector = np.frombuffer(body, dtype="<f4")
    if not np.all(np.isfinite(vector)):
        raise InvalidParameterError(f"{where}: template values must be finite")
    return Template.from_vector(model, vector)


def template_size(blob: bytes) -> int:
    """v1 ``template_size``: the blob length in 4-byte words (the seed's 296-byte blob has size 74)."""
    return len(blob) // 4


def template_v1(template: Template) -> dict[str, Any]:
    blob = encode_template(template)
    return {"$template": b64encode(blob), "template_size": template_size(blob)}


def template_v2(template: Template, key: str) -> dict[str, Any]:
    blob = encode_template(template)
    return {"template": {key: {"blob": b64encode(blob), "format": "NDARRAY", "dtype": "uint8",
                               "shape": [len(blob)]}}}


def parse_template(obj: dict[str, Any], version: Version, where: str) -> Template | None:
    """The object's template in either form, or None when it carries none."""
    if version == "v1":
        if "$template" not in obj:
            return None
        blob = b64decode(obj["$template"], f"{where}.$template")
        size = obj.get("template_size")
        if size is not None and size != template_size(blob):
            raise InvalidParameterError(f"{where}.template_size is {size} but the template has "
                                        f"{template_size(blob)} 4-byte words")
        return decode_template(blob, f"{where}.$template")
    if "template" not in obj:
        return None
    holder = obj["template"]
    if not isinstance(holder, dict) or len(holder) != 1:
        raise InvalidParameterError(f"{where}.template must hold exactly one extractor entry "
                                    "{\"<name>\": {\"blob\", \"format\", \"dtype\", \"shape\"}}")
    (name, entry), = holder.items()
    if not isinstance(entry, dict):
        raise InvalidParameterError(f"{where}.template.{name} must be an object")
    unknown = sorted(set(entry) - {"blob", "format", "dtype", "shape"})
    if unknown:
        raise InvalidParameterError(f"unknown field(s) in {where}.template.{name}: {', '.join(unknown)}")
    if entry.get("format", "NDARRAY") != "NDARRAY" or entry.get("dtype", "uint8") != "uint8":
        raise InvalidParameterError(f"{where}.template.{name} must be format NDARRAY, dtype uint8")
    blob = b64decode(entry.get("blob"), f"{where}.template.{name}.blob")
    shape = entry.get("shape")
    if shape is not None and shape != [len(blob)]:
        raise InvalidParameterError(f"{where}.template.{name}.shape is {shape} but the blob has {len(blob)} bytes")
    return decode_template(blob, f"{where}.template.{name}")
