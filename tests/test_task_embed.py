"""The text-embedding task (tasks/embed.py) natively: ``inpage add FOLDER`` on sentence-transformers-style
export folders, vectors worked out by hand from a tiny model over MiniLM's real tokenizer (the
``tokenizers`` library's ids are the reference), every pooling mode, batches padded per batch, and
hostile inputs: a 1 MB text, 10,000 texts, wrong types, damaged and unsupported tokenizers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import run
from inpage import InvalidArgumentError, load_model
from inpage.errors import ModelIntegrityError
from makers import MINILM, reference_ids, text_export_folder, token_table

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
    assert refused.stderr.strip() == f'inpage: {folder}/tokenizer.json: model type "WordLevel" is not supported (supported: BPE, Unigram, WordPiece)'
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
    # One text per line, blank lines too, so that row N is line N: a Windows file (BOM, CRLF) and
    # texts holding a form feed or U+2028, which str.splitlines() would cut, keep their rows.
    lines = ["A cat sat on the mat.", "", "Page\x0cbreak", "Line\u2028separator", "Stocks fell sharply today!"]
    listed = tmp_path / "texts.txt"
    listed.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8") + b"\r\n")
    from_file = inpage("embed", "--file", listed, "--json", cwd=project)
    assert from_file.returncode == 0, from_file.stderr
    rows = np.reshape(json.loads(from_file.stdout)["embeddings"]["data"], (-1, 8))
    np.testing.assert_allclose(rows, by_hand(lines, "mean", True), atol=1e-5)
    from_stdin = inpage("embed", "--file", "-", "--json", cwd=project, stdin="one\ntwo\nthree\n")
    assert json.loads(from_stdin.stdout)["embeddings"]["dims"] == [3, 8]
    latin1 = subprocess.run([sys.executable, "-m", "inpage_tools", "embed", "--file", "-"], cwd=project, input="caf\xe9\n".encode("latin-1"),
                            capture_output=True, timeout=300)
    assert latin1.returncode != 0 and latin1.stderr.decode().strip() == (
        "inpage: standard input is not UTF-8 text (byte 3 cannot be read); save it as UTF-8, one text per line")
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


def _axes(folder, inputs, outputs):
    import onnx

    graph = onnx.load(folder / "model.onnx")
    for values, dims in ((graph.graph.input, inputs), (graph.graph.output, outputs)):
        for value in values:
            for axis, wanted in zip(value.type.tensor_type.shape.dim, dims):
                if isinstance(wanted, int):
                    axis.dim_value = wanted
                else:
                    axis.dim_param = wanted
    onnx.save(graph, folder / "model.onnx")


def test_a_static_export_is_padded_to_its_fixed_length(tmp_path):
    """A graph exported with input_ids [1, 16] (torch.onnx.export without dynamic_axes) runs: every
    text is cut at 16 tokens and padded to 16, one text per run."""
    project = tmp_path / "project"
    project.mkdir()
    folder = text_export_folder(tmp_path / "static")
    _axes(folder, [1, 16], [1, 16, 8])
    added = inpage("add", folder, cwd=project)
    assert added.returncode == 0, added.stderr
    assert "max_length: 16 tokens (the graph's fixed sequence length" in added.stdout
    model = load(project, "static")
    shapes = _recording(model)
    texts = ["A cat sat on the mat.", "x " * 40, ""]
    vectors = run(model.embed(texts))
    assert shapes == [(1, 16)] * 3
    np.testing.assert_allclose(vectors, by_hand(texts, "mean", True, max_length=16), atol=1e-5)


def test_a_fixed_batch_of_several_texts_is_refused_at_add(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    folder = text_export_folder(tmp_path / "pairs")
    _axes(folder, [2, "sequence"], [2, "sequence", 8])
    refused = inpage("add", folder, cwd=project)
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1
    assert "takes a fixed batch of 2 texts; export the model with a dynamic batch axis" in refused.stderr


def test_modules_inpage_does_not_run_are_refused(tmp_path):
    """A Dense projection after pooling (modules.json) is part of the model: pooling without it gives
    vectors of another space, so add refuses rather than embed wrongly."""
    project = tmp_path / "project"
    project.mkdir()
    folder = text_export_folder(tmp_path / "dense")
    modules = json.loads((folder / "modules.json").read_text())
    modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
    (folder / "modules.json").write_text(json.dumps(modules))
    refused = inpage("add", folder, cwd=project)
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1
    assert "modules.json lists sentence_transformers.models.Dense" in refused.stderr and "sentence_embedding" in refused.stderr


def test_roberta_style_positions_leave_out_the_padding_offset(tmp_path):
    """RoBERTa's 514 position rows take 512 tokens: positions start after pad_token_id (1)."""
    folder = text_export_folder(tmp_path / "roberta", kind="classify")
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="roberta", max_position_embeddings=514, pad_token_id=1)
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": int(1e30)}))
    shown = inpage("inspect", folder, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "max_length: 512 tokens (config.json max_position_embeddings 514, less the 2 before the first position)" in shown.stdout
    # A tokenizer config asking for more than the positions hold is capped at them.
    (folder / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 514}))
    assert "max_length: 512 tokens" in inpage("inspect", folder, cwd=tmp_path).stdout


