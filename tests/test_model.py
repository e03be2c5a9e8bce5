"""Models on CPython: loading (by name, path or URL), checks against the graph, arguments, tasks, batches
and generic inference, with native onnxruntime."""

import asyncio
import functools
import http.server
import json
import shutil
import threading

import numpy as np
import pytest

from inpage import (
    ImageDecodeError,
    InvalidArgumentError,
    ManifestError,
    ModelIntegrityError,
    ModelLoadError,
    TaskMismatchError,
    load_model,
)
from inpage.manifest import dump_manifest

import makers
from conftest import ROOT, SAMPLES, run

MANIFEST = str(ROOT / "models" / "manifest.json")
CHELSEA = (SAMPLES / "chelsea.png").read_bytes()


def project_with(tmp_path, entries_for: dict):
    """A project folder whose manifest holds the demo entries named in ``entries_for``, edited by the given functions."""
    models = tmp_path / "models"
    shutil.copytree(ROOT / "models" / "labels", models / "labels")
    entries = []
    for entry in json.loads((ROOT / "models" / "manifest.json").read_text())["models"]:
        if entry["name"] in entries_for:
            shutil.copyfile(ROOT / "models" / entry["file"], models / entry["file"])
            entries.append(entries_for[entry["name"]](entry) or entry)
    (models / "manifest.json").write_text(dump_manifest(entries))
    return models / "manifest.json"


def test_classify_and_detect_with_the_models_own_thresholds(native_models):
    classifier = native_models("efficientnet-lite0")
    top = run(classifier.classify(CHELSEA, top_k=3))
    assert len(top) == 3 and "cat" in top[0].label
    assert classifier.backend == "cpu" and classifier.variant in ("base", "int8") and classifier.fallback_reason is None
    faces = run(native_models("blazeface").detect((SAMPLES / "astronaut.png").read_bytes()))
    # BlazeFace's own threshold is 0.6: one face on the astronaut, none on a cat.
    assert [d.label for d in faces] == ["face"]
    assert run(native_models("blazeface").detect(CHELSEA)) == []


def test_wrong_task_and_bad_arguments_name_the_argument(native_models):
    classifier = native_models("efficientnet-lite0")
    with pytest.raises(TaskMismatchError, match="cannot detect"):
        run(classifier.detect(CHELSEA))
    for kwargs, message in [({"top_k": "x"}, "top_k must be a positive integer, not 'x'"), ({"top_k": 0}, "top_k"), ({"top_k": 2.5}, "top_k"),
                            ({"colour": 1}, "unknown option")]:
        with pytest.raises(InvalidArgumentError, match=message):
            run(classifier.classify(CHELSEA, **kwargs))
    detector = native_models("blazeface")
    for kwargs, message in [({"score_threshold": "abc"}, "score_threshold must be a number between 0 and 1, not 'abc'"),
                            ({"iou_threshold": 1.5}, "iou_threshold"), ({"score_threshold": True}, "score_threshold"),
                            ({"max_detections": -1}, "max_detections")]:
        with pytest.raises(InvalidArgumentError, match=message):
            run(detector.detect(CHELSEA, **kwargs))
    with pytest.raises(ImageDecodeError):
        run(classifier.classify(b"not an image"))
    assert not hasattr(classifier, "no_such_method")


@pytest.mark.parametrize("provider, message", [("webgpu", "runs in the page"), ("wasm", "runs in the page"), ("tpu", "must be one of cpu, cuda")])
def test_providers_are_checked_natively(provider, message):
    with pytest.raises(InvalidArgumentError, match=message):
        run(load_model("blazeface", manifest=MANIFEST, provider=provider))


def test_cuda_without_cuda_falls_back_and_says_why():
    with pytest.warns(UserWarning, match="not available"):
        model = run(load_model("blazeface", manifest=MANIFEST, provider="cuda"))
    assert model.backend == "cpu" and "cuda is not available" in model.fallback_reason


def test_unknown_model_and_missing_manifest():
    with pytest.raises(ManifestError, match="no model called 'nope'.*it has: nanodet-m"):
        run(load_model("nope", manifest=MANIFEST))
    with pytest.raises(ModelLoadError, match="cannot read"):
        run(load_model("x", manifest="/nonexistent/manifest.json"))


def test_manifest_disagreeing_with_the_graph_is_caught_at_load(tmp_path):
    def wrong_input(entry):
        entry["inputs"][0]["name"] = "pixels"
        entry["image"]["input"] = "pixels"

    manifest = project_with(tmp_path, {"blazeface": wrong_input})
    with pytest.raises(ManifestError, match=r"model 'blazeface': inputs\[0\].name 'pixels' is not in blazeface-front-128.onnx"):
        run(load_model("blazeface", manifest=str(manifest)))

    def wrong_shape(entry):
        entry["inputs"][0]["shape"] = [1, 256, 256, 3]

    manifest = project_with(tmp_path / "b", {"blazeface": wrong_shape})
    with pytest.raises(ManifestError, match=r"inputs\[0\].shape is \[1, 256, 256, 3\], but blazeface-front-128.onnx has \[1, 128, 128, 3\]"):
        run(load_model("blazeface", manifest=str(manifest)))


