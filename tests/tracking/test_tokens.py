"""Signed tracking tokens: round trips, tampering, keys (pure functions, no database)."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from pathlib import Path

import pytest

from coldsend.config import Settings
from coldsend.kit.ids import new_id
from coldsend.tracking.tokens import (
    CLICK,
    OPEN,
    UNSUBSCRIBE,
    TrackingToken,
    sign,
    tracking_key,
    tracking_keys,
    verify,
    verify_any,
)

KEY = hashlib.sha256(b"test key").digest()
OTHER_KEY = hashlib.sha256(b"another key").digest()
URL_SAFE = re.compile(r"^[A-Za-z0-9_-]+$")


def _flip(token: str, index: int) -> str:
    """The token with one character changed to another base64url character."""
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


@pytest.mark.parametrize(
    ("kind", "url"),
    [(OPEN, None), (UNSUBSCRIBE, None), (CLICK, "https://example.com/pricing?utm=x&y=é#top")],
)
def test_round_trip(kind: str, url: str | None) -> None:
    outbox_id = new_id()
    token = sign(KEY, outbox_id, kind, url)
    assert URL_SAFE.match(token), token
    assert "=" not in token
    assert verify(KEY, token) == TrackingToken(outbox_id, kind, url)


def test_the_tag_has_at_least_128_bits() -> None:
    token = sign(KEY, uuid.uuid4(), OPEN)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) - 1 - 16 >= 16  # kind byte + id, then the tag


@pytest.mark.parametrize("kind", [OPEN, CLICK, UNSUBSCRIBE])
def test_every_altered_character_is_refused(kind: str) -> None:
    token = sign(KEY, new_id(), kind, "https://example.com/a" if kind == CLICK else None)
    for index in range(len(token)):
        altered = _flip(token, index)
        # the last character may only carry padding bits: a change there can decode to the same bytes
        if base64.urlsafe_b64decode(altered + "=" * (-len(altered) % 4)) == base64.urlsafe_b64decode(
            token + "=" * (-len(token) % 4)
        ):
            continue
        assert verify(KEY, altered) is None, index


def test_another_key_or_kind_or_url_is_refused() -> None:
    outbox_id = new_id()
    token = sign(KEY, outbox_id, CLICK, "https://good.example/")
    assert verify(OTHER_KEY, token) is None
    # splicing another URL behind a valid tag does not verify
    other = sign(KEY, outbox_id, CLICK, "https://evil.example/")
    raw, other_raw = (base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)) for t in (token, other))
    spliced = base64.urlsafe_b64encode(other_raw[:-16] + raw[-16:]).rstrip(b"=").decode()
    assert verify(KEY, spliced) is None
    # an open token relabelled as an unsubscribe does not verify
    open_raw = base64.urlsafe_b64decode((t := sign(KEY, outbox_id, OPEN)) + "=" * (-len(t) % 4))
    relabelled = base64.urlsafe_b64encode(b"u" + open_raw[1:]).rstrip(b"=").decode()
    assert verify(KEY, relabelled) is None


@pytest.mark.parametrize("garbage", ["", "x", "!!!!", "é" * 40, "A" * 44, "A" * 10_000, "a.b.c", " " * 50])
def test_garbage_is_refused(garbage: str) -> None:
    assert verify(KEY, garbage) is None
    assert verify_any((KEY, OTHER_KEY), garbage) is None


def test_truncated_tokens_are_refused() -> None:
    token = sign(KEY, new_id(), CLICK, "https://example.com/long/path")
    for length in range(len(token)):
        assert verify(KEY, token[:length]) is None


def test_sign_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError):
        sign(KEY, new_id(), CLICK)
    with pytest.raises(ValueError):
        sign(KEY, new_id(), OPEN, "https://example.com/")
    with pytest.raises(ValueError):
        sign(KEY, new_id(), "bounce")


def test_tracking_key_comes_from_the_first_secret_key(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path, secret_key="new-key, old-key")
    assert tracking_key(settings) == hashlib.sha256(b"coldsend-tracking:new-key").digest()
    assert tracking_keys(settings)[1] == hashlib.sha256(b"coldsend-tracking:old-key").digest()
    assert tracking_key(settings) is tracking_key(settings)  # cached
    assert not (tmp_path / "secret.key").exists()


def test_tracking_key_without_secret_uses_the_key_file(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    key = tracking_key(settings)
    stored = (tmp_path / "secret.key").read_text().strip()
    assert key == hashlib.sha256(b"coldsend-tracking:" + stored.encode()).digest()


def test_links_signed_before_a_key_rotation_still_verify(tmp_path: Path) -> None:
    before = Settings(home=tmp_path, secret_key="old-key")
    after = Settings(home=tmp_path, secret_key="new-key,old-key")
    outbox_id = new_id()
    token = sign(tracking_key(before), outbox_id, UNSUBSCRIBE)
    assert verify(tracking_key(after), token) is None
    assert verify_any(tracking_keys(after), token) == TrackingToken(outbox_id, UNSUBSCRIBE)
    assert verify_any(tracking_keys(Settings(home=tmp_path, secret_key="new-key")), token) is None
