"""inpage as a user gets it: its wheel installed in a fresh virtual environment, then, in an empty folder,
the three commands of the README (`inpage add`, `inpage build`, `inpage serve`) with a scikit-learn model
and an image classifier of the user's, and the page's answers checked against native inpage.

No checkout and no node_modules here: the build takes Pyodide and onnxruntime-web from the npm
registry's tarballs (checked against package-lock.json's integrity) into the user cache.
"""

import json
import os
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from inpage import load_model

import makers
from conftest import ROOT, SAMPLES, PageSession, free_port, run

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with inpage's wheel (and its dependencies from the package index) installed."""
    work = tmp_path_factory.mktemp("pip")
    wheel_dir = work / "wheel"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheel_dir), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    [wheel] = wheel_dir.glob("inpage-*.whl")
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-c", str(ROOT / "constraints.txt"), str(wheel)],
                               capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return {"venv": venv, "wheel": wheel}


def inpage(installed, *args, cwd, check=True, env=None):
    result = subprocess.run([str(installed["venv"] / "bin" / "inpage"), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=900, env=env)
    if check:
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result


def test_the_wheel_carries_the_pages_and_demo_models_but_the_page_wheel_does_not(installed):
    import zipfile

    names = zipfile.ZipFile(installed["wheel"]).namelist()
    assert "inpage_tools/_assets/web/index.html" in names and "inpage_tools/_assets/web/js/worker.js" in names
    assert "inpage_tools/_assets/models/manifest.json" in names and "inpage_tools/_assets/runtime-checksums.json" in names
    assert "inpage_tools/_assets/package-lock.json" in names and "inpage_tools/ort_web_ops.json" in names
    assert "inpage/tasks/classify.py" in names and not any(n.startswith("inpage/_assets") for n in names)


def test_add_build_serve_in_an_empty_folder(installed, tmp_path, browser):
    folder = tmp_path / "my-project"
    folder.mkdir()
    made = tmp_path / "made"
    made.mkdir()
    iris, pipeline, x = makers.sklearn_pipeline(made / "iris.onnx")
    makers.classifier(made / "colours.onnx", classes=4)
    labels = made / "colours.txt"
    labels.write_text("red\ngreen\nblue\ngrey\n")
    env = {**os.environ, "INPAGE_CACHE": str(ROOT / ".cache" / "pip-installed")}  # kept between runs: the npm tarballs

    added = inpage(installed, "add", iris, cwd=folder, env=env)
    assert "added 'iris' (tabular)" in added.stdout and "ZipMap" in added.stdout
    inpage(installed, "add", made / "colours.onnx", "--labels", labels, "--mean", "0,0,0", "--std", "255,255,255", "--units", "0-255", "--resize", "stretch", cwd=folder, env=env)
    listing = inpage(installed, "models", cwd=folder, env=env).stdout
    assert "iris" in listing and "colours" in listing

    built = inpage(installed, "build", "--out", "site", cwd=folder, env=env)
    assert "built site from the project" in built.stdout
    assert (folder / "site" / "pyodide" / "pyodide.asm.wasm").is_file() and (folder / "site" / "models" / "iris.onnx").is_file()
    # The same site as static files: every file the asset index lists is there.
    index = json.loads((folder / "site" / "assets.json").read_text())
    assert all((folder / "site" / rel).is_file() for rel in index["files"])

    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([str(installed["venv"] / "bin" / "inpage"), "serve", "--site", "site", "--port", str(port), "--no-watch"],
                              cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "inpage serve did not come up"
                time.sleep(0.3)
        session = PageSession(browser, f"http://127.0.0.1:{port}/")
        page = session.open("models.html")
        rows = x[::30].tolist()
        predicted = page.evaluate("(rows) => inpage.predict('iris', rows)", rows)
        manifest = str(folder / "models" / "manifest.json")
        expected = run(_predict(manifest, rows))
        assert [p["label"] for p in predicted["predictions"]] == [p.label for p in expected] == [str(v) for v in pipeline.predict(np.array(rows, np.float32))]
        classified = page.evaluate("inpage.classify('samples/coffee.png', {topK: 4})")
        native = run(_classify(manifest, (SAMPLES / "coffee.png").read_bytes()))
        assert classified["model"] == "colours" and [p["label"] for p in classified["predictions"]] == [p.label for p in native]
        np.testing.assert_allclose([p["score"] for p in classified["predictions"]], [p.score for p in native], atol=1e-5)
        assert session.page_errors == [] and session.foreign_requests() == []
        session.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


async def _predict(manifest, rows):
    return await (await load_model("iris", manifest=manifest)).predict(rows)


async def _classify(manifest, data):
    return await (await load_model("colours", manifest=manifest)).classify(data, top_k=4)
