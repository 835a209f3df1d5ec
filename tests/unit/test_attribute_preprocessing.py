"""Preprocessing of the attribute models and methods (no models): crops, channel order, value shapes."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from visage.analysis.attributes import aligned_face, beard, eyes, glasses
from visage.analysis.liveness import CROP, SIZE, crop_box, liveness_inputs

MESH = np.load(Path(__file__).parent / "data" / "mesh468_frontal.npy").astype(np.float32)


def _rotate(points: np.ndarray, degrees: float, centre: np.ndarray) -> np.ndarray:
    a = math.radians(degrees)
    r = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    out = points.copy()
    out[:, :2] = (points[:, :2] - centre) @ r.T + centre
    return out


def test_eye_roi_follows_the_lid_points_and_the_eye_line() -> None:
    for idx in eyes.MESH_EYES:
        pts = MESH[list(idx), :2]
        roi = eyes.eye_roi(pts)
        assert np.allclose([roi.cx, roi.cy], pts[[1, 2, 4, 5]].mean(0), atol=1e-4)
        assert roi.side == pytest.approx(eyes.EYE_PAD * float(np.linalg.norm(pts[3] - pts[0])), rel=1e-5)
    centre = MESH[:, :2].mean(0)
    tilted = _rotate(MESH, 20.0, centre)
    level = eyes.eye_roi(MESH[list(eyes.MESH_EYES[0]), :2]).angle
    assert eyes.eye_roi(tilted[list(eyes.MESH_EYES[0]), :2]).angle - level == pytest.approx(math.radians(20), abs=1e-4)


def test_eye_inputs_are_grey_unit_crops_two_per_face() -> None:
    image = np.full((480, 640, 3), 200, np.uint8)
    x = eyes.eye_inputs(image, [MESH, MESH + 3])
    assert x.shape == (4, 1, 24, 24) and x.dtype == np.float32
    assert np.allclose(x, 200 / 255, atol=1 / 255)


def test_eyes_open_value_shape_and_probability_side() -> None:
    v = eyes.eyes_open_value(0.9, 0.8)
    assert set(v) == {"value", "probability", "left", "right"} and v["value"] is True
    assert v["left"] == 0.9 and v["right"] == 0.8 and 0.5 <= v["probability"] <= 1.0
    closed = eyes.eyes_open_value(0.01, 0.05)
    assert closed["value"] is False and closed["probability"] > 0.9
    t = eyes.EYES_OPEN_THRESHOLD
    assert eyes.rescale_at(t, t) == pytest.approx(0.5)
    grid = [eyes.rescale_at(s, t) for s in np.linspace(0, 1, 21)]
    assert grid == sorted(grid) and grid[0] == 0.0 and grid[-1] == 1.0


def test_liveness_input_is_bgr_0_255_nchw() -> None:
    image = np.zeros((480, 640, 3), np.uint8)
    image[..., 0] = 250  # pure red in RGB
    x = liveness_inputs(image, [MESH])
    assert x.shape == (1, 3, SIZE, SIZE) and x.dtype == np.float32
    centre = x[0, :, SIZE // 2, SIZE // 2]
    assert centre[2] == 250 and centre[0] == 0  # red lands in the last (BGR) channel
    assert CROP > 1.0


def test_liveness_crop_is_shifted_inside_the_photo_never_padded() -> None:
    # A face near the top-left corner: the reference crop keeps its size and moves inside the photo,
    # so no black border (which the model reads as a screen edge) enters it.
    mesh = MESH.copy()
    lo = mesh[:, :2].min(0)
    mesh[:, :2] -= lo - 5.0
    side = float(np.ptp(mesh[:, :2], axis=0).max())
    image = np.full((int(6 * side), int(6 * side), 3), 90, np.uint8)
    x0, y0, x1, y1 = crop_box(image.shape, mesh)
    assert x0 == 0 and y0 == 0 and x1 - x0 == pytest.approx(CROP * side, abs=2) and y1 - y0 == x1 - x0
    assert liveness_inputs(image, [mesh]).min() == 90
    # A face larger than the photo allows: the scale is capped to the photo, still no padding.
    small = np.full((int(1.2 * side), int(1.5 * side), 3), 90, np.uint8)
    x0, y0, x1, y1 = crop_box(small.shape, mesh)
    assert min(x0, y0) >= 0 and x1 <= small.shape[1] - 1 and y1 <= small.shape[0] - 1
    assert liveness_inputs(small, [mesh]).min() == 90


def test_aligned_face_puts_the_eyes_at_fixed_points_whatever_the_tilt() -> None:
    image = np.random.default_rng(0).integers(0, 255, (480, 640, 3), np.uint8)
    centre = MESH[:, :2].mean(0)
    for deg in (0.0, 25.0, -40.0):
        face = aligned_face.align_face(image, _rotate(MESH, deg, centre))
        p = face.points
        left, right = p[[33, 133]].mean(0), p[[362, 263]].mean(0)
        assert np.allclose(left, [38, 48], atol=1e-3) and np.allclose(right, [74, 48], atol=1e-3)
        assert face.grey.shape == (aligned_face.SIZE, aligned_face.SIZE)


def test_glasses_and_beard_value_shapes() -> None:
    none = glasses.glasses_value(0.2 * glasses.LINE_THRESHOLD, 0.0)
    assert set(none) == {"value", "probability", "score"} and none["value"] == "none"
    common = glasses.glasses_value(1.5 * glasses.LINE_THRESHOLD, 0.1)
    assert common["value"] == "common" and 0.5 <= common["probability"] <= 1.0
    assert glasses.glasses_value(0.0, 0.9)["value"] == "sun"
    b = beard.beard_value(beard.BEARD_THRESHOLD + 0.2)
    assert set(b) == {"value", "probability", "score"} and b["value"] is True and b["probability"] > 0.5
    assert beard.beard_value(beard.BEARD_THRESHOLD - 0.2)["value"] is False


def test_flat_face_has_no_frame_and_no_beard() -> None:
    image = np.full((480, 640, 3), 150, np.uint8)
    face = aligned_face.align_face(image, MESH)
    assert glasses.bridge_line(face) == 0.0
    assert beard.beard_darkness(beard.beard_features(face)) == pytest.approx(1.0 - 150 / 151, abs=1e-3)


def test_bridge_line_fires_on_a_thin_dark_line_not_on_an_edge() -> None:
    # In the aligned frame: a 1-px dark row across the nose root (a bridge) is a line; a step from
    # dark above to bright below at the same height (a brow shadow's edge) is not.
    image = np.full((480, 640, 3), 160, np.uint8)
    face = aligned_face.align_face(image, MESH)
    row = round(float(face.points[[33, 133, 362, 263], 1].mean()) - 3)
    grey = face.grey.copy()
    grey[row, :] = 100
    bridge = aligned_face.AlignedFace(grey=grey, ycrcb=face.ycrcb, points=face.points)
    assert glasses.bridge_line(bridge) > 2 * glasses.LINE_THRESHOLD
    step = face.grey.copy()
    step[: row + 1, :] = 100
    edge = aligned_face.AlignedFace(grey=step, ycrcb=face.ycrcb, points=face.points)
    assert glasses.bridge_line(edge) == 0.0


def test_bridge_line_reads_a_bridge_light_in_its_middle() -> None:
    # A tortoise-shell or keyhole bridge: dark across the nose root except a 5-px light middle on
    # mesh 168 (v3 read one strip there only and missed it); v4 averages three strips across the root.
    image = np.full((480, 640, 3), 160, np.uint8)
    face = aligned_face.align_face(image, MESH)
    row = round(float(face.points[[33, 133, 362, 263], 1].mean()) - 3)
    xc = round(float(face.points[168, 0]))
    grey = face.grey.copy()
    grey[row, :] = 100
    grey[row, xc - 2:xc + 3] = 160
    bridge = aligned_face.AlignedFace(grey=grey, ycrcb=face.ycrcb, points=face.points)
    assert glasses.bridge_line(bridge) >= glasses.LINE_THRESHOLD


def test_lens_tint_reads_tinted_lenses_not_skin_or_grey() -> None:
    # Skin-coloured face: no tint. The same face behind a grey-blue tint over both eye areas (darker,
    # less red than the nose and cheeks): tint, "sun". The tinted face in grey-scale: no Cr signal, 0.
    skin = np.zeros((480, 640, 3), np.uint8)
    skin[:] = (200, 150, 120)  # RGB skin
    face = aligned_face.align_face(skin, MESH)
    assert glasses.lens_tint(face) == 0.0
    tinted = skin.copy()
    for outer, inner in ((33, 133), (263, 362)):
        pts = MESH[[outer, inner], :2]
        c, w = pts.mean(0), float(abs(pts[0, 0] - pts[1, 0]))
        x0, x1 = int(c[0] - 0.8 * w), int(c[0] + 0.8 * w)
        y0, y1 = int(c[1] - 0.6 * w), int(c[1] + 0.8 * w)
        tinted[y0:y1, x0:x1] = (90, 90, 100)
    t = glasses.lens_tint(aligned_face.align_face(tinted, MESH))
    assert t >= 2 * glasses.TINT_THRESHOLD
    assert glasses.glasses_value(0.0, 0.0, t)["value"] == "sun"
    grey = np.repeat(tinted.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    assert glasses.lens_tint(aligned_face.align_face(grey, MESH)) == 0.0
