"""visage.api.url_fetch: allow-list, resolved-address checks, redirects, size and time limits."""

from __future__ import annotations

import time

import pytest
from local_server import serve

from visage.api.url_fetch import FetchPolicy, UrlFetchError, _match, fetch_url
from visage.errors import ImageTooLargeError, UrlNotAllowedError

FILES = {"/img.jpg": b"\xff\xd8fake-jpeg" * 100, "/big.jpg": b"x" * 300_000}


@pytest.fixture(scope="module")
def server():
    with serve(FILES) as hp:
        yield hp


def policy(*hosts: str, max_bytes: int = 1_000_000, timeout_s: float = 2.0) -> FetchPolicy:
    return FetchPolicy(allowed_hosts=hosts, max_bytes=max_bytes, timeout_s=timeout_s)


def test_default_allows_nothing(server) -> None:
    host, port = server
    with pytest.raises(UrlNotAllowedError, match="disabled"):
        fetch_url(f"http://{host}:{port}/img.jpg", FetchPolicy())


def test_exactly_the_allowed_host(server) -> None:
    host, port = server
    assert fetch_url(f"http://{host}:{port}/img.jpg", policy(f"{host}:{port}")) == FILES["/img.jpg"]
    assert fetch_url(f"http://{host}:{port}/img.jpg", policy(host)) == FILES["/img.jpg"]
    with pytest.raises(UrlNotAllowedError):
        fetch_url(f"http://{host}:{port}/img.jpg", policy(f"{host}:{port + 1}"))
    with pytest.raises(UrlNotAllowedError):
        fetch_url(f"http://localhost:{port}/img.jpg", policy(host))


def test_host_names_never_reach_internal_addresses(server) -> None:
    _, port = server
    # "localhost" is on the list, but it resolves to loopback: only an IP-literal entry may reach that.
    with pytest.raises(UrlNotAllowedError, match="non-public"):
        fetch_url(f"http://localhost:{port}/img.jpg", policy("localhost"))


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/",
                                 "http://user:pw@127.0.0.1/img.jpg", "http:///nohost", "http://127.0.0.1:99999/"])
def test_schemes_credentials_and_malformed(url) -> None:
    with pytest.raises(UrlNotAllowedError):
        fetch_url(url, policy("127.0.0.1"))


def test_redirects_are_checked(server) -> None:
    host, port = server
    ok = f"http://{host}:{port}/redirect?to=/img.jpg"
    assert fetch_url(ok, policy(host)) == FILES["/img.jpg"]
    off = f"http://{host}:{port}/redirect?to=http://localhost:{port}/img.jpg"
    with pytest.raises(UrlNotAllowedError):
        fetch_url(off, policy(host))
    meta = f"http://{host}:{port}/redirect?to=http://169.254.169.254/latest/meta-data/"
    with pytest.raises(UrlNotAllowedError):
        fetch_url(meta, policy(host))
    loop = f"http://{host}:{port}/redirect?to=/redirect%3Fto=/redirect"
    with pytest.raises((UrlFetchError, UrlNotAllowedError)):
        fetch_url(loop, policy(host))


def test_size_limits(server) -> None:
    host, port = server
    with pytest.raises(ImageTooLargeError):
        fetch_url(f"http://{host}:{port}/big.jpg", policy(host, max_bytes=100_000))
    with pytest.raises(ImageTooLargeError):  # no Content-Length: counted while reading
        fetch_url(f"http://{host}:{port}/huge-chunked", policy(host, max_bytes=1_000_000))


def test_time_limit_and_http_errors(server) -> None:
    host, port = server
    start = time.monotonic()
    with pytest.raises(UrlFetchError, match="timed out"):
        fetch_url(f"http://{host}:{port}/slow", policy(host, timeout_s=0.5))
    assert time.monotonic() - start < 2.0
    with pytest.raises(UrlFetchError, match="404"):
        fetch_url(f"http://{host}:{port}/missing.jpg", policy(host))
    with pytest.raises(UrlFetchError):  # nothing listens there
        fetch_url("http://127.0.0.1:9/img.jpg", policy("127.0.0.1"))


def test_one_deadline_covers_the_status_line_and_headers(server) -> None:
    """A slow allow-listed host that trickles its response head cannot hold a fetch past the limit."""
    host, port = server
    start = time.monotonic()
    with pytest.raises(UrlFetchError, match="timed out"):
        fetch_url(f"http://{host}:{port}/trickle-headers", policy(host, timeout_s=0.8))
    assert time.monotonic() - start < 1.5


def test_allow_list_patterns() -> None:
    p = policy("*.example.com", "img.test:8080", "[::1]")
    assert _match("a.example.com", 443, p) == "*.example.com"
    assert _match("example.com", 443, p) is None
    assert _match("evilexample.com", 443, p) is None
    assert _match("img.test", 8080, p) == "img.test:8080"
    assert _match("img.test", 80, p) is None
    assert _match("::1", 80, p) == "[::1]"
