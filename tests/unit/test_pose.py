"""Pose conventions, checked on synthetic projections of the head model with known rotations."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from visage.analysis.pose import _MODEL_POINTS, pose_from_points


def project(yaw: float, pitch: float, roll: float, width: int = 800, height: int = 800) -> np.ndarray:
    """Image points of the head model turned by the documented (yaw, pitch, roll)."""
    # Documented: yaw>0 turns the face to the image's right; pitch>0 tilts it up; roll>0 clockwise.
    ry, rx, rz = np.radians(-yaw), np.radians(-pitch), np.radians(roll)
    rot_x = np.array([[1, 0, 0], [0, np.cos(rx), -np.sin(rx)], [0, np.sin(rx), np.cos(rx)]])
    rot_y = np.array([[np.cos(ry), 0, np.sin(ry)], [0, 1, 0], [-np.sin(ry), 0, np.cos(ry)]])
    rot_z = np.array([[np.cos(rz), -np.sin(rz), 0], [np.sin(rz), np.cos(rz), 0], [0, 0, 1]])
    rvec, _ = cv2.Rodrigues(rot_z @ rot_y @ rot_x)
    camera = np.array([[width, 0, width / 2], [0, width, height / 2], [0, 0, 1]], np.float64)
    pts, _ = cv2.projectPoints(_MODEL_POINTS, rvec, np.array([0.0, 0.0, 2000.0]), camera, None)
    return pts.reshape(-1, 2)


@pytest.mark.parametrize(("yaw", "pitch", "roll"), [(0, 0, 0), (25, 0, 0), (-30, 0, 0), (0, 15, 0),
                                                     (0, -20, 0), (0, 0, 20), (0, 0, -12), (20, -10, 8)])
def test_recovers_known_rotation(yaw: float, pitch: float, roll: float) -> None:
    pose = pose_from_points(project(yaw, pitch, roll), 800, 800)
    assert pose.yaw == pytest.approx(yaw, abs=1.0)
    assert pose.pitch == pytest.approx(pitch, abs=1.0)
    assert pose.roll == pytest.approx(roll, abs=1.0)


def test_face_turned_right_moves_nose_right() -> None:
    pts = project(30, 0, 0)
    eyes_mid_x = (pts[2, 0] + pts[3, 0]) / 2
    assert pts[0, 0] > eyes_mid_x  # the nose tip leads towards the image's right


def test_clockwise_roll_lowers_image_right_eye() -> None:
    pts = project(0, 0, 15)
    assert pts[3, 1] > pts[2, 1]  # y grows downwards


def test_chin_up_brings_nose_tip_towards_the_eyes() -> None:
    frontal, up = project(0, 0, 0), project(0, 20, 0)
    def eyes_to_nose(pts: np.ndarray) -> float:
        return float(pts[0, 1] - (pts[2, 1] + pts[3, 1]) / 2)
    assert eyes_to_nose(up) < 0.9 * eyes_to_nose(frontal)  # looking up foreshortens the nose bridge
