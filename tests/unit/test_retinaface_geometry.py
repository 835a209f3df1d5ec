"""RetinaFace's anchor layout, box/point decoding, tiling and NMS, without the model."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from visage.analysis.detectors.base import Detection, iou_matrix, nms
from visage.analysis.detectors.retinaface import (
    CENTRE_VARIANCE,
    SIZE_VARIANCE,
    RetinaFace,
    SizePolicy,
    anchors,
    decode,
    tile_grid,
)


def test_anchor_layout_is_row_major_with_two_sizes_per_cell() -> None:
    a = anchors(64, 96)
    # stride 8: 8 x 12 cells, 16: 4 x 6, 32: 2 x 3; two sizes each
    assert a.shape == ((8 * 12 + 4 * 6 + 2 * 3) * 2, 4)
    np.testing.assert_allclose(a[0], [4, 4, 16, 16])
    np.testing.assert_allclose(a[1], [4, 4, 32, 32])
    np.testing.assert_allclose(a[2], [12, 4, 16, 16])           # next cell along x
    np.testing.assert_allclose(a[24], [4, 12, 16, 16])          # second row
    first16 = 8 * 12 * 2
    np.testing.assert_allclose(a[first16], [8, 8, 64, 64])
    np.testing.assert_allclose(a[-1], [80, 48, 512, 512])


def test_decode_inverts_the_encoding() -> None:
    prior = np.array([[100.0, 50.0, 32.0, 32.0], [10.0, 10.0, 16.0, 16.0]], np.float32)
    box = np.array([90.0, 38.0, 114.0, 66.0])                   # centre (102, 52), 24 x 28
    pts = np.array([[95, 45], [108, 45], [101, 52], [96, 60], [107, 60]], np.float64)
    loc = np.zeros((2, 4), np.float32)
    loc[0, :2] = (np.array([102.0, 52.0]) - prior[0, :2]) / (CENTRE_VARIANCE * prior[0, 2:])
    loc[0, 2:] = np.log(np.array([24.0, 28.0]) / prior[0, 2:]) / SIZE_VARIANCE
    marks = np.zeros((2, 10), np.float32)
    marks[0] = ((pts - prior[0, :2]) / (CENTRE_VARIANCE * prior[0, 2:])).ravel()
    conf = np.array([[0.1, 0.9], [0.8, 0.2]], np.float32)
    boxes, scores, points = decode(loc, conf, marks, prior, 0.5)
    assert boxes.shape == (1, 4) and scores.tolist() == [np.float32(0.9)]
    np.testing.assert_allclose(boxes[0], box, atol=1e-3)
    np.testing.assert_allclose(points[0], pts, atol=1e-3)


def test_tile_grid_covers_with_overlap() -> None:
    grid = tile_grid(3000, 1000, 1024, 0.2)
    assert all(x1 - x0 <= 1024 and y1 - y0 <= 1024 for x0, y0, x1, y1 in grid)
    covered = np.zeros((1000, 3000), bool)
    for x0, y0, x1, y1 in grid:
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    xs = sorted({x0 for x0, _, _, _ in grid})
    assert all(b - a <= 1024 * 0.8 + 1 for a, b in itertools.pairwise(xs))
    assert tile_grid(500, 400, 1024, 0.2) == [(0, 0, 500, 400)]


def test_nms_keeps_the_best_of_each_overlap_group() -> None:
    kp = np.zeros((5, 2), np.float32)
    dets = [Detection(np.array(b, np.float32), s, kp, kp) for b, s in
            [([0, 0, 10, 10], 0.8), ([1, 0, 11, 10], 0.9), ([30, 30, 40, 40], 0.7)]]
    kept = nms(dets, 0.4)
    assert [d.score for d in kept] == [0.9, 0.7]
    m = iou_matrix(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10], [20, 20, 30, 30]]))
    np.testing.assert_allclose(m, [[1 / 3, 0.0]])


def test_input_blob_is_bgr_minus_mean_padded_with_zero() -> None:
    from visage.analysis.detectors.retinaface import MEAN_BGR, RetinaFace

    class Session:
        def get_inputs(self):
            return [type("I", (), {"name": "input"})()]

        def get_outputs(self):
            return [type("O", (), {"name": n})() for n in ("loc", "conf", "landmarks")]

        def run(self, names, feeds):
            self.blob = feeds["input"]
            n = len(anchors(*self.blob.shape[2:]))
            return [np.zeros((1, n, 4), np.float32), np.zeros((1, n, 2), np.float32), np.zeros((1, n, 10), np.float32)]

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)
    session = Session()
    assert RetinaFace(session).run(image, 0.5) == []
    blob = session.blob
    assert blob.shape == (1, 3, 64, 96) and blob.dtype == np.float32
    expected = image[:, :, ::-1].astype(np.float32) - MEAN_BGR
    np.testing.assert_array_equal(blob[0, :, :50, :70], expected.transpose(2, 0, 1))
    assert not blob[0, :, 50:, :].any() and not blob[0, :, :, 70:].any()


class _Scripted(RetinaFace):
    """RetinaFace whose network pass is replaced by scripted detections per input long side (no model)."""

    def __init__(self, policy: SizePolicy, by_side: dict[int, list[tuple[float, float]]]) -> None:
        self.policy, self.min_score, self.nms_iou = policy, 0.7, 0.4
        self.by_side, self.sides = by_side, []

    def run(self, image: np.ndarray, min_score: float) -> list[Detection]:
        side = max(image.shape[:2])
        self.sides.append(side)
        kp = np.zeros((5, 2), np.float32)
        return [Detection(np.array([x, 10, x + size, 10 + size], np.float32), s, kp, kp)
                for k, (size, s) in enumerate(self.by_side.get(side, [])) for x in [k * 300.0]
                if s >= min_score]


def test_coarse_pass_alone_when_it_finds_only_large_faces() -> None:
    det = _Scripted(SizePolicy(max_side=1024, coarse_side=512), {512: [(200, 0.99)], 1024: [(400, 0.99)]})
    faces = det.detect(np.zeros((1000, 2000, 3), np.uint8))
    assert det.sides == [512] and len(faces) == 1
    np.testing.assert_allclose(faces[0].box, np.array([0, 10, 200, 210]) * 2000 / 512, rtol=1e-5)


def test_fine_pass_runs_on_a_small_candidate_or_no_face() -> None:
    small = _Scripted(SizePolicy(max_side=1024, coarse_side=512),
                      {512: [(200, 0.99), (20, 0.4)], 1024: [(400, 0.99), (40, 0.9)]})
    assert len(small.detect(np.zeros((1000, 2000, 3), np.uint8))) == 2 and small.sides == [512, 1024]
    empty = _Scripted(SizePolicy(max_side=1024, coarse_side=512), {1024: [(40, 0.9)]})
    assert len(empty.detect(np.zeros((1000, 2000, 3), np.uint8))) == 1 and empty.sides == [512, 1024]
    # an image no longer than the coarse side runs once, at its own size
    once = _Scripted(SizePolicy(max_side=1024, coarse_side=512), {500: [(100, 0.9)]})
    assert len(once.detect(np.zeros((400, 500, 3), np.uint8))) == 1 and once.sides == [500]


def test_small_image_coarse_pass_at_its_own_size_then_enlarged() -> None:
    det = _Scripted(SizePolicy(max_side=1024, min_side=1024, coarse_side=640),
                    {400: [(100, 0.99), (12, 0.5)], 1024: [(256, 0.99), (30, 0.9)]})
    faces = det.detect(np.zeros((300, 400, 3), np.uint8))
    assert det.sides == [400, 1024] and len(faces) == 2
    np.testing.assert_allclose(faces[0].box[2] - faces[0].box[0], 100, rtol=1e-5)   # back in image pixels


def test_enlargement_of_a_tiny_photo_is_capped() -> None:
    """A 48-px photo (FER-2013's faces fill it) is enlarged 4x for the full pass, not 21x to 1024 px."""
    det = _Scripted(SizePolicy(max_side=1024, min_side=1024, coarse_side=512), {48: [(30, 0.5)], 192: [(180, 0.99)]})
    faces = det.detect(np.zeros((48, 48, 3), np.uint8))
    assert det.sides == [48, 192] and len(faces) == 1
    np.testing.assert_allclose(faces[0].box[2] - faces[0].box[0], 45, rtol=1e-5)
    assert det.fine_scale(250) == 4.0 and det.fine_scale(400) == 1024 / 400 and det.fine_scale(2048) == 0.5


def test_size_policy_rejects_an_unknown_filter() -> None:
    with pytest.raises(ValueError, match="interpolation"):
        SizePolicy(interpolation="cubic")


def test_trust_gate_depends_on_the_face_height() -> None:
    det = _Scripted(SizePolicy(), {})
    kp = np.zeros((5, 2), np.float32)

    def face(height: float, score: float) -> Detection:
        return Detection(np.array([0, 0, height, height], np.float32), score, kp, kp)

    assert det.trusts(face(30, 0.72)) and det.trusts(face(47.9, 0.7))
    assert not det.trusts(face(20, 0.72)) and det.trusts(face(20, 0.8))
    assert not det.trusts(face(100, 0.75)) and det.trusts(face(100, 0.85))


class _Views(RetinaFace):
    """RetinaFace whose network pass returns scripted (box, score) pairs per input shape, recording its inputs."""

    def __init__(self, policy: SizePolicy, by_shape: dict[tuple[int, int], list[tuple[list[float], float]]]) -> None:
        self.policy, self.min_score, self.nms_iou = policy, 0.7, 0.4
        self.by_shape, self.inputs = by_shape, []

    def run(self, image: np.ndarray, min_score: float) -> list[Detection]:
        self.inputs.append(image)
        kp = np.zeros((5, 2), np.float32)
        return [Detection(np.array(box, np.float32), s, kp, kp) for box, s in self.by_shape.get(image.shape[:2], [])
                if s >= min_score]


def _photo() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (600, 1000, 3), dtype=np.uint8)


