"""Signed tracking tokens: what a pixel, a tracked link or an unsubscribe link carries.

A token is `base64url(payload || mac)` without padding, where

- `payload` = one kind byte (`o` open, `c` click, `u` unsubscribe) + the 16 bytes of the outbox row's
  id + (clicks only) the destination URL in UTF-8;
- `mac` = the first 16 bytes (128 bits) of HMAC-SHA256(key, payload).

The token is the only credential of the public endpoints: nobody without the key can make one, and the
kind is signed, so an open token cannot be replayed as an unsubscribe and a click token redirects only
to the URL it was made for. The URL travels inside the token, so a click redirects without a database
read (and still redirects once the outbox row is gone).

The key is derived from the secret key (`COLDSEND_SECRET_KEY`, or the generated `secret.key`):
`sha256(b"coldsend-tracking:" + key)` of its first comma-separated key signs; every listed key verifies
(`tracking_keys`), so rotating the secret key does not break links in emails already sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final

from coldsend.config import Settings
from coldsend.kit.crypto import load_or_create_key

OPEN: Final = "open"
CLICK: Final = "click"
UNSUBSCRIBE: Final = "unsubscribe"

_KIND_BYTE: Final[dict[str, bytes]] = {OPEN: b"o", CLICK: b"c", UNSUBSCRIBE: b"u"}
_BYTE_KIND: Final[dict[int, str]] = {code[0]: kind for kind, code in _KIND_BYTE.items()}
MAC_BYTES: Final = 16  # 128-bit tag
_ID_END: Final = 1 + 16
_MIN_BYTES: Final = _ID_END + MAC_BYTES
MAX_TOKEN_CHARS: Final = 8192  # longer than any URL a mail client keeps; refused before decoding


@dataclass(frozen=True, slots=True)
class TrackingToken:
    outbox_id: uuid.UUID
    kind: str  # OPEN | CLICK | UNSUBSCRIBE
    url: str | None = None  # the destination of a click token


def derive_key(secret: str) -> bytes:
    """The tracking HMAC key of one secret key (domain-separated from its use as the Fernet key)."""
    return hashlib.sha256(b"coldsend-tracking:" + secret.encode()).digest()


@lru_cache(maxsize=8)
def _keys(secret_key: str | None, home: Path) -> tuple[bytes, ...]:
    secret = secret_key or load_or_create_key(home)
    return tuple(derive_key(k.strip()) for k in secret.split(",") if k.strip())


def tracking_key(settings: Settings) -> bytes:
    """The key that signs new tokens (cached per secret key)."""
    keys = _keys(settings.secret_key, settings.home)
    if not keys:
        raise ValueError("COLDSEND_SECRET_KEY is empty")
    return keys[0]


def tracking_keys(settings: Settings) -> tuple[bytes, ...]:
    """Every key a token may have been signed with: the signing key first, then older ones."""
    return _keys(settings.secret_key, settings.home)


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.digest(key, payload, "sha256")[:MAC_BYTES]


def sign(key: bytes, outbox_id: uuid.UUID, kind: str, url: str | None = None) -> str:
    """A URL-safe token for `kind` of the outbox row (`url`: the destination, clicks only)."""
    code = _KIND_BYTE.get(kind)
    if code is None:
        raise ValueError(f"unknown tracking kind {kind!r}")
    payload = code + outbox_id.bytes
    if kind == CLICK:
        if not url:
            raise ValueError("a click token needs the destination URL")
        payload += url.encode()
    elif url is not None:
        raise ValueError(f"a {kind} token carries no URL")
    return base64.urlsafe_b64encode(payload + _mac(key, payload)).rstrip(b"=").decode("ascii")


def _decode(token: str) -> bytes | None:
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):  # ValueError: non-ASCII characters
        return None


def _parse(raw: bytes) -> TrackingToken | None:
    kind = _BYTE_KIND.get(raw[0])
    if kind is None:
        return None
    outbox_id = uuid.UUID(bytes=raw[1:_ID_END])
    if kind != CLICK:
        return TrackingToken(outbox_id, kind) if len(raw) == _ID_END else None
    try:
        url = raw[_ID_END:].decode()
    except UnicodeDecodeError:
        return None
    return TrackingToken(outbox_id, kind, url) if url else None


def verify(key: bytes, token: str) -> TrackingToken | None:
    """The token's content when `key` signed it; None when it is forged, altered or garbled."""
    raw = _decode(token)
    if raw is None or len(raw) < _MIN_BYTES:
        return None
    payload, tag = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    if not hmac.compare_digest(_mac(key, payload), tag):
        return None
    return _parse(payload)


def verify_any(keys: tuple[bytes, ...], token: str) -> TrackingToken | None:
    """`verify` against each key in turn (the current one first)."""
    raw = _decode(token)
    if raw is None or len(raw) < _MIN_BYTES:
        return None
    payload, tag = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
    for key in keys:
        if hmac.compare_digest(_mac(key, payload), tag):
            return _parse(payload)
    return None
