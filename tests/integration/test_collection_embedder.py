"""A collection made with one embedder keeps indexing and searching after the default changes.

The store records each collection's template model; the service asks the pipeline for the embedder
that makes it (loaded on first use), so templates of different models never mix and an old
collection still finds its people under a new default.
"""

from __future__ import annotations

import pytest

from fixture_labels import people_images
from visage.api.native.collections import collection_json
from visage.collections import CollectionService
from visage.config import Settings
from visage.engine import Engine
from visage.store import open_store

pytestmark = pytest.mark.slow

OLD, NEW = "fr-feature", "mobilefacenet-tflite"


def test_collection_keeps_its_embedder_after_the_default_changes(faces_dir, tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/visage.db"
    people = people_images(faces_dir)
    enrol, probes = people[::2], people[1::2]

    old_engine = Engine(Settings(pipeline="fast", embedder=OLD))
    store = open_store(url)
    svc = CollectionService(old_engine, store)
    info = svc.create_collection("family")
    for who, path in enrol:
        assert len(svc.index_faces("family", path.read_bytes(), external_image_id=who).indexed) == 1
    store.close()
    assert info.model == "faceplugin-fr_feature-512" and info.dim == 512

    new_engine = Engine(Settings(pipeline="fast", embedder=NEW))
    assert new_engine.embedder_model != info.model
    store = open_store(url)
    try:
        svc = CollectionService(new_engine, store)
        described = svc.describe_collection("family")
        assert collection_json(described)["embedder"] == OLD and described.model == info.model
        svc.create_collection("family-v2")  # the documented move: re-index into a new collection
        assert collection_json(svc.describe_collection("family-v2"))["embedder"] == NEW
        hits = 0
        for who, path in probes:
            if who not in {w for w, _ in enrol}:
                continue
            _, results = svc.search_by_image("family", path.read_bytes(), max_faces=1)
            assert results[0].face.template.model == info.model  # probe embedded with the collection's model
            hits += bool(results[0].matches) and results[0].matches[0].face.external_image_id == who
        assert hits >= 3
        # Indexing into the old collection still uses its embedder (no mixed templates).
        who, path = probes[0]
        added = svc.index_faces("family", path.read_bytes(), external_image_id=who)
        assert added.indexed and added.indexed[0][0].template.model == info.model
        assert new_engine.pipeline.embedder.name != OLD and OLD in new_engine.pipeline._others
    finally:
        store.close()
