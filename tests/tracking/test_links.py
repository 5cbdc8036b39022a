"""HTML instrumentation: which links are tracked, where the pixel goes (pure functions, no database)."""

from __future__ import annotations

import hashlib
import re
import time

import pytest

from coldsend.kit.ids import new_id
from coldsend.tracking.links import (
    DEFAULT_BASE_URL,
    instrument_html,
    tracking_base_url,
    unsubscribe_url,
)
from coldsend.tracking.tokens import CLICK, OPEN, UNSUBSCRIBE, TrackingToken, verify

KEY = hashlib.sha256(b"links").digest()
BASE = "https://track.example.com"
OUTBOX = new_id()
CLICK_HREF = re.compile(r'href="https://track\.example\.com/t/c/([A-Za-z0-9_-]+)"')


def instrument(html: str, *, opens: bool = False, links: bool = True) -> str:
    return instrument_html(html, base_url=BASE, key=KEY, outbox_id=OUTBOX, open_tracking=opens, link_tracking=links)


def tracked_urls(html: str) -> list[str]:
    urls = []
    for token in CLICK_HREF.findall(html):
        parsed = verify(KEY, token)
        assert parsed is not None and parsed.kind == CLICK and parsed.outbox_id == OUTBOX
        assert parsed.url is not None
        urls.append(parsed.url)
    return urls


def test_http_and_https_links_are_tracked_whatever_the_quoting() -> None:
    html = (
        '<p><a href="https://example.com/a">a</a> <A HREF=\'http://example.com/b\' class="x">b</A> '
        '<a target=_blank href=https://example.com/c>c</a> <a\n  href = "HTTPS://Example.com/D" >d</a></p>'
    )
    out = instrument(html)
    assert tracked_urls(out) == [
        "https://example.com/a",
        "http://example.com/b",
        "https://example.com/c",
        "HTTPS://Example.com/D",
    ]
    assert 'class="x">b</A>' in out and "target=_blank" in out and ">d</a>" in out


def test_entities_are_decoded_in_the_signed_url() -> None:
    out = instrument('<a href="https://example.com/?a=1&amp;b=2&#38;c=3">x</a>')
    assert tracked_urls(out) == ["https://example.com/?a=1&b=2&c=3"]


def test_other_links_are_left_alone() -> None:
    unsubscribe = unsubscribe_url(BASE, KEY, OUTBOX)
    untouched = [
        '<a href="mailto:sam@out.test">mail</a>',
        '<a href="tel:+15550100">call</a>',
        '<a href="#top">top</a>',
        '<a href="/relative/path">rel</a>',
        '<a href="//example.com/proto-relative">pr</a>',
        '<a href="javascript:alert(1)">js</a>',
        f'<a href="{unsubscribe}">unsubscribe</a>',
        '<a name="anchor">no href</a>',
        '<a data-href="https://example.com/data">data-href only</a>',
        '<abbr title="https://example.com/abbr">abbr</abbr>',
        '<link href="https://example.com/style.css" rel="stylesheet">',
        '<img src="https://example.com/logo.png">',
        "<p>https://example.com/in-text</p>",
    ]
    html = "\n".join(untouched)
    assert instrument(html) == html


def test_quoted_greater_than_sign_inside_the_tag() -> None:
    out = instrument('<a title="1 > 0" href="https://example.com/x">x</a>')
    assert tracked_urls(out) == ["https://example.com/x"]
    assert out.startswith('<a title="1 > 0" href="https://track.example.com/t/c/')


def test_only_the_href_changes() -> None:
    html = '<a style="color:red" href="https://example.com/x" data-href="https://example.com/y">x</a>'
    out = instrument(html)
    assert out.startswith('<a style="color:red" href="https://track.example.com/t/c/')
    assert out.endswith('" data-href="https://example.com/y">x</a>')


def test_the_pixel_goes_before_the_closing_body() -> None:
    html = "<html><body><p>Hi</p></BODY></html>"
    out = instrument(html, opens=True, links=False)
    match = re.fullmatch(
        r'<html><body><p>Hi</p><img src="https://track\.example\.com/t/o/([A-Za-z0-9_-]+)" width="1" height="1" '
        r'alt="" style="[^"]*" /></BODY></html>',
        out,
    )
    assert match, out
    assert verify(KEY, match.group(1)) == TrackingToken(OUTBOX, OPEN)


def test_the_pixel_goes_at_the_end_without_a_body() -> None:
    out = instrument("<p>Hi</p>", opens=True, links=False)
    assert out.startswith("<p>Hi</p><img src=") and out.endswith(" />")
    assert out.count("<img") == 1


def test_switches() -> None:
    html = '<html><body><a href="https://example.com/">x</a></body></html>'
    assert instrument(html, opens=False, links=False) == html
    only_links = instrument(html, opens=False, links=True)
    assert tracked_urls(only_links) == ["https://example.com/"] and "/t/o/" not in only_links
    only_opens = instrument(html, opens=True, links=False)
    assert 'href="https://example.com/"' in only_opens and "/t/o/" in only_opens
    both = instrument(html, opens=True, links=True)
    assert tracked_urls(both) == ["https://example.com/"] and "/t/o/" in both


def test_unsubscribe_url() -> None:
    url = unsubscribe_url(BASE, KEY, OUTBOX)
    assert url.startswith(f"{BASE}/t/u/")
    assert verify(KEY, url.rsplit("/", 1)[1]) == TrackingToken(OUTBOX, UNSUBSCRIBE)


@pytest.mark.parametrize(
    ("public_url", "domain", "expected"),
    [
        (None, None, DEFAULT_BASE_URL),
        ("", "", DEFAULT_BASE_URL),
        ("https://cold.example.com/", None, "https://cold.example.com"),
        ("https://cold.example.com/", "track.acme.com", "https://track.acme.com"),
        (None, "track.acme.com.", "https://track.acme.com"),
        (None, " track.acme.com ", "https://track.acme.com"),
    ],
)
def test_tracking_base_url(public_url: str | None, domain: str | None, expected: str) -> None:
    assert tracking_base_url(public_url, domain) == expected


def test_micro_timing_of_a_2kb_body_with_5_links() -> None:
    """Not an assertion on speed: prints the cost per message (run with -s to see it)."""
    paragraphs = "".join(
        f"<p>Paragraph {i}: lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
        f'incididunt ut labore et dolore magna aliqua. <a href="https://example{i}.com/p?x={i}&amp;y=2" '
        f'style="color:#06c">link {i}</a></p>\n'
        for i in range(5)
    )
    html = f"<html><head><title>Hi</title></head><body>{paragraphs}<p>{'Regards, Sam. ' * 55}</p></body></html>"
    assert 1900 <= len(html) <= 2200
    out = instrument(html, opens=True)
    assert len(tracked_urls(out)) == 5
    runs = 5000
    started = time.perf_counter()
    for _ in range(runs):
        instrument(html, opens=True)
    per_call = (time.perf_counter() - started) / runs
    print(f"\ninstrument_html: {len(html)} B, 5 links + pixel: {per_call * 1e6:.1f} us/message")
