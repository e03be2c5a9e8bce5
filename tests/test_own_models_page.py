"""A user's own models, added with `inpage add` to a project folder, built into a site and run in Chromium,
each answer checked against native inpage on the same input (page/native parity).

The project holds what users bring: a scikit-learn pipeline with skl2onnx's default ZipMap, a model
with its weights in an external file, a classifier ending in Softmax, one with two outputs, a
grayscale one, a YOLO v8 export, a model of every dtype for generic runs, and a classifier with
the user's own post-processing module.
"""

import base64
import json
import time

import numpy as np
import pytest
from PIL import Image

from inpage import load_model
from inpage_tools.project import add_model

import makers
from conftest import SAMPLES, PageSession, Server, build, run

pytestmark = pytest.mark.browser
SCALE = {"normalize": {"mean": [0], "std": [255], "units": "0-255"}, "resize": "stretch"}

USER_MODULE = '''
"""A user's post-processing: the best class and a brightness read from the logits' spread."""
import numpy as np

OPTIONS = {"gain": 1.0}


def postprocess(outputs, geometry, spec, options):
    logits = outputs["logits"][0]
    if options["gain"] < 0:
        raise ValueError("gain must not be negative")
    print("mine: gain", options["gain"])  # a user's print: the browser's console in the page, stderr natively
    return {"best": spec.labels[int(np.argmax(logits))] if spec.labels else int(np.argmax(logits)),
            "spread": float(logits.max() - logits.min()) * options["gain"],
            "frame": [geometry.frame_width, geometry.frame_height],
            "logits": logits.astype(np.float32)}
'''


HANGING_MODULE = '''
"""A postprocess that never returns when asked to, and prints a lot: hostile user code."""
import numpy as np

OPTIONS = {"hang": False, "chatter": 0, "stubborn": False, "own_interrupt": False}


def postprocess(outputs, geometry, spec, options):
    for _ in range(int(options["chatter"])):
        print("x" * 1000)
    while options["hang"]:
        pass
    if options["own_interrupt"]:
        raise KeyboardInterrupt("raised by the module itself")
    while options["stubborn"]:
        try:
            while True:
                pass
        except BaseException:  # swallows the interrupt, and goes on
            pass
    return {"best": int(np.argmax(outputs["logits"][0]))}
'''


