"""Bearer API keys: hashing, lookup (with a short in-process cache), and scope enforcement.

The cache keeps the hot path to one query per request. A revoked key stops working at once in the
process that revoked it, and in every other process as soon as PostgreSQL delivers the
`coldsend_api_keys` notification (the TTL is only a safety net should a notification be missed).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.kit.errors import Forbidden, Unauthorized
from coldsend.kit.scopes import accepted_scopes, grants

logger = logging.getLogger("coldsend.auth")

REVOCATION_CHANNEL = "coldsend_api_keys"


def generate_key() -> str:
    """A new plaintext key: 32 random bytes, base64url without padding (43 characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def key_hint(key: str) -> str:
    """What lists show instead of the key: enough to recognise it, useless to an attacker."""
    return f"{key[:4]}…{key[-4:]}"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the workspace and the key's scopes."""

    organization_id: uuid.UUID
    api_key_id: uuid.UUID
    scopes: frozenset[str]


@dataclass
class KeyCache:
    """key hash -> (principal, expiry). Per process; invalidated by NOTIFY and by TTL."""

    ttl: float
    entries: dict[bytes, tuple[Principal, float]] = field(default_factory=dict)

    def get(self, digest: bytes) -> Principal | None:
        hit = self.entries.get(digest)
        if hit is None:
            return None
        principal, expires = hit
        if expires < time.monotonic():
            self.entries.pop(digest, None)
            return None
        return principal

    def put(self, digest: bytes, principal: Principal) -> None:
        if self.ttl > 0:
            if len(self.entries) > 10_000:
                self.entries.clear()
            self.entries[digest] = (principal, time.monotonic() + self.ttl)

    def forget(self, digest_hex: str | None = None) -> None:
        if digest_hex is None:
            self.entries.clear()
            return
        try:
            self.entries.pop(bytes.fromhex(digest_hex), None)
        except ValueError:
            self.entries.clear()


_LOOKUP = text("SELECT organization_id, id, scopes FROM api_keys WHERE key_hash = :h AND revoked_at IS NULL")


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("Missing Authorization header")
    scheme, _, token = header.strip().partition(" ")
    if not token:  # some clients send the bare key
        token, scheme = scheme, "bearer"
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <api key>'")
    return token.strip()


async def authenticate(request: Request) -> Principal:
    token = _bearer_token(request)
    digest = hash_key(token)
    cache: KeyCache = request.app.state.key_cache
    principal = cache.get(digest)
    if principal is None:
        async with request.app.state.db.read() as conn:
            row = (await conn.execute(_LOOKUP, {"h": digest})).first()
        if row is None:
            raise Unauthorized("Invalid API key")
        principal = Principal(row[0], row[1], frozenset(row[2]))
        cache.put(digest, principal)
    return principal


class Authorize:
    """Dependency: authenticate the key, apply the workspace rate limit, demand one scope.

    Endpoints declare `principal: Annotated[Principal, Depends(Authorize("custom_tags", "read"))]`;
    the conformance tests read `resource`/`action` back from the route to compare with the reference.
    `rate_limit` names the endpoint's own budget (`kit.ratelimit.EMAILS_LIST`, ...) for the few
    operations the reference limits more strictly than the workspace as a whole.
    """

    def __init__(self, resource: str, action: str, *, rate_limit: str | None = None) -> None:
        self.resource = resource
        self.action = action
        self.rate_limit = rate_limit

    @property
    def scopes(self) -> tuple[str, ...]:
        return accepted_scopes(self.resource, self.action)

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticate(request)
        limiter = request.app.state.rate_limiter
        if limiter.applies(self.rate_limit):
            await limiter.hit(request, principal.organization_id, self.rate_limit)
        if not grants(principal.scopes, self.resource, self.action):
            raise Forbidden(f"This API key lacks the scope for this action; it needs one of: {', '.join(self.scopes)}")
        request.state.principal = principal
        return principal


async def notify_revoked(session: AsyncSession, key_hashes: list[bytes]) -> None:
    """Tell every server process to drop these keys from its cache (delivered on commit)."""
    for digest in key_hashes:
        await session.execute(text("SELECT pg_notify(:c, :p)"), {"c": REVOCATION_CHANNEL, "p": digest.hex()})


class RevocationListener:
    """Holds one LISTEN connection per server process and clears cache entries it is told about."""

    def __init__(self, dsn: str, cache: KeyCache) -> None:
        self.dsn = dsn
        self.cache = cache
        self._conn: Any = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="coldsend-key-revocations")

    async def _run(self) -> None:
        import asyncpg

        delay = 1.0
        while True:
            try:
                self._conn = await asyncpg.connect(self.dsn)
                closed = asyncio.Event()
                self._conn.add_termination_listener(lambda _c, done=closed: done.set())
                await self._conn.add_listener(REVOCATION_CHANNEL, self._on_notify)
                self.cache.forget()  # anything may have been revoked while we were not listening
                delay = 1.0
                while not closed.is_set():
                    try:
                        await asyncio.wait_for(closed.wait(), timeout=30)
                    except TimeoutError:
                        await asyncio.wait_for(self._conn.execute("SELECT 1"), timeout=10)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database restarted or is unreachable: retry, keep TTL safety
                logger.warning("key revocation listener lost its connection (%s); retrying", exc)
            self.cache.forget()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self.cache.forget(payload)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()
