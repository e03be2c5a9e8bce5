"""The tabular task on hand-built outputs: labels and probabilities named through head.classes or labels, regressors' values, and row checks."""

import json

import numpy as np
import pytest

from inpage.errors import InvalidArgumentError, ManifestError
from inpage.manifest import parse_entry
from inpage.tasks import get_task
from inpage.tasks.tabular import TabularPrediction

IRIS = ["setosa", "versicolor", "virginica"]


def tabular_task(outputs, head=None, labels=None, features=4, dtype="float32", output=None):
    """The tabular task for one ``[N, features]`` input called ``X`` and the given outputs."""
    entry = {
        "name": "iris", "task": "tabular", "file": "iris.onnx", "sha256": "0" * 64,
        "inputs": [{"name": "X", "dtype": dtype, "shape": ["N", features]}],
        "outputs": outputs,
        "head": head or {},
    }
    if labels is not None:
        entry["labels"] = labels
    if output:
        entry["output"] = output
    return get_task("tabular")(parse_entry(entry))


# What skl2onnx gives a classifier, once inpage add has turned its ZipMap into a plain [N, C] tensor:
# the same as a classifier exported without ZipMap.
CLASSIFIER_OUTPUTS = [{"name": "output_label", "dtype": "int64", "shape": ["N"]},
                      {"name": "output_probability", "dtype": "float32", "shape": ["N", 3]}]
CLASSIFIER_HEAD = {"label_output": "output_label", "probability_output": "output_probability"}
STRING_OUTPUTS = [{"name": "output_label", "dtype": "string", "shape": ["N"]},
                  {"name": "output_probability", "dtype": "float32", "shape": ["N", 3]}]


def predict(task, label, probabilities):
    """finish() on one row's outputs: ``label`` in the label output (if any), ``probabilities`` as [1, C]."""
    outputs = {"output_probability": np.array([probabilities], np.float32)}
    if label is not None:
        outputs["output_label"] = np.array([label])
    return task.finish(outputs, None, task.options({}))


def test_rows_are_written_into_the_batch_one_slot_each():
    task = tabular_task(CLASSIFIER_OUTPUTS, CLASSIFIER_HEAD)
    rows = task.split([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    assert len(rows) == 2 and rows[0].dtype == np.float32
    feeds, _ = task.prepare(rows[0], {}, slot=0, batch=2)
    feeds, _ = task.prepare(rows[1], {}, slot=1, batch=2)
    np.testing.assert_array_equal(feeds["X"], np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], np.float32))
    # One row on its own is a batch of one row.
    assert [r.tolist() for r in task.split([1, 2, 3, 4])] == [[1, 2, 3, 4]]


def test_head_classes_map_the_models_own_classes_to_label_names():
    # The model predicts its own class 20, the second of its classes [10, 20, 30]: labels[1].
    task = tabular_task(CLASSIFIER_OUTPUTS, {**CLASSIFIER_HEAD, "classes": [10, 20, 30]}, labels=IRIS)
    prediction = predict(task, 20, [0.2, 0.5, 0.3])
    assert (prediction.label, prediction.index) == ("versicolor", 1)
    assert prediction.probabilities == {"setosa": pytest.approx(0.2), "versicolor": pytest.approx(0.5), "virginica": pytest.approx(0.3)}
    assert prediction.value is None
    assert json.loads(json.dumps(task.payload([prediction])))["predictions"][0]["label"] == "versicolor"


def test_the_label_output_wins_over_the_largest_probability():
    # An SVC's predict() and its Platt-scaled probabilities can disagree; the model's own label is the prediction.
    task = tabular_task(CLASSIFIER_OUTPUTS, {**CLASSIFIER_HEAD, "classes": [0, 1, 2]}, labels=IRIS)
    prediction = predict(task, 2, [0.4, 0.35, 0.25])
    assert (prediction.label, prediction.index) == ("virginica", 2)


@pytest.mark.parametrize("label", ["virginica", b"virginica"])
def test_string_labels_are_found_among_the_labels(label):
    task = tabular_task(STRING_OUTPUTS, CLASSIFIER_HEAD, labels=IRIS)
    # The probabilities favour setosa (see the SVC case above): the index must come from the label's name.
    outputs = {"output_label": np.array([label], dtype=object), "output_probability": np.array([[0.4, 0.35, 0.25]], np.float32)}
    prediction = task.finish(outputs, None, task.options({}))
    assert (prediction.label, prediction.index) == ("virginica", 2)
    assert list(prediction.probabilities) == IRIS