SCIPY_MODULE = '''
"""A postprocess on scipy (from Pyodide's distribution, bundled by the build): logits smoothed by scipy.ndimage."""
import numpy as np
from scipy import ndimage


def postprocess(outputs, geometry, spec, options):
    smoothed = ndimage.uniform_filter1d(outputs["logits"][0].astype(np.float64), size=3, mode="nearest")
    return {"smoothed": smoothed.tolist(), "best": int(np.argmax(smoothed))}
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("own") / "project"
    made = tmp_path_factory.mktemp("made")
    iris, pipeline, x = makers.sklearn_pipeline(made / "iris.onnx")
    add_model(iris, folder)
    add_model(makers.big_classifier(made / "torch" / "torchnet.onnx"), folder, task="classify", **SCALE)
    add_model(makers.classifier(made / "soft.onnx", softmax=True), folder, **SCALE)
    add_model(makers.classifier(made / "two.onnx", two_outputs=True, classes=5), folder, task="classify", output="logits", **SCALE)
    add_model(makers.classifier(made / "mnist.onnx", channels=1, size=28, classes=10), folder)
    add_model(makers.yolo_v8(made / "yolo.onnx", names=["cat", "dog", "bird"]), folder)
    add_model(makers.dtypes_model(made / "dtypes.onnx"), folder, task="run")
    (folder / "mytask.py").write_text(USER_MODULE)
    labels = made / "labels.txt"
    labels.write_text("red\ngreen\nblue\nyellow\n")
    add_model(makers.classifier(made / "mine.onnx", seed=5), folder, name="mine", python=folder / "mytask.py", labels=labels, **SCALE)
    expander, splitter = makers.zeros_refusing_models(made / "zeros")
    add_model(expander, folder, task="run")
    add_model(splitter, folder, task="run")
    add_model(makers.strings_model(made / "words.onnx"), folder, task="run")
    (folder / "hangs.py").write_text(HANGING_MODULE)
    add_model(makers.classifier(made / "hang.onnx", seed=3), folder, name="hang", python=folder / "hangs.py", **SCALE)
    manifest_path = folder / "models" / "manifest.json"
    document = json.loads(manifest_path.read_text())
    next(e for e in document["models"] if e["name"] == "hang")["python_time_limit_s"] = 1
    manifest_path.write_text(json.dumps(document, indent=1))
    (folder / "smooth.py").write_text(SCIPY_MODULE)
    add_model(makers.classifier(made / "smooth.onnx", seed=7), folder, name="smooth", python=folder / "smooth.py", **SCALE)
    names = made / "iris-names.txt"
    names.write_text("setosa\nversicolor\nvirginica\n")
    add_model(iris, folder, name="iris-named", labels=names)
    return {"folder": folder, "manifest": str(folder / "models" / "manifest.json"), "iris_rows": x[::10], "pipeline": pipeline}


@pytest.fixture(scope="module")
def site_page(project, browser, tmp_path_factory):
    out = tmp_path_factory.mktemp("own-site") / "site"
    result = build(out, project["folder"])
    assert result.returncode == 0, result.stderr
    server = Server(out)
    session = PageSession(browser, server.url)
    session.site = out
    session.open("models.html")
    yield session
    assert session.page_errors == [] and session.foreign_requests() == []
    session.close()
    server.stop()


def native(project, name):
    return run(load_model(name, manifest=project["manifest"]))


def blob_call(page, method, model, data: bytes, options=None):
    return page.evaluate(
        """async ([method, model, b64, options]) => {
            const blob = new Blob([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], {type: 'image/png'});
            return inpage.call(method, blob, {model, ...options});
        }""",
        [method, model, base64.b64encode(data).decode(), options or {}],
    )


def test_tabular_pipeline_with_zipmap(site_page, project):
    rows = project["iris_rows"].tolist()
    result = site_page.page.evaluate("(rows) => inpage.predict('iris', rows)", rows)
    expected = run(native(project, "iris").predict(rows))
    assert [p["label"] for p in result["predictions"]] == [p.label for p in expected]
    assert [p["label"] for p in result["predictions"]] == [str(v) for v in project["pipeline"].predict(np.array(rows, np.float32))]
    for ours, theirs in zip(result["predictions"], expected):
        assert ours["probabilities"].keys() == theirs.probabilities.keys()
        np.testing.assert_allclose(list(ours["probabilities"].values()), list(theirs.probabilities.values()), atol=1e-6)


@pytest.mark.parametrize("name, size", [("torchnet", (40, 30)), ("soft", (20, 20)), ("two", (12, 16)), ("mnist", (50, 40))])
def test_image_classifiers_match_native(site_page, project, name, size):
    photo = makers.png(np.asarray(Image.open(SAMPLES / "chelsea.png").convert("RGB").resize(size)))
    result = blob_call(site_page.page, "classify", name, photo, {"topK": 10})
    expected = run(native(project, name).classify(photo, top_k=10))
    assert [p["index"] for p in result["predictions"]] == [p.index for p in expected]
    np.testing.assert_allclose([p["score"] for p in result["predictions"]], [p.score for p in expected], atol=1e-5)
    if name == "soft":  # probabilities from the graph's own Softmax, not squashed again
        assert abs(sum(p["score"] for p in result["predictions"]) - 1) < 1e-5 and result["predictions"][0]["score"] > 0.3


def test_a_batch_of_images_is_one_call_with_one_answer_each(site_page, project):
    photos = [makers.png(np.full((8, 8, 3), colour, np.uint8)) for colour in ((250, 0, 0), (0, 250, 0), (0, 0, 250))]
    result = site_page.page.evaluate(
        """async (list) => {
            const blobs = list.map((b64) => new Blob([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], {type: 'image/png'}));
            const batch = await inpage.classify(blobs, {model: 'soft', topK: 4});
            const alone = [];
            for (const blob of blobs) alone.push((await inpage.classify(blob, {model: 'soft', topK: 4})).predictions);
            return {batch: batch.batch.map((b) => b.predictions), alone};
        }""",
        [base64.b64encode(p).decode() for p in photos],
    )
    assert [[p["index"] for p in b] for b in result["batch"]] == [[p["index"] for p in a] for a in result["alone"]]
    model = native(project, "soft")
    for predictions, expected in zip(result["batch"], run(model.classify(photos, top_k=4))):
        np.testing.assert_allclose([p["score"] for p in predictions], [p.score for p in expected], atol=1e-5)


def test_yolo_export_detects_like_native(site_page, project):
    grey = makers.png(np.full((64, 64, 3), 127, np.uint8))
    result = blob_call(site_page.page, "detect", "yolo", grey)
    expected = run(native(project, "yolo").detect(grey))
    assert [d["label"] for d in result["detections"]] == [d.label for d in expected] == ["cat", "dog"]
    for ours, theirs in zip(result["detections"], expected):
        np.testing.assert_allclose(ours["box"], theirs.box, atol=1e-3)
        assert abs(ours["score"] - theirs.score) < 1e-5


def test_generic_run_with_every_dtype(site_page, project):
    result = site_page.page.evaluate("""() => inpage.run('dtypes', {
        f32: {data: new Float32Array([1, 2, 3, 4, 5, 6]), dims: [2, 3], type: 'float32'},
        f16: {data: typeof Float16Array === 'undefined' ? new Uint16Array([0x3c00, 0x4000, 0x4200, 0x3c00, 0x4000, 0x4200]) : new Float16Array([1, 2, 3, 1, 2, 3]), dims: [2, 3], type: 'float16'},
        i32: {data: [1, -2, 3, 4, 5, 6], dims: [2, 3], type: 'int32'},
        i64: {data: new BigInt64Array([1n, 2n, 3n, -4n, 5n, 2n ** 40n]), dims: [2, 3], type: 'int64'},
        u8: {data: new Uint8Array([0, 127, 255, 1, 2, 3]), dims: [2, 3], type: 'uint8'},
        b: {data: new Uint8Array([1, 0, 1, 0, 1, 0]), dims: [2, 3], type: 'bool'},
    }).then((r) => Object.fromEntries(Object.entries(r.outputs).map(([k, t]) => [k, {type: t.type, dims: t.dims, data: Array.from(t.data, (v) => typeof v === 'bigint' ? v.toString() : v)}])))""")
    feeds = {
        "f32": np.arange(1, 7, dtype=np.float32).reshape(2, 3),
        "f16": np.array([[1, 2, 3], [1, 2, 3]], np.float16),
        "i32": np.array([[1, -2, 3], [4, 5, 6]], np.int32),
        "i64": np.array([[1, 2, 3], [-4, 5, 2**40]], np.int64),
        "u8": np.array([[0, 127, 255], [1, 2, 3]], np.uint8),
        "b": np.array([[1, 0, 1], [0, 1, 0]], np.bool_),
    }
    expected = run(native(project, "dtypes").run(feeds))
    for name, value in expected.items():
        ours = result[name]
        assert ours["dims"] == list(value.shape)
        assert ours["type"] == ("bool" if value.dtype == np.bool_ else str(value.dtype))
        if value.dtype == np.float16:
            assert np.array(ours["data"], np.uint16).view(np.float16).tolist() == value.reshape(-1).tolist()
        elif value.dtype == np.int64:
            assert [int(v) for v in ours["data"]] == value.reshape(-1).tolist()
        else:
            assert ours["data"] == value.reshape(-1).astype(float if value.dtype.kind == "f" else int).tolist()


def test_integers_that_do_not_fit_the_inputs_type_are_refused_not_wrapped(site_page):
    # A Uint8Array.from([300]) holds 44, and numpy's astype(uint8) too: both sides refuse instead.
    message = site_page.page.evaluate("""() => inpage.run('dtypes', {
        f32: {data: [1, 2, 3, 4, 5, 6], dims: [2, 3], type: 'float32'}, f16: {data: new Uint16Array([0x3c00, 0x4000, 0x4200, 0x3c00, 0x4000, 0x4200]), dims: [2, 3], type: 'float16'},
        i32: {data: [1, 2, 3, 4, 5, 6], dims: [2, 3], type: 'int32'}, i64: {data: [1, 2, 3, 4, 5, 6], dims: [2, 3], type: 'int64'},
        u8: {data: [0, 127, 300, 1, 2, 3], dims: [2, 3], type: 'uint8'}, b: {data: [1, 0, 1, 0, 1, 0], dims: [2, 3], type: 'bool'},
    }).then(() => 'accepted', (e) => `${e.name}: ${e.message}`)""")
    assert message == "InvalidArgumentError: feeds.u8.data[2] is 300, which uint8 cannot hold"


def test_models_that_zeros_do_not_fit_load_and_run_in_the_page_as_natively(site_page, project):
    # The page warms a model up with one run on zeros; these two refuse zeros (an Expand to shape
    # [0, 0], split sizes adding up to 0), which must not stop them loading.
    result = site_page.page.evaluate("""async () => {
        const info = await inpage.loadModel('expander');
        const y = await inpage.run('expander', {x: {data: [0, 1, 2], dims: [3], type: 'float32'}, shape: {data: [2, 3], dims: [2], type: 'int64'}});
        const s = await inpage.run('splitter', {x: {data: [5, 6, 7, 8], dims: [4]}, split: {data: [1, 3], dims: [2], type: 'int64'}});
        return {warm: info.warmUpFailed, y: {dims: y.outputs.y.dims, data: Array.from(y.outputs.y.data)}, first: Array.from(s.outputs.first.data)};
    }""")
    assert "Expand" in result["warm"]
    expected = run(native(project, "expander").run({"x": np.arange(3, dtype=np.float32), "shape": np.array([2, 3])}))["y"]
    assert result["y"]["dims"] == [2, 3] and result["y"]["data"] == expected.reshape(-1).tolist()
    expected = run(native(project, "splitter").run({"x": np.array([5, 6, 7, 8], np.float32), "split": np.array([1, 3])}))["first"]
    assert result["first"] == expected.tolist() == [5.0]


def test_string_tensors_cross_the_js_api(site_page, project):
    result = site_page.page.evaluate("""() => inpage.run('words', {words: {data: ['cat', 'fish', 'dog'], dims: [3], type: 'string'}})
        .then((r) => ({ids: Array.from(r.outputs.ids.data, Number), names: r.outputs.names, }))""")
    expected = run(native(project, "words").run({"words": np.array(["cat", "fish", "dog"], dtype=object)}))
    assert result["ids"] == expected["ids"].tolist() == [1, 0, 2]
    assert result["names"]["type"] == "string" and result["names"]["dims"] == [3]
    assert result["names"]["data"] == expected["names"].tolist() == ["CAT", "?", "DOG"]
    for feeds, fragment in (
        ("{words: {data: ['cat', 'dog'], dims: [3], type: 'string'}}", "has 2 value(s), but dims [3] need 3"),
        ("{words: {data: ['cat', 7, 'dog'], dims: [3], type: 'string'}}", "must be a list of strings"),
        ("{words: {data: new Uint8Array(3), dims: [3], type: 'string'}}", "must be a list of strings"),
        ("{words: {data: ['cat'], dims: [1], type: 'text'}}", "feeds.words.type must be one of float32"),
    ):
        name, message = site_page.page.evaluate(f"inpage.run('words', {feeds}).then(() => [null, null], (e) => [e.name, e.message])")
        assert name == "InvalidArgumentError" and fragment in message, (feeds, message)


def test_float16_numbers_are_converted_and_mistyped_arrays_refused(site_page, project):
    base = """{f32: {data: new Float32Array(3), dims: [1, 3]}, i32: {data: [0, 0, 0, 0, 0, 0], dims: [2, 3], type: 'int32'},
        i64: {data: [0, 0, 0, 0, 0, 0], dims: [2, 3], type: 'int64'}, u8: {data: [0, 0, 0, 0, 0, 0], dims: [2, 3], type: 'uint8'},
        b: {data: [true, false, true, false, true, false], dims: [2, 3], type: 'bool'}, """
    halves = site_page.page.evaluate(
        f"inpage.run('dtypes', {base} f16: {{data: [1.5, -2, 0.1, 65504, 3, 1e-3], dims: [2, 3], type: 'float16'}}}})"
        ".then((r) => ({type: r.outputs.f16_out.type, bits: Array.from(r.outputs.f16_out.data), b: Array.from(r.outputs.b_out.data)}))")
    values = np.array([1.5, -2, 0.1, 65504, 3, 1e-3], np.float16).reshape(2, 3)
    feeds = {"f32": np.zeros((1, 3), np.float32), "f16": values, "i32": np.zeros((2, 3), np.int32), "i64": np.zeros((2, 3), np.int64),
             "u8": np.zeros((2, 3), np.uint8), "b": np.array([[1, 0, 1], [0, 1, 0]], bool)}
    expected = run(native(project, "dtypes").run(feeds))
    assert halves["type"] == "float16"
    assert np.array(halves["bits"], np.uint16).view(np.float16).tolist() == expected["f16_out"].reshape(-1).tolist()
    assert halves["b"] == [0, 1, 0, 1, 0, 1]
    for data, fragment in (
        ("new Float32Array([1, 2, 3, 4, 5, 6])", "is a Float32Array, but type 'float16' needs a Float16Array or a Uint16Array of float16 bits"),
        ("new Uint16Array(4)", "has 4 value(s), but dims [2, 3] need 6"),
    ):
        name, message = site_page.page.evaluate(
            f"inpage.run('dtypes', {base} f16: {{data: {data}, dims: [2, 3], type: 'float16'}}}}).then(() => [null, null], (e) => [e.name, e.message])")
        assert name == "InvalidArgumentError" and fragment in message, message
    name, message = site_page.page.evaluate(
        "inpage.run('dtypes', {f32: {data: new Int32Array(3), dims: [1, 3], type: 'float32'}}).then(() => [null, null], (e) => [e.name, e.message])")
    assert name == "InvalidArgumentError" and "is a Int32Array, but type 'float32' needs a Float32Array" in message


def test_the_classify_page_shows_a_users_own_result_and_their_prints_reach_the_console(site_page):
    page = site_page.page
    messages = []
    page.on("console", lambda message: messages.append(message.text))
    page.goto(site_page.base_url + "classify.html")
    page.wait_for_function("document.querySelectorAll('#model option').length > 0")
    page.select_option("#model", "mine")
    page.locator("#file").set_input_files(files=[{"name": "c.png", "mimeType": "image/png", "buffer": makers.png(np.full((30, 20, 3), (200, 40, 90), np.uint8))}])
    page.wait_for_selector("#predictions li.raw")
    shown = json.loads(page.locator("#predictions li.raw").inner_text())
    assert set(shown) == {"best", "spread", "frame", "logits"} and shown["frame"] == [20, 30]
    page.wait_for_function("() => true")
    assert any("[python] mine: gain 1.0" in m for m in messages), messages[-10:]
    assert site_page.page_errors == []
    page.goto(site_page.base_url + "models.html")
    page.evaluate("inpage.ready")


def test_a_users_module_on_scipy_runs_in_the_page_like_natively(site_page, project):
    lock = json.loads((site_page.site / "pyodide" / "pyodide-lock.json").read_text())["packages"]
    assert "scipy" in lock["inpage-user-smooth"]["depends"] and (site_page.site / "pyodide" / lock["scipy"]["file_name"]).is_file()
    photo = makers.png(np.full((30, 20, 3), (20, 140, 90), np.uint8))
    result = blob_call(site_page.page, "classify", "smooth", photo)
    expected = run(native(project, "smooth").classify(photo))
    assert result["result"]["best"] == expected["best"]
    np.testing.assert_allclose(result["result"]["smoothed"], expected["smoothed"], atol=1e-5)


def test_user_code_that_never_returns_is_stopped_and_the_page_recovers(site_page, project):
    photo = makers.png(np.full((30, 20, 3), (90, 40, 200), np.uint8))
    started = time.monotonic()
    message = site_page.page.evaluate(
        """async (b64) => {
            const blob = new Blob([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], {type: 'image/png'});
            return inpage.classify(blob, {model: 'hang', hang: true}).then(() => 'returned', (e) => `${e.name}: ${e.message}`);
        }""",
        base64.b64encode(photo).decode(),
    )
    assert message.startswith("UserCodeError: hangs.postprocess ran past its 1 s limit and was stopped"), message
    assert time.monotonic() - started < 30
    # The same model works again (printing 200 kB on the way), and so do other models.
    expected = run(native(project, "hang").classify(photo))
    assert blob_call(site_page.page, "classify", "hang", photo, {"chatter": 200})["result"] == expected
    assert blob_call(site_page.page, "classify", "soft", photo)["predictions"]


def test_what_user_code_prints_reaches_the_console_in_few_messages(site_page, project):
    """Each printed line was one console message, which cost a module printing 50,000 lines its time
    limit in the page (not natively); now whole lines travel many per message, each still "[python] "."""
    messages = []
    site_page.page.on("console", lambda message: messages.append(message.text))
    photo = makers.png(np.full((30, 20, 3), (90, 40, 200), np.uint8))
    assert blob_call(site_page.page, "classify", "hang", photo, {"chatter": 300})["result"] == run(native(project, "hang").classify(photo))
    site_page.page.wait_for_function("() => true")
    printed = [line for text in messages for line in text.split("\n") if line.startswith("[python] xxx")]
    assert len(printed) == 300 and all(line == "[python] " + "x" * 1000 for line in printed)
    assert sum("[python] xxx" in text for text in messages) <= 10


def test_user_code_that_swallows_the_interrupt_gets_its_worker_restarted(site_page, project):
    """Cross-origin isolated, so Python is interrupted at the limit; code that catches that and goes on
    is ended with its worker a grace later, and the page works on (it hung for good before)."""
    photo = makers.png(np.full((30, 20, 3), (90, 40, 200), np.uint8))
    call = """async ([b64, options]) => {
        const blob = new Blob([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], {type: 'image/png'});
        return inpage.classify(blob, {model: 'hang', ...options}).then(() => 'returned', (e) => `${e.name}: ${e.message}`);
    }"""
    encoded = base64.b64encode(photo).decode()
    started = time.monotonic()
    message = site_page.page.evaluate(call, [encoded, {"stubborn": True}])
    assert message.startswith("UserCodeError: hangs.postprocess ran past its 1 s limit and was stopped: it did not stop when interrupted"), message
    assert time.monotonic() - started < 30
    expected = run(native(project, "hang").classify(photo))
    assert blob_call(site_page.page, "classify", "hang", photo)["result"] == expected
    assert blob_call(site_page.page, "classify", "soft", photo)["predictions"]
    # A KeyboardInterrupt the module raises itself, well before the limit, is its own error, not a timeout.
    message = site_page.page.evaluate(call, [encoded, {"own_interrupt": True}])
    assert message.startswith("UserCodeError: hangs.py, line ") and "KeyboardInterrupt: raised by the module itself (in hangs.postprocess)" in message, message


def test_user_code_that_never_returns_without_isolation_restarts_the_worker(site_page, project, browser):
    """No COOP/COEP and no service worker: no shared memory to interrupt Python with, so the main thread
    ends the worker past the limit, rejects the call naming the user's function, and starts a new one."""
    server = Server(site_page.site, "--no-isolation")
    session = PageSession(browser, server.url, service_workers="block")
    try:
        page = session.open("models.html")
        assert page.evaluate("crossOriginIsolated") is False
        photo = makers.png(np.full((30, 20, 3), (90, 40, 200), np.uint8))
        started = time.monotonic()
        message = page.evaluate(
            """async (b64) => {
                const blob = new Blob([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], {type: 'image/png'});
                return inpage.classify(blob, {model: 'hang', hang: true}).then(() => 'returned', (e) => `${e.name}: ${e.message}`);
            }""",
            base64.b64encode(photo).decode(),
        )
        assert message.startswith("UserCodeError: hangs.postprocess ran past its 1 s limit and was stopped: this page is not cross-origin isolated"), message
        assert time.monotonic() - started < 30
        # A fresh worker serves the next calls: the same model, and another.
        expected = run(native(project, "hang").classify(photo))
        assert blob_call(page, "classify", "hang", photo)["result"] == expected
        assert blob_call(page, "classify", "soft", photo)["predictions"]
        assert session.page_errors == []
    finally:
        session.close()
        server.stop()


def test_tabular_labels_name_the_models_own_classes(site_page, project):
    rows = project["iris_rows"].tolist()
    result = site_page.page.evaluate("(rows) => inpage.predict('iris-named', rows)", rows)
    expected = run(native(project, "iris-named").predict(rows))
    names = ["setosa", "versicolor", "virginica"]
    truth = [names[int(v)] for v in project["pipeline"].predict(np.array(rows, np.float32))]
    assert [p["label"] for p in result["predictions"]] == [p.label for p in expected] == truth
    assert set(result["predictions"][0]["probabilities"]) == set(names)


def test_a_users_postprocess_runs_in_the_page_like_natively(site_page, project):
    photo = makers.png(np.full((30, 20, 3), (200, 40, 90), np.uint8))
    result = blob_call(site_page.page, "classify", "mine", photo, {"gain": 2})
    expected = run(native(project, "mine").classify(photo, gain=2))
    ours = result["result"]
    assert ours["best"] == expected["best"] and ours["frame"] == [20, 30]
    assert ours["spread"] == pytest.approx(expected["spread"], rel=1e-5)
    assert ours["logits"]["dims"] == [4] and ours["logits"]["type"] == "float32"
    np.testing.assert_allclose(ours["logits"]["data"] if isinstance(ours["logits"]["data"], list) else list(ours["logits"]["data"].values()), expected["logits"], rtol=1e-5)
    error = site_page.page.evaluate("inpage.classify('samples/coffee.png', {model: 'mine', gain: -1}).then(() => null, (e) => [e.name, e.message])")
    assert error[0] == "UserCodeError" and error[1].startswith("mytask.py, line 11, in postprocess: ValueError: gain must not be negative")


def test_the_pages_offer_the_projects_models(site_page):
    page = site_page.page
    page.wait_for_selector("[data-model='iris']")
    cards = page.eval_on_selector_all(".model-card", "cards => cards.map(c => [c.dataset.model, c.querySelector('.task').textContent])")
    assert dict(cards) == {"iris": "tabular", "torchnet": "classify", "soft": "classify", "two": "classify", "mnist": "classify",
                           "yolo": "detect", "dtypes": "run", "mine": "classify", "expander": "run", "splitter": "run",
                           "words": "run", "iris-named": "tabular", "smooth": "classify", "hang": "classify"}
    iris = page.locator("[data-model='iris']")
    iris.locator(".row").fill("6.7, 3.0, 5.2, 2.3")
    iris.locator(".rows-input button").click()
    page.wait_for_function("document.querySelector(\"[data-model='iris'] .result\").textContent.includes('wasm')")
    assert iris.locator(".result").inner_text().startswith("2 ")
    page.goto(site_page.base_url + "classify.html")
    page.wait_for_function("document.querySelectorAll('#model option').length > 0")
    offered = page.eval_on_selector_all("#model option", "options => options.map(o => o.value)")
    assert offered == ["torchnet", "soft", "two", "mnist", "mine", "hang", "smooth"]
    page.goto(site_page.base_url + "index.html")
    page.wait_for_function("document.querySelectorAll('#model option').length > 0")
    assert page.eval_on_selector_all("#model option", "options => options.map(o => o.value)") == ["yolo"]
    page.goto(site_page.base_url + "models.html")
    page.evaluate("inpage.ready")