def test_flip_check_keeps_a_candidate_its_mirrored_view_confirms() -> None:
    # A 60-px candidate at score 0.6 touching the right border; the mirrored crop (3 x 60 = 180 px square, clipped
    # to the image: x 880-1000, y 110-290) shows it at the crop's left edge, where the scripted view scores 0.95.
    policy = SizePolicy(coarse_side=0, max_side=1000, flip_check_context=3.0)
    view = {(180, 120): [([0, 60, 60, 120], 0.95)]}
    det = _Views(policy, {(600, 1000): [([940, 170, 1000, 230], 0.6), ([100, 100, 200, 200], 0.99)], **view})
    faces = det.detect(_photo())
    assert sorted(round(f.score, 2) for f in faces) == [0.95, 0.99]
    confirmed = next(f for f in faces if f.score < 0.99)
    np.testing.assert_allclose(confirmed.box, [940, 170, 1000, 230])         # the candidate's own box
    np.testing.assert_array_equal(det.inputs[1], _photo()[110:290, 880:1000][:, ::-1])   # mirrored, not padded


def test_flip_check_leaves_what_the_mirror_does_not_confirm_to_face_mesh() -> None:
    policy = SizePolicy(coarse_side=0, max_side=1000, flip_check_context=3.0)
    candidate = [([940, 170, 1000, 230], 0.6)]

    def scores(det: _Views) -> list[float]:
        if det.mesh_sure is None and det is not off_default:
            det.mesh_sure = (0.5, 0.95)       # the option under test (off by default: docs/models.md)
        return [round(f.score, 2) for f in det.detect(_photo())]

    off_default = _Views(policy, {(600, 1000): candidate})
    assert [f.score for f in off_default.detect(_photo())] == []   # default: a 0.6 box is not returned at all

    weak_view = _Views(policy, {(600, 1000): candidate, (180, 120): [([0, 60, 60, 120], 0.75)]})
    assert scores(weak_view) == [0.6]              # returned at its own score: kept only if Face Mesh is sure
    elsewhere = _Views(policy, {(600, 1000): candidate, (180, 120): [([60, 0, 120, 60], 0.95)]})
    assert scores(elsewhere) == [0.6]              # a confident box in the view, but not on this face
    tiny = _Views(policy, {(600, 1000): [([500, 300, 520, 320], 0.6)]})
    assert scores(tiny) == [0.6] and len(tiny.inputs) == 1          # under flip_check_min_px: not checked
    large = _Views(policy, {(600, 1000): [([300, 100, 500, 300], 0.6)]})
    assert scores(large) == [0.6] and len(large.inputs) == 1        # over flip_check_max_px: left to Face Mesh
    off = _Views(replace(policy, flip_check_from=0.0), {(600, 1000): candidate, (180, 120): [([0, 60, 60, 120], 0.95)]})
    assert [f.score for f in off.detect(_photo())] == [] and len(off.inputs) == 1
    below = _Views(policy, {(600, 1000): [([940, 170, 1000, 230], 0.45)]})
    assert scores(below) == []                     # under both the flip check's and the mesh check's floor


