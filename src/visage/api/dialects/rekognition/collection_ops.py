"""Collections, faces and users: Rekognition's operations over :class:`visage.collections.CollectionService`.

Every value comes from the engine or the store. Similarities and thresholds cross the wire as
Rekognition's 0-100 and reach the service as visage's calibrated [0, 1] (50 on the wire is
visage's measured decision point; AWS's default thresholds of 80 are stricter than that).
Blocking store and engine work runs on the inference pool, never on the event loop.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from visage.analysis.quality_filter import quality_filter_reasons
from visage.api.dialects.rekognition import mapping
from visage.api.dialects.rekognition.errors import RekognitionError, invalid_parameter
from visage.api.dialects.rekognition.routes import Call, analysis_options, engine_attributes, operation
from visage.collections import MAX_INDEX_FACES, CollectionService
from visage.errors import AlreadyExistsError, InvalidParameterError, NoFaceError, NotFoundError
from visage.store import AssociationResult, CollectionInfo, FaceRecord
from visage.store.base import MAX_PAGE

# Defaults where a request leaves a member out (AWS documents the thresholds; the page sizes are visage's).
FACE_MATCH_THRESHOLD = 80.0
USER_MATCH_THRESHOLD = 80.0
ASSOCIATE_USER_MATCH_THRESHOLD = 75.0
MAX_FACES_DEFAULT = 10
MAX_USERS_DEFAULT = 10
LIST_PAGE_DEFAULT = 1000
LIST_USERS_PAGE_DEFAULT = 100
#: The account id in collection ARNs: visage has no AWS accounts.
ACCOUNT_ID = "000000000000"


def _service(call: Call) -> CollectionService:
    return call.state.collections


async def _run(call: Call, fn: Callable[..., Any], *args: Any) -> Any:
    return await call.state.infer(fn, *args)


def _arn(call: Call, collection_id: str) -> str:
    """Rekognition's collection ARN form (it has no 'arn:' prefix): aws:rekognition:region:account:collection/id."""
    region = getattr(call.request.state, "aws_region", None) or "us-east-1"
    return f"aws:rekognition:{region}:{ACCOUNT_ID}:collection/{collection_id}"


def _image_id(image_id: str) -> str:
    """Rekognition's ImageId is UUID-shaped: visage's 32-hex image ids are shown as a UUID."""
    try:
        return str(uuid.UUID(hex=image_id))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"visage:image:{image_id}"))


def index_model_version(model: str) -> str | None:
    """``IndexFacesModelVersion`` (the model's pattern is ``[0-9.]+``): the pinned version of the package
    the collection's embedder comes from (``dlib_resnet_v1``: face-recognition-models 0.3.0), from the
    manifest. A template model is named after its manifest row plus variant suffixes
    (``human-faceres-deep-1024``, ``expo-mobilefacenet-flip-192``): the longest manifest name that, compared
    without case, is the whole name or a ``-``-separated prefix of it. None (omitted) when none is."""
    from visage.models.registry import MODELS

    name = model.lower()
    rows = [k for k in MODELS if name == k.lower() or name.startswith(k.lower() + "-")]
    spec = MODELS[max(rows, key=len)] if rows else None
    version = spec.source.version if spec is not None else None
    return version if version and all(c.isdigit() or c == "." for c in version) else None


def stored_face(record: FaceRecord) -> dict[str, Any]:
    """A ``Face``. ``BoundingBox`` is relative to the image the face was indexed from, whose size the
    store keeps; faces stored before it did (``image_width`` None) have none (docs/rekognition.md)."""
    out: dict[str, Any] = {"FaceId": record.face_id}
    if record.image_width and record.image_height:
        out["BoundingBox"] = mapping.bounding_box(record.box, record.image_width, record.image_height)
    out["ImageId"] = _image_id(record.image_id)
    if record.external_image_id:
        out["ExternalImageId"] = record.external_image_id
    out["Confidence"] = mapping.percent(record.confidence)
    version = index_model_version(record.template.model)
    if version is not None:
        out["IndexFacesModelVersion"] = version
    if record.user_id:
        out["UserId"] = record.user_id
    return out


def _threshold(value: float | None, default: float) -> float:
    return (default if value is None else value) / 100.0


def _page(value: int | None, default: int) -> int:
    return value or default


async def _listing(call: Call, fn: Callable[[], Any], next_token: str | None) -> Any:
    """A paginated store call; a token the store refuses is Rekognition's InvalidPaginationTokenException."""
    try:
        return await _run(call, fn)
    except InvalidParameterError as exc:
        if next_token is not None and "token" in exc.message:
            raise RekognitionError("InvalidPaginationTokenException", "Invalid pagination token") from None
        raise


# ------------------------------------------------------------------------------- collections


