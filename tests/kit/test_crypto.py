"""Encryption at rest: round trip, generated key file, rotation, wrong key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from coldsend.config import Settings
from coldsend.kit.crypto import SecretBox, secret_box


def test_round_trip_and_ciphertext_hides_the_secret() -> None:
    box = SecretBox(Fernet.generate_key().decode())
    token = box.encrypt("p@ssw0rd")
    assert "p@ssw0rd" not in token
    assert box.decrypt(token) == "p@ssw0rd"


def test_key_is_generated_once_into_the_home(tmp_path: Path) -> None:
    settings = Settings(COLDSEND_HOME=tmp_path)
    token = secret_box(settings).encrypt("x")
    key_file = tmp_path / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert secret_box(Settings(COLDSEND_HOME=tmp_path)).decrypt(token) == "x"


def test_rotation_keeps_old_secrets_readable() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretBox(old).encrypt("legacy")
    rotated = SecretBox(f"{new},{old}")
    assert rotated.decrypt(token) == "legacy"
    assert SecretBox(new).decrypt(rotated.encrypt("fresh")) == "fresh"


def test_wrong_or_malformed_keys_fail_clearly() -> None:
    token = SecretBox(Fernet.generate_key().decode()).encrypt("x")
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox(Fernet.generate_key().decode()).decrypt(token)
    with pytest.raises(ValueError, match="urlsafe-base64"):
        SecretBox("not-a-key")
