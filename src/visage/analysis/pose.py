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


def _initial_guess(pts: np.ndarray, focal: float, cx: float, cy: float) -> tuple[np.ndarray, np.ndarray]:
    """A physically plausible start for the fit: in-plane roll from the eye line, the head placed
    in front of the camera at the distance its eye spacing implies, yaw and pitch zero.

    Without it the iterative solver sometimes converges to the mirror solution behind the camera
    (an upright face reported with roll near 180 degrees).
    """
    eye_l, eye_r = pts[2, 0], pts[3, 0]
    roll = math.atan2(eye_r[1] - eye_l[1], eye_r[0] - eye_l[0])
    eye_px = max(float(np.hypot(*(eye_r - eye_l))), 1.0)
    model_eye = float(_MODEL_POINTS[3, 0] - _MODEL_POINTS[2, 0])
    z = focal * model_eye / eye_px
    nose = pts[0, 0]
    rvec = np.array([[0.0], [0.0], [roll]], dtype=np.float64)
    tvec = np.array([[(nose[0] - cx) * z / focal], [(nose[1] - cy) * z / focal], [z]], dtype=np.float64)
    return rvec, tvec


def pose_from_points(image_points: np.ndarray, width: int, height: int) -> Pose:
    """Fit the generic head to six image points (order of ``_MODEL_POINTS``) and return its pose."""
    focal = float(width)
    cx, cy = width / 2.0, height / 2.0
    camera = np.array([[focal, 0, cx], [0, focal, cy], [0, 0, 1]], dtype=np.float64)
    pts = np.asarray(image_points, dtype=np.float64).reshape(-1, 1, 2)
    rvec, tvec = _initial_guess(pts, focal, cx, cy)
    ok, rvec, tvec = cv2.solvePnP(
        _MODEL_POINTS.reshape(-1, 1, 3), pts, camera, None, rvec, tvec, useExtrinsicGuess=True,
        flags=cv2.SOLVEPNP_ITERATIVE,
    )
    if not ok or tvec[2, 0] <= 0:
        return Pose(0.0, 0.0, 0.0)
    rot, _ = cv2.Rodrigues(rvec)
    yaw, pitch, roll = _euler_from_rotation(rot)
    # Camera axes have y down: a positive rotation about x lowers the chin, about y turns the face
    # to the image's left. Flip both so the documented conventions above hold.
    return Pose(yaw=round(-yaw, 2), pitch=round(-pitch, 2), roll=round(roll, 2))


def pose_from_dlib68(points: np.ndarray, width: int, height: int) -> Pose:
    """Head pose from a 68-point iBUG landmark set."""
    return pose_from_points(points[list(DLIB68_POSE_INDICES)], width, height)
