"""OpenAPI declarations that cost nothing at start-up."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def error_responses(model: type[BaseModel], codes: tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    """Error responses for a router's OpenAPI: ``model`` documented under each of ``codes``.

    Only the first code names the model; the others point at its schema. FastAPI builds a pydantic
    field (a TypeAdapter) for every route and every response that names a model, and the API's 66
    routes times eight error codes were a tenth of a second of every cold start. The document
    ``/openapi.json`` serves is the same: each code's body is a reference to the model's schema.
    """
    first, *rest = codes
    ref = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {first: {"model": model},
            **{code: {"content": {"application/json": {"schema": ref}}} for code in rest}}


def request_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema for a hand-written ``requestBody``, its nested models inlined.

    Pydantic points nested models at ``#/$defs/...`` of the schema it returns; placed inside the
    OpenAPI document, such a reference would point at the document's root, where nothing is.
    """
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline({**defs[ref.removeprefix("#/$defs/")], **{k: v for k, v in node.items() if k != "$ref"}})
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return inline(schema)
