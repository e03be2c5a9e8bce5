"""Object and face detection: decode the model's head, class-wise NMS, boxes back in frame pixels.

Example::

    model = await load_model("nanodet-m")
    for d in await model.detect(frame, score_threshold=0.35):
        print(d.label, round(d.score, 2), d.box)

The manifest's ``decoder.type`` picks the head decoder (``nanodet_gfl`` or ``blazeface``); each
returns candidates in model-input pixels, and the rest is the same for every detector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import blazeface, nanodet
from .manifest import ModelSpec
from .postprocess import batched_nms
from .preprocess import FrameTransform


@dataclass(frozen=True)
class Detection:
    """One detected object. ``box`` is ``(x0, y0, x1, y1)`` in the input image's pixels."""

    label: str
    index: int
    score: float
    box: tuple[float, float, float, float]
    keypoints: list[tuple[float, float]] | None = None


def detections_from_outputs(
    outputs: dict[str, np.ndarray],
    spec: ModelSpec,
    transform: FrameTransform,
    score_threshold: float,
    iou_threshold: float,
    max_detections: int,
) -> list[Detection]:
    """Decode, suppress overlaps class by class, and map the survivors to the original frame."""
    decoder = spec.decoder.get("type")
    keypoints = None
    if decoder == "nanodet_gfl":
        boxes, scores, class_ids = nanodet.decode(
            outputs,
            spec.input.width,
            spec.input.height,
            num_classes=len(spec.labels),
            score_threshold=score_threshold,
            strides=tuple(spec.decoder.get("strides", (8, 16, 32))),
            reg_max=int(spec.decoder.get("reg_max", 10)),
            center_offset=float(spec.decoder.get("center_offset", 0.5)),
        )
    elif decoder == "blazeface":
        boxes, scores, keypoints = blazeface.decode(outputs, spec.input.width, score_threshold)
        class_ids = np.zeros(scores.shape[0], dtype=np.int64)
    else:
        raise ValueError(f"model {spec.name!r} has no known detection decoder (decoder.type = {decoder!r})")

    kept = batched_nms(boxes, scores, class_ids, iou_threshold, max_detections)
    frame_boxes = transform.boxes_to_frame(boxes[kept])
    frame_points = transform.points_to_frame(keypoints[kept]) if keypoints is not None else None
    return [
        Detection(
            label=spec.labels[int(class_ids[i])],
            index=int(class_ids[i]),
            score=float(scores[i]),
            box=tuple(float(v) for v in frame_boxes[n]),  # type: ignore[arg-type]
            keypoints=[(float(x), float(y)) for x, y in frame_points[n]] if frame_points is not None else None,
        )
        for n, i in enumerate(kept)
    ]
