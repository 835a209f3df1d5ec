"""kill -9 the server while it indexes; after a restart every acknowledged face is there."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import pytest

from tests_support import free_port, start_server

pytestmark = pytest.mark.slow


def test_kill_9_during_indexing_loses_no_acknowledged_face(faces_dir, tmp_path) -> None:
    env = {"VISAGE_STORE_URL": f"sqlite:///{tmp_path}/visage.db", "VISAGE_API_KEYS": "k:admin"}
    headers = {"authorization": "Bearer k"}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc, _ = start_server(env, port)
    images = [p.read_bytes() for p in sorted((faces_dir / "people").glob("*/*"))]
    acknowledged: list[str] = []
    stop = threading.Event()
    try:
        assert httpx.post(f"{base}/v1/collections", json={"collection_id": "k9"}, headers=headers).status_code == 200

        def index_forever(worker: int) -> None:
            n = 0
            while not stop.is_set():
                image = images[n % len(images)]
                try:
                    r = httpx.post(f"{base}/v1/collections/k9/faces", params={"external_image_id": f"w{worker}-{n}"},
                                   content=image, headers={**headers, "content-type": "image/jpeg"}, timeout=30)
                except httpx.HTTPError:
                    return  # the server died under us: this request was never acknowledged
                if r.status_code == 200:
                    acknowledged.extend(f["face_id"] for f in r.json()["indexed"])
                n += 1

        workers = [threading.Thread(target=index_forever, args=(i,)) for i in range(3)]
        for w in workers:
            w.start()
        while len(acknowledged) < 12:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        for w in workers:
            w.join(timeout=30)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()

    acked = set(acknowledged)
    proc, _ = start_server(env, port)
    try:
        stored, token = set(), None
        while True:
            params = {"max_results": 500, **({"next_token": token} if token else {})}
            page = httpx.get(f"{base}/v1/collections/k9/faces", params=params, headers=headers).json()
            stored |= {f["face_id"] for f in page["faces"]}
            token = page["next_token"]
            if not token:
                break
        assert acked <= stored, f"{len(acked - stored)} acknowledged faces lost"
        info = httpx.get(f"{base}/v1/collections/k9", headers=headers).json()
        assert info["face_count"] == len(stored)
        r = httpx.post(f"{base}/v1/collections/k9/search", content=images[0],
                       headers={**headers, "content-type": "image/jpeg"})
        assert r.status_code == 200 and r.json()["results"][0]["matches"]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
