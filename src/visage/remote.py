"""The CLI's collection commands against a running ``visage serve``, over its native API.

One process owns an embedded SQLite store (the in-memory vector index must see every write), so
while ``visage serve`` runs, ``visage index`` and ``visage collections`` cannot open the store
themselves. They talk to the server instead: ``--server URL``, or found by default from the
``<store>.server`` file the server writes next to the SQLite file it holds (its URL and pid).

Standard library HTTP only: the CLI needs no extra dependency to be a client.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from visage.errors import VisageError

#: Seconds one API call may take (an index call runs the models on a busy server).
_TIMEOUT_S = 300.0


class RemoteError(VisageError):
    """An error envelope from the server, with the server's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def server_file(store_path: Path) -> Path:
    """Where a server advertises the SQLite store it holds: ``<db>.server`` (JSON: url, pid)."""
    return store_path.with_name(store_path.name + ".server")


def advertise(store_path: Path, url: str) -> None:
    """Record that this process serves ``store_path`` at ``url`` (written atomically)."""
    target = server_file(store_path)
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
    os.replace(tmp, target)


def withdraw(store_path: Path) -> None:
    """Remove the advertisement if it is this process's."""
    target = server_file(store_path)
    try:
        if json.loads(target.read_text()).get("pid") == os.getpid():
            target.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def advertised_url(store_path: Path) -> str | None:
    """The URL of the server holding ``store_path``, when it advertised one and answers /healthz."""
    try:
        advert = json.loads(server_file(store_path).read_text())
        url, pid = str(advert["url"]), int(advert["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)  # a file left by a server that died (kill -9) names no live process
    except PermissionError:
        pass  # alive, another user's
    except OSError:
        return None
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=3) as resp:
            return url if resp.status == 200 else None
    except (OSError, ValueError):
        return None


def client_url(host: str, port: int) -> str:
    """The URL a local client uses for a server bound to ``host:port`` (wildcards -> loopback)."""
    if host in ("0.0.0.0", "", "::", "[::]"):
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


@dataclass
class RemoteCollections:
    """The collection operations the CLI needs, as calls to ``/v1/collections`` on ``base_url``."""

    base_url: str
    api_key: str | None = None

    def _request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: bytes | None = None,
                 content_type: str | None = None) -> bytes:
        url = self.base_url.rstrip("/") + path
        params = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (query or {}).items()
                  if v is not None}
        if params:
            url += "?" + urllib.parse.urlencode(params)
        headers = {"accept": "application/json"}
        if content_type:
            headers["content-type"] = content_type
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=_TIMEOUT_S) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                error = json.loads(raw)["error"]
                raise RemoteError(str(error["code"]), str(error["message"])) from None
            except (ValueError, KeyError, TypeError):
                raise RemoteError("http_error", f"{self.base_url} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RemoteError("server_unreachable", f"cannot reach the visage server at {self.base_url}: {reason}"
                              ) from None

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return json.loads(self._request(method, path, **kwargs))

    @staticmethod
    def _id(value: str) -> str:
        return urllib.parse.quote(value, safe="")

    def create_collection(self, collection_id: str) -> dict[str, Any]:
        return self._json("POST", "/v1/collections", body=json.dumps({"collection_id": collection_id}).encode(),
                          content_type="application/json")

    def describe_collection(self, collection_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/collections/{self._id(collection_id)}")

    def list_collections(self) -> list[str]:
        ids: list[str] = []
        token: str | None = None
        while True:
            page = self._json("GET", "/v1/collections", query={"max_results": 1000, "next_token": token})
            ids += page["collection_ids"]
            token = page.get("next_token")
            if not token:
                return ids

    def delete_collection(self, collection_id: str) -> None:
        self._json("DELETE", f"/v1/collections/{self._id(collection_id)}")

    def index_faces(self, collection_id: str, image: bytes, *, external_image_id: str | None,
                    max_faces: int | None, quality_filter: str) -> dict[str, Any]:
        return self._json("POST", f"/v1/collections/{self._id(collection_id)}/faces", body=image,
                          content_type="application/octet-stream",
                          query={"external_image_id": external_image_id, "max_faces": max_faces,
                                 "quality_filter": quality_filter})

    def search_by_image(self, collection_id: str, image: bytes, *, max_faces: int, threshold: float | None,
                        all_faces: bool) -> dict[str, Any]:
        return self._json("POST", f"/v1/collections/{self._id(collection_id)}/search", body=image,
                          content_type="application/octet-stream",
                          query={"max_faces": max_faces, "threshold": threshold, "all_faces": all_faces})

    def export_collection(self, collection_id: str) -> bytes:
        return self._request("GET", f"/v1/collections/{self._id(collection_id)}/export")

    def import_collection(self, data: bytes, collection_id: str | None) -> dict[str, Any]:
        return self._json("POST", "/v1/collections/import", body=data, content_type="application/x-ndjson",
                          query={"collection_id": collection_id})
