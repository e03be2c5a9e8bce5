"""The classification page in headless Chromium, against the real dev server.

Parity is the main correctness test: ``classify`` in the page (Pyodide + onnxruntime-web) must
give the same top 5 as ``classify`` on CPython with native onnxruntime, through the same code.
"""

import shutil

import pytest

from conftest import FIXTURES, SAMPLES, Server, run
from parity import assert_same_result

PHOTOS = ["chelsea", "coffee", "astronaut", "rocket"]
CATS = {"tiger cat", "tabby, tabby cat", "Egyptian cat", "tabby"}

pytestmark = pytest.mark.browser


def assert_same_top5(page_result, native_predictions):
    page_predictions = page_result["predictions"]
    assert [p["index"] for p in page_predictions] == [p.index for p in native_predictions]
    assert [p["label"] for p in page_predictions] == [p.label for p in native_predictions]
    for ours, theirs in zip(page_predictions, native_predictions):
        assert abs(ours["score"] - theirs.score) < 1e-3, (ours, theirs)


def test_page_matches_native_onnxruntime_on_wasm(open_page, native_models):
    session = open_page("classify.html")
    native = native_models("efficientnet-lite0")
    for photo in PHOTOS:
        result = session.page.evaluate("(url) => inpage.classify(url, {topK: 5})", f"samples/{photo}.png")
        assert result["backend"] == "wasm"
        assert set(result["timings"]) >= {"preprocess_ms", "inference_ms", "postprocess_ms"}
        assert_same_top5(result, run(native.classify((SAMPLES / f"{photo}.png").read_bytes(), top_k=5)))
    assert session.page.evaluate("crossOriginIsolated") is True
    assert session.page.evaluate("inpage.threads") >= 2
    assert session.foreign_requests() == []
    assert session.page_errors == []


def test_page_classifies_elements_and_blobs_like_urls(open_page):
    page = open_page("classify.html").page
    by_url, by_blob = page.evaluate("""async () => {
        const blob = await (await fetch('samples/coffee.png')).blob();
        return [await inpage.classify('samples/coffee.png'), await inpage.classify(blob)];
    }""")
    assert by_url["predictions"] == by_blob["predictions"]
    assert by_url["predictions"][0]["label"] == "espresso"
    # An <img> element goes through a canvas (browser JPEG decoder), so scores may differ a little.
    by_element = page.evaluate("""async () => {
        const img = new Image(); img.src = 'samples/coffee.png'; await img.decode();
        return inpage.classify(img);
    }""")
    assert by_element["predictions"][0]["label"] == "espresso"


@pytest.mark.webgpu
def test_page_matches_native_onnxruntime_on_webgpu(webgpu_browser, open_page, native_models):
    session = open_page("classify.html", use_browser=webgpu_browser)
    assert session.page.evaluate("inpage.probeWebGpu().then(g => g.available)") is True
    native = native_models("efficientnet-lite0")
    for photo in PHOTOS[:2]:
        result = session.page.evaluate("(url) => inpage.classify(url, {topK: 5, provider: 'webgpu'})", f"samples/{photo}.png")
        assert result["backend"] == "webgpu" and result["fallbackReason"] is None
        assert_same_top5(result, run(native.classify((SAMPLES / f"{photo}.png").read_bytes(), top_k=5)))
    assert session.foreign_requests() == []


def test_webgpu_without_adapter_falls_back_to_wasm_and_says_so(open_page):
    session = open_page("classify.html")
    page = session.page
    assert page.evaluate("inpage.probeWebGpu().then(g => g.available)") is False
    page.select_option("#provider", "webgpu")
    page.click("#samples button[data-src='samples/chelsea.png']")
    page.wait_for_function("document.querySelector('#backend').textContent === 'WASM'")
    warning = page.locator(".notice.warn", has_text="Running on WASM")
    text = warning.inner_text()
    assert warning.count() == 1 and ("WebGPU" in text or "adapter" in text)


def test_sample_click_renders_top5_timings_and_provider(open_page):
    session = open_page("classify.html")
    page = session.page
    page.click("#samples button[data-src='samples/chelsea.png']")
    page.wait_for_selector("#predictions li .score")
    labels = page.locator("#predictions li .label").all_inner_texts()
    assert len(labels) == 5 and labels[0] in CATS
    assert page.locator("#backend").inner_text() == "WASM"
    for stage in ["preprocess_ms", "inference_ms", "postprocess_ms"]:
        assert page.locator(f"[data-t={stage}]").inner_text().endswith(" ms")
    assert session.foreign_requests() == []


