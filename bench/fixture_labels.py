"""Identity labels for the single-face photos in ../shared/fixtures/faces (from its README).

``people/<identity>/*`` are labelled by folder; a few top-level portraits are labelled here by
name. Multi-face scenes are left out: which face is whom is not labelled.
"""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "faces"

_TOP_LEVEL = {
    "obama.jpg": "obama", "obama2.jpg": "obama", "obama3.jpg": "obama", "obama-240p.jpg": "obama",
    "obama-480p.jpg": "obama", "obama-720p.jpg": "obama", "obama-1080p.jpg": "obama",
    "obama_small.jpg": "obama", "biden.jpg": "biden", "alex-lacamoire.png": "alex_lacamoire",
    "lin-manuel-miranda.png": "lin_manuel_miranda",
}


def people_images(root: Path = FIXTURES) -> list[tuple[str, Path]]:
    """(identity, path) for every photo under people/ (the issue's labelled set)."""
    return [(p.parent.name, p) for p in sorted((root / "people").glob("*/*")) if p.is_file()]


def labelled_images(root: Path = FIXTURES) -> list[tuple[str, Path]]:
    """people/ plus the labelled top-level portraits, without duplicate files."""
    seen = {p.read_bytes() for _, p in people_images(root)}
    extra = [(who, root / name) for name, who in sorted(_TOP_LEVEL.items())
             if (root / name).is_file() and (root / name).read_bytes() not in seen]
    return people_images(root) + extra
