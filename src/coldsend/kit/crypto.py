"""Encryption at rest for mailbox passwords and tokens (Fernet: AES-128-CBC + HMAC-SHA256).

The key comes from COLDSEND_SECRET_KEY; when unset it is generated once into the data directory
(`secret.key`, mode 0600). Several machines sharing one database must share the same key.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from coldsend.config import Settings

logger = logging.getLogger("coldsend.crypto")


class SecretBox:
    """Encrypts and decrypts small secrets. Accepts several comma-separated keys: the first one
    encrypts, all of them decrypt (so a key can be rotated without losing stored secrets)."""

    def __init__(self, keys: str) -> None:
        parts = [k.strip() for k in keys.split(",") if k.strip()]
        if not parts:
            raise ValueError("COLDSEND_SECRET_KEY is empty")
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in parts])
        except ValueError as exc:
            raise ValueError(
                "COLDSEND_SECRET_KEY must be a urlsafe-base64 32-byte key "
                "(generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from exc

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("stored secret cannot be decrypted with the configured COLDSEND_SECRET_KEY") from exc


def load_or_create_key(home: Path) -> str:
    path = home / "secret.key"
    if path.exists():
        return path.read_text().strip()
    home.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    logger.warning("generated a new secret key in %s; back it up, and share it with other machines", path)
    return key


@lru_cache(maxsize=4)
def _box(keys: str) -> SecretBox:
    return SecretBox(keys)


def secret_box(settings: Settings) -> SecretBox:
    return _box(settings.secret_key or load_or_create_key(settings.home))
