"""Named keypoint sets of the wire formats, mapped from the 468-point MediaPipe face mesh.

Sets (``keypoint_set(name, mesh, iris)`` -> ``[(name, x, y), ...]``, pixels):

* ``threedivi21``: 3DiVi's ``fda`` fitter keypoints, in its order.
* ``rekognition30``: the 30 Rekognition landmark types, in the API's enum order.
* ``qiniu4``: eye centres, nose tip, mouth centre.
* ``qiniu72``: the Baidu/Qiniu 72-point layout by region: face contour 13 (0-12), first eye 8 + its
  pupil (13-21), first eyebrow 8 (22-29), second eye 8 + pupil (30-38), second eyebrow 8 (39-46),
  nose 11 (47-57), mouth 14 (58-71).
* ``qiniu150``: a 150-point set with Baidu-style names (contour 25, eyebrows 2 x 10, eyes 2 x 19,
  nose 23, mouth 44).

Side convention, every set: "left" is the image's left (the subject's right eye is ``left_eye``);
that is what both 3DiVi's and Rekognition's published examples show (their "left eye" has the
smaller x). Mesh indices are MediaPipe's canonical face mesh. Where a vendor point has no mesh
vertex (evenly spaced contour points) the point is sampled by arc length along a polyline of mesh
vertices (``_POLYLINES``); pupils come from the Iris model when it ran, otherwise they are the
centre of the eye's 16-vertex ring. docs/models.md lists every mapping.
"""

from __future__ import annotations

import numpy as np

# Polylines of mesh vertices; "L" = image-left (subject's right), "R" = image-right.
_POLYLINES: dict[str, tuple[int, ...]] = {
    # Face contour from the image-left temple down to the chin (152), and on to the right temple.
    "contour_L": (127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152),
    "contour_R": (152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454, 356),
    # Eyes: corner to corner, upper and lower lids (image-left eye: outer 33 -> inner 133).
    "eye_L_upper": (33, 246, 161, 160, 159, 158, 157, 173, 133),
    "eye_L_lower": (33, 7, 163, 144, 145, 153, 154, 155, 133),
    "eye_R_upper": (362, 398, 384, 385, 386, 387, 388, 466, 263),
    "eye_R_lower": (362, 382, 381, 380, 374, 373, 390, 249, 263),
    # Eyebrows, image-left end to image-right end, upper and lower edges.
    "brow_L_upper": (70, 63, 105, 66, 107),
    "brow_L_lower": (46, 53, 52, 65, 55),
    "brow_R_upper": (336, 296, 334, 293, 300),
    "brow_R_lower": (285, 295, 282, 283, 276),
    # Nose: bridge (between the eyes down to the tip), and each side from the bridge to the nostril.
    "nose_bridge": (168, 6, 197, 195, 5, 4, 1),
    "nose_side_L": (193, 122, 196, 3, 51, 45, 220, 115, 129, 64, 98, 97, 2),
    "nose_side_R": (417, 351, 419, 248, 281, 275, 440, 344, 358, 294, 327, 326, 2),
    # Lips, image-left corner to image-right corner.
    "lip_upper_outer": (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291),
    "lip_lower_outer": (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291),
    "lip_upper_inner": (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308),
    "lip_lower_inner": (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308),
}

EYE_RING_L = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
EYE_RING_R = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)

SETS = ("threedivi21", "rekognition30", "qiniu4", "qiniu72", "qiniu150")


