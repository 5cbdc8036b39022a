"""Scope names (`resource:action`) exactly as Instantly spells them, and the rule that grants them."""

from __future__ import annotations

from collections.abc import Iterable

ACTIONS = ("all", "create", "read", "update", "delete")

# Resources as the reference's APIKey.scopes enum names them (note the hyphens in two of them).
_FULL = (
    "all",
    "ai_agents",
    "api_keys",
    "audit_logs",
    "custom_prompt_templates",
    "account_campaign_mappings",
    "campaigns",
    "inbox_placement_tests",
    "inbox_placement_analytics",
    "inbox_placement_reports",
    "lead_lists",
    "leads",
    "background-jobs",
    "custom_tags",
    "custom_tag_mappings",
    "crm_actions",
    "accounts",
    "block_list_entries",
    "lead-labels",
    "emails",
    "email_templates",
    "workspaces",
    "workspace_billing",
    "workspace_group_members",
    "workspace_members",
    "subsequences",
    "ai_sdr",
    "ai_sdr_replies",
    "ai_inbox_manager_analytics",
    "sales_flows",
    "webhooks",
    "webhook_events",
    "security_tokens",
    "dfy_email_account_orders",
    "auth",
)
# Resources that only know some actions.
_PARTIAL = {
    "email_verifications": ("all", "create", "read"),
    "supersearch_enrichments": ("all", "create", "read"),
}

KNOWN_SCOPES: frozenset[str] = frozenset(
    [f"{r}:{a}" for r in _FULL for a in ACTIONS] + [f"{r}:{a}" for r, acts in _PARTIAL.items() for a in acts]
)


def accepted_scopes(resource: str, action: str) -> tuple[str, ...]:
    """The scopes that grant `action` on `resource`, in the order the reference lists them."""
    return (f"{resource}:{action}", f"{resource}:all", f"all:{action}", "all:all")


def grants(held: Iterable[str], resource: str, action: str) -> bool:
    held_set = held if isinstance(held, (set, frozenset)) else set(held)
    return any(scope in held_set for scope in accepted_scopes(resource, action))


def unknown_scopes(scopes: Iterable[str]) -> list[str]:
    return [s for s in scopes if s not in KNOWN_SCOPES]
