"""The live detection page in headless Chromium, with a fake camera playing a clip of real photos.

Parity here means: on the very pixels the page saw, detection in the page (Pyodide +
onnxruntime-web) and on CPython (native onnxruntime) through the same inpage code give the same
labels, boxes with IoU >= 0.99, and scores within 1e-3.
"""

import base64
from pathlib import Path

import numpy as np
import pytest

from conftest import CHROMIUM, QUIET_FLAGS, SAMPLES, run
from parity import assert_detections_match, assert_same_result

pytestmark = pytest.mark.browser

# Page-side: capture frames (from the camera, or from the sample clip at given media times) into
# ImageData, run every model on each, and return the pixels with the results.
CAPTURE_AND_DETECT = """
async ({source, times, models}) => {
  const video = document.createElement('video');
  video.muted = true;
  if (source === 'camera') {
    video.srcObject = await navigator.mediaDevices.getUserMedia({video: {width: 640, height: 480}});
  } else {
    video.src = source;
  }
  await video.play();
  const frames = [];
  for (const time of times) {
    await new Promise((resolve) => {
      const step = (now, meta) => (meta.mediaTime >= time ? resolve() : video.requestVideoFrameCallback(step));
      video.requestVideoFrameCallback(step);
    });
    const canvas = new OffscreenCanvas(video.videoWidth, video.videoHeight);
    const context = canvas.getContext('2d', {willReadFrequently: true});
    context.drawImage(video, 0, 0);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    const results = {};
    for (const [model, method] of models) results[model] = await inpage.call(method, image, {model});
    let binary = '';
    for (let i = 0; i < image.data.length; i += 0x8000) {
      binary += String.fromCharCode.apply(null, image.data.subarray(i, i + 0x8000));
    }
    frames.push({width: image.width, height: image.height, pixels: btoa(binary), results});
  }
  video.srcObject?.getTracks().forEach((track) => track.stop());
  video.pause();
  return frames;
}
"""


DETECTORS = [["nanodet-m", "detect"], ["blazeface", "detect"]]


def check_parity(frames, native_models):
    """Each model's page result on each frame against native inpage on the frame's pixels."""
    labels_seen = set()
    for frame in frames:
        rgba = np.frombuffer(base64.b64decode(frame["pixels"]), np.uint8).reshape(frame["height"], frame["width"], 4)
        for name, result in frame["results"].items():
            model = native_models(name)
            native = run(model.infer(rgba))
            assert result["backend"] == "wasm"
            assert_same_result(model.spec.task, result, native, where=name)
            if model.spec.task == "detect":
                labels_seen.update(d["label"] for d in result["detections"])
            elif model.spec.task == "pose":
                labels_seen.update(k.name for k in native[0].keypoints if k.score > 0.4)
            elif native.coverage > 0.2:
                labels_seen.add("person mask")
    return labels_seen


def test_camera_frames_match_native_onnxruntime(open_page, native_models):
    session = open_page("index.html", permissions=["camera"])
    frames = session.page.evaluate(CAPTURE_AND_DETECT, {"source": "camera", "times": [0.2, 0.6], "models": DETECTORS})
    labels = check_parity(frames, native_models)
    assert {"person", "face"} <= labels
    assert session.foreign_requests() == []


def test_sample_clip_frames_match_native_onnxruntime(open_page, native_models):
    session = open_page("index.html")
    # The clip shows the astronaut (0-3 s), a coffee cup (3-5 s) and a cat (5-7 s).
    frames = session.page.evaluate(CAPTURE_AND_DETECT, {"source": "samples/sample-clip.webm", "times": [1.0, 4.0, 6.0], "models": DETECTORS})
    labels = check_parity(frames, native_models)
    assert "person" in labels and "face" in labels
    assert session.foreign_requests() == []


def test_pose_and_segmentation_on_camera_frames_match_native(open_page, native_models):
    session = open_page("index.html", permissions=["camera"])
    frames = session.page.evaluate(CAPTURE_AND_DETECT, {"source": "camera", "times": [0.2], "models": [["movenet-lightning", "estimatePose"], ["selfie", "segment"]]})
    labels = check_parity(frames, native_models)
    # The astronaut: her face and shoulders are found, and the mask covers her.
    assert {"nose", "left_shoulder", "right_shoulder", "person mask"} <= labels
    assert session.foreign_requests() == []


