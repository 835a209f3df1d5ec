"""Geometry of the fast pipeline without models: anchors, NMS, tiles, warps, alignment."""

from __future__ import annotations

import math

import numpy as np

from visage.analysis.detectors.base import Detection, weighted_nms
from visage.analysis.detectors.blazeface import _anchors, tiles
from visage.analysis.embedders.align import ARCFACE_112, similarity_transform
from visage.analysis.facemesh import Roi, roi_from_points, unwarp


def test_anchor_layouts_match_the_models() -> None:
    short = _anchors(128, (8, 16), (2, 6))
    full = _anchors(192, (4,), (1,))
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    np.testing.assert_allclose(short[0], [4, 4])
    np.testing.assert_allclose(short[1], [4, 4])         # two anchors per stride-8 cell
    np.testing.assert_allclose(short[512], [8, 8])       # first stride-16 anchor
    np.testing.assert_allclose(full[-1], [190, 190])


def test_weighted_nms_blends_overlaps_and_keeps_separate_faces() -> None:
    kp = np.zeros((6, 2), np.float32)
    a = Detection(np.array([0, 0, 10, 10], np.float32), 0.9, kp)
    b = Detection(np.array([1, 1, 11, 11], np.float32), 0.6, kp + 1)
    c = Detection(np.array([50, 50, 60, 60], np.float32), 0.7, kp)
    out = weighted_nms([b, c, a], 0.3)
    assert len(out) == 2 and out[0].score == 0.9
    np.testing.assert_allclose(out[0].box, [0.4, 0.4, 10.4, 10.4], atol=1e-5)   # 0.6/0.4 weighting
    np.testing.assert_allclose(out[1].box, c.box)


def test_tiles_cover_the_image_with_overlap() -> None:
    grid = tiles(320, 180)
    assert len(grid) == 4
    covered = np.zeros((180, 320), bool)
    for x0, y0, x1, y1 in grid:
        assert 0 <= x0 < x1 <= 320 and 0 <= y0 < y1 <= 180
        covered[y0:y1, x0:x1] = True
    assert covered.all()


def test_roi_warp_levels_the_eyes_and_unwarp_inverts_it() -> None:
    right_eye, left_eye = np.array([100.0, 100.0]), np.array([140.0, 120.0])   # tilted 26.6 degrees
    roi = roi_from_points(right_eye, left_eye, (80, 80, 160, 180))
    assert math.isclose(roi.angle, math.atan2(20, 40)) and math.isclose(roi.side, 150.0)
    m = roi.affine(192)
    eyes = np.array([right_eye, left_eye])
    crop = eyes @ m[:, :2].T + m[:, 2]
    assert abs(crop[0, 1] - crop[1, 1]) < 1e-9                                # level in the crop
    np.testing.assert_allclose(unwarp(crop, m), eyes, atol=1e-9)
    centre = np.array([[roi.cx, roi.cy]]) @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(centre[0], [96, 96], atol=1e-9)
    assert isinstance(Roi(0, 0, 1, 0), Roi)


def test_similarity_transform_recovers_a_known_similarity() -> None:
    angle, scale, t = 0.3, 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    src = ARCFACE_112
    dst = src @ rot.T + t
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], t, atol=1e-9)
