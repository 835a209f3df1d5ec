"""Where a converted model lives, and converting only when it is not there yet.

Kept apart from the converters (:mod:`visage.models.tfjs2onnx`, :mod:`visage.models.tflite2onnx`,
:mod:`visage.models.dynamic_batch`) so that serving with cached conversions never imports ``onnx``
(and its ``ml_dtypes``/protobuf stack: 1.2 s of a 3 s cold start on an idle machine, seconds on a
busy one): a converter is imported only when a conversion has to run.

Every conversion is keyed by its source's sha256, and the sha256 is remembered in a stamp beside
the source (re-hashed only when a source file's size or mtime changes), so a start reads no
weights it does not load.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from visage.models.fetch import sha256_file

# Bumped when a converter's output changes (3: PRelu split for the NCHWc layout, graph_passes).
CONVERTER_VERSION = "3"          # tfjs2onnx
TFLITE_CONVERTER_VERSION = "3"   # tflite2onnx
BATCH_REWRITE_VERSION = "2"      # dynamic_batch
FACEAPI_CONVERTER_VERSION = "1"  # faceapi2onnx


def source_sha256(model_json_path: Path) -> str:
    """sha256 over a tfjs model.json and its weight shards (in manifest order)."""
    digest = hashlib.sha256()
    for path in _tfjs_files(model_json_path):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _tfjs_files(model_json_path: Path) -> list[Path]:
    model_json = json.loads(model_json_path.read_text())
    shards = [model_json_path.parent / p for g in model_json.get("weightsManifest", []) for p in g["paths"]]
    return [model_json_path, *shards]


def stamped_sha256(files: Sequence[Path], stamp: Path, compute: Callable[[], str]) -> str:
    """``compute()``, remembered in ``stamp`` until one of ``files`` changes size or mtime.

    Hashing every weight file on every start was a fifth of model loading on a busy machine; a
    read-only cache still works (it only hashes every time).
    """
    key = [[f.name, st.st_size, st.st_mtime_ns] for f in files for st in (f.stat(),)]
    try:
        saved = json.loads(stamp.read_text())
        if saved.get("files") == key and isinstance(saved.get("sha256"), str):
            return saved["sha256"]
    except (OSError, ValueError, AttributeError):
        pass
    sha = compute()
    tmp = stamp.with_name(stamp.name + f".{os.getpid()}.part")
    try:
        tmp.write_text(json.dumps({"files": key, "sha256": sha}))
        os.replace(tmp, stamp)
    except OSError:
        tmp.unlink(missing_ok=True)
    return sha


def _stamp_for(path: Path) -> Path:
    return path.with_name(path.name + ".source-sha256")


def _stamped_source_sha256(model_json_path: Path) -> str:
    return stamped_sha256(_tfjs_files(model_json_path), _stamp_for(model_json_path),
                          lambda: source_sha256(model_json_path))


def _stamped_file_sha256(path: Path) -> str:
    return stamped_sha256([path], _stamp_for(path), lambda: sha256_file(path))


def cached_conversion(target: Path, build: Callable[[], bytes], stale: str | None = None) -> Path:
    """``target`` if it exists, else ``build()``'s serialised model written there atomically.

    ``stale``: a regular expression over file names beside ``target`` naming the same source's
    conversions by another converter version or of another source hash; they are removed once the
    new one is written, so a cache does not keep a copy of every model per converter release.
    """
    if target.is_file():
        return target
    data = build()
    tmp = target.with_name(target.name + f".{os.getpid()}.part")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    if stale:
        pattern = re.compile(stale)
        for old in target.parent.iterdir():
            if old != target and pattern.fullmatch(old.name):
                old.unlink(missing_ok=True)
    return target


def _stale(stem: str, version: str, tag: str) -> str:
    """Names of ``stem``'s conversions by any version (regex ``version``) and source hash, with ``tag``."""
    return rf"{re.escape(stem)}\.[0-9a-f]{{16}}\.{version}{re.escape(tag)}\.onnx"


def _batch_tag(batch: int | str | None) -> str:
    return "" if batch is None else f".b{batch}"


def convert_cached(model_json_path: str | os.PathLike[str], batch: int | str | None = "N") -> Path:
    """Path of the ONNX conversion of a tfjs graph model, converting once per source sha256.

    The file sits next to the source: ``<stem>.<sha16>.v<converter>[.b<batch>].onnx``.
    """
    path = Path(model_json_path)
    sha = _stamped_source_sha256(path)
    tag = _batch_tag(batch)
    target = path.with_name(f"{path.stem}.{sha[:16]}.v{CONVERTER_VERSION}{tag}.onnx")

    def build() -> bytes:
        from visage.models.tfjs2onnx import convert

        return convert(path, batch=batch).model.SerializeToString()

    return cached_conversion(target, build, stale=_stale(path.stem, r"v\d+", tag))


def tflite_cached(path: str | os.PathLike[str], batch: int | str | None = "N") -> Path:
    """Path of the ONNX conversion of a ``.tflite`` file, converting once per source sha256.

    The file sits next to the source: ``<stem>.<sha16>.tflite-v<converter>[.b<batch>].onnx``.
    """
    src = Path(path)
    sha = _stamped_file_sha256(src)
    tag = _batch_tag(batch)
    target = src.with_name(f"{src.stem}.{sha[:16]}.tflite-v{TFLITE_CONVERTER_VERSION}{tag}.onnx")

    def build() -> bytes:
        from visage.models.tflite2onnx import convert

        return convert(src, batch=batch).SerializeToString()

    return cached_conversion(target, build, stale=_stale(src.stem, r"tflite-v\d+", tag))


def dynamic_batch_cached(path: str | os.PathLike[str]) -> Path:
    """Path of an ONNX model rewritten to a dynamic batch (:mod:`visage.models.dynamic_batch`)."""
    src = Path(path)
    sha = _stamped_file_sha256(src)
    target = src.with_name(f"{src.stem}.{sha[:16]}.dyn{BATCH_REWRITE_VERSION}.bN.onnx")

    def build() -> bytes:
        from visage.models.dynamic_batch import rewrite_file

        return rewrite_file(src)

    return cached_conversion(target, build, stale=_stale(src.stem, r"dyn\d+", ".bN"))


def _faceapi_files(manifest_path: Path) -> list[Path]:
    manifest = json.loads(manifest_path.read_text())
    return [manifest_path, *(manifest_path.parent / p for g in manifest for p in g["paths"])]


def faceapi_cached(manifest_path: str | os.PathLike[str]) -> Path:
    """Path of the ONNX rebuild of a face-api layer-weights network (:mod:`visage.models.faceapi2onnx`).

    The file sits next to the manifest: ``<stem>.<sha16>.faceapi-v<converter>.bN.onnx``.
    """
    src = Path(manifest_path)
    files = _faceapi_files(src)

    def digest() -> str:
        h = hashlib.sha256()
        for f in files:
            h.update(f.read_bytes())
        return h.hexdigest()

    sha = stamped_sha256(files, _stamp_for(src), digest)
    stem = src.name.removesuffix("-weights_manifest.json")
    target = src.with_name(f"{stem}.{sha[:16]}.faceapi-v{FACEAPI_CONVERTER_VERSION}.bN.onnx")

    def build() -> bytes:
        from visage.models.faceapi2onnx import build as build_faceapi

        return build_faceapi(src).SerializeToString()

    return cached_conversion(target, build, stale=_stale(stem, r"faceapi-v\d+", ".bN"))
