"""dlib's ResNet-29 embedder (CC0) on five points taken from the 468-point mesh.

The commercially-safe choice for the fast pipeline (``VISAGE_EMBEDDER=dlib``): MediaPipe
detection and mesh (Apache-2.0) plus dlib's embedder, whose weights are CC0. dlib aligns its face
chip from the 5-point layout of ``shape_predictor_5``; the mesh supplies the same points: image-right
eye outer and inner corner (263, 362), image-left eye outer and inner corner (33, 133), and the bottom
of the nose (2). Templates are ``dlib_resnet_v1``, the dlib pipeline's model: same network, same space.
"""

from __future__ import annotations

import threading
from pathlib import Path

import dlib
import numpy as np

from visage.analysis.embedders.align import FacePoints
from visage.types import Template

MESH_TO_DLIB5 = (263, 362, 33, 133, 2)
MODEL = "dlib_resnet_v1"


class DlibMeshEmbedder:
    name = "dlib"
    template_model = MODEL
    dim = 128
    model_names = ("dlib_resnet_v1",)

    def __init__(self, path: Path) -> None:
        self._path = str(path)
        self._local = threading.local()
        self._net()  # load now, so a bad file fails at startup

    def _net(self) -> dlib.face_recognition_model_v1:
        """This thread's network (dlib's instances are not safe to share between threads)."""
        net = getattr(self._local, "net", None)
        if net is None:
            net = self._local.net = dlib.face_recognition_model_v1(self._path)
        return net

    def embed(self, image: np.ndarray, faces: list[FacePoints]) -> list[Template]:
        if not faces:
            return []
        shapes = dlib.full_object_detections()
        for face in faces:
            mesh = face.mesh
            if mesh is None:
                raise ValueError("the dlib embedder aligns on Face Mesh points; the pipeline gave none")
            x0, y0 = (int(v) for v in mesh[:, :2].min(axis=0))
            x1, y1 = (int(v) for v in mesh[:, :2].max(axis=0))
            parts = [dlib.point(round(float(x)), round(float(y))) for x, y in mesh[list(MESH_TO_DLIB5), :2]]
            shapes.append(dlib.full_object_detection(dlib.rectangle(x0, y0, x1, y1), parts))
        vectors = self._net().compute_face_descriptor(np.ascontiguousarray(image), shapes, 0, 0.25)
        return [Template.from_vector(MODEL, np.asarray(v)) for v in vectors]
