"""Every TemplateStore operation, run against every backend (see conftest.backend)."""

from __future__ import annotations

import base64
import json
import uuid

import numpy as np
import pytest
from store_helpers import DIM, MODEL, new_faces, template, unit_vectors

from visage.errors import (
    AlreadyExistsError,
    InvalidParameterError,
    LimitExceededError,
    NotFoundError,
    TemplateMismatchError,
)
from visage.store import NewFace, TemplateStore, open_store
from visage.types import Box, Template


def test_open_store_rejects_unknown_scheme() -> None:
    with pytest.raises(InvalidParameterError):
        open_store("mysql://localhost/x")


# ---------------------------------------------------------------------------- collections


def test_create_describe_delete_collection(store: TemplateStore) -> None:
    info = store.create_collection("faces.v1_A-b", MODEL, DIM)
    assert (info.collection_id, info.model, info.dim, info.face_count, info.user_count) == (
        "faces.v1_A-b",
        MODEL,
        DIM,
        0,
        0,
    )
    assert info.created_at.tzinfo is not None
    with pytest.raises(AlreadyExistsError):
        store.create_collection("faces.v1_A-b", MODEL, DIM)
    described = store.describe_collection("faces.v1_A-b")
    assert described.created_at == info.created_at
    store.add_faces("faces.v1_A-b", new_faces(unit_vectors(3)))
    store.create_user("faces.v1_A-b", "alice")
    described = store.describe_collection("faces.v1_A-b")
    assert (described.face_count, described.user_count) == (3, 1)
    store.delete_collection("faces.v1_A-b")
    with pytest.raises(NotFoundError):
        store.describe_collection("faces.v1_A-b")
    with pytest.raises(NotFoundError):
        store.delete_collection("faces.v1_A-b")
    # the same id again starts empty
    store.create_collection("faces.v1_A-b", MODEL, DIM)
    assert store.describe_collection("faces.v1_A-b").face_count == 0
    assert store.search("faces.v1_A-b", template(unit_vectors(1)[0])) == []


@pytest.mark.parametrize("bad", ["", "has space", "slash/no", "x" * 256, "ünï"])
def test_collection_id_validation(store: TemplateStore, bad: str) -> None:
    with pytest.raises(InvalidParameterError):
        store.create_collection(bad, MODEL, DIM)


def test_collection_id_max_length_ok(store: TemplateStore) -> None:
    store.create_collection("x" * 255, MODEL, DIM)
    assert store.describe_collection("x" * 255).collection_id == "x" * 255


def test_list_collections_paginates(store: TemplateStore) -> None:
    ids = sorted(f"c{i:02d}" for i in range(7))
    for cid in reversed(ids):
        store.create_collection(cid, MODEL, DIM)
    seen, token, pages = [], None, 0
    while True:
        page, token = store.list_collections(max_results=3, next_token=token)
        seen += page
        pages += 1
        if token is None:
            break
        assert isinstance(token, str)
    assert seen == ids and pages == 3
    with pytest.raises(InvalidParameterError):
        store.list_collections(max_results=3, next_token="garbage!")
    with pytest.raises(InvalidParameterError):
        store.list_collections(max_results=0)


def test_missing_collection_is_not_found(store: TemplateStore) -> None:
    t = template(unit_vectors(1)[0])
    for call in (
        lambda: store.describe_collection("nope"),
        lambda: store.add_faces("nope", new_faces(unit_vectors(1))),
        lambda: store.get_faces("nope", ["x"]),
        lambda: store.list_faces("nope"),
        lambda: store.delete_faces("nope", ["x"]),
        lambda: store.search("nope", t),
        lambda: store.create_user("nope", "u"),
        lambda: store.list_users("nope"),
        lambda: store.search_users("nope", t),
    ):
        with pytest.raises(NotFoundError):
            call()


# ---------------------------------------------------------------------------- faces


def test_add_faces_round_trips_every_field(store: TemplateStore) -> None:
    store.create_collection("c", MODEL, DIM)
    vecs = unit_vectors(4)
    faces = new_faces(vecs)
    out = store.add_faces("c", faces)
    assert len(out) == 4
    for rec, new, vec in zip(out, faces, vecs, strict=True):
        assert uuid.UUID(rec.face_id).version == 4
        assert rec.collection_id == "c"
        assert (rec.image_id, rec.external_image_id) == (new.image_id, new.external_image_id)
        assert rec.box == new.box
        assert rec.confidence == pytest.approx(0.99, abs=1e-6)
        assert rec.quality == {"sharpness": 0.5, "brightness": 0.25}
        assert rec.template.model == MODEL
        np.testing.assert_array_equal(rec.template.vector, new.template.vector)  # exact bits
        np.testing.assert_allclose(rec.template.vector, vec, atol=1e-6)
        assert rec.user_id is None
    got = store.get_faces("c", [out[2].face_id, "missing", out[0].face_id])
    assert [g.face_id for g in got] == [out[2].face_id, out[0].face_id]
    np.testing.assert_array_equal(got[0].template.vector, faces[2].template.vector)
    assert got[0].created_at == out[2].created_at


