"""Which campaigns send from an account: named in their `email_list`, or through a tag of their
`email_tag_list` that the account carries (custom tag mappings of resource_type 1)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from coldsend.account_campaign_mappings.repository import AccountCampaignMappingRepository
from coldsend.accounts.repository import AccountRepository
from coldsend.kit.errors import NotFound
from coldsend.kit.repository import Executor, Record


class AccountCampaignMappingService:
    def __init__(self, session: Executor, organization_id: uuid.UUID) -> None:
        self.accounts = AccountRepository(session, organization_id)
        self.mappings = AccountCampaignMappingRepository(session, organization_id)

    async def campaigns_of(self, email: str, after: uuid.UUID | None, limit: int) -> Sequence[Record]:
        address = email.strip().lower()
        found = await self.accounts.ids_by_email([address]) if address and "\x00" not in address else {}
        account_id = found.get(address)
        if account_id is None:
            raise NotFound("Account not found")
        tag_ids = await self.mappings.account_tag_ids(account_id)
        return await self.mappings.campaigns_sending_from(address, tag_ids, after, limit)
