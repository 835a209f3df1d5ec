"""Collections, faces and users through the real boto3 client: index people, search scenes, users."""

from __future__ import annotations

import pytest
from rek_support import Wire, check_output, client

pytestmark = pytest.mark.slow

PEOPLE = {
    "obama": ["obama.jpg", "obama2.jpg"],
    "biden": ["biden.jpg", "biden2.jpg"],
    "kit_harington": ["john1.jpeg", "john2.jpeg"],
    "rose_leslie": ["img1.jpg", "img2.jpg"],
    "alex_lacamoire": ["img1.jpg"],
}


@pytest.fixture(scope="module")
def wire() -> Wire:
    return Wire()


@pytest.fixture(scope="module")
def rek(endpoint, wire):
    c = client(endpoint, wire=wire)
    original = c._make_api_call

    def checked(operation_name, params):  # every successful response is checked against the model
        out = original(operation_name, params)
        check_output(operation_name, wire.last)
        return out

    c._make_api_call = checked
    return c


def image(faces_dir, path: str) -> dict:
    return {"Bytes": (faces_dir / path).read_bytes()}


@pytest.fixture(scope="module")
def people(rek, faces_dir) -> dict[str, list[str]]:
    """The 'people' collection with every labelled photo indexed: identity -> face ids."""
    out = rek.create_collection(CollectionId="people")
    assert out["StatusCode"] == 200 and out["CollectionArn"].endswith(":collection/people")
    assert out["CollectionArn"].startswith("aws:rekognition:eu-west-1:")
    faces: dict[str, list[str]] = {}
    for who, files in PEOPLE.items():
        for name in files:
            r = rek.index_faces(CollectionId="people", Image=image(faces_dir, f"people/{who}/{name}"),
                                ExternalImageId=who, MaxFaces=1, QualityFilter="NONE")
            assert len(r["FaceRecords"]) == 1, (who, name, r["UnindexedFaces"])
            assert r["FaceModelVersion"] == out["FaceModelVersion"]
            face = r["FaceRecords"][0]["Face"]
            assert face["ExternalImageId"] == who and 0 < face["BoundingBox"]["Width"] <= 1
            faces.setdefault(who, []).append(face["FaceId"])
    return faces


def test_collection_lifecycle_and_errors(rek) -> None:
    rek.create_collection(CollectionId="tmp.lifecycle")
    with pytest.raises(rek.exceptions.ResourceAlreadyExistsException):
        rek.create_collection(CollectionId="tmp.lifecycle")
    d = rek.describe_collection(CollectionId="tmp.lifecycle")
    assert d["FaceCount"] == 0 and d["UserCount"] == 0 and d["CollectionARN"].endswith("/tmp.lifecycle")
    assert d["CreationTimestamp"].year >= 2024
    assert "tmp.lifecycle" in rek.list_collections()["CollectionIds"]
    assert rek.delete_collection(CollectionId="tmp.lifecycle")["StatusCode"] == 200
    for call in (lambda: rek.describe_collection(CollectionId="tmp.lifecycle"),
                 lambda: rek.delete_collection(CollectionId="tmp.lifecycle"),
                 lambda: rek.list_faces(CollectionId="tmp.lifecycle"),
                 lambda: rek.index_faces(CollectionId="tmp.lifecycle", Image={"Bytes": b"x"})):
        with pytest.raises(rek.exceptions.ResourceNotFoundException):
            call()


def test_list_collections_paginator(rek) -> None:
    for i in range(3):
        rek.create_collection(CollectionId=f"page-{i}")
    pages = list(rek.get_paginator("list_collections").paginate(PaginationConfig={"PageSize": 2}))
    ids = [c for page in pages for c in page["CollectionIds"]]
    assert {"page-0", "page-1", "page-2"} <= set(ids) and len(ids) == len(set(ids))
    assert len(pages) >= 2 and all(len(p["FaceModelVersions"]) == len(p["CollectionIds"]) for p in pages)
    with pytest.raises(rek.exceptions.InvalidPaginationTokenException):
        rek.list_collections(NextToken="not-a-token")


