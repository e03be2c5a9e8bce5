"""The image-embedding task (tasks/embed_image.py), added as one module: hand-checked vectors from a tiny
embedder, and the same task through every door a task gets from its module alone: the Python API, the
CLI, ``window.inpage`` and the models page, with the page giving native's answer."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PIL import Image

from conftest import PageSession, Server, build, run
from inpage import InvalidArgumentError, load_model

# Channels are fed as pixel / 255 (mean 0, std 1, units 0-1), so a solid colour's vector is easy to work out.
PLAIN = ["--mean", "0,0,0", "--std", "1,1,1", "--units", "0-1", "--resize", "stretch"]


def average_colour_embedder(path):
    """[1, 3, 8, 8] -> GlobalAveragePool -> Flatten -> [1, 3]: the image's mean colour is its embedding."""
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["pixels"], ["pooled"]), helper.make_node("Flatten", ["pooled"], ["vector"])],
        "embedder",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("vector", TensorProto.FLOAT, [1, 3])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)
    return path


def png(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), colour).save(buffer, "PNG")
    return buffer.getvalue()


def inpage(*args, cwd):
    return subprocess.run([sys.executable, "-m", "inpage_tools", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    folder = tmp_path_factory.mktemp("embedder")
    model = average_colour_embedder(tmp_path_factory.mktemp("made") / "colours.onnx")
    added = inpage("add", model, "--task", "embed_image", *PLAIN, cwd=folder)
    assert added.returncode == 0, added.stderr
    return folder


def test_vectors_by_hand(project):
    model = run(load_model("colours", manifest=str(project / "models" / "manifest.json")))
    # Red is (1, 0, 0) after pixel / 255; its mean is the same, and already of length 1.
    np.testing.assert_allclose(run(model.embed_image(png((255, 0, 0)))), [1, 0, 0], atol=1e-6)
    # Yellow is (1, 1, 0): length sqrt(2), so (0.7071, 0.7071, 0) once normalised.
    yellow = run(model.embed_image(png((255, 255, 0))))
    np.testing.assert_allclose(yellow, [2 ** -0.5, 2 ** -0.5, 0], atol=1e-6)
    assert yellow.dtype == np.float32
    # Unnormalised: grey 51 is 0.2 in every channel.
    np.testing.assert_allclose(run(model.embed_image(png((51, 51, 51)), normalize=False)), [0.2, 0.2, 0.2], atol=1e-6)
    # Black has no direction: it stays the zero vector rather than becoming NaN.
    np.testing.assert_array_equal(run(model.embed_image(png((0, 0, 0)))), [0, 0, 0])
    # A batch gives one vector per image, in order.
    red, yellow_again = run(model.embed_image([png((255, 0, 0)), png((255, 255, 0))]))
    assert float(red @ yellow_again) == pytest.approx(2 ** -0.5, abs=1e-6)
    with pytest.raises(InvalidArgumentError, match="normalize must be true or false"):
        run(model.embed_image(png((255, 0, 0)), normalize="yes"))
    with pytest.raises(InvalidArgumentError, match="top_k"):
        run(model.embed_image(png((255, 0, 0)), top_k=3))


def test_the_cli_has_a_command_for_it(project, tmp_path):
    image = tmp_path / "yellow.png"
    image.write_bytes(png((255, 255, 0)))
    text = inpage("embed-image", image, cwd=project)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("3-dimensional embedding, length 1.0000: 0.7071 0.7071 0.0000"), text.stdout
    data = json.loads(inpage("embed-image", image, "--normalize", "false", "--json", cwd=project).stdout)
    assert data["model"] == "colours" and data["embedding"]["dims"] == [3]
    np.testing.assert_allclose(data["embedding"]["data"], [1, 1, 0], atol=1e-6)


def test_the_page_has_it_and_agrees_with_native(project, browser, tmp_path):
    out = tmp_path / "site"
    result = build(out, project)
    assert result.returncode == 0, result.stderr
    assert {"task": "embed_image", "method": "embedImage", "pythonMethod": "embed_image", "input": "image",
            "options": {"normalize": True}, "display": {}} in json.loads((out / "tasks.json").read_text())["tasks"]
    server = Server(out)
    session = PageSession(browser, server.url)
    try:
        page = session.open("models.html")
        colour = (200, 120, 40)
        reply = page.evaluate(
            """async (b64) => {
                const blob = new Blob([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], {type: 'image/png'});
                const {embedding, model} = await inpage.embedImage(blob);
                return {data: Array.from(embedding.data), dims: embedding.dims, model};
            }""",
            base64.b64encode(png(colour)).decode(),
        )
        model = run(load_model("colours", manifest=str(project / "models" / "manifest.json")))
        native = run(model.embed_image(png(colour)))
        assert reply["model"] == "colours" and reply["dims"] == [3]
        np.testing.assert_allclose(reply["data"], native, atol=1e-6)
        # The models page offers it with an image to try, and shows the result.
        card = page.locator("[data-model='colours']")
        card.wait_for()
        assert card.locator(".task").inner_text() == "embed_image"
        assert card.locator(".image-input").is_visible() and not card.locator(".rows-input").is_visible()
        card.locator(".file").set_input_files(files=[{"name": "c.png", "mimeType": "image/png", "buffer": png(colour)}])
        page.wait_for_function("document.querySelector(\"[data-model='colours'] .result\").textContent.includes('wasm')")
        assert "embedding" in card.locator(".result").inner_text()
        assert session.page_errors == [] and session.foreign_requests() == []
    finally:
        session.close()
        server.stop()
