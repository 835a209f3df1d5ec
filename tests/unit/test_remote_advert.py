"""The ``<store>.server`` advertisement the CLI uses to find the server holding a store."""

from __future__ import annotations

import json
import subprocess
import sys

from visage import remote


def test_advertise_and_withdraw(tmp_path) -> None:
    db = tmp_path / "visage.db"
    remote.advertise(db, "http://127.0.0.1:1")
    assert json.loads(remote.server_file(db).read_text())["url"] == "http://127.0.0.1:1"
    assert remote.advertised_url(db) is None  # nothing answers there
    remote.withdraw(db)
    assert not remote.server_file(db).exists()


def test_a_dead_servers_file_is_ignored_and_not_removed_by_others(tmp_path) -> None:
    db = tmp_path / "visage.db"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    remote.server_file(db).write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": int(dead.stdout)}))
    assert remote.advertised_url(db) is None
    remote.withdraw(db)  # not this process's file: left alone
    assert remote.server_file(db).exists()


def test_client_url_maps_wildcards_to_loopback() -> None:
    assert remote.client_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert remote.client_url("::", 8000) == "http://127.0.0.1:8000"
    assert remote.client_url("::1", 9) == "http://[::1]:9"
    assert remote.client_url("10.0.0.5", 80) == "http://10.0.0.5:80"
