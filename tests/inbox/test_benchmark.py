"""Micro-benchmark (printed, not asserted): parse_message + classify on one core.

Run with ``.venv/bin/python -m pytest tests/inbox/test_benchmark.py -q -n0 -s`` to see the figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from coldsend.inbox.classify import Kind, classify, parse_message

from ._mail import MESSAGES, fixture


def _rate(work: Callable[[], object], seconds: float = 0.6) -> float:
    for _ in range(100):  # warm up
        work()
    done = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        for _ in range(200):
            work()
        done += 200
        elapsed = time.perf_counter() - start
    return done / elapsed


def test_parse_and_classify_rate(capsys: pytest.CaptureFixture[str]) -> None:
    raw = fixture("gmail_reply.eml", crlf=True)  # a typical 5 KB Gmail reply: text + HTML, quoted history
    assert 4500 <= len(raw) <= 6000
    assert classify(parse_message(raw), raw).kind is Kind.REPLY

    parse_only = _rate(lambda: parse_message(raw))
    both = _rate(lambda: classify(parse_message(raw), raw))

    mix = [path.read_bytes() for path in sorted(MESSAGES.glob("*.eml"))]
    position = 0

    def next_fixture() -> object:
        nonlocal position
        data = mix[position]
        position = (position + 1) % len(mix)
        return classify(parse_message(data), data)

    mixed = _rate(next_fixture)
    with capsys.disabled():
        print(
            f"\ninbox: {len(raw):,}-byte reply: parse_message {parse_only:,.0f}/s, parse+classify {both:,.0f}/s; "
            f"all {len(mix)} fixtures round-robin (bounces re-read raw): parse+classify {mixed:,.0f}/s (one core)"
        )
