"""Wrote store_before_image_size.db, run with PYTHONPATH at the store of commit 23317ad (kept to document it).

Usage: python make_store_before_image_size.py OUT.db
"""

import sys
from datetime import UTC, datetime

import numpy as np

from visage.store import NewFace, open_store
from visage.types import Box, Template

path = sys.argv[1]
s = open_store(f"sqlite:///{path}")
s.create_collection("before", "test-model", 16)
rng = np.random.default_rng(7)
v = rng.standard_normal((12, 16)).astype(np.float32)
v /= np.linalg.norm(v, axis=1, keepdims=True)
faces = [NewFace(image_id=f"img-{i}", box=Box(10.0 + i, 20.0, 64.0, 80.0), confidence=0.99,
                 template=Template("test-model", v[i]), external_image_id=f"ext-{i}",
                 quality={"sharpness": 0.5}, created_at=datetime(2026, 11, 1, tzinfo=UTC))
         for i in range(12)]
recs = s.add_faces("before", faces)
s.create_user("before", "alice")
s.associate_faces("before", "alice", [recs[0].face_id, recs[1].face_id])
s.close()
print([r.face_id for r in recs])
