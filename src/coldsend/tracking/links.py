"""Tracking in outgoing HTML: tracked links, the open pixel and the unsubscribe URL.

Runs once per sent message (1,000+ messages/s), so it is regex based with precompiled patterns and no
HTML parser: only `<a ...>` start tags are looked at, and only their `href` attribute is rewritten.

- Link tracking rewrites the `href` of every `<a>` whose destination is `http(s)://...` to
  `{base}/t/c/{token}` (the token signs the destination, HTML entities decoded). `mailto:`, `tel:`,
  `#anchors`, relative and template links are left alone, and so are links already pointing at this
  server's tracking routes (`{base}/t/...`, e.g. the unsubscribe link).
- Open tracking adds a 1x1 image `{base}/t/o/{token}` just before the last `</body>` (or at the end
  when the document has none).
"""

from __future__ import annotations

import html as html_lib
import re
import uuid

from coldsend.tracking.tokens import CLICK, OPEN, UNSUBSCRIBE, sign

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
OPEN_PATH = "/t/o/"
CLICK_PATH = "/t/c/"
UNSUBSCRIBE_PATH = "/t/u/"
TRACKING_PREFIX = "/t/"

# An <a> start tag; quoted attribute values may hold ">" (the alternatives are disjoint: no backtracking blow-up).
_A_TAG = re.compile(r"""<a\s(?:[^>"']|"[^"]*"|'[^']*')*>""", re.IGNORECASE)
# The href attribute inside one tag (not `data-href`): double-, single- or un-quoted value.
_HREF = re.compile(r"""(?<=[\s"'/])href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
_HTTP = re.compile(r"https?://", re.IGNORECASE)


def tracking_base_url(public_url: str | None, tracking_domain: str | None) -> str:
    """Where tracking links point: `https://<tracking_domain>` when the account has a custom tracking
    domain, else the server's public URL, else the local default. Never a trailing slash."""
    domain = (tracking_domain or "").strip().rstrip("/").rstrip(".")
    if domain:
        return domain if "://" in domain else f"https://{domain}"
    public = (public_url or "").strip().rstrip("/")
    return public or DEFAULT_BASE_URL


def unsubscribe_url(base_url: str, key: bytes, outbox_id: uuid.UUID) -> str:
    """The unsubscribe link of one message (body link and List-Unsubscribe header; POST is RFC 8058)."""
    return f"{base_url}{UNSUBSCRIBE_PATH}{sign(key, outbox_id, UNSUBSCRIBE)}"


def click_url(base_url: str, key: bytes, outbox_id: uuid.UUID, url: str) -> str:
    """The tracked form of one destination URL."""
    return f"{base_url}{CLICK_PATH}{sign(key, outbox_id, CLICK, url)}"


def open_pixel_url(base_url: str, key: bytes, outbox_id: uuid.UUID) -> str:
    return f"{base_url}{OPEN_PATH}{sign(key, outbox_id, OPEN)}"


def instrument_html(
    html: str, *, base_url: str, key: bytes, outbox_id: uuid.UUID, open_tracking: bool, link_tracking: bool
) -> str:
    """`html` with its http(s) links tracked (`link_tracking`) and the open pixel added (`open_tracking`)."""
    if link_tracking and "<" in html:
        own_links = base_url + TRACKING_PREFIX
        click_base = html_lib.escape(base_url) + CLICK_PATH

        def rewrite(tag_match: re.Match[str]) -> str:
            tag = tag_match.group(0)
            found = _HREF.search(tag)
            if found is None:
                return tag
            value = found.group(1)
            if value is None:
                value = found.group(2) if found.group(2) is not None else found.group(3)
            url = value.strip()
            if "&" in url:
                url = html_lib.unescape(url)
            if _HTTP.match(url) is None or url.startswith(own_links):
                return tag
            return f'{tag[: found.start()]}href="{click_base}{sign(key, outbox_id, CLICK, url)}"{tag[found.end() :]}'

        html = _A_TAG.sub(rewrite, html)
    if open_tracking:
        pixel = (
            f'<img src="{html_lib.escape(base_url)}{OPEN_PATH}{sign(key, outbox_id, OPEN)}" '
            'width="1" height="1" alt="" style="border:0;width:1px;height:1px" />'
        )
        end = html.lower().rfind("</body")
        html = html + pixel if end < 0 else html[:end] + pixel + html[end:]
    return html
