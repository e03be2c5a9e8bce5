"""Native latencies of model files: per call on a photo, and session creation."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from PIL import Image

from .runner import Runner, _session

TIMED_RUNS = 20
TIMED_SESSIONS = 5

# ---- timing ----------------------------------------------------------------------------------


def _latency(runners: list[Runner], image: Image.Image) -> list[dict]:
    """Median and fastest run, in ms, of each runner; the runners take turns, so the noise of a
    shared machine falls on all of them alike."""
    feeds = [runner.feeds(image)[0] for runner in runners]
    for runner, feed in zip(runners, feeds):
        for _ in range(3):
            runner.outputs(feed)
    times: list[list[float]] = [[] for _ in runners]
    for _ in range(TIMED_RUNS):
        for i, (runner, feed) in enumerate(zip(runners, feeds)):
            start = time.perf_counter()
            runner.outputs(feed)
            times[i].append((time.perf_counter() - start) * 1e3)
    return [{"median": round(statistics.median(t), 2), "min": round(min(t), 2)} for t in times]


def _session_ms(paths: list[Path]) -> list[float]:
    """Median time to create a session from each file's bytes, in ms (turn by turn, as above)."""
    data = [path.read_bytes() for path in paths]
    times: list[list[float]] = [[] for _ in paths]
    for _ in range(TIMED_SESSIONS):
        for i, model in enumerate(data):
            start = time.perf_counter()
            _session(model)
            times[i].append((time.perf_counter() - start) * 1e3)
    return [round(statistics.median(t), 2) for t in times]
