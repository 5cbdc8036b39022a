"""Background jobs of accounts (registered with `kit.jobs.job_handler`).

`update-warmup-accounts` turns warmup on or off for a selection of accounts, in batches, each batch
its own transaction, reporting progress and counts in the job's data. It is idempotent (a job whose
worker died runs again from the start and reaches the same end state and counts).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from coldsend.accounts.filters import AccountFilter
from coldsend.accounts.repository import AccountRepository
from coldsend.kit.clock import utcnow
from coldsend.kit.ids import parse_uuid
from coldsend.kit.jobs import JobContext, job_handler

logger = logging.getLogger("coldsend.accounts")

BATCH_SIZE = 500
MAX_FAILED_EMAILS = 1000  # kept in the job's data; `failed_count` has the full number


async def _selection(repo: AccountRepository, data: dict[str, Any]) -> tuple[list[tuple[uuid.UUID, str]], list[str]]:
    """The (id, email) pairs the job acts on, and the listed emails that are no account here."""
    if data.get("include_all_emails"):
        tag_id = data.get("tag_id")
        tag = parse_uuid(tag_id) if tag_id and tag_id != "no-tag" else None
        statement = repo.filtered(
            repo.select(),
            search=data.get("search"),
            account_filter=AccountFilter(data["filter"]) if data.get("filter") else None,
            tag_ids=[tag] if tag is not None else None,
            untagged=tag_id == "no-tag",
        )
        rows = await repo.selection(statement)
        excluded = {e.lower() for e in data.get("excluded_emails") or []}
        return [(r.id, r.email) for r in rows if r.email.lower() not in excluded], []
    emails = [e.strip().lower() for e in data.get("emails") or []]
    found = await repo.ids_by_email(emails)
    return [(found[e], e) for e in emails if e in found], [e for e in emails if e not in found]


@job_handler("update-warmup-accounts")
async def update_warmup_accounts(ctx: JobContext) -> None:
    data = ctx.data
    enable = bool(data.get("enable"))
    async with ctx.session() as session:
        selected, unknown = await _selection(AccountRepository(session, ctx.organization_id), data)
    total = len(selected) + len(unknown)
    success = 0
    failed = list(unknown)
    await ctx.progress(0, {"total_count": total, "success_count": 0, "failed_count": len(failed)})
    for start in range(0, len(selected), BATCH_SIZE):
        batch = selected[start : start + BATCH_SIZE]
        async with ctx.session() as session, session.begin():
            repo = AccountRepository(session, ctx.organization_id)
            done, left = await repo.set_warmup([i for i, _ in batch], enable=enable, now=utcnow())
        success += len(done)
        failed.extend(email for account_id, email in batch if account_id in left)
        processed = start + len(batch) + len(unknown)
        await ctx.progress(
            int(100 * processed / total) if total else 100,
            {"success_count": success, "failed_count": len(failed)},
        )
    await ctx.progress(
        100,
        {
            "total_count": total,
            "success_count": success,
            "failed_count": len(failed),
            "failed_emails": failed[:MAX_FAILED_EMAILS],
        },
    )
    logger.info(
        "warmup %s for workspace %s: %d accounts done, %d failed",
        "enabled" if enable else "disabled",
        ctx.organization_id,
        success,
        len(failed),
    )
