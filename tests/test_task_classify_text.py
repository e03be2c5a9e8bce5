"""The text-classification task (tasks/classify_text.py) natively: ``inpage add FOLDER`` on a Hugging Face
sequence-classification export (labels from ``config.json`` ``id2label``), predictions worked out by
hand from a tiny classifier over MiniLM's real tokenizer, multi-label models, options and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import run
from inpage import InvalidArgumentError, load_model
from makers import reference_ids, text_export_folder, token_table

LABELS = ("negative", "neutral", "positive")
TEXTS = ["What a lovely day!", "This is awful.", "Der Zug fährt um 8 Uhr.", ""]


def inpage(*args, cwd):
    return subprocess.run([sys.executable, "-m", "inpage_tools", *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


def logits_by_hand(texts, width=8):
    table = token_table(30522, width).astype(np.float64)
    weights = np.random.default_rng(1).standard_normal((width, len(LABELS))).astype(np.float32).astype(np.float64)
    return np.array([table[ids].mean(0) @ weights for ids in reference_ids(texts, 128)])


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    project = tmp_path_factory.mktemp("project")
    folder = text_export_folder(tmp_path_factory.mktemp("made") / "sentiment", kind="classify", labels=LABELS)
    added = inpage("add", folder, cwd=project)
    assert added.returncode == 0, added.stderr
    assert "task: classify_text (inferred" in added.stdout and "labels: 3 classes from config.json id2label" in added.stdout
    return project


def load(project, name="sentiment"):
    return run(load_model(name, manifest=str(project / "models" / "manifest.json")))


def test_the_entry(project):
    entry = json.loads((project / "models" / "manifest.json").read_text())["models"][0]
    assert entry["task"] == "classify_text" and entry["labels"] == list(LABELS)
    # No sentence_bert_config.json: the tokenizer config's model_max_length (128) is the limit.
    assert entry["text"]["max_length"] == 128
    assert "activation" not in entry  # softmax, the default


def test_predictions_by_hand(project):
    model = load(project)
    results = run(model.classify_text(TEXTS))
    logits = logits_by_hand(TEXTS)
    for predictions, row in zip(results, logits):
        probabilities = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
        order = np.argsort(-probabilities, kind="stable")
        assert [p.index for p in predictions] == list(order)
        assert [p.label for p in predictions] == [LABELS[i] for i in order]
        np.testing.assert_allclose([p.score for p in predictions], probabilities[order], atol=1e-5)
    one = run(model.classify_text(TEXTS[0], top_k=1))
    assert len(one) == 1 and one[0].index == results[0][0].index
    with pytest.raises(InvalidArgumentError, match="top_k must be a positive integer"):
        run(model.classify_text(TEXTS[0], top_k=0))
    with pytest.raises(InvalidArgumentError, match="texts\\[0\\] is a float"):
        run(model.classify_text([1.5]))
    for endless in (float("inf"), float("nan")):
        with pytest.raises(InvalidArgumentError, match="top_k must be a positive integer"):
            run(model.classify_text(TEXTS[0], top_k=endless))


def test_a_multi_label_model_scores_each_class_alone(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    folder = text_export_folder(tmp_path / "tags", kind="classify", labels=LABELS)
    config = json.loads((folder / "config.json").read_text())
    config["problem_type"] = "multi_label_classification"
    (folder / "config.json").write_text(json.dumps(config))
    added = inpage("add", folder, cwd=project)
    assert added.returncode == 0 and "through sigmoid" in added.stdout
    predictions = run(load(project, "tags").classify_text(TEXTS[0]))
    row = logits_by_hand(TEXTS[:1])[0]
    np.testing.assert_allclose(sorted(p.score for p in predictions), sorted(1 / (1 + np.exp(-row))), atol=1e-5)


def test_the_cli_classifies_texts(project):
    done = inpage("classify-text", "What a lovely day!", "This is awful.", "--top-k", "2", cwd=project)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and all(len(line.split("  ")) == 2 for line in lines)
    payload = json.loads(inpage("classify-text", "What a lovely day!", "--json", cwd=project).stdout)
    assert [p["label"] for p in payload["predictions"][0]] == [p.label for p in run(load(project).classify_text("What a lovely day!"))]
    # An embedder's command on a classifier: one line naming what the model does.
    wrong = inpage("embed", "hello", "--model", "sentiment", cwd=project)
    assert wrong.returncode != 0 and "is a classify_text model" in wrong.stderr


def test_a_one_logit_model_is_scored_through_sigmoid(tmp_path):
    """A cross-encoder or a binary head with one logit: softmax would make every text 1.0."""
    project = tmp_path / "project"
    project.mkdir()
    folder = text_export_folder(tmp_path / "relevance", kind="classify", labels=("relevant",))
    added = inpage("add", folder, cwd=project)
    assert added.returncode == 0 and "one class: its logit is scored through sigmoid" in added.stdout
    texts = ["What a lovely day!", "This is awful."]
    table = token_table(30522, 8).astype(np.float64)
    weights = np.random.default_rng(1).standard_normal((8, 1)).astype(np.float32).astype(np.float64)
    logits = np.array([(table[ids].mean(0) @ weights)[0] for ids in reference_ids(texts, 128)])
    scores = [predictions[0].score for predictions in run(load(project, "relevance").classify_text(texts))]
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-logits)), atol=1e-5)
    assert len(set(np.round(scores, 6))) == 2


def test_a_regression_model_gives_its_raw_outputs(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    folder = text_export_folder(tmp_path / "stars", kind="classify", labels=("stars",))
    config = json.loads((folder / "config.json").read_text())
    config["problem_type"] = "regression"
    (folder / "config.json").write_text(json.dumps(config))
    added = inpage("add", folder, cwd=project)
    assert added.returncode == 0 and "scores are the raw outputs" in added.stdout
    weights = np.random.default_rng(1).standard_normal((8, 1)).astype(np.float32).astype(np.float64)
    [ids] = reference_ids(["What a lovely day!"], 128)
    [prediction] = run(load(project, "stars").classify_text("What a lovely day!"))
    assert prediction.score == pytest.approx((token_table(30522, 8).astype(np.float64)[ids].mean(0) @ weights)[0], abs=1e-5)


def test_an_output_that_is_not_class_scores_is_refused(tmp_path):
    """Token vectors [N, tokens, D] with an id2label: not a classifier's scores, whatever the config says."""
    project = tmp_path / "project"
    project.mkdir()
    folder = text_export_folder(tmp_path / "tokens", kind="embed")
    (folder / "modules.json").unlink()
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = {str(i): f"c{i}" for i in range(8)}
    (folder / "config.json").write_text(json.dumps(config))
    refused = inpage("add", folder, "--task", "classify_text", cwd=project)
    assert refused.returncode != 0 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert "has shape ['batch', 'sequence', 8]; a text classifier gives class scores [N, C]" in refused.stderr


def test_a_sparse_id2label_keeps_each_name_at_its_index(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    folder = text_export_folder(tmp_path / "gappy", kind="classify", labels=LABELS)
    config = json.loads((folder / "config.json").read_text())
    config["id2label"] = {"2": "positive", "0": "negative"}  # class 1 unnamed: "positive" must stay class 2
    (folder / "config.json").write_text(json.dumps(config))
    added = inpage("add", folder, cwd=project)
    assert added.returncode == 0, added.stderr
    assert json.loads((project / "models" / "manifest.json").read_text())["models"][0]["labels"] == ["negative", "1", "positive"]
