"""Fixtures shared by the suite: the built site, the real dev server, and Debian's headless Chromium.

Browser tests run the page exactly as a user gets it: ``inpage serve`` in a subprocess (aiohttp,
COOP/COEP headers), Chromium driven by Playwright, and a fake camera that plays a .y4m clip made
from real photos. Every page also records each request it makes, so a test can assert that
nothing left the server's origin.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inpage_tools.harness import CHROMIUM, QUIET_FLAGS, WEBGPU_FLAGS, Server, build, free_port  # noqa: F401 - tests import them from here

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SAMPLES = ROOT / "web" / "samples"

sys.path.insert(0, str(ROOT / "tests"))

_loop = asyncio.new_event_loop()
threading.Thread(target=_loop.run_forever, name="inpage-native-loop", daemon=True).start()


def run(coroutine):
    """Run a coroutine to completion from a synchronous test.

    On a loop of its own thread: Playwright's sync API already runs an event loop in the main
    thread, where asyncio.run() is refused. One loop for the session also keeps each Model's
    lock bound to a single loop.
    """
    return asyncio.run_coroutine_threadsafe(coroutine, _loop).result()


@pytest.fixture(scope="session")
def site() -> Path:
    """The demo site built into dist/ by the real build script (incremental: cheap when up to date)."""
    result = build(ROOT / "dist", None, "--quiet")
    assert result.returncode == 0, f"build failed:\n{result.stdout}\n{result.stderr}"
    return ROOT / "dist"


@pytest.fixture(scope="session")
def server(site):
    server = Server(site)
    yield server
    server.stop()
    # A server that logged exceptions while the suite ran has a bug, even if no page noticed.
    assert server.errors() == "", server.output.read_text()[-3000:]


@pytest.fixture(scope="session")
def camera_clip(tmp_path_factory) -> Path:
    """A .y4m clip of astronaut.png (a person with a face) for Chromium's fake camera."""
    from inpage_tools.y4m import photo_frames, write_y4m

    path = tmp_path_factory.mktemp("camera") / "astronaut.y4m"
    photo = np.asarray(Image.open(SAMPLES / "astronaut.png").convert("RGB"))
    write_y4m(path, photo_frames(photo, size=(640, 480), n=2), fps=15)
    return path


@pytest.fixture(scope="session")
def playwright_instance():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run .ci/setup (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance, camera_clip):
    """Headless Chromium with a fake camera playing ``camera_clip``."""
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM,
        args=QUIET_FLAGS + ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={camera_clip}"],
    )
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def webgpu_browser(playwright_instance):
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=QUIET_FLAGS + WEBGPU_FLAGS)
    yield browser
    browser.close()


class PageSession:
    """A fresh browser context and page, recording requests, console errors and page errors."""

    def __init__(self, browser, base_url: str, permissions=(), service_workers: str = "allow"):
        self.context = browser.new_context(permissions=list(permissions), service_workers=service_workers)
        self.page = self.context.new_page()
        self.base_url = base_url
        self.requests: list[str] = []
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        # A renderer crash fails the test anyway; this says so plainly in the output.
        self.page.on("crash", lambda page: print(f"\nRENDERER CRASHED on {page.url}; console errors so far: {self.console_errors[-5:]}"))

    def open(self, path: str = "", wait_ready: bool = True):
        from playwright.sync_api import Error

        self.page.goto(self.base_url + path)
        if wait_ready:
            # A first visit to a server without COOP/COEP reloads once (the service worker supplies
            # them): a wait that the reload cuts short is waited for again on the new page.
            for attempt in range(3):
                try:
                    self.page.wait_for_function("window.inpage !== undefined")
                    self.page.evaluate("window.inpage.ready")
                    break
                except Error as exc:
                    if attempt == 2 or not any(s in str(exc) for s in ("context was destroyed", "navigat")):
                        raise
        return self.page

    def foreign_requests(self) -> list[str]:
        """Requests that left the server's origin (data: and blob: URLs stay in the page)."""
        return [u for u in self.requests if not u.startswith(self.base_url) and not u.startswith(("data:", "blob:"))]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_page(browser, server):
    """Factory: ``open_page(path, permissions=[...])`` opens a page of the served site."""
    sessions: list[PageSession] = []

    def factory(path: str = "", permissions=(), wait_ready: bool = True, base_url: str | None = None, use_browser=None,
                service_workers: str = "allow") -> PageSession:
        session = PageSession(use_browser or browser, base_url or server.url, permissions, service_workers)
        sessions.append(session)
        session.open(path, wait_ready)
        return session

    yield factory
    for session in sessions:
        session.close()


@pytest.fixture(scope="session")
def native_models():
    """Models loaded on CPython with native onnxruntime from the manifest the site bundles, in the
    variant the page runs on WASM (the one the benchmark kept for it), so page and native compare like with like."""
    from inpage import load_model
    from inpage.model import choose_variant, load_spec

    manifest = str(ROOT / "models" / "manifest.json")
    cache: dict[str, object] = {}

    def get(name: str):
        if name not in cache:
            spec, _ = run(load_spec(name, manifest))
            cache[name] = run(load_model(name, manifest=manifest, variant=choose_variant(spec, "wasm")))
        return cache[name]

    return get


@pytest.fixture
def scratch_copy(tmp_path):
    """Factory: copy a folder of the repo into tmp_path, for tests that damage files."""

    def copy(source: Path) -> Path:
        target = tmp_path / source.name
        shutil.copytree(source, target)
        return target

    return copy
