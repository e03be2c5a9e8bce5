"""The dev server: isolation headers, MIME types, precompressed files, caching by sha256, nothing outside the
site, one-line failures, and rebuilds on change (even of a deleted site)."""

import gzip
import hashlib
import http.client
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile

import brotli
import pytest

from conftest import ROOT, Server, free_port


def get(server, path, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    connection.request("GET", path, headers=headers or {})  # sent as written: no client-side normalisation of ".."
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response, body


def test_pages_are_cross_origin_isolated(server):
    for path in ["/", "/classify.html", "/models.html", "/js/inpage.js", "/js/worker.js", "/ort/ort-wasm-simd-threaded.mjs"]:
        response, _ = get(server, path)
        assert response.status == 200, path
        assert response.getheader("Cross-Origin-Opener-Policy") == "same-origin"
        assert response.getheader("Cross-Origin-Embedder-Policy") == "require-corp"


def test_mime_types_for_wasm_and_modules(server):
    assert get(server, "/ort/ort-wasm-simd-threaded.wasm")[0].getheader("Content-Type") == "application/wasm"
    assert get(server, "/pyodide/pyodide.asm.wasm")[0].getheader("Content-Type") == "application/wasm"
    assert get(server, "/ort/ort.wasm.min.mjs")[0].getheader("Content-Type").startswith("text/javascript")
    assert get(server, "/js/inpage.js")[0].getheader("Content-Type").startswith("text/javascript")


def test_precompressed_files_are_sent_with_their_encoding(server, site):
    original = (site / "ort" / "ort-wasm-simd-threaded.wasm").read_bytes()
    for accept, decode in (("br", brotli.decompress), ("gzip", gzip.decompress), ("gzip, deflate, br", brotli.decompress)):
        response, body = get(server, "/ort/ort-wasm-simd-threaded.wasm", {"Accept-Encoding": accept})
        assert response.getheader("Content-Type") == "application/wasm"
        assert response.getheader("Content-Encoding") in ("br", "gzip") and "Accept-Encoding" in response.getheader("Vary")
        assert len(body) < len(original) / 3 and decode(body) == original
    response, body = get(server, "/ort/ort-wasm-simd-threaded.wasm")
    assert response.getheader("Content-Encoding") is None and body == original


def test_versioned_requests_may_be_cached_for_good_and_others_are_revalidated(server, site):
    digest = hashlib.sha256((site / "models" / "blazeface-front-128.onnx").read_bytes()).hexdigest()
    response, _ = get(server, f"/models/blazeface-front-128.onnx?sha256={digest}")
    assert response.getheader("Cache-Control") == "public, max-age=31536000, immutable"
    response, _ = get(server, f"/models/blazeface-front-128.onnx?sha256={'0' * 64}")  # stale or tampered: not for good
    assert response.getheader("Cache-Control") == "no-cache"
    response, _ = get(server, "/index.html")
    assert response.getheader("Cache-Control") == "no-cache" and response.getheader("ETag")


def test_root_serves_the_webcam_demo(server):
    response, body = get(server, "/")
    assert response.status == 200 and b"webcam" in body.lower() and b'src="js/webcam-page.js"' in body


@pytest.mark.parametrize("path", ["/../pyproject.toml", "/%2e%2e/pyproject.toml", "/models/../../pyproject.toml",
                                  "/..%2fpyproject.toml", "/%2e%2e%2f%2e%2e%2fetc/passwd", "//etc/passwd"])
def test_path_traversal_is_refused(server, path):
    response, body = get(server, path)
    assert response.status in (400, 403, 404)
    assert b"hatchling" not in body and b"root:" not in body


@pytest.mark.parametrize("path", ["/.inpage/web-files", "/.inpage/compressed.json", "/%2einpage/web-files", "/models/.hidden"])
def test_dotfiles_are_not_served(server, path):
    response, body = get(server, path)
    assert response.status == 404 and b"index.html" not in body


def test_a_missing_wasm_is_a_plain_404(server):
    response, body = get(server, "/ort/missing.wasm")
    assert response.status == 404
    assert response.getheader("Content-Type").startswith("text/plain")


def test_no_isolation_flag_leaves_the_headers_out(site):
    server = Server(site, "--no-isolation")
    try:
        response, _ = get(server, "/index.html")
        assert response.status == 200
        assert response.getheader("Cross-Origin-Embedder-Policy") is None
    finally:
        server.stop()


def test_a_busy_port_is_one_line_and_nothing_is_built(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "inpage_tools", "serve", "--site", str(tmp_path / "site"), "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == f"inpage: port {port} on 127.0.0.1 is already in use (another `inpage serve`?); stop it or pass --port {port + 1}"
    assert "Traceback" not in result.stdout + result.stderr and "Serving" not in result.stdout
    assert not (tmp_path / "site").exists() and time.monotonic() - started < 20


@pytest.mark.parametrize("port", ["99999", "0", "-1"])
def test_a_port_out_of_range_is_one_line_and_nothing_is_built(tmp_path, port):
    result = subprocess.run([sys.executable, "-m", "inpage_tools", "serve", "--site", str(tmp_path / "site"), "--port", port],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == f"inpage: --port {port} is not a port number; pass one from 1 to 65535, e.g. --port 8000\n"
    assert not (tmp_path / "site").exists()


def test_serving_to_other_machines_warns_about_plain_http(site):
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "inpage_tools", "serve", "--no-build", "--site", str(site), "--host", "0.0.0.0", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None
                time.sleep(0.2)
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert "not treat as a secure context" in err and "no camera" in err and "one WASM thread" in err


def test_access_log_counts_bytes_and_revalidations(site, tmp_path):
    server = Server(site, access_log=tmp_path / "access.jsonl")
    try:
        response, body = get(server, "/js/inpage.js")
        etag = response.getheader("ETag")
        revalidated, _ = get(server, "/js/inpage.js", {"If-None-Match": etag})
        assert revalidated.status == 304
        time.sleep(0.2)
        log = [entry for entry in server.log() if entry["path"] != "/"]  # "/" was the start-up probe
        assert [(e["path"], e["status"]) for e in log] == [("/js/inpage.js", 200), ("/js/inpage.js", 304)]
        assert log[0]["bytes"] == len(body) and log[1]["bytes"] == 0
    finally:
        server.stop()


def wait_for(condition, seconds, message):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.2)


def test_serve_builds_a_missing_site_rebuilds_on_change_and_after_the_site_is_deleted(tmp_path):
    site = tmp_path / "site"
    port = free_port()
    output = tmp_path / "serve.log"
    with output.open("w") as sink:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen([sys.executable, "-m", "inpage_tools", "serve", "--site", str(site), "--port", str(port)],
                                   stdout=sink, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    probe_web = ROOT / "web" / "_watch_probe.txt"
    probe_py = ROOT / "py" / "inpage" / "_watch_probe.py"
    try:
        def up():
            assert process.poll() is None, output.read_text()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
                return True
            except OSError:
                return False

        wait_for(up, 120, "serve did not come up")
        assert (site / "pyodide" / "pyodide-lock.json").exists() and (site / "models" / "manifest.json").exists()

        probe_web.write_text("first edit")
        probe_py.write_text("EDITED = True\n")

        def idle():
            # Every rebuild the server started has finished: the site is not being written to.
            log = output.read_text()
            started = log.count("rebuilding after")
            return started >= 1 and started == log.count("rebuilt (") + log.count("rebuild failed")

        def wheel_has_probe():
            wheels = list((site / "pyodide").glob("inpage-*.whl"))
            return bool(wheels) and "inpage/_watch_probe.py" in zipfile.ZipFile(wheels[0]).namelist()

        wait_for(lambda: idle() and (site / "_watch_probe.txt").exists() and wheel_has_probe(), 60, "the edit was not rebuilt within 60 s")
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/_watch_probe.txt", timeout=5).read()
        assert body == b"first edit"

        # The whole site folder goes; the next change rebuilds everything that is missing.
        time.sleep(1)  # a rebuild that a late file event would start shows up in the log by now
        wait_for(idle, 60, "a rebuild did not finish")
        shutil.rmtree(site)
        probe_web.write_text("second edit")
        wait_for(lambda: (site / "_watch_probe.txt").exists() and (site / "ort" / "ort-wasm-simd-threaded.wasm").exists()
                 and (site / "models" / "manifest.json").exists() and wheel_has_probe() and (site / "assets.json").exists(),
                 90, "the deleted site was not rebuilt")
        assert urllib.request.urlopen(f"http://127.0.0.1:{port}/js/worker.js", timeout=5).status == 200
    finally:
        probe_web.unlink(missing_ok=True)
        probe_py.unlink(missing_ok=True)
        process.terminate()
        process.wait(timeout=10)
