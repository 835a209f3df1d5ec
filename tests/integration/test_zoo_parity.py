"""ONNX conversions vs the same TF.js model run by @tensorflow/tfjs (pure-JS CPU backend) in Node.

Needs node and npm; installs @tensorflow/tfjs into $VISAGE_HOME/tfjs-node-ref on first use. Each model
the fast pipeline can use gets the input the pipeline itself feeds it on a real photo (detectors: the
letterboxed image; Face Mesh, Iris and the embedders: their aligned crops of the face), and noise:
max |onnx - tfjs| < 1e-3 on every output element, except where |tfjs| > 1000 (float32 spacing is
already above 1e-3 there): those are held to 1e-6 relative.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from visage.analysis.embedders.align import FacePoints
from visage.analysis.embedders.zoo import EMBEDDERS, ZooEmbedder
from visage.analysis.facemesh import roi_from_points, warp_crops
from visage.analysis.fast_pipeline import FastConfig, FastPipeline
from visage.config import Settings
from visage.imaging.decode import load_image
from visage.models.parity import check_model, ensure_tfjs, model_input
from visage.models.zoo import load_zoo_model

pytestmark = pytest.mark.slow

FIXTURE = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "faces" / "two_people.jpg"
MODELS = ["facemesh-detection-short", "facemesh-detection-full", "facemesh", "iris", "faceres-deep", "faceres",
          "mobileface"]


@pytest.fixture(scope="module")
def setup():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("parity needs node and npm on PATH")
    if not FIXTURE.is_file():
        pytest.skip(f"fixture {FIXTURE} not found")
    settings = Settings()
    pipe = FastPipeline.from_settings(settings, FastConfig(iris=True, detector="blazeface"))
    image = load_image(FIXTURE.read_bytes()).rgb
    dets = pipe.detect(image)
    meshes = [m.points for _, m in pipe.landmarks(image, dets)]
    assert len(meshes) == 2
    return settings, pipe, image, dets, meshes, ensure_tfjs(settings.home)


def pipeline_input(name: str, settings, pipe, image, dets, meshes) -> np.ndarray:
    """The batch the fast pipeline feeds model ``name`` for this photo (both faces)."""
    if name == "facemesh-detection-short":
        batch = np.empty((1, 128, 128, 3), np.float32)
        pipe.detector.short.letterbox(image, batch[0])
        return batch
    if name == "facemesh-detection-full":
        batch = np.empty((1, 192, 192, 3), np.float32)
        pipe.detector.full.letterbox(image, batch[0])
        return batch
    if name == "facemesh":
        rois = [roi_from_points(d.keypoints[0], d.keypoints[1], tuple(d.box)) for d in dets]
        crops, _ = warp_crops(image, rois, 192)
        return crops.astype(np.float32) / 255.0
    if name == "iris":
        crops, _ = pipe.iris.crops(image, meshes)
        return crops.astype(np.float32) / 255.0
    emb = ZooEmbedder(load_zoo_model(name, settings.models_dir), EMBEDDERS[name])
    return emb.prepare(emb.crops(image, [FacePoints.from_mesh(m) for m in meshes]))


@pytest.mark.parametrize("name", MODELS)
def test_onnx_matches_tfjs_on_pipeline_input(setup, name: str) -> None:
    settings, pipe, image, dets, meshes, tfjs = setup
    model_json = load_zoo_model(name, settings.models_dir).spec
    path = settings.models_dir / model_json.source.name / model_json.source.version / model_json.filename
    x = pipeline_input(name, settings, pipe, image, dets, meshes)
    result = check_model(path, x, tfjs)
    assert result.ok(), (result.max_abs_small, result.max_rel_large)


@pytest.mark.parametrize("name", MODELS)
def test_onnx_matches_tfjs_on_noise(setup, name: str) -> None:
    settings, *_, tfjs = setup
    spec = load_zoo_model(name, settings.models_dir).spec
    path = settings.models_dir / spec.source.name / spec.source.version / spec.filename
    result = check_model(path, model_input(path, None), tfjs)
    assert result.ok(), (result.max_abs_small, result.max_rel_large)
