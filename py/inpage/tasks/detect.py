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

import numpy as np

from ..adding import image_recipe
from ..errors import InferenceError, ProjectError
from ..heads import get_head, guess_head, head_names
from ..postprocess import batched_nms, box_iou
from . import ImageTask, Judge, mean, positive_int, probability, register_task

CONFIDENT = 0.5  # detections at or above this score are "confident"
# For the quality figure only, a confident detection the other model also finds at a score a
# little under CONFIDENT counts as kept: 0.51 against 0.49 is the same detection, not a lost one.
SCORE_MARGIN = 0.1


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


class DetectJudge(Judge):
    """Detections matched one to one: same label and box IoU >= 0.5, best-scoring base detection first.
    Quality: the share of confident detections of either model that the other finds (within
    SCORE_MARGIN); below 0.8 a variant is broken. It runs by default only if it misses no confident
    detection and adds at most one."""

    quality_floor = 0.8

    @classmethod
    def results(cls, task, outputs, context):
        return {
            "default": task.finish(outputs, context, task.options({})),
            "confident": task.finish(outputs, context, task.options({"score_threshold": CONFIDENT})),
            "near": task.finish(outputs, context, task.options({"score_threshold": CONFIDENT - SCORE_MARGIN})),
        }

    @staticmethod
    def match(base, variant) -> tuple[int, list[float], list[float]]:
        used, ious, score_changes = set(), [], []
        for b in sorted(base, key=lambda d: -d.score):
            best, best_iou = None, 0.5
            for j, v in enumerate(variant):
                if j in used or v.index != b.index:
                    continue
                iou = float(box_iou(np.asarray(b.box), np.asarray([v.box]))[0])
                if iou >= best_iou:
                    best, best_iou = j, iou
            if best is not None:
                used.add(best)
                ious.append(best_iou)
                score_changes.append(abs(variant[best].score - b.score))
        return len(used), ious, score_changes

    @classmethod
    def compare(cls, base, variant, views):
        figures = {"views": len(views)}
        for key in ("default", "confident"):
            counts = {"base": 0, "variant": 0, "matched": 0}
            ious, changes, per_view = [], [], []
            for view, b, v in zip(views, base, variant):
                matched, view_ious, view_changes = cls.match(b[key], v[key])
                counts["base"] += len(b[key])
                counts["variant"] += len(v[key])
                counts["matched"] += matched
                ious += view_ious
                changes += view_changes
                if key == "confident" and (b[key] or v[key]):
                    per_view.append({"view": view, "base": [[d.label, round(d.score, 3)] for d in b[key]],
                                     "variant": [[d.label, round(d.score, 3)] for d in v[key]]})
            figures[key] = {
                "score_threshold": None if key == "default" else CONFIDENT,
                "base_detections": counts["base"],
                "matched": counts["matched"],
                "missed": counts["base"] - counts["matched"],
                "extra": counts["variant"] - counts["matched"],
                "mean_matched_iou": mean(ious),
                "mean_score_change": mean(changes),
            }
            if key == "confident":
                figures["confident_per_view"] = per_view
        # Confident detections of either model that the other finds at CONFIDENT - SCORE_MARGIN or more.
        kept = sum(cls.match(b["confident"], v["near"])[0] + cls.match(v["confident"], b["near"])[0] for b, v in zip(base, variant))
        total = sum(len(b["confident"]) + len(v["confident"]) for b, v in zip(base, variant))
        figures["confident_kept_within_margin"] = {"score_margin": SCORE_MARGIN, "kept": kept, "of": total}
        return figures

    @classmethod
    def quality(cls, figures):
        kept = figures["confident_kept_within_margin"]
        return 1.0 if kept["of"] == 0 else kept["kept"] / kept["of"]

    @classmethod
    def runs_by_default(cls, figures):
        return figures["confident"]["missed"] == 0 and figures["confident"]["extra"] <= 1

    @classmethod
    def summary(cls, figures):
        keep = ("base_detections", "matched", "missed", "extra")
        return {"views": figures["views"], "default": {k: figures["default"][k] for k in keep}, "confident": {k: figures["confident"][k] for k in keep}}

    @classmethod
    def headline(cls, figures):
        c, d = figures["confident"], figures["default"]
        return (f"confident {c['matched']}/{c['base_detections']} matched, {c['extra']} extra; at default threshold "
                f"{d['matched']}/{d['base_detections']} matched, {d['extra']} extra")