def test_upload_then_bad_files_then_upload_again(open_page):
    session = open_page("classify.html")
    page = session.page
    page.set_input_files("#file", str(SAMPLES / "coffee.png"))
    page.wait_for_function("document.querySelector('#predictions .label')?.textContent === 'espresso'")

    page.set_input_files("#file", str(FIXTURES / "not-an-image.png"))
    page.wait_for_selector(".notice.error >> text=not an image")
    assert "not-an-image.png" in page.locator(".notice.error").inner_text()

    page.set_input_files("#file", str(FIXTURES / "truncated.jpg"))
    page.wait_for_selector(".notice.error >> text=truncated")
    # One line naming the cause, never a Python traceback.
    message = page.locator(".notice.error").inner_text()
    assert "\n" not in message and "Traceback" not in message and "PythonError" not in message

    # The page keeps working: a good image clears the error and is classified.
    page.set_input_files("#file", str(SAMPLES / "chelsea.png"))
    page.wait_for_function("document.querySelectorAll('.notice.error').length === 0")
    page.wait_for_selector("#predictions li .score")
    assert page.locator("#predictions li .label").first.inner_text() in CATS
    assert session.page_errors == []


def test_drop_an_image_on_the_page(open_page):
    page = open_page("classify.html").page
    data = list((SAMPLES / "coffee.png").read_bytes())
    page.evaluate("""(bytes) => {
        const file = new File([new Uint8Array(bytes)], 'coffee.png', {type: 'image/png'});
        const transfer = new DataTransfer(); transfer.items.add(file);
        document.querySelector('inpage-image').dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true}));
    }""", data)
    page.wait_for_function("document.querySelector('#predictions .label')?.textContent === 'espresso'")


def test_tampered_model_fails_in_the_page_naming_the_file(site, browser, open_page, tmp_path):
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    model = copy / "models" / "efficientnet-lite0.onnx"
    data = bytearray(model.read_bytes())
    data[1000] ^= 0x01
    model.write_bytes(bytes(data))
    server = Server(copy)
    try:
        session = open_page("classify.html", base_url=server.url)
        page = session.page
        page.wait_for_selector(".notice.error >> text=efficientnet-lite0.onnx")
        assert "sha256" in page.locator(".notice.error").inner_text()
        error = page.evaluate("inpage.classify('samples/chelsea.png').then(() => null, e => e.message)")
        assert "efficientnet-lite0.onnx" in error
        # Python stays usable after the failure.
        assert page.evaluate("inpage.models().then(m => m.length)") >= 3
    finally:
        server.stop()


def test_without_isolation_the_page_runs_single_threaded_and_says_so(site, open_page):
    server = Server(site, "--no-isolation")
    try:
        # Where service workers run, the site's own supplies the headers: one reload, then threads.
        isolated = open_page("classify.html", base_url=server.url).page
        isolated.wait_for_function("window.crossOriginIsolated === true", timeout=60_000)
        isolated.evaluate("inpage.ready")
        assert isolated.evaluate("inpage.threads") > 1 or isolated.evaluate("navigator.hardwareConcurrency") == 1
        # Where they cannot (some private windows), the page runs on one thread and says why.
        session = open_page("classify.html", base_url=server.url, service_workers="block")
        page = session.page
        assert page.evaluate("crossOriginIsolated") is False
        assert page.evaluate("inpage.threads") == 1
        assert "not cross-origin isolated" in page.locator(".notice.warn").first.inner_text()
        result = page.evaluate("inpage.classify('samples/chelsea.png')")
        assert result["predictions"][0]["label"] in CATS
        assert session.foreign_requests() == []
    finally:
        server.stop()


def test_variants_run_in_the_page_as_natively_and_say_which_ran(open_page):
    from inpage import load_model

    from conftest import ROOT

    page = open_page("classify.html").page
    manifest = str(ROOT / "models" / "manifest.json")
    photo = (SAMPLES / "astronaut.png").read_bytes()
    for name, method in (("nanodet-m", "detect"), ("efficientnet-lite0", "classify")):
        native = run(load_model(name, manifest=manifest, variant="int8"))
        expected = run(getattr(native, method)(photo))
        info = page.evaluate("(name) => inpage.loadModel(name, {variant: 'int8'})", name)
        assert info["variant"] == "int8"
        result = page.evaluate("([method, name]) => inpage.call(method, 'samples/astronaut.png', {model: name, variant: 'int8'})", [method, name])
        assert result["variant"] == "int8" and result["backend"] == "wasm"
        # int8 included, the fp32 tolerances: its integers are the same on every CPU and in WASM.
        assert_same_result(method, result, expected, where=f"{name}@int8")
    # The base model stays available, and says so.
    assert page.evaluate("inpage.classify('samples/coffee.png', {variant: 'base'}).then(r => r.variant)") == "base"
