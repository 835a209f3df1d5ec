"""Settings: every knob has an embedded default and a ``VISAGE_*`` environment variable."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from visage.analysis.embedders import DEFAULT_EMBEDDER, EMBEDDERS


def _default_home() -> Path:
    return Path.home() / ".cache" / "visage"


class Settings(BaseSettings):
    """Server, engine and store configuration (``VISAGE_<NAME>`` overrides each field)."""

    model_config = SettingsConfigDict(env_prefix="VISAGE_", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Cache for models and the default store.")
    host: str = Field("127.0.0.1", description="Address the server binds to.")
    port: int = Field(8000, ge=0, le=65535, description="Port the server binds to.")
    pipeline: str = Field(
        "fast",
        description="Model pipeline: 'fast' (RetinaFace + Face Mesh + VISAGE_EMBEDDER on onnxruntime; default, over"
        " 10x faster than face_recognition, see docs/models.md) or 'dlib'.",
    )
    store_url: str | None = Field(
        None, description="Template store URL: sqlite:///path or postgresql://...; default sqlite under home."
    )

    # Image limits (shared by every API).
    max_image_bytes: int = Field(15 * 1024 * 1024, gt=0, description="Largest encoded image accepted.")
    max_image_pixels: int = Field(40_000_000, gt=0, description="Largest decoded image (width x height).")
    min_image_side: int = Field(32, gt=0, description="Smallest accepted shorter side in pixels.")
    max_request_bytes: int = Field(
        24 * 1024 * 1024, gt=0, description="Largest HTTP request body (base64 inflates images by 4/3)."
    )

    # Engine.
    upsample: int = Field(1, ge=0, le=3, description="Detector upsampling passes (finds smaller faces, slower).")
    max_faces: int = Field(120, gt=0, description="Most faces analysed per image (Qiniu's max_face_num goes to 120).")
    detector: Literal["retinaface", "blazeface"] = Field(
        "retinaface",
        description="Face detector of the fast pipeline: 'retinaface' (RetinaFace-MobileNet0.25: small faces,"
        " profiles, crowds; default) or 'blazeface' (MediaPipe's BlazeFace pair). See docs/models.md.",
    )
    detect_max_side: int = Field(
        1024, ge=160, le=8192,
        description="RetinaFace: long side (pixels) of the copy the full detection pass sees; larger finds smaller"
        " faces and costs about the square in time (docs/models.md has the measured table).",
    )
    detect_min_side: int = Field(
        1024, ge=0, le=8192,
        description="RetinaFace: images whose long side is below this are enlarged to it for the full pass (small"
        " faces in small photos; 0 = never enlarged).",
    )
    detect_coarse_side: int = Field(
        512, ge=0, le=8192,
        description="RetinaFace: a first pass at this long side; the full pass runs only when it finds no face or"
        " a small one (portraits get cheaper; 0 = always the full pass; docs/models.md).",
    )
    min_face_size: int = Field(
        0, ge=0, description="Fast pipeline: faces whose box's longer side is below this many pixels are dropped.",
    )
    embedder: str = Field(
        DEFAULT_EMBEDDER,
        description="Face embedder of the fast pipeline (docs/models.md lists each with its LFW/calib figures):"
        f" {', '.join(EMBEDDERS)}. dlib is the commercially-safe one (CC0 weights; slower). Collections keep"
        " the embedder they were made with.",
    )
    fast_embedder: str | None = Field(
        None, description="Deprecated old name of VISAGE_EMBEDDER; honoured when VISAGE_EMBEDDER is not set.",
    )
    fast_iris: bool = Field(False, description="Fast pipeline: run the Iris model for pupil keypoints.")
    onnx_threads: int = Field(0, ge=0, description="onnxruntime threads per model; 0 = the machine's CPU count.")
    inference_workers: int = Field(2, gt=0, description="Threads running inference off the event loop.")
    max_queue: int = Field(64, ge=0, description="Requests that may wait for a worker before 429.")
    request_timeout_s: float = Field(60.0, gt=0, description="Deadline for one inference request.")
    header_timeout_s: float = Field(
        10.0, gt=0, description="Seconds a client may take to send a request's headers (`visage serve`); then 408."
    )
    body_timeout_s: float = Field(60.0, gt=0, description="Seconds a client may take to send a request body; then 408.")
    docs: Literal["auto", "open", "off"] = Field(
        "auto", description="/docs and /openapi.json: 'auto' needs a native API key when keys are set (open"
        " otherwise), 'open' always open, 'off' not served.",
    )
    max_body_bytes_in_flight: int = Field(
        64 * 1024 * 1024, gt=0, description="Request bodies of 256 KiB or more are admitted against this many"
        " bytes in total before they are read; beyond it, 429 (never below one VISAGE_MAX_REQUEST_BYTES body).",
    )
    max_connections: int = Field(
        256, gt=0, description="Concurrent HTTP connections and requests `visage serve` accepts; beyond, 503.",
    )

    # Auth for the native API: comma-separated keys, each optionally suffixed ':admin' or ':read'.
    api_keys: str | None = Field(
        None, description="Native API keys: 'key' (read) or 'key:admin', comma-separated; unset = open."
    )

    api_keys_file: Path | None = Field(
        None, description="File of native API keys, one 'key[:admin]' per line; re-read when it changes."
    )

    # 3DiVi Image API dialect (seed 003): /<block>/process/sample and /<block>/process/image.
    threedivi_enabled: bool = Field(True, description="Mount the 3DiVi Image API processing blocks.")
    threedivi_prefix: str = Field(
        "", description="Path prefix of the 3DiVi blocks (e.g. '/3divi'); empty = top level, /<block>/process/..."
    )
    threedivi_version: Literal["v1", "v2"] = Field(
        "v2",
        description="3DiVi sample version when a request does not show one (process/image without ?version=).",
    )
    threedivi_template_key: str = Field(
        "_face_template_extractor_1000_12",
        description="3DiVi v2 key naming the template entry (seed's name by default, for drop-in clients).",
    )

    # Vendor dialects (docs/senseid.md, docs/qiniu.md).
    senseid_image_key: SecretStr | None = Field(
        None, description="SenseID dialect: base64 of a 32-byte AES-256-GCM key; when set, encrypted_image must be"
        " the AES-GCM envelope (docs/senseid.md); unset = plain base64 images.",
    )
    qiniu_keys: SecretStr | None = Field(
        None, description="Qiniu dialect: 'AK:SK' pairs, comma-separated; when set, every call needs a valid"
        " 'Authorization: Qiniu AK:sign' (docs/qiniu.md); unset = open.",
    )
    qiniu_keys_file: Path | None = Field(
        None, description="Qiniu dialect: file of 'AK:SK' lines, re-read when it changes (rotation without restart).",
    )
    face_token_ttl_s: float = Field(
        3600.0, gt=0, description="Qiniu dialect: seconds a FACE_TOKEN stays resolvable (in this process's memory).",
    )
    face_token_cache_bytes: int = Field(
        256 * 1024 * 1024, ge=0, description="Qiniu dialect: most image bytes kept for FACE_TOKENs (oldest dropped).",
    )
    url_fetch_allowed_hosts: str | None = Field(
        None, description="Hosts image URLs may name: 'host', 'host:port', '*.domain' or an IP literal,"
        " comma-separated; unset = no URL is fetched. Only IP-literal entries may reach non-public addresses.",
    )
    url_fetch_max_bytes: int = Field(10 * 1024 * 1024, gt=0, description="Largest image fetched from a URL.")
    url_fetch_timeout_s: float = Field(5.0, gt=0, description="Total time allowed for fetching one image URL.")
    url_fetch_workers: int = Field(
        8, gt=0, description="Threads fetching image URLs and S3 objects (apart from inference, so slow hosts"
        " never hold up other requests).",
    )
    url_fetch_max_queue: int = Field(32, ge=0, description="Image fetches that may wait for a fetch thread before 429.")
    # Rekognition dialect (POST / with X-Amz-Target): AWS Signature V4 against these keys.
    aws_keys: SecretStr | None = Field(
        None, description="Rekognition dialect access keys for SigV4: 'AKID:SECRET', comma-separated."
    )
    aws_keys_file: Path | None = Field(
        None, description="File of Rekognition keys, one 'AKID SECRET' or 'AKID:SECRET' a line; re-read on change."
    )
    rekognition_auth: Literal["sigv4", "off"] = Field(
        "sigv4", description="Rekognition dialect auth: 'sigv4' (keys required) or 'off' (anonymous, explicit)."
    )
    s3_endpoint_url: str | None = Field(
        None, description="S3-compatible endpoint for Rekognition Image.S3Object; unset = S3Object refused."
    )
    s3_region: str = Field("us-east-1", description="Region used to sign requests to the S3 endpoint.")
    s3_access_key_id: str | None = Field(None, description="Access key for the S3 endpoint (unsigned when unset).")
    s3_secret_access_key: SecretStr | None = Field(None, description="Secret key for the S3 endpoint.")

    @model_validator(mode="after")
    def _legacy_embedder(self) -> Settings:
        if self.fast_embedder and "embedder" not in self.model_fields_set:
            self.embedder = self.fast_embedder
        return self

    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{self.home / 'visage.db'}"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings read once from the environment."""
    return Settings()


def reference_markdown() -> str:
    """The configuration reference (docs/configuration.md is generated from this)."""
    lines = [
        "# Configuration",
        "",
        "Generated from `visage.config.Settings` by `visage config`; a test keeps this file in sync.",
        "Every setting is an environment variable `VISAGE_<NAME>`.",
        "",
        "| variable | default | description |",
        "|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        default = "~/.cache/visage" if name == "home" else field.default
        lines.append(f"| `VISAGE_{name.upper()}` | `{default}` | {field.description or ''} |")
    return "\n".join(lines) + "\n"
