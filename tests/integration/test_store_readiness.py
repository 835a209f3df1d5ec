"""Readiness follows the store (issue 15, finding 4): a second server on an SQLite store another
process holds is not ready, says why without the file's path, and becomes ready once the store frees up."""

from __future__ import annotations

import logging
import time

from fastapi.testclient import TestClient

from visage.api.app import create_app
from visage.config import Settings
from visage.store import open_store


def test_second_server_on_a_held_store_is_not_ready(engine, tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/held.db"
    holder = open_store(url)  # the first server's store
    try:
        with TestClient(create_app(Settings(store_url=url), engine)) as c:
            r = c.get("/readyz")
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["status"] == "store_unavailable" and "another process" in body["error"]
            assert str(tmp_path) not in r.text
            r = c.get("/v1/collections")
            assert r.status_code == 503 and r.json()["error"]["code"] == "store_locked"
            assert str(tmp_path) not in r.text
            assert 'visage_ready 0.0' in c.get("/metrics").text
            holder.close()
            assert c.get("/readyz").status_code == 200
            assert c.get("/v1/collections").json()["collection_ids"] == []
    finally:
        holder.close()


def test_held_store_is_not_logged_as_a_model_failure(tmp_path, caplog) -> None:
    url = f"sqlite:///{tmp_path}/held.db"
    holder = open_store(url)
    caplog.set_level(logging.INFO, logger="visage.api")
    try:
        with TestClient(create_app(Settings(pipeline="fast", store_url=url))) as c:
            deadline = time.time() + 120
            while c.get("/readyz").json()["status"] == "loading" and time.time() < deadline:
                time.sleep(0.2)
            assert c.get("/readyz").json()["status"] == "store_unavailable"
    finally:
        holder.close()
    messages = [r.getMessage() for r in caplog.records]
    assert not any("model loading failed" in m for m in messages), messages
    assert any("template store is not usable" in m for m in messages), messages
