"""1:N on the real fixtures: enrol people/, search every scene (service, native API, CLI)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from fixture_labels import people_images
from visage.api.app import create_app
from visage.cli import main
from visage.collections import CollectionService
from visage.config import Settings
from visage.errors import AlreadyExistsError, NoFaceError, NotFoundError, TemplateMismatchError
from visage.store import open_store

pytestmark = pytest.mark.slow

# Who is in each scene, largest face first (None: a person not enrolled).
SCENES = {
    "scenes/alex_lacamoire1.jpg": ["alex_lacamoire"],
    "scenes/johnsnow_test1.jpg": ["kit_harington"],
    "scenes/kit_with_rose.jpg": ["kit_harington", "rose_leslie"],
    "scenes/obama1.jpg": ["obama"],
    "scenes/obama_and_biden.jpg": ["obama", None, "biden"],
    "two_people.jpg": ["biden", "obama"],
}


@pytest.fixture(scope="module")
def service(engine, faces_dir, tmp_path_factory):
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('coll')}/visage.db")
    svc = CollectionService(engine, store)
    svc.create_collection("people")
    for who, path in people_images(faces_dir):
        result = svc.index_faces("people", path.read_bytes(), external_image_id=who)
        assert len(result.indexed) == 1 and not result.unindexed
    yield svc
    store.close()


@pytest.mark.parametrize("scene", list(SCENES))
def test_every_scene_face_finds_its_identity_first(service, faces_dir, scene) -> None:
    _, results = service.search_by_image("people", (faces_dir / scene).read_bytes(), all_faces=True, max_faces=3)
    expected = SCENES[scene]
    assert len(results) == len(expected)
    for result, who in zip(results, expected, strict=True):
        if who is None:
            assert result.matches == ()  # nobody above the calibrated threshold
        else:
            assert result.matches and result.matches[0].face.external_image_id == who
            assert all(m.similarity >= 0.5 for m in result.matches)


def test_collection_bookkeeping(service, faces_dir) -> None:
    info = service.describe_collection("people")
    assert (info.face_count, info.model, info.dim) == (9, "dlib_resnet_v1", 128)
    with pytest.raises(AlreadyExistsError):
        service.create_collection("people")
    with pytest.raises(NotFoundError):
        service.describe_collection("nobody")


def test_same_image_and_external_id_do_not_duplicate(service, faces_dir) -> None:
    data = (faces_dir / "people/obama/obama.jpg").read_bytes()
    before = service.describe_collection("people").face_count
    first = service.index_faces("people", data, external_image_id="obama")
    assert service.describe_collection("people").face_count == before
    faces, _ = service.list_faces("people", 100)
    assert first.indexed[0][0].face_id in {f.face_id for f in faces}


def test_max_faces_and_quality_filter(service, faces_dir) -> None:
    service.create_collection("scene")
    result = service.index_faces("scene", (faces_dir / "scenes/obama_and_biden.jpg").read_bytes(), max_faces=1)
    assert len(result.indexed) == 1
    assert [u.reasons for u in result.unindexed] == [("EXCEEDS_MAX_FACES",), ("EXCEEDS_MAX_FACES",)]
    small = service.index_faces("scene", (faces_dir / "obama-240p.jpg").read_bytes(), quality_filter="HIGH")
    assert small.unindexed and "SMALL_BOUNDING_BOX" in small.unindexed[0].reasons
    service.delete_collection("scene")


def test_search_by_face_id_and_users(service) -> None:
    faces, _ = service.list_faces("people", 100)
    kit = [f for f in faces if f.external_image_id == "kit_harington"]
    probe, matches = service.search_faces("people", kit[0].face_id)
    assert matches[0].face.face_id == kit[1].face_id and probe.face_id == kit[0].face_id
    service.create_user("people", "kit")
    assoc = service.associate_faces("people", "kit", [f.face_id for f in kit])
    assert set(assoc.succeeded) == {f.face_id for f in kit}
    users = service.search_users_by_face("people", kit[0].face_id)
    assert users[0].user_id == "kit"


def test_search_without_face_and_model_mismatch(engine, service, faces_dir, tmp_path) -> None:
    from tests_support import flat_png

    with pytest.raises(NoFaceError):
        service.search_by_image("people", flat_png())
    service.store.create_collection("other-model", "some_other_model", 128)
    with pytest.raises(TemplateMismatchError):
        service.index_faces("other-model", (faces_dir / "obama.jpg").read_bytes())


def test_native_collection_api(engine, faces_dir, tmp_path) -> None:
    settings = Settings(store_url=f"sqlite:///{tmp_path}/api.db", api_keys="reader,boss:admin")
    admin, reader = {"authorization": "Bearer boss"}, {"authorization": "Bearer reader"}
    with TestClient(create_app(settings, engine)) as c:
        assert c.post("/v1/collections", json={"collection_id": "c1"}, headers=reader).status_code == 403
        r = c.post("/v1/collections", json={"collection_id": "c1"}, headers=admin)
        assert r.status_code == 200 and r.json()["model"] == "dlib_resnet_v1"
        assert c.post("/v1/collections", json={"collection_id": "c1"}, headers=admin).status_code == 409
        for who, path in people_images(faces_dir):
            r = c.post("/v1/collections/c1/faces", headers={**admin, "content-type": "image/jpeg"},
                       params={"external_image_id": who}, content=path.read_bytes())
            assert r.status_code == 200 and len(r.json()["indexed"]) == 1
        page1 = c.get("/v1/collections/c1/faces", params={"max_results": 4}, headers=reader).json()
        page2 = c.get("/v1/collections/c1/faces", params={"max_results": 100, "next_token": page1["next_token"]},
                      headers=reader).json()
        assert len(page1["faces"]) + len(page2["faces"]) == 9 and page2["next_token"] is None
        r = c.post("/v1/collections/c1/search", headers=reader, files={
            "image": ("s.jpg", (faces_dir / "scenes/kit_with_rose.jpg").read_bytes())}, data={"all_faces": "true"})
        tops = [res["matches"][0]["face"]["external_image_id"] for res in r.json()["results"]]
        assert tops == ["kit_harington", "rose_leslie"]
        export = c.get("/v1/collections/c1/export", headers=admin)
        assert export.status_code == 200 and len(export.text.strip().splitlines()) >= 9
        r = c.post("/v1/collections/import", params={"collection_id": "c2"}, content=export.content, headers=admin)
        assert r.status_code == 200 and r.json()["face_count"] == 9
        assert c.get("/v1/collections/missing", headers=reader).json()["error"]["code"] == "not_found"
        r = c.post("/v1/collections/import", content=b"\xff\xfe", headers=admin)
        assert r.status_code == 400
        assert c.delete("/v1/collections/c2", headers=admin).status_code == 200
        assert c.get("/v1/collections", headers=reader).json()["collection_ids"] == ["c1"]


def test_cli_index_and_search(faces_dir, tmp_path, capsys) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    assert main(["index", str(faces_dir / "people"), "--collection", "cli", "--store", url, "--quiet"]) == 0
    assert "9 faces indexed" in capsys.readouterr().out
    assert main(["collections", "search", "cli", "--image", str(faces_dir / "scenes/obama1.jpg"),
                 "--store", url]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["matches"][0]["face"]["external_image_id"].startswith("obama/")
    out = tmp_path / "backup.jsonl"
    assert main(["collections", "export", "cli", "--file", str(out), "--store", url]) == 0
    assert len(out.read_text().splitlines()) >= 9
