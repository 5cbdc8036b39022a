"""Workspace, as the reference defines it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from coldsend.kit.schemas import Schema


class PlanVerification(Schema):
    quantity: float | None = None
    product_id: str | None = None
    timestamp_updated: datetime | None = None


class Workspace(Schema):
    id: uuid.UUID
    timestamp_created: datetime
    timestamp_updated: datetime
    scheduled_for_removal_at: datetime | None = None
    owner: uuid.UUID
    name: str
    plan_id: str | None = None
    plan_id_bundle: str | None = None
    add_unsub_to_block: bool | None = None
    default_opportunity_value: float | None = None
    plan_id_leadfinder: str | None = None
    plan_id_verification: PlanVerification | None = None
    org_logo_url: str | None = None
    org_client_domain: str | None = None
    plan_id_crm: str | None = None
    plan_id_website_visitor: str | None = None
    plan_id_inbox_placement: str | None = None


class WorkspaceUpdate(Schema):
    """At least one field. (`add_unsub_to_block` and `default_opportunity_value` are accepted too.)"""

    name: Annotated[str, Field(min_length=1, pattern=r".*\S.*")] | None = None
    org_logo_url: str | None = None
    add_unsub_to_block: bool | None = None
    default_opportunity_value: float | None = None
