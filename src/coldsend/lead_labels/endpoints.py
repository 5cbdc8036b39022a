"""HTTP surface of lead labels."""

from __future__ import annotations

from fastapi import APIRouter

from coldsend.kit.schemas import COMMON_ERRORS

router = APIRouter(responses=COMMON_ERRORS)
