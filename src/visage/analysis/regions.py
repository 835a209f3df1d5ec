"""Named facial regions from landmarks: one small adapter per landmark scheme.

Every landmark-based quality measure (integrity, size, eye openness, mouth opening, occlusion
parts) reads :class:`FaceRegions`, never raw indices, so a new landmark scheme (``mesh468``)
only needs its own adapter registered in :data:`ADAPTERS`.

Side convention: ``left``/``right`` are the IMAGE's left and right (the subject's right eye is
``left_eye``), as in Rekognition's ``eyeLeft`` and 3DiVi's ``left_eye`` (smaller x in both seeds).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from visage.types import Landmarks

OCCLUSION_PARTS = ("left_eye", "right_eye", "nose", "mouth", "left_cheek", "right_cheek", "chin")


@dataclass(frozen=True, slots=True, eq=False)
class FaceRegions:
    """Named point sets (N x 2 float pixels) of one face.

    * ``left_eye``/``right_eye``: 6 contour points in eye-aspect-ratio order: corner, two upper-lid
      points, the other corner, two lower-lid points (lower lid listed from the second corner back),
      so ``p[1]`` faces ``p[5]`` and ``p[2]`` faces ``p[4]``.
    * ``mouth_outer``: the outer lip contour, starting at the image-left corner (``[0]``) with the
      other corner at ``[len // 2]``.
    * ``mouth_inner``: 8 inner lip points in the same order; ``p[i]`` faces ``p[8 - i]``.
    * ``features``: every point of eyebrows, eyes, nose and mouth (the "five features" of seed 000).
    * ``outline``: every point of the face (jaw line included): the face region.
    * ``nose_root`` and ``chin``: one point each, on the face's vertical midline.
    * ``parts``: polygon per occlusion part (:data:`OCCLUSION_PARTS`).
    """

    left_eye: np.ndarray
    right_eye: np.ndarray
    mouth_outer: np.ndarray
    mouth_inner: np.ndarray
    features: np.ndarray
    outline: np.ndarray
    nose_root: np.ndarray
    chin: np.ndarray
    parts: dict[str, np.ndarray]

    @property
    def left_eye_center(self) -> np.ndarray:
        return self.left_eye.mean(axis=0)

    @property
    def right_eye_center(self) -> np.ndarray:
        return self.right_eye.mean(axis=0)

    @property
    def mouth_center(self) -> np.ndarray:
        return self.mouth_outer.mean(axis=0)

    @property
    def eye_mouth_distance(self) -> float:
        """Distance from the midpoint of the eye centres to the mouth centre: the face's scale.

        Chosen over the inter-ocular distance because it barely shrinks with yaw, the most
        common head rotation in photos.
        """
        mid = (self.left_eye_center + self.right_eye_center) / 2.0
        return float(np.linalg.norm(self.mouth_center - mid))


def _scaled(points: np.ndarray, factor: float) -> np.ndarray:
    """Points scaled about their centroid (used to grow an eye or lip contour into a part)."""
    center = points.mean(axis=0)
    return center + (points - center) * factor


def _dlib68(points: np.ndarray) -> FaceRegions:
    """The iBUG 300-W 68-point scheme (dlib's predictor): jaw 0-16, brows 17-26, nose 27-35,
    eyes 36-47, outer lips 48-59, inner lips 60-67."""
    p = np.asarray(points, dtype=np.float64)
    left_eye, right_eye = p[36:42], p[42:48]
    nose_wing_l, nose_wing_r = p[31], p[35]
    # Cheek tops sit a third of the way from the lower lids down to the nose wings, below the eye part.
    under_l = p[[40, 41]] + (nose_wing_l[1] - p[[40, 41]][:, 1:2]) * np.array([0.0, 0.33])
    under_r = p[[46, 47]] + (nose_wing_r[1] - p[[46, 47]][:, 1:2]) * np.array([0.0, 0.33])
    parts = {
        "left_eye": _scaled(left_eye, 1.6),
        "right_eye": _scaled(right_eye, 1.6),
        "nose": np.vstack([(p[39] + p[27]) / 2.0, (p[42] + p[27]) / 2.0, p[35], p[34], p[33], p[32], p[31]]),
        "mouth": _scaled(p[48:60], 1.15),
        "left_cheek": np.vstack([p[1:6], p[48], p[31], under_l]),
        "right_cheek": np.vstack([p[15:10:-1], p[54], p[35], under_r[::-1]]),
        "chin": np.vstack([p[6:11], p[55:60]]),
    }
    return FaceRegions(
        left_eye=left_eye,
        right_eye=right_eye,
        mouth_outer=p[48:60],
        mouth_inner=p[60:68],
        features=p[17:68],
        outline=p,
        nose_root=p[27],
        chin=p[8],
        parts=parts,
    )


# MediaPipe Face Mesh (468 points) indices; image-left eye = the subject's right eye (33 ... 133).
_M_EYE_L = (33, 160, 158, 133, 153, 144)  # outer corner, upper lid x2, inner corner, lower lid back
_M_EYE_R = (362, 385, 387, 263, 373, 380)  # inner corner, upper lid x2, outer corner, lower lid back
_M_EYE_RING_L = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
_M_EYE_RING_R = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
_M_LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
_M_LIPS_INNER = (78, 81, 13, 311, 308, 402, 14, 178)
_M_BROWS = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46, 300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
_M_NOSE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327, 129, 358, 64, 294)
_M_JAW_L = (234, 93, 132, 58, 172)
_M_JAW_R = (454, 323, 361, 288, 397)
_M_CHIN = (150, 149, 176, 148, 152, 377, 400, 378, 379)
_M_LOWER_LIP_BACK = (375, 321, 405, 314, 17, 84, 181, 91, 146)


def _mesh468(points: np.ndarray) -> FaceRegions:
    """MediaPipe Face Mesh (the fast pipeline): the same regions as :func:`_dlib68`, from the mesh's
    eye, lip, brow, nose and face-oval indices (docs/quality.md lists them)."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    left_eye, right_eye = p[list(_M_EYE_L)], p[list(_M_EYE_R)]
    wing_l, wing_r = p[129], p[358]
    under_l = p[[153, 144]] + (wing_l[1] - p[[153, 144]][:, 1:2]) * np.array([0.0, 0.33])
    under_r = p[[373, 380]] + (wing_r[1] - p[[373, 380]][:, 1:2]) * np.array([0.0, 0.33])
    lips = p[list(_M_LIPS_OUTER)]
    parts = {
        "left_eye": _scaled(p[list(_M_EYE_RING_L)], 1.6),
        "right_eye": _scaled(p[list(_M_EYE_RING_R)], 1.6),
        "nose": np.vstack([(p[133] + p[168]) / 2.0, (p[362] + p[168]) / 2.0, p[358], p[327], p[2], p[98], p[129]]),
        "mouth": _scaled(lips, 1.15),
        "left_cheek": np.vstack([p[list(_M_JAW_L)], p[61], wing_l, under_l]),
        "right_cheek": np.vstack([p[list(_M_JAW_R)], p[291], wing_r, under_r[::-1]]),
        "chin": np.vstack([p[list(_M_CHIN)], p[list(_M_LOWER_LIP_BACK)]]),
    }
    features = p[sorted(set(_M_BROWS + _M_EYE_RING_L + _M_EYE_RING_R + _M_NOSE + _M_LIPS_OUTER))]
    return FaceRegions(
        left_eye=left_eye,
        right_eye=right_eye,
        mouth_outer=lips,
        mouth_inner=p[list(_M_LIPS_INNER)],
        features=features,
        outline=p,
        nose_root=p[168],
        chin=p[152],
        parts=parts,
    )


ADAPTERS: dict[str, Callable[[np.ndarray], FaceRegions]] = {"dlib68": _dlib68, "mesh468": _mesh468}


def regions_from_landmarks(landmarks: Landmarks) -> FaceRegions:
    """Named regions of ``landmarks``; ValueError for a scheme without an adapter."""
    try:
        adapter = ADAPTERS[landmarks.scheme]
    except KeyError:
        raise ValueError(
            f"no region adapter for landmark scheme {landmarks.scheme!r}; known: {', '.join(sorted(ADAPTERS))}"
        ) from None
    return adapter(landmarks.points)
