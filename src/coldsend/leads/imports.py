"""Lead import hygiene (`POST /leads/add`, and `POST /leads` through the same rules).

A batch of up to 1,000 leads costs a constant number of statements, whatever its size and however
many leads the workspace holds:

1. the target campaign or list (one SELECT; 404 when it is not the workspace's);
2. custom interest values, when a lead carries one that is not built in (one SELECT on lead labels);
3. the block list (one SELECT over every address of the batch);
4. with a `skip_if_in_*` flag: a transaction-scoped advisory lock of the workspace, then one
   SELECT ... GROUP BY email over the batch's addresses (index `ix_leads_email`);
5. one `INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING id`;
6. new custom-variable names: one UPDATE of the campaign; `verify_leads_on_import`: one queued task.

Each lead is checked in this order and counted once, under the first rule it fails:
- `invalid_email_count`: a malformed address, or (in a campaign) none at all. Syntax only, with
  email-validator (no DNS); it refuses special-use domains such as `.test` and `.local`;
- `incomplete_count` (lists only): no email and neither first nor last name;
- `duplicate_email_count`: an address already seen earlier in the same payload (any case);
- `in_blocklist`: the address or its domain is on the workspace's block list;
- `duplicated_leads`: the address is already in the target campaign or list;
- `skipped_count`: a `skip_if_in_*` flag matched (workspace: any lead of the workspace; campaign:
  any lead in any campaign; list: any lead in any list).
Everything else is inserted. A lead inserted by a concurrent request between the checks and the
INSERT is caught by the unique indexes (`ON CONFLICT DO NOTHING`) and counted as `duplicated_leads`.
With a skip flag, imports of one workspace take turns on an advisory lock, so two parallel imports
into different campaigns cannot both add an address that `skip_if_in_workspace` should have skipped.

`blocklist_id`: a workspace has exactly one block list, identified by the workspace id; it is always
checked (any `blocklist_id` is accepted, so clients that send Instantly's ids keep working, and a
blocked address is never imported), and `blocklist_used` reports it.

`verify_leads_on_import`: the created leads that have an address get `verification_status` 12 (pending
verification job) and one internal task `leads.verify-imported` is queued with their ids. The verification engine does
not exist yet: the task's handler leaves the leads pending (12) and logs; it is the place where
that engine will plug in.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coldsend.kit.errors import BadRequest
from coldsend.kit.ids import new_id
from coldsend.kit.jobs import enqueue_task, task_handler
from coldsend.leads.schemas import BUILT_IN_INTEREST, VerificationStatus, text_problem

logger = logging.getLogger("coldsend.leads")

VERIFY_TASK = "leads.verify-imported"

# -- addresses -------------------------------------------------------------------------------------

# A strict subset of what email-validator accepts (plain ASCII dot-atom local part, LDH labels without
# "--", an alphabetic TLD, RFC lengths): such an address is accepted and normalised to its lower case
# without calling email-validator, which costs ~18 us per address. Anything else goes to it.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_FAST_EMAIL = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
_SPECIAL_USE = tuple(SPECIAL_USE_DOMAIN_NAMES)


def _fast_path(candidate: str) -> bool:
    if len(candidate) > 254 or "--" in candidate.rpartition("@")[2] or not _FAST_EMAIL.fullmatch(candidate):
        return False
    local, _, domain = candidate.rpartition("@")
    if len(local) > 64:
        return False
    domain = domain.lower()
    return not any(domain == d or domain.endswith("." + d) for d in _SPECIAL_USE)


def normalize_email(value: str) -> str | None:
    """The address as stored (lower-cased), or None when it is not a valid address (syntax only)."""
    candidate = value.strip()
    if _fast_path(candidate):
        return candidate.lower()
    if not candidate or text_problem(candidate) is not None:
        return None
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.normalized.lower()


# -- a batch -----------------------------------------------------------------------------------------

TEXT_FIELDS = (
    "first_name",
    "last_name",
    "company_name",
    "job_title",
    "phone",
    "website",
    "personalization",
    "pl_value_lead",
)


@dataclass
class Counters:
    total_sent: int = 0
    in_blocklist: int = 0
    duplicated_leads: int = 0
    skipped_count: int = 0
    invalid_email_count: int = 0
    incomplete_count: int = 0
    duplicate_email_count: int = 0


@dataclass
class Candidate:
    """A lead of the payload that passed the checks that need no database."""

    index: int
    email: str | None
    lead: dict[str, Any]


@dataclass
class Screened:
    candidates: list[Candidate] = field(default_factory=list)
    counters: Counters = field(default_factory=Counters)
    custom_interest: set[int] = field(default_factory=set)
    variable_names: dict[str, None] = field(default_factory=dict)  # ordered set


def screen(leads: Sequence[dict[str, Any]], *, in_campaign: bool, check_text: bool = True) -> Screened:
    """The checks that need no database: addresses, completeness, duplicates inside the payload, and
    (with `check_text`) text PostgreSQL cannot store, refused with a 400 naming the lead. The endpoint
    turns `check_text` off when the raw body holds no `\\u0000` escape: orjson already refused lone
    surrogates, and a NUL character can only arrive escaped."""
    out = Screened()
    counters = out.counters
    counters.total_sent = len(leads)
    seen: set[str] = set()
    for index, lead in enumerate(leads):
        if check_text:
            for name in TEXT_FIELDS:
                value = lead.get(name)
                if value is not None and ("\x00" in value or not value.isascii()):
                    problem = text_problem(value)
                    if problem is not None:
                        raise BadRequest(f"body/leads/{index}/{name} {problem}")
        raw = lead.get("email")
        email: str | None = None
        if raw is not None and raw.strip():
            email = normalize_email(raw)
            if email is None:
                counters.invalid_email_count += 1
                continue
        elif in_campaign:
            counters.invalid_email_count += 1
            continue
        elif not (lead.get("first_name") or lead.get("last_name")):
            counters.incomplete_count += 1
            continue
        if email is not None:
            if email in seen:
                counters.duplicate_email_count += 1
                continue
            seen.add(email)
        interest = lead.get("lt_interest_status")
        if interest is not None and interest not in BUILT_IN_INTEREST:
            out.custom_interest.add(interest)
        variables = lead.get("custom_variables")
        if variables:
            out.variable_names.update(dict.fromkeys(variables))
        out.candidates.append(Candidate(index, email, lead))
    return out


@dataclass
class InsertColumns:
    """The column arrays of one multi-row INSERT (one array per column, one entry per lead), built one
    column at a time (list comprehensions: a 1,000-lead batch is a few milliseconds of Python)."""

    ids: list[uuid.UUID]
    emails: list[str | None]
    first_names: list[str | None]
    last_names: list[str | None]
    company_names: list[str | None]
    company_domains: list[str]
    job_titles: list[str | None]
    phones: list[str | None]
    websites: list[str | None]
    personalizations: list[str | None]
    payloads: list[str | None]
    interests: list[int | None]
    pl_values: list[str | None]
    assigned: list[uuid.UUID | None]

    @classmethod
    def of(cls, kept: Sequence[Candidate], default_owner: uuid.UUID | None) -> InsertColumns:
        leads = [c.lead for c in kept]
        emails = [c.email for c in kept]
        dumps = orjson.dumps
        owners = [lead.get("assigned_to") for lead in leads]
        return cls(
            ids=[new_id() for _ in kept],
            emails=emails,
            first_names=[lead.get("first_name") for lead in leads],
            last_names=[lead.get("last_name") for lead in leads],
            company_names=[lead.get("company_name") for lead in leads],
            company_domains=[email.rpartition("@")[2] if email else "" for email in emails],
            job_titles=[lead.get("job_title") for lead in leads],
            phones=[lead.get("phone") for lead in leads],
            websites=[lead.get("website") for lead in leads],
            personalizations=[lead.get("personalization") for lead in leads],
            payloads=[dumps(v).decode() if (v := lead.get("custom_variables")) else None for lead in leads],
            interests=[lead.get("lt_interest_status") for lead in leads],
            pl_values=[lead.get("pl_value_lead") for lead in leads],
            assigned=[default_owner if owner is None else owner for owner in owners],
        )

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Target:
    """Where a batch goes: a campaign or a list of the workspace (or neither, for a single lead)."""

    campaign_id: uuid.UUID | None = None
    list_id: uuid.UUID | None = None
    owner: uuid.UUID | None = None
    campaign_variables: dict[str, Any] | None = None

    @property
    def in_campaign(self) -> bool:
        return self.campaign_id is not None


@dataclass
class ImportResult:
    counters: Counters
    created: list[tuple[int, uuid.UUID, dict[str, Any], str | None]]  # (index, id, lead, email)
    blocklist_used: str | None
    now: datetime | None = None


def verification_status_for(verify: bool | None) -> int | None:
    return int(VerificationStatus.PENDING_VERIFICATION_JOB) if verify else None


async def queue_verification(session: AsyncSession, organization_id: uuid.UUID, lead_ids: list[uuid.UUID]) -> None:
    """One internal task for the batch (its ids in the payload); the worker runs it after commit."""
    if lead_ids:
        payload = {"organization_id": str(organization_id), "lead_ids": [str(i) for i in lead_ids]}
        await enqueue_task(session, VERIFY_TASK, payload)


@task_handler(VERIFY_TASK)
async def verify_imported_leads(payload: dict[str, Any], maker: async_sessionmaker[AsyncSession]) -> None:
    """Placeholder of the verification engine: the leads stay `verification_status` 12 (pending
    verification job) until that engine exists and resolves them to 1 / -1 / -2 / -3."""
    count = len(payload.get("lead_ids") or [])
    logger.info(
        "verification of %d imported leads of workspace %s is queued; no verification engine yet, they stay pending",
        count,
        payload.get("organization_id"),
    )
