"""Rules of API keys: known scopes only, no key may grant more than its creator holds, shown once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.api_keys.repository import ApiKeyRepository
from coldsend.kit.auth import generate_key, hash_key, key_hint, notify_revoked
from coldsend.kit.errors import BadRequest, Forbidden, NotFound
from coldsend.kit.ids import parse_uuid
from coldsend.kit.repository import Record
from coldsend.kit.scopes import grants, unknown_scopes


@dataclass(frozen=True)
class CreatedKey:
    row: Record
    plaintext: str


class ApiKeyService:
    def __init__(self, session: AsyncSession, organization_id: uuid.UUID) -> None:
        self.session = session
        self.keys = ApiKeyRepository(session, organization_id)

    async def create(self, name: str, scopes: Sequence[str], *, creator_scopes: frozenset[str] | None) -> CreatedKey:
        """Create a key. `creator_scopes` is None for the operator (CLI), who may grant anything."""
        scopes = list(dict.fromkeys(s.strip() for s in scopes))
        unknown = unknown_scopes(scopes)
        if unknown:
            raise BadRequest(f"body/scopes has unknown scopes: {', '.join(unknown)}")
        if creator_scopes is not None:
            beyond = [s for s in scopes if not grants(creator_scopes, *s.split(":", 1))]
            if beyond:
                raise Forbidden(f"An API key cannot grant scopes it does not hold: {', '.join(beyond)}")
        plaintext = generate_key()
        row = await self.keys.insert(
            name=name.strip(), scopes=scopes, key_hash=hash_key(plaintext), key_hint=key_hint(plaintext)
        )
        return CreatedKey(row=row, plaintext=plaintext)

    async def list_page(self, after: uuid.UUID | None, limit: int) -> Sequence[Record]:
        return await self.keys.active_page(after, limit)

    async def revoke(self, key_id: str) -> Record:
        parsed = parse_uuid(key_id)
        row = await self.keys.revoke(parsed) if parsed else None
        if row is None:
            raise NotFound("API key not found")
        await notify_revoked(self.session, [row.key_hash])
        return row
