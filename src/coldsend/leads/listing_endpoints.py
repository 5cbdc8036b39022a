"""HTTP surface of lead search: `POST /leads/list`, `GET /campaigns/search-by-contact`, `POST /leads/move`."""

from __future__ import annotations

from fastapi import APIRouter

from coldsend.kit.schemas import COMMON_ERRORS

router = APIRouter(tags=["Lead"], responses=COMMON_ERRORS)