def test_a_label_without_labels_is_reported_as_the_model_gives_it():
    task = tabular_task(STRING_OUTPUTS, CLASSIFIER_HEAD)
    prediction = predict(task, "spam", [0.9, 0.05, 0.05])
    # No names for the columns: index is the largest probability's, the probabilities are "class i".
    assert (prediction.label, prediction.index) == ("spam", 0)
    assert prediction.probabilities == {"class 0": pytest.approx(0.9), "class 1": pytest.approx(0.05), "class 2": pytest.approx(0.05)}


def test_probabilities_alone_give_the_largest_class():
    task = tabular_task([{"name": "output_probability", "dtype": "float32", "shape": ["N", 3]}],
                        {"probability_output": "output_probability"}, labels=IRIS)
    prediction = predict(task, None, [0.1, 0.6, 0.3])
    assert (prediction.label, prediction.index) == ("versicolor", 1)


def test_a_regressor_gives_its_values():
    task = tabular_task([{"name": "variable", "dtype": "float32", "shape": ["N", 1]}])
    prediction = task.finish({"variable": np.array([[2.5]], np.float32)}, None, task.options({}))
    assert prediction == TabularPrediction(label=None, index=None, probabilities=None, value=[2.5])
    assert task.payload([prediction]) == {"predictions": [{"label": None, "index": None, "probabilities": None, "value": [2.5]}]}


def test_a_multi_target_regressor_reads_the_named_output():
    outputs = [{"name": "debug", "dtype": "float32", "shape": ["N", 4]}, {"name": "targets", "dtype": "float32", "shape": ["N", 2]}]
    task = tabular_task(outputs, output="targets")
    prediction = task.finish({"debug": np.full((1, 4), 9.0, np.float32), "targets": np.array([[1.5, -0.5]], np.float32)}, None, {})
    assert prediction.value == [1.5, -0.5]


def test_rows_and_options_are_checked_naming_the_argument():
    task = tabular_task(CLASSIFIER_OUTPUTS, CLASSIFIER_HEAD)
    for rows, message in [([[1, 2, 3]], r"each row must have 4 features \(model 'iris'\), not 3"),
                          ([[1, 2, float("nan"), 4]], "rows must hold finite numbers"),
                          ([["a", "b", "c", "d"]], "rows must be a list of rows of numbers"),
                          (np.zeros((0, 4)), r"rows must be a non-empty 2-D table of numbers, not shape \[0, 4\]"),
                          ([[[1, 2, 3, 4]]], r"not shape \[1, 1, 4\]")]:
        with pytest.raises(InvalidArgumentError, match=message):
            task.split(rows)
    with pytest.raises(InvalidArgumentError, match=r"predict\(\) got unknown option\(s\) top_k; it takes: none"):
        task.options({"top_k": 1})


def test_integer_feature_inputs_get_integer_rows():
    task = tabular_task([{"name": "y", "dtype": "float32", "shape": ["N", 1]}], features=2, dtype="int64")
    (row,) = task.split([[3, 4]])
    assert row.dtype == np.int64 and row.tolist() == [3, 4]


def test_manifest_head_problems_name_the_field():
    with pytest.raises(ManifestError, match=r"head.label_output names 'label', which is not among the outputs"):
        tabular_task(CLASSIFIER_OUTPUTS, {"label_output": "label"})
    with pytest.raises(ManifestError, match="head.classes has 2 classes, but labels has 3 names"):
        tabular_task(CLASSIFIER_OUTPUTS, {**CLASSIFIER_HEAD, "classes": [0, 1]}, labels=IRIS)
    with pytest.raises(ManifestError, match="labels has 2 entries, but output 'output_probability' gives 3 probabilities"):
        tabular_task([CLASSIFIER_OUTPUTS[0], {**CLASSIFIER_OUTPUTS[1], "shape": ["N", 3]}], CLASSIFIER_HEAD, labels=["a", "b"])
