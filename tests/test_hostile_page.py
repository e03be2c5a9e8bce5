"""The page as a hostile user drives it: concurrent calls on every kind of source, tiny files with extreme
sizes, EXIF rotation, 16-bit and transparent images, formats only one side reads, bad arguments, damaged
sites, compressed downloads, a camera that is slow, stopped or unplugged, and crowded labels.

Each answer in the page is checked against native inpage on the same bytes.
"""

import base64
import json
import shutil

import numpy as np
import pytest
from PIL import Image

from inpage.errors import ImageDecodeError

import makers
from conftest import CHROMIUM, QUIET_FLAGS, SAMPLES, PageSession, Server, run

pytestmark = pytest.mark.browser

TO_BLOB = """(b64, type) => new Blob([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], {type})"""


@pytest.fixture(scope="module")
def page(browser, server):
    session = PageSession(browser, server.url)
    session.open("classify.html")
    yield session.page
    assert session.page_errors == []
    session.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def classify_bytes(page, data: bytes, **options):
    return page.evaluate(
        f"async ([b64, options]) => {{ const blob = ({TO_BLOB})(b64, 'application/octet-stream'); return inpage.classify(blob, options); }}",
        [b64(data), options],
    )


def same_predictions(page_result, native):
    assert [p["index"] for p in page_result["predictions"]] == [p.index for p in native]
    np.testing.assert_allclose([p["score"] for p in page_result["predictions"]], [p.score for p in native], atol=1e-3)


def page_error(page, script, arg=None):
    """Run ``script`` (an async function of ``arg``) expecting a rejection: returns [name, message]."""
    return page.evaluate(f"async (arg) => {{ try {{ await ({script})(arg); return null; }} catch (e) {{ return [e.name, e.message, e instanceof inpage.InpageError]; }} }}", arg)


CONCURRENT = """async (photos) => {
  // Four photos of the same size, each as ImageData, a canvas, an ImageBitmap and a Blob: 16 calls at once.
  const sources = [];
  for (const b64 of photos) {
    const blob = new Blob([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], {type: 'image/png'});
    const bitmap = await createImageBitmap(blob);
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width; canvas.height = bitmap.height;
    const context = canvas.getContext('2d');
    context.drawImage(bitmap, 0, 0);
    const imageData = context.getImageData(0, 0, canvas.width, canvas.height);
    sources.push(imageData, canvas, await createImageBitmap(blob), blob);
  }
  const alone = [];
  for (const source of sources) alone.push((await inpage.classify(source, {topK: 3})).predictions);
  const together = await Promise.all(sources.map((source) => inpage.classify(source, {topK: 3}).then((r) => r.predictions)));
  const mixed = await Promise.all(sources.map((source, i) => i % 2 ? inpage.detect(source) : inpage.classify(source, {topK: 3})));
  return {alone, together, mixedCount: mixed.length};
}"""


def test_concurrent_calls_on_every_kind_of_source_get_their_own_answer(page, native_models):
    photos = []
    for name in ("chelsea", "coffee", "astronaut", "rocket"):
        image = Image.open(SAMPLES / f"{name}.png").convert("RGB").resize((320, 240))
        photos.append(makers.png(np.asarray(image)))
    result = page.evaluate(CONCURRENT, [b64(p) for p in photos])
    assert result["together"] == result["alone"]
    assert result["mixedCount"] == 16
    labels = {tuple(p["index"] for p in predictions) for predictions in result["alone"]}
    assert len(labels) == 4  # four different photos, four different answers
    native = native_models("efficientnet-lite0")
    for i, photo in enumerate(photos):
        expected = run(native.classify(photo, top_k=3))
        for kind in range(4):  # ImageData, canvas, bitmap and blob all saw the same pixels
            assert [p["index"] for p in result["alone"][4 * i + kind]] == [p.index for p in expected]


