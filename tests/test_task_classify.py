"""The classify task on hand-built score outputs: softmax, sigmoid or none, top-k order and labels, and the checks on both."""

import numpy as np
import pytest
from PIL import Image

from inpage.errors import InferenceError, InvalidArgumentError
from inpage.manifest import parse_entry
from inpage.tasks import get_task
from inpage.tasks.classify import Prediction


def classify_task(labels=("a", "b", "c"), activation=None, outputs=None, output=None, options=None):
    """The classify task for a 4x4 float32 NCHW input and one ``[1, C]`` output called ``logits``."""
    entry = {
        "name": "clf", "task": "classify", "file": "clf.onnx", "sha256": "0" * 64,
        "inputs": [{"name": "pixels", "dtype": "float32", "shape": [1, 3, 4, 4]}],
        "outputs": outputs or [{"name": "logits", "dtype": "float32", "shape": [1, len(labels) if labels else 3]}],
        "image": {"input": "pixels", "layout": "NCHW", "resize": "stretch"},
        "options": options or {},
    }
    if labels is not None:
        entry["labels"] = list(labels)
    if activation:
        entry["activation"] = activation
    if output:
        entry["output"] = output
    return get_task("classify")(parse_entry(entry))


def classify(task, scores, name="logits", **given):
    """Run the task's own prepare on a small image, then finish on ``scores`` as the model's output."""
    options = task.options(given)
    feeds, context = task.prepare(Image.new("RGB", (10, 6), (255, 0, 0)), options)
    assert feeds["pixels"].shape == (1, 3, 4, 4)
    return task.finish({name: np.asarray(scores, np.float32)}, context, options)


def test_softmax_of_logits_best_first():
    task = classify_task()
    # Logits ln 1, ln 2, ln 5: softmax gives 1/8, 2/8, 5/8.
    top = classify(task, [np.log([1.0, 2.0, 5.0])], top_k=2)
    assert [(p.index, p.label) for p in top] == [(2, "c"), (1, "b")]
    assert [p.score for p in top] == pytest.approx([0.625, 0.25], abs=1e-6)
    assert task.payload(top) == {"predictions": [{"index": 2, "label": "c", "score": pytest.approx(0.625, abs=1e-6)},
                                                 {"index": 1, "label": "b", "score": pytest.approx(0.25, abs=1e-6)}]}


def test_sigmoid_scores_each_class_on_its_own():
    task = classify_task(activation="sigmoid")
    # sigmoid(0) = 1/2, sigmoid(ln 3) = 3/4, sigmoid(-ln 3) = 1/4: they need not sum to 1.
    top = classify(task, [[0.0, np.log(3.0), -np.log(3.0)]])
    assert [(p.label, p.score) for p in top] == [("b", pytest.approx(0.75)), ("a", pytest.approx(0.5)), ("c", pytest.approx(0.25))]


def test_none_takes_the_scores_as_they_are_and_ties_keep_the_lower_index_first():
    task = classify_task(labels=("a", "b", "c", "d"), activation="none")
    # Already probabilities: not squashed again (softmax would make 0.4 into e^0.4 / sum = 0.28...).
    # The tie between a and c goes to the lower index (top_k's own rule, see test_postprocess.py).
    top = classify(task, [[0.4, 0.1, 0.4, 0.1]], top_k=3)
    assert [(p.label, p.score) for p in top] == [("a", pytest.approx(0.4)), ("c", pytest.approx(0.4)), ("b", pytest.approx(0.1))]


def test_top_k_beyond_the_class_count_gives_every_class():
    task = classify_task(activation="none")
    assert [p.label for p in classify(task, [[0.2, 0.5, 0.3]], top_k=10)] == ["b", "c", "a"]


def test_a_four_dimensional_output_and_no_labels():
    task = classify_task(labels=None, activation="none", outputs=[{"name": "logits", "dtype": "float32", "shape": [1, 3, 1, 1]}])
    top = classify(task, np.array([0.1, 0.7, 0.2]).reshape(1, 3, 1, 1), top_k=1)
    assert top == [Prediction(1, "class 1", pytest.approx(0.7))]


def test_the_named_output_is_read_when_there_are_several():
    outputs = [{"name": "features", "dtype": "float32", "shape": [1, 5]}, {"name": "probs", "dtype": "float32", "shape": [1, 3]}]
    task = classify_task(activation="none", outputs=outputs, output="probs")
    options = task.options({"top_k": 1})
    _, context = task.prepare(Image.new("RGB", (4, 4)), options)
    # The features would say index 4 (and there are only 3 labels); the probabilities say b.
    top = task.finish({"features": np.array([[0, 0, 0, 0, 9]], np.float32), "probs": np.array([[0.2, 0.5, 0.3]], np.float32)}, context, options)
    assert [(p.index, p.label) for p in top] == [(1, "b")]


def test_a_label_count_that_does_not_match_the_scores_is_an_inference_error():
    # A dynamic class dimension passes the manifest check; the run finds 4 scores for 3 labels.
    task = classify_task(outputs=[{"name": "logits", "dtype": "float32", "shape": ["N", "C"]}])
    with pytest.raises(InferenceError, match="model 'clf' gave 4 scores, but its manifest has 3 labels"):
        classify(task, [[0.1, 0.2, 0.3, 0.4]])


def test_options_name_the_argument_and_default_to_the_manifest():
    # Bad strings, zero, fractions and unknown options are also checked in test_model.py, on a real model.
    task = classify_task(options={"top_k": 2})
    assert task.options({}) == {"top_k": 2} and task.options({"top_k": None}) == {"top_k": 2}
    assert task.options({"top_k": 3.0}) == {"top_k": 3}
    for given, message in [({"top_k": True}, "top_k must be a positive integer, not True"),
                           ({"top_k": -3}, "top_k must be a positive integer, not -3"),
                           ({"threshold": 0.5}, r"classify\(\) got unknown option\(s\) threshold; it takes: top_k")]:
        with pytest.raises(InvalidArgumentError, match=message):
            task.options(given)
    with pytest.raises(InvalidArgumentError, match="top_k must be a positive integer, not 'three'"):
        classify_task(options={"top_k": "three"}).options({})
