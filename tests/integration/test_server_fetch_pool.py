"""Image-URL fetches are admitted and bounded on their own pool (issue 15 #2), in a real `visage serve`.

The review's case: slow allow-listed hosts held each fetch 30 s (the deadline did not cover the
status line and headers) on the shared default executor, and a normal request waited 23 s.
"""

from __future__ import annotations

import base64
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests_support import start_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api" / "qiniu"))
from local_server import serve

pytestmark = pytest.mark.slow


def test_slow_url_fetches_are_cut_at_the_deadline_and_do_not_delay_other_requests(faces_dir) -> None:
    photo = (faces_dir / "obama_small.jpg").read_bytes()
    with serve({}) as (host, port):
        proc, base = start_server({"VISAGE_URL_FETCH_ALLOWED_HOSTS": host, "VISAGE_URL_FETCH_TIMEOUT_S": "2",
                                   "VISAGE_URL_FETCH_WORKERS": "4"}, port=18612)
        client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=20))
        try:
            def qiniu(body: dict) -> tuple[int, float]:
                t0 = time.perf_counter()
                r = client.post(f"{base}/v2/facedetect", json=body)
                return r.json()["error_code"], time.perf_counter() - t0

            slow = {"image": f"http://{host}:{port}/trickle-headers", "image_type": "URL"}
            normal = {"image": base64.b64encode(photo).decode(), "image_type": "BASE64", "display_corp_image": 1}
            qiniu(normal)  # warm-up
            with ThreadPoolExecutor(12) as pool:
                fetches = [pool.submit(qiniu, slow) for _ in range(10)]
                time.sleep(0.3)
                code, normal_s = qiniu(normal)
                t0 = time.perf_counter()
                detect = client.post(f"{base}/v1/detect", content=photo, headers={"content-type": "image/jpeg"})
                detect_s = time.perf_counter() - t0
                slow_results = [f.result() for f in fetches]
            assert code == 0 and normal_s < 1.5, (code, normal_s)
            assert detect.status_code == 200 and detect_s < 1.5, detect_s
            # Each slow fetch ends within its one deadline (2 s) or is refused at once: download
            # failed (222204) or QPS limit (18), never a 6 s trickle.
            assert {c for c, _ in slow_results} <= {222204, 18}, slow_results
            assert max(s for _, s in slow_results) < 3.5, slow_results
        finally:
            client.close()
            proc.terminate()
            proc.wait(timeout=30)
