"""The dev server: isolation headers, MIME types, no path traversal, builds when stale, rebuilds on change."""

import http.client
import subprocess
import sys
import time
import urllib.request
import zipfile

import pytest

from conftest import ROOT, Server, free_port


def get(server, path):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", path)  # sent as written: no client-side normalisation of ".."
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def test_pages_are_cross_origin_isolated(server):
    for path in ["/", "/classify.html", "/js/inpage.js", "/ort/ort-wasm-simd-threaded.mjs"]:
        response, _ = get(server, path)
        assert response.status == 200, path
        assert response.getheader("Cross-Origin-Opener-Policy") == "same-origin"
        assert response.getheader("Cross-Origin-Embedder-Policy") == "require-corp"


def test_mime_types_for_wasm_and_modules(server):
    assert get(server, "/ort/ort-wasm-simd-threaded.wasm")[0].getheader("Content-Type") == "application/wasm"
    assert get(server, "/pyodide/pyodide.asm.wasm")[0].getheader("Content-Type") == "application/wasm"
    assert get(server, "/ort/ort.wasm.min.mjs")[0].getheader("Content-Type") == "text/javascript"
    assert get(server, "/js/inpage.js")[0].getheader("Content-Type") == "text/javascript"


def test_root_serves_the_webcam_demo(server):
    response, body = get(server, "/")
    assert response.status == 200 and b"webcam" in body.lower() and b'src="js/webcam-page.js"' in body


@pytest.mark.parametrize("path", ["/../pyproject.toml", "/%2e%2e/pyproject.toml", "/models/../../pyproject.toml",
                                  "/..%2fpyproject.toml", "/%2e%2e%2f%2e%2e%2fetc/passwd", "//etc/passwd"])
def test_path_traversal_is_refused(server, path):
    response, body = get(server, path)
    assert response.status in (400, 403, 404)
    assert b"hatchling" not in body and b"root:" not in body


def test_no_isolation_flag_leaves_the_headers_out(site):
    server = Server(site, "--no-isolation")
    try:
        response, _ = get(server, "/index.html")
        assert response.status == 200
        assert response.getheader("Cross-Origin-Embedder-Policy") is None
    finally:
        server.stop()


def test_serve_builds_a_missing_site_then_rebuilds_on_change(tmp_path):
    site = tmp_path / "site"
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "inpage", "serve", "--site", str(site), "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    probe_web = ROOT / "web" / "_watch_probe.txt"
    probe_py = ROOT / "py" / "inpage" / "_watch_probe.py"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stdout.read()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
        assert (site / "pyodide" / "pyodide-lock.json").exists() and (site / "models" / "manifest.json").exists()

        probe_web.write_text("first edit")
        probe_py.write_text("EDITED = True\n")

        def wheel_has_probe():
            wheels = list((site / "pyodide").glob("inpage-*.whl"))
            return wheels and "inpage/_watch_probe.py" in zipfile.ZipFile(wheels[0]).namelist()

        deadline = time.monotonic() + 30
        while not ((site / "_watch_probe.txt").exists() and wheel_has_probe()):
            assert time.monotonic() < deadline, "the edit was not rebuilt within 30 s"
            time.sleep(0.2)
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/_watch_probe.txt", timeout=5).read()
        assert body == b"first edit"
    finally:
        probe_web.unlink(missing_ok=True)
        probe_py.unlink(missing_ok=True)
        process.terminate()
        process.wait(timeout=10)
