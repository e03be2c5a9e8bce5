"""Post-processing on CPython: softmax, top-k, IoU, NMS and the detector heads, on hand-checked cases."""

import numpy as np
import pytest

from inpage.errors import InferenceError
from inpage.heads import blazeface, nanodet, yolo
from inpage.postprocess import batched_nms, box_iou, nms, sigmoid, softmax, top_k


def test_softmax_is_stable_and_normalised():
    probabilities = softmax(np.array([1000.0, 1000.0, 0.0]))
    np.testing.assert_allclose(probabilities, [0.5, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(softmax(np.log(np.array([[1.0, 3.0]]))), [[0.25, 0.75]])


def test_sigmoid_does_not_overflow():
    with np.errstate(over="raise"):
        np.testing.assert_allclose(sigmoid(np.array([-1e4, 0.0, 1e4])), [0.0, 0.5, 1.0], atol=1e-30)


def test_top_k_orders_best_first_and_breaks_ties_by_index():
    scores = np.array([0.1, 0.5, 0.2, 0.5, 0.05])
    assert top_k(scores, 3).tolist() == [1, 3, 2]
    assert top_k(scores, 10).tolist() == [1, 3, 2, 0, 4]
    assert top_k(scores, 0).tolist() == []


def test_box_iou_by_hand():
    box = np.array([0, 0, 10, 10], np.float32)
    others = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]], np.float32)
    # Half overlap: 50 / (100 + 100 - 50) = 1/3. A degenerate box has IoU 0, not NaN.
    np.testing.assert_allclose(box_iou(box, others), [1.0, 1 / 3, 0.0, 0.0])


def test_nms_keeps_the_best_of_each_overlapping_group():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    scores = np.array([0.8, 0.9, 0.7], np.float32)
    # IoU of the first two is 81 / 119 = 0.68.
    assert nms(boxes, scores, 0.5, 100).tolist() == [1, 2]
    assert nms(boxes, scores, 0.7, 100).tolist() == [1, 0, 2]
    assert nms(boxes, scores, 0.5, 1).tolist() == [1]


def test_batched_nms_suppresses_only_within_a_class():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    assert batched_nms(boxes, scores, np.array([0, 0, 1]), 0.5, 100).tolist() == [0, 2]
    assert batched_nms(boxes, scores, np.array([0, 1, 2]), 0.5, 100).tolist() == [0, 1, 2]
    assert batched_nms(np.zeros((0, 4), np.float32), np.zeros(0), np.zeros(0, int), 0.5, 10).tolist() == []


def _nanodet_outputs(size=64, classes=3, reg_max=3, strides=(8, 16, 32)):
    outputs = {}
    for n, stride in enumerate(strides):
        cells = (size // stride) ** 2
        outputs[f"scores_{n}"] = np.zeros((1, cells, classes), np.float32)
        outputs[f"boxes_{n}"] = np.zeros((1, cells, 4 * (reg_max + 1)), np.float32)
    return outputs


def test_nanodet_decodes_one_cell_by_hand():
    outputs = _nanodet_outputs()
    # Stride 8 on a 64 input is an 8x8 grid. Cell (row 2, col 3), class 1, score 0.9.
    cell = 2 * 8 + 3
    outputs["scores_0"][0, cell, 1] = 0.9
    # Every side's distribution is all on bin 2: distance 2 x stride = 16 px.
    outputs["boxes_0"][0, cell] = np.tile([0, 0, 100, 0], 4)
    boxes, scores, classes = nanodet.decode(outputs, 64, 64, num_classes=3, score_threshold=0.5, reg_max=3)
    # Centre (3.5 x 8, 2.5 x 8) = (28, 20).
    np.testing.assert_allclose(boxes, [[12, 4, 44, 36]], atol=1e-3)
    assert scores.tolist() == pytest.approx([0.9]) and classes.tolist() == [1]


def test_nanodet_expectation_between_bins_and_multi_class_cells():
    outputs = _nanodet_outputs()
    cell = 0  # the 2x2 grid of stride 32
    outputs["scores_2"][0, cell, [0, 2]] = [0.6, 0.8]
    outputs["boxes_2"][0, cell] = np.tile([0, 100, 100, 0], 4)  # half on bin 1, half on bin 2: 1.5 x 32
    boxes, scores, classes = nanodet.decode(outputs, 64, 64, num_classes=3, score_threshold=0.5, reg_max=3)
    assert sorted(classes.tolist()) == [0, 2]
    np.testing.assert_allclose(boxes[0], [16 - 48, 16 - 48, 16 + 48, 16 + 48], atol=1e-3)


def test_nanodet_matches_outputs_by_shape_and_says_what_is_missing():
    outputs = _nanodet_outputs()
    del outputs["boxes_1"]
    with pytest.raises(InferenceError, match="stride 16"):
        nanodet.decode(outputs, 64, 64, num_classes=3, score_threshold=0.5, reg_max=3)


def test_blazeface_anchor_layout():
    anchors = blazeface.anchor_centers(128)
    assert anchors.shape == (896, 2)
    np.testing.assert_allclose(anchors[0], [4, 4])
    np.testing.assert_allclose(anchors[1], [4, 4])  # two anchors per 16x16 cell
    np.testing.assert_allclose(anchors[2], [12, 4])
    np.testing.assert_allclose(anchors[512], [8, 8])  # then the 8x8 grid, six per cell
    np.testing.assert_allclose(anchors[512 + 6], [24, 8])
    np.testing.assert_allclose(anchors[-1], [120, 120])


@pytest.mark.parametrize("split", [True, False])
def test_blazeface_decodes_one_anchor_by_hand(split):
    scores = np.full((896, 1), -10.0, np.float32)
    regressors = np.zeros((896, 16), np.float32)
    anchor = (1 * 16 + 2) * 2  # cell (row 1, col 2) of the 16x16 grid: centre (20, 12)
    scores[anchor] = 3.0
    regressors[anchor, :4] = [2, -1, 10, 8]
    regressors[anchor, 4:6] = [1, 1]
    if split:
        outputs = {"a": scores[None, 512:], "b": regressors[None, :512], "c": scores[None, :512], "d": regressors[None, 512:]}
    else:
        outputs = {"scores": scores[None], "regressors": regressors[None]}
    boxes, kept_scores, keypoints = blazeface.decode(outputs, 128, 0.5)
    np.testing.assert_allclose(boxes, [[17, 7, 27, 15]])
    assert kept_scores.tolist() == pytest.approx([1 / (1 + np.exp(-3))])
    assert keypoints.shape == (1, 6, 2)
    np.testing.assert_allclose(keypoints[0, 0], [21, 13])
    np.testing.assert_allclose(keypoints[0, 1], [20, 12])


def test_yolo_layouts_told_apart_by_shape():
    assert yolo.layout((84, 8400), 80) == "v8"
    assert yolo.layout((25200, 85), 80) == "v5"
    assert yolo.layout((84, 8400), None) == "v8"
    assert yolo.layout((8400, 85), None) == "v5"
    assert yolo.layout((84, 8400), 3) is None  # the wrong class count fits neither
