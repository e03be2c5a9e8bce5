"""Decoding BlazeFace (front, 128x128): SSD anchors, score logits and box/keypoint regressors.

The graph gives, with no NMS:

* score logits ``[1, A, 1]`` (sigmoid not applied);
* regressors ``[1, A, 16]``: box centre offset (dx, dy), size (w, h) and six keypoints (x, y), all
  in input pixels, offsets relative to the anchor centre.

The anchors are MediaPipe's short-range SSD layout: a 16x16 grid (stride 8) with 2 anchors per
cell, then an 8x8 grid (stride 16) with 6 per cell, 896 in all, each of unit size, so only their
centres matter. Some exports give the two grids as separate outputs, some concatenated; both work.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import InferenceError
from ..postprocess import sigmoid
from . import Candidates, Head, register_head, static_dims

# Detections carry its six keypoints, in this order: right eye, left eye, nose tip, mouth centre,
# right ear tragion, left ear tragion.


@register_head
class BlazeFace(Head):
    name = "blazeface"
    suggested_image = {"resize": "letterbox", "channel_order": "RGB", "pad_value": 0,
                       "normalize": {"mean": [127.5, 127.5, 127.5], "std": [127.5, 127.5, 127.5], "units": "0-255"}}

    @classmethod
    def check(cls, spec):
        if spec.image and spec.image.width != spec.image.height:
            return [f"head blazeface needs a square input, not {spec.image.width}x{spec.image.height}"]
        return []

    @classmethod
    def matches(cls, spec):
        shapes = [static_dims(o.shape) for o in spec.outputs]
        anchors_scored = sum(s[0] for s in shapes if s and len(s) == 2 and s[1] == 1)
        anchors_regressed = sum(s[0] for s in shapes if s and len(s) == 2 and s[1] == 16)
        return anchors_scored == anchors_regressed == 896

    def num_classes(self):
        return 1

    def decode(self, outputs, score_threshold):
        boxes, scores, keypoints = decode(outputs, self.input_width, score_threshold)
        return Candidates(boxes, scores, np.zeros(scores.shape[0], dtype=np.int64), keypoints)


@lru_cache(maxsize=4)
def anchor_centers(input_size: int = 128, grids: tuple[tuple[int, int], ...] = ((8, 2), (16, 6))) -> np.ndarray:
    """``[A, 2]`` anchor centres in input pixels, in the order the regressors use.

    ``grids`` is ``(stride, anchors_per_cell)`` per feature map; cells are row-major and the
    anchors of one cell are consecutive.
    """
    centres = []
    for stride, per_cell in grids:
        side = input_size // stride
        ys, xs = np.mgrid[0:side, 0:side]
        cell_centres = np.stack([(xs.ravel() + 0.5) * stride, (ys.ravel() + 0.5) * stride], axis=1)
        centres.append(np.repeat(cell_centres, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def decode(
    outputs: dict[str, np.ndarray], input_size: int, score_threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return candidate ``(boxes, scores, keypoints)`` in model-input pixels, before NMS.

    ``keypoints`` is ``[K, 6, 2]``.
    """
    logits, regressors = _gather(outputs)
    anchors = anchor_centers(input_size)
    if logits.shape[0] != anchors.shape[0]:
        raise InferenceError(f"BlazeFace gave {logits.shape[0]} anchors, the anchor layout has {anchors.shape[0]}")
    scores = sigmoid(logits)
    keep = np.nonzero(scores > score_threshold)[0]
    raw = regressors[keep]
    centres = anchors[keep]
    cx = centres[:, 0] + raw[:, 0]
    cy = centres[:, 1] + raw[:, 1]
    half_w = raw[:, 2] / 2
    half_h = raw[:, 3] / 2
    boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=1).astype(np.float32)
    keypoints = (raw[:, 4:16].reshape(-1, 6, 2) + centres[:, None, :]).astype(np.float32)
    return boxes, scores[keep].astype(np.float32), keypoints


def _gather(outputs: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate score and regressor outputs in anchor order, told apart by their last dimension."""
    score_parts, regressor_parts = [], []
    # Larger grids come first in the anchor order, so sort each kind by anchor count, descending.
    for array in sorted(outputs.values(), key=lambda a: -a.shape[-2]):
        rows = array.reshape(-1, array.shape[-1])
        if array.shape[-1] == 1:
            score_parts.append(rows[:, 0])
        elif array.shape[-1] == 16:
            regressor_parts.append(rows)
    if not score_parts or not regressor_parts:
        shapes = [list(a.shape) for a in outputs.values()]
        raise InferenceError(f"BlazeFace outputs not recognised; expected [..,1] scores and [..,16] regressors, got {shapes}")
    return np.concatenate(score_parts), np.concatenate(regressor_parts)
