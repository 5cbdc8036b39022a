"""The rules of custom tags: unique normalised labels, tenancy-checked assignment, selection filters."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Select, Table
from sqlalchemy.exc import IntegrityError

from coldsend.accounts.filters import (
    AccountFilter,
    account_filter_condition,
    account_search_condition,
    escape_like,
)
from coldsend.accounts.repository import AccountRepository
from coldsend.campaigns.repository import CampaignRepository
from coldsend.custom_tags.repository import (
    CustomTagMappingRepository,
    CustomTagRepository,
    normalize_label,
    tagged_with_all,
    tagged_with_any,
    untagged,
)
from coldsend.custom_tags.schemas import (
    CustomTagCreate,
    CustomTagUpdate,
    ResourceType,
    SelectionFilter,
    ToggleResource,
)
from coldsend.kit.clock import utcnow
from coldsend.kit.errors import BadRequest, Conflict, NotFound
from coldsend.kit.ids import parse_uuid
from coldsend.kit.pagination import split_csv
from coldsend.kit.repository import Executor, Record

LABEL_TAKEN = "A tag with this name already exists."


class CustomTagService:
    def __init__(self, session: Executor, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id
        self.tags = CustomTagRepository(session, organization_id)
        self.mappings = CustomTagMappingRepository(session, organization_id)
        self.accounts = AccountRepository(session, organization_id)
        self.campaigns = CampaignRepository(session, organization_id)

    # -- tags -----------------------------------------------------------------------------------

    async def create(self, body: CustomTagCreate) -> Record:
        label = body.label.strip()
        key = normalize_label(label)
        if await self.tags.by_label_key(key) is not None:
            raise Conflict(LABEL_TAKEN)
        try:
            async with self.session.begin_nested():
                return await self.tags.insert(label=label, label_key=key, description=body.description)
        except IntegrityError as exc:  # a concurrent request took the label between check and insert
            raise Conflict(LABEL_TAKEN) from exc

    async def get(self, tag_id: str) -> Record:
        parsed = parse_uuid(tag_id)
        row = await self.tags.get(parsed) if parsed else None
        if row is None:
            raise NotFound("Custom tag not found")
        return row

    async def fetch(self, tag_id: str) -> Mapping[str, Any]:
        """The tag for display (GET by id), read on the hot path."""
        parsed = parse_uuid(tag_id)
        row = await self.tags.get_fast(parsed) if parsed else None
        if row is None:
            raise NotFound("Custom tag not found")
        return row

    async def update(self, tag_id: str, body: CustomTagUpdate) -> Record:
        fields = body.model_fields_set
        if not fields & {"label", "description"}:
            raise BadRequest("body must have at least one of the properties 'label', 'description'")
        current = await self.get(tag_id)
        values: dict[str, Any] = {"timestamp_updated": utcnow()}
        if "label" in fields:
            if body.label is None:
                raise BadRequest("body/label must be a string")
            label = body.label.strip()
            key = normalize_label(label)
            clash = await self.tags.by_label_key(key)
            if clash is not None and clash.id != current.id:
                raise Conflict(LABEL_TAKEN)
            values.update(label=label, label_key=key)
        if "description" in fields:
            values["description"] = body.description
        try:
            async with self.session.begin_nested():
                row = await self.tags.update(current.id, **values)
        except IntegrityError as exc:
            raise Conflict(LABEL_TAKEN) from exc
        if row is None:  # deleted concurrently
            raise NotFound("Custom tag not found")
        return row

    async def delete(self, tag_id: str) -> Record:
        current = await self.get(tag_id)
        row = await self.tags.delete(current.id)
        if row is None:
            raise NotFound("Custom tag not found")
        return row

    async def list_page(
        self,
        after: uuid.UUID | None,
        limit: int,
        *,
        search: str | None,
        tag_ids: str | None,
        resource_ids: str | None,
    ) -> Sequence[Record]:
        wanted_tags = None
        if tag_ids is not None:
            wanted_tags = [_uuid_or_400(v, "querystring/tag_ids") for v in split_csv(tag_ids)]
        wanted_resources = None
        if resource_ids is not None:
            wanted_resources = await self._resolve_any_resource_ids(split_csv(resource_ids))
        return await self.tags.search_page(
            after, limit, search=search or None, tag_ids=wanted_tags, resource_ids=wanted_resources
        )

    # -- mappings -------------------------------------------------------------------------------

    async def list_mappings(self, after: uuid.UUID | None, limit: int, resource_ids: str | None) -> Sequence[Record]:
        wanted = None
        if resource_ids is not None:
            wanted = await self._resolve_any_resource_ids(split_csv(resource_ids))
        return await self.mappings.search_page(after, limit, wanted)

    async def _resolve_any_resource_ids(self, values: list[str]) -> list[uuid.UUID]:
        """Resource ids as clients send them: campaign UUIDs, and account emails (or ids)."""
        ids = [u for u in (parse_uuid(v) for v in values) if u is not None]
        emails = [v for v in values if parse_uuid(v) is None]
        ids.extend((await self.accounts.ids_by_email(emails)).values())
        return ids

    # -- assignment -----------------------------------------------------------------------------

    async def toggle(self, body: ToggleResource) -> int:
        """Assign or unassign tags; every tag and every named resource must be in this workspace."""
        tag_ids = list(dict.fromkeys(body.tag_ids))
        missing_tags = set(tag_ids) - await self.tags.existing_ids(tag_ids)
        if missing_tags:
            raise NotFound(f"Custom tag not found: {', '.join(sorted(map(str, missing_tags)))}")
        resource_type = ResourceType(body.resource_type)
        if body.selected_all:
            resource_ids = await self._select_all(body, resource_type)
        else:
            if not body.resource_ids:
                raise BadRequest("body must have required property 'resource_ids' unless 'selected_all' is true")
            resource_ids = await self._resolve_named(body.resource_ids, resource_type)
        if not resource_ids:
            return 0
        if body.assign:
            return await self.mappings.assign(tag_ids, resource_type, resource_ids)
        return await self.mappings.unassign(tag_ids, resource_type, resource_ids)

    async def _resolve_named(self, values: list[str], resource_type: ResourceType) -> list[uuid.UUID]:
        if resource_type is ResourceType.ACCOUNT:
            by_email = await self.accounts.ids_by_email(v for v in values if parse_uuid(v) is None)
            found: dict[str, uuid.UUID] = {}
            missing: list[str] = []
            as_ids = {parse_uuid(v) for v in values} - {None}
            known_ids = await self._existing_account_ids(as_ids) if as_ids else set()
            for value in values:
                parsed = parse_uuid(value)
                if parsed is not None and parsed in known_ids:
                    found[value] = parsed
                elif parsed is None and value.strip().lower() in by_email:
                    found[value] = by_email[value.strip().lower()]
                else:
                    missing.append(value)
            if missing:
                raise NotFound(f"Account not found: {', '.join(missing)}")
            return list(dict.fromkeys(found.values()))
        parsed_ids = [parse_uuid(v) for v in values]
        existing = await self.campaigns.existing_ids(p for p in parsed_ids if p is not None)
        missing = [v for v, p in zip(values, parsed_ids, strict=True) if p is None or p not in existing]
        if missing:
            raise NotFound(f"Campaign not found: {', '.join(missing)}")
        return list(dict.fromkeys(p for p in parsed_ids if p is not None))

    async def _existing_account_ids(self, ids: set[uuid.UUID | None]) -> set[uuid.UUID]:
        table = self.accounts.table
        wanted = sorted(i for i in ids if i is not None)
        rows = await self.accounts.all(self.accounts.select(table.c.id.in_(wanted)).with_only_columns(table.c.id))
        return {r[0] for r in rows}

    async def _select_all(self, body: ToggleResource, resource_type: ResourceType) -> list[uuid.UUID]:
        repo: AccountRepository | CampaignRepository = (
            self.accounts if resource_type is ResourceType.ACCOUNT else self.campaigns
        )
        table: Table = repo.table
        statement: Select[Any] = repo.select().with_only_columns(table.c.id)
        selection = body.filter if isinstance(body.filter, SelectionFilter) else None
        status_filter = body.filter if isinstance(body.filter, AccountFilter) else None
        if selection is not None:
            status_filter = selection.filter
        search = body.search if body.search is not None else (selection.search if selection else None)

        if status_filter is not None:
            if resource_type is not ResourceType.ACCOUNT:
                raise BadRequest("body/filter: account status filters apply to accounts (resource_type 1) only")
            statement = statement.where(account_filter_condition(table, status_filter))
        if search:
            if resource_type is ResourceType.ACCOUNT:
                statement = statement.where(account_search_condition(table, search))
            else:
                statement = statement.where(table.c.name.ilike(f"%{escape_like(search.strip())}%", escape="\\"))
        if selection is not None:
            org, rid = table.c.organization_id, table.c.id
            if selection.tag_id == "no-tag":
                statement = statement.where(untagged(resource_type, rid, org))
            elif isinstance(selection.tag_id, uuid.UUID):
                statement = statement.where(tagged_with_any(resource_type, rid, org, [selection.tag_id]))
            if selection.tag_ids:
                statement = statement.where(tagged_with_any(resource_type, rid, org, selection.tag_ids))
            if selection.tag_ids_all:
                statement = statement.where(tagged_with_all(resource_type, rid, org, selection.tag_ids_all))
        ids = [row[0] for row in await repo.all(statement)]
        if body.excluded_resource_ids:
            excluded = set(await self._resolve_excluded(body.excluded_resource_ids, resource_type))
            ids = [i for i in ids if i not in excluded]
        return ids

    async def _resolve_excluded(self, values: list[str], resource_type: ResourceType) -> list[uuid.UUID]:
        """Exclusions that name nothing in the workspace are simply nothing to exclude."""
        if resource_type is ResourceType.ACCOUNT:
            return await self._resolve_any_resource_ids(values)
        return [p for p in (parse_uuid(v) for v in values) if p is not None]


def _uuid_or_400(value: str, where: str) -> uuid.UUID:
    parsed = parse_uuid(value)
    if parsed is None:
        raise BadRequest(f"{where} must be a comma-separated list of UUIDs; '{value}' is not one")
    return parsed
