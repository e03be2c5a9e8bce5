"""Which side of the boundary we are on, the page (Pyodide + onnxruntime-web) or CPython (onnxruntime),
chosen on first use, not at import, so ``import inpage`` works anywhere.

Every other module asks this one for bytes, sessions and the default manifest, so none of them
needs to know where it runs. Both sides give a session the same interface, :class:`Session`.
"""

from __future__ import annotations

import sys
from typing import Protocol

import numpy as np

from .specs import TensorSpec

IN_BROWSER = sys.platform == "emscripten"


class Session(Protocol):
    """What both sides' sessions offer (:class:`inpage._native.NativeSession` on CPython,
    :class:`inpage._web.WebSession` in the page)."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    backend: str  # the execution provider that runs: cpu, cuda, wasm or webgpu
    fallback_reason: str | None  # why it is not the provider asked for (None when it is)

    async def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run once on named arrays; every output by name."""

    def close(self) -> None:
        """Release the session now."""


def _side():
    if IN_BROWSER:
        from . import _web as side
    else:
        from . import _native as side  # type: ignore[no-redef]
    return side


async def read_bytes(location: str) -> bytes:
    """The bytes of a file path or URL (CPython), or of a URL (page)."""
    return await _side().read_bytes(location)


async def load_session(location: str, sha256: str, file_name: str, provider: str, threads: int | None, config: dict[str, str] | None = None) -> Session:
    """Fetch a model, check its sha256, and create a session for it on ``provider`` with onnxruntime
    session config entries ``config`` (the manifest's ``session_config``)."""
    return await _side().load_session(location, sha256, file_name, provider, threads, config or {})


def check_provider(provider: str | None) -> str:
    """``provider`` if this side knows it (None: the side's default), else an InvalidArgumentError."""
    return _side().check_provider(provider)


def variant_key(provider: str) -> str:
    """The ``providers`` name the benchmark records for ``provider`` on this machine (``wasm``,
    ``webgpu``, ``cuda``; natively ``cpu`` or ``cpu-int8dot``, by what the CPU can do)."""
    return _side().variant_key(provider)


def default_manifest_location() -> str | None:
    return _side().default_manifest_location()


def time_limit(seconds: float, what: str = "user code"):
    """A context manager that stops the Python code in it (``what``: the user's module and function)
    once it has run ``seconds``, raising :class:`~inpage.errors.UserCodeTimeout` in it. On CPython a
    watchdog thread raises it in the running thread; in a cross-origin isolated page the main thread
    interrupts Pyodide; in any other page, where Python cannot be interrupted, the main thread
    restarts the worker and rejects its calls naming ``what``."""
    return _side().time_limit(seconds, what)


async def load_python_package(name: str) -> None:
    """Make the site's Python package ``name`` importable (in the page: load its wheel and its
    dependencies now, the first time a model needs it; on CPython: nothing to do)."""
    await _side().load_python_package(name)
