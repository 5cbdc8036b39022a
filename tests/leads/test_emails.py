"""Address normalisation: the fast path never accepts what email-validator refuses, nor differs from it."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from coldsend.leads.imports import _fast_path, normalize_email


def reference(value: str) -> str | None:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("  John.Doe+tag@Example.COM ", "john.doe+tag@example.com"),
        ("a@b.co", "a@b.co"),
        ("user@sub.domain-name.io", "user@sub.domain-name.io"),
        ("user@münchen.de", "user@münchen.de"),
        ("üser@example.com", "üser@example.com"),
        ("user@example.test", None),
        ("user@localhost", None),
        ("user@host.local", None),
        ("user@example", None),
        ("user@123.456", None),
        ("a..b@example.com", None),
        (".a@example.com", None),
        ("user@-example.com", None),
        ("user@ex--ample.com", None),
        ("plainaddress", None),
        ("a@b@c.com", None),
        ("", None),
        ("x" * 65 + "@example.com", "x" * 65 + "@example.com"),  # long local parts are only refused in strict mode
        ("x" * 250 + "@example.com", None),
    ],
)
def test_examples(raw: str, stored: str | None) -> None:
    assert normalize_email(raw) == stored
    assert reference(raw) == stored


ATOM = st.text(alphabet="abcXYZ019.-_+!#'@ü", min_size=0, max_size=12)
LABEL = st.text(alphabet="abcXYZ019-.ü_", min_size=0, max_size=10)
TLD = st.sampled_from(["com", "io", "test", "local", "c", "123", "xn--p1ai", "COM", "onion", "arpa", ""])
ADDRESSES = st.builds(lambda a, b, t: f"{a}@{b}.{t}" if t else f"{a}@{b}", ATOM, LABEL, TLD) | st.text(max_size=30)


@settings(max_examples=3000, derandomize=True, deadline=None)
@given(ADDRESSES)
def test_fast_path_agrees_with_email_validator(value: str) -> None:
    if _fast_path(value.strip()):
        assert reference(value) == value.strip().lower()
    assert normalize_email(value) == reference(value)
