"""The OpenAPI document stays whole while error responses are declared by reference (start-up cost)."""

from __future__ import annotations

from typing import Any

from visage.api.app import create_app
from visage.config import Settings


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if isinstance(node.get("$ref"), str) else [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_reference_resolves_and_errors_name_their_envelope() -> None:
    doc = create_app(Settings()).openapi()
    schemas = doc["components"]["schemas"]
    missing = {r for r in _refs(doc) if r.removeprefix("#/components/schemas/") not in schemas}
    assert not missing
    for path, code, model in [("/v1/embed", "401", "ErrorResponse"), ("/v1/embed", "400", "ErrorResponse"),
                              ("/quality/face/stateless", "413", "SenseIdErrorResponse")]:
        content = doc["paths"][path]["post"]["responses"][code]["content"]["application/json"]
        assert content["schema"]["$ref"] == f"#/components/schemas/{model}", (path, code)
