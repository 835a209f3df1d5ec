"""Head pose from 2-D landmarks: a rigid 3-D face model fitted with ``cv2.solvePnP``.

Conventions (degrees, tested in tests/unit/test_pose.py and documented in docs/pose.md):
* yaw > 0: the face turns towards the image's right (the subject turns to their own left);
* pitch > 0: the face tilts up (chin raised);
* roll > 0: the face rotates clockwise in the image plane.
A frontal face is (0, 0, 0). The camera is assumed pinhole with focal length = image width.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from visage.types import Pose

# A generic head (millimetres) in camera axes: x right, y down, z away from the camera.
# Points: nose tip, chin, outer eye corners (image-left, image-right), mouth corners.
_MODEL_POINTS = np.array(
    [
        (0.0, 0.0, 0.0),
        (0.0, 330.0, 65.0),
        (-225.0, -170.0, 135.0),
        (225.0, -170.0, 135.0),
        (-150.0, 150.0, 125.0),
        (150.0, 150.0, 125.0),
    ],
    dtype=np.float64,
)

# Indices of those points in the iBUG 68-point scheme.
DLIB68_POSE_INDICES = (30, 8, 36, 45, 48, 54)


def _euler_from_rotation(rot: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees for R = Rz(roll) @ Ry(yaw) @ Rx(pitch), camera axes."""
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -rot[2, 0]))))
    pitch = math.degrees(math.atan2(rot[2, 1], rot[2, 2]))
    roll = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    return yaw, pitch, roll


def pose_from_points(image_points: np.ndarray, width: int, height: int) -> Pose:
    """Fit the generic head to six image points (order of ``_MODEL_POINTS``) and return its pose."""
    focal = float(width)
    camera = np.array([[focal, 0, width / 2.0], [0, focal, height / 2.0], [0, 0, 1]], dtype=np.float64)
    pts = np.asarray(image_points, dtype=np.float64).reshape(-1, 1, 2)
    # Start the iterative fit from an upright head facing the camera at the distance the eye
    # spacing implies. Without a guess the solver's own initialisation sometimes lands on the
    # mirrored solution (roll near 180 degrees for an upright face).
    flat = pts.reshape(-1, 2)
    eye_px = max(float(np.linalg.norm(flat[3] - flat[2])), 1.0)
    eye_mm = float(np.linalg.norm(_MODEL_POINTS[3] - _MODEL_POINTS[2]))
    z = focal * eye_mm / eye_px
    tvec0 = np.array([[(flat[0, 0] - width / 2.0) * z / focal], [(flat[0, 1] - height / 2.0) * z / focal], [z]])
    ok, rvec, _tvec = cv2.solvePnP(
        _MODEL_POINTS.reshape(-1, 1, 3), pts, camera, None, rvec=np.zeros((3, 1)), tvec=tvec0,
        useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE,
    )
    if not ok:
        return Pose(0.0, 0.0, 0.0)
    rot, _ = cv2.Rodrigues(rvec)
    yaw, pitch, roll = _euler_from_rotation(rot)
    # Camera axes have y down: a positive rotation about x lowers the chin, about y turns the face
    # to the image's left. Flip both so the documented conventions above hold.
    return Pose(yaw=round(-yaw, 2), pitch=round(-pitch, 2), roll=round(roll, 2))


def pose_from_dlib68(points: np.ndarray, width: int, height: int) -> Pose:
    """Head pose from a 68-point iBUG landmark set."""
    return pose_from_points(points[list(DLIB68_POSE_INDICES)], width, height)
