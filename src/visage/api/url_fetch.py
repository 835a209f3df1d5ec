"""Fetch an image from a URL the operator allowed, and nothing else.

Rules (every dialect that takes image URLs uses this one function):

* Only ``http`` and ``https``; no user-info in the URL.
* The host must match an entry of the allow-list (``VISAGE_URL_FETCH_ALLOWED_HOSTS``): ``host``,
  ``host:port``, ``*.domain`` (sub-domains only) or an IP literal. Unset or empty = nothing is fetched.
* The host is resolved once; every resolved address is checked and the connection goes to a checked
  address (no second lookup an attacker could rebind). Loopback, private, link-local, multicast,
  reserved and unspecified addresses are refused unless the allow-list entry that matched is that
  IP literal itself: a host name never reaches an internal address.
* Redirects (at most :data:`MAX_REDIRECTS`) are followed only to URLs that pass the same checks.
* The body may not exceed ``max_bytes`` (checked against Content-Length and while reading), and the
  whole fetch, redirects included, must finish within ``timeout_s``: one deadline, enforced by a
  watchdog that shuts the connection down when it passes, so a host that trickles its status line
  or headers a byte at a time cannot hold a fetch longer (per-read socket timeouts alone cannot).
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from visage.errors import ImageTooLargeError, UrlNotAllowedError, VisageError

MAX_REDIRECTS = 3
_CHUNK = 64 * 1024


class UrlFetchError(VisageError):
    """The allowed URL could not be fetched (network error, timeout, HTTP status other than 200)."""

    code = "url_fetch_failed"


@dataclass(frozen=True)
class FetchPolicy:
    allowed_hosts: tuple[str, ...] = ()
    max_bytes: int = 10 * 1024 * 1024
    timeout_s: float = 5.0

    @classmethod
    def from_settings(cls, settings) -> FetchPolicy:
        text = settings.url_fetch_allowed_hosts or ""
        hosts = tuple(h.strip().lower() for h in text.split(",") if h.strip())
        return cls(allowed_hosts=hosts, max_bytes=settings.url_fetch_max_bytes, timeout_s=settings.url_fetch_timeout_s)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _match(host: str, port: int, policy: FetchPolicy) -> str | None:
    """The allow-list entry that admits ``host:port`` (None when none does)."""
    for entry in policy.allowed_hosts:
        name, want_port = entry, None
        if entry.startswith("[") and "]" in entry:  # [v6]:port
            name, _, rest = entry[1:].partition("]")
            want_port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
        elif entry.count(":") == 1:
            name, _, p = entry.partition(":")
            want_port = int(p) if p.isdigit() else None
        if want_port is not None and want_port != port:
            continue
        if name.startswith("*."):
            if host.endswith(name[1:]) and host != name[2:]:
                return entry
        elif host == name.strip("[]"):
            return entry
    return None


def _internal(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return not addr.is_global or addr.is_multicast or addr.is_reserved or addr.is_unspecified


def _check(url: str, policy: FetchPolicy, deadline: float) -> tuple[str, str, int, str, str]:
    """Validate ``url``; returns (scheme, host, port, path+query, checked IP to connect to)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlNotAllowedError("only http and https image URLs are accepted")
    if parts.username is not None or parts.password is not None:
        raise UrlNotAllowedError("image URLs may not carry user credentials")
    host = (parts.hostname or "").lower()
    if not host:
        raise UrlNotAllowedError("image URL has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise UrlNotAllowedError("image URL has an invalid port") from None
    entry = _match(host, port, policy)
    if entry is None:
        raise UrlNotAllowedError(f"image URL host {host!r} is not in the operator's allow-list")
    literal = _ip(host)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UrlFetchError(f"cannot resolve {host!r}") from None
    if time.monotonic() > deadline:
        raise UrlFetchError("image URL fetch timed out")
    addrs = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addrs:
        raise UrlFetchError(f"cannot resolve {host!r}")
    explicit = literal is not None  # the entry that matched is this IP literal itself
    for addr in addrs:
        if _internal(addr) and not explicit:
            raise UrlNotAllowedError(f"image URL host {host!r} resolves to a non-public address")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, host, port, path, str(addrs[0])


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, ip: str, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, ip: str, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._ip = ip

    def connect(self) -> None:
        raw = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)