def test_add_faces_is_idempotent(store: TemplateStore) -> None:
    store.create_collection("c", MODEL, DIM)
    faces = new_faces(unit_vectors(5))
    first = store.add_faces("c", faces)
    again = store.add_faces("c", faces)
    assert [f.face_id for f in again] == [f.face_id for f in first]
    assert store.describe_collection("c").face_count == 5
    # same image and external id, box differing by sub-pixel jitter: the same face
    jitter = NewFace(
        image_id=faces[0].image_id,
        external_image_id=faces[0].external_image_id,
        box=Box(faces[0].box.left + 0.2, faces[0].box.top - 0.3, 64.1, 79.8),
        confidence=0.5,
        template=faces[0].template,
    )
    assert store.add_faces("c", [jitter])[0].face_id == first[0].face_id
    # a duplicate inside one batch is stored once
    twin = new_faces(unit_vectors(1, seed=9), prefix="twin")
    out = store.add_faces("c", twin + twin)
    assert out[0].face_id == out[1].face_id
    # another box in the same image is another face
    other = NewFace(image_id=faces[0].image_id, box=Box(300, 300, 50, 50), confidence=0.9,
                    template=faces[0].template)  # fmt: skip
    assert store.add_faces("c", [other])[0].face_id != first[0].face_id
    assert store.describe_collection("c").face_count == 7


def test_template_mismatch(store: TemplateStore) -> None:
    store.create_collection("c", MODEL, DIM)
    other_model = new_faces(unit_vectors(1), model="another-model")
    with pytest.raises(TemplateMismatchError):
        store.add_faces("c", other_model)
    other_dim = new_faces(unit_vectors(1, dim=DIM * 2))
    with pytest.raises(TemplateMismatchError):
        store.add_faces("c", other_dim)
    # nothing of a rejected batch is stored, even the valid part
    with pytest.raises(TemplateMismatchError):
        store.add_faces("c", new_faces(unit_vectors(2)) + other_model)
    assert store.describe_collection("c").face_count == 0
    with pytest.raises(TemplateMismatchError):
        store.search("c", template(unit_vectors(1)[0], model="another-model"))
    with pytest.raises(TemplateMismatchError):
        store.search_users("c", template(unit_vectors(1, dim=8)[0]))


def test_list_faces_paginates_every_face_once(store: TemplateStore) -> None:
    store.create_collection("c", MODEL, DIM)
    store.create_collection("d", MODEL, DIM)
    added = store.add_faces("c", new_faces(unit_vectors(23)))
    seen, token = [], None
    while True:
        page, token = store.list_faces("c", max_results=5, next_token=token)
        assert len(page) <= 5
        seen += [f.face_id for f in page]
        if token is None:
            break
        last_token = token
    assert sorted(seen) == sorted(f.face_id for f in added) and len(seen) == 23
    with pytest.raises(InvalidParameterError):  # a token only works for its own listing
        store.list_faces("d", max_results=5, next_token=last_token)
    with pytest.raises(InvalidParameterError):
        store.list_faces("c", max_results=5, next_token="not-a-token")
    # faces deleted between pages do not break the walk
    page, token = store.list_faces("c", max_results=10)
    store.delete_faces("c", [f.face_id for f in page[5:]])
    rest, token = store.list_faces("c", max_results=100, next_token=token)
    assert token is None and len(rest) == 13


def test_delete_faces(store: TemplateStore) -> None:
    store.create_collection("c", MODEL, DIM)
    vecs = unit_vectors(10)
    added = store.add_faces("c", new_faces(vecs))
    store.create_user("c", "bob")
    store.associate_faces("c", "bob", [added[0].face_id, added[1].face_id])
    deleted = store.delete_faces("c", [added[0].face_id, "missing", added[2].face_id])
    assert deleted == [added[0].face_id, added[2].face_id]
    assert store.get_faces("c", [added[0].face_id]) == []
    assert store.describe_collection("c").face_count == 8
    assert store.get_user("c", "bob").face_ids == (added[1].face_id,)
    hits = store.search("c", template(vecs[0]), max_results=10)
    assert added[0].face_id not in {h.face.face_id for h in hits}
    assert len(hits) == 8
    assert store.delete_faces("c", [added[0].face_id]) == []


