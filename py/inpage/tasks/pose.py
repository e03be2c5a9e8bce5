"""Pose estimation: named keypoints with scores, in the image's pixels, and the skeleton joining them.

Example::

    model = await load_model("movenet-lightning")
    for pose in await model.estimate_pose(frame):
        nose = pose.keypoints[0]
        print(pose.score, nose.name, nose.x, nose.y, nose.score)

The model gives keypoints as ``(y, x, score)`` rows with y and x in 0..1 of its input square
(MoveNet's layout: ``[1, P, K, 3]``, P poses of K keypoints; ``head.order`` may say ``"xys"``).
They are mapped back through the letterbox, so they land on the original frame. ``head.keypoints``
names them and ``head.edges`` says which to join; both default to the 17 COCO keypoints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InferenceError
from . import ImageTask, Judge, mean, probability, register_task

# A keypoint at or above this score counts as found: the pages draw only those, and the judge
# compares those. The pose filter itself is the score_threshold option (on the mean keypoint score).
KEYPOINT_SCORE = 0.3
PCK_FRACTION = 0.02  # a keypoint within 2% of the photo's diagonal of the base's is "the same"

COCO_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
    "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)
COCO_EDGES = (
    (0, 1), (0, 2), (1, 3), (2, 4), (5, 6), (5, 7), (7, 9), (6, 8), (8, 10), (5, 11), (6, 12), (11, 12),
    (11, 13), (13, 15), (12, 14), (14, 16),
)


@dataclass(frozen=True)
class Keypoint:
    name: str
    x: float
    y: float
    score: float


@dataclass(frozen=True)
class Pose:
    """One person: keypoints in the image's pixels, and ``score``, the mean keypoint score."""

    score: float
    keypoints: list[Keypoint]
    edges: tuple[tuple[int, int], ...]

    def as_json(self) -> dict:
        return {
            "score": self.score,
            "keypoints": [k.__dict__ for k in self.keypoints],
            "edges": [list(edge) for edge in self.edges],
        }


class PoseJudge(Judge):
    """Keypoints of the best pose compared one to one. Quality: the share of confident keypoints
    within 2% of the photo's diagonal of the base's; below 0.7 a variant is broken. It runs by
    default only if confident keypoints move 5 px or less on average."""

    quality_floor = 0.7

    @classmethod
    def results(cls, task, outputs, context):
        poses = task.finish(outputs, context, task.options({"score_threshold": 0.0}))
        diagonal = float(np.hypot(context.frame_width, context.frame_height))
        return (poses[0] if poses else None), diagonal

    @classmethod
    def compare(cls, base, variant, views):
        distances, confident_distances, close, agree, changes = [], [], [], [], []
        for (b, diagonal), (v, _) in zip(base, variant):
            if b is None or v is None:
                continue
            for kb, kv in zip(b.keypoints, v.keypoints):
                distance = float(np.hypot(kb.x - kv.x, kb.y - kv.y))
                distances.append(distance)
                agree.append((kb.score >= KEYPOINT_SCORE) == (kv.score >= KEYPOINT_SCORE))
                changes.append(abs(kb.score - kv.score))
                if kb.score >= KEYPOINT_SCORE:
                    confident_distances.append(distance)
                    close.append(distance <= PCK_FRACTION * diagonal)
        return {
            "views": len(views),
            "keypoint_score_threshold": KEYPOINT_SCORE,
            "mean_keypoint_distance_px": mean(distances),
            "confident_keypoints": len(confident_distances),
            "mean_confident_keypoint_distance_px": mean(confident_distances),
            "confident_within_2pct_of_diagonal": mean(close),
            "keypoint_score_agreement": mean(agree),
            "mean_keypoint_score_change": mean(changes),
        }

    @classmethod
    def quality(cls, figures):
        value = figures["confident_within_2pct_of_diagonal"]
        return 1.0 if value is None else value

    @classmethod
    def runs_by_default(cls, figures):
        distance = figures["mean_confident_keypoint_distance_px"]
        return distance is not None and distance <= 5.0

    @classmethod
    def summary(cls, figures):
        keep = ("views", "mean_keypoint_distance_px", "mean_confident_keypoint_distance_px", "confident_within_2pct_of_diagonal", "keypoint_score_agreement")
        return {k: figures[k] for k in keep}

    @classmethod
    def headline(cls, figures):
        return (f"confident keypoints {figures['mean_confident_keypoint_distance_px']} px off, "
                f"{figures['confident_within_2pct_of_diagonal']} within 2% of the diagonal")


