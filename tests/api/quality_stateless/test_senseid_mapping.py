"""The SenseID mapping: each wire field from its documented source (no engine needed)."""

from __future__ import annotations

from visage.api.dialects.quality_stateless.mapping import face_to_wire
from visage.types import Box, Face, Pose

QUALITY = {
    "illumination": 191.25, "sharpness": 88.0, "integrity": 0.775, "size": 0.0123456,
    "distance2center": 0.91, "mouth_open": 0.8,
    "occlusion": {"left_eye": 0.9, "right_eye": 1.0, "nose": 0.95, "mouth": 0.4, "total": 0.85, "chin": 0.5},
}


def test_every_field_and_formula() -> None:
    face = Face(box=Box(10.4, 20.6, 100.0, 120.0), confidence=0.99, pose=Pose(-3.5, 9.25, 1.0), quality=QUALITY)
    wire = face_to_wire(face)
    assert list(wire) == ["rect", "pose", "occlusion", "distance2center", "size", "brightness", "sharpness",
                          "mouth_open", "integrity"]
    assert wire["rect"] == {"left": 10, "top": 21, "right": 110, "bottom": 141}
    assert wire["pose"] == {"yaw": -3.5, "pitch": 9.25, "roll": 1.0}
    assert wire["occlusion"] == {"left_eye": 0.9, "right_eye": 1.0, "nose": 0.95, "mouth": 0.4, "total": 0.85}
    assert wire["brightness"] == 0.5  # 191.25 / 127.5 - 1
    assert wire["sharpness"] == 0.88
    assert (wire["integrity"], wire["size"], wire["distance2center"], wire["mouth_open"]) == (0.775, 0.012346,
                                                                                             0.91, 0.8)


def test_absent_sources_are_omitted_not_invented() -> None:
    wire = face_to_wire(Face(box=Box(0, 0, 50, 60), confidence=0.9))
    assert wire == {"rect": {"left": 0, "top": 0, "right": 50, "bottom": 60}}
    partial = face_to_wire(Face(box=Box(0, 0, 50, 60), confidence=0.9, quality={"sharpness": 50.0,
                                                                                 "occlusion": {"nose": 1.0}}))
    assert partial == {"rect": {"left": 0, "top": 0, "right": 50, "bottom": 60}, "sharpness": 0.5}


def test_brightness_is_clamped_to_seed_range() -> None:
    assert face_to_wire(Face(box=Box(0, 0, 1, 1), confidence=1, quality={"illumination": 0.0}))["brightness"] == -1.0
    assert face_to_wire(Face(box=Box(0, 0, 1, 1), confidence=1, quality={"illumination": 255.0}))["brightness"] == 1.0
