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

from ..errors import InferenceError
from ..postprocess import softmax
from . import Candidates, Head, register_head, static_dims

# The head's parameters where the manifest's head gives none (NanoDet-m's); the best candidates
# kept before NMS bound its cost on a frame full of low scores.
PARAMETERS = {"strides": [8, 16, 32], "reg_max": 10, "center_offset": 0.5, "pre_nms_top_k": 1000}
# 4 sides x (reg_max + 1) bins: NanoDet-m (reg_max 10), NanoDet-Plus (7), and 16.
DISTRIBUTION_WIDTHS = {4 * (reg_max + 1) for reg_max in (7, 10, 16)}


@register_head
class NanoDetGFL(Head):
    name = "nanodet_gfl"
    suggested_image = {"resize": "letterbox", "channel_order": "BGR", "pad_value": 0,
                       "normalize": {"mean": [103.53, 116.28, 123.675], "std": [57.375, 57.12, 58.395], "units": "0-255"}}
    parameters = PARAMETERS

    def __init__(self, spec):
        super().__init__(spec)
        head = self.resolved(spec)
        self.strides = tuple(int(s) for s in head["strides"])
        self.reg_max = int(head["reg_max"])
        self.center_offset = float(head["center_offset"])
        self.pre_nms_top_k = int(head["pre_nms_top_k"])

    @classmethod
    def check(cls, spec):
        head = cls.resolved(spec)
        strides = head["strides"]
        if not (isinstance(strides, list) and strides and all(isinstance(s, int) and s > 0 for s in strides)):
            return [f"head.strides must be a list of positive integers, not {strides!r}"]
        reg_max = head["reg_max"]
        if not isinstance(reg_max, int) or reg_max < 1:
            return [f"head.reg_max must be a positive integer, not {reg_max!r}"]
        if spec.labels and len(spec.labels) == 4 * (reg_max + 1):
            # Scores and box distributions are told apart by their width; here they would be equal.
            return [f"labels has {len(spec.labels)} entries, as many as the box distributions' width; NanoDet's outputs cannot be told apart"]
        return []

    @classmethod
    def matches(cls, spec):
        return cls.suggest(spec) is not None

    @classmethod
    def suggest(cls, spec):
        """``{"strides", "reg_max"}`` read off the outputs' shapes, or None when they are not a GFL head."""
        by_cells: dict[int, list[int]] = {}
        for output in spec.outputs:
            dims = static_dims(output.shape)
            if not dims or len(dims) != 2:
                return None
            by_cells.setdefault(dims[0], []).append(dims[1])
        if len(by_cells) < 2 or any(len(widths) != 2 for widths in by_cells.values()):
            return None
        distribution_widths = {w for widths in by_cells.values() for w in widths if w in DISTRIBUTION_WIDTHS}
        if len(distribution_widths) != 1:
            return None
        width = distribution_widths.pop()
        if not spec.image and not spec.inputs:
            return None
        input_shape = spec.inputs[0].shape or ()
        h, w = (input_shape[2], input_shape[3]) if len(input_shape) == 4 and input_shape[1] in (1, 3) else (input_shape[1:3] if len(input_shape) == 4 else (None, None))
        if not isinstance(h, int) or not isinstance(w, int):
            return None
        strides = sorted(s for s in (8, 16, 32, 64) if math.ceil(h / s) * math.ceil(w / s) in by_cells)
        if len(strides) != len(by_cells):
            return None
        return {"strides": strides, "reg_max": width // 4 - 1}

    def num_classes(self):
        count = super().num_classes()
        if count is None:
            dims = [static_dims(o.shape) for o in self.spec.outputs]
            count = next((d[1] for d in dims if d and len(d) == 2 and d[1] != 4 * (self.reg_max + 1)), None)
        return count

    def decode(self, outputs, score_threshold):
        boxes, scores, class_ids = decode(
            outputs, self.input_width, self.input_height, self.num_classes() or 80, score_threshold,
            self.strides, self.reg_max, self.center_offset, self.pre_nms_top_k,
        )
        return Candidates(boxes, scores, class_ids)


def decode(
    outputs: dict[str, np.ndarray],
    input_width: int,
    input_height: int,
    num_classes: int,
    score_threshold: float,
    strides: tuple[int, ...] = tuple(PARAMETERS["strides"]),
    reg_max: int = PARAMETERS["reg_max"],
    center_offset: float = PARAMETERS["center_offset"],
    pre_nms_top_k: int = PARAMETERS["pre_nms_top_k"],
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
            raise InferenceError(f"no NanoDet head outputs for stride {stride} ({cells} cells) among output shapes {shapes}")
        heads.append((stride, grid_w, scores, distributions))
    return heads
