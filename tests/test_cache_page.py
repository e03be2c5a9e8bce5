"""Repeat visits in the same browser profile: nothing is downloaded again, and a changed model is.

The service worker keeps the site's files in Cache Storage keyed by their sha256 (sw.js); the
server's access log counts the bytes that really left it.
"""

import time

import numpy as np
import pytest

from inpage_tools.project import add_model

import makers
from conftest import CHROMIUM, QUIET_FLAGS, Server, build

pytestmark = pytest.mark.browser
SCALE = {"normalize": {"mean": [0], "std": [255], "units": "0-255"}, "resize": "stretch"}


def visit(context, url):
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("window.inpage !== undefined")
    page.evaluate("inpage.ready")
    result = page.evaluate("inpage.classify('samples/coffee.png', {model: 'tiny', topK: 4})")
    timeline = page.evaluate("inpage.timeline()")
    page.close()
    return result, timeline


def sent(server, since):
    entries = [e for e in server.log() if e["t"] >= since]
    return sum(e["bytes"] for e in entries), entries


def test_repeat_visits_download_nothing_and_a_changed_model_is_fetched_again(playwright_instance, tmp_path):
    project = tmp_path / "project"
    makers.classifier(tmp_path / "tiny.onnx", seed=1)
    add_model(tmp_path / "tiny.onnx", project, **SCALE)
    site = tmp_path / "site"
    assert build(site, project).returncode == 0
    server = Server(site, access_log=tmp_path / "access.jsonl")
    context = playwright_instance.chromium.launch_persistent_context(str(tmp_path / "profile"), executable_path=CHROMIUM, args=QUIET_FLAGS)
    try:
        start = time.time()
        first, _ = visit(context, server.url + "classify.html")
        first_bytes, first_entries = sent(server, start)
        assert first_bytes > 10 * 2**20  # Pyodide, numpy, Pillow, onnxruntime-web...
        assert any(e["path"].startswith("/ort/ort-wasm-simd-threaded.wasm") and e["encoding"] == "br" for e in first_entries)

        time.sleep(1)
        start = time.time()
        second, _ = visit(context, server.url + "classify.html")
        second_bytes, second_entries = sent(server, start)
        assert second["predictions"] == first["predictions"]
        # Only the page itself (revalidated) and the asset index cross the wire.
        assert second_bytes < 100_000, [(e["path"], e["bytes"]) for e in second_entries if e["bytes"]]
        assert not [e for e in second_entries if e["path"].split("?")[0].endswith((".wasm", ".whl", ".onnx", ".zip"))]

        # A new model under the same name: only it is fetched again.
        makers.classifier(tmp_path / "tiny.onnx", seed=2)
        add_model(tmp_path / "tiny.onnx", project, **SCALE)
        assert build(site, project).returncode == 0
        time.sleep(1)
        start = time.time()
        third, _ = visit(context, server.url + "classify.html")
        _, third_entries = sent(server, start)
        fetched = {e["path"].split("?")[0] for e in third_entries if e["status"] == 200 and e["bytes"]}
        assert "/models/tiny.onnx" in fetched
        assert not any(path.endswith((".wasm", ".whl")) for path in fetched), fetched
        assert [p["index"] for p in third["predictions"]] != [p["index"] for p in first["predictions"]] or not np.allclose(
            [p["score"] for p in third["predictions"]], [p["score"] for p in first["predictions"]])
    finally:
        context.close()
        server.stop()


@pytest.mark.parametrize("query, expected", [
    ("", "/models/nanodet-m-416.int8.onnx"),      # the variant the benchmark kept for WASM
    ("?variant=base", "/models/nanodet-m-416.onnx"),  # a forced variant
])
def test_the_page_downloads_only_the_model_file_it_runs(site, open_page, tmp_path, query, expected):
    # The webcam page prefetches its detector while Pyodide boots. It must fetch the file Python
    # will load, once: the fp32 NanoDet is 7 MB that a first visit would download for nothing.
    server = Server(site, access_log=tmp_path / "access.jsonl")
    try:
        session = open_page("index.html" + query, base_url=server.url)
        info = session.page.evaluate("inpage.loadModel('nanodet-m')")
        assert info["variant"] == ("base" if "base" in query else "int8")
        paths = (e["path"].split("?")[0] for e in server.log())
        models = [path for path in paths if path.endswith(".onnx")]
        assert models == [expected], models
    finally:
        server.stop()
