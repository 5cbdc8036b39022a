"""`GET /campaigns/{id}/sending-status` for an active campaign: what the engine would do right now.

The diagnosis reads what the engine reads (schedule, senders and their daily counts and gaps, the
campaign's counters of its day, due and waiting leads) and names the first reason nothing can go,
in this order: outside the schedule, no usable sender, every sender in error, the campaign's daily
limit, nothing due (follow-ups waiting for their delay, or no lead at all), only new leads due past
`daily_max_leads`, every sender at its daily limit or inside its sending gap; otherwise `healthy`.

Issue tracking (`issue_first_seen_at`, `consecutive_loops_with_issue`) counts status checks: the
code is stored on the campaign when it changes, and each check seeing the same code adds one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from coldsend.campaigns.repository import CampaignRepository
from coldsend.campaigns.schedule import campaign_day, is_open, next_open, parse_schedule, primary_timezone
from coldsend.kit.clock import isoformat
from coldsend.kit.repository import Executor, Record
from coldsend.sending.repository import SendingRepository

MESSAGES = {
    "no_accounts_available": "No sending account can send: add accounts to email_list or tag accounts with a tag "
    "of email_tag_list, and make sure they are active.",
    "all_accounts_unhealthy": "Every sending account is in an error state (connection, bounce or sending error): "
    "fix them and mark them fixed.",
    "daily_limit_met": "The campaign reached its daily limit; it sends again after midnight in its timezone.",
    "follow_up_delay_not_met": "Every remaining lead is waiting for the delay of its next step.",
    "waiting_for_leads": "No lead is ready to receive an email: add leads to the campaign.",
    "new_lead_limit_met": "Only new leads are due and today's daily_max_leads is reached.",
    "account_daily_limit_met": "Every sending account has reached its daily limit; sending resumes tomorrow.",
    "healthy": "The campaign is sending.",
}


async def diagnose(session: Executor, campaign: Record, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """(diagnostics, summary) of an active campaign at `now`."""
    repo = SendingRepository(session, campaign.organization_id)
    stamp = isoformat(now)
    schedule = parse_schedule(campaign.campaign_schedule or {})
    diagnostics: dict[str, Any] = {"campaign_id": str(campaign.id), "last_updated": stamp}
    last_sent = isoformat(campaign.timestamp_last_sent)
    if not is_open(schedule, now):
        opening = next_open(schedule, now)
        message = "The campaign is outside its sending schedule"
        message += f"; it opens next at {isoformat(opening)}." if opening else " and no window opens in the next days."
        diagnostics["schedule_status"] = {"in_schedule": False}
        return await _finish(repo, campaign, diagnostics, "out_of_schedule", message, now, last_sent)

    day = campaign_day(now, primary_timezone(campaign.campaign_schedule))
    senders = await CampaignRepository(repo.conn, campaign.organization_id).senders(
        campaign.email_list, campaign.email_tag_list, now.astimezone(UTC).date()
    )
    sent_today, new_today = await repo.campaign_day_counts(campaign.id, day)
    leads = await repo.lead_readiness(campaign.id, now)

    in_error = sum(1 for s in senders if s.status < 0)
    active = [s for s in senders if s.status == 1]
    limit_hit = sum(1 for s in active if s.daily_limit is not None and s.sent_today >= s.daily_limit)
    resting = sum(
        1
        for s in active
        if not (s.daily_limit is not None and s.sent_today >= s.daily_limit)
        and s.send_available_at is not None
        and s.send_available_at > now
    )
    available = len(active) - limit_hit - resting
    diagnostics["schedule_status"] = {"in_schedule": True}
    diagnostics["accounts_summary"] = {
        "total_connected": len(senders) - in_error,
        "available": available,
        "unavailable": {
            "daily_limit_hit": limit_hit,
            "slow_ramp_limit_hit": 0,
            "disconnected": in_error,
            "global_gap_not_met": resting,
        },
    }
    limit = campaign.daily_limit
    # the reference's `limit` is a number: without a daily limit it is left out
    diagnostics["campaign_daily_limit"] = {
        **({"limit": limit} if limit is not None else {}),
        "sent": sent_today,
        "limit_hit": limit is not None and sent_today >= limit,
    }
    new_limit = campaign.daily_max_leads
    diagnostics["new_lead_limit"] = {
        "enabled": new_limit is not None,
        "limit": new_limit,
        "contacted": new_today,
        "limit_hit": new_limit is not None and new_today >= new_limit,
    }
    earliest = leads.earliest_waiting
    diagnostics["follow_ups_waiting"] = {
        "count": leads.waiting,
        "earliest_wait_time_seconds": max(0.0, (earliest - now).total_seconds()) if earliest else None,
    }
    diagnostics["send_one_by_one"] = {"enabled": False, "single_account_per_wait_gap": False}
    diagnostics["leads_status"] = {
        "no_leads_ready": not (leads.due_new or leads.due_follow_ups),
        "account_unavailable_skips": 0,
        "delay_not_met_skips": leads.waiting,
    }

    if senders and in_error == len(senders):
        code = "all_accounts_unhealthy"
    elif not active:
        code = "no_accounts_available"
    elif limit is not None and sent_today >= limit:
        code = "daily_limit_met"
    elif not (leads.due_new or leads.due_follow_ups):
        code = "follow_up_delay_not_met" if leads.waiting else "waiting_for_leads"
    elif not leads.due_follow_ups and new_limit is not None and new_today >= new_limit:
        code = "new_lead_limit_met"
    elif limit_hit == len(active):
        code = "account_daily_limit_met"
    else:
        code = "healthy"
    message = MESSAGES[code]
    if code == "healthy":
        message = f"The campaign is sending from {available} account(s)" + (
            f"; {resting} more are waiting for their sending gap." if resting else "."
        )
    return await _finish(repo, campaign, diagnostics, code, message, now, last_sent)


async def _finish(
    repo: SendingRepository,
    campaign: Record,
    diagnostics: dict[str, Any],
    code: str,
    message: str,
    now: datetime,
    last_sent: str | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    issue = await repo.track_issue(campaign.id, None if code == "healthy" else code, now)
    first_seen = issue.get("first_seen_at") if issue else None
    diagnostics["status"] = code
    diagnostics["issue_tracking"] = {
        "current_status_code": None if code == "healthy" else code,
        "issue_first_seen_at": first_seen,
        "consecutive_loops_with_issue": int(issue.get("checks", 0)) if issue else 0,
        "last_healthy_send_at": last_sent,
    }
    ordered = {
        "campaign_id": diagnostics.pop("campaign_id"),
        "last_updated": diagnostics.pop("last_updated"),
        "status": diagnostics.pop("status"),
        "issue_tracking": diagnostics.pop("issue_tracking"),
        **diagnostics,
    }
    summary = {
        "status": code,
        "status_message": message,
        "issue_started_at": first_seen,
        "last_healthy_send_at": last_sent,
        "ai_summary": None,
    }
    return ordered, summary
