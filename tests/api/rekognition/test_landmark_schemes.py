"""Rekognition landmarks agree across landmark schemes: the Face Mesh (468) row of the mapping
puts every type where the dlib 68-point row puts it, on the same real faces."""

from __future__ import annotations

import numpy as np
import pytest

from visage.analysis.pipeline import PIPELINES, AnalyzeOptions
from visage.api.dialects.rekognition.mapping import LANDMARK_TYPES, landmarks_wire
from visage.config import Settings
from visage.imaging import load_image

pytestmark = pytest.mark.slow

PHOTOS = ["obama.jpg", "biden.jpg", "two_people.jpg", "people/rose_leslie/img1.jpg",
          "people/kit_harington/john1.jpeg", "lin-manuel-miranda.png"]


def test_mesh468_matches_dlib68(faces_dir, engine) -> None:
    try:
        fast = PIPELINES["fast"](Settings())
    except Exception as exc:  # the fast pipeline's models come from npm; without them, nothing to compare
        pytest.skip(f"fast pipeline unavailable: {exc}")
    errors: dict[str, list[float]] = {t: [] for t in LANDMARK_TYPES}
    for name in PHOTOS:
        image = load_image((faces_dir / name).read_bytes()).rgb
        h, w = image.shape[:2]
        mesh = fast.analyze(image, AnalyzeOptions(pose=False))
        dlib = engine.analyze(image, AnalyzeOptions(pose=False))
        assert mesh.faces and len(mesh.faces) == len(dlib.faces), name
        for face in mesh.faces:
            twin = min(dlib.faces, key=lambda f: np.hypot(*np.subtract(f.box.center, face.box.center)))
            a = {m["Type"]: np.array((m["X"] * w, m["Y"] * h)) for m in landmarks_wire(face.landmarks, w, h)}
            b = {m["Type"]: np.array((m["X"] * w, m["Y"] * h)) for m in landmarks_wire(twin.landmarks, w, h)}
            assert face.landmarks.scheme == "mesh468" and set(a) == set(b) == set(LANDMARK_TYPES)
            iod = np.linalg.norm(b["eyeLeft"] - b["eyeRight"])
            for t in LANDMARK_TYPES:
                errors[t].append(float(np.linalg.norm(a[t] - b[t]) / iod))
    means = {t: float(np.mean(v)) for t, v in errors.items()}
    assert max(means.values()) < 0.15, sorted(means.items(), key=lambda kv: -kv[1])[:5]