def test_search_ranks_by_cosine(store: TemplateStore) -> None:
    store.create_collection("c", MODEL, DIM)
    vecs = unit_vectors(50)
    added = store.add_faces("c", new_faces(vecs))
    for i in (0, 17, 49):
        hits = store.search("c", template(vecs[i]), max_results=5)
        assert hits[0].face.face_id == added[i].face_id
        assert hits[0].cosine == pytest.approx(1.0, abs=1e-5)
        cos = [h.cosine for h in hits]
        assert cos == sorted(cos, reverse=True)
        expected = np.sort(vecs @ vecs[i])[::-1][:5]
        np.testing.assert_allclose(cos, expected, atol=1e-5)
        np.testing.assert_allclose(hits[0].face.template.vector, vecs[i], atol=1e-6)
    hits = store.search("c", template(vecs[3]), max_results=50, min_cosine=0.3)
    assert hits and all(h.cosine >= 0.3 for h in hits)
    assert len(hits) == int(np.sum(vecs @ vecs[3] >= 0.3 + 1e-6)) or len(hits) == int(
        np.sum(vecs @ vecs[3] >= 0.3 - 1e-6)
    )
    assert len(store.search("c", template(vecs[3]), max_results=100)) == 50
    with pytest.raises(InvalidParameterError):
        store.search("c", template(vecs[3]), max_results=0)


def test_search_normalises_the_probe(store: TemplateStore) -> None:
    store.create_collection("c", MODEL, DIM)
    vecs = unit_vectors(5)
    added = store.add_faces("c", new_faces(vecs))
    raw = Template(MODEL, (vecs[2] * 3.0).astype(np.float32))  # not unit length
    hit = store.search("c", raw, max_results=1)[0]
    assert hit.face.face_id == added[2].face_id and hit.cosine == pytest.approx(1.0, abs=1e-5)


# ---------------------------------------------------------------------------- users


def test_user_lifecycle(store: TemplateStore) -> None:
    store.create_collection("c", MODEL, DIM)
    added = store.add_faces("c", new_faces(unit_vectors(6)))
    ids = [f.face_id for f in added]
    user = store.create_user("c", "alice")
    assert (user.user_id, user.face_ids, user.status) == ("alice", (), "ACTIVE")
    with pytest.raises(AlreadyExistsError):
        store.create_user("c", "alice")
    with pytest.raises(InvalidParameterError):
        store.create_user("c", "bad id")
    store.create_user("c", "bob")

    res = store.associate_faces("c", "alice", [ids[0], ids[1], "ghost"])
    assert res.succeeded == (ids[0], ids[1]) and res.failed == {"ghost": "face_not_found"}
    assert store.associate_faces("c", "alice", [ids[0]]).succeeded == (ids[0],)  # idempotent
    res = store.associate_faces("c", "bob", [ids[1], ids[2]])
    assert res.succeeded == (ids[2],) and res.failed == {ids[1]: "associated_to_a_different_user"}
    assert store.get_user("c", "alice").face_ids == (ids[0], ids[1])
    assert store.get_faces("c", [ids[0]])[0].user_id == "alice"

    faces, _ = store.list_faces("c", user_id="alice")
    assert [f.face_id for f in faces] == [ids[0], ids[1]]
    with pytest.raises(NotFoundError):
        store.list_faces("c", user_id="nobody")

    res = store.disassociate_faces("c", "alice", [ids[1], ids[2], ids[3], "ghost"])
    assert res.succeeded == (ids[1],)
    assert res.failed == {
        ids[2]: "associated_to_a_different_user",
        ids[3]: "not_associated",
        "ghost": "face_not_found",
    }
    assert store.get_user("c", "alice").face_ids == (ids[0],)

    with pytest.raises(NotFoundError):
        store.associate_faces("c", "nobody", [ids[4]])
    with pytest.raises(InvalidParameterError):
        store.associate_faces("c", "alice", [])

    store.delete_user("c", "bob")
    assert store.get_faces("c", [ids[2]])[0].user_id is None
    with pytest.raises(NotFoundError):
        store.get_user("c", "bob")
    with pytest.raises(NotFoundError):
        store.delete_user("c", "bob")
    assert store.describe_collection("c").user_count == 1


