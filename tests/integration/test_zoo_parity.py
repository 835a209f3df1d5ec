"""ONNX conversions vs the same TF.js model run by @tensorflow/tfjs (pure-JS CPU backend) in Node.

Needs node and npm; installs @tensorflow/tfjs into $VISAGE_HOME/tfjs-node-ref on first use. Every
model the fast pipeline can use is checked on a real face photo fed the way the pipeline feeds it:
max |onnx - tfjs| < 1e-3 on every output.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import pytest

from visage.config import Settings
from visage.models.fetch import ensure_models
from visage.models.parity import check_model, ensure_tfjs, model_input
from visage.models.registry import zoo_specs

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "faces" / "obama.jpg"
MODELS = ["facemesh-detection-short", "facemesh-detection-full", "facemesh", "iris", "faceres-deep", "faceres",
          "mobileface"]


@pytest.fixture(scope="module")
def setup():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("parity needs node and npm on PATH")
    settings = Settings()
    paths = ensure_models(zoo_specs(MODELS), settings.models_dir)
    tfjs = ensure_tfjs(settings.home)
    image = cv2.cvtColor(cv2.imread(str(FIXTURE)), cv2.COLOR_BGR2RGB) if FIXTURE.is_file() else None
    return paths, tfjs, image


@pytest.mark.parametrize("name", MODELS)
def test_onnx_matches_tfjs(setup, name: str) -> None:
    paths, tfjs, image = setup
    model_json = paths[f"human-{name}"]
    result = check_model(model_json, model_input(model_json, image), tfjs)
    assert result.worst < 1e-3, result.max_abs
