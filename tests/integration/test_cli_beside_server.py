"""The README's sequence (issue 15, finding 9): `visage serve` in one terminal, then `visage index
photos/ --collection family` in another. The CLI finds the server holding the store and works through
its API, with the same progress bar and summary; with no server to find, the error names the way out."""

from __future__ import annotations

import json

import pytest

from tests_support import start_server
from visage.cli import main
from visage.store import open_store

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served_store(tmp_path_factory):
    """A real `visage serve` holding an SQLite store; yields (store URL, server URL)."""
    home = tmp_path_factory.mktemp("beside")
    url = f"sqlite:///{home}/visage.db"
    proc, base = start_server({"VISAGE_STORE_URL": url, "VISAGE_API_KEYS": "reader,boss:admin"})
    try:
        yield url, base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_index_and_collections_work_beside_a_running_server(served_store, faces_dir, monkeypatch, capsys,
                                                              tmp_path) -> None:
    url, base = served_store
    monkeypatch.setenv("VISAGE_STORE_URL", url)
    monkeypatch.setenv("VISAGE_API_KEYS", "reader,boss:admin")  # the same environment as the server's
    assert main(["index", str(faces_dir / "people"), "--collection", "family"]) == 0
    captured = capsys.readouterr()
    assert "9 faces indexed" in captured.out and "holds 9 faces" in captured.out
    assert "working through its API" in captured.err and base in captured.err
    assert "indexing into family" in captured.err  # the progress bar
    # Indexing the same photos again is idempotent through the API too.
    assert main(["index", str(faces_dir / "people"), "--collection", "family", "--quiet"]) == 0
    assert "holds 9 faces" in capsys.readouterr().out

    assert main(["collections", "list"]) == 0
    assert capsys.readouterr().out.split() == ["family"]
    assert main(["collections", "describe", "family"]) == 0
    assert json.loads(capsys.readouterr().out)["face_count"] == 9
    assert main(["collections", "search", "family", "--image", str(faces_dir / "scenes/obama1.jpg")]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["matches"][0]["face"]["external_image_id"].startswith("obama/")
    backup = tmp_path / "family.jsonl"
    assert main(["collections", "export", "family", "--file", str(backup)]) == 0
    assert "exported 9 faces" in capsys.readouterr().err
    assert main(["collections", "import", "copy", "--file", str(backup)]) == 0
    assert json.loads(capsys.readouterr().out)["face_count"] == 9
    assert main(["collections", "delete", "copy"]) == 0


def test_explicit_server_and_its_errors(served_store, faces_dir, monkeypatch, capsys) -> None:
    _, base = served_store
    monkeypatch.delenv("VISAGE_API_KEYS", raising=False)
    monkeypatch.delenv("VISAGE_API_KEY", raising=False)
    assert main(["collections", "list", "--server", base]) == 2
    assert "[unauthorized]" in capsys.readouterr().err
    assert main(["collections", "list", "--server", base, "--api-key", "reader"]) == 0
    capsys.readouterr()
    assert main(["index", str(faces_dir / "people"), "--collection", "x", "--server", base,
                 "--api-key", "reader", "--quiet"]) == 2
    assert "[forbidden]" in capsys.readouterr().err
    assert main(["collections", "describe", "missing", "--server", base, "--api-key", "reader"]) == 2
    assert "[not_found]" in capsys.readouterr().err


def test_held_store_without_a_server_names_the_way_out(tmp_path, faces_dir, capsys) -> None:
    url = f"sqlite:///{tmp_path}/held.db"
    holder = open_store(url)
    try:
        assert main(["index", str(faces_dir / "people"), "--collection", "family", "--store", url]) == 2
    finally:
        holder.close()
    err = capsys.readouterr().err
    assert "[store_locked]" in err and "--server" in err and str(tmp_path) in err


def test_unreachable_server_is_a_clear_error(capsys) -> None:
    assert main(["collections", "list", "--server", "http://127.0.0.1:9"]) == 2
    assert "[server_unreachable]" in capsys.readouterr().err
