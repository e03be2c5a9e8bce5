"""The `inpage` command as a user types it: results for people and for scripts, and every failure one line."""

import json
import subprocess
import sys

import numpy as np
import pytest

import makers
from conftest import FIXTURES, ROOT, SAMPLES


def inpage(*args, cwd=ROOT, check=True):
    result = subprocess.run([sys.executable, "-m", "inpage_tools", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def one_line_failure(result, *fragments):
    assert result.returncode != 0
    assert result.stdout == "" or "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inpage: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_version():
    assert inpage("--version").stdout.startswith("inpage 0.")


def test_classify_for_people_and_for_scripts():
    text = inpage("classify", SAMPLES / "coffee.png", "--top-k", 3)
    assert text.stdout.splitlines()[0].endswith("espresso") and len(text.stdout.splitlines()) == 3
    assert "efficientnet-lite0" in text.stderr and "ms" in text.stderr
    data = json.loads(inpage("classify", SAMPLES / "coffee.png", "--json").stdout)
    assert data["predictions"][0]["label"] == "espresso" and len(data["predictions"]) == 5
    assert data["backend"] == "cpu" and set(data["timings"]) == {"preprocess_ms", "inference_ms", "postprocess_ms"}


def test_detect_uses_the_models_own_thresholds_and_prints_keypoints():
    # BlazeFace's own threshold is 0.6: no "faces" on a cat (the CLI forced 0.35 before and found two).
    result = inpage("detect", SAMPLES / "chelsea.png", "--model", "blazeface")
    assert result.stdout.strip() == "(nothing above the score threshold)"
    faces = inpage("detect", SAMPLES / "astronaut.png", "--model", "blazeface").stdout.splitlines()
    assert len(faces) == 1 and "face" in faces[0] and faces[0].count("(") == 6
    data = json.loads(inpage("detect", SAMPLES / "astronaut.png", "--json", "--score-threshold", "0.5", "--iou-threshold", "0.4").stdout)
    assert data["model"] == "nanodet-m" and data["detections"][0]["label"] == "person"


def test_infer_runs_pose_and_segmentation():
    pose = json.loads(inpage("infer", SAMPLES / "astronaut.png", "--model", "movenet-lightning").stdout)
    assert len(pose["poses"][0]["keypoints"]) == 17
    mask = json.loads(inpage("infer", SAMPLES / "astronaut.png", "--model", "selfie").stdout)
    assert 0.3 < mask["coverage"] < 0.8 and mask["mask"]["dims"] == [256, 256]


def test_models_inspect_predict_and_run_in_a_project(tmp_path):
    path, pipeline, x = makers.sklearn_pipeline(tmp_path / "iris.onnx")
    inpage("add", path, "--dir", tmp_path)
    listing = inpage("models", "--dir", tmp_path).stdout
    assert "iris" in listing and "tabular" in listing
    rows = tmp_path / "rows.csv"
    rows.write_text("sepal_length,sepal_width,petal_length,petal_width\n" + "\n".join(",".join(map(str, r)) for r in x[::50]))
    data = json.loads(inpage("predict", "iris", rows, "--json", cwd=tmp_path).stdout)
    assert [int(p["label"]) for p in data["predictions"]] == pipeline.predict(x[::50]).tolist()
    assert inpage("predict", "iris", "--row", "5.1,3.5,1.4,0.2", cwd=tmp_path).stdout.startswith("0 ")
    report = json.loads(inpage("inspect", path, "--json").stdout)
    assert report["zipmap_outputs"] == ["output_probability"] and report["inpage_add"]["entry"]["task"] == "tabular"

    np.save(tmp_path / "zeros.npy", np.zeros((1, 128, 128, 3), np.float32))
    out = inpage("run", "blazeface", "--input", f"input:0={tmp_path / 'zeros.npy'}", "--manifest", ROOT / "models" / "manifest.json").stdout
    assert "float32 [1, 512, 1]" in out or "float32 [1, 896, 1]" in out


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("classify", "no-such-image.png"), ["no such file: no-such-image.png"]),
        (("classify", FIXTURES / "not-an-image.png"), ["not an image inpage can read"]),
        (("classify", FIXTURES / "truncated.jpg"), ["truncated"]),
        (("classify", SAMPLES / "coffee.png", "--model", "nope"), ["no model called 'nope'"]),
        (("classify", SAMPLES / "coffee.png", "--model", "nanodet-m"), ["is a detect model; it cannot classify()"]),
        (("detect", SAMPLES / "coffee.png", "--score-threshold", "2"), ["score_threshold must be a number between 0 and 1, not 2.0"]),
        (("classify", SAMPLES / "coffee.png", "--provider", "webgpu"), ["runs in the page"]),
        (("classify", SAMPLES / "coffee.png", "--variant", "int4"), ["has no variant 'int4'"]),
        (("add", "missing.onnx"), ["no such file: missing.onnx"]),
        (("inspect", FIXTURES / "not-an-image.png"), ["is not an ONNX model"]),
        (("predict", "blazeface", "--row", "1,2", "--manifest", ROOT / "models" / "manifest.json"), ["is a detect model; it cannot predict()"]),
        (("run", "blazeface", "--input", "x=nothing.npy"), ["no such file: nothing.npy"]),
        (("models", "--dir", "/nonexistent"), ["no manifest at /nonexistent/models/manifest.json"]),
    ],
)
def test_failures_are_one_line(args, fragments, tmp_path):
    one_line_failure(inpage(*args, check=False), *fragments)