def resample(points: np.ndarray, n: int) -> np.ndarray:
    """``n`` points evenly spaced by arc length along the polyline ``points`` (ends included)."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    if cum[-1] <= 0:
        return np.repeat(points[:1], n, axis=0)
    targets = np.linspace(0.0, cum[-1], n)
    return np.stack([np.interp(targets, cum, points[:, k]) for k in range(points.shape[1])], axis=1)


class _Mesh:
    def __init__(self, mesh: np.ndarray, iris: np.ndarray | None) -> None:
        self.p = np.asarray(mesh, np.float64)[:, :2]
        self.iris = None if iris is None else np.asarray(iris, np.float64)[:, :2]

    def __getitem__(self, i: int) -> np.ndarray:
        return self.p[i]

    def mean(self, *idx: int) -> np.ndarray:
        return self.p[list(idx)].mean(axis=0)

    def line(self, name: str, n: int) -> np.ndarray:
        return resample(self.p[list(_POLYLINES[name])], n)

    def pupil(self, side: str) -> np.ndarray:
        # Iris output: image-left eye's 5 points (centre first), then image-right eye's.
        if self.iris is not None:
            return self.iris[0] if side == "L" else self.iris[5]
        return self.p[list(EYE_RING_L if side == "L" else EYE_RING_R)].mean(axis=0)

    def pupil_edges(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        """Iris edge points along the eye line (image-left one first)."""
        if self.iris is not None:
            pts = self.iris[1:5] if side == "L" else self.iris[6:10]
            order = np.argsort(pts[:, 0])
            return pts[order[0]], pts[order[-1]]
        a, b = (self[33], self[133]) if side == "L" else (self[362], self[263])
        c = self.pupil(side)
        half = (b - a) * 0.2  # the iris spans about 40% of the eye opening
        return c - half, c + half


def _threedivi21(m: _Mesh) -> list[tuple[str, np.ndarray]]:
    return [
        ("left_eye_brow_left", m[70]), ("left_eye_brow_up", m[105]), ("left_eye_brow_right", m[107]),
        ("right_eye_brow_left", m[336]), ("right_eye_brow_up", m[334]), ("right_eye_brow_right", m[300]),
        ("left_eye_left", m[33]), ("left_eye", m.pupil("L")), ("left_eye_right", m[133]),
        ("right_eye_left", m[362]), ("right_eye", m.pupil("R")), ("right_eye_right", m[263]),
        ("left_ear_bottom", m[132]), ("nose_left", m[129]), ("nose", m[1]), ("nose_right", m[358]),
        ("right_ear_bottom", m[361]), ("mouth_left", m[61]), ("mouth", m.mean(13, 14)),
        ("mouth_right", m[291]), ("chin", m[152]),
    ]


def _rekognition30(m: _Mesh) -> list[tuple[str, np.ndarray]]:
    return [
        ("eyeLeft", m.pupil("L")), ("eyeRight", m.pupil("R")), ("nose", m[1]),
        ("mouthLeft", m[61]), ("mouthRight", m[291]),
        ("leftEyeBrowLeft", m[70]), ("leftEyeBrowRight", m[107]), ("leftEyeBrowUp", m[105]),
        ("rightEyeBrowLeft", m[336]), ("rightEyeBrowRight", m[300]), ("rightEyeBrowUp", m[334]),
        ("leftEyeLeft", m[33]), ("leftEyeRight", m[133]), ("leftEyeUp", m[159]), ("leftEyeDown", m[145]),
        ("rightEyeLeft", m[362]), ("rightEyeRight", m[263]), ("rightEyeUp", m[386]), ("rightEyeDown", m[374]),
        ("noseLeft", m[129]), ("noseRight", m[358]), ("mouthUp", m[0]), ("mouthDown", m[17]),
        ("leftPupil", m.pupil("L")), ("rightPupil", m.pupil("R")),
        ("upperJawlineLeft", m[234]), ("midJawlineLeft", m[172]), ("chinBottom", m[152]),
        ("midJawlineRight", m[397]), ("upperJawlineRight", m[454]),
    ]


def _qiniu4(m: _Mesh) -> list[tuple[str, np.ndarray]]:
    return [("left_eye", m.pupil("L")), ("right_eye", m.pupil("R")), ("nose_tip", m[1]),
            ("mouth", m.mean(13, 14))]


def _eye8(m: _Mesh, side: str) -> list[np.ndarray]:
    """Corner, 3 upper-lid points, other corner, 3 lower-lid points (clockwise from image-left)."""
    up = m.line(f"eye_{side}_upper", 5)
    low = m.line(f"eye_{side}_lower", 5)
    return [up[0], up[1], up[2], up[3], up[4], low[3], low[2], low[1]]


def _brow8(m: _Mesh, side: str) -> list[np.ndarray]:
    """Image-left end, 3 upper-edge points, image-right end, 3 lower-edge points (clockwise)."""
    up = m.line(f"brow_{side}_upper", 5)
    low = m.line(f"brow_{side}_lower", 5)
    return [up[0], up[1], up[2], up[3], up[4], low[3], low[2], low[1]]


def _qiniu72(m: _Mesh) -> list[tuple[str, np.ndarray]]:
    contour = list(m.line("contour_L", 7)) + list(m.line("contour_R", 7))[1:]
    pts: list[np.ndarray] = contour                                         # 0-12
    pts += [*_eye8(m, "L"), m.pupil("L")]                                 # 13-21
    pts += _brow8(m, "L")                                                   # 22-29
    pts += [*_eye8(m, "R"), m.pupil("R")]                                 # 30-38
    pts += _brow8(m, "R")                                                   # 39-46
    pts += [m[168], m[6], m[195], m[129], m[98], m[2], m[327], m[358], m[4], m[1], m[5]]  # 47-57
    outer_up, outer_low = m.line("lip_upper_outer", 5), m.line("lip_lower_outer", 5)
    inner_up, inner_low = m.line("lip_upper_inner", 5), m.line("lip_lower_inner", 5)
    pts += [outer_up[0], outer_up[1], outer_up[2], outer_up[3], outer_up[4],           # 58-62
            outer_low[3], outer_low[2], outer_low[1],                                   # 63-65
            inner_up[1], inner_up[2], inner_up[3], inner_low[3], inner_low[2], inner_low[1]]  # 66-71
    return [(f"p{i}", p) for i, p in enumerate(pts)]


def _qiniu150(m: _Mesh) -> list[tuple[str, np.ndarray]]:
    out: list[tuple[str, np.ndarray]] = []
    left, right = m.line("contour_L", 13), m.line("contour_R", 13)
    # Contour: cheek_left_1 at the image-left temple ... chin_1..3 ... cheek_right_11 at the right temple.
    out += [(f"cheek_left_{i + 1}", p) for i, p in enumerate(left[:11])]
    out += [("chin_1", left[11]), ("chin_2", left[12]), ("chin_3", right[1])]
    out += [(f"cheek_right_{i + 1}", p) for i, p in enumerate(right[2:13][::-1])]
    for side, key in (("L", "left"), ("R", "right")):
        up, low = m.line(f"brow_{side}_upper", 7), m.line(f"brow_{side}_lower", 5)
        out += [(f"eyebrow_{key}_corner_left", up[0]), (f"eyebrow_{key}_corner_right", up[6])]
        out += [(f"eyebrow_{key}_upper_{i + 1}", p) for i, p in enumerate(up[1:6])]
        out += [(f"eyebrow_{key}_lower_{i + 1}", p) for i, p in enumerate(low[1:4])]
    for side, key in (("L", "left"), ("R", "right")):
        up, low = m.line(f"eye_{side}_upper", 9), m.line(f"eye_{side}_lower", 9)
        e_left, e_right = m.pupil_edges(side)
        out += [(f"eye_{key}_corner_left", up[0]), (f"eye_{key}_corner_right", up[8])]
        out += [(f"eye_{key}_eyelid_upper_{i + 1}", p) for i, p in enumerate(up[1:8])]
        out += [(f"eye_{key}_eyelid_lower_{i + 1}", p) for i, p in enumerate(low[1:8])]
        out += [(f"eye_{key}_eyeball_center", m.pupil(side)), (f"eye_{key}_eyeball_left", e_left),
                (f"eye_{key}_eyeball_right", e_right)]
    bridge = m.line("nose_bridge", 5)
    out += [(f"nose_bridge_{i + 1}", p) for i, p in enumerate(bridge[:3])] + [("nose_tip", m[1])]
    for side, key in (("L", "left"), ("R", "right")):
        line = m.line(f"nose_side_{side}", 10)
        out += [(f"nose_{key}_contour_{i + 1}", p) for i, p in enumerate(line[:8])]
    out += [("nose_middle_contour", m[2]), ("nose_nostril_left", m.mean(98, 64)),
            ("nose_nostril_right", m.mean(327, 294))]
    uo, lo = m.line("lip_upper_outer", 13), m.line("lip_lower_outer", 13)
    ui, li = m.line("lip_upper_inner", 11), m.line("lip_lower_inner", 11)
    out += [("mouth_corner_left_outer", uo[0]), ("mouth_corner_right_outer", uo[12]),
            ("mouth_corner_left_inner", ui[0]), ("mouth_corner_right_inner", ui[10])]
    out += [(f"mouth_lip_upper_outer_{i + 1}", p) for i, p in enumerate(uo[1:12])]
    out += [(f"mouth_lip_upper_inner_{i + 1}", p) for i, p in enumerate(ui[1:10])]
    out += [(f"mouth_lip_lower_outer_{i + 1}", p) for i, p in enumerate(lo[1:12])]
    out += [(f"mouth_lip_lower_inner_{i + 1}", p) for i, p in enumerate(li[1:10])]
    return out


_BUILDERS = {"threedivi21": _threedivi21, "rekognition30": _rekognition30, "qiniu4": _qiniu4,
             "qiniu72": _qiniu72, "qiniu150": _qiniu150}


def keypoint_set(name: str, mesh: np.ndarray, iris: np.ndarray | None = None) -> list[tuple[str, float, float]]:
    """The named keypoints of set ``name`` for one face's mesh (468 x 2+, pixels)."""
    try:
        build = _BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown keypoint set {name!r}; known: {', '.join(SETS)}") from None
    m = _Mesh(mesh, iris)
    return [(n, float(p[0]), float(p[1])) for n, p in build(m)]
