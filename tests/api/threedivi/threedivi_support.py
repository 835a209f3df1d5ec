"""Helpers of the 3DiVi dialect tests: the seed's examples (golden data) and base64."""

from __future__ import annotations

import base64
import json
from pathlib import Path

GOLDEN = json.loads((Path(__file__).parent / "golden" / "seed003_examples.json").read_text())["examples"]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def example(block: str, version: str) -> dict:
    for ex in GOLDEN:
        if ex["block"] == block and ex["version"] == version:
            return json.loads(json.dumps(ex))  # a deep copy
    raise KeyError((block, version))


def put_image(sample: dict, version: str, data: bytes) -> None:
    if version == "v1":
        sample["$image"] = b64(data)
    else:
        sample["_image"] = {"blob": b64(data), "format": "IMAGE"}
