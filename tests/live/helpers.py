from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "INTEGRATION_GUIDE.md"


def guide_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.S)


def all_at_once(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Run every call on its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def wait_for_fresh_minute(margin: float = 8.0) -> None:
    """Start a burst well inside one rate-limit window, so that it cannot straddle two."""
    into_window = time.time() % 60
    if into_window > 60 - margin:
        time.sleep(60 - into_window + 0.2)


def substitute(text: str, server_url: str, raw_key: str) -> str:
    """A guide example pointed at our server with a real key: the only change we make."""
    text = text.replace("http://your-server:3005", server_url)
    return re.sub(r"api_live_your_key(_here)?", raw_key, text)
