"""Rekognition's error envelope: ``{"__type": <ErrorName>, "Message": ...}`` with AWS's status.

Domain errors (:class:`~visage.errors.VisageError`) carry a stable ``code``; this module maps each
code to the exception name a Rekognition client expects, so boto3 raises its modeled exception
(``client.exceptions.InvalidParameterException`` ...). Errors that only exist on the wire (bad
signature, unknown operation) are :class:`RekognitionError` with the AWS name given directly.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from visage.errors import VisageError

CONTENT_TYPE = "application/x-amz-json-1.1"


class RekognitionError(VisageError):
    """An error with its Rekognition/AWS name and HTTP status fixed (auth, protocol, S3)."""

    code = "rekognition_error"

    def __init__(self, aws_type: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.aws_type = aws_type
        self.status = status


def invalid_parameter(message: str) -> RekognitionError:
    return RekognitionError("InvalidParameterException", message)


#: Domain error code -> (Rekognition exception name, HTTP status). Rekognition answers client
#: errors with 400 and server faults with 5xx; boto3 keys its exceptions on the name.
CODE_TO_AWS: dict[str, tuple[str, int]] = {
    "invalid_parameter": ("InvalidParameterException", 400),
    "invalid_base64": ("InvalidParameterException", 400),
    "empty_image": ("InvalidParameterException", 400),
    "image_too_small": ("InvalidParameterException", 400),
    "no_face": ("InvalidParameterException", 400),
    "template_model_mismatch": ("InvalidParameterException", 400),
    "url_not_allowed": ("InvalidParameterException", 400),
    "invalid_image": ("InvalidImageFormatException", 400),
    "image_too_large": ("ImageTooLargeException", 400),
    "image_too_many_pixels": ("ImageTooLargeException", 400),
    "request_too_large": ("ImageTooLargeException", 400),
    "not_found": ("ResourceNotFoundException", 400),
    "already_exists": ("ResourceAlreadyExistsException", 400),
    "limit_exceeded": ("ServiceQuotaExceededException", 400),
    "unauthorized": ("AccessDeniedException", 400),
    "forbidden": ("AccessDeniedException", 400),
    "throttled": ("ThrottlingException", 400),
    "timeout": ("InternalServerError", 500),
    "model_unavailable": ("InternalServerError", 503),
    "store_locked": ("ServiceUnavailableException", 503),  # botocore retries both as transient
    "store_unavailable": ("ServiceUnavailableException", 503),
    "request_timeout": ("RequestTimeoutException", 408),
    "internal_error": ("InternalServerError", 500),
}

#: Per-operation overrides where Rekognition names the same condition differently.
OPERATION_OVERRIDES: dict[tuple[str, str], str] = {
    # A user id that exists already is a ConflictException for CreateUser.
    ("CreateUser", "already_exists"): "ConflictException",
}


def aws_error(error: VisageError, operation: str | None) -> tuple[str, int]:
    """The Rekognition exception name and HTTP status for ``error`` during ``operation``."""
    if isinstance(error, RekognitionError):
        return error.aws_type, error.status
    name, status = CODE_TO_AWS.get(error.code, ("InternalServerError", 500))
    if operation is not None:
        name = OPERATION_OVERRIDES.get((operation, error.code), name)
    return name, status


def render_error(request: Request, error: VisageError, status: int, request_id: str) -> Response:
    """The app's error renderer for the ``rekognition`` dialect (``status`` is recomputed here)."""
    operation = getattr(request.state, "rekognition_operation", None)
    name, status = aws_error(error, operation)
    body = {"__type": name, "Code": name, "Message": error.message, "Logref": request_id}
    headers = {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": name}
    return JSONResponse(body, status_code=status, headers=headers, media_type=CONTENT_TYPE)
