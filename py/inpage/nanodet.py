"""Decoding NanoDet's GFL head: per-stride class scores and box-side distributions to boxes.

The graph ends before any decoding. For each stride s (8, 16, 32 on a 416 input) it gives:

* class scores ``[1, N, C]``, sigmoid already applied, one row per grid cell (row-major);
* box distributions ``[1, N, 4 * (reg_max + 1)]``: for each side (left, top, right, bottom) a
  discrete distribution over distances 0..reg_max in units of s.

A side's distance is the expectation of its softmaxed distribution times s, measured from the
cell centre. Only cells with a class score above the threshold are decoded.
"""

from __future__ import annotations

import math

import numpy as np

from .postprocess import softmax


def decode(
    outputs: dict[str, np.ndarray],
    input_width: int,
    input_height: int,
    num_classes: int,
    score_threshold: float,
    strides: tuple[int, ...] = (8, 16, 32),
    reg_max: int = 10,
    center_offset: float = 0.5,
    pre_nms_top_k: int = 1000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return candidate ``(boxes, scores, class_ids)`` in model-input pixels, before NMS.

    Every (cell, class) pair above ``score_threshold`` is a candidate, so a cell can propose
    several classes, as NanoDet's own multi-class NMS expects.
    """
    heads = match_heads(outputs, input_width, input_height, num_classes, strides, reg_max)
    bins = np.arange(reg_max + 1, dtype=np.float32)
    all_boxes, all_scores, all_classes = [], [], []
    for stride, grid_w, class_scores, distributions in heads:
        cells, classes = np.nonzero(class_scores > score_threshold)
        if cells.size == 0:
            continue
        sides = softmax(distributions[cells].reshape(-1, 4, reg_max + 1)) @ bins * stride
        cx = (cells % grid_w + center_offset) * stride
        cy = (cells // grid_w + center_offset) * stride
        all_boxes.append(np.stack([cx - sides[:, 0], cy - sides[:, 1], cx + sides[:, 2], cy + sides[:, 3]], axis=1))
        all_scores.append(class_scores[cells, classes])
        all_classes.append(classes)
    if not all_boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    boxes = np.concatenate(all_boxes).astype(np.float32)
    scores = np.concatenate(all_scores).astype(np.float32)
    class_ids = np.concatenate(all_classes)
    if scores.size > pre_nms_top_k:
        best = np.argpartition(-scores, pre_nms_top_k - 1)[:pre_nms_top_k]
        boxes, scores, class_ids = boxes[best], scores[best], class_ids[best]
    return boxes, scores, class_ids


def match_heads(outputs, input_width, input_height, num_classes, strides, reg_max):
    """Pair each stride with its score and distribution outputs by shape, never by graph name.

    Converted graphs name their outputs arbitrarily (``Identity_3:0`` ...); the cell count N of
    each stride and the last dimension (C or 4 * (reg_max + 1)) identify them unambiguously.
    """
    by_shape = {tuple(a.shape[-2:]): a.reshape(a.shape[-2:]) for a in outputs.values()}
    heads = []
    for stride in strides:
        grid_w = math.ceil(input_width / stride)
        cells = grid_w * math.ceil(input_height / stride)
        scores = by_shape.get((cells, num_classes))
        distributions = by_shape.get((cells, 4 * (reg_max + 1)))
        if scores is None or distributions is None:
            shapes = sorted(by_shape)
            raise ValueError(f"no NanoDet head outputs for stride {stride} ({cells} cells) among output shapes {shapes}")
        heads.append((stride, grid_w, scores, distributions))
    return heads
