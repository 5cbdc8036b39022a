"""The baseline of the HTTP benchmarks: a bare Starlette app with one JSON route.

Served exactly like `coldsend serve` serves Coldsend: one uvicorn process, uvloop and httptools (uvicorn's
"auto" choices when both are installed), access log off.

    .venv/bin/python bench/bare_starlette.py --port 8765
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def hello(_request: Request) -> JSONResponse:
    return JSONResponse({"hello": "world"})


app = Starlette(routes=[Route("/", hello)])


def main() -> None:
    parser = argparse.ArgumentParser(description="Bare Starlette JSON endpoint for benchmark baselines.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="TCP port (default 8765)")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level (default warning)")
    args = parser.parse_args()
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