@register_task
class Detect(ImageTask):
    name = "detect"
    method = "detect"
    defaults = {"score_threshold": 0.35, "iou_threshold": 0.5, "max_detections": 100}
    option_help = {
        "score_threshold": "leave out detections scoring below it (default: the model's own)",
        "iou_threshold": "non-maximum suppression: drop a box overlapping a better one of its class by more (default: the model's own)",
        "max_detections": "return at most this many",
    }
    cli_help = "detect objects in an image: labelled boxes"
    judge = DetectJudge

    @classmethod
    def head_parameters(cls, spec):
        return get_head(spec.head["type"]).resolved(spec) if "type" in spec.head else None

    @classmethod
    def recognise(cls, model):
        tensor, _layout = model.image_input()
        if model.says_task() == "detect":
            return True
        return tensor is not None and model.not_another_task("detect") and guess_head(model.probe_spec("detect")) is not None

    @classmethod
    def plan(cls, model):
        probe = model.probe_spec("detect")
        head_name = guess_head(probe)
        if head_name is None and model.user_module:
            # The user's postprocess decodes the outputs: no built-in head is needed, only the image recipe.
            model.notes.append(f"head: none of inpage's matches; {model.user_module}'s postprocess decodes the outputs")
            entry = {"labels": model.labels} if model.labels else {}
            entry["image"] = image_recipe(model, {"resize": "letterbox", "channel_order": "RGB", "pad_value": 114,
                                                  "normalize": {"mean": [0, 0, 0], "std": [1, 1, 1], "units": "0-1"}})
            return entry
        if head_name is None:
            shapes = ", ".join(o.describe() for o in model.outputs)
            raise ProjectError(f"no detector head inpage knows ({', '.join(head_names())}) matches the outputs {shapes}; write a postprocess with --python, or use --task run")
        head = get_head(head_name)
        entry = {"labels": model.labels} if model.labels else {}
        entry["head"] = {"type": head_name, **head.suggest(probe)}
        if head.suggested_options:
            entry["options"] = dict(head.suggested_options)
        model.notes.append(f"head: {head_name} (matched by output shapes)")
        entry["image"] = image_recipe(model, head.suggested_image)
        return entry

    def __init__(self, spec):
        super().__init__(spec)
        # A user module's postprocess may decode a layout no head knows; then there is no head.
        self.head = get_head(spec.head["type"])(spec) if "type" in spec.head or not spec.python else None

    @classmethod
    def check_spec(cls, spec):
        if "type" not in spec.head and spec.python:
            return []
        if "type" not in spec.head:
            return ["head.type is missing; a detector needs its head's layout (one of the registered heads), or a --python postprocess"]
        return get_head(spec.head["type"]).check(spec)

    def check_options(self, options):
        options["score_threshold"] = probability("score_threshold", options["score_threshold"])
        options["iou_threshold"] = probability("iou_threshold", options["iou_threshold"])
        options["max_detections"] = positive_int("max_detections", options["max_detections"], upper=10_000)
        return options

    def finish(self, outputs, transform, options):
        if self.head is None:
            raise InferenceError(f"model {self.spec.name!r} has no head to decode its outputs; its Python module's postprocess must")
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

    def describe(self, result):
        lines = []
        for d in result:
            box = ", ".join(f"{v:.0f}" for v in d.box)
            line = f"{d.score:8.4f}  {d.label:<16} [{box}]"
            if d.keypoints:
                line += "  keypoints " + " ".join(f"({x:.0f},{y:.0f})" for x, y in d.keypoints)
            lines.append(line)
        return lines or ["(nothing above the score threshold)"]