@register_task
class EstimatePose(ImageTask):
    name = "pose"
    method = "estimate_pose"
    defaults = {"score_threshold": 0.0}  # poses whose mean keypoint score is below it are left out
    option_help = {"score_threshold": "leave out poses whose mean keypoint score is below it"}
    display = {"keypoint_threshold": KEYPOINT_SCORE}
    cli_help = "estimate poses in an image: named keypoints in pixels"
    suggested_image = {"resize": "letterbox", "channel_order": "RGB", "pad_value": 0}
    judge = PoseJudge

    @classmethod
    def head_parameters(cls, spec):
        names = tuple(spec.head.get("keypoints", COCO_KEYPOINTS))
        edges = spec.head.get("edges", COCO_EDGES if names == COCO_KEYPOINTS else ())
        return {"keypoints": list(names), "edges": [list(edge) for edge in edges], "order": spec.head.get("order", "yxs")}

    @classmethod
    def recognise(cls, model):
        tensor, _layout = model.image_input()
        shape = model.single_output_shape() or ()
        # MoveNet's [1, 1, K, 3]: one pose of K (y, x, score) keypoints.
        return (tensor is not None and model.not_another_task("pose") and len(shape) == 4 and shape[-1] == 3
                and shape[1] == 1 and isinstance(shape[2], int) and shape[2] > 1)

    @classmethod
    def plan(cls, model):
        entry = super().plan(model)
        entry["output"] = model.scores_output() if model.output else model.outputs[0].name
        return entry

    def __init__(self, spec):
        super().__init__(spec)
        head = self.head_parameters(spec)
        self.keypoint_names = tuple(head["keypoints"])
        self.edges = tuple(tuple(edge) for edge in head["edges"])
        self.order = head["order"]

    @classmethod
    def check_spec(cls, spec):
        problems = []
        order = spec.head.get("order", "yxs")
        if order not in ("yxs", "xys"):
            problems.append(f"head.order must be yxs or xys, not {order!r}")
        names = spec.head.get("keypoints", COCO_KEYPOINTS)
        shape = spec.score_output.shape
        if shape and isinstance(shape[-2] if len(shape) >= 2 else None, int) and shape[-2] != len(names):
            problems.append(f"head.keypoints names {len(names)} keypoints, but output {spec.score_output.name!r} gives {shape[-2]}")
        for edge in spec.head.get("edges", []):
            if not (isinstance(edge, list) and len(edge) == 2 and all(isinstance(i, int) and 0 <= i < len(names) for i in edge)):
                problems.append(f"head.edges has {edge!r}, which is not a pair of keypoint indices")
                break
        return problems

    def check_options(self, options):
        options["score_threshold"] = probability("score_threshold", options["score_threshold"])
        return options

    def finish(self, outputs, transform, options):
        raw = np.asarray(outputs[self.spec.score_output.name], dtype=np.float32)
        if raw.shape[-1] != 3 or raw.size % (3 * len(self.keypoint_names)):
            raise InferenceError(f"pose output {list(raw.shape)} is not [..., {len(self.keypoint_names)}, 3] keypoints")
        rows = raw.reshape(-1, len(self.keypoint_names), 3)
        first, second = (1, 0) if self.order == "yxs" else (0, 1)
        width, height = self.spec.image.size
        points = np.stack([rows[:, :, first] * width, rows[:, :, second] * height], axis=-1)
        frame_points = transform.points_to_frame(points)
        poses = []
        for person, scores in zip(frame_points, rows[:, :, 2]):
            score = float(scores.mean())
            if score < options["score_threshold"]:
                continue
            keypoints = [Keypoint(name, float(x), float(y), float(s)) for name, (x, y), s in zip(self.keypoint_names, person, scores)]
            poses.append(Pose(score, keypoints, self.edges))
        poses.sort(key=lambda pose: -pose.score)
        return poses

    def payload(self, result):
        return {"poses": [pose.as_json() for pose in result]}

    def describe(self, result):
        lines = []
        for pose in result:
            found = [k for k in pose.keypoints if k.score >= KEYPOINT_SCORE]
            lines.append(f"{pose.score:8.4f}  pose: " + " ".join(f"{k.name} ({k.x:.0f},{k.y:.0f})" for k in found))
        return lines or ["(no pose above the score threshold)"]
