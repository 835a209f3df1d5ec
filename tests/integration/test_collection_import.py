"""``POST /v1/collections/import`` (issue 15, finding 6): the file is checked in full first, every
malformed file is a 400 naming its line, nothing is left behind by a failed import and a retry works.

The export is made by a real store (vectors of the dlib model's size; the parser is what is tested)."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient

from visage.api.app import create_app
from visage.config import Settings
from visage.store import NewFace, open_store
from visage.types import Box, Template

MODEL, DIM = "dlib_resnet_v1", 128


def _export(tmp_path, faces: int = 12) -> list[str]:
    rng = np.random.default_rng(7)
    store = open_store(f"sqlite:///{tmp_path}/source.db")
    try:
        store.create_collection("src", MODEL, DIM)
        vectors = rng.standard_normal((faces, DIM)).astype(np.float32)
        added = store.add_faces("src", [
            NewFace(image_id=f"img-{i}", box=Box(10.0 + i, 20.0, 60.0, 70.0), confidence=0.98,
                    template=Template.from_vector(MODEL, v), external_image_id=f"photo-{i}.jpg",
                    quality={"sharpness": 0.5}) for i, v in enumerate(vectors)])
        store.create_user("src", "alice")
        store.associate_faces("src", "alice", [f.face_id for f in added[:3]])
        store.create_user("src", "bob")
        import io

        buf = io.StringIO()
        store.export_collection("src", buf)
    finally:
        store.close()
    return buf.getvalue().splitlines()


@pytest.fixture(scope="module")
def lines(tmp_path_factory) -> list[str]:
    return _export(tmp_path_factory.mktemp("export"))


@pytest.fixture()
def client(engine, tmp_path):
    app = create_app(Settings(store_url=f"sqlite:///{tmp_path}/api.db"), engine)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _body(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _set(lines: list[str], index: int, **changes: object) -> list[str]:
    out = list(lines)
    row = json.loads(out[index])
    for key, value in changes.items():
        if value is _DROP:
            row.pop(key)
        else:
            row[key] = value
    out[index] = json.dumps(row)
    return out


def _edit_face(lines: list[str], old: str, new: str) -> list[str]:
    """The first face line with raw text replaced (for what json.dumps cannot write)."""
    assert old in lines[1]
    return [lines[0], lines[1].replace(old, new), *lines[2:]]


_DROP = object()
FIRST_FACE = 1  # line 2


def _malformed(lines: list[str]) -> list[tuple[str, bytes, int | None]]:
    """(name, body, line the error must name or None)."""
    face = json.loads(lines[FIRST_FACE])
    user_at = next(i for i, s in enumerate(lines) if json.loads(s)["type"] == "user")
    short = base64.b64encode(np.ones(DIM - 1, dtype="<f4").tobytes()).decode()
    zeros = base64.b64encode(np.zeros(DIM, dtype="<f4").tobytes()).decode()
    nan = base64.b64encode(np.full(DIM, np.nan, dtype="<f4").tobytes()).decode()
    return [
        ("empty file", b"", 1),
        ("blank lines only", b"\n\n", 1),
        ("header not JSON", b"{oops\n" + _body(lines[1:]), 1),
        ("header is a list", b"[1]\n" + _body(lines[1:]), 1),
        ("wrong format", _body(_set(lines, 0, format="visage.store/9")), 1),
        ("header without model", _body(_set(lines, 0, model=_DROP)), 1),
        ("dim as text", _body(_set(lines, 0, dim="128")), 1),
        ("dim as bool", _body(_set(lines, 0, dim=True)), 1),
        ("unknown model", _body(_set(lines, 0, model="no-such-embedder")), 1),
        ("bad collection id", _body(_set(lines, 0, collection_id="has space")), 1),
        ("truncated face line", _body([*lines[:1], lines[1][:len(lines[1]) // 2], *lines[2:]]), 2),
        ("truncated last line", _body(lines[:-1]) + lines[-1][:10].encode(), len(lines)),
        ("face line is a string", _body([*lines[:1], '"face"', *lines[2:]]), 2),
        ("unknown line type", _body(_set(lines, FIRST_FACE, type="person")), 2),
        ("second header", _body([*lines[:2], lines[0], *lines[2:]]), 3),
        ("template bad base64", _body(_set(lines, FIRST_FACE, template="@@@not base64")), 2),
        ("template a number", _body(_set(lines, FIRST_FACE, template=12)), 2),
        ("wrong dimension", _body(_set(lines, FIRST_FACE, template=short)), 2),
        ("zero template", _body(_set(lines, FIRST_FACE, template=zeros)), 2),
        ("NaN template", _body(_set(lines, FIRST_FACE, template=nan)), 2),
        ("box missing", _body(_set(lines, FIRST_FACE, box=_DROP)), 2),
        ("box of text", _body(_set(lines, FIRST_FACE, box={**face["box"], "left": "10"})), 2),
        ("negative width", _body(_set(lines, FIRST_FACE, box={**face["box"], "width": -5})), 2),
        ("confidence text", _body(_set(lines, FIRST_FACE, confidence="high")), 2),
        ("confidence NaN", _body(_edit_face(lines, f'"confidence": {face["confidence"]}', '"confidence": NaN')), 2),
        ("quality not numbers", _body(_set(lines, FIRST_FACE, quality={"sharpness": "ok"})), 2),
        ("bad created_at", _body(_set(lines, FIRST_FACE, created_at="yesterday")), 2),
        ("image_width as text", _body(_set(lines, FIRST_FACE, image_width="640", image_height=480)), 2),
        ("image_width alone", _body(_set(lines, FIRST_FACE, image_width=640, image_height=None)), 2),
        ("face_id missing", _body(_set(lines, FIRST_FACE, face_id=_DROP)), 2),
        ("face_id a number", _body(_set(lines, FIRST_FACE, face_id=5)), 2),
        ("duplicate face id", _body(_set(lines, 2, face_id=face["face_id"])), 3),
        ("duplicate face", _body([*lines[:2], json.dumps({**face, "face_id": "other-id"}), *lines[2:]]), 3),
        ("lone surrogate in external id", _body(_edit_face(
            lines, f'"external_image_id": "{face["external_image_id"]}"', '"external_image_id": "x\\ud800"')), 2),
        ("user names a missing face", _body(_set(lines, user_at, face_ids=["no-such-face"])), user_at + 1),
        ("duplicate user", _body([*lines, lines[user_at]]), len(lines) + 1),
        ("user id with slash", _body(_set(lines, user_at, user_id="a/b")), user_at + 1),
        ("face_ids not a list", _body(_set(lines, user_at, face_ids="abc")), user_at + 1),
        ("face in two users", _body(_set(lines, user_at + 1, face_ids=json.loads(lines[user_at])["face_ids"][:1])),
         user_at + 2),
        ("huge line", _body([*lines[:1], '{"type": "face", "pad": "' + "x" * (2 << 20) + '"}', *lines[1:]]), 2),
        ("deep nesting", _body([*lines[:1], "[" * 100000 + "]" * 100000, *lines[1:]]), 2),
        ("not UTF-8", _body(lines[:2]) + b"\xff\xfe\n", None),
    ]


def test_valid_export_imports(client, lines) -> None:
    r = client.post("/v1/collections/import", content=_body(lines))
    assert r.status_code == 200, r.text
    assert (r.json()["face_count"], r.json()["user_count"]) == (12, 2)


def test_malformed_files_are_400_with_the_line_and_leave_nothing(client, lines) -> None:
    cases = _malformed(lines)
    assert len(cases) >= 30
    for name, body, line in cases:
        r = client.post("/v1/collections/import", content=body)
        assert r.status_code == 400, (name, r.status_code, r.text[:300])
        error = r.json()["error"]
        if line is not None:
            assert f"line {line}:" in error["message"], (name, error)
        assert "Traceback" not in r.text and "/tmp" not in r.text
        assert client.get("/v1/collections").json()["collection_ids"] == [], name
    # The same file, repaired, imports afterwards: nothing half-made blocks the retry.
    assert client.post("/v1/collections/import", content=_body(lines)).status_code == 200


def test_failure_midway_rolls_back_and_retry_succeeds(client, lines, monkeypatch) -> None:
    """A store error after validation (here: a user call failing) leaves no collection behind."""
    from visage.store.sqlite import SQLiteStore

    real = SQLiteStore.associate_faces
    calls = {"n": 0}

    def flaky(self, *args, **kwargs):
        calls["n"] += 1
        raise OSError("disk went away")

    monkeypatch.setattr(SQLiteStore, "associate_faces", flaky)
    r = client.post("/v1/collections/import", content=_body(lines))
    assert r.status_code == 500 and calls["n"] == 1
    assert client.get("/v1/collections").json()["collection_ids"] == []
    monkeypatch.setattr(SQLiteStore, "associate_faces", real)
    r = client.post("/v1/collections/import", content=_body(lines))
    assert r.status_code == 200 and r.json()["face_count"] == 12
    faces = client.get("/v1/collections/src/faces", params={"max_results": 100}).json()["faces"]
    assert len(faces) == 12


def test_existing_collection_is_409_and_untouched(client, lines) -> None:
    assert client.post("/v1/collections/import", content=_body(lines)).status_code == 200
    r = client.post("/v1/collections/import", content=_body(lines))
    assert r.status_code == 409
    assert client.get("/v1/collections/src").json()["face_count"] == 12