def test_wrong_label_count_is_a_manifest_error(tmp_path):
    def three_labels(entry):
        entry["labels"] = ["a", "b", "c"]

    manifest = project_with(tmp_path, {"efficientnet-lite0": three_labels})
    with pytest.raises(ManifestError, match="labels has 3 entries, but output 'logits' gives 1000 scores"):
        run(load_model("efficientnet-lite0", manifest=str(manifest)))


def test_tampered_model_names_the_file(tmp_path):
    manifest = project_with(tmp_path, {"blazeface": lambda e: None})
    model_file = manifest.parent / "blazeface-front-128.onnx"
    data = bytearray(model_file.read_bytes())
    data[-100] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match=r"model 'blazeface' \(blazeface-front-128.onnx\): sha256 is"):
        run(load_model("blazeface", manifest=str(manifest)))


def test_manifest_over_http(tmp_path):
    manifest = project_with(tmp_path, {"blazeface": lambda e: None})
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(manifest.parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/manifest.json"
        model = run(load_model("blazeface", manifest=url))
        assert [d.label for d in run(model.detect((SAMPLES / "astronaut.png").read_bytes()))] == ["face"]
        with pytest.raises(ModelLoadError, match="HTTP 404"):
            run(load_model("blazeface", manifest=url.replace("manifest.json", "missing.json")))
    finally:
        server.shutdown()


def test_batches_run_once_with_a_dynamic_batch_and_one_by_one_without(tmp_path):
    from inpage_tools.project import add_model

    makers.classifier(tmp_path / "dynamic.onnx", batch="N")
    makers.classifier(tmp_path / "fixed.onnx", batch=1)
    add_model(tmp_path / "dynamic.onnx", tmp_path / "project", task="classify", normalize={"mean": [0], "std": [255], "units": "0-255"}, resize="stretch")
    add_model(tmp_path / "fixed.onnx", tmp_path / "project", task="classify", normalize={"mean": [0], "std": [255], "units": "0-255"}, resize="stretch")
    manifest = str(tmp_path / "project" / "models" / "manifest.json")
    images = [np.full((8, 8, 3), value, np.uint8) for value in ((250, 0, 0), (0, 250, 0), (0, 0, 250))]
    for name, runs in (("dynamic", 1), ("fixed", 3)):
        model = run(load_model(name, manifest=manifest))
        calls = []
        original = model.session.run

        async def counting(feeds, original=original):
            calls.append(next(iter(feeds.values())).shape[0])
            return await original(feeds)

        model.session.run = counting
        batch = run(model.classify(images, top_k=4))
        singles = [run(model.classify(image, top_k=4)) for image in images]
        assert len(calls) == runs + 3, calls
        assert calls[0] == (3 if name == "dynamic" else 1)
        for together, alone in zip(batch, singles):
            assert [p.index for p in together] == [p.index for p in alone]
            np.testing.assert_allclose([p.score for p in together], [p.score for p in alone], rtol=1e-5)


def test_generic_run_checks_feeds_and_returns_copies(native_models):
    model = native_models("blazeface")
    zeros = np.zeros((1, 128, 128, 3), np.float32)
    first = run(model.run({"input:0": zeros}))
    assert set(first) == {o.name for o in model.spec.outputs}
    snapshot = {k: v.copy() for k, v in first.items()}
    run(model.run({"input:0": np.ones((1, 128, 128, 3), np.float32)}))
    for name, value in first.items():
        np.testing.assert_array_equal(value, snapshot[name])  # not overwritten by the next call
    for feeds, message in [
        ({"image": zeros}, "unknown input"),
        ({}, "missing input"),
        ({"input:0": np.zeros((1, 64, 64, 3), np.float32)}, "must have shape"),
        ({"input:0": np.zeros((128, 128, 3), np.float32)}, "must have 4 dimensions"),
        ({"input:0": "text"}, "must be an array of float32"),
        ([1, 2], "feeds must be a dict"),
    ]:
        with pytest.raises(InvalidArgumentError, match=message):
            run(model.run(feeds))
    # Python lists and float64 arrays are converted to the input's dtype.
    assert run(model.run({"input:0": zeros.astype(np.float64).tolist()}))


def test_concurrent_calls_each_get_their_own_answer(native_models):
    model = native_models("efficientnet-lite0")
    photos = [(SAMPLES / f"{name}.png").read_bytes() for name in ("chelsea", "coffee", "astronaut", "rocket")] * 4
    alone = [run(model.classify(photo, top_k=1))[0].index for photo in photos[:4]]

    async def together():
        return await asyncio.gather(*(model.classify(photo, top_k=1) for photo in photos))

    assert [r[0].index for r in run(together())] == alone * 4
