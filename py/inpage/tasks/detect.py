"""Object and face detection: decode the model's head, class-wise NMS, boxes back in frame pixels.

Example::

    model = await load_model("nanodet-m")
    for d in await model.detect(frame, score_threshold=0.35):
        print(d.label, round(d.score, 2), d.box)

The manifest's ``head.type`` picks the decoder from :mod:`inpage.heads`; each returns candidates
in model-input pixels, and the rest is the same for every detector. Thresholds default to the
model's own (the manifest's ``options``), else 0.35 and 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..heads import get_head
from ..postprocess import batched_nms
from . import ImageTask, positive_int, probability, register_task


@dataclass(frozen=True)
class Detection:
    """One detected object. ``box`` is ``(x0, y0, x1, y1)`` in the input image's pixels."""

    label: str
    index: int
    score: float
    box: tuple[float, float, float, float]
    keypoints: list[tuple[float, float]] | None = None

    def as_json(self) -> dict:
        return {
            "label": self.label,
            "index": self.index,
            "score": self.score,
            "box": list(self.box),
            "keypoints": [list(p) for p in self.keypoints] if self.keypoints is not None else None,
        }


@register_task
class Detect(ImageTask):
    name = "detect"
    method = "detect"
    defaults = {"score_threshold": 0.35, "iou_threshold": 0.5, "max_detections": 100}

    def __init__(self, spec):
        super().__init__(spec)
        self.head = get_head(spec.head.get("type"))(spec)

    @classmethod
    def check_spec(cls, spec):
        if "type" not in spec.head:
            return ["head.type is missing; a detector needs its head's layout (one of the registered heads)"]
        return get_head(spec.head["type"]).check(spec)

    def check_options(self, options):
        options["score_threshold"] = probability("score_threshold", options["score_threshold"])
        options["iou_threshold"] = probability("iou_threshold", options["iou_threshold"])
        options["max_detections"] = positive_int("max_detections", options["max_detections"], upper=10_000)
        return options

    def finish(self, outputs, transform, options):
        candidates = self.head.decode(outputs, options["score_threshold"])
        kept = batched_nms(candidates.boxes, candidates.scores, candidates.class_ids, options["iou_threshold"], options["max_detections"])
        frame_boxes = transform.boxes_to_frame(candidates.boxes[kept])
        frame_points = transform.points_to_frame(candidates.keypoints[kept]) if candidates.keypoints is not None else None
        return [
            Detection(
                label=self.spec.label(int(candidates.class_ids[i])),
                index=int(candidates.class_ids[i]),
                score=float(candidates.scores[i]),
                box=tuple(float(v) for v in frame_boxes[n]),  # type: ignore[arg-type]
                keypoints=[(float(x), float(y)) for x, y in frame_points[n]] if frame_points is not None else None,
            )
            for n, i in enumerate(kept)
        ]

    def payload(self, result):
        return {"detections": [d.as_json() for d in result]}
