"""The dlib engine on the real fixture photos: counts, identities, pose, crops."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from fixture_labels import people_images
from visage.analysis.pipeline import AnalyzeOptions
from visage.errors import NoFaceError, TemplateMismatchError
from visage.types import Template

pytestmark = pytest.mark.slow

# Face counts from ../shared/fixtures/README.md.
COUNTS = {
    "two_people.jpg": 2, "scenes/kit_with_rose.jpg": 2, "scenes/obama_and_biden.jpg": 3,
    "scenes/alex_lacamoire1.jpg": 1, "scenes/johnsnow_test1.jpg": 1, "scenes/obama1.jpg": 1,
}
SINGLE = ["32bit.png", "alex-lacamoire.png", "biden.jpg", "lin-manuel-miranda.png", "obama-1080p.jpg",
          "obama-240p.jpg", "obama-480p.jpg", "obama-720p.jpg", "obama.jpg", "obama2.jpg", "obama3.jpg",
          "obama_partial_face.jpg", "obama_partial_face2.jpg", "obama_small.jpg"]


@pytest.mark.parametrize("name", [*COUNTS, *SINGLE])
def test_face_counts(engine, faces_dir, name: str) -> None:
    result = engine.analyze((faces_dir / name).read_bytes())
    assert len(result.faces) == COUNTS.get(name, 1)
    for face in result.faces:
        assert 0.5 < face.confidence <= 1.0
        assert face.landmarks is not None and len(face.landmarks) == 68
        box = face.box
        # Boxes of faces cut by the border may extend past it (as Rekognition's do); they must overlap it.
        assert box.right > 0 and box.bottom > 0 and box.left < result.width and box.top < result.height
        assert box.clipped(result.width, result.height).area > 0.3 * box.area and box.width > 20


def test_faces_are_largest_first(engine, faces_dir) -> None:
    faces = engine.analyze((faces_dir / "scenes/obama_and_biden.jpg").read_bytes()).faces
    areas = [f.box.area for f in faces]
    assert areas == sorted(areas, reverse=True)


@pytest.fixture(scope="module")
def people_templates(engine, faces_dir):
    return [(who, path.name, engine.largest_template(path.read_bytes())) for who, path in people_images(faces_dir)]


def test_every_people_pair(engine, people_templates) -> None:
    """Same identity matches and different identities do not, for every pair in people/."""
    wrong = []
    for (wa, na, ta), (wb, nb, tb) in itertools.combinations(people_templates, 2):
        match = engine.compare(ta, tb)
        if match.match != (wa == wb):
            wrong.append((wa, na, wb, nb, match.similarity))
    assert not wrong
    assert len(people_templates) == 9  # 5 identities, 4 genuine pairs, 32 impostor pairs


def test_templates_are_unit_128d(people_templates) -> None:
    for _, _, t in people_templates:
        assert t.model == "dlib_resnet_v1" and t.dim == 128
        assert np.linalg.norm(t.vector) == pytest.approx(1.0, abs=1e-5)


def test_template_model_mismatch_is_an_error(engine, people_templates) -> None:
    t = people_templates[0][2]
    other = Template.from_vector("some_other_model", t.vector)
    with pytest.raises(TemplateMismatchError):
        engine.compare(t, other)


def test_no_face_is_a_clear_error(engine) -> None:
    blank = np.full((200, 200, 3), 128, np.uint8)
    with pytest.raises(NoFaceError):
        engine.largest_template(blank)


def test_turned_face_pose_signs(engine, faces_dir) -> None:
    """obama2.jpg: the face is turned towards the image's left (checked by eye), with the head
    tilted clockwise; mirroring the photo must mirror yaw and roll and keep pitch."""
    rgb = engine.decode((faces_dir / "obama2.jpg").read_bytes()).rgb
    pose = engine.analyze(rgb).faces[0].pose
    mirrored = engine.analyze(np.ascontiguousarray(rgb[:, ::-1])).faces[0].pose
    assert pose.yaw < -15 and mirrored.yaw > 15
    assert pose.roll > 3 and mirrored.roll < -3
    assert mirrored.yaw == pytest.approx(-pose.yaw, abs=6)
    assert mirrored.pitch == pytest.approx(pose.pitch, abs=6)


def test_rotating_the_image_changes_roll(engine, faces_dir) -> None:
    import cv2

    rgb = engine.decode((faces_dir / "obama.jpg").read_bytes()).rgb
    h, w = rgb.shape[:2]
    base = engine.analyze(rgb).faces[0].pose.roll
    # Rotate the picture 12 degrees clockwise (negative angle in OpenCV's convention).
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -12, 1.0)
    turned = cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
    roll = engine.analyze(turned).faces[0].pose.roll
    assert roll - base == pytest.approx(12, abs=4)


def test_frontal_face_is_near_zero_yaw(engine, faces_dir) -> None:
    pose = engine.analyze((faces_dir / "obama-720p.jpg").read_bytes()).faces[0].pose
    assert abs(pose.yaw) < 8 and abs(pose.roll) < 5


def test_aligned_crop(engine, faces_dir) -> None:
    rgb = engine.decode((faces_dir / "obama.jpg").read_bytes()).rgb
    face = engine.analyze(rgb, AnalyzeOptions(landmarks=False, pose=False)).faces[0]
    crop = engine.pipeline.aligned_crop(rgb, face.box)
    assert crop.shape == (150, 150, 3)


def test_templates_of_multi_face_image_are_batched(engine, faces_dir) -> None:
    result = engine.embed((faces_dir / "scenes/obama_and_biden.jpg").read_bytes())
    assert len(result.faces) == 3 and all(f.template is not None for f in result.faces)
    assert "embed" in result.timings_ms


def test_concurrent_threads_give_the_same_results(engine, faces_dir) -> None:
    """dlib's detector and embedder are per thread; shared ones race and corrupt results."""
    from concurrent.futures import ThreadPoolExecutor

    images = [(faces_dir / n).read_bytes() for n in ("scenes/obama_and_biden.jpg", "two_people.jpg",
                                                      "scenes/kit_with_rose.jpg", "obama-720p.jpg")]
    expected = [engine.embed(img) for img in images]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(engine.embed, images * 4))
    for i, result in enumerate(got):
        want = expected[i % len(images)]
        assert [f.box for f in result.faces] == [f.box for f in want.faces]
        for a, b in zip(result.faces, want.faces, strict=True):
            assert np.allclose(a.template.vector, b.template.vector, atol=1e-5)


def test_upright_faces_never_get_a_flipped_pose(engine, faces_dir) -> None:
    """Regression: the PnP fit once converged to the mirror solution (roll near 180 degrees) for
    upright faces such as people/biden/biden2.jpg; every fixture face is upright."""
    for name in ["people/biden/biden2.jpg", "scenes/obama_and_biden.jpg", *SINGLE, *COUNTS]:
        for face in engine.analyze((faces_dir / name).read_bytes()).faces:
            assert abs(face.pose.roll) < 45 and abs(face.pose.yaw) < 60, (name, face.pose)
