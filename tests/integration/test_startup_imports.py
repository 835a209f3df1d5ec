"""`visage serve` imports only what serving needs: the converters' ``onnx`` stack stays out.

Importing ``onnx`` (with ``ml_dtypes`` and protobuf) was most of the 3.4-3.9 s start-up and
seconds more on a busy machine (issue 15); a cached conversion must not need it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import json, sys
import visage.cli
from visage.api.app import create_app
from visage.config import Settings
app = create_app(Settings())
state = app.state.visage
state.load_engine()
state.store
assert state.engine.pipeline.name == "fast", state.engine.pipeline.name
lazy = ("onnx", "ml_dtypes", "google.protobuf", "faiss", "cryptography")
print(json.dumps(sorted(m for m in lazy if m in sys.modules)))
"""


def test_serving_start_up_does_not_import_onnx(tmp_path: Path) -> None:
    # The shipped defaults (the suite's conftest picks the dlib pipeline for other tests).
    env = {k: v for k, v in os.environ.items() if k not in ("VISAGE_PIPELINE", "VISAGE_EMBEDDER", "VISAGE_DETECTOR")}
    env["VISAGE_STORE_URL"] = f"sqlite:///{tmp_path / 'v.db'}"
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
