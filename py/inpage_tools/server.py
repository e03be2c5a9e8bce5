"""The dev server: serves the built site with the headers multithreaded WASM needs, and rebuilds on change.

It is an aiohttp application with a static handler of its own, because serving a site of
WebAssembly, wheels and models well takes more than a directory listing:

* ``Cross-Origin-Opener-Policy: same-origin`` and ``Cross-Origin-Embedder-Policy: require-corp``
  make the page cross-origin isolated, so SharedArrayBuffer exists and onnxruntime-web can use
  threads (``--no-isolation`` leaves them out, to see the single-threaded fallback);
* exact ``Content-Type``s (``application/wasm`` for streaming compilation, ``text/javascript``
  for modules), and the precompressed ``.br``/``.gz`` copies the build made, with
  ``Content-Encoding`` and ``Vary: Accept-Encoding``;
* caching: a request for ``?sha256=<the file's sha256>`` (how the pages ask for versioned files)
  may be kept for good (``immutable``); anything else is revalidated (``no-cache``, ETag), so a
  reload after a rebuild gets the new files;
* nothing outside the site: no ``..``, no symlinks out, no dotfiles (the build's state), and a
  missing file is a plain 404.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import logging
import socket
import sys
import time
from pathlib import Path
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict

from inpage.errors import InpageError

log = logging.getLogger("inpage.serve")

CONTENT_TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript",
    ".js": "text/javascript",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css",
    ".webm": "video/webm",
    ".whl": "application/zip",
    ".zip": "application/zip",
    ".onnx": "application/octet-stream",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
}
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}
IMMUTABLE = "public, max-age=31536000, immutable"


class ServeError(InpageError):
    """The server cannot start; the message says why and what to do."""


class _Digests:
    """sha256 of served files, computed once per (size, mtime) so a request's ``?sha256=`` can be checked."""

    def __init__(self):
        self._known: dict[Path, tuple[int, int, str]] = {}

    def of(self, path: Path) -> str:
        stat = path.stat()
        known = self._known.get(path)
        if known and known[:2] == (stat.st_size, stat.st_mtime_ns):
            return known[2]
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        self._known[path] = (stat.st_size, stat.st_mtime_ns, digest.hexdigest())
        return self._known[path][2]


class _ChosenFile(web.FileResponse):
    """A file response that sends exactly the file it was given. aiohttp's own picks a ``.br``/``.gz``
    sibling by itself, stale or not; the handler has chosen already, so it prepares against a
    request that accepts no encoding."""

    async def prepare(self, request: web.BaseRequest):
        plain = request.clone(headers=CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() != "accept-encoding"))
        return await super().prepare(plain)


def _resolve(site: Path, request_path: str) -> Path | None:
    """The file a URL path names inside ``site``, or None (outside, dotted, a folder, missing)."""
    relative = unquote(request_path).lstrip("/")
    if relative == "":
        relative = "index.html"
    parts = relative.split("/")
    if any(part in ("", ".", "..") or part.startswith(".") or "\\" in part or "\x00" in part for part in parts):
        return None
    candidate = site.joinpath(*parts)
    try:
        resolved = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if site not in resolved.parents or not resolved.is_file():
        return None
    return resolved


