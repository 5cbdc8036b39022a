"""What a block list value is: an email address or a domain, trimmed and lower-cased.

Pure functions, shared by the endpoints' rules and by other domains (unsubscribes, lead imports).
"""

from __future__ import annotations

import re
from typing import NamedTuple

# RFC 5322 dot-atom (ASCII): what mail systems accept in practice for a local part.
_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
# A host name with at least two labels; the top-level label is letters (or an IDN `xn--` label), so
# IP addresses and bare words are refused. Internationalised domains are given in their `xn--` form.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})$")
MAX_DOMAIN = 253
MAX_LOCAL = 64


class BlockValue(NamedTuple):
    value: str
    is_domain: bool


def is_valid_domain(domain: str) -> bool:
    return len(domain) <= MAX_DOMAIN and _DOMAIN.match(domain) is not None


def normalize_block_value(raw: str) -> BlockValue | None:
    """The stored form of `raw` (trimmed, lower-cased; `@example.com` and `example.com.` mean the
    domain), or None when it is neither an email address nor a domain."""
    value = raw.strip().lower()
    if value.startswith("@"):
        value = value[1:]
    if value.endswith("."):
        value = value[:-1]
    local, at, domain = value.rpartition("@")
    if not at:
        return BlockValue(value, True) if is_valid_domain(value) else None
    if not local or len(local) > MAX_LOCAL or _LOCAL.match(local) is None or not is_valid_domain(domain):
        return None
    return BlockValue(value, False)


def domain_of(email: str) -> str:
    """The domain part of an address (`""` when there is no `@`)."""
    return email.rpartition("@")[2] if "@" in email else ""