def test_index_is_idempotent_and_list_faces_paginates(rek, people, faces_dir) -> None:
    again = rek.index_faces(CollectionId="people", Image=image(faces_dir, "people/obama/obama.jpg"),
                            ExternalImageId="obama")
    assert again["FaceRecords"][0]["Face"]["FaceId"] == people["obama"][0]
    total = sum(len(v) for v in people.values())
    assert rek.describe_collection(CollectionId="people")["FaceCount"] == total
    pages = list(rek.get_paginator("list_faces").paginate(CollectionId="people", PaginationConfig={"PageSize": 3}))
    faces = [f for page in pages for f in page["Faces"]]
    assert len(pages) == -(-total // 3) and len(faces) == total
    assert {f["FaceId"] for f in faces} == {fid for ids in people.values() for fid in ids}
    by_id = {f["FaceId"]: f for f in faces}
    assert by_id[people["biden"][1]]["ExternalImageId"] == "biden"
    picked = rek.list_faces(CollectionId="people", FaceIds=people["rose_leslie"])["Faces"]
    assert {f["FaceId"] for f in picked} == set(people["rose_leslie"])


def test_index_scene_max_faces_and_detection_attributes(rek, faces_dir) -> None:
    rek.create_collection(CollectionId="scenes")
    r = rek.index_faces(CollectionId="scenes", Image=image(faces_dir, "scenes/obama_and_biden.jpg"), MaxFaces=1,
                        DetectionAttributes=["ALL"], QualityFilter="NONE")
    assert len(r["FaceRecords"]) == 1 and len(r["UnindexedFaces"]) == 2
    assert all(u["Reasons"] == ["EXCEEDS_MAX_FACES"] for u in r["UnindexedFaces"])
    indexed = r["FaceRecords"][0]["FaceDetail"]["BoundingBox"]
    assert all(indexed["Width"] * indexed["Height"] >= u["FaceDetail"]["BoundingBox"]["Width"]
               * u["FaceDetail"]["BoundingBox"]["Height"] for u in r["UnindexedFaces"])
    assert len(r["FaceRecords"][0]["FaceDetail"]["Landmarks"]) == 30
    small = rek.index_faces(CollectionId="scenes", Image=image(faces_dir, "obama_small.jpg"), QualityFilter="HIGH")
    for u in small["UnindexedFaces"]:
        assert u["Reasons"] and set(u["Reasons"]) <= {"SMALL_BOUNDING_BOX", "LOW_CONFIDENCE", "EXTREME_POSE"}


@pytest.mark.parametrize(("scene", "who"), [
    ("scenes/obama1.jpg", "obama"),
    ("scenes/johnsnow_test1.jpg", "kit_harington"),
    ("scenes/alex_lacamoire1.jpg", "alex_lacamoire"),
])
def test_search_faces_by_image_finds_the_person(rek, people, faces_dir, scene, who) -> None:
    r = rek.search_faces_by_image(CollectionId="people", Image=image(faces_dir, scene), MaxFaces=5)
    assert r["FaceMatches"], f"nobody found in {scene}"
    assert {m["Face"]["ExternalImageId"] for m in r["FaceMatches"]} == {who}
    sims = [m["Similarity"] for m in r["FaceMatches"]]
    assert sims == sorted(sims, reverse=True) and all(80 <= s <= 100 for s in sims)
    assert 0 < r["SearchedFaceBoundingBox"]["Width"] <= 1 and r["SearchedFaceConfidence"] > 50


def test_search_faces_by_face_id_and_thresholds(rek, people) -> None:
    r = rek.search_faces(CollectionId="people", FaceId=people["obama"][0])
    assert r["SearchedFaceId"] == people["obama"][0]
    assert [m["Face"]["FaceId"] for m in r["FaceMatches"]] == [people["obama"][1]]
    everyone = rek.search_faces(CollectionId="people", FaceId=people["obama"][0], FaceMatchThreshold=0, MaxFaces=4096)
    total = sum(len(v) for v in people.values())
    assert len(everyone["FaceMatches"]) == total - 1
    assert everyone["FaceMatches"][0]["Face"]["FaceId"] == people["obama"][1]
    with pytest.raises(rek.exceptions.ResourceNotFoundException):
        rek.search_faces(CollectionId="people", FaceId="00000000-0000-4000-8000-000000000000")


def test_search_by_image_without_a_face(rek, people) -> None:
    from tests_support import flat_png

    with pytest.raises(rek.exceptions.InvalidParameterException):
        rek.search_faces_by_image(CollectionId="people", Image={"Bytes": flat_png()})
    with pytest.raises(rek.exceptions.InvalidImageFormatException):
        rek.search_faces_by_image(CollectionId="people", Image={"Bytes": b"GIF89a-not-really"})


def test_users_end_to_end(rek, people, faces_dir) -> None:
    rek.create_user(CollectionId="people", UserId="barack", ClientRequestToken="create-barack-1")
    # A retry with the same token succeeds; a new request for the same user conflicts, as on AWS.
    rek.create_user(CollectionId="people", UserId="barack", ClientRequestToken="create-barack-1")
    with pytest.raises(rek.exceptions.ConflictException):
        rek.create_user(CollectionId="people", UserId="barack")
    rek.create_user(CollectionId="people", UserId="joe")

    first = rek.associate_faces(CollectionId="people", UserId="barack", FaceIds=people["obama"][:1])
    assert [f["FaceId"] for f in first["AssociatedFaces"]] == people["obama"][:1]
    missing = "00000000-0000-4000-8000-000000000000"
    mixed = rek.associate_faces(CollectionId="people", UserId="barack",
                                FaceIds=[people["obama"][1], people["biden"][0], missing])
    assert [f["FaceId"] for f in mixed["AssociatedFaces"]] == [people["obama"][1]]
    reasons = {u["FaceId"]: u["Reasons"] for u in mixed["UnsuccessfulFaceAssociations"]}
    assert reasons == {people["biden"][0]: ["LOW_MATCH_CONFIDENCE"],
                       missing: ["FACE_NOT_FOUND"]}
    low = next(u for u in mixed["UnsuccessfulFaceAssociations"] if u["FaceId"] == people["biden"][0])
    assert 0 <= low["Confidence"] < 75
    rek.associate_faces(CollectionId="people", UserId="joe", FaceIds=people["biden"])
    taken = rek.associate_faces(CollectionId="people", UserId="joe", FaceIds=people["obama"][:1])
    assert taken["UnsuccessfulFaceAssociations"][0]["Reasons"] == ["ASSOCIATED_TO_A_DIFFERENT_USER"]

    users = rek.list_users(CollectionId="people")["Users"]
    assert {u["UserId"] for u in users} == {"barack", "joe"} and all(u["UserStatus"] for u in users)
    assert rek.describe_collection(CollectionId="people")["UserCount"] == 2
    listed = rek.list_faces(CollectionId="people", UserId="barack")["Faces"]
    assert {f["FaceId"] for f in listed} == set(people["obama"]) and all(f["UserId"] == "barack" for f in listed)

    by_face = rek.search_users(CollectionId="people", FaceId=people["obama"][0])
    assert by_face["UserMatches"][0]["User"]["UserId"] == "barack" and by_face["SearchedFace"]["FaceId"]
    by_user = rek.search_users(CollectionId="people", UserId="joe")
    assert by_user["UserMatches"][0]["User"]["UserId"] == "joe" and by_user["SearchedUser"] == {"UserId": "joe"}

    scene = rek.search_users_by_image(CollectionId="people", Image=image(faces_dir, "scenes/obama1.jpg"))
    assert [m["User"]["UserId"] for m in scene["UserMatches"]] == ["barack"]
    assert "BoundingBox" in scene["SearchedFace"]["FaceDetail"]
    group = rek.search_users_by_image(CollectionId="people", Image=image(faces_dir, "scenes/obama_and_biden.jpg"),
                                      UserMatchThreshold=0)
    assert len(group["UnsearchedFaces"]) == 2
    assert all(u["Reasons"] == ["FACE_NOT_LARGEST"] for u in group["UnsearchedFaces"])

    blocked = rek.delete_faces(CollectionId="people", FaceIds=[people["obama"][1]])
    assert blocked["DeletedFaces"] == []
    assert blocked["UnsuccessfulFaceDeletions"] == [
        {"FaceId": people["obama"][1], "UserId": "barack", "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"]}]
    out = rek.disassociate_faces(CollectionId="people", UserId="barack",
                                 FaceIds=[people["obama"][1], people["biden"][0]])
    assert [f["FaceId"] for f in out["DisassociatedFaces"]] == [people["obama"][1]]
    assert out["UnsuccessfulFaceDisassociations"][0]["Reasons"] == ["ASSOCIATED_TO_A_DIFFERENT_USER"]

    rek.delete_user(CollectionId="people", UserId="joe", ClientRequestToken="delete-joe-1")
    rek.delete_user(CollectionId="people", UserId="joe", ClientRequestToken="delete-joe-1")
    with pytest.raises(rek.exceptions.ResourceNotFoundException):
        rek.delete_user(CollectionId="people", UserId="joe")
    with pytest.raises(rek.exceptions.ResourceNotFoundException):
        rek.associate_faces(CollectionId="people", UserId="nobody", FaceIds=people["rose_leslie"])


def test_delete_faces(rek, faces_dir) -> None:
    rek.create_collection(CollectionId="deletes")
    r = rek.index_faces(CollectionId="deletes", Image=image(faces_dir, "two_people.jpg"))
    ids = [f["Face"]["FaceId"] for f in r["FaceRecords"]]
    assert len(ids) == 2
    missing = "00000000-0000-4000-8000-000000000000"
    out = rek.delete_faces(CollectionId="deletes", FaceIds=[ids[0], missing])
    assert out["DeletedFaces"] == [ids[0]]
    assert out["UnsuccessfulFaceDeletions"] == [{"FaceId": missing, "Reasons": ["FACE_NOT_FOUND"]}]
    assert [f["FaceId"] for f in rek.list_faces(CollectionId="deletes")["Faces"]] == [ids[1]]
    rek.delete_collection(CollectionId="deletes")