class _Watchdog:
    """Shuts down the socket of ``conn`` when ``deadline`` passes, waking any read blocked on it."""

    def __init__(self, deadline: float) -> None:
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.fired = False

    def watch(self, sock: socket.socket | None) -> None:
        with self._lock:
            self._fd = None if sock is None else os.dup(sock.fileno())
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._fd is None:
                return
            self.fired = True
            # A duplicate descriptor of the same connection: shutting it down ends reads on the
            # original (TLS included) without closing a descriptor the reading thread still uses.
            with socket.socket(fileno=self._fd) as dup:
                self._fd = None
                with contextlib.suppress(OSError):
                    dup.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None


def fetch_url(url: str, policy: FetchPolicy, deadline: float | None = None) -> bytes:
    """The body of ``url`` under ``policy``; domain errors for every refusal or failure.

    ``deadline`` (``time.monotonic()`` seconds) is when the whole fetch must be over; by default
    ``policy.timeout_s`` from now. A caller that queued the fetch passes the deadline it admitted it with.
    """
    if not policy.allowed_hosts:
        raise UrlNotAllowedError("image URLs are disabled on this server (no allowed hosts configured)")
    if len(url) > 4096:
        raise UrlNotAllowedError("image URL is longer than 4096 characters")
    if deadline is None:
        deadline = time.monotonic() + policy.timeout_s
    for _ in range(MAX_REDIRECTS + 1):
        scheme, host, port, path, ip = _check(url, policy, deadline)
        remaining = max(0.05, deadline - time.monotonic())
        conn_cls = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
        conn = conn_cls(ip, host, port, remaining)
        watchdog = _Watchdog(deadline)
        try:
            conn.connect()
            watchdog.watch(conn.sock)
            conn.request("GET", path, headers={"User-Agent": "visage", "Accept": "image/*"})
            sock = conn.sock  # http.client drops conn.sock once it knows the response will close it
            resp = conn.getresponse()
            if resp.status in (301, 302, 303, 307, 308):
                location = resp.getheader("Location")
                if not location:
                    raise UrlFetchError(f"image URL answered {resp.status} without a Location")
                url = urljoin(url, location)
                continue
            if resp.status != 200:
                raise UrlFetchError(f"image URL answered HTTP {resp.status}")
            declared = resp.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > policy.max_bytes:
                raise ImageTooLargeError(f"image at URL is {declared} bytes; the limit is {policy.max_bytes}")
            chunks, total = [], 0
            while True:
                if time.monotonic() > deadline:
                    raise UrlFetchError("image URL fetch timed out")
                if sock is not None and sock.fileno() != -1:
                    sock.settimeout(max(0.05, deadline - time.monotonic()))
                chunk = resp.read1(_CHUNK)  # one receive at a time: the deadline is checked between
                if not chunk:
                    break
                total += len(chunk)
                if total > policy.max_bytes:
                    raise ImageTooLargeError(f"image at URL is larger than the limit of {policy.max_bytes} bytes")
                chunks.append(chunk)
            if watchdog.fired:  # the end seen may be the watchdog's shutdown, not the body's end
                raise UrlFetchError("image URL fetch timed out")
            return b"".join(chunks)
        except TimeoutError:
            raise UrlFetchError("image URL fetch timed out") from None
        except (OSError, http.client.HTTPException):
            if watchdog.fired or time.monotonic() > deadline:
                raise UrlFetchError("image URL fetch timed out") from None
            raise UrlFetchError("image URL fetch failed (connection or protocol error)") from None
        finally:
            watchdog.cancel()
            conn.close()
    raise UrlFetchError(f"image URL redirected more than {MAX_REDIRECTS} times")
