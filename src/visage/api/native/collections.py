"""Native collection routes: /v1/collections/... (changes need an admin key when keys are set)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from visage.analysis.embedders import embedder_for_template
from visage.api.native.routes import (
    _ERRORS,
    _infer_with_fields,
    _json_body,
    _parse,
    _request_fields,
    analysis_json,
)
from visage.api.openapi import request_schema
from visage.api.state import AppState, get_state, require_key
from visage.collections import FaceMatch, ImageSearch, IndexResult, UserMatch
from visage.errors import InvalidParameterError, ModelUnavailableError
from visage.store import AssociationResult, CollectionInfo, FaceRecord, UserRecord
from visage.types import ImageAnalysis

router = APIRouter(prefix="/v1/collections", tags=["collections"], responses=_ERRORS,
                   dependencies=[Depends(require_key("read"))])
ADMIN = [Depends(require_key("admin"))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CreateCollection(_Strict):
    collection_id: str


class IndexRequest(_Strict):
    image: str
    external_image_id: str | None = Field(None, max_length=255)
    max_faces: int | None = Field(None, ge=1, le=100)
    quality_filter: str = "AUTO"


class SearchImageRequest(_Strict):
    image: str
    max_faces: int = Field(10, ge=1, le=4096)
    threshold: float | None = Field(None, ge=0.0, le=1.0)
    all_faces: bool = False
    quality_filter: str = "NONE"


class SearchFaceRequest(_Strict):
    max_faces: int = Field(10, ge=1, le=4096)
    threshold: float | None = Field(None, ge=0.0, le=1.0)


class FaceIds(_Strict):
    face_ids: list[str] = Field(min_length=1, max_length=4096)


class CreateUser(_Strict):
    user_id: str


class SearchUsersRequest(_Strict):
    image: str | None = None
    face_id: str | None = None
    max_users: int = Field(10, ge=1, le=500)
    threshold: float | None = Field(None, ge=0.0, le=1.0)


def collection_json(info: CollectionInfo) -> dict[str, Any]:
    """A collection as the API and CLI show it; ``embedder`` names the embedder its templates come from
    (the one index and search use for it), null when no embedder of this build makes them."""
    return {"collection_id": info.collection_id, "created_at": info.created_at.isoformat(), "model": info.model,
            "embedder": embedder_name(info.model), "dim": info.dim, "face_count": info.face_count,
            "user_count": info.user_count}


def embedder_name(template_model: str) -> str | None:
    try:
        return embedder_for_template(template_model)
    except ModelUnavailableError:
        return None


def face_record_json(rec: FaceRecord) -> dict[str, Any]:
    return {"face_id": rec.face_id, "image_id": rec.image_id, "external_image_id": rec.external_image_id,
            "box": rec.box.to_dict(), "confidence": rec.confidence, "user_id": rec.user_id,
            "created_at": rec.created_at.isoformat(), "model": rec.template.model}


def match_json(m: FaceMatch) -> dict[str, Any]:
    return {"similarity": m.similarity, "face": face_record_json(m.face)}


def user_json(u: UserRecord) -> dict[str, Any]:
    return {"user_id": u.user_id, "face_ids": list(u.face_ids), "status": u.status,
            "created_at": u.created_at.isoformat()}


def user_match_json(m: UserMatch) -> dict[str, Any]:
    return {"user_id": m.user_id, "similarity": m.similarity, "best_face_id": m.best_face_id}


def association_json(r: AssociationResult) -> dict[str, Any]:
    return {"user_id": r.user_id, "succeeded": list(r.succeeded), "failed": r.failed, "user_status": r.user_status}


async def _json_model(request: Request, model: type[BaseModel]) -> Any:
    """A JSON body read through the shared reader: size cap (413), strict JSON (400), then ``model``."""
    from visage.api.body import read_json

    return _parse(model, await read_json(request))


def _json_only(model: type[BaseModel]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": request_schema(model)}}}}


@router.post("", dependencies=ADMIN, openapi_extra=_json_only(CreateCollection),
             summary="Create a collection for this server's embedder")
async def create_collection(request: Request, state: AppState = Depends(get_state)) -> dict[str, Any]:
    body = await _json_model(request, CreateCollection)
    return collection_json(await state.infer(state.collections.create_collection, body.collection_id))


@router.get("", summary="List collections (paginated)")
async def list_collections(max_results: int = Query(100, ge=1, le=4096), next_token: str | None = None,
                           state: AppState = Depends(get_state)) -> dict[str, Any]:
    ids, token = await state.infer(state.collections.list_collections, max_results, next_token)
    return {"collection_ids": ids, "next_token": token}


@router.get("/{collection_id}", summary="Describe a collection")
async def describe_collection(collection_id: str, state: AppState = Depends(get_state)) -> dict[str, Any]:
    return collection_json(await state.infer(state.collections.describe_collection, collection_id))


@router.delete("/{collection_id}", dependencies=ADMIN, summary="Delete a collection and its faces")
async def delete_collection(collection_id: str, state: AppState = Depends(get_state)) -> dict[str, Any]:
    await state.infer(state.collections.delete_collection, collection_id)
    return {"deleted": collection_id}


def index_json(result: IndexResult, models: list[str]) -> dict[str, Any]:
    analysis = analysis_json(result.analysis, models)
    return {
        "width": analysis["width"], "height": analysis["height"], "model": result.model,
        "indexed": [{"face_id": rec.face_id, "image_id": rec.image_id, "external_image_id": rec.external_image_id,
                     "box": face.box.to_dict(), "confidence": face.confidence,
                     "pose": face.pose.to_dict() if face.pose else None} for rec, face in result.indexed],
        "unindexed": [{"reasons": list(u.reasons), "box": u.face.box.to_dict(), "confidence": u.face.confidence}
                      for u in result.unindexed],
    }


@router.post("/{collection_id}/faces", dependencies=ADMIN, openapi_extra=_json_body(IndexRequest),
             summary="Index the faces of an image")
async def index_faces(collection_id: str, request: Request, state: AppState = Depends(get_state)) -> dict[str, Any]:
    service = state.collections
    _, result = await _infer_with_fields(request, state, IndexRequest, ("image",), lambda req, images: (
        service.index_faces(collection_id, images["image"], external_image_id=req.external_image_id,
                            max_faces=req.max_faces, quality_filter=req.quality_filter)))
    return index_json(result, state.engine.pipeline.models())


@router.get("/{collection_id}/faces", summary="List faces (paginated)")
async def list_faces(collection_id: str, max_results: int = Query(100, ge=1, le=4096), next_token: str | None = None,
                     user_id: str | None = None, state: AppState = Depends(get_state)) -> dict[str, Any]:
    faces, token = await state.infer(state.collections.list_faces, collection_id, max_results, next_token, user_id)
    return {"faces": [face_record_json(f) for f in faces], "next_token": token}


@router.post("/{collection_id}/faces/delete", dependencies=ADMIN, openapi_extra=_json_only(FaceIds),
             summary="Delete faces by id")
async def delete_faces(collection_id: str, request: Request, state: AppState = Depends(get_state)) -> dict[str, Any]:
    body = await _json_model(request, FaceIds)
    return {"deleted": await state.infer(state.collections.delete_faces, collection_id, body.face_ids)}


@router.post("/{collection_id}/faces/{face_id}/search", summary="Faces like a stored face")
async def search_faces(collection_id: str, face_id: str, request: Request,
                       state: AppState = Depends(get_state)) -> dict[str, Any]:
    raw = await request.body()
    body = SearchFaceRequest() if not raw.strip() else await _json_model(request, SearchFaceRequest)
    probe, matches = await state.infer(state.collections.search_faces, collection_id, face_id, body.max_faces,
                                       body.threshold)
    return {"face_id": probe.face_id, "matches": [match_json(m) for m in matches]}


@router.post("/{collection_id}/search", openapi_extra=_json_body(SearchImageRequest),
             summary="Search with the largest face (or every face) of an image")
async def search_by_image(collection_id: str, request: Request, state: AppState = Depends(get_state)) -> dict[str, Any]:
    service = state.collections

    def work(req: SearchImageRequest, images: dict[str, bytes]) -> tuple[ImageAnalysis, list[ImageSearch]]:
        return service.search_by_image(collection_id, images["image"], max_faces=req.max_faces,
                                       threshold=req.threshold, all_faces=req.all_faces,
                                       quality_filter=req.quality_filter)

    _, (analysis, results) = await _infer_with_fields(request, state, SearchImageRequest, ("image",), work)
    return {"width": analysis.width, "height": analysis.height,
            "results": [{"box": r.face.box.to_dict(), "confidence": r.face.confidence,
                         "matches": [match_json(m) for m in r.matches]} for r in results]}


@router.post("/{collection_id}/users", dependencies=ADMIN, openapi_extra=_json_only(CreateUser),
             summary="Create a user")
async def create_user(collection_id: str, request: Request, state: AppState = Depends(get_state)) -> dict[str, Any]:
    body = await _json_model(request, CreateUser)
    return user_json(await state.infer(state.collections.create_user, collection_id, body.user_id))


@router.get("/{collection_id}/users", summary="List users (paginated)")
async def list_users(collection_id: str, max_results: int = Query(100, ge=1, le=4096), next_token: str | None = None,
                     state: AppState = Depends(get_state)) -> dict[str, Any]:
    users, token = await state.infer(state.collections.list_users, collection_id, max_results, next_token)
    return {"users": [user_json(u) for u in users], "next_token": token}


@router.delete("/{collection_id}/users/{user_id}", dependencies=ADMIN, summary="Delete a user")
async def delete_user(collection_id: str, user_id: str, state: AppState = Depends(get_state)) -> dict[str, Any]:
    await state.infer(state.collections.delete_user, collection_id, user_id)
    return {"deleted": user_id}


@router.post("/{collection_id}/users/{user_id}/faces", dependencies=ADMIN, openapi_extra=_json_only(FaceIds),
             summary="Associate faces with a user")
async def associate(collection_id: str, user_id: str, request: Request,
                    state: AppState = Depends(get_state)) -> dict[str, Any]:
    body = await _json_model(request, FaceIds)
    return association_json(await state.infer(state.collections.associate_faces, collection_id, user_id,
                                              body.face_ids))


@router.post("/{collection_id}/users/{user_id}/faces/delete", dependencies=ADMIN, openapi_extra=_json_only(FaceIds),
             summary="Disassociate faces from a user")
async def disassociate(collection_id: str, user_id: str, request: Request,
                       state: AppState = Depends(get_state)) -> dict[str, Any]:
    body = await _json_model(request, FaceIds)
    return association_json(await state.infer(state.collections.disassociate_faces, collection_id, user_id,
                                              body.face_ids))


@router.post("/{collection_id}/users/search", openapi_extra=_json_body(SearchUsersRequest),
             summary="Users like a stored face or the largest face of an image")
async def search_users(collection_id: str, request: Request, state: AppState = Depends(get_state)) -> dict[str, Any]:
    req, images = await _request_fields(request, SearchUsersRequest, ("image",))
    service = state.collections
    if ("image" in images) == (req.face_id is not None):
        raise InvalidParameterError("give exactly one of image or face_id")
    if req.face_id is not None:
        users = await state.infer(service.search_users_by_face, collection_id, req.face_id, req.max_users,
                                  req.threshold)
        return {"users": [user_match_json(u) for u in users]}
    face, users = await state.infer(service.search_users_by_image, collection_id, images["image"], req.max_users,
                                    req.threshold)
    return {"box": face.box.to_dict(), "users": [user_match_json(u) for u in users]}


@router.get("/{collection_id}/export", dependencies=ADMIN, response_class=PlainTextResponse,
            summary="Export a collection as JSON lines (metadata + templates)")
async def export_collection(collection_id: str, state: AppState = Depends(get_state)) -> Response:
    import io

    buf = io.StringIO()
    await state.infer(state.store.export_collection, collection_id, buf)
    return Response(buf.getvalue(), media_type="application/x-ndjson")


@router.post("/import", dependencies=ADMIN, summary="Import a collection exported as JSON lines")
async def import_collection(request: Request, collection_id: str | None = None,
                            state: AppState = Depends(get_state)) -> dict[str, Any]:
    import io

    from visage.collections import import_collection as checked_import

    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidParameterError("import body must be UTF-8 JSON lines") from exc
    info = await state.infer(checked_import, state.store, io.StringIO(text), collection_id)
    return collection_json(info)