@operation("CreateCollection")
async def create_collection(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    info: CollectionInfo = await _run(call, _service(call).create_collection, p["CollectionId"])
    return {"StatusCode": 200, "CollectionArn": _arn(call, info.collection_id), "FaceModelVersion": info.model}


@operation("DescribeCollection")
async def describe_collection(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    info: CollectionInfo = await _run(call, _service(call).describe_collection, p["CollectionId"])
    return {
        "FaceCount": info.face_count,
        "FaceModelVersion": info.model,
        "CollectionARN": _arn(call, info.collection_id),
        "CreationTimestamp": info.created_at.timestamp(),
        "UserCount": info.user_count,
    }


@operation("ListCollections")
async def list_collections(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    service = _service(call)

    def work() -> tuple[list[str], str | None, list[str]]:
        ids, token = service.list_collections(_page(p.get("MaxResults"), LIST_PAGE_DEFAULT), p.get("NextToken"))
        models = []
        for cid in ids:
            try:
                models.append(service.describe_collection(cid).model)
            except NotFoundError:  # deleted between the two calls
                models.append("")
        return ids, token, models

    ids, token, models = await _listing(call, work, p.get("NextToken"))
    out: dict[str, Any] = {"CollectionIds": ids, "FaceModelVersions": models}
    if token:
        out["NextToken"] = token
    return out


@operation("DeleteCollection")
async def delete_collection(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    await _run(call, _service(call).delete_collection, p["CollectionId"])
    return {"StatusCode": 200}


# ------------------------------------------------------------------------------------ faces


@operation("IndexFaces")
async def index_faces(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    data = await call.image_bytes(p["Image"], "Image")
    wanted = mapping.requested_fields(p.get("DetectionAttributes"))
    max_faces = p.get("MaxFaces")
    # AWS: "IndexFaces returns no more than 100 detected faces in an image, even if you specify a larger value".
    max_faces = None if max_faces is None else min(max_faces, MAX_INDEX_FACES)

    def work() -> Any:
        # The same FaceDetail as DetectFaces with these attributes: the engine attributes behind them run.
        return _service(call).index_faces(
            p["CollectionId"], data, external_image_id=p.get("ExternalImageId"), max_faces=max_faces,
            quality_filter=p.get("QualityFilter", "AUTO"), attributes=engine_attributes(wanted))

    result = await _run(call, work)
    size, models = (result.analysis.width, result.analysis.height), result.analysis.models
    return {
        "FaceRecords": [
            {"Face": stored_face(record), "FaceDetail": mapping.face_detail(face, *size, wanted, models)}
            for record, face in result.indexed
        ],
        "FaceModelVersion": result.model,
        "UnindexedFaces": [
            {"Reasons": list(u.reasons), "FaceDetail": mapping.face_detail(u.face, *size, wanted, models)}
            for u in result.unindexed
        ],
    }


@operation("ListFaces")
async def list_faces(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    service = _service(call)
    cid, user_id, face_ids = p["CollectionId"], p.get("UserId"), p.get("FaceIds")

    def work() -> tuple[list[FaceRecord], str | None, str]:
        model = service.describe_collection(cid).model
        if face_ids:
            faces = service.store.get_faces(cid, face_ids)
            return [f for f in faces if user_id is None or f.user_id == user_id], None, model
        faces, token = service.list_faces(cid, _page(p.get("MaxResults"), LIST_PAGE_DEFAULT), p.get("NextToken"),
                                          user_id)
        return faces, token, model

    faces, token, model = await _listing(call, work, p.get("NextToken"))
    out: dict[str, Any] = {"Faces": [stored_face(f) for f in faces], "FaceModelVersion": model}
    if token:
        out["NextToken"] = token
    return out


@operation("DeleteFaces")
async def delete_faces(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    service = _service(call)
    cid, ids = p["CollectionId"], list(dict.fromkeys(p["FaceIds"]))

    def work() -> tuple[list[str], list[dict[str, Any]]]:
        found = {f.face_id: f for f in service.store.get_faces(cid, ids)}
        failed: list[dict[str, Any]] = []
        deletable = []
        for fid in ids:
            face = found.get(fid)
            if face is None:
                failed.append({"FaceId": fid, "Reasons": ["FACE_NOT_FOUND"]})
            elif face.user_id:  # as on AWS: disassociate a face from its user before deleting it
                failed.append({"FaceId": fid, "UserId": face.user_id, "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"]})
            else:
                deletable.append(fid)
        deleted = service.delete_faces(cid, deletable) if deletable else []
        failed += [{"FaceId": f, "Reasons": ["FACE_NOT_FOUND"]} for f in deletable if f not in set(deleted)]
        return deleted, failed

    deleted, failed = await _run(call, work)
    return {"DeletedFaces": deleted, "UnsuccessfulFaceDeletions": failed}


def _face_matches(matches: Any) -> list[dict[str, Any]]:
    return [{"Similarity": m.similarity * 100.0, "Face": stored_face(m.face)} for m in matches]


@operation("SearchFaces")
async def search_faces(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    service = _service(call)

    # The service looks one further (the probe finds itself); the store's page limit is 4096.
    max_faces = min(p.get("MaxFaces", MAX_FACES_DEFAULT), MAX_PAGE - 1)

    def work() -> Any:
        return service.search_faces(p["CollectionId"], p["FaceId"], max_faces,
                                    _threshold(p.get("FaceMatchThreshold"), FACE_MATCH_THRESHOLD))

    probe, matches = await _run(call, work)
    return {"SearchedFaceId": probe.face_id, "FaceMatches": _face_matches(matches),
            "FaceModelVersion": probe.template.model}


@operation("SearchFacesByImage")
async def search_faces_by_image(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    data = await call.image_bytes(p["Image"], "Image")
    service = _service(call)

    def work() -> Any:
        return service.search_by_image(
            p["CollectionId"], data, max_faces=p.get("MaxFaces", MAX_FACES_DEFAULT),
            threshold=_threshold(p.get("FaceMatchThreshold"), FACE_MATCH_THRESHOLD),
            quality_filter=p.get("QualityFilter", "NONE"))

    try:
        analysis, results = await _run(call, work)
    except NoFaceError:
        raise invalid_parameter("There are no faces in the image. Should be at least 1.") from None
    searched = results[0]
    return {
        "SearchedFaceBoundingBox": mapping.bounding_box(searched.face.box, analysis.width, analysis.height),
        "SearchedFaceConfidence": mapping.percent(searched.face.confidence),
        "FaceMatches": _face_matches(searched.matches),
        "FaceModelVersion": call.engine.embedder_model,
    }


# ------------------------------------------------------------------------------------ users


async def _idempotent_user_change(call: Call, p: dict[str, Any], name: str, change: Any,
                                  replay_error: type[Exception]) -> dict[str, Any]:
    """Run a user change once per ClientRequestToken: a retry with the same token whose first try
    already took effect (so it now fails with ``replay_error``) answers success, as AWS does."""
    cid, uid, token = p["CollectionId"], p["UserId"], p.get("ClientRequestToken")
    try:
        await _run(call, change, cid, uid)
    except replay_error:
        if token and call.rek.tokens.seen(name, cid, uid, token):
            return {}
        raise
    if token:
        call.rek.tokens.remember(name, cid, uid, token)
    return {}


@operation("CreateUser")
async def create_user(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return await _idempotent_user_change(call, p, "CreateUser", _service(call).create_user, AlreadyExistsError)


@operation("DeleteUser")
async def delete_user(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    return await _idempotent_user_change(call, p, "DeleteUser", _service(call).delete_user, NotFoundError)


@operation("ListUsers")
async def list_users(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    def work() -> Any:
        return _service(call).list_users(p["CollectionId"], _page(p.get("MaxResults"), LIST_USERS_PAGE_DEFAULT),
                                         p.get("NextToken"))

    users, token = await _listing(call, work, p.get("NextToken"))
    out: dict[str, Any] = {"Users": [{"UserId": u.user_id, "UserStatus": u.status} for u in users]}
    if token:
        out["NextToken"] = token
    return out


_ASSOCIATION_REASONS = {
    "face_not_found": "FACE_NOT_FOUND",
    "associated_to_a_different_user": "ASSOCIATED_TO_A_DIFFERENT_USER",
}


@operation("AssociateFaces")
async def associate_faces(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    service = _service(call)
    cid, uid, ids = p["CollectionId"], p["UserId"], list(dict.fromkeys(p["FaceIds"]))
    threshold = p.get("UserMatchThreshold", ASSOCIATE_USER_MATCH_THRESHOLD)

    def work() -> tuple[AssociationResult, dict[str, float]]:
        # A face joins a user that already has faces only if it matches them at UserMatchThreshold.
        user = service.store.get_user(cid, uid)
        existing = set(user.face_ids)
        low: dict[str, float] = {}
        new = [f for f in ids if f not in existing]
        if existing and new:
            records = {r.face_id: r for r in service.store.get_faces(cid, [*existing, *new])}
            members = [records[f] for f in existing if f in records]
            for fid in new:
                # Missing faces and faces of another user keep the store's own reason.
                if fid in records and records[fid].user_id is None and members:
                    best = max(service.compare_similarity(records[fid].template, m) for m in members) * 100.0
                    if best < threshold:
                        low[fid] = best
        todo = [f for f in ids if f not in low]
        result = service.associate_faces(cid, uid, todo) if todo else AssociationResult(uid, ())
        return result, low

    result, low = await _run(call, work)
    failed = [
        {"FaceId": fid, "UserId": uid, "Reasons": [_ASSOCIATION_REASONS.get(reason, "FACE_NOT_FOUND")]}
        for fid, reason in result.failed.items()
    ]
    failed += [{"FaceId": fid, "UserId": uid, "Confidence": sim, "Reasons": ["LOW_MATCH_CONFIDENCE"]}
               for fid, sim in low.items()]
    return {
        "AssociatedFaces": [{"FaceId": f} for f in result.succeeded],
        "UnsuccessfulFaceAssociations": failed,
        "UserStatus": result.user_status,
    }


@operation("DisassociateFaces")
async def disassociate_faces(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    cid, uid, ids = p["CollectionId"], p["UserId"], list(dict.fromkeys(p["FaceIds"]))
    result: AssociationResult = await _run(call, _service(call).disassociate_faces, cid, uid, ids)
    failed = []
    for fid, reason in result.failed.items():
        # A face associated with no user is, for Rekognition, not associated with this one.
        wire = "FACE_NOT_FOUND" if reason == "face_not_found" else "ASSOCIATED_TO_A_DIFFERENT_USER"
        failed.append({"FaceId": fid, "UserId": uid, "Reasons": [wire]})
    return {
        "DisassociatedFaces": [{"FaceId": f} for f in result.succeeded],
        "UnsuccessfulFaceDisassociations": failed,
        "UserStatus": result.user_status,
    }


def _user_matches(matches: Any) -> list[dict[str, Any]]:
    return [{"Similarity": m.similarity * 100.0, "User": {"UserId": m.user_id, "UserStatus": "ACTIVE"}}
            for m in matches]


@operation("SearchUsers")
async def search_users(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    service = _service(call)
    cid, user_id, face_id = p["CollectionId"], p.get("UserId"), p.get("FaceId")
    if (user_id is None) == (face_id is None):
        raise invalid_parameter("SearchUsers needs exactly one of UserId or FaceId")
    max_users = p.get("MaxUsers", MAX_USERS_DEFAULT)
    threshold = _threshold(p.get("UserMatchThreshold"), USER_MATCH_THRESHOLD)

    def work() -> Any:
        if face_id is not None:
            return service.search_users_by_face(cid, face_id, max_users, threshold)
        # By user: search with each of its faces; a user's score is its best one.
        user = service.store.get_user(cid, user_id)
        best: dict[str, Any] = {}
        for record in service.store.get_faces(cid, list(user.face_ids)):
            for m in service.search_users(cid, record.template, max_users, threshold):
                if m.user_id not in best or m.similarity > best[m.user_id].similarity:
                    best[m.user_id] = m
        return sorted(best.values(), key=lambda m: -m.similarity)[:max_users]

    matches = await _run(call, work)
    out: dict[str, Any] = {"UserMatches": _user_matches(matches), "FaceModelVersion": call.engine.embedder_model}
    if face_id is not None:
        out["SearchedFace"] = {"FaceId": face_id}
    else:
        out["SearchedUser"] = {"UserId": user_id}
    return out


@operation("SearchUsersByImage")
async def search_users_by_image(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    data = await call.image_bytes(p["Image"], "Image")
    service = _service(call)
    cid = p["CollectionId"]
    max_users = p.get("MaxUsers", MAX_USERS_DEFAULT)
    threshold = _threshold(p.get("UserMatchThreshold"), USER_MATCH_THRESHOLD)
    level = p.get("QualityFilter", "NONE")

    def work() -> Any:
        service.describe_collection(cid)  # unknown collection: ResourceNotFoundException before any work
        analysis = call.engine.analyze(data, analysis_options(templates=True))
        if not analysis.faces:
            raise invalid_parameter("There are no faces in the image. Should be at least 1.")
        largest, others = analysis.faces[0], analysis.faces[1:]
        reasons = quality_filter_reasons(largest, (analysis.width, analysis.height), level)
        matches = [] if reasons else service.search_users(cid, largest.template, max_users, threshold)
        return analysis, largest, reasons, others, matches

    analysis, largest, reasons, others, matches = await _run(call, work)
    size = (analysis.width, analysis.height)
    unsearched = [{"FaceDetails": mapping.face_detail(f, *size), "Reasons": ["FACE_NOT_LARGEST"]} for f in others]
    out: dict[str, Any] = {"UserMatches": _user_matches(matches), "FaceModelVersion": call.engine.embedder_model}
    if reasons:
        unsearched.insert(0, {"FaceDetails": mapping.face_detail(largest, *size), "Reasons": reasons})
    else:
        out["SearchedFace"] = {"FaceDetail": mapping.face_detail(largest, *size)}
    out["UnsearchedFaces"] = unsearched
    return out
