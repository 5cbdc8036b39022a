"""A lead row in the reference's wire shape (shared by every endpoint that returns leads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from coldsend.kit.clock import isoformat


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


# The lead's own fields as they appear in `payload` (camelCase), beside its custom variables.
PAYLOAD_FIELDS = (
    ("firstName", "first_name"),
    ("lastName", "last_name"),
    ("companyName", "company_name"),
    ("jobTitle", "job_title"),
    ("website", "website"),
    ("phone", "phone"),
    ("personalization", "personalization"),
)


def wire_payload(m: Mapping[str, Any]) -> dict[str, Any] | None:
    """`payload` as the reference shows it: the stored custom variables, with the lead's own fields
    under their camelCase names (the fields win over a custom variable of the same name); null when
    the lead has neither."""
    stored = m["payload"]
    own = {key: m[column] for key, column in PAYLOAD_FIELDS if m[column] is not None}
    if not own:
        return stored or None
    return {**stored, **own} if stored else own


def serialize_lead(row: Any) -> dict[str, Any]:
    """`row` is a Core row or mapping of the `leads` table. Nullable enums and unset subsequence
    fields are left out rather than sent as null where the reference has no null in their type."""
    m: Mapping[str, Any] = row._mapping if hasattr(row, "_mapping") else row
    body: dict[str, Any] = {
        "id": str(m["id"]),
        "timestamp_created": isoformat(m["timestamp_created"]),
        "timestamp_updated": isoformat(m["timestamp_updated"]),
        "organization": str(m["organization_id"]),
        "campaign": _str(m["campaign_id"]),
        "status": m["status"],
        "email": m["email"],
        "personalization": m["personalization"],
        "website": m["website"],
        "last_name": m["last_name"],
        "first_name": m["first_name"],
        "company_name": m["company_name"],
        "job_title": m["job_title"],
        "phone": m["phone"],
        "email_open_count": m["email_open_count"],
        "email_reply_count": m["email_reply_count"],
        "email_click_count": m["email_click_count"],
        "company_domain": m["company_domain"] or "",
        "status_summary": m["status_summary"] or {},
        "payload": wire_payload(m),
        "last_step_from": m["last_step_from"],
        "last_step_id": _str(m["last_step_id"]),
        "last_step_timestamp_executed": isoformat(m["last_step_timestamp_executed"]),
        "email_opened_step": m["email_opened_step"],
        "email_opened_variant": m["email_opened_variant"],
        "email_replied_step": m["email_replied_step"],
        "email_replied_variant": m["email_replied_variant"],
        "email_clicked_step": m["email_clicked_step"],
        "email_clicked_variant": m["email_clicked_variant"],
        "subsequence_id": _str(m["subsequence_id"]),
        "pl_value_lead": m["pl_value_lead"],
        "timestamp_added_subsequence": isoformat(m["timestamp_added_subsequence"]),
        "timestamp_last_contact": isoformat(m["timestamp_last_contact"]),
        "timestamp_last_open": isoformat(m["timestamp_last_open"]),
        "timestamp_last_reply": isoformat(m["timestamp_last_reply"]),
        "timestamp_last_interest_change": isoformat(m["timestamp_last_interest_change"]),
        "timestamp_last_click": isoformat(m["timestamp_last_click"]),
        "list_id": _str(m["list_id"]),
        "last_contacted_from": m["last_contacted_from"],
        "uploaded_by_user": _str(m["uploaded_by_user"]),
        "upload_method": m["upload_method"],
        "assigned_to": _str(m["assigned_to"]),
        "is_website_visitor": m["is_website_visitor"],
        "timestamp_last_touch": isoformat(m["timestamp_last_touch"]),
    }
    for key in ("lt_interest_status", "verification_status", "enrichment_status", "esp_code", "esg_code"):
        if m[key] is not None:
            body[key] = m[key]
    if m["status_summary_subseq"] is not None:
        body["status_summary_subseq"] = m["status_summary_subseq"]
    return body
