"""A user's own Python, met the way the README's "Your own Python in the page" leads a new user to it,
natively and through the CLI: each case here was a finding of the issue on user modules, and failed
before its fix."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import makers
from conftest import SAMPLES, run
from inpage import InvalidArgumentError, UserCodeError, load_model
from inpage_tools.project import add_model

PLAIN = {"normalize": {"mean": [0], "std": [255], "units": "0-255"}, "resize": "stretch"}

BOXER = '''
"""Boxes from a model no built-in head reads: its four logits are one box's corners."""
import numpy as np

OPTIONS = {"min_score": 0.0}
RESULT = "detections"


def postprocess(outputs, geometry, spec, options):
    corners = np.abs(outputs["logits"][0][:4]) * 10
    print("boxer saw", corners.tolist())  # a user's debugging print: it must not spoil --json
    box = geometry.boxes_to_frame(np.array([[corners[0], corners[1], corners[0] + corners[2], corners[1] + corners[3]]], np.float32))[0]
    return [{"label": "thing", "score": 0.9, "box": box.tolist()}]
'''

RUNNER = '''
import numpy as np


def postprocess(outputs, geometry, spec, options):
    return {"total": float(np.sum(outputs["logits"]))}
'''

CLASSIFIER = '''
import numpy as np

RESULT = "predictions"


def postprocess(outputs, geometry, spec, options):
    logits = outputs["logits"][0]
    best = int(np.argmax(logits))
    return [{"index": best, "label": spec.label(best), "score": 1.0}]
'''

UNDECLARED = '''
def postprocess(outputs, geometry, spec, options):
    return {"note": "not a list of predictions"}
'''

EXITS = '''
import sys


def postprocess(outputs, geometry, spec, options):
    sys.exit(3)
'''

NUMPY_ERROR = '''
import numpy as np


def postprocess(outputs, geometry, spec, options):
    logits = outputs["logits"]
    return np.reshape(logits, (7, 7)).tolist()
'''


def project_with(tmp_path, source: str, task: str, name: str = "mine") -> tuple:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / f"{name}task.py").write_text(source)
    model = makers.classifier(tmp_path / "made" / f"{name}.onnx")
    add_model(model, tmp_path, name=name, task=task, python=tmp_path / f"{name}task.py", **PLAIN)
    return tmp_path, str(tmp_path / "models" / "manifest.json")


def cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "inpage_tools", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_a_detector_no_head_reads_is_added_when_its_module_decodes_it(tmp_path):
    folder, manifest = project_with(tmp_path, BOXER, "detect")
    entry = json.loads((folder / "models" / "manifest.json").read_text())["models"][0]
    assert "head" not in entry and entry["python"] == "../minetask.py"  # where the README puts it: the project root
    detections = run(run(load_model("mine", manifest=manifest)).detect((SAMPLES / "coffee.png").read_bytes()))
    assert detections[0]["label"] == "thing" and len(detections[0]["box"]) == 4
    # --json stays JSON: the module's print goes to stderr.
    result = cli("detect", SAMPLES / "coffee.png", "--json", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["detections"][0]["label"] == "thing"
    assert "boxer saw" in result.stderr and "boxer saw" not in result.stdout


def test_a_run_model_with_a_module_runs_it(tmp_path):
    _folder, manifest = project_with(tmp_path, RUNNER, "run")
    import numpy as np

    model = run(load_model("mine", manifest=manifest))
    result = run(model.run({"image": np.full((1, 3, 8, 8), 10, np.float32)}))
    assert set(result) == {"total"}


def test_a_declared_result_kind_is_honoured_by_the_cli_and_checked(tmp_path):
    folder, _manifest = project_with(tmp_path, CLASSIFIER, "classify")
    result = cli("classify", SAMPLES / "coffee.png", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("1.0000  class ")
    # Undeclared: the CLI prints the user's result as JSON rather than crashing on it.
    other, _ = project_with(tmp_path / "other", UNDECLARED, "classify", name="loose")
    result = cli("classify", SAMPLES / "coffee.png", cwd=other)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[0]) == {"result": {"note": "not a list of predictions"}}


def test_a_declared_result_that_does_not_hold_its_kind_is_one_line(tmp_path):
    _folder, manifest = project_with(tmp_path, CLASSIFIER.replace('"score": 1.0', '"confidence": 1.0'), "classify")
    model = run(load_model("mine", manifest=manifest))
    with pytest.raises(UserCodeError, match=r"minetask.postprocess \(RESULT = 'predictions'\): item 0 has no score"):
        run(model.classify((SAMPLES / "coffee.png").read_bytes()))


def test_sys_exit_in_user_code_is_a_user_code_error(tmp_path):
    folder, manifest = project_with(tmp_path, EXITS, "classify")
    with pytest.raises(UserCodeError, match=r"minetask.postprocess called sys.exit\(3\)"):
        run(run(load_model("mine", manifest=manifest)).classify((SAMPLES / "coffee.png").read_bytes()))
    result = cli("classify", SAMPLES / "coffee.png", cwd=folder)
    assert result.returncode == 1 and result.stderr.startswith("inpage: ") and "sys.exit(3)" in result.stderr


def test_an_unknown_option_lists_the_modules_options_too(tmp_path):
    _folder, manifest = project_with(tmp_path, BOXER, "detect")
    model = run(load_model("mine", manifest=manifest))
    with pytest.raises(InvalidArgumentError, match=r"unknown option\(s\) gian; it takes: .*min_score"):
        run(model.detect((SAMPLES / "coffee.png").read_bytes(), gian=2))


def test_an_error_inside_numpy_names_the_users_line(tmp_path):
    _folder, manifest = project_with(tmp_path, NUMPY_ERROR, "classify")
    with pytest.raises(UserCodeError, match=r"^minetask.py, line 7, in postprocess: ValueError"):
        run(run(load_model("mine", manifest=manifest)).classify((SAMPLES / "coffee.png").read_bytes()))


HANGS = '''
import numpy as np

OPTIONS = {"hang": False}


def postprocess(outputs, geometry, spec, options):
    while options["hang"]:
        pass
    return {"best": int(np.argmax(outputs["logits"][0]))}
'''


def test_user_code_that_never_returns_is_stopped_and_the_model_works_after(tmp_path):
    folder, manifest = project_with(tmp_path, HANGS, "classify")
    path = folder / "models" / "manifest.json"
    document = json.loads(path.read_text())
    document["models"][0]["python_time_limit_s"] = 0.5
    path.write_text(json.dumps(document))
    model = run(load_model("mine", manifest=manifest))
    photo = (SAMPLES / "coffee.png").read_bytes()
    import time

    started = time.perf_counter()
    with pytest.raises(UserCodeError, match=r"^minetask.postprocess ran past its 0.5 s limit and was stopped; .*python_time_limit_s"):
        run(model.classify(photo, hang=True))
    assert time.perf_counter() - started < 10
    assert set(run(model.classify(photo))) == {"best"}  # the next call works, and is not interrupted late
    document["models"][0]["python_time_limit_s"] = 0
    path.write_text(json.dumps(document))
    with pytest.raises(Exception, match="python_time_limit_s must be a number of seconds above 0"):
        run(load_model("mine", manifest=manifest))


def test_serve_watches_a_module_at_the_project_root(tmp_path):
    from inpage_tools.cli import _watched

    folder, _manifest = project_with(tmp_path, BOXER, "detect")
    watched = _watched(folder / "models", folder)
    assert (folder / "minetask.py").resolve() in watched and folder / "pages" in watched and folder / "python" in watched
