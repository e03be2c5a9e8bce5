"""The text-embedding task (tasks/embed.py) natively: ``inpage add FOLDER`` on sentence-transformers-style
export folders, vectors worked out by hand from a tiny model over MiniLM's real tokenizer (the
``tokenizers`` library's ids are the reference), every pooling mode, batches padded per batch, and
hostile inputs: a 1 MB text, 10,000 texts, wrong types, damaged and unsupported tokenizers."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import run
from inpage import InvalidArgumentError, load_model
from inpage.errors import ModelIntegrityError
from makers import reference_ids, text_export_folder, token_table

TEXTS = ["A cat sat on the mat.", "Stocks fell sharply today!", "", "Crème brûlée 🍮 和 寿司", "x " * 40]


def inpage(*args, cwd, stdin=None):
    return subprocess.run([sys.executable, "-m", "inpage_tools", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300, input=stdin)


def by_hand(texts, pooling, normalize, width=8, max_length=64):
    """What the tiny embedder must give: each text's token rows of the table, pooled, maybe normalised."""
    table = token_table(30522, width).astype(np.float64)
    vectors = []
    for ids in reference_ids(texts, max_length):
        rows = table[ids]
        vector = {"mean": rows.mean(0), "cls": rows[0], "max": rows.max(0), "mean_sqrt_len": rows.sum(0) / np.sqrt(len(ids))}[pooling]
        if normalize:
            vector = vector / np.linalg.norm(vector)
        vectors.append(vector)
    return np.array(vectors)


def add_folder(tmp_path, name="tiny", **kwargs):
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    folder = text_export_folder(tmp_path / name, **kwargs)
    added = inpage("add", folder, cwd=project)
    assert added.returncode == 0, added.stderr
    return project, added


def load(project, name="tiny"):
    return run(load_model(name, manifest=str(project / "models" / "manifest.json")))


def test_add_folder_writes_the_text_entry(tmp_path):
    project, added = add_folder(tmp_path)
    entry = json.loads((project / "models" / "manifest.json").read_text())["models"][0]
    assert entry["task"] == "embed" and entry["file"] == "tiny/model.onnx"
    assert entry["text"] == {"tokenizer": "tiny/tokenizer.json", "max_length": 64,
                             "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask", "token_type_ids": "token_type_ids"}}
    assert entry["head"] == {"pooling": "mean"} and entry["options"] == {"normalize": True}
    # The tokenizer and the configs are bundled beside the model, each with its sha256.
    assert set(entry["files"]) == {"tiny/tokenizer.json", "tiny/config.json", "tiny/tokenizer_config.json", "tiny/modules.json",
                                   "tiny/sentence_bert_config.json", "tiny/1_Pooling/config.json"}
    import hashlib
    for path, digest in entry["files"].items():
        assert hashlib.sha256((project / "models" / path).read_bytes()).hexdigest() == digest
    assert "pooling: mean (from 1_Pooling/config.json)" in added.stdout
    assert "max_length: 64 tokens (from sentence_bert_config.json)" in added.stdout
    assert "task: embed (inferred" in added.stdout


@pytest.mark.parametrize("pooling", ["mean", "cls", "max", "mean_sqrt_len"])
def test_vectors_by_hand(tmp_path, pooling):
    project, _ = add_folder(tmp_path, pooling=pooling)
    model = load(project)
    vectors = run(model.embed(TEXTS))
    assert vectors.shape == (len(TEXTS), 8) and vectors.dtype == np.float32
    np.testing.assert_allclose(vectors, by_hand(TEXTS, pooling, True), atol=1e-5)
    # One text gives one vector, the same as in a batch (padding changes nothing).
    single = run(model.embed(TEXTS[3]))
    assert single.shape == (8,)
    np.testing.assert_allclose(single, vectors[3], atol=1e-6)
    raw = run(model.embed(TEXTS, normalize=False))
    np.testing.assert_allclose(raw, by_hand(TEXTS, pooling, False), atol=1e-4)


def test_no_normalize_module_means_raw_vectors(tmp_path):
    project, added = add_folder(tmp_path, normalize=False, pooling=None)
    assert "normalize: off" in added.stdout and "pooling: mean over the text's tokens (no 1_Pooling" in added.stdout
    np.testing.assert_allclose(run(load(project).embed(TEXTS[:2])), by_hand(TEXTS[:2], "mean", False), atol=1e-4)


def test_onnx_subfolder_and_a_subset_of_inputs(tmp_path):
    project, _ = add_folder(tmp_path, onnx_subfolder=True, inputs=("input_ids", "attention_mask"))
    entry = json.loads((project / "models" / "manifest.json").read_text())["models"][0]
    assert entry["text"]["inputs"] == {"input_ids": "input_ids", "attention_mask": "attention_mask"}
    np.testing.assert_allclose(run(load(project).embed(TEXTS)), by_hand(TEXTS, "mean", True), atol=1e-5)


def _recording(model):
    shapes = []
    session_run = model.session.run

    async def recorded(feeds):
        shapes.append(feeds["input_ids"].shape)
        return await session_run(feeds)

    model.session.run = recorded
    return shapes


def test_a_megabyte_text_is_cut_at_max_length(tmp_path):
    project, _ = add_folder(tmp_path)
    model = load(project)
    shapes = _recording(model)
    huge = ("naïve café déjà vu " * 60000)[:1_000_000]
    vector = run(model.embed(huge))
    assert shapes == [(1, 64)]
    np.testing.assert_allclose(vector, by_hand([huge], "mean", True)[0], atol=1e-5)


