"""Which side of the boundary we are on: the page (Pyodide + onnxruntime-web) or CPython (onnxruntime).

Every other module asks this one for sessions and bytes, so none of them needs to know where it runs.
"""

from __future__ import annotations

import os
import sys

IN_BROWSER = sys.platform == "emscripten"

if IN_BROWSER:
    from . import jsbridge as _backend
else:
    from . import _native as _backend  # type: ignore[no-redef]


async def read_bytes(location: str) -> bytes:
    """The bytes of a file path (CPython) or URL (page)."""
    return await _backend.read_bytes(location)


async def create_session(model_bytes: bytes, file_name: str, provider: str | None = None, threads: int | None = None):
    """A session with ``backend`` (the provider that really runs) and ``async run(feeds) -> outputs``."""
    return await _backend.create_session(model_bytes, file_name, provider, threads)


def default_manifest_location() -> str | None:
    """``$INPAGE_MANIFEST`` if set, else the site's bundled manifest (page) or the checkout's (CPython)."""
    return os.environ.get("INPAGE_MANIFEST") or _backend.default_manifest_location()
