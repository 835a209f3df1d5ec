"""The ``encrypted_image`` envelope (docs/senseid.md).

Seed 001 names an encryption method it does not show, so visage defines its own, explicitly:

* **Plain mode** (``VISAGE_SENSEID_IMAGE_KEY`` unset): ``encrypted_image`` is the image in base64
  (standard or URL-safe alphabet, padding optional, an optional ``data:image/...;base64,`` prefix).
* **AES-256-GCM mode** (the setting holds base64 of a 32-byte key): ``encrypted_image`` is
  ``base64( nonce[12] || ciphertext || tag[16] )`` where ``ciphertext || tag`` is AES-256-GCM of the
  image file bytes under that key and the 12-byte random nonce, with no associated data. This is
  exactly what ``AESGCM(key).encrypt(nonce, image, None)`` returns after the nonce
  (Python ``cryptography``), or ``openssl``/WebCrypto output with the tag appended. A multipart file
  upload carries the same envelope as raw bytes (not base64). Plain base64 is refused in this mode.
"""

from __future__ import annotations

import base64
import binascii
import os

from visage.errors import InvalidParameterError

NONCE_BYTES = 12
TAG_BYTES = 16


def parse_key(text: str) -> bytes:
    """The 32-byte key from its base64 (standard or URL-safe) setting value."""
    try:
        key = base64.b64decode(text.strip().replace("-", "+").replace("_", "/") + "=" * (-len(text.strip()) % 4),
                               validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("VISAGE_SENSEID_IMAGE_KEY must be base64 of 32 bytes") from None
    if len(key) != 32:
        raise ValueError(f"VISAGE_SENSEID_IMAGE_KEY must decode to 32 bytes (AES-256), not {len(key)}")
    return key


def encrypt(key: bytes, image: bytes, nonce: bytes | None = None) -> bytes:
    """The binary envelope ``nonce || ciphertext || tag`` (clients and tests; base64 it for the form)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # only when encrypted images are used

    nonce = nonce or os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, image, None)


def decrypt(key: bytes, envelope: bytes) -> bytes:
    """The image bytes of a binary envelope; a 1200-class error when it is not one made with ``key``."""
    if len(envelope) < NONCE_BYTES + TAG_BYTES:
        raise InvalidParameterError("encrypted_image is too short to be an AES-256-GCM envelope")
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce, sealed = envelope[:NONCE_BYTES], envelope[NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, sealed, None)
    except InvalidTag:
        raise InvalidParameterError("encrypted_image does not decrypt with the configured key") from None