def test_ten_thousand_texts_run_in_bounded_batches(tmp_path):
    project, _ = add_folder(tmp_path)
    model = load(project)
    shapes = _recording(model)
    texts = [f"text number {i}" + " more" * (i % 7) for i in range(10_000)]
    vectors = run(model.embed(texts))
    assert vectors.shape == (10_000, 8)
    # At most 32 texts per run, each batch padded to its own longest text, not to max_length.
    assert max(rows for rows, _ in shapes) == 32 and len(shapes) == 313
    assert max(columns for _, columns in shapes) < 20
    np.testing.assert_allclose(vectors[[0, 4321, 9999]], by_hand([texts[0], texts[4321], texts[9999]], "mean", True), atol=1e-5)


@pytest.mark.parametrize("texts, message", [
    (123, "embed() takes a string or a list of strings, not int"),
    (["fine", 3], "texts[1] is an int (3); each text must be a string"),
    (["fine", None], "texts[1] is null"),
    ([], "embed() got an empty list"),
    ({"text": "x"}, "not dict"),
])
def test_wrong_inputs_get_one_line(tmp_path, texts, message):
    project, _ = add_folder(tmp_path)
    with pytest.raises(InvalidArgumentError, match=re.escape(message)):
        run(load(project).embed(texts))


def test_a_tampered_tokenizer_is_refused_at_load(tmp_path):
    project, _ = add_folder(tmp_path)
    path = project / "models" / "tiny" / "tokenizer.json"
    path.write_text(path.read_text().replace('"[UNK]"', '"[UNKNOWN]"', 1))
    with pytest.raises(ModelIntegrityError, match="tiny/tokenizer.json does not match its sha256"):
        load(project)


def test_add_refuses_what_it_cannot_run(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    folder = text_export_folder(tmp_path / "wordlevel")
    tokenizer = json.loads((folder / "tokenizer.json").read_text())
    tokenizer["model"]["type"] = "WordLevel"
    (folder / "tokenizer.json").write_text(json.dumps(tokenizer))
    refused = inpage("add", folder, cwd=project)
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1
    assert "WordLevel" in refused.stderr and "not supported" in refused.stderr
    assert not (project / "models").exists(), "a refused add leaves nothing behind"

    (folder / "tokenizer.json").unlink()
    refused = inpage("add", folder, cwd=project)
    assert refused.returncode != 0 and "has no tokenizer.json" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1

    empty = tmp_path / "empty"
    empty.mkdir()
    refused = inpage("add", empty, cwd=project)
    assert refused.returncode != 0 and "holds no model.onnx" in refused.stderr


def test_the_cli_embeds_texts(tmp_path):
    project, _ = add_folder(tmp_path)
    done = inpage("embed", "A cat sat on the mat.", "Stocks fell sharply today!", "--json", cwd=project)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["embeddings"]["dims"] == [2, 8]
    np.testing.assert_allclose(np.reshape(payload["embeddings"]["data"], (2, 8)), by_hand(TEXTS[:2], "mean", True), atol=1e-5)
    listed = tmp_path / "texts.txt"
    listed.write_text("A cat sat on the mat.\n\nStocks fell sharply today!\n", encoding="utf-8")
    from_file = inpage("embed", "--file", listed, cwd=project)
    assert from_file.returncode == 0 and len(from_file.stdout.strip().splitlines()) == 2
    from_stdin = inpage("embed", "--file", "-", "--json", cwd=project, stdin="one\ntwo\nthree\n")
    assert json.loads(from_stdin.stdout)["embeddings"]["dims"] == [3, 8]
    nothing = inpage("embed", cwd=project)
    assert nothing.returncode != 0 and "give the texts" in nothing.stderr and len(nothing.stderr.strip().splitlines()) == 1


def test_minilm_natively_equals_onnxruntime_fed_the_reference_ids():
    """Native = reference: the bundled all-MiniLM-L6-v2 through inpage against onnxruntime fed the
    ``tokenizers`` library's ids, pooled and normalised as sentence-transformers does."""
    import onnxruntime as ort

    from makers import MINILM

    texts = ["A man is eating food.", "A man is eating a piece of bread.", "The girl is carrying a baby.",
             "Crème brûlée 🍮 和 寿司", "", "The quick brown fox jumps over the lazy dog. " * 40]
    model = run(load_model("all-minilm-l6-v2", manifest=str(MINILM.parent / "manifest.json"), variant="base"))
    ours = run(model.embed(texts))
    session = ort.InferenceSession(str(MINILM / "model.onnx"), providers=["CPUExecutionProvider"])
    expected = []
    for ids in reference_ids(texts, 256):
        feeds = {"input_ids": np.array([ids]), "attention_mask": np.ones((1, len(ids)), np.int64), "token_type_ids": np.zeros((1, len(ids)), np.int64)}
        vector = session.run(None, feeds)[0][0].mean(axis=0)
        expected.append(vector / np.linalg.norm(vector))
    cosines = np.sum(ours * np.array(expected), axis=1)
    assert cosines.min() >= 0.99999
    # And it means something: eating is closer to eating than to carrying a baby.
    assert ours[0] @ ours[1] > 0.6 > ours[0] @ ours[2]


def test_inspect_reads_an_export_folder_without_writing(tmp_path):
    folder = text_export_folder(tmp_path / "tiny", pooling="max")
    shown = inpage("inspect", folder, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "inpage add would write: task embed" in shown.stdout and "pooling: max (from 1_Pooling/config.json)" in shown.stdout
    assert not (tmp_path / "models").exists()
