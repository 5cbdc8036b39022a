"""The `ACC_FILTER_*` account filters of the reference, as SQL conditions on the accounts table."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ColumnElement, Table, and_, func, or_


class AccountFilter(StrEnum):
    PAUSED = "ACC_FILTER_PAUSED"
    ERROR = "ACC_FILTER_ERROR"
    NO_CTD = "ACC_FILTER_NO_CTD"
    PW_ACCOUNTS = "ACC_FILTER_PW_ACCOUNTS"
    DFY = "ACC_FILTER_DFY"
    DFY_SETUP_PENDING = "ACC_FILTER_DFY_SETUP_PENDING"
    W_ACTIVE = "ACC_FILTER_W_ACTIVE"
    W_PAUSED = "ACC_FILTER_W_PAUSED"
    W_ERROR = "ACC_FILTER_W_ERROR"


def account_filter_condition(accounts: Table, name: AccountFilter) -> ColumnElement[bool]:
    c = accounts.c
    conditions: dict[AccountFilter, ColumnElement[bool]] = {
        AccountFilter.PAUSED: c.status == 2,
        AccountFilter.ERROR: c.status < 0,
        AccountFilter.NO_CTD: or_(c.tracking_domain_name.is_(None), c.tracking_domain_name == ""),
        AccountFilter.PW_ACCOUNTS: c.is_prewarmed.is_(True),
        AccountFilter.DFY: c.is_managed_account.is_(True),
        AccountFilter.DFY_SETUP_PENDING: and_(c.is_managed_account.is_(True), c.setup_pending.is_(True)),
        AccountFilter.W_ACTIVE: c.warmup_status == 1,
        AccountFilter.W_PAUSED: c.warmup_status == 0,
        AccountFilter.W_ERROR: c.warmup_status < 0,
    }
    return conditions[name]


def account_search_condition(accounts: Table, search: str) -> ColumnElement[bool]:
    """Case-insensitive match on the address or the sender's name."""
    pattern = f"%{escape_like(search.strip())}%"
    c = accounts.c
    full_name = func.concat(c.first_name, " ", c.last_name)
    return or_(c.email.ilike(pattern, escape="\\"), full_name.ilike(pattern, escape="\\"))


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
