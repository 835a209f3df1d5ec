"""docs/threedivi.md's shell examples run as written against a real `visage serve` process."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests_support import start_server

pytestmark = pytest.mark.slow

DOC = Path(__file__).resolve().parents[3] / "docs" / "threedivi.md"


def shell_examples() -> list[str]:
    text = DOC.read_text()
    try_it = text.split("## Try it", 1)[1].split("\n## ", 1)[0]
    return [block for block in re.findall(r"```sh\n(.*?)```", try_it, re.S) if "curl" in block]


def json_values(text: str) -> list:
    """Every JSON value printed one after another (curl prints no newline after a body)."""
    decoder, values, i = json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        value, i = decoder.raw_decode(text, i)
        values.append(value)
    return values


def test_docs_curl_examples_work_as_written(faces_dir, tmp_path) -> None:
    if not (shutil.which("curl") and shutil.which("jq")):
        pytest.skip("curl and jq are needed to run the documented commands")
    for name in ("two_people.jpg", "people/biden/biden.jpg", "people/biden/biden2.jpg"):
        shutil.copy(faces_dir / name, tmp_path / Path(name).name)
    proc, base = start_server({"VISAGE_PIPELINE": "fast", "VISAGE_STORE_URL": f"sqlite:///{tmp_path}/store.db",
                               "VISAGE_API_KEYS": None})
    port = base.rsplit(":", 1)[1]
    try:
        blocks = shell_examples()
        assert len(blocks) == 3
        outputs = []
        for block in blocks:
            script = "\n".join(line for line in block.splitlines() if not line.startswith("visage serve"))
            script = script.replace("localhost:8000", f"127.0.0.1:{port}")
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            outputs.append(done.stdout)
        (fitter,) = json_values(outputs[0])
        assert len(fitter["objects"]) == 2 and fitter["objects"][0]["keypoints"]["fitter_type"] == "fda"
        verifications = json_values(outputs[1])
        assert len(verifications) == 2 and all(v["score"] > 0.5 and v["fa_r"] == 0 for v in verifications)
        hits = json_values(outputs[2])[-1]
        assert hits[0]["external_image_id"] == "biden" and hits[0]["score"] > 0.5
    finally:
        proc.terminate()
        proc.wait(timeout=30)