def test_tiny_pngs_with_extreme_sizes_keep_memory_flat(page):
    before = page.evaluate("inpage.memory()")
    for size in ((10_000, 1), (50_000, 1), (1, 50_000)):
        result = classify_bytes(page, makers.strip_png(*size))
        assert len(result["predictions"]) == 5
    after = page.evaluate("inpage.memory()")
    # Before, a 10000x1 PNG grew Pyodide's heap by ~2.5 GB and 50000x1 hit the 4 GB limit.
    assert after["pyodideHeap"] - before["pyodideHeap"] <= 64 * 2**20
    name, message, typed = page_error(page, f"async (b64) => inpage.classify(({TO_BLOB})(b64, 'image/png'))", b64(makers.png_claiming(100_000, 100_000)))
    assert name == "ImageDecodeError" and typed and "over inpage's limit of 64 megapixels" in message


def test_a_huge_canvas_is_not_kept_after_the_call(page):
    kept = page.evaluate("""async () => {
        const canvas = new OffscreenCanvas(8000, 8000);
        canvas.getContext('2d').fillRect(0, 0, 10, 10);
        await inpage.classify(await createImageBitmap(canvas));
        const afterHuge = (await inpage.memory()).pyodideHeap;
        await inpage.classify(await createImageBitmap(canvas));
        const afterSecond = (await inpage.memory()).pyodideHeap;
        const small = new OffscreenCanvas(640, 480);
        small.getContext('2d').fillRect(0, 0, 10, 10);
        await inpage.classify(await createImageBitmap(small));
        return {python: await inpage.runPython('from inpage._web import RgbaPixels; RgbaPixels._kept is None or RgbaPixels._kept.nbytes'),
                growth: afterSecond - afterHuge};
    }""")
    # One 640x480 frame buffer is kept for the next frame; the 256 MB one was not.
    assert kept["python"] == 640 * 480 * 4
    # A second huge frame reuses the memory the first one freed.
    assert kept["growth"] <= 16 * 2**20


def test_concurrent_first_use_loads_the_model_once(browser, site, tmp_path):
    server = Server(site, access_log=tmp_path / "access.jsonl")
    session = PageSession(browser, server.url)
    try:
        page = session.open("models.html")  # prefetches nothing
        labels = page.evaluate("Promise.all(Array.from({length: 20}, () => inpage.classify('samples/coffee.png', {model: 'blazeface'}).then(() => 'ok', (e) => e.name)))")
        assert set(labels) == {"TaskMismatchError"}
        results = page.evaluate("Promise.all(Array.from({length: 20}, () => inpage.detect('samples/astronaut.png', {model: 'blazeface'})))")
        assert all(len(r["detections"]) == 1 for r in results)
        downloads = [e for e in server.log() if e["path"].split("?")[0].endswith("blazeface-front-128.onnx") and e["status"] == 200]
        assert len(downloads) == 1, downloads
        assert page.evaluate("inpage.runPython('import inpage._page as p; len(p._loads)')") == 1
    finally:
        session.close()
        server.stop()


def test_a_failed_load_is_not_retried_behind_the_callers_back(browser, site, tmp_path):
    def tamper(copy):
        model = copy / "models" / "blazeface-front-128.onnx"
        data = bytearray(model.read_bytes())
        data[1000] ^= 0xFF
        model.write_bytes(bytes(data))
        for sibling in (copy / "models").glob("blazeface-front-128.onnx.*"):
            sibling.unlink()  # the precompressed copies still hold the good bytes

    copy = damaged_copy(site, tmp_path, tamper)
    server = Server(copy, access_log=tmp_path / "access.jsonl")
    session = PageSession(browser, server.url)
    try:
        page = session.open("models.html")
        detect = "inpage.detect('samples/astronaut.png', {model: 'blazeface'}).then(() => null, (e) => [e.name, e.message])"
        first, second = page.evaluate(detect), page.evaluate(detect)
        assert first[0] == "ModelIntegrityError" and first[1].startswith("model 'blazeface' (blazeface-front-128.onnx): sha256 is"), first
        assert second[0] == "ModelIntegrityError" and "it failed to load earlier; inpage.loadModel('blazeface') tries again" in second[1], second
        downloads = lambda: [e for e in server.log() if e["path"].split("?")[0].endswith("blazeface-front-128.onnx")]  # noqa: E731
        assert len(downloads()) == 1, downloads()
        # Asked for explicitly, the load is tried again (and fails again, for the same reason).
        again = page.evaluate("inpage.loadModel('blazeface').then(() => null, (e) => [e.name, e.message])")
        assert again[0] == "ModelIntegrityError" and "earlier" not in again[1], again
        assert session.page_errors == []
    finally:
        session.close()
        server.stop()