def test_an_output_that_is_not_there_is_named(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    folder = text_export_folder(tmp_path / "tiny")
    refused = inpage("add", folder, "--output", "nope", cwd=project)
    assert refused.returncode != 0 and refused.stderr.strip() == "inpage: the model has no output 'nope'; its outputs are last_hidden_state"


@pytest.mark.parametrize("pooling", ["mean", "cls", "max"])
def test_a_text_that_gives_no_tokens_is_refused(tmp_path, pooling):
    """Without a post-processor adding [CLS]/[SEP] (GPT-2's tokenizers have none), "" gives no token:
    there is nothing to pool, so the call says which text, rather than a zero vector or NaN."""
    tokenizer = json.loads((MINILM / "tokenizer.json").read_text(encoding="utf-8"))
    tokenizer["post_processor"] = None
    bare = tmp_path / "bare.tokenizer.json"
    bare.write_text(json.dumps(tokenizer), encoding="utf-8")
    project, _ = add_folder(tmp_path, pooling=pooling, tokenizer=bare)
    model = load(project)
    assert run(model.embed("hello")).shape == (8,)
    with pytest.raises(InvalidArgumentError) as refused:
        run(model.embed(["hello", "\t \u200b"]))
    assert str(refused.value) == ("the text '\\t \\u200b' gives no tokens with the tokenizer of model 'tiny'; "
                                  "leave out empty and whitespace-only texts")


def test_do_lower_case_lowercases_before_a_cased_tokenizer(tmp_path):
    """sentence-transformers lowercases texts itself where sentence_bert_config.json says do_lower_case,
    whatever the tokenizer does; inpage must too, or a cased tokenizer sees other tokens."""
    tokenizer = json.loads((MINILM / "tokenizer.json").read_text(encoding="utf-8"))
    tokenizer["normalizer"]["lowercase"] = False
    cased = tmp_path / "cased.tokenizer.json"
    cased.write_text(json.dumps(tokenizer), encoding="utf-8")
    folder = text_export_folder(tmp_path / "lower", tokenizer=cased)
    config = json.loads((folder / "sentence_bert_config.json").read_text())
    (folder / "sentence_bert_config.json").write_text(json.dumps({**config, "do_lower_case": True}))
    project = tmp_path / "project"
    project.mkdir()
    added = inpage("add", folder, cwd=project)
    assert added.returncode == 0 and "lowercase: texts are lowercased before tokenizing" in added.stdout
    model = load(project, "lower")
    shouted, quiet = run(model.embed(["HELLO World", "hello world"]))
    np.testing.assert_array_equal(shouted, quiet)
    np.testing.assert_allclose(quiet, by_hand(["hello world"], "mean", True)[0], atol=1e-5)


def test_a_folder_named_with_accents_and_spaces_gives_a_usable_name(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    folder = text_export_folder(tmp_path / "Crème Brûlée (v2) 模型")
    added = inpage("add", folder, cwd=project)
    assert added.returncode == 0, added.stderr
    assert json.loads((project / "models" / "manifest.json").read_text())["models"][0]["name"] == "creme-brulee-v2"


def test_another_models_tokenizer_is_refused_at_add(tmp_path):
    """RoBERTa's tokenizer (50,265 tokens) beside a graph whose word table has MiniLM's 30,522 rows:
    some texts would index past the table at run time, so add refuses it."""
    import gzip

    folder = text_export_folder(tmp_path / "mixed")
    (folder / "tokenizer.json").write_bytes(gzip.decompress((Path(__file__).parent / "fixtures/tokenizers/roberta-base.tokenizer.json.gz").read_bytes()))
    project = tmp_path / "project"
    project.mkdir()
    refused = inpage("add", folder, cwd=project)
    assert refused.returncode != 0 and refused.stderr.strip() == (
        "inpage: tokenizer.json has 50265 tokens, but the model's token table has 30522 rows: the tokenizer is another model's; "
        "export the folder again, with the tokenizer the model was trained with")


def test_a_failed_run_prints_nothing_but_the_error(tmp_path):
    """onnxruntime logs a failed run as a coloured [E:onnxruntime...] line on stderr; inpage's own
    one-line error says the same, so the log line must not appear as well."""
    project, _ = add_folder(tmp_path)
    script = (
        "import numpy as np, asyncio, inpage\n"
        "async def main():\n"
        f"    model = await inpage.load_model('tiny', manifest={str(project / 'models' / 'manifest.json')!r})\n"
        "    ids = np.array([[40000]])  # past the 30,522-row table\n"
        "    try:\n"
        "        await model.run({'input_ids': ids, 'attention_mask': np.ones_like(ids), 'token_type_ids': np.zeros_like(ids)})\n"
        "    except inpage.InpageError as exc:\n"
        "        print(type(exc).__name__)\n"
        "asyncio.run(main())\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "InferenceError", done.stderr
    assert done.stderr == ""
