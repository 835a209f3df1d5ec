"""Key ring: roles, and rotation through the keys file without a restart."""

from __future__ import annotations

import os

import pytest

from visage.api.keys import KeyRing, parse_keys


def test_parse_roles_and_comments() -> None:
    assert parse_keys("a, b:admin ,c:read") == {"a": "read", "b": "admin", "c": "read"}
    assert parse_keys("x:admin # ops\n# comment\ny\n", sep=",") == {"x": "admin", "y": "read"}
    with pytest.raises(ValueError):
        parse_keys("k:root")


def test_file_rotation_without_restart(tmp_path) -> None:
    path = tmp_path / "keys"
    path.write_text("old-key:admin\n")
    ring = KeyRing(path=path, recheck_s=0)
    assert ring.enabled and ring.role_of("old-key") == "admin"
    tmp = tmp_path / "keys.new"
    tmp.write_text("new-key\n")
    os.replace(tmp, path)
    assert ring.role_of("old-key") is None and ring.role_of("new-key") == "read"
    path.write_text("broken:superuser\n")  # a bad edit keeps the keys in force
    assert ring.role_of("new-key") == "read"
    path.unlink()
    assert ring.role_of("new-key") is None and ring.enabled  # a vanished file revokes, never opens


def test_inline_and_disabled() -> None:
    assert not KeyRing().enabled
    ring = KeyRing("k1,k2:admin")
    assert ring.role_of("k2") == "admin" and ring.role_of("k3") is None


def test_watched_file_keeps_value_on_bad_edit_and_empties_on_removal(tmp_path) -> None:
    from visage.api.keys import WatchedFile

    path = tmp_path / "k"
    path.write_text("a:admin")
    watched = WatchedFile(path, parse_keys, {}, recheck_s=0)
    assert watched.value() == {"a": "admin"}
    path.write_text("a:emperor,b")
    assert watched.value() == {"a": "admin"}
    path.unlink()
    assert watched.value() == {}
