"""Every dialect's face limit reaches the engine: Qiniu's max_face_num up to 120 fits under the engine's cap,
Rekognition asks for its 100 largest faces, IndexFaces analyses at most 100."""

from __future__ import annotations

from types import SimpleNamespace

from visage import collections
from visage.analysis.fast_pipeline import FastConfig
from visage.api.dialects.qiniu.schemas import MAX_FACE_NUM
from visage.api.dialects.rekognition.routes import REKOGNITION_MAX_FACES, analysis_options
from visage.config import Settings
from visage.types import ImageAnalysis


def test_engine_cap_admits_qiniu_max_face_num() -> None:
    assert Settings().max_faces >= MAX_FACE_NUM == 120
    assert FastConfig().max_faces >= MAX_FACE_NUM


def test_rekognition_asks_for_the_100_largest() -> None:
    assert REKOGNITION_MAX_FACES == 100
    assert analysis_options().max_faces == 100
    assert analysis_options(templates=True, wanted={"AgeRange"}).max_faces == 100


def test_index_faces_analyses_at_most_max_index_faces() -> None:
    asked = []

    class Engine:
        embedder_model = "m"

        def analyze(self, image, options):
            asked.append(options.max_faces)
            return ImageAnalysis(width=10, height=10)

    class Store:
        def describe_collection(self, collection_id):
            return SimpleNamespace(model="m", collection_id=collection_id)

    collections.CollectionService(Engine(), Store()).index_faces("c", b"image", quality_filter="NONE")
    assert asked == [collections.MAX_INDEX_FACES] == [100]


def test_minimum_face_size_setting(monkeypatch) -> None:
    monkeypatch.setenv("VISAGE_MIN_FACE_SIZE", "40")
    assert Settings().min_face_size == 40
