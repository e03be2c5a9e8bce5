"""`inpage add` and `inpage inspect` on models made the way users make them, then run natively.

The same project folders are built into sites and run in Chromium in test_own_models_page.py.
"""

import json

import numpy as np
import pytest

from inpage import UserCodeError, load_model
from inpage.tasks import task_names
from inpage.errors import ProjectError
from inpage_tools.onnxinfo import inspect_model
from inpage_tools.project import add_model, describe, inspect_file

import makers
from conftest import run

SCALE = {"normalize": {"mean": [0], "std": [255], "units": "0-255"}, "resize": "stretch"}


def manifest_of(folder):
    return json.loads((folder / "models" / "manifest.json").read_text())["models"]


def test_sklearn_pipeline_with_zipmap_becomes_a_tabular_model(tmp_path):
    path, pipeline, x = makers.sklearn_pipeline(tmp_path / "iris.onnx")
    assert inspect_model(path).zipmap_outputs == ["output_probability"]
    result = add_model(path, tmp_path / "project")
    assert result.task == "tabular"
    assert any("ZipMap" in note for note in result.notes)
    entry = manifest_of(tmp_path / "project")[0]
    assert entry["labels"] == ["0", "1", "2"]
    assert entry["head"] == {"label_output": "output_label", "probability_output": "output_probability"}
    assert inspect_model(tmp_path / "project" / "models" / "iris.onnx").zipmap_outputs == []
    model = run(load_model("iris", manifest=str(tmp_path / "project" / "models" / "manifest.json")))
    rows = x[::25]
    predictions = run(model.predict(rows))
    expected = pipeline.predict_proba(rows)
    assert [int(p.label) for p in predictions] == pipeline.predict(rows).tolist()
    for prediction, probabilities in zip(predictions, expected):
        np.testing.assert_allclose(list(prediction.probabilities.values()), probabilities, atol=1e-5)
    with pytest.raises(Exception, match="each row must have 4 features"):
        run(model.predict([[1.0, 2.0]]))


def test_external_weights_are_folded_into_one_file(tmp_path):
    source = makers.big_classifier(tmp_path / "torch" / "model.onnx")
    assert (tmp_path / "torch" / "model.onnx.data").is_file()
    assert inspect_model(source).external_data == ["model.onnx.data"]
    result = add_model(source, tmp_path / "project", labels=None, task="classify", **SCALE)
    assert any("folded" in note for note in result.notes)
    copied = tmp_path / "project" / "models" / "model.onnx"
    assert inspect_model(copied).external_data == [] and not (tmp_path / "project" / "models" / "model.onnx.data").exists()
    assert copied.stat().st_size > 256 * 10 * 4  # the weights are inside
    model = run(load_model("model", manifest=str(tmp_path / "project" / "models" / "manifest.json")))
    assert len(run(model.classify(np.full((32, 32, 3), 100, np.uint8)))) == 5


def test_external_weights_beyond_the_single_file_limit_are_refused(tmp_path, monkeypatch):
    import inpage_tools.project

    source = makers.big_classifier(tmp_path / "torch" / "model.onnx")
    monkeypatch.setattr(inpage_tools.project, "SINGLE_FILE_LIMIT", 1000)
    with pytest.raises(ProjectError, match="onnxruntime-web loads one file of at most"):
        add_model(source, tmp_path / "project", task="classify", **SCALE)


def test_a_classifier_ending_in_softmax_is_not_squashed_twice(tmp_path):
    makers.classifier(tmp_path / "soft.onnx", softmax=True)
    result = add_model(tmp_path / "soft.onnx", tmp_path / "project", **SCALE)
    assert any("ends in Softmax" in note for note in result.notes)
    assert manifest_of(tmp_path / "project")[0]["activation"] == "none"
    model = run(load_model("soft", manifest=str(tmp_path / "project" / "models" / "manifest.json")))
    image = np.full((8, 8, 3), (200, 10, 90), np.uint8)
    probabilities = run(model.run({"image": (image.transpose(2, 0, 1)[None] / 255.0).astype(np.float32)}))["probabilities"][0]
    top = run(model.classify(image, top_k=4))
    np.testing.assert_allclose(sorted([p.score for p in top], reverse=True), sorted(probabilities, reverse=True), rtol=1e-5)
    assert abs(sum(p.score for p in top) - 1) < 1e-5


