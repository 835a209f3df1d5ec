"""``Image.S3Object``: read the image from an S3-compatible endpoint the operator configures.

visage does not talk to AWS S3 on its own: ``VISAGE_S3_ENDPOINT_URL`` (MinIO, Ceph, moto, or AWS
itself) must be set, with ``VISAGE_S3_ACCESS_KEY_ID``/``VISAGE_S3_SECRET_ACCESS_KEY`` (unsigned
requests when unset) and ``VISAGE_S3_REGION``. Any failure is Rekognition's
``InvalidS3ObjectException``; an object over the image byte limit is ``ImageTooLargeException``.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

from visage.api.dialects.rekognition.errors import RekognitionError
from visage.config import Settings

log = logging.getLogger("visage.api")
# Rekognition's S3Object.Bucket pattern, with S3's 3..63 length bound.
_BUCKET = re.compile(r"^[0-9A-Za-z.\-_]{3,63}(?<!\.)$")


def _invalid(message: str) -> RekognitionError:
    return RekognitionError("InvalidS3ObjectException", message)


def check_object(bucket: str, name: str) -> None:
    """Refuse names that a path-style URL would not carry as given.

    botocore puts the key in the URL path unescaped for ``/`` and ``.``: a ``..`` segment would be
    resolved by the endpoint (or a proxy) into another bucket's key than the one asked for.
    """
    if not isinstance(bucket, str) or not _BUCKET.match(bucket) or ".." in bucket:
        raise RekognitionError("InvalidParameterException", "S3Object.Bucket is not a valid bucket name")
    if not isinstance(name, str) or not 1 <= len(name) <= 1024:
        raise RekognitionError("InvalidParameterException", "S3Object.Name must be 1..1024 characters")
    if any(part in (".", "..") for part in name.split("/")) or any(c < " " or c == "\x7f" for c in name):
        raise RekognitionError(
            "InvalidParameterException", "S3Object.Name may not hold '.' or '..' path segments or control characters"
        )


class S3Reader:
    """A lazily built botocore S3 client (thread-safe) bounded by the image byte limit."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return bool(self.settings.s3_endpoint_url)

    def _s3(self) -> Any:
        with self._lock:
            if self._client is None:
                import botocore.session
                from botocore import UNSIGNED
                from botocore.config import Config

                s = self.settings
                signed = bool(s.s3_access_key_id and s.s3_secret_access_key)
                config = Config(
                    s3={"addressing_style": "path"},
                    retries={"max_attempts": 1, "mode": "standard"},
                    # The fetch pool answers the client at VISAGE_URL_FETCH_TIMEOUT_S; these bound the thread.
                    connect_timeout=s.url_fetch_timeout_s,
                    read_timeout=s.url_fetch_timeout_s,
                    signature_version=None if signed else UNSIGNED,
                )
                session = botocore.session.Session()
                self._client = session.create_client(
                    "s3",
                    endpoint_url=s.s3_endpoint_url,
                    region_name=s.s3_region,
                    aws_access_key_id=s.s3_access_key_id if signed else None,
                    aws_secret_access_key=s.s3_secret_access_key.get_secret_value() if signed else None,
                    config=config,
                )
            return self._client

    def get(self, bucket: str | None, name: str | None, version: str | None, limit: int) -> bytes:
        """The object's bytes (blocking: call it off the event loop)."""
        if not self.configured:
            raise _invalid(
                "Image.S3Object needs an S3 endpoint: this visage server has none configured "
                "(set VISAGE_S3_ENDPOINT_URL, and VISAGE_S3_ACCESS_KEY_ID/VISAGE_S3_SECRET_ACCESS_KEY), "
                "or send the image as Image.Bytes"
            )
        if not bucket or not name:
            raise _invalid("Image.S3Object needs both Bucket and Name")
        check_object(bucket, name)
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs: dict[str, str] = {"Bucket": bucket, "Key": name}
        if version:
            kwargs["VersionId"] = version
        try:
            response = self._s3().get_object(**kwargs)
            length = int(response.get("ContentLength") or 0)
            body = response["Body"]
            try:
                if length > limit:
                    raise RekognitionError(
                        "ImageTooLargeException", f"S3 object is {length} bytes; the image limit is {limit} bytes"
                    )
                data = body.read(limit + 1)
            finally:
                body.close()
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "Error")
            raise _invalid(
                f"Unable to get object metadata from S3. Check object key, region and/or access permissions. "
                f"(s3://{bucket}/{name}: {code})"
            ) from None
        except BotoCoreError as exc:  # its text names the endpoint URL: logged, never sent
            log.warning("S3 read of s3://%s/%s failed: %s", bucket, name, exc)
            raise _invalid(f"Unable to read s3://{bucket}/{name} from the configured S3 endpoint "
                           "(connection failed or timed out)") from None
        if len(data) > limit:
            raise RekognitionError("ImageTooLargeException", f"S3 object is over the image limit of {limit} bytes")
        return data