def test_exif_rotation_is_applied_in_the_page_as_natively(page, native_models):
    stored = np.asarray(Image.open(SAMPLES / "coffee.png").convert("RGB"))  # 600x400, stored sideways below
    rotated = makers.exif_png(np.ascontiguousarray(np.rot90(stored, 1)), 6)  # orientation 6 turns it back upright
    native = native_models("nanodet-m")
    expected = run(native.detect(rotated))
    in_page = page.evaluate(f"async (b64) => inpage.detect(({TO_BLOB})(b64, 'image/png'))", b64(rotated))
    assert [d["label"] for d in in_page["detections"]] == [d.label for d in expected] and expected
    for ours, theirs in zip(in_page["detections"], expected):
        np.testing.assert_allclose(ours["box"], theirs.box, atol=0.5)
    # The same as on the upright photo itself, boxes in its pixels (600 wide, 400 high); the sideways
    # pixels as stored give another answer.
    upright = run(native.detect(stored))
    assert [(d.label, [round(v) for v in d.box]) for d in upright] == [(d["label"], [round(v) for v in d["box"]]) for d in in_page["detections"]]
    assert any(d["box"][2] > 400 for d in in_page["detections"])
    sideways = run(native.detect(makers.png(np.ascontiguousarray(np.rot90(stored, 1)))))
    assert [(d.label, [round(v) for v in d.box]) for d in sideways] != [(d.label, [round(v) for v in d.box]) for d in upright]


def test_sixteen_bit_transparent_animated_and_multipage_images_match_native(page, native_models):
    native = native_models("efficientnet-lite0")
    photo = np.asarray(Image.open(SAMPLES / "chelsea.png").convert("RGB").resize((160, 120)))
    ramp16 = (photo.astype(np.uint16) * 257 + 37).astype(np.uint16)
    cases = {
        "16-bit RGB": makers.png16(ramp16),
        "16-bit gray": makers.png16(ramp16[..., 1]),
        "RGBA hidden colour": makers.png(makers.rgba_hidden_colour(96)),
        "multi-page TIFF": makers.multipage_tiff([photo, photo[::-1]]),
        "animated GIF": makers.animated_gif([photo, photo[::-1]]),
    }
    for name, data in cases.items():
        same_predictions(classify_bytes(page, data), run(native.classify(data)))
    # The transparent image reads the same through every path: Blob (Pillow), ImageData, <img>.
    rgba = makers.rgba_hidden_colour(96)
    paths = page.evaluate("""async ([b64, raw]) => {
        const blob = new Blob([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], {type: 'image/png'});
        const data = new ImageData(new Uint8ClampedArray(Uint8Array.from(atob(raw), c => c.charCodeAt(0)).buffer), 96, 96);
        const img = new Image(); img.src = URL.createObjectURL(blob); await img.decode();
        return Promise.all([blob, data, img].map((s) => inpage.classify(s).then((r) => r.predictions)));
    }""", [b64(makers.png(rgba)), b64(rgba.tobytes())])
    for predictions in paths[1:]:
        assert [p["index"] for p in predictions] == [p["index"] for p in paths[0]]
        np.testing.assert_allclose([p["score"] for p in predictions], [p["score"] for p in paths[0]], atol=2e-3)


def test_formats_only_one_side_reads_give_the_same_error(page):
    avif = makers.avif_or_header()
    with pytest.raises(ImageDecodeError) as native_error:
        from inpage.image import to_rgb

        to_rgb(avif)
    name, message, _ = page_error(page, f"async (b64) => inpage.classify(({TO_BLOB})(b64, 'image/avif'))", b64(avif))
    assert name == "ImageDecodeError" and message == str(native_error.value)


