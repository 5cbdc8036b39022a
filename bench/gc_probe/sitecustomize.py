"""A benchmark probe, loaded into the server under test through PYTHONPATH (never imported by Coldsend; the
path must be absolute, the server runs in the benchmark's temporary directory).

    .venv/bin/python bench/bench_custom_tags.py --server-env PYTHONPATH=$PWD/bench/gc_probe \\
        --server-env GCPROBE_OUT=/tmp/gc.json [--server-env GCPROBE_FREEZE=1]

GCPROBE_OUT=path: record every garbage collection (wall-clock time, duration in ms, per generation) and write
them there as JSON at exit, with the number of frozen objects.
GCPROBE_FREEZE=1: also run `gc.collect(); gc.freeze()` right after uvicorn's start-up (the app's lifespan
has run by then), to compare with the server's own behaviour.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import time
from pathlib import Path
from typing import Any

_OUT = os.environ.get("GCPROBE_OUT")
_started: list[float] = []
_pauses: dict[int, list[tuple[float, float]]] = {0: [], 1: [], 2: []}


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[:] = [time.perf_counter()]
    elif _started:
        _pauses[int(info["generation"])].append((time.time(), (time.perf_counter() - _started.pop()) * 1000))


def _write() -> None:
    if _OUT:
        Path(_OUT).write_text(json.dumps({"pauses_ms": _pauses, "frozen": gc.get_freeze_count()}))


def _freeze_after_startup() -> None:
    import uvicorn.server

    original = uvicorn.server.Server.startup

    async def startup(self: Any, *args: Any, **kwargs: Any) -> None:
        await original(self, *args, **kwargs)
        gc.collect()
        gc.freeze()

    uvicorn.server.Server.startup = startup  # type: ignore[method-assign]


if _OUT:
    gc.callbacks.append(_on_gc)
    atexit.register(_write)
if os.environ.get("GCPROBE_FREEZE") == "1":
    _freeze_after_startup()
