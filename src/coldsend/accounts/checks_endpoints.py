"""HTTP surface of the DNS checks of accounts: custom tracking domain status and domain vitals.

Both answer the reference's own 400 bodies (`{status, message, host}` and `{error}`), sent together
with the standard envelope fields so that clients reading either shape understand them.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import Field

from coldsend.accounts import dns_checks
from coldsend.kit.auth import Authorize, Principal
from coldsend.kit.db import SessionDep
from coldsend.kit.routing import ApiRoute
from coldsend.kit.schemas import COMMON_ERRORS, ErrorBody, JSONResponse, Schema, json

router = APIRouter(route_class=ApiRoute, tags=["Account"], responses=COMMON_ERRORS)

Read = Annotated[Principal, Depends(Authorize("accounts", "read"))]


class CtdStatus(Schema):
    success: bool = Field(description="The host's CNAME points where tracking links are served")
    ssl: bool = Field(description="A TLS handshake with the host on port 443 succeeds with a valid certificate")
    cname: bool = Field(description="The host has the expected CNAME record")
    host: str = Field(examples=["track.example.com"])


class CtdStatusError(ErrorBody):
    """The reference's `{status, message, host}`, plus the envelope fields."""

    status: str = Field(default="error", examples=["error"])
    host: str = Field(default="", examples=["example.com"])


class VitalsRequest(Schema):
    accounts: list[str] | None = Field(
        default=None, description="Emails of accounts of the workspace; each distinct domain is checked once"
    )


class DomainVitals(Schema):
    domain: str = Field(examples=["example.com"])
    allPass: bool
    mx: bool = Field(description="An MX record whose host has an address")
    spf: bool = Field(description="Exactly one valid SPF record (TXT v=spf1) that does not end in +all")
    dkim: bool = Field(description="A DKIM public key under a common selector")
    dmarc: bool = Field(description="Exactly one DMARC record (on the domain or its parent) with a policy")


class VitalsResult(Schema):
    status: str = Field(examples=["success"])
    success_list: list[DomainVitals] = Field(description="Domains passing all four checks")
    failure_list: list[DomainVitals] = Field(description="Domains failing at least one check")


class VitalsError(ErrorBody):
    """The reference's `{error}` (here the specific reason), plus the envelope fields."""


def _ctd_error(message: str, host: str) -> JSONResponse:
    return json({"statusCode": 400, "error": "Bad Request", "message": message, "status": "error", "host": host}, 400)


def _vitals_error(message: str) -> JSONResponse:
    return json({"statusCode": 400, "error": message, "message": message}, 400)


HOST_PARAMETER: dict[str, Any] = {
    "name": "host",
    "in": "query",
    "required": True,
    "description": "Custom tracking domain host",
    "schema": {"type": "string", "examples": ["track.example.com"]},
}


@router.get(
    "/accounts/ctd/status",
    response_model=CtdStatus,
    responses={400: {"model": CtdStatusError, "description": "Invalid host, or the DNS gave no answer"}},
    operation_id="getCtdStatus",
    summary="Get custom tracking domain status",
    # `host` is read by hand so that a missing one gets the reference's 400 body, not the generic one
    openapi_extra={"parameters": [HOST_PARAMETER]},
)
async def get_ctd_status(request: Request, principal: Read) -> JSONResponse:
    """Resolve the host's CNAME now and say whether it points at this server's tracking host."""
    given = request.query_params.get("host")
    if given is None or not given.strip():
        return _ctd_error("querystring must have required property 'host'", given or "")
    host = dns_checks.normalize_host(given)
    if host is None:
        return _ctd_error(f"'{given}' is not a valid host name", given)
    expected = dns_checks.tracking_cname_target(getattr(request.app.state, "settings", None))
    try:
        status = await dns_checks.tracking_domain_status(host, expected)
    except dns_checks.DnsLookupFailed as exc:
        return _ctd_error(str(exc), host)
    return json(status.wire())


@router.post(
    "/accounts/test/vitals",
    tags=["Analytics"],
    response_model=VitalsResult,
    responses={400: {"model": VitalsError, "description": "No emails sent, or too many"}},
    operation_id="testAccountVitals",
    summary="Test account vitals",
)
async def test_account_vitals(
    principal: Read, session: SessionDep, body: Annotated[VitalsRequest | None, Body()] = None
) -> JSONResponse:
    """Look up MX, SPF, DKIM and DMARC of the domains of the given accounts, now."""
    try:
        results = await dns_checks.account_vitals(session, principal.organization_id, body.accounts if body else None)
    except dns_checks.VitalsRequestError as exc:
        return _vitals_error(str(exc))
    return json(
        {
            "status": "success",
            "success_list": [r.wire() for r in results if r.all_pass],
            "failure_list": [r.wire() for r in results if not r.all_pass],
        }
    )
