"""Driving the real thing from Python: the site build, ``inpage serve`` in a subprocess on a free port,
and the flags Debian's headless Chromium runs with. The test suite and the benchmark both use it, so
both measure the site exactly as a user gets it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from . import resources

CHROMIUM = os.environ.get("INPAGE_CHROMIUM", "/usr/bin/chromium")

# Keep Chromium off the closed network: these services would only time out or be refused.
QUIET_FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
    "--enable-precise-memory-info",
]
# SwiftShader gives headless Chromium a WebGPU adapter with no GPU: correct, slow.
WEBGPU_FLAGS = ["--enable-unsafe-webgpu", "--enable-unsafe-swiftshader", "--use-angle=swiftshader", "--enable-features=Vulkan"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build(out: Path, project: Path | None = None, *extra: str) -> subprocess.CompletedProcess:
    """The real build (the same as `inpage build`) into ``out``, in a subprocess."""
    command = [sys.executable, "-c", "import sys; from inpage_tools.bundle import main; sys.exit(main())", "--out", str(out), *extra]
    if project is not None:
        command += ["--project", str(project)]
    return subprocess.run(command, capture_output=True, text=True, cwd=resources.CHECKOUT or Path.cwd())


class Server:
    """``inpage serve`` running in a subprocess on a free port."""

    def __init__(self, site: Path, *extra: str, access_log: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.access_log = access_log
        command = [sys.executable, "-m", "inpage_tools", "serve", "--no-build", "--site", str(site), "--port", str(self.port), *extra]
        if access_log is not None:
            command += ["--access-log", str(access_log)]
        # Output goes to a file: a pipe nobody reads fills up and stalls the server.
        self.output = Path(tempfile.mkstemp(prefix="inpage-serve-", suffix=".log")[1])
        with self.output.open("w") as sink:
            self.process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"inpage serve exited: {self.output.read_text()}")
            try:
                urllib.request.urlopen(self.url, timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("inpage serve did not answer within 30 s")

    def log(self) -> list[dict]:
        """The responses sent so far (with --access-log): path, status, bytes, encoding."""
        if self.access_log is None or not self.access_log.exists():
            return []
        return [json.loads(line) for line in self.access_log.read_text().splitlines() if line.strip()]

    def errors(self) -> str:
        """What the server printed that looks like a failure (it should print none)."""
        text = self.output.read_text() if self.output.exists() else ""
        return "\n".join(line for line in text.splitlines() if "Traceback" in line or "Error" in line or "exception" in line.lower())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
