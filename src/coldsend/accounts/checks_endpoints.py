"""HTTP surface of the DNS checks of accounts: custom tracking domain status and domain vitals."""

from __future__ import annotations

from fastapi import APIRouter

from coldsend.kit.schemas import COMMON_ERRORS

router = APIRouter(tags=["Account"], responses=COMMON_ERRORS)