@pytest.mark.parametrize(
    "script, name, fragment",
    [
        ("() => inpage.classify('samples/coffee.png', {topK: 'x'})", "InvalidArgumentError", "topK must be a positive integer, not 'x'"),
        ("() => inpage.detect('samples/coffee.png', {scoreThreshold: 'abc'})", "InvalidArgumentError", "scoreThreshold must be a number between 0 and 1, not 'abc'"),
        ("() => inpage.detect('samples/coffee.png', {iouThreshold: 2})", "InvalidArgumentError", "iouThreshold must be a number between 0 and 1"),
        ("() => inpage.classify('samples/coffee.png', {provider: 'cuda'})", "InvalidArgumentError", "provider must be 'wasm' or 'webgpu' in the page"),
        ("() => inpage.classify('samples/coffee.png', {model: 'nope'})", "ManifestError", "no model called 'nope'"),
        ("() => inpage.classify('samples/coffee.png', {model: 'nanodet-m'})", "TaskMismatchError", "is a detect model; it cannot classify()"),
        ("() => inpage.classify('samples/coffee.png', {variant: 'int4'})", "ManifestError", "has no variant 'int4'"),
        ("() => inpage.classify(42)", "InvalidArgumentError", "unsupported source"),
        ("() => inpage.classify('samples/missing.png')", "ImageDecodeError", "the image could not be fetched: http://127.0.0.1"),
        ("() => inpage.classify(new Blob(['not an image']))", "ImageDecodeError", "not an image inpage can read"),
        ("() => inpage.predict('efficientnet-lite0', [[1, 'x']])", "InvalidArgumentError", "rows must hold finite numbers"),
        ("() => inpage.run('blazeface', {'input:0': {data: new Float32Array(3), dims: [1, 128, 128, 3], type: 'float32'}})", "InvalidArgumentError", "has 3 value(s), but dims [1, 128, 128, 3] need 49152"),
        ("() => inpage.run('blazeface', {'image': {data: new Float32Array(3), dims: [3], type: 'float32'}})", "InvalidArgumentError", "unknown input(s) 'image'"),
    ],
)
def test_bad_calls_reject_with_a_named_one_line_error(page, script, name, fragment):
    got_name, message, typed = page_error(page, script)
    assert typed and got_name == name, (got_name, message)
    assert fragment in message and "\n" not in message and "Traceback" not in message


def damaged_copy(site, tmp_path, damage):
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    damage(copy)
    return copy


def test_a_manifest_without_models_is_a_clear_notice(browser, site, tmp_path):
    copy = damaged_copy(site, tmp_path, lambda s: (s / "models" / "manifest.json").write_text('{"model": []}'))
    server = Server(copy)
    session = PageSession(browser, server.url)
    try:
        page = session.open("classify.html", wait_ready=False)
        notice = page.wait_for_selector(".notice.error >> text=has no \"models\" list")
        assert "rebuild the site" in notice.inner_text()
        assert session.page_errors == [] and not any("Cannot read properties" in e for e in session.console_errors)
    finally:
        session.close()
        server.stop()


def test_a_tampered_wheel_is_named_with_its_integrity_check(browser, site, tmp_path):
    def tamper(copy):
        [wheel] = (copy / "pyodide").glob("inpage-*.whl")
        data = bytearray(wheel.read_bytes())
        data[200] ^= 0xFF
        wheel.write_bytes(bytes(data))

    copy = damaged_copy(site, tmp_path, tamper)
    server = Server(copy)
    session = PageSession(browser, server.url)
    try:
        page = session.open("classify.html", wait_ready=False)
        notice = page.wait_for_selector(".notice.error >> text=failed its integrity check", timeout=60_000)
        text = notice.inner_text()
        assert "pyodide/inpage-" in text and ".whl" in text and "rebuild it with `inpage build`" in text
        assert "No module named" not in text
    finally:
        session.close()
        server.stop()


@pytest.mark.parametrize("encoding", ["br", "gzip"])
def test_models_served_compressed_load_and_match_native(browser, site, tmp_path, native_models, encoding):
    copy = damaged_copy(site, tmp_path, lambda s: [p.unlink() for p in s.rglob("*.br")] if encoding == "gzip" else None)
    server = Server(copy, access_log=tmp_path / "access.jsonl")
    session = PageSession(browser, server.url)
    try:
        page = session.open("classify.html")
        result = page.evaluate("inpage.classify('samples/coffee.png')")
        same_predictions(result, run(native_models("efficientnet-lite0").classify((SAMPLES / "coffee.png").read_bytes())))
        sent = [e for e in server.log() if e["path"].split("?")[0] == "/models/efficientnet-lite0.onnx" and e["status"] == 200]
        assert sent and sent[0]["encoding"] == encoding and sent[0]["bytes"] < 9_302_852
    finally:
        session.close()
        server.stop()