def test_two_outputs_need_the_output_named(tmp_path):
    makers.classifier(tmp_path / "two.onnx", two_outputs=True, classes=5)
    with pytest.raises(ProjectError, match="say which holds the scores with --output"):
        add_model(tmp_path / "two.onnx", tmp_path / "project", task="classify", **SCALE)
    add_model(tmp_path / "two.onnx", tmp_path / "project", task="classify", output="logits", **SCALE)
    model = run(load_model("two", manifest=str(tmp_path / "project" / "models" / "manifest.json")))
    assert model.spec.score_output.name == "logits"
    assert len(run(model.classify(np.zeros((8, 8, 3), np.uint8), top_k=10))) == 5  # 5 classes, not 3 embedding values


def test_grayscale_input(tmp_path):
    makers.classifier(tmp_path / "mnist.onnx", channels=1, size=28, classes=10)
    result = add_model(tmp_path / "mnist.onnx", tmp_path / "project")
    entry = manifest_of(tmp_path / "project")[0]
    assert result.task == "classify" and entry["image"]["normalize"]["mean"] == [0]
    model = run(load_model("mnist", manifest=str(tmp_path / "project" / "models" / "manifest.json")))
    dark, light = (run(model.classify(np.full((40, 30, 3), v, np.uint8), top_k=10)) for v in (0, 255))
    assert [p.index for p in dark] != [p.index for p in light] or dark[0].score != light[0].score


def test_yolo_export_is_read_from_its_metadata(tmp_path):
    makers.yolo_v8(tmp_path / "yolo.onnx", names=["cat", "dog", "bird"])
    result = add_model(tmp_path / "yolo.onnx", tmp_path / "project")
    entry = manifest_of(tmp_path / "project")[0]
    assert result.task == "detect" and entry["head"]["type"] == "yolo"
    assert entry["image"]["pad_value"] == 114 and entry["image"]["normalize"]["units"] == "0-1"
    assert (tmp_path / "project" / "models" / "labels" / "yolo.txt").read_text().split() == ["cat", "dog", "bird"]
    model = run(load_model("yolo", manifest=str(tmp_path / "project" / "models" / "manifest.json")))
    # A grey image of 127: the candidates' scores scale by its brightness (127/255) / 0.5 = 0.996.
    grey = np.full((64, 64, 3), 127, np.uint8)
    detections = run(model.detect(grey))
    # Two overlapping cats (IoU 0.78) -> one after NMS at ultralytics' 0.7; the dog; the weak bird is below 0.25.
    assert [d.label for d in detections] == ["cat", "dog"]
    factor = 127 / 255 / 0.5  # boxes scale with it too: (cx, cy, w, h) of (20, 20, 16, 16) and (44, 40, 20, 12)
    assert detections[0].score == pytest.approx(0.9 * factor, rel=1e-4)
    np.testing.assert_allclose(detections[0].box, np.array([12, 12, 28, 28]) * factor, atol=0.01)
    np.testing.assert_allclose(detections[1].box, np.array([34, 34, 54, 46]) * factor, atol=0.01)


def test_a_model_it_cannot_read_asks_for_the_task(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Add", ["a", "b"], ["c"])], "add",
                              [helper.make_tensor_value_info("a", TensorProto.FLOAT, [3]), helper.make_tensor_value_info("b", TensorProto.FLOAT, [3])],
                              [helper.make_tensor_value_info("c", TensorProto.FLOAT, [3])])
    makers._save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), tmp_path / "add.onnx")
    with pytest.raises(ProjectError, match=f"pass --task with one of: {', '.join(task_names())}$"):
        add_model(tmp_path / "add.onnx", tmp_path / "project")
    add_model(tmp_path / "add.onnx", tmp_path / "project", task="run")
    model = run(load_model("add", manifest=str(tmp_path / "project" / "models" / "manifest.json")))
    assert run(model.run({"a": [1, 2, 3], "b": [10, 20, 30]}))["c"].tolist() == [11, 22, 33]


def test_damaged_and_missing_files(tmp_path):
    with pytest.raises(ProjectError, match="no such file"):
        add_model(tmp_path / "missing.onnx", tmp_path)
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ProjectError, match="is empty"):
        add_model(tmp_path / "empty.onnx", tmp_path)
    (tmp_path / "junk.onnx").write_bytes(b"\x08\x07junk" * 50)
    with pytest.raises(ProjectError, match="not an ONNX model"):
        add_model(tmp_path / "junk.onnx", tmp_path)


