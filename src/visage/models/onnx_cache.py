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


def _source_files(model_json_path: Path) -> list[Path]:
    model_json = json.loads(model_json_path.read_text())
    shards = [model_json_path.parent / p for g in model_json.get("weightsManifest", []) for p in g["paths"]]
    return [model_json_path, *shards]


def _stamped_source_sha256(model_json_path: Path) -> str:
    """:func:`source_sha256`, re-hashed only when a source file's size or mtime changed.

    Hashing every weight shard on every start was a fifth of model loading on a busy machine
    (tens of MB read and hashed per model); the stamp beside the source remembers the result.
    """
    files = _source_files(model_json_path)
    key = [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    stamp = model_json_path.with_name(model_json_path.name + ".source-sha256")
    try:
        saved = json.loads(stamp.read_text())
        if saved.get("files") == key and isinstance(saved.get("sha256"), str):
            return saved["sha256"]
    except (OSError, ValueError, AttributeError):
        pass
    sha = source_sha256(model_json_path)
    tmp = stamp.with_name(stamp.name + f".{os.getpid()}.part")
    try:
        tmp.write_text(json.dumps({"files": key, "sha256": sha}))
        os.replace(tmp, stamp)
    except OSError:  # a read-only cache still works, only slower
        tmp.unlink(missing_ok=True)
    return sha


def convert_cached(model_json_path: str | os.PathLike[str], batch: int | str | None = "N") -> Path:
    """Path of the ONNX conversion of ``model_json_path``, converting once per source sha256.

    The file sits next to the source: ``<stem>.<sha16>.v<converter>[.b<batch>].onnx``.
    """
    path = Path(model_json_path)
    sha = _stamped_source_sha256(path)
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
