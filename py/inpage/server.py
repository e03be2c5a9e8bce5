"""The dev server: serves the built site with the headers multithreaded WASM needs, and rebuilds on change.

It is an aiohttp application. Its static handler refuses paths that leave the site folder
(``..``, encoded or not, and symlinks pointing out); the middleware adds:

* ``Cross-Origin-Opener-Policy: same-origin`` and ``Cross-Origin-Embedder-Policy: require-corp``,
  which make the page cross-origin isolated, so SharedArrayBuffer exists and onnxruntime-web can
  use threads (``--no-isolation`` leaves them out, to see the single-threaded fallback);
* ``Cache-Control: no-cache``, so a reload after a rebuild gets the new files (revalidated by ETag).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web

log = logging.getLogger("inpage.serve")

# Browsers refuse module scripts and streaming WASM compilation served with the wrong type, and
# Python's table lacks .wasm on some systems and has mapped .mjs to text/plain on others.
# Set explicitly rather than through the mimetypes module: aiohttp keeps its own table.
CONTENT_TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".webm": "video/webm",
    ".whl": "application/zip",
}

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}


def make_app(site: Path, isolation: bool = True) -> web.Application:
    site = site.resolve()

    @web.middleware
    async def add_headers(request: web.Request, handler):
        response = await handler(request)
        content_type = CONTENT_TYPES.get(Path(request.path).suffix)
        if content_type and isinstance(response, web.FileResponse):
            response.headers["Content-Type"] = content_type
        if isolation:
            response.headers.update(ISOLATION_HEADERS)
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "no-cache"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    async def index(_request: web.Request) -> web.FileResponse:
        return web.FileResponse(site / "index.html")

    app = web.Application(middlewares=[add_headers])
    app.router.add_get("/", index)
    app.router.add_static("/", site, follow_symlinks=False, show_index=False)
    return app


async def watch_and_rebuild(roots: dict[str, Path], rebuild) -> None:
    """Rebuild the steps whose sources changed. ``roots`` maps a build step to the folder it reads."""
    from watchfiles import awatch

    async for changes in awatch(*roots.values(), debounce=300):
        touched = {Path(path) for _change, path in changes}
        steps = tuple(step for step, folder in roots.items() if any(folder in p.parents for p in touched))
        if not steps:
            continue
        try:
            changed = await asyncio.get_running_loop().run_in_executor(None, rebuild, steps)
            log.warning("rebuilt %s (%d file(s) updated); reload the page to pick it up", "+".join(steps), changed)
        except Exception as exc:  # a broken edit must not stop the server; say why and keep serving
            log.error("rebuild of %s failed: %s", "+".join(steps), exc)


def serve(site: Path, host: str, port: int, isolation: bool = True, watch: dict[str, Path] | None = None, rebuild=None) -> None:
    app = make_app(site, isolation)
    if watch and rebuild:

        async def start_watcher(app: web.Application):
            task = asyncio.create_task(watch_and_rebuild(watch, rebuild))
            yield
            task.cancel()

        app.cleanup_ctx.append(start_watcher)
    print(f"Serving {site} at http://{host}:{port}/  (webcam demo: /, classification: /classify.html)", flush=True)
    web.run_app(app, host=host, port=port, print=None, access_log=None)