def test_adding_again_replaces_the_entry_and_keeps_one_default_per_task(tmp_path):
    makers.classifier(tmp_path / "a.onnx")
    makers.classifier(tmp_path / "b.onnx", seed=3)
    add_model(tmp_path / "a.onnx", tmp_path / "project", **SCALE)
    add_model(tmp_path / "b.onnx", tmp_path / "project", **SCALE)
    add_model(tmp_path / "b.onnx", tmp_path / "project", make_default=True, **SCALE)
    entries = manifest_of(tmp_path / "project")
    assert [e["name"] for e in entries] == ["a", "b"]
    assert [e.get("default", False) for e in entries] == [False, True]


def test_inspect_reports_what_the_file_holds_and_what_add_would_do(tmp_path):
    makers.yolo_v8(tmp_path / "yolo.onnx")
    report = inspect_file(tmp_path / "yolo.onnx")
    assert report["inputs"] == [{"name": "images", "dtype": "float32", "shape": [1, 3, 64, 64]}]
    assert report["ops"] == {"Mul": 1, "ReduceMean": 1, "Reshape": 1}
    assert report["opsets"] == {"ai.onnx": 17} and report["parameters"] == 7 * 6 + 1
    assert report["metadata"]["task"] == "detect"
    assert {s["op_type"]: s["status"] for s in report["onnxruntime_web_wasm"]} == {"Mul": "supported", "ReduceMean": "supported", "Reshape": "supported"}
    assert report["inpage_add"]["entry"]["head"]["type"] == "yolo"
    text = describe(report)
    assert "every op is supported" in text and "inpage add would write: task detect, head yolo" in text


USER_POSTPROCESS = '''
"""Count bright pixels: a user's own post-processing."""
import numpy as np

OPTIONS = {"scale": 1.0}

def postprocess(outputs, geometry, spec, options):
    logits = outputs["logits"][0]
    return {"best": int(np.argmax(logits)), "scaled": float(logits.max()) * options["scale"], "frame": [geometry.frame_width, geometry.frame_height]}
'''

BROKEN_POSTPROCESS = '''
def postprocess(outputs, geometry, spec, options):
    values = outputs["logits"]
    return len(values) / 0
'''


def test_a_users_postprocess_runs_and_its_errors_name_the_file_and_line(tmp_path):
    makers.classifier(tmp_path / "mine.onnx")
    project = tmp_path / "project"
    project.mkdir()
    (project / "mytask.py").write_text(USER_POSTPROCESS)
    result = add_model(tmp_path / "mine.onnx", project, python=project / "mytask.py", **SCALE)
    assert manifest_of(project)[0]["python"] == "../mytask.py"
    assert any("mytask.py" in note for note in result.notes)
    model = run(load_model("mine", manifest=str(project / "models" / "manifest.json")))
    out = run(model.classify(np.full((20, 10, 3), 90, np.uint8), scale=2.0))
    assert out["frame"] == [10, 20] and isinstance(out["best"], int)
    assert model.task.payload(out)["result"]["scaled"] == out["scaled"]
    (project / "mytask.py").write_text(BROKEN_POSTPROCESS)
    import sys

    del sys.modules["mytask"]
    broken = run(load_model("mine", manifest=str(project / "models" / "manifest.json")))
    with pytest.raises(UserCodeError, match=r"mytask.py, line 4, in postprocess: ZeroDivisionError"):
        run(broken.classify(np.zeros((8, 8, 3), np.uint8)))


def test_the_one_manifest_writer_is_atomic_and_writes_only_changes(tmp_path):
    from inpage.manifest import dump_manifest, write_manifest

    path = tmp_path / "manifest.json"
    entries = [{"name": "a", "task": "run"}]
    assert write_manifest(path, entries) is True
    assert path.read_text() == dump_manifest(entries)
    stamp = path.stat().st_mtime_ns
    assert write_manifest(path, entries) is False and path.stat().st_mtime_ns == stamp
    assert write_manifest(path, entries + [{"name": "b", "task": "run"}]) is True
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temporary file left behind
