"""The run task: feeds checked against the model's inputs and converted to their dtypes, outputs handed back as copies."""

import numpy as np
import pytest

from inpage.errors import InvalidArgumentError
from inpage.manifest import parse_entry
from inpage.tasks import get_task


def run_task():
    """A run-only model with four inputs: int64 token ids (dynamic batch and length), a float32 scale, uint8 pixels and a string."""
    spec = parse_entry({
        "name": "words", "task": "run", "file": "words.onnx", "sha256": "0" * 64,
        "inputs": [{"name": "ids", "dtype": "int64", "shape": ["batch", "seq"]},
                   {"name": "scale", "dtype": "float32", "shape": [1]},
                   {"name": "pixels", "dtype": "uint8", "shape": [1, 2, 2]},
                   {"name": "text", "dtype": "string", "shape": [1]}],
        "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", "seq", 2]}],
    })
    return get_task("run")(spec)


def good_feeds(**overrides):
    feeds = {"ids": [[1, 2, 3]], "scale": [0.5], "pixels": np.zeros((1, 2, 2), np.uint8), "text": ["hello"]}
    feeds.update(overrides)
    return feeds


def prepare(task, feeds):
    prepared, context = task.prepare(feeds, task.options({}))
    assert context is None
    return prepared


def test_feeds_are_converted_to_each_inputs_dtype():
    task = run_task()
    feeds = prepare(task, good_feeds(scale=np.array([0.25]), pixels=[[[0, 255], [7, 8]]]))
    assert list(feeds) == ["ids", "scale", "pixels", "text"]  # in the model's input order
    # Python ints -> int64; float64 -> float32 (floats may narrow); Python ints -> uint8; strings -> objects.
    assert feeds["ids"].dtype == np.int64 and feeds["ids"].tolist() == [[1, 2, 3]]
    assert feeds["scale"].dtype == np.float32 and feeds["scale"].tolist() == [0.25]
    assert feeds["pixels"].dtype == np.uint8 and feeds["pixels"].tolist() == [[[0, 255], [7, 8]]]
    assert feeds["text"].dtype == object and feeds["text"].tolist() == ["hello"]
    # Integers and booleans may feed a float input; an int32 array widens to int64.
    assert prepare(task, good_feeds(scale=[2]))["scale"].tolist() == [2.0]
    assert prepare(task, good_feeds(scale=np.array([True])))["scale"].tolist() == [1.0]
    assert prepare(task, good_feeds(ids=np.array([[4, 5]], np.int32)))["ids"].dtype == np.int64


def test_dynamic_dimensions_take_any_size_and_views_become_contiguous():
    task = run_task()
    ids = np.arange(12, dtype=np.int64).reshape(3, 4).T  # a transposed view, 4x3
    feeds = prepare(task, good_feeds(ids=ids))
    assert feeds["ids"].shape == (4, 3) and feeds["ids"].flags.c_contiguous
    np.testing.assert_array_equal(feeds["ids"], [[0, 4, 8], [1, 5, 9], [2, 6, 10], [3, 7, 11]])


@pytest.mark.parametrize("overrides, message", [
    ({"ids": [[1.5, 2.0]]}, "input 'ids' takes int64, not float64"),  # floats may not feed an integer input
    ({"pixels": np.zeros((1, 2, 2), np.float32)}, "input 'pixels' takes uint8, not float32"),
    ({"scale": ["0.5"]}, "input 'scale' must be an array of float32, not "),  # text is not a number, even text of one
    ({"pixels": np.zeros((1, 2, 3), np.uint8)}, r"input 'pixels' must have shape pixels uint8\[1, 2, 2\], not \[1, 2, 3\] \(axis 2\)"),
    ({"scale": [0.5, 0.5]}, r"input 'scale' must have shape scale float32\[1\], not \[2\] \(axis 0\)"),
    ({"mask": [[1, 1, 1]]}, r"unknown input\(s\) 'mask'; the model's inputs are 'ids', 'scale', 'pixels', 'text'"),
])
def test_bad_feeds_name_the_input(overrides, message):
    # test_model.py checks the rank and a non-dict on a real model; these are the dtype rules and the messages' detail.
    with pytest.raises(InvalidArgumentError, match=message):
        prepare(run_task(), good_feeds(**overrides))


def test_missing_inputs_are_all_named():
    feeds = good_feeds()
    del feeds["scale"], feeds["text"]
    with pytest.raises(InvalidArgumentError, match=r"missing input\(s\) 'scale', 'text'; the model's inputs are"):
        prepare(run_task(), feeds)


def test_integers_out_of_the_inputs_range_are_refused():
    # numpy would wrap 300 to 44 and -1 to 255 in uint8: a silently wrong input.
    with pytest.raises(InvalidArgumentError, match=r"'pixels' takes uint8 \(0\.\.255\); 300 does not fit"):
        prepare(run_task(), good_feeds(pixels=[[[0, 300], [1, 8]]]))
    with pytest.raises(InvalidArgumentError, match=r"-1 does not fit"):
        prepare(run_task(), good_feeds(pixels=[[[0, 3], [-1, 8]]]))
    # Values that fit pass, whatever integer type carried them.
    feeds = prepare(run_task(), good_feeds(pixels=np.array([[[0, 255], [1, 8]]], np.int64)))
    assert feeds["pixels"].dtype == np.uint8 and feeds["pixels"].tolist() == [[[0, 255], [1, 8]]]


def test_outputs_are_copies_that_the_next_run_cannot_overwrite():
    task = run_task()
    buffer = np.arange(6, dtype=np.float32).reshape(1, 3, 2)  # a session's reused output buffer
    result = task.finish({"logits": buffer}, None, {})
    buffer[:] = -1  # the next run writes into it
    assert result["logits"].tolist() == [[[0, 1], [2, 3], [4, 5]]] and result["logits"].dtype == np.float32
    assert task.payload(result) == {"outputs": result}


def test_run_takes_no_options_and_never_splits_its_feeds():
    task = run_task()
    with pytest.raises(InvalidArgumentError, match=r"run\(\) got unknown option\(s\) top_k; it takes: none"):
        task.options({"top_k": 1})
    assert task.split([good_feeds(), good_feeds()]) is None  # feeds carry their own batch dimension
