"""Where a converted model lives, and converting only when it is not there yet.

Kept apart from :mod:`visage.models.tfjs2onnx` so that serving with cached conversions never
imports ``onnx`` (and its ``ml_dtypes``/protobuf stack, seconds of start-up on a busy machine):
the converter is imported only when a conversion has to run.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CONVERTER_VERSION = "2"


def source_sha256(model_json_path: Path) -> str:
    """sha256 over the model.json and its weight shards (in manifest order)."""
    digest = hashlib.sha256()
    digest.update(model_json_path.read_bytes())
    model_json = json.loads(model_json_path.read_text())
    for group in model_json.get("weightsManifest", []):
        for p in group["paths"]:
            digest.update((model_json_path.parent / p).read_bytes())
    return digest.hexdigest()


def convert_cached(model_json_path: str | os.PathLike[str], batch: int | str | None = "N") -> Path:
    """Path of the ONNX conversion of ``model_json_path``, converting once per source sha256.

    The file sits next to the source: ``<stem>.<sha16>.v<converter>[.b<batch>].onnx``.
    """
    path = Path(model_json_path)
    sha = source_sha256(path)
    tag = "" if batch is None else f".b{batch}"
    target = path.with_name(f"{path.stem}.{sha[:16]}.v{CONVERTER_VERSION}{tag}.onnx")
    if target.is_file():
        return target
    from visage.models.tfjs2onnx import convert

    converted = convert(path, batch=batch)
    tmp = target.with_name(target.name + f".{os.getpid()}.part")
    tmp.write_bytes(converted.model.SerializeToString())
    os.replace(tmp, target)
    return target
