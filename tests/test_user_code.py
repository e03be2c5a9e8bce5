"""A user's own Python, met the way the README's "Your own Python in the page" leads a new user to it,
natively and through the CLI: each case here was a finding of the issue on user modules, and failed
before its fix."""

from __future__ import annotations

import json
import re
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


RETURNS = '''
import numpy as np

RESULT = None


def postprocess(outputs, geometry, spec, options):
    loop = []
    loop.append(loop)
    return {
        "complex": np.array([1 + 2j]), "dates": np.array(["2020-01-01"], dtype="datetime64[D]"), "set": {1, 2},
        "objects": np.array([{1, 2}, 3], dtype=object), "loop": loop, "nan": float("nan"), "big": 2**80,
        "clash": {1: "int key", "1": "str key"}, "inf_array": np.array([1.0, np.inf]),
        "text": np.array(["a", "bb"]), "big_endian": np.arange(3, dtype=">i4"), "fine": np.float32(0.5),
    }[options["what"]]

OPTIONS = {"what": "fine"}
'''


@pytest.mark.parametrize("what, message", [
    ("complex", "returned a numpy complex128 array, which cannot become JSON"),
    ("dates", "returned a numpy datetime64[D] array, which cannot become JSON"),
    ("set", "returned a set, which cannot become JSON"),
    ("objects", "returned a set, which cannot become JSON"),
    ("loop", "returned data nested more than 64 levels deep (or holding itself)"),
    ("nan", "returned nan, which JSON cannot hold"),
    ("big", "returned the integer 1208925819614629174706176, past 2**53, which JavaScript cannot hold exactly"),
    ("clash", "returned a dict with two keys that are both '1' as JSON"),
    ("inf_array", "returned an array holding NaN or infinity"),
])
def test_a_result_json_cannot_carry_is_one_user_code_error(tmp_path, what, message):
    """Each was an "unexpected error" in the CLI, an InternalError in the page, or a different answer
    on each side (the object array, the clashing keys, the big integer): now one line naming the
    user's function, from the same check on both sides."""
    folder, manifest = project_with(tmp_path, RETURNS, "classify")
    model = run(load_model("mine", manifest=manifest))
    with pytest.raises(UserCodeError) as raised:
        run(model.classify((SAMPLES / "coffee.png").read_bytes(), what=what))
    assert str(raised.value).startswith("minetask.postprocess ") and message in str(raised.value)
    if what == "complex":  # and the CLI says the same, in one line
        cli_folder, _ = project_with(tmp_path / "cli", RETURNS.replace('OPTIONS = {"what": "fine"}', 'OPTIONS = {"what": "complex"}'), "classify")
        printed = cli("classify", SAMPLES / "coffee.png", "--json", cwd=cli_folder)
        assert printed.returncode == 1 and printed.stderr.strip().splitlines() == [f"inpage: {raised.value}"]


def test_text_arrays_and_other_byte_orders_cross_as_plain_values(tmp_path):
    import numpy as np

    _folder, manifest = project_with(tmp_path, RETURNS, "classify")
    model = run(load_model("mine", manifest=manifest))
    photo = (SAMPLES / "coffee.png").read_bytes()
    assert run(model.classify(photo, what="text")) == ["a", "bb"]
    swapped = run(model.classify(photo, what="big_endian"))
    assert swapped.dtype == np.dtype("int32") and swapped.tolist() == [0, 1, 2]
    assert run(model.classify(photo, what="fine")) == 0.5


def test_a_declared_result_with_fields_of_the_wrong_type_is_one_line(tmp_path):
    folder, manifest = project_with(tmp_path, CLASSIFIER.replace('"score": 1.0', '"score": "high"').replace('"index": best', '"index": None'),
                                    "classify")
    model = run(load_model("mine", manifest=manifest))
    message = ("minetask.postprocess (RESULT = 'predictions'): item 0: score 'high' is not a number; index None is not an integer")
    with pytest.raises(UserCodeError, match=re.escape(message)):
        run(model.classify((SAMPLES / "coffee.png").read_bytes()))
    printed = cli("classify", SAMPLES / "coffee.png", cwd=folder)
    assert printed.returncode == 1 and printed.stderr.strip() == f"inpage: {message}"


STUCK = '''
import time

OPTIONS = {"how": "sleep"}


def postprocess(outputs, geometry, spec, options):
    if options["how"] == "sleep":
        time.sleep(60)  # asleep in C: the timeout raised in the thread waits for it
    while True:
        try:
            while True:
                pass
        except BaseException:  # swallows the timeout, and goes on
            pass
'''


@pytest.mark.parametrize("how", ["sleep", "stubborn"])
def test_the_cli_ends_user_code_that_does_not_stop_when_interrupted(tmp_path, how):
    folder, _manifest = project_with(tmp_path, STUCK.replace('"how": "sleep"', f'"how": "{how}"'), "classify")
    path = folder / "models" / "manifest.json"
    document = json.loads(path.read_text())
    document["models"][0]["python_time_limit_s"] = 1
    path.write_text(json.dumps(document))
    import time

    started = time.monotonic()
    done = cli("classify", SAMPLES / "coffee.png", cwd=folder)
    assert time.monotonic() - started < 30
    assert done.returncode == 1 and done.stderr.strip().splitlines() == [
        "inpage: minetask.postprocess ran past its 1 s limit and did not stop when interrupted (it catches KeyboardInterrupt or the "
        "timeout, or waits in C code); inpage ended; make it faster, or raise python_time_limit_s in the model's manifest entry"]


@pytest.mark.parametrize("source, message", [
    ("import numpy as np\n\n\ndef post_process(outputs, geometry, spec, options):\n    return {}\n",
     "minetask.py defines neither preprocess(image, spec) nor postprocess(outputs, geometry, spec, options)"),
    ("def postprocess(outputs, geometry, spec, options)\n    return {}\n", "minetask.py, line 1: SyntaxError: expected ':'"),
])
def test_add_refuses_a_module_that_could_never_run(tmp_path, source, message):
    """Read, not run, at add: a misspelt function or a syntax error would fail every call later."""
    (tmp_path / "minetask.py").write_text(source)
    model = makers.classifier(tmp_path / "made" / "mine.onnx")
    done = cli("add", model, "--name", "mine", "--python", tmp_path / "minetask.py", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.strip().startswith(f"inpage: {message}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "models").exists()
