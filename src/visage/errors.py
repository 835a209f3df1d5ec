"""Domain errors with stable codes.

The engine raises these and never speaks HTTP: each API dialect maps a code to its own
envelope (Rekognition ``__type``, Qiniu ``error_code``, SenseID ``code``, 3DiVi ``detail``).
Codes are part of the public contract: never rename one, only add.
"""

from __future__ import annotations


class VisageError(Exception):
    """Base of every error visage raises on purpose; ``code`` is stable and machine-readable."""

    code: str = "internal_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class InvalidParameterError(VisageError):
    """A request option is missing, of the wrong type or out of range."""

    code = "invalid_parameter"


class InvalidBase64Error(InvalidParameterError):
    """Image text that is not valid base64 (or a malformed data URI)."""

    code = "invalid_base64"


class EmptyImageError(VisageError):
    """The image payload has zero bytes."""

    code = "empty_image"


class InvalidImageError(VisageError):
    """The bytes are not a decodable image of a supported format (or are truncated)."""

    code = "invalid_image"


class ImageTooLargeError(VisageError):
    """The encoded image is larger than the configured byte limit."""

    code = "image_too_large"


class ImageTooManyPixelsError(VisageError):
    """The decoded image would exceed the pixel limit (decompression-bomb guard)."""

    code = "image_too_many_pixels"


class ImageTooSmallError(VisageError):
    """The image's shorter side is below the configured minimum."""

    code = "image_too_small"


class NoFaceError(VisageError):
    """An operation that needs a face found none in the image."""

    code = "no_face"


class ModelUnavailableError(VisageError):
    """A model file is missing or failed its checksum; the message names the package and the fix."""

    code = "model_unavailable"


class StoreUnavailableError(VisageError):
    """The template store cannot be used now (held by another process, database down); retry later."""

    code = "store_unavailable"


class TemplateMismatchError(VisageError):
    """Two templates (or a template and a collection) come from different embedding models."""

    code = "template_model_mismatch"


class NotFoundError(VisageError):
    """A named resource (collection, face, user) does not exist."""

    code = "not_found"


class AlreadyExistsError(VisageError):
    """A resource with that id already exists."""

    code = "already_exists"


class LimitExceededError(VisageError):
    """A per-resource limit was hit (for example, faces per user)."""

    code = "limit_exceeded"


class UnauthorizedError(VisageError):
    """Missing or invalid credentials."""

    code = "unauthorized"


class ForbiddenError(VisageError):
    """Valid credentials without the right to do this."""

    code = "forbidden"


class ThrottledError(VisageError):
    """The inference queue is full; the client should retry later."""

    code = "throttled"


class TimeoutError_(VisageError):
    """The request ran past its deadline."""

    code = "timeout"


class UrlNotAllowedError(VisageError):
    """An image URL whose host the operator did not allow."""

    code = "url_not_allowed"
