"""Request validation against the service model: any JSON ends in a clean value or
InvalidParameterException/ImageTooLargeException, never another exception."""

from __future__ import annotations

import base64

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from visage.api.dialects.rekognition.errors import RekognitionError
from visage.api.dialects.rekognition.protocol import input_shape, shapes, validate_request
from visage.api.dialects.rekognition.routes import OPERATIONS

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


def member_values(operation: str) -> st.SearchStrategy[dict]:
    """Bodies that use the operation's real member names with arbitrary values (deeper coverage)."""
    members = list(shapes()[input_shape(operation)]["members"])
    good = {"Image": st.just({"Bytes": base64.b64encode(b"xyz").decode()}),
            "CollectionId": st.sampled_from(["people", "bad id!", ""]),
            "FaceIds": st.lists(st.uuids().map(str), max_size=3)}
    values = {m: st.one_of(good.get(m, json_values), json_values) for m in members}
    return st.fixed_dictionaries({}, optional=values)


@FUZZ
@given(operation=st.sampled_from(sorted(OPERATIONS)), data=st.data())
def test_validation_raises_only_rekognition_errors(operation: str, data: st.DataObject) -> None:
    body = data.draw(st.one_of(member_values(operation), st.dictionaries(st.text(max_size=10), json_values)))
    try:
        validate_request(operation, body)
    except RekognitionError as exc:
        assert exc.aws_type in ("InvalidParameterException", "ImageTooLargeException")
        assert exc.message


def test_validation_messages_name_the_member() -> None:
    with pytest.raises(RekognitionError) as err:
        validate_request("IndexFaces", {"CollectionId": "bad id!", "Image": {"Bytes": "eA=="}, "MaxFaces": 0})
    message = err.value.message
    assert message.startswith("2 validation errors detected")
    assert "'collectionId'" in message and "'maxFaces'" in message
    ok = validate_request("DetectFaces", {"Image": {"Bytes": base64.b64encode(b"abc").decode()}})
    assert ok == {"Image": {"Bytes": b"abc"}}


@pytest.mark.slow
def test_fuzzed_operations_never_fail_the_server(engine, tmp_path) -> None:
    """Generated bodies for every operation, through the app with auth off: each answer is a
    result or a Rekognition error envelope, never a 5xx or a traceback."""
    import json

    from fastapi.testclient import TestClient

    from tests_support import flat_png
    from visage.api.app import create_app
    from visage.config import Settings

    app = create_app(Settings(home=tmp_path, store_url=f"sqlite:///{tmp_path / 'f.db'}", rekognition_auth="off"),
                     engine)
    png = base64.b64encode(flat_png(64)).decode()
    failures: list[str] = []
    with TestClient(app) as http:
        def call(op: str, body: dict) -> tuple[int, dict]:
            r = http.post("/", content=json.dumps(body), headers={
                "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"RekognitionService.{op}"})
            return r.status_code, r.json()

        assert call("CreateCollection", {"CollectionId": "people"})[0] == 200
        assert call("CreateUser", {"CollectionId": "people", "UserId": "u1"})[0] == 200

        @given(operation=st.sampled_from(sorted(OPERATIONS)), data=st.data())
        @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                  derandomize=True)
        def run(operation: str, data: st.DataObject) -> None:
            body = data.draw(member_values(operation))
            if "Image" in body and data.draw(st.booleans()):
                body["Image"] = {"Bytes": png}
            status, out = call(operation, body)
            if status >= 500 or (status != 200 and "__type" not in out):
                failures.append(f"{operation} {body!r:.200}: {status} {out!r:.300}")

        run()
    assert not failures, "\n".join(failures[:10])