def test_pipeline_keeps_a_weak_detection_only_when_face_mesh_is_sure() -> None:
    from visage.analysis.fast_pipeline import FastPipeline

    detector = _Scripted(SizePolicy(), {})
    detector.mesh_sure = (0.5, 0.95)   # the option (off by default)
    keeps = FastPipeline(detector=detector, mesh=None, embedder=None)._keeps()
    kp = np.zeros((5, 2), np.float32)

    def face(score: float, height: float = 100.0) -> Detection:
        return Detection(np.array([0, 0, height, height], np.float32), score, kp, kp)

    assert keeps(face(0.55), 0.97) and not keeps(face(0.55), 0.9)   # under min_score 0.7: the mesh must be sure
    assert keeps(face(0.72), 0.6) and not keeps(face(0.72), 0.1)    # from 0.7: mesh 0.5, or a trusted score
    assert keeps(face(0.85), 0.0) and keeps(face(0.72, 30.0), 0.0)


def test_duplicate_filter_keeps_a_face_half_hidden_behind_another() -> None:
    from visage.analysis.facemesh import MeshResult, Roi
    from visage.analysis.fast_pipeline import _dedupe

    kp = np.zeros((5, 2), np.float32)

    def pair(box: list[float], nose: tuple[float, float], mesh_score: float = 0.99) -> tuple[Detection, MeshResult]:
        points = np.zeros((468, 3), np.float32)
        points[:, :2] = nose
        # the mesh's bounds are the box (face_box below reads them from the detection for simplicity)
        return Detection(np.array(box, np.float32), 0.9, kp, kp), MeshResult(points, mesh_score, Roi(0, 0, 1, 0))

    def boxes(pairs: list) -> list[list[float]]:
        return sorted(d.box.tolist() for d, _ in _dedupe(pairs, lambda d, m: d.box, apart=0.25))

    front = pair([0, 0, 150, 170], (75, 100))
    behind = pair([50, 85, 170, 210], (120, 160))          # 57% inside the front face's box, nose 75 px away
    assert boxes([front, behind]) == [[0, 0, 150, 170], [50, 85, 170, 210]]
    # the default (no nose rule): one box more than half inside another is dropped, as a box straddling two
    # neighbours' faces must be (its mesh nose lies between them)
    assert [d.box.tolist() for d, _ in _dedupe([front, behind], lambda d, m: d.box)] == [[0, 0, 150, 170]]
    again = pair([10, 10, 140, 160], (80, 104))            # the same face found twice: noses 6 px apart
    assert boxes([front, again]) == [[0, 0, 150, 170]]
    no_mesh = pair([50, 85, 170, 210], (120, 160), mesh_score=0.1)   # no mesh to tell: the box overlap decides
    assert boxes([front, no_mesh]) == [[0, 0, 150, 170]]
