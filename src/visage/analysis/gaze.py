"""Eye gaze (direction of the eyes relative to the head) from the iris model's centres on the face mesh.

No registry ships a gaze model; this is geometry on what the fast pipeline already measures: the
468-point Face Mesh's eye corners and lids and the Iris model's iris centres (``Face.attributes["iris"]``,
10 points: image-left iris centre + 4 contour points, then the other eye; present when the pipeline
runs Iris, ``VISAGE_FAST_IRIS=true``).

Method, per eye, in the eye's own frame (the axis through its two corners, so head roll cancels):

* ``u`` = the iris centre's offset from the corners' midpoint along that axis, over half the corner
  distance (-1 .. 1 at the corners); ``v`` = its offset across the axis from the midpoint of the upper
  and lower lid (the lids bracket the iris; the corner line sits below the iris of an eye looking
  straight), same unit, image-down > 0.
* The eyeball turns about its centre: an iris offset ``d`` on a ball of radius ``R`` is an angle
  ``asin(d / R)``. The corner-to-corner width of an adult eye is about 30 mm and the eyeball radius about
  12 mm, so ``d / R = u * 15 / 12``.
* Both eyes are averaged (each clipped to +-90 degrees).

Signs follow visage's head pose (docs/models.md#head-pose, Rekognition's ``Pose``), so eyes and head that
turn the same way have the same sign: **yaw > 0 when the irises move towards the image's right** (as a
head with yaw > 0 turns), **pitch > 0 when they move up** in the image. A mirrored image therefore gives
the opposite yaw and the same pitch (tests/api/rekognition: synthetic points and a real mirrored photo).

Not measured against labelled gaze data (none here): docs/rekognition.md says so, and no confidence is
given (Rekognition's ``EyeDirection.Confidence`` stays absent rather than invented). On 20 LFW-style
portraits of ``calib/`` (people mostly looking at the camera) the lid reference gives a mean pitch of about
+4 degrees where the corner line gave +10: the vertical angle carries a bias of that order.
"""

from __future__ import annotations

import numpy as np

# Face Mesh indices: (image-left corner, image-right corner) of each eye, image-left eye first; their lids.
EYE_CORNERS: tuple[tuple[int, int], tuple[int, int]] = ((33, 133), (362, 263))
EYE_LIDS: tuple[tuple[int, int], tuple[int, int]] = ((159, 145), (386, 374))
#: Half the corner-to-corner eye width over the eyeball radius (15 mm / 12 mm).
HALF_WIDTH_OVER_RADIUS = 15.0 / 12.0
IRIS_CENTRES = (0, 5)


def _eye_angles(mesh: np.ndarray, corners: tuple[int, int], lids: tuple[int, int],
                iris_centre: np.ndarray) -> tuple[float, float] | None:
    a, b = mesh[corners[0], :2], mesh[corners[1], :2]
    axis = b - a
    half = float(np.linalg.norm(axis)) / 2.0
    if half < 1.0:
        return None
    along = axis / (2.0 * half)
    across = np.array([-along[1], along[0]])  # image-down when the eye line is level
    u = float((iris_centre - (a + b) / 2.0) @ along) / half
    v = float((iris_centre - (mesh[lids[0], :2] + mesh[lids[1], :2]) / 2.0) @ across) / half
    ratio = HALF_WIDTH_OVER_RADIUS
    yaw = np.degrees(np.arcsin(np.clip(u * ratio, -1.0, 1.0)))
    pitch = -np.degrees(np.arcsin(np.clip(v * ratio, -1.0, 1.0)))
    return float(yaw), float(pitch)


def eye_direction(mesh: np.ndarray, iris: np.ndarray) -> dict[str, float] | None:
    """``{"yaw", "pitch"}`` in degrees (module docstring), or None when the eyes are degenerate."""
    mesh = np.asarray(mesh, np.float64)
    iris = np.asarray(iris, np.float64)
    if mesh.ndim != 2 or mesh.shape[0] < 468 or iris.ndim != 2 or iris.shape[0] < 10:
        return None
    angles = [_eye_angles(mesh, corners, lids, iris[c, :2])
              for corners, lids, c in zip(EYE_CORNERS, EYE_LIDS, IRIS_CENTRES, strict=True)]
    if any(a is None for a in angles):
        return None
    yaw = float(np.mean([a[0] for a in angles]))  # type: ignore[index]
    pitch = float(np.mean([a[1] for a in angles]))  # type: ignore[index]
    if not (np.isfinite(yaw) and np.isfinite(pitch)):
        return None
    return {"yaw": round(yaw, 2), "pitch": round(pitch, 2)}
