"""Public tracking routes (no API key, outside /api/v2, not in the OpenAPI document).

- `GET /t/o/{token}`: the open pixel. Always a 1x1 transparent GIF, whatever the token, so a caller
  without the key learns nothing; a valid open token records an open.
- `GET /t/c/{token}`: a tracked link. A valid click token records a click and redirects (302) to the
  URL signed into it; anything else is a plain 404 (there is nowhere safe to send it).
- `GET /t/u/{token}`: unsubscribes and answers a confirmation page; `POST /t/u/{token}` is the
  RFC 8058 one-click unsubscribe mail providers send (`List-Unsubscribe=One-Click`). Both answer the
  same page for any token; only a failure to record a valid one is an error (the recipient retries).

Opens and clicks never fail for the visitor: a recording error is logged and the pixel or redirect
still goes out.
"""

from __future__ import annotations

import logging
from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response

from coldsend.kit.routing import ApiRoute
from coldsend.tracking.service import Visitor, record_event
from coldsend.tracking.tokens import CLICK, OPEN, UNSUBSCRIBE, TrackingToken, tracking_keys, verify_any

logger = logging.getLogger("coldsend.tracking")

router = APIRouter(route_class=ApiRoute, include_in_schema=False)

# 1x1 transparent GIF89a (43 bytes)
PIXEL = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff"
    b"!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def _page(title: str, message: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1"><meta name="robots" content="noindex">'
        f"<title>{title}</title></head>"
        '<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222">'
        f'<h1 style="font-size:1.4rem">{title}</h1><p>{message}</p></body></html>'
    )


UNSUBSCRIBED_PAGE = _page("You are unsubscribed", "You will not receive any more emails from this sender.")
UNSUBSCRIBE_FAILED_PAGE = _page(
    "Please try again", "We could not process your unsubscribe request just now. Please try again in a few minutes."
)


def _token(request: Request, token: str, kind: str) -> TrackingToken | None:
    parsed = verify_any(tracking_keys(request.app.state.settings), token)
    return parsed if parsed is not None and parsed.kind == kind else None


def _visitor(request: Request) -> Visitor:
    return Visitor(request.headers.get("user-agent"), request.client.host if request.client else None)


async def _record_quietly(request: Request, parsed: TrackingToken) -> None:
    try:
        await record_event(request.app.state.db, parsed, _visitor(request))
    except Exception:
        logger.exception("could not record a tracking %s of outbox row %s", parsed.kind, parsed.outbox_id)


@router.get("/t/o/{token}")
async def open_pixel(token: str, request: Request) -> Response:
    parsed = _token(request, token, OPEN)
    if parsed is not None:
        await _record_quietly(request, parsed)
    return Response(PIXEL, media_type="image/gif", headers=NO_STORE)


@router.get("/t/c/{token}")
async def click(token: str, request: Request) -> Response:
    parsed = _token(request, token, CLICK)
    url = parsed.url if parsed is not None else None
    if parsed is None or not url or not url.lower().startswith(("http://", "https://")):
        return PlainTextResponse("Link not found", status_code=404, headers=NO_STORE)
    await _record_quietly(request, parsed)
    return RedirectResponse(url, status_code=302, headers=NO_STORE)


async def _unsubscribe(token: str, request: Request) -> Response:
    parsed = _token(request, token, UNSUBSCRIBE)
    if parsed is not None:
        try:
            await record_event(request.app.state.db, parsed, _visitor(request))
        except Exception:
            logger.exception("could not record the unsubscribe of outbox row %s", parsed.outbox_id)
            return HTMLResponse(UNSUBSCRIBE_FAILED_PAGE, status_code=503, headers=NO_STORE)
    return HTMLResponse(UNSUBSCRIBED_PAGE, headers=NO_STORE)


def _confirm_page(action: str) -> str:
    button = (
        f'<form method="post" action="{escape(action, quote=True)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit" style="font-size:1rem;padding:.6rem 1.2rem">Unsubscribe</button></form>'
    )
    return _page("Unsubscribe", "Press the button to stop receiving emails from this sender.").replace(
        "</p></body>", f"</p>{button}</body>"
    )


@router.get("/t/u/{token}")
async def unsubscribe_page(token: str, request: Request) -> Response:
    """A confirmation page whose button POSTs: link scanners of corporate mail gateways (Safe Links,
    Mimecast, ...) fetch every link of a message, and must not unsubscribe the lead by doing so."""
    return HTMLResponse(_confirm_page(request.url.path), headers=NO_STORE)


@router.post("/t/u/{token}")
async def one_click_unsubscribe(token: str, request: Request) -> Response:
    """RFC 8058: the body is `List-Unsubscribe=One-Click`; the signed token alone decides."""
    return await _unsubscribe(token, request)
