"""The build script: a self-contained site, verified inputs, and no work when nothing changed."""

import hashlib
import json
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT

BUILD = [sys.executable, str(ROOT / "build" / "build_site.py")]


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_site_holds_pages_runtimes_wheels_and_models(site):
    for rel in ["index.html", "classify.html", "js/inpage.js", "style.css", "samples/sample-clip.webm",
                "pyodide/pyodide.mjs", "pyodide/pyodide.asm.wasm", "pyodide/python_stdlib.zip",
                "models/manifest.json", "ort/ort.wasm.min.mjs", "ort/ort-wasm-simd-threaded.wasm"]:
        assert (site / rel).is_file(), rel
    # Only the onnxruntime-web files the pages load: no JSEP/JSPI builds, no source maps, no other bundles.
    assert sorted(p.name for p in (site / "ort").iterdir()) == [
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


def test_project_wheel_is_pure_python_and_current(site):
    [wheel] = (site / "pyodide").glob("inpage-*.whl")
    assert wheel.name.endswith("-py3-none-any.whl")
    with zipfile.ZipFile(wheel) as archive:
        bridge = archive.read("inpage/jsbridge.py").decode()
    assert bridge == (ROOT / "py" / "inpage" / "jsbridge.py").read_text()


def test_models_are_copied_with_their_manifest(site):
    manifest = json.loads((site / "models" / "manifest.json").read_text())
    assert {m["name"] for m in manifest["models"]} >= {"efficientnet-lite0", "nanodet-m", "blazeface"}
    for entry in manifest["models"]:
        assert sha256(site / "models" / entry["file"]) == entry["sha256"]
        assert (site / "models" / entry["labels"]).is_file()


def test_second_build_with_nothing_changed_updates_nothing(site):
    result = subprocess.run(BUILD, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "(0 file(s) updated)" in result.stdout


def test_tampered_model_stops_the_build_naming_the_file(tmp_path, scratch_copy):
    models = scratch_copy(ROOT / "models")
    target = models / "nanodet-m-416.onnx"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    result = subprocess.run(BUILD + ["--models", str(models), "--out", str(tmp_path / "out"), "--only", "models"], capture_output=True, text=True)
    assert result.returncode == 1
    assert "nanodet-m-416.onnx" in result.stderr and "sha256" in result.stderr
    assert not (tmp_path / "out" / "models" / "nanodet-m-416.onnx").exists()


def test_missing_model_file_stops_the_build(tmp_path, scratch_copy):
    models = scratch_copy(ROOT / "models")
    (models / "blazeface-front-128.onnx").unlink()
    result = subprocess.run(BUILD + ["--models", str(models), "--out", str(tmp_path / "out"), "--only", "models"], capture_output=True, text=True)
    assert result.returncode == 1 and "blazeface-front-128.onnx" in result.stderr and "missing" in result.stderr


def test_tampered_pyodide_wheel_stops_the_build_naming_it(tmp_path, monkeypatch):
    lock = json.loads((ROOT / "node_modules" / "pyodide" / "pyodide-lock.json").read_text())
    numpy_wheel = lock["packages"]["numpy"]["file_name"]
    cache = tmp_path / "cache" / "pyodide-0.27.7"
    (cache / "carrier").mkdir(parents=True)
    # An empty carrier package, so the build cannot replace the bad wheel from PyPI behind our back.
    with zipfile.ZipFile(cache / "carrier" / "empty.whl", "w"):
        pass
    (cache / numpy_wheel).write_bytes(b"not the real numpy wheel")
    monkeypatch.setenv("INPAGE_CACHE", str(tmp_path / "cache"))
    result = subprocess.run(BUILD + ["--out", str(tmp_path / "out"), "--only", "runtime"], capture_output=True, text=True)
    assert result.returncode == 1
    assert numpy_wheel in result.stderr and "pyodide-lock.json" in result.stderr