def test_plain_http_from_another_machine_says_what_is_missing(playwright_instance, server):
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=QUIET_FLAGS + ["--host-resolver-rules=MAP demo.inpage.test 127.0.0.1"])
    try:
        page = browser.new_context().new_page()
        page.goto(f"http://demo.inpage.test:{server.port}/classify.html")
        notice = page.wait_for_selector(".notice.warn >> text=plain http")
        text = notice.inner_text()
        assert "not a secure context" in text and "one thread" in text and "no COOP/COEP" not in text
    finally:
        browser.close()


SLOW_CAMERA = """(() => {
  // The camera takes a while to answer, as it does while a browser asks the user.
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  window.cameraStreams = [];
  navigator.mediaDevices.getUserMedia = async (constraints) => {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const stream = await real(constraints);
    window.cameraStreams.push(stream);
    return stream;
  };
})();"""


def test_start_twice_then_stop_while_the_camera_is_still_coming(browser, server):
    session = PageSession(browser, server.url, permissions=["camera"])
    try:
        session.context.add_init_script(SLOW_CAMERA)
        page = session.open("index.html")
        page.click("#start")
        page.click("#start", force=True)  # a double click while starting
        page.click("#stop")
        page.wait_for_timeout(3000)
        state = page.evaluate("""() => ({streams: cameraStreams.length,
            live: cameraStreams.flatMap((s) => s.getTracks()).filter((t) => t.readyState === 'live').length,
            source: document.querySelector('inpage-camera').shadowRoot.querySelector('video').srcObject, running: inpageDemo.running,
            errors: [...document.querySelectorAll('.notice.error')].map((n) => n.textContent)})""")
        assert state == {"streams": 1, "live": 0, "source": None, "running": False, "errors": []}
        # Start works again afterwards, and a camera that goes away is said so.
        page.click("#start")
        page.wait_for_function("window.inpageDemo.frames >= 2", timeout=120_000)
        page.evaluate("cameraStreams.at(-1).getVideoTracks()[0].dispatchEvent(new Event('ended'))")
        notice = page.wait_for_selector(".notice.error >> text=camera stopped")
        assert "Press Start" in notice.inner_text()
        assert page.evaluate("document.querySelector('inpage-camera').shadowRoot.querySelector('video').srcObject") is None
    finally:
        session.close()


def test_labels_of_boxes_sharing_a_corner_do_not_overlap(page):
    placed = page.evaluate("""async () => {
        const { drawDetections } = await import('./js/overlay.js');
        const canvas = document.createElement('canvas');
        const detections = [
          {label: 'dining table', index: 60, score: 0.56, box: [100, 100, 400, 300]},
          {label: 'cat', index: 15, score: 0.59, box: [100, 100, 250, 260]},
          {label: 'cup', index: 41, score: 0.40, box: [100, 100, 180, 180]},
          {label: 'person', index: 0, score: 0.9, box: [0, 0, 640, 480]},
        ];
        return drawDetections(canvas, 640, 480, detections);
    }""")
    assert len(placed) == 4
    for i, a in enumerate(placed):
        assert 0 <= a["x"] and 0 <= a["y"] and a["y"] + a["h"] <= 480
        for b in placed[i + 1:]:
            assert a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"] or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"], (a, b)


def test_the_benchmarks_bare_run_times_the_session_the_calls_use(page):
    # inpage.rawRun: the model's own onnxruntime-web session.run on zeros, timed in the worker.
    result = page.evaluate("inpage.rawRun('blazeface', {runs: 3})")
    assert len(result["run_ms"]) == 3 and all(t > 0 for t in result["run_ms"])
    assert result["backend"] == "wasm" and result["variant"] == "base"
    error = page.evaluate("inpage.rawRun('nope', {runs: 1}).then(() => null, (e) => [e.name, e.message])")
    assert error[0] == "ManifestError" and "no model called 'nope'" in error[1]
