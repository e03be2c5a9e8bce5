"""The segment task on hand-built masks: layouts, activations, the letterbox cut off, coverage, box and the mask back on the frame."""

import numpy as np
import pytest
from PIL import Image

from inpage.errors import InferenceError, InvalidArgumentError
from inpage.manifest import parse_entry
from inpage.tasks import get_task


def segment_task(size=(8, 8), output_shape=(1, 4, 4, 1), resize="letterbox", activation=None, labels=None, **image):
    """The segment task for a float32 NCHW input of ``size`` (width, height) and one output called ``mask``."""
    width, height = size
    entry = {
        "name": "seg", "task": "segment", "file": "seg.onnx", "sha256": "0" * 64,
        "inputs": [{"name": "pixels", "dtype": "float32", "shape": [1, 3, height, width]}],
        "outputs": [{"name": "mask", "dtype": "float32", "shape": list(output_shape)}],
        "image": {"input": "pixels", "layout": "NCHW", "resize": resize, **image},
    }
    if activation:
        entry["activation"] = activation
    if labels:
        entry["labels"] = labels
    return get_task("segment")(parse_entry(entry))


def prepared(task, frame_size, **given):
    options = task.options(given)
    _, transform = task.prepare(Image.new("RGB", frame_size, (200, 100, 50)), options)
    return options, transform


def test_one_class_mask_at_half_resolution_with_the_letterbox_padding_cut_off():
    task = segment_task()
    # An 8x4 frame in an 8x8 letterbox: scale 1, 2 rows of padding above and below. The 4x4 output
    # is half the input, so the frame is output rows round(2 x 0.5) = 1 to round(6 x 0.5) = 3.
    options, transform = prepared(task, (8, 4))
    probabilities = np.ones((1, 4, 4, 1), np.float32)  # the padding rows 0 and 3 say 1.0: they must not count
    probabilities[0, 1:3, :, 0] = [[0.9, 0.9, 0.1, 0.1],
                                   [0.6, 0.2, 0.2, 0.2]]
    result = task.finish({"mask": probabilities}, transform, options)
    np.testing.assert_array_equal(result.mask, np.array([[0.9, 0.9, 0.1, 0.1], [0.6, 0.2, 0.2, 0.2]], np.float32))
    assert result.mask.dtype == np.float32 and result.classes is None
    assert result.box == (0.0, 0.0, 8.0, 4.0)
    # 3 of the 8 pixels are >= 0.5 (0.9, 0.9, 0.6).
    assert result.coverage == 0.375
    # A higher threshold: only the two 0.9s, 2 / 8.
    assert task.finish({"mask": probabilities}, transform, task.options({"threshold": 0.7})).coverage == 0.25
    # The 2x4 mask scaled onto the 8x4 frame; thresholded below its least value (0.1) it is all 255, above its most all 0.
    frame = result.to_frame()
    assert frame.shape == (4, 8) and frame.dtype == np.uint8
    assert (result.to_frame(threshold=0.05) == 255).all() and (result.to_frame(threshold=0.95) == 0).all()


def test_a_uniform_mask_scales_onto_the_frame_exactly():
    task = segment_task(size=(4, 4), output_shape=(1, 4, 4, 1), resize="stretch")
    options, transform = prepared(task, (10, 6))
    result = task.finish({"mask": np.full((1, 4, 4, 1), 0.2, np.float32)}, transform, options)
    assert result.box == (0.0, 0.0, 10.0, 6.0) and result.coverage == 0.0
    # 0.2 x 255 + 0.5 = 51.5 -> 51 everywhere, at the frame's 10x6 size; thresholded at 0.1 it is all 255.
    assert (result.to_frame() == 51).all() and result.to_frame().shape == (6, 10)
    assert (result.to_frame(threshold=0.1) == 255).all()


def test_nchw_logits_with_sigmoid_activation():
    task = segment_task(size=(4, 4), output_shape=(1, 1, 2, 2), resize="stretch", activation="sigmoid")
    options, transform = prepared(task, (20, 10))
    logits = np.array([[[[0.0, np.log(3)], [-np.log(3), -10.0]]]], np.float32)
    result = task.finish({"mask": logits}, transform, options)
    # sigmoid(0) = 0.5, sigmoid(ln 3) = 3 / 4, sigmoid(-ln 3) = 1 / 4, sigmoid(-10) ~ 4.5e-5.
    np.testing.assert_allclose(result.mask, [[0.5, 0.75], [0.25, 1 / (1 + np.exp(10))]], rtol=1e-6)
    # 0.5 and 0.75 are >= 0.5: 2 of 4.
    assert result.coverage == 0.5
    assert result.box == (0.0, 0.0, 20.0, 10.0)


def test_a_three_dimensional_output_is_one_class():
    task = segment_task(size=(4, 4), output_shape=(1, 2, 2), resize="stretch")
    options, transform = prepared(task, (4, 4))
    result = task.finish({"mask": np.array([[[0.7, 0.3], [0.3, 0.3]]], np.float32)}, transform, options)
    np.testing.assert_array_equal(result.mask, np.array([[0.7, 0.3], [0.3, 0.3]], np.float32))
    assert result.coverage == 0.25


# Three classes on a 4x4 output (more pixels a side than classes, so the layout is unambiguous: see
# the xfail below). Each pixel's winning class scores 2, the next class 1 and the third 0.
EXPECTED_CLASSES = np.array([[0, 0, 1, 1],
                             [0, 2, 2, 1],
                             [0, 2, 0, 0],
                             [0, 0, 0, 0]], np.uint8)