def test_list_users_paginates(store: TemplateStore) -> None:
    store.create_collection("c", MODEL, DIM)
    added = store.add_faces("c", new_faces(unit_vectors(5)))
    names = [f"user{i}" for i in range(5)]
    for i, name in enumerate(names):
        store.create_user("c", name)
        store.associate_faces("c", name, [added[i].face_id])
    seen, token = [], None
    while True:
        page, token = store.list_users("c", max_results=2, next_token=token)
        seen += page
        if token is None:
            break
    assert [u.user_id for u in seen] == names
    assert [u.face_ids for u in seen] == [(f.face_id,) for f in added]


def _with_key(token: str, key: object) -> str:
    """The same page token with its ``after`` key replaced (what a forging client could send)."""
    data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    data["a"] = key
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_forged_tokens_with_a_key_of_the_wrong_type_are_invalid(store: TemplateStore) -> None:
    """A token is client input: a well-formed one whose key has the wrong type is a clean
    invalid_parameter on every backend and never reaches a query (PostgreSQL: text > integer)."""
    for cid in ("c", "d"):
        store.create_collection(cid, MODEL, DIM)
    store.add_faces("c", new_faces(unit_vectors(3)))
    for user in ("u1", "u2"):
        store.create_user("c", user)
    _, collections_token = store.list_collections(max_results=1)
    _, users_token = store.list_users("c", max_results=1)
    _, faces_token = store.list_faces("c", max_results=1)
    with pytest.raises(InvalidParameterError):
        store.list_collections(max_results=1, next_token=_with_key(collections_token, 5))
    with pytest.raises(InvalidParameterError):
        store.list_users("c", max_results=1, next_token=_with_key(users_token, 7))
    with pytest.raises(InvalidParameterError):
        store.list_faces("c", max_results=1, next_token=_with_key(faces_token, "zzz"))
    with pytest.raises(InvalidParameterError):
        store.list_faces("c", max_results=1, next_token=_with_key(faces_token, True))


def test_user_face_limit(store: TemplateStore) -> None:
    store.create_collection("c", MODEL, DIM)
    added = store.add_faces("c", new_faces(unit_vectors(102)))
    ids = [f.face_id for f in added]
    store.create_user("c", "u")
    assert len(store.associate_faces("c", "u", ids[:60]).succeeded) == 60
    with pytest.raises(LimitExceededError):
        store.associate_faces("c", "u", ids[60:101])  # 60 + 41 > 100
    assert len(store.get_user("c", "u").face_ids) == 60  # all or nothing
    assert len(store.associate_faces("c", "u", ids[60:100]).succeeded) == 40
    with pytest.raises(LimitExceededError):
        store.associate_faces("c", "u", [ids[100]])
    with pytest.raises(InvalidParameterError):  # more than 100 per call
        store.associate_faces("c", "u", [*ids[:101], "x"])
    store.disassociate_faces("c", "u", [ids[0]])
    assert store.associate_faces("c", "u", [ids[100]]).succeeded == (ids[100],)


def test_search_users_scores_best_face(store: TemplateStore) -> None:
    store.create_collection("c", MODEL, DIM)
    vecs = unit_vectors(30)
    added = store.add_faces("c", new_faces(vecs))
    ids = [f.face_id for f in added]
    store.create_user("c", "a")
    store.create_user("c", "b")
    store.create_user("c", "empty")
    store.associate_faces("c", "a", ids[0:5])
    store.associate_faces("c", "b", ids[5:10])
    hits = store.search_users("c", template(vecs[7]), max_results=5)
    assert hits[0].user_id == "b" and hits[0].best_face_id == ids[7]
    assert hits[0].cosine == pytest.approx(1.0, abs=1e-5)
    assert [h.user_id for h in hits] == ["b", "a"]  # faces without a user never count
    assert hits[1].cosine == pytest.approx(float(np.max(vecs[0:5] @ vecs[7])), abs=1e-5)
    assert len(store.search_users("c", template(vecs[7]), max_results=1)) == 1
    assert [h.user_id for h in store.search_users("c", template(vecs[7]), min_cosine=0.999)] == ["b"]
    # association changes are seen at once
    store.disassociate_faces("c", "b", [ids[7]])
    assert store.search_users("c", template(vecs[7]))[0].best_face_id != ids[7]
    store.delete_user("c", "b")
    assert [h.user_id for h in store.search_users("c", template(vecs[7]))] == ["a"]
