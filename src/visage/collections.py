"""Face collections: the engine and a :class:`TemplateStore` composed into 1:N operations.

This is what every API (native, Rekognition, 3DiVi search-matcher) calls. Similarities are the
engine's calibrated [0, 1] scale; a similarity threshold becomes a cosine bound for the store
through the collection model's calibration, so the index does the filtering.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from visage.analysis.embedders import embedder_for_template
from visage.analysis.pipeline import AnalyzeOptions
from visage.analysis.quality_filter import check_level, quality_filter_reasons
from visage.calibration import DEFAULT_THRESHOLD, get_calibration
from visage.engine import Engine
from visage.errors import (
    InvalidParameterError,
    ModelUnavailableError,
    NoFaceError,
    NotFoundError,
    TemplateMismatchError,
)
from visage.store import AssociationResult, CollectionInfo, FaceRecord, NewFace, TemplateStore, UserRecord, portable
from visage.store.base import MAX_PAGE
from visage.types import Face, ImageAnalysis, Template

MAX_INDEX_FACES = 100


@dataclass(frozen=True, slots=True)
class UnindexedFace:
    face: Face
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IndexResult:
    analysis: ImageAnalysis
    indexed: tuple[tuple[FaceRecord, Face], ...]
    unindexed: tuple[UnindexedFace, ...]
    model: str


@dataclass(frozen=True, slots=True)
class FaceMatch:
    face: FaceRecord
    similarity: float


@dataclass(frozen=True, slots=True)
class UserMatch:
    user_id: str
    similarity: float
    best_face_id: str


@dataclass(frozen=True, slots=True)
class ImageSearch:
    """Matches for one face of a probe image."""

    face: Face
    matches: tuple[FaceMatch, ...]


def index_image_id(data: bytes, external_image_id: str | None) -> str:
    """The image id one IndexFaces call gives its faces (32 hex digits).

    AWS assigns an ImageId per call, so two calls with the same photo get two ids: a fresh random id.
    The one case AWS documents as not duplicating ("the same image, the same collection and the same
    external ID") keeps a stable id derived from the bytes and that external id, because the store
    recognises a repeated face by image id, external id and box and answers the faces it stored the
    first time (with that call's id).
    """
    if external_image_id is None:
        return uuid.uuid4().hex
    return hashlib.sha256(data + b"\x1f" + external_image_id.encode("utf-8")).hexdigest()[:32]


class CollectionService:
    """Collections, faces and users over one engine and one store; thread-safe like both."""

    def __init__(self, engine: Engine, store: TemplateStore) -> None:
        self.engine = engine
        self.store = store

    # ---------------------------------------------------------------- collections
    def create_collection(self, collection_id: str) -> CollectionInfo:
        """A collection for this engine's embedder (its templates only)."""
        return self.store.create_collection(collection_id, self.engine.embedder_model, self.engine.embedder_dim)

    def describe_collection(self, collection_id: str) -> CollectionInfo:
        return self.store.describe_collection(collection_id)

    def list_collections(self, max_results: int = 100, next_token: str | None = None) -> tuple[list[str], str | None]:
        return self.store.list_collections(max_results, next_token)

    def delete_collection(self, collection_id: str) -> None:
        self.store.delete_collection(collection_id)

    # ---------------------------------------------------------------- faces
    def index_faces(
        self,
        collection_id: str,
        image: bytes,
        *,
        external_image_id: str | None = None,
        max_faces: int | None = None,
        quality_filter: str = "AUTO",
        attributes: frozenset[str] = frozenset(),
    ) -> IndexResult:
        """Detect, filter and store the faces of ``image``, largest first.

        Faces failing the quality bar are returned with their reasons; faces beyond
        ``max_faces`` (after filtering) get ``EXCEEDS_MAX_FACES``. The same image bytes with the
        same ``external_image_id`` indexed again return the stored faces, not duplicates; without an
        external id every call is a new image (:func:`index_image_id`). Quality is measured whatever
        the filter (the faces' details carry it); ``attributes`` (engine attribute names) are
        computed for the caller's details only, not stored. Each face keeps its image's size.
        """
        info = self.store.describe_collection(collection_id)
        level = check_level(quality_filter)
        if max_faces is not None and not 1 <= max_faces <= MAX_INDEX_FACES:
            raise InvalidParameterError(f"max_faces must be in 1..{MAX_INDEX_FACES}")
        # Quality feeds LOW_BRIGHTNESS, LOW_SHARPNESS and LOW_FACE_QUALITY (about 9 ms a face), and the
        # details of every indexed face, filtered or not (Rekognition's FaceDetail.Quality).
        # At most the MAX_INDEX_FACES largest faces are analysed (the pipeline returns them largest first).
        analysis = self.engine.analyze(image, AnalyzeOptions(landmarks=True, pose=True, templates=True,
                                                             quality=True, attributes=attributes,
                                                             max_faces=MAX_INDEX_FACES,
                                                             embedder=self._embedder_for(info)))
        size = (analysis.width, analysis.height)
        keep: list[Face] = []
        unindexed: list[UnindexedFace] = []
        for face in analysis.faces:
            reasons = quality_filter_reasons(face, size, level)
            if reasons:
                unindexed.append(UnindexedFace(face, tuple(reasons)))
            elif max_faces is not None and len(keep) >= max_faces:
                unindexed.append(UnindexedFace(face, ("EXCEEDS_MAX_FACES",)))
            else:
                keep.append(face)
        image_id = index_image_id(image, external_image_id)
        new = [NewFace(image_id=image_id, box=f.box, confidence=f.confidence, template=f.template,
                       external_image_id=external_image_id, quality=_numeric(f.quality),
                       image_width=analysis.width, image_height=analysis.height) for f in keep]
        records = self.store.add_faces(collection_id, new) if new else []
        return IndexResult(analysis=analysis, indexed=tuple(zip(records, keep, strict=True)),
                           unindexed=tuple(unindexed), model=info.model)

    def list_faces(self, collection_id: str, max_results: int = 100, next_token: str | None = None,
                   user_id: str | None = None) -> tuple[list[FaceRecord], str | None]:
        return self.store.list_faces(collection_id, max_results, next_token, user_id)

    def delete_faces(self, collection_id: str, face_ids: Sequence[str]) -> list[str]:
        return self.store.delete_faces(collection_id, face_ids)

    def search_faces(self, collection_id: str, face_id: str, max_faces: int = 10,
                     threshold: float | None = None) -> tuple[FaceRecord, list[FaceMatch]]:
        """Faces like a stored face (the face itself excluded), best first."""
        found = self.store.get_faces(collection_id, [face_id])
        if not found:
            raise NotFoundError(f"face {face_id} not found in collection {collection_id}")
        probe = found[0]
        # One extra hit for the probe itself, within the store's page bound.
        matches = self._search(collection_id, probe.template, min(max_faces + 1, MAX_PAGE), threshold)
        return probe, [m for m in matches if m.face.face_id != face_id][:max_faces]

    def search_by_image(self, collection_id: str, image: bytes, *, max_faces: int = 10,
                        threshold: float | None = None, all_faces: bool = False,
                        quality_filter: str = "NONE") -> tuple[ImageAnalysis, list[ImageSearch]]:
        """Search with the largest face of ``image`` (or every face); :class:`NoFaceError` if none."""
        info = self.store.describe_collection(collection_id)
        level = check_level(quality_filter)
        analysis = self.engine.analyze(image, AnalyzeOptions(landmarks=True, pose=True, templates=True,
                                                             max_faces=None if all_faces else 1,
                                                             quality=level != "NONE",
                                                             embedder=self._embedder_for(info)))
        size = (analysis.width, analysis.height)
        probes = [f for f in analysis.faces if not quality_filter_reasons(f, size, level)]
        if not probes:
            raise NoFaceError("no face (passing the quality filter) found in the image")
        results = [ImageSearch(face, tuple(self._search(collection_id, face.template, max_faces, threshold)))
                   for face in probes]
        return analysis, results

    def compare_similarity(self, template: Template, record: FaceRecord) -> float:
        return get_calibration(record.template.model).similarity(template.cosine(record.template))

    # ---------------------------------------------------------------- users
    def create_user(self, collection_id: str, user_id: str) -> UserRecord:
        return self.store.create_user(collection_id, user_id)

    def delete_user(self, collection_id: str, user_id: str) -> None:
        self.store.delete_user(collection_id, user_id)

    def list_users(self, collection_id: str, max_results: int = 100,
                   next_token: str | None = None) -> tuple[list[UserRecord], str | None]:
        return self.store.list_users(collection_id, max_results, next_token)

    def associate_faces(self, collection_id: str, user_id: str, face_ids: Sequence[str]) -> AssociationResult:
        return self.store.associate_faces(collection_id, user_id, face_ids)

    def disassociate_faces(self, collection_id: str, user_id: str, face_ids: Sequence[str]) -> AssociationResult:
        return self.store.disassociate_faces(collection_id, user_id, face_ids)

    def search_users(self, collection_id: str, template: Template, max_users: int = 10,
                     threshold: float | None = None) -> list[UserMatch]:
        calibration = get_calibration(template.model)
        hits = self.store.search_users(collection_id, template, max_users, self._min_cosine(template, threshold))
        return [UserMatch(h.user_id, round(calibration.similarity(h.cosine), 6), h.best_face_id) for h in hits]

    def search_users_by_face(self, collection_id: str, face_id: str, max_users: int = 10,
                             threshold: float | None = None) -> list[UserMatch]:
        found = self.store.get_faces(collection_id, [face_id])
        if not found:
            raise NotFoundError(f"face {face_id} not found in collection {collection_id}")
        return self.search_users(collection_id, found[0].template, max_users, threshold)

    def search_users_by_image(self, collection_id: str, image: bytes, max_users: int = 10,
                              threshold: float | None = None) -> tuple[Face, list[UserMatch]]:
        info = self.store.describe_collection(collection_id)
        analysis = self.engine.analyze(image, AnalyzeOptions(landmarks=True, pose=True, templates=True, max_faces=1,
                                                             embedder=self._embedder_for(info)))
        if not analysis.faces:
            raise NoFaceError("no face found in the image")
        face = analysis.faces[0]
        return face, self.search_users(collection_id, face.template, max_users, threshold)

    # ---------------------------------------------------------------- helpers
    def _embedder_for(self, info: CollectionInfo) -> str | None:
        """The embedder a collection's templates come from: None when it is the engine's own, else its
        name (the pipeline loads it on first use), so a collection made under an older default keeps
        indexing and searching in its own template space."""
        if info.model == self.engine.embedder_model:
            return None
        try:
            return embedder_for_template(info.model)
        except ModelUnavailableError:
            raise TemplateMismatchError(
                f"collection {info.collection_id} holds {info.model} templates, which no embedder of this "
                f"server makes (it makes {self.engine.embedder_model})"
            ) from None

    def _min_cosine(self, template: Template, threshold: float | None) -> float:
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        if not 0.0 <= threshold <= 1.0:
            raise InvalidParameterError("threshold must be in [0, 1]")
        return -1.0 if threshold <= 0.0 else get_calibration(template.model).cosine_at(threshold)

    def _search(self, collection_id: str, template: Template, max_faces: int,
                threshold: float | None) -> list[FaceMatch]:
        calibration = get_calibration(template.model)
        hits = self.store.search(collection_id, template, max_faces, self._min_cosine(template, threshold))
        return [FaceMatch(h.face, round(calibration.similarity(h.cosine), 6)) for h in hits]


def import_collection(store: TemplateStore, fp: IO[str], collection_id: str | None = None) -> CollectionInfo:
    """Import an export file after checking it in full (400 naming the line) and its model.

    A model without a calibration could never be searched, so such a file is refused before
    anything is written; the store then loads it all-or-nothing (see ``store.portable``).
    """
    if not fp.seekable():
        fp = io.StringIO(fp.read())
    start = fp.tell()
    checked = portable.check_export(fp, collection_id)
    try:
        get_calibration(checked.model)
    except InvalidParameterError as exc:
        raise InvalidParameterError(f"import line 1: {exc.message}", line=1) from None
    fp.seek(start)
    return store.import_collection(fp, collection_id)


def _numeric(quality: dict | None) -> dict[str, float] | None:
    if not quality:
        return None
    return {k: float(v) for k, v in quality.items() if isinstance(v, int | float) and not isinstance(v, bool)}