def class_scores(layout):
    scores = np.zeros((4, 4, 3), np.float32)
    for (y, x), winner in np.ndenumerate(EXPECTED_CLASSES):
        scores[y, x, winner] = 2.0
        scores[y, x, (winner + 1) % 3] = 1.0
    return scores[None] if layout == "NHWC" else scores.transpose(2, 0, 1)[None]


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_several_classes_are_read_by_argmax_in_either_layout(layout):
    output = class_scores(layout)
    task = segment_task(size=(4, 4), output_shape=output.shape, resize="stretch", labels=["background", "cat", "dog"])
    options, transform = prepared(task, (8, 8))
    result = task.finish({"mask": output}, transform, options)
    assert result.mask is None and result.classes.dtype == np.uint8
    np.testing.assert_array_equal(result.classes, EXPECTED_CLASSES)
    # Coverage counts every pixel that is not class 0: 6 of 16.
    assert result.coverage == 6 / 16
    assert result.labels == ("background", "cat", "dog")
    # Back on the 8x8 frame by nearest neighbour: each output pixel becomes a 2x2 block.
    np.testing.assert_array_equal(result.to_frame(), np.kron(EXPECTED_CLASSES, np.ones((2, 2), np.uint8)))
    payload = task.payload(result)
    assert payload["labels"] == ["background", "cat", "dog"] and payload["box"] == [0.0, 0.0, 8.0, 8.0] and payload["coverage"] == 6 / 16
    np.testing.assert_array_equal(payload["classes"], EXPECTED_CLASSES)


def test_probabilities_with_no_activation_pick_the_same_classes():
    logits = class_scores("NHWC")
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)  # already softmaxed
    task = segment_task(size=(4, 4), output_shape=probabilities.shape, resize="stretch", activation="none")
    options, transform = prepared(task, (4, 4))
    result = task.finish({"mask": probabilities}, transform, options)
    np.testing.assert_array_equal(result.classes, EXPECTED_CLASSES)
    assert result.labels is None and task.payload(result)["labels"] == []


def test_several_classes_with_letterbox_padding_cut_off():
    # A 4x8 frame (tall) in an 8x8 letterbox: 2 columns of padding each side; output at input size.
    task = segment_task(size=(8, 8), output_shape=(1, 8, 8, 2), resize="letterbox")
    options, transform = prepared(task, (4, 8))
    scores = np.zeros((1, 8, 8, 2), np.float32)
    scores[0, :, :, 1] = 1.0  # class 1 everywhere, padding included...
    scores[0, :, 2:6, 1] = -1.0  # ...but background over the frame, except
    scores[0, 0, 2, 1] = 2.0  # one pixel: its top-left corner
    result = task.finish({"mask": scores}, transform, options)
    # Columns 2..5 are the frame: an 8x4 class map with one pixel of class 1, coverage 1 / 32.
    expected = np.zeros((8, 4), np.uint8)
    expected[0, 0] = 1
    np.testing.assert_array_equal(result.classes, expected)
    assert result.coverage == 1 / 32 and result.box == (0.0, 0.0, 4.0, 8.0)


def test_nchw_output_with_more_classes_than_columns():
    # Six classes on a 4x4 output, NCHW: class (row + col) % 6 wins at each pixel.
    expected = np.add.outer(np.arange(4), np.arange(4)) % 6
    scores = np.zeros((1, 6, 4, 4), np.float32)
    for y in range(4):
        for x in range(4):
            scores[0, expected[y, x], y, x] = 1.0
    task = segment_task(size=(4, 4), output_shape=scores.shape, resize="stretch")
    options, transform = prepared(task, (4, 4))
    result = task.finish({"mask": scores}, transform, options)
    np.testing.assert_array_equal(result.classes, expected)


def test_centre_crop_box_is_where_the_mask_lies_in_the_frame():
    task = segment_task(size=(8, 8), output_shape=(1, 8, 8, 1), resize="shorter_side_center_crop", resize_shorter_to=8)
    options, transform = prepared(task, (20, 10))
    # Shorter side 10 -> 8: scale 0.8, the frame becomes 16x8 and the centre 8x8 starts at x = 4,
    # i.e. x = 4 / 0.8 = 5 to 12 / 0.8 = 15 of the frame, all of its height.
    result = task.finish({"mask": np.ones((1, 8, 8, 1), np.float32)}, transform, options)
    assert result.box == pytest.approx((5.0, 0.0, 15.0, 10.0))
    # On the frame, the mask fills the crop and nothing beside it.
    frame = result.to_frame(0.5)
    assert frame.shape == (10, 20)
    assert (frame[:, 5:15] == 255).all() and (frame[:, :5] == 0).all() and (frame[:, 15:] == 0).all()


@pytest.mark.parametrize("shape", [(2, 4, 4, 1), (4, 4), (1, 1, 4, 4, 1)])
def test_an_output_that_is_not_a_mask_is_an_inference_error(shape):
    task = segment_task(output_shape=(1, 4, 4, 1))
    options, transform = prepared(task, (8, 8))
    with pytest.raises(InferenceError, match=r"is not \[1, H, W, C\] or \[1, C, H, W\]"):
        task.finish({"mask": np.zeros(shape, np.float32)}, transform, options)


def test_options_name_the_argument():
    task = segment_task()
    for given, message in [({"threshold": -0.1}, "threshold must be a number between 0 and 1, not -0.1"),
                           ({"threshold": "half"}, "threshold must be a number between 0 and 1, not 'half'"),
                           ({"score_threshold": 0.5}, r"segment\(\) got unknown option\(s\) score_threshold; it takes: threshold")]:
        with pytest.raises(InvalidArgumentError, match=message):
            task.options(given)
    assert task.options({"threshold": None}) == {"threshold": 0.5}  # None means the default
