"""Two real ``visage serve`` replicas on one PostgreSQL database share a collection.

Faces indexed through one replica are found by a search through the other, deletes and user
changes made on either are seen by both at once (nothing of a collection lives only in one
process's memory). PostgreSQL is the embedded server of the store suite (``pg_server``).
"""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from store_helpers import backend_url

from tests_support import start_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

#: This suite's server ports (each engineer's servers stay in their own range).
PORTS = range(18500, 18600)


def _free_ports(count: int) -> list[int]:
    found = []
    for port in PORTS:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    pytest.skip(f"no {count} free ports in {PORTS}")


def _jpeg(path: Path) -> dict[str, str]:
    return {"content-type": "image/jpeg" if path.suffix in (".jpg", ".jpeg") else "image/png"}


def test_two_replicas_share_a_collection(request: pytest.FixtureRequest, tmp_path: Path, faces_dir: Path) -> None:
    url = backend_url("postgres", request, tmp_path)
    env = {"VISAGE_STORE_URL": url, "VISAGE_API_KEYS": "k:admin", "VISAGE_HOME": None}
    headers = {"authorization": "Bearer k"}
    people = faces_dir / "people"
    port_a, port_b = _free_ports(2)
    a, base_a = start_server(env, port_a)
    try:
        b, base_b = start_server(env, port_b)
    except BaseException:
        a.kill()
        raise
    try:
        r = httpx.post(f"{base_a}/v1/collections", json={"collection_id": "shared"}, headers=headers, timeout=60)
        assert r.status_code == 200, r.text
        indexed = {}
        for person, name in (("obama", "obama.jpg"), ("biden", "biden.jpg"), ("rose_leslie", "img1.jpg")):
            path = people / person / name
            r = httpx.post(f"{base_a}/v1/collections/shared/faces", params={"external_image_id": person},
                           content=path.read_bytes(), headers={**headers, **_jpeg(path)}, timeout=120)
            assert r.status_code == 200, r.text
            indexed[person] = [f["face_id"] for f in r.json()["indexed"]]
            assert len(indexed[person]) == 1
        # replica b sees the collection and finds each person from another photo of them
        info = httpx.get(f"{base_b}/v1/collections/shared", headers=headers, timeout=60).json()
        assert info["face_count"] == 3
        for person, name in (("obama", "obama2.jpg"), ("biden", "biden2.jpg"), ("rose_leslie", "img2.jpg")):
            path = people / person / name
            r = httpx.post(f"{base_b}/v1/collections/shared/search", content=path.read_bytes(),
                           headers={**headers, **_jpeg(path)}, timeout=120)
            assert r.status_code == 200, r.text
            best = r.json()["results"][0]["matches"][0]["face"]
            assert (best["face_id"], best["external_image_id"]) == (indexed[person][0], person)
        # a face indexed on b is found through a; a delete on a is gone for b
        path = people / "kit_harington" / "john1.jpeg"
        r = httpx.post(f"{base_b}/v1/collections/shared/faces", params={"external_image_id": "kit"},
                       content=path.read_bytes(), headers={**headers, **_jpeg(path)}, timeout=120)
        assert r.status_code == 200, r.text
        kit = r.json()["indexed"][0]["face_id"]
        path = people / "kit_harington" / "john2.jpeg"
        r = httpx.post(f"{base_a}/v1/collections/shared/search", content=path.read_bytes(),
                       headers={**headers, **_jpeg(path)}, timeout=120)
        assert r.json()["results"][0]["matches"][0]["face"]["face_id"] == kit
        r = httpx.post(f"{base_a}/v1/collections/shared/faces/delete", json={"face_ids": [kit]}, headers=headers,
                       timeout=60)
        assert r.json()["deleted"] == [kit]
        listed = httpx.get(f"{base_b}/v1/collections/shared/faces", headers=headers, timeout=60).json()["faces"]
        assert sorted(f["external_image_id"] for f in listed) == ["biden", "obama", "rose_leslie"]
    finally:
        for proc in (a, b):
            proc.terminate()
        for proc in (a, b):
            try:
                proc.wait(timeout=30)
            except Exception:
                proc.kill()