def test_an_empty_image_file_is_one_line(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    one_line_failure(inpage("classify", tmp_path / "empty.png", check=False), "is empty")


@pytest.mark.parametrize("name", ["a\\b", "a/b", ".hidden", "..", "x" * 300, "with space", ""])
def test_add_accepts_only_names_that_work_everywhere(tmp_path, name):
    model = makers.classifier(tmp_path / "net.onnx")
    result = inpage("add", model, "--dir", tmp_path / "project", "--task", "run", "--name", name, check=False)
    one_line_failure(result, "cannot name a model")
    assert not (tmp_path / "project" / "models").exists()


def test_add_takes_a_file_name_that_makes_a_bad_model_name_only_with_name(tmp_path):
    model = makers.classifier(tmp_path / "my net.onnx")
    one_line_failure(inpage("add", model, "--dir", tmp_path / "project", "--task", "run", check=False), "my net.onnx", "pass --name")
    inpage("add", model, "--dir", tmp_path / "project", "--task", "run", "--name", "my-net")
    assert (tmp_path / "project" / "models" / "my net.onnx").is_file()


def test_labels_files_that_do_not_fit_are_one_line_about_the_labels(tmp_path):
    model = makers.classifier(tmp_path / "net.onnx", classes=4)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9\nna\xefve\nb\nc\n".encode("latin-1"))
    one_line_failure(inpage("add", model, "--dir", tmp_path / "p", "--task", "classify", "--labels", latin1, check=False), "is not UTF-8 text", "save it as UTF-8")
    three = tmp_path / "three.txt"
    three.write_text("a\nb\nc\n")
    result = inpage("add", model, "--dir", tmp_path / "p", "--task", "classify", "--labels", three, check=False)
    one_line_failure(result, f"--labels {three} does not fit this model", "3 entries", "one name per class")
    assert "--size" not in result.stderr and "--task" not in result.stderr
    assert not (tmp_path / "p").exists()


def test_a_failed_add_leaves_the_project_as_it_was(tmp_path):
    project = tmp_path / "project"
    good = makers.classifier(tmp_path / "good.onnx")
    inpage("add", good, "--dir", project, "--task", "run")
    before = {p.relative_to(project): p.read_bytes() for p in project.rglob("*") if p.is_file()}
    result = inpage("add", makers.classifier(tmp_path / "pymissing.onnx"), "--dir", project, "--task", "run", "--python", tmp_path / "nothere.py", check=False)
    one_line_failure(result, "--python must be a .py file")
    three = tmp_path / "three.txt"
    three.write_text("a\nb\nc\n")
    one_line_failure(inpage("add", makers.classifier(tmp_path / "other.onnx"), "--dir", project, "--task", "classify", "--labels", three, check=False), "does not fit")
    # Adding the same model again with labels that do not fit must not damage its existing entry either.
    one_line_failure(inpage("add", good, "--dir", project, "--task", "classify", "--labels", three, check=False), "does not fit")
    after = {p.relative_to(project): p.read_bytes() for p in project.rglob("*") if p.is_file()}
    assert after == before


def test_tabular_labels_map_the_classes_or_are_refused(tmp_path):
    path, pipeline, x = makers.sklearn_pipeline(tmp_path / "iris.onnx")
    names = tmp_path / "names.txt"
    names.write_text("setosa\nversicolor\nvirginica\n")
    inpage("add", path, "--dir", tmp_path, "--labels", names)
    data = json.loads(inpage("predict", "iris", "--row", "6.7,3.0,5.2,2.3", "--json", cwd=tmp_path).stdout)
    assert data["predictions"][0]["label"] == ["setosa", "versicolor", "virginica"][int(pipeline.predict(np.array([[6.7, 3.0, 5.2, 2.3]], np.float32))[0])]
    assert set(data["predictions"][0]["probabilities"]) == {"setosa", "versicolor", "virginica"}
    two = tmp_path / "two.txt"
    two.write_text("a\nb\n")
    one_line_failure(inpage("add", path, "--dir", tmp_path / "other", "--labels", two, check=False), "has 2 names, but iris.onnx has 3 classes")


USER_NAN = '''
def postprocess(outputs, geometry, spec, options):
    return {"ratio": float("nan"), "big": float("inf")}
'''


def test_json_output_never_holds_bare_nan(tmp_path):
    model = makers.classifier(tmp_path / "nan.onnx")
    (tmp_path / "nantask.py").write_text(USER_NAN)
    inpage("add", model, "--dir", tmp_path, "--task", "classify", "--python", tmp_path / "nantask.py", "--mean", "0", "--std", "255", "--units", "0-255", "--resize", "stretch")
    result = inpage("infer", SAMPLES / "coffee.png", "--model", "nan", cwd=tmp_path, check=False)
    one_line_failure(result, "nantask.postprocess returned nan, which JSON cannot hold")  # the user's code, not the model
    assert "NaN" not in result.stdout


def test_add_says_how_to_name_the_classes_of_a_model_without_labels(tmp_path):
    """Without --labels, and with none in the metadata, every class shows as "class N": add says so."""
    model = makers.classifier(tmp_path / "made" / "plain.onnx")
    added = inpage("add", model, "--mean", "0", "--std", "255", "--units", "0-255", cwd=tmp_path)
    assert 'labels: none in the model\'s metadata, so classes show as "class N"; pass --labels FILE' in added.stdout
    labels = tmp_path / "labels.txt"
    labels.write_text("red\ngreen\nblue\nyellow\n")
    again = inpage("add", model, "--labels", labels, "--mean", "0", "--std", "255", "--units", "0-255", cwd=tmp_path)
    assert "labels: none" not in again.stdout
