"""Decoding ultralytics YOLO detector exports: v8/v11 ``[1, 4+C, N]`` and v5 ``[1, N, 5+C]``.

Both give, per candidate, a box as centre and size (cx, cy, w, h) in model-input pixels, then class
scores with the sigmoid already applied; v5 also gives an objectness score that multiplies them.
There is no NMS in the graph. The layout is told apart by shape: v8 puts the N candidates last (N is
in the thousands, 4 + C rarely is), v5 first with one more column than v8.

The pre-processing ultralytics trains with is a letterbox padded with grey 114, RGB, pixels / 255;
``inpage add`` reads the class names and input size from the export's metadata.
"""

from __future__ import annotations

import numpy as np

from ..errors import InferenceError
from . import Candidates, Head, register_head, static_dims


def layout(dims: tuple[int, ...], num_classes: int | None) -> str | None:
    """``"v8"`` for ``(4+C, N)``, ``"v5"`` for ``(N, 5+C)``, or None when the shape fits neither."""
    if len(dims) != 2:
        return None
    rows, cols = dims
    if num_classes is not None:
        if rows == 4 + num_classes:
            return "v8"
        if cols == 5 + num_classes:
            return "v5"
        return None
    if cols > rows >= 5:
        return "v8"
    if rows > cols >= 6:
        return "v5"
    return None


@register_head
class Yolo(Head):
    name = "yolo"
    suggested_image = {"resize": "letterbox", "channel_order": "RGB", "pad_value": 114,
                       "normalize": {"mean": [0, 0, 0], "std": [1, 1, 1], "units": "0-1"}}
    # ultralytics' own defaults (conf 0.25, iou 0.7), so results match what its users see.
    suggested_options = {"score_threshold": 0.25, "iou_threshold": 0.7}

    @classmethod
    def check(cls, spec):
        version = spec.head.get("version")
        if version not in (None, "v5", "v8"):
            return [f"head.version must be v5 or v8 (v8 also covers v11), not {version!r}"]
        dims = static_dims(spec.outputs[0].shape) if spec.outputs else None
        count = len(spec.labels) if spec.labels else None
        if dims and layout(dims, count) is None:
            return [f"output {spec.outputs[0].name!r} {list(spec.outputs[0].shape)} is neither YOLO v8 [1, 4+C, N] nor v5 [1, N, 5+C]"
                    + (f" for {count} labels" if count else "")]
        return []

    @classmethod
    def matches(cls, spec):
        if len(spec.outputs) != 1:
            return False
        dims = static_dims(spec.outputs[0].shape)
        if not dims or len(dims) != 2:
            return False
        names = spec.entry.get("metadata", {}).get("names") if spec.entry else None
        return layout(dims, len(names) if isinstance(names, (list, dict)) else None) is not None

    def decode(self, outputs, score_threshold):
        raw = next(iter(outputs.values())) if len(outputs) == 1 else outputs[self.spec.score_output.name]
        if raw.ndim != 3 or raw.shape[0] != 1:
            raise InferenceError(f"YOLO output must be [1, 4+C, N] or [1, N, 5+C], not {list(raw.shape)}")
        dims = tuple(raw.shape[1:])
        version = self.spec.head.get("version") or layout(dims, self.num_classes())
        if version == "v8":
            rows = raw[0].T  # N x (4 + C); a view, only the candidates above threshold are copied
            class_scores = rows[:, 4:]
        elif version == "v5":
            rows = raw[0]
            class_scores = rows[:, 5:] * rows[:, 4:5]
        else:
            raise InferenceError(f"YOLO output {list(raw.shape)} matches neither v8 nor v5 layout for {self.num_classes()} classes")
        count = self.num_classes()
        if count is not None and class_scores.shape[1] != count:
            raise InferenceError(f"YOLO output has {class_scores.shape[1]} classes, the manifest {count} labels")
        class_ids = np.argmax(class_scores, axis=1)
        scores = class_scores[np.arange(class_scores.shape[0]), class_ids]
        keep = np.nonzero(scores > score_threshold)[0]
        if keep.size == 0:
            return Candidates.empty()
        centre_size = rows[keep, :4].astype(np.float32)
        half = centre_size[:, 2:4] / 2
        boxes = np.concatenate([centre_size[:, :2] - half, centre_size[:, :2] + half], axis=1)
        return Candidates(boxes, scores[keep].astype(np.float32), class_ids[keep].astype(np.int64))
