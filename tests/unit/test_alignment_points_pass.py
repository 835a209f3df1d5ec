"""Which detection pass a face's five alignment points come from (RetinaFace's coarse-then-full policy).

The full pass enlarges a small photo (for its small faces); a large face it sees there gets worse
five points than the coarse pass read at the photo's own size, and alignment on them cost LFW 0.08
points ten-fold (docs/models.md). A face the coarse pass saw well keeps the coarse pass's points.
"""

from __future__ import annotations

import numpy as np

from visage.analysis.detectors.base import Detection
from visage.analysis.detectors.retinaface import RetinaFace, SizePolicy, points_from


class _TwoPass(RetinaFace):
    """RetinaFace whose network pass is scripted per input long side: (x, size, score, points offset) per face,
    boxes and points in that input's pixels (no model)."""

    def __init__(self, policy: SizePolicy, by_side: dict[int, list[tuple[float, float, float, float]]]) -> None:
        self.policy, self.min_score, self.nms_iou = policy, 0.7, 0.4
        self.by_side, self.sides = by_side, []

    def run(self, image: np.ndarray, min_score: float) -> list[Detection]:
        side = max(image.shape[:2])
        self.sides.append(side)
        out = []
        for x, size, score, shift in self.by_side.get(side, []):
            # each face twice, as the network gives it before NMS: a weaker neighbouring anchor, points 0.1 off
            for dup_score, dup_shift, dx in ((score, shift, 0.0), (score * 0.8, shift + 0.1, 0.02 * size)):
                if dup_score < min_score:
                    continue
                box = np.array([x + dx, 10, x + dx + size, 10 + size], np.float32)
                # five points inside the box, moved by ``shift`` of the box size (a pass's landmark error)
                rel = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]], np.float32)
                pts = box[:2] + (rel + dup_shift) * size
                out.append(Detection(box=box, score=dup_score, keypoints=pts + 0.5, points5=pts))
        return out


POLICY = SizePolicy(max_side=1024, min_side=1024, coarse_side=640)


def test_large_face_keeps_the_coarse_points_when_the_full_pass_enlarged_the_photo() -> None:
    # a 256-px photo: the coarse pass at its own size sees a 100-px face and a small candidate, so the
    # full pass runs at 1024 (4x), where the same face's points are 0.05 of its size off (and its box 2 px
    # right, where the coarse pass's weaker duplicate lies: the points are those of the face it kept)
    det = _TwoPass(POLICY, {256: [(50, 100, 0.99, 0.0), (200, 12, 0.5, 0.0)],
                            1024: [(208, 400, 0.99, 0.05), (800, 48, 0.9, 0.05)]})
    faces = sorted(det.detect(np.zeros((256, 256, 3), np.uint8)), key=lambda d: -d.size)
    assert det.sides == [256, 1024] and len(faces) == 2
    big, small = faces
    coarse_points = np.array([50, 10]) + np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]]) * 100
    np.testing.assert_allclose(big.points5, coarse_points, atol=1e-4)           # the coarse pass's five points
    np.testing.assert_allclose(big.box, [52, 2.5, 152, 102.5], atol=1e-4)       # the full pass's box (4x back)
    np.testing.assert_allclose(big.keypoints, (np.array([208, 10]) + (np.array(
        [[0.3, 0.4], [0.7, 0.4], [0.5, 0.6], [0.35, 0.8], [0.65, 0.8]]) + 0.05) * 400 + 0.5) / 4, atol=1e-4)
    # the small face only the full pass saw keeps that pass's points
    np.testing.assert_allclose(small.points5[0], (np.array([800, 10]) + (np.array([0.3, 0.4]) + 0.05) * 48) / 4,
                               atol=1e-4)


def test_full_pass_points_stay_when_it_did_not_enlarge() -> None:
    # a 2048-px photo: coarse pass at 640 (0.31x), full pass at 1024 (0.5x): the full pass sees more pixels
    det = _TwoPass(POLICY, {640: [(50, 100, 0.99, 0.0), (400, 12, 0.5, 0.0)],
                            1024: [(80, 160, 0.99, 0.05), (640, 19, 0.9, 0.05)]})
    faces = sorted(det.detect(np.zeros((2048, 2048, 3), np.uint8)), key=lambda d: -d.size)
    assert det.sides == [640, 1024]
    expected = (np.array([80, 10]) + (np.array([0.3, 0.4]) + 0.05) * 160) * 2
    np.testing.assert_allclose(faces[0].points5[0], expected, rtol=1e-5)


def test_points_from_matches_by_overlap_only() -> None:
    kp = np.zeros((5, 2), np.float32)
    seen = [Detection(np.array([0, 0, 100, 100], np.float32), 0.99, kp, kp + 1)]
    fine = [Detection(np.array([5, 5, 105, 105], np.float32), 0.98, kp, kp + 2),      # the same face
            Detection(np.array([300, 0, 340, 40], np.float32), 0.9, kp, kp + 3)]      # another one
    out = points_from(seen, fine)
    assert out[0].points5[0, 0] == 1 and out[0].score == 0.98 and out[1].points5[0, 0] == 3
    assert points_from([], fine) == fine and points_from(seen, []) == []


def test_points_from_the_pass_nearer_the_photo_own_resolution() -> None:
    rel0 = np.array([0.3, 0.4])
    # 700 px: coarse at 640 (0.91x) is nearer the photo's size than the full pass enlarged to 1024 (1.46x)
    det = _TwoPass(POLICY, {640: [(50, 100, 0.99, 0.0), (400, 12, 0.5, 0.0)],
                            1024: [(80, 160, 0.99, 0.05), (640, 19, 0.9, 0.05)]})
    faces = sorted(det.detect(np.zeros((700, 700, 3), np.uint8)), key=lambda d: -d.size)
    assert det.sides == [640, 1024]
    np.testing.assert_allclose(faces[0].points5[0], (np.array([50, 10]) + rel0 * 100) * 700 / 640, rtol=1e-5)
    # 1000 px: the full pass at 1024 (1.02x) is nearer than the coarse one (0.64x): its own points stay
    det = _TwoPass(POLICY, {640: [(50, 100, 0.99, 0.0), (400, 12, 0.5, 0.0)],
                            1024: [(80, 160, 0.99, 0.05), (640, 19, 0.9, 0.05)]})
    faces = sorted(det.detect(np.zeros((1000, 1000, 3), np.uint8)), key=lambda d: -d.size)
    np.testing.assert_allclose(faces[0].points5[0], (np.array([80, 10]) + (rel0 + 0.05) * 160) * 1000 / 1024,
                               rtol=1e-5)