def make_app(site: Path, isolation: bool = True, access_log: Path | None = None) -> web.Application:
    site = site.resolve()
    digests = _Digests()
    log_handle = access_log.open("a", buffering=1) if access_log else None

    def common_headers(response: web.StreamResponse) -> None:
        if isolation:
            response.headers.update(ISOLATION_HEADERS)
        response.headers["Cross-Origin-Resource-Policy"] = "same-origin"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")

    async def serve_file(request: web.Request) -> web.StreamResponse:
        path = _resolve(site, request.path)
        if path is None:
            raise web.HTTPNotFound(text="404: not found\n")
        accepted = request.headers.get("Accept-Encoding", "")
        body, encoding = path, None
        if "Range" not in request.headers:
            for name, suffix in ENCODINGS:
                encoded = path.with_name(path.name + suffix)
                # An encoded copy older than its file is stale (the file changed after the build).
                if name in accepted and encoded.is_file() and encoded.stat().st_mtime >= path.stat().st_mtime - 1:
                    body, encoding = encoded, name
                    break
        response = _ChosenFile(body)
        response["body_size"] = body.stat().st_size
        response.content_type = CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        if encoding:
            response.headers["Content-Encoding"] = encoding
        response.headers["Vary"] = "Accept-Encoding"
        wanted = request.query.get("sha256")
        if wanted and await asyncio.get_running_loop().run_in_executor(None, digests.of, path) == wanted:
            response.headers["Cache-Control"] = IMMUTABLE
        else:
            response.headers["Cache-Control"] = "no-cache"
        common_headers(response)
        return response

    @web.middleware
    async def add_headers(request: web.Request, handler):
        try:
            return await handler(request)
        except web.HTTPException as exc:
            common_headers(exc)
            raise

    async def record(request: web.Request, response: web.StreamResponse) -> None:
        # Called as the headers go out, when the status is final (a revalidated file is a 304).
        sent = 0 if response.status == 304 else response.get("body_size", response.content_length or 0)
        entry = {"t": time.time(), "path": request.path_qs, "status": response.status, "bytes": sent,
                 "encoding": response.headers.get("Content-Encoding")}
        log_handle.write(json.dumps(entry) + "\n")

    app = web.Application(middlewares=[add_headers])
    if log_handle:
        app.on_response_prepare.append(record)
    app.router.add_get("/{path:.*}", serve_file)
    return app


async def watch_and_rebuild(roots: list[Path], rebuild) -> None:
    """Rebuild when anything under ``roots`` changes. ``rebuild()`` is incremental: it redoes what
    changed, and every step whose output has gone (a deleted site folder)."""
    from watchfiles import awatch

    async for changes in awatch(*[root for root in roots if root.exists()], debounce=300):
        # Said before the work starts, so anyone watching the log (a person, a test) knows the site
        # is being written until the matching "rebuilt" or "rebuild failed" line.
        log.warning("rebuilding after %d change(s)…", len(changes))
        try:
            changed = await asyncio.get_running_loop().run_in_executor(None, rebuild)
            log.warning("rebuilt (%d file(s) updated); reload the page to pick it up", changed)
        except Exception as exc:  # a broken edit must not stop the server; say why and keep serving
            log.error("rebuild failed: %s", " ".join(str(exc).split()))


def check_port(host: str, port: int) -> None:
    """Fail now, with one line, if ``host:port`` cannot be bound (busy, or not an address of this machine)."""
    # Port 0 would bind, to a port the system picks and the printed address would not name.
    if not 1 <= port <= 65535:
        raise ServeError(f"--port {port} is not a port number; pass one from 1 to 65535, e.g. --port 8000")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ServeError(f"port {port} on {host} is already in use (another `inpage serve`?); stop it or pass --port {port + 1}") from None
            if exc.errno == errno.EACCES:
                raise ServeError(f"no permission to listen on port {port}; use a port above 1023, e.g. --port 8000") from None
            raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def remote_warning(host: str) -> str | None:
    """A warning when other machines reach the page over plain http, which is not a secure context."""
    if host in ("127.0.0.1", "localhost", "::1"):
        return None
    return (
        f"inpage: serving on {host}: other machines reach the page over plain http, which browsers do not treat "
        "as a secure context there: no camera, no cross-origin isolation (one WASM thread), no offline cache. "
        "Put it behind https for them; on this machine use http://127.0.0.1."
    )


def serve(site: Path, host: str, port: int, isolation: bool = True, watch: list[Path] | None = None, rebuild=None, access_log: Path | None = None) -> None:
    app = make_app(site, isolation, access_log)
    if watch and rebuild:

        async def start_watcher(app: web.Application):
            task = asyncio.create_task(watch_and_rebuild(watch, rebuild))
            yield
            task.cancel()

        app.cleanup_ctx.append(start_watcher)
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    print(f"Serving {site} at http://{shown}:{port}/  (webcam demo: /, classification: /classify.html, models: /models.html)", flush=True)
    warning = remote_warning(host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    web.run_app(app, host=host, port=port, print=None, access_log=None, reuse_address=True)