def test_image_element_and_bitmap_sources(open_page, native_models):
    page = open_page("index.html").page
    by_element, by_bitmap, by_url = page.evaluate("""async () => {
        const img = new Image(); img.src = 'samples/astronaut.png'; await img.decode();
        const bitmap = await createImageBitmap(img);
        return [await inpage.detect(img), await inpage.detect(bitmap), await inpage.detect('samples/astronaut.png')];
    }""")
    native = run(native_models("nanodet-m").detect((SAMPLES / "astronaut.png").read_bytes()))
    # The URL goes through Pillow as on CPython: an exact match.
    assert_detections_match(by_url["detections"], native)
    # Element and bitmap go through a canvas; a PNG has no colour profile, so pixels are the same.
    assert_detections_match(by_element["detections"], native)
    assert_detections_match(by_bitmap["detections"], native)


def test_granted_camera_shows_people_then_faces_with_a_frame_rate(open_page):
    session = open_page("index.html", permissions=["camera"])
    page = session.page
    page.click("#start")
    page.wait_for_function("window.inpageDemo.frames >= 5 && inpageDemo.last.model === 'nanodet-m'", timeout=120_000)
    assert "person" in [d["label"] for d in page.evaluate("inpageDemo.last.detections")]
    assert_overlay_has_drawing(page)
    page.wait_for_function("parseFloat(document.querySelector('#fps').textContent) > 0")
    for stage in ["capture_ms", "preprocess_ms", "inference_ms", "postprocess_ms", "draw_ms"]:
        assert page.locator(f"[data-t={stage}]").inner_text().endswith(" ms"), stage
    variant = page.evaluate("inpageDemo.last.variant")
    assert page.locator("#backend").inner_text() == ("WASM" if variant == "base" else f"WASM · {variant}")

    page.select_option("#model", "blazeface")
    page.wait_for_function("inpageDemo.last.model === 'blazeface' && inpageDemo.last.detections.length > 0", timeout=120_000)
    face = page.evaluate("inpageDemo.last.detections[0]")
    assert face["label"] == "face" and len(face["keypoints"]) == 6
    assert page.locator("#threshold-value").inner_text() == "0.60"  # the face model's own default
    assert_overlay_has_drawing(page)

    # Pose and segmentation, switched live on the same camera.
    for name, check in (("movenet-lightning", "inpageDemo.last.poses.length === 1"), ("selfie", "inpageDemo.last.coverage > 0.2")):
        page.select_option("#model", name)
        page.wait_for_function(f"inpageDemo.last.model === '{name}' && {check}", timeout=120_000)
        frames = page.evaluate("inpageDemo.frames")
        page.wait_for_function(f"inpageDemo.frames >= {frames + 3}", timeout=120_000)
        assert_overlay_has_drawing(page)
    assert page.locator("#count").inner_text().endswith("%")

    page.click("#stop")
    assert page.evaluate("document.querySelector('inpage-camera').shadowRoot.querySelector('video').srcObject") is None
    assert session.page_errors == [] and session.foreign_requests() == []


def assert_overlay_has_drawing(page):
    painted = page.evaluate("""() => {
        const canvas = document.querySelector('inpage-camera').shadowRoot.querySelector('canvas');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
        return painted;
    }""")
    assert painted > 500, "no boxes drawn on the overlay"


def test_denied_camera_offers_the_sample_clip_which_then_detects(open_page):
    session = open_page("index.html")  # no camera permission granted
    page = session.page
    page.click("#start")
    notice = page.wait_for_selector(".notice.error >> text=denied")
    assert "sample clip" in notice.inner_text()
    assert "primary" in page.get_attribute("#sample", "class")
    page.click("#sample")
    page.wait_for_function("window.inpageDemo.frames >= 5", timeout=120_000)
    assert page.evaluate("inpageDemo.last.detections.length") > 0
    assert session.page_errors == [] and session.foreign_requests() == []


def test_no_camera_at_all_says_so(playwright_instance, server):
    # A browser with no fake camera has no video device; the permission is granted, so the
    # failure is about the device, not the user's choice.
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=QUIET_FLAGS)
    try:
        context = browser.new_context(permissions=["camera"])
        page = context.new_page()
        page.goto(server.url)
        page.wait_for_function("window.inpage !== undefined")
        page.click("#start")
        notice = page.wait_for_selector(".notice.error >> text=camera")
        assert "No camera was found" in notice.inner_text() or "could not be started" in notice.inner_text()
        assert page.is_enabled("#sample")
    finally:
        browser.close()


