"""Support for the Rekognition tests: a real server on a loopback port, boto3 clients, and a
field-by-field check of raw wire JSON against botocore's Rekognition service model."""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import uvicorn
from botocore.config import Config
from botocore.loaders import Loader

REGION = "eu-west-1"
AKID, SECRET = "AKIDVISAGETEST0001", "visage/secret+key+for+tests0123456789abcd"


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn in a thread on a free 127.0.0.1 port; yield its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class Wire:
    """Records the raw JSON body of every response a client parses (boto3 drops unknown keys)."""

    def __init__(self) -> None:
        self.bodies: list[tuple[str, Any]] = []

    def __call__(self, operation_model: Any, response_dict: dict[str, Any], **_: Any) -> None:
        body = response_dict.get("body") or b"{}"
        self.bodies.append((operation_model.name, json.loads(body)))

    @property
    def last(self) -> Any:
        return self.bodies[-1][1]


def client(endpoint: str, key: str = AKID, secret: str = SECRET, wire: Wire | None = None, **config: Any) -> Any:
    """A real boto3 Rekognition client pointed at visage; no retries so errors surface at once."""
    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, **config)
    c = boto3.client("rekognition", endpoint_url=endpoint, region_name=REGION, aws_access_key_id=key,
                     aws_secret_access_key=secret, config=cfg)
    if wire is not None:
        c.meta.events.register("before-parse.rekognition.*", wire)
    return c


_MODEL = Loader().load_service_model("rekognition", "service-2")


def output_shape(operation: str) -> str:
    return _MODEL["operations"][operation]["output"]["shape"]


def check_shape(shape_name: str, value: Any, path: str = "$") -> None:
    """Assert that wire JSON ``value`` conforms to ``shape_name``: every member known, every
    required member present, every type, enum, length and range as the model says."""
    shape = _MODEL["shapes"][shape_name]
    kind = shape["type"]
    if kind == "structure":
        assert isinstance(value, dict), f"{path}: expected an object, got {value!r}"
        members = shape["members"]
        unknown = set(value) - set(members)
        assert not unknown, f"{path}: members not in {shape_name}: {sorted(unknown)}"
        for name in shape.get("required", []):
            assert name in value, f"{path}: required member {name} missing"
        for name, item in value.items():
            check_shape(members[name]["shape"], item, f"{path}.{name}")
    elif kind == "list":
        assert isinstance(value, list), f"{path}: expected a list"
        for i, item in enumerate(value):
            check_shape(shape["member"]["shape"], item, f"{path}[{i}]")
        # A list's ``min`` is an input constraint (FaceIdList is min 1 in requests); a response may
        # carry an empty list (DeleteFaces that deleted nothing), so only ``max`` binds here.
        _bounds({k: v for k, v in shape.items() if k != "min"}, len(value), path)
    elif kind == "map":
        assert isinstance(value, dict), f"{path}: expected a map"
        for k, v in value.items():
            check_shape(shape["key"]["shape"], k, f"{path}.<key>")
            check_shape(shape["value"]["shape"], v, f"{path}.{k}")
    elif kind == "string":
        assert isinstance(value, str), f"{path}: expected a string, got {value!r}"
        if "enum" in shape:
            assert value in shape["enum"], f"{path}: {value!r} not in {shape_name} enum"
        if "pattern" in shape:
            try:
                pattern = re.compile(shape["pattern"])
            except re.error:
                pattern = None
            assert pattern is None or pattern.fullmatch(value), f"{path}: {value!r} fails {shape['pattern']}"
        _bounds(shape, len(value), path)
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: expected an integer, got {value!r}"
        _bounds(shape, value, path)
    elif kind in ("float", "double"):
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{path}: expected a number"
        assert math.isfinite(value), f"{path}: not finite"
        _bounds(shape, value, path)
    elif kind == "boolean":
        assert isinstance(value, bool), f"{path}: expected a boolean"
    elif kind == "timestamp":
        assert isinstance(value, int | float) and not isinstance(value, bool), f"{path}: expected epoch seconds"
    elif kind == "blob":
        assert isinstance(value, str), f"{path}: expected base64 text"
    else:  # pragma: no cover - the face API has no other kinds
        raise AssertionError(f"{path}: unhandled shape type {kind}")


def _bounds(shape: dict[str, Any], n: float, path: str) -> None:
    if "min" in shape:
        assert n >= shape["min"], f"{path}: {n} below min {shape['min']}"
    if "max" in shape:
        assert n <= shape["max"], f"{path}: {n} above max {shape['max']}"


def check_output(operation: str, body: Any) -> None:
    check_shape(output_shape(operation), body)