@pytest.fixture
def insecure_page(playwright_instance, server):
    """A page opener on a plain-http origin that is not localhost (a LAN address), so not a secure
    context: no camera API, no crypto.subtle, no service worker."""
    browser = playwright_instance.chromium.launch(
        executable_path=CHROMIUM, args=QUIET_FLAGS + ["--host-resolver-rules=MAP demo.inpage.test 127.0.0.1"]
    )

    def open_insecure(path):
        page = browser.new_context().new_page()
        page.goto(f"http://demo.inpage.test:{server.port}/{path}")
        # Started (no service worker here, so no reload): the page's own handlers are in place.
        page.wait_for_function("window.inpage !== undefined")
        page.evaluate("window.inpage.ready")
        assert page.evaluate("isSecureContext || !!globalThis.crypto?.subtle") is False
        return page

    yield open_insecure
    browser.close()


def test_insecure_context_explains_the_camera_needs_https(insecure_page):
    page = insecure_page("")
    page.click("#start")
    notice = page.wait_for_selector(".notice.error >> text=secure context")
    assert "sample clip" in notice.inner_text()


def test_an_insecure_origin_still_checks_and_runs_models(insecure_page):
    """Plain http on a LAN address (inpage serve --host 0.0.0.0, python -m http.server): the worker
    checks each model's sha256 with Python's hashlib, and the page classifies on one thread as the
    README says."""
    page = insecure_page("classify.html")
    page.set_input_files("#file", str(SAMPLES / "coffee.png"))
    # The model loaded only because its sha256, computed by hashlib, equalled the manifest's.
    try:
        page.wait_for_function("document.querySelector('#predictions .label')?.textContent === 'espresso'", timeout=120_000)
    except Exception:  # say what the page showed instead, for whoever reads the failure
        raise AssertionError(f"no prediction; the page says: {page.locator('main').inner_text()[:600]!r}") from None


def test_uploaded_image_and_bad_file_on_the_detection_page(open_page):
    session = open_page("index.html")
    page = session.page
    page.set_input_files("#file", str(SAMPLES / "astronaut.png"))
    page.wait_for_function("window.inpageDemo.last && inpageDemo.last.detections.some(d => d.label === 'person')")
    page.set_input_files("#file", {"name": "notes.png", "mimeType": "image/png", "buffer": b"just some text"})
    page.wait_for_selector(".notice.error >> text=notes.png")
    # Still working afterwards.
    page.click("#sample")
    frames = page.evaluate("inpageDemo.frames")
    page.wait_for_function(f"window.inpageDemo.frames >= {frames + 3}", timeout=120_000)
    assert session.page_errors == []


def chromium_rss() -> int:
    """Resident memory of every Chromium process, in bytes: it covers memory no page API reports,
    such as onnxruntime-web's own WebAssembly heap."""
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if b"chromium" not in (proc / "cmdline").read_bytes():
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue  # the process ended while we looked
    return total


@pytest.mark.soak
def test_soak_500_frames_memory_stays_flat(browser, server, open_page):
    session = open_page("index.html", permissions=["camera"])
    page = session.page
    page.click("#start")
    memory = """async () => {
        const worker = await inpage.memory();
        return {js: performance.memory.usedJSHeapSize + worker.jsHeap, pyodide: worker.pyodideHeap,
                frames: inpageDemo.frames, errors: document.querySelectorAll('.notice.error').length};
    }"""
    page.wait_for_function("window.inpageDemo.frames >= 100", timeout=300_000, polling=500)
    warm = page.evaluate(memory)
    warm["rss"] = chromium_rss()
    page.wait_for_function("window.inpageDemo.frames >= 500", timeout=900_000, polling=1000)
    done = page.evaluate(memory)
    done["rss"] = chromium_rss()
    page.click("#stop")
    print(f"soak: frames {warm['frames']} -> {done['frames']}, JS heap {warm['js'] / 1e6:.1f} -> {done['js'] / 1e6:.1f} MB, "
          f"Pyodide memory {warm['pyodide'] / 1e6:.1f} -> {done['pyodide'] / 1e6:.1f} MB, "
          f"Chromium RSS {warm['rss'] / 1e6:.0f} -> {done['rss'] / 1e6:.0f} MB")
    assert done["errors"] == 0 and session.page_errors == []
    # WebAssembly memory never shrinks, so any leak per frame would show as growth here.
    assert done["pyodide"] - warm["pyodide"] <= 4 * 2**20
    # The JS heap breathes with the collector; a leak of even one 640x480 frame per call would add 480 MB.
    assert done["js"] - warm["js"] <= 24 * 2**20
    # Everything else, onnxruntime-web's heap included: 400 frames leaking one 416x416 input
    # tensor each (2 MB) would add 800 MB.
    assert done["rss"] - warm["rss"] <= 96 * 2**20
