"""Image classification: scores to the top-k labelled predictions.

Pre-processing (resize or centre crop, normalise) follows the manifest's ``image`` recipe; what is
particular to classification is the read-out of one score output. ``activation`` says whether the
scores are logits (``softmax``, the default), independent logits (``sigmoid``) or already
probabilities (``none``: the graph ends in Softmax or Sigmoid, so squashing again would be wrong).

Example::

    model = await load_model("efficientnet-lite0")
    for p in await model.classify(open("cat.jpg", "rb").read(), top_k=3):
        print(f"{p.label}: {p.score:.2f}")
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..adding import IMAGENET, image_recipe
from ..errors import InferenceError
from ..postprocess import sigmoid, softmax, top_k
from . import ImageTask, Judge, mean, positive_int, register_task

CONFIDENT = 0.5  # a top class at or above this probability is a confident answer
# A view is decisive when the base's top class leads the next by this much; top-1 flips between
# near-equal classes (tiger cat 0.38, Egyptian cat 0.37) say little.
DECISIVE_LEAD = 0.1


@dataclass(frozen=True)
class Prediction:
    """One class of a classification result. ``score`` is a probability in [0, 1]."""

    index: int
    label: str
    score: float


def class_count(shape) -> int | None:
    """The number of classes a ``[1, C]`` (or ``[C]``, ``[1, C, 1, 1]``) score output holds, if static."""
    if not shape:
        return None
    dims = list(shape[1:]) if len(shape) > 1 else list(shape)
    if not all(isinstance(d, int) for d in dims):
        return None
    return math.prod(dims)


class ClassifyJudge(Judge):
    """Top-1 and top-5 agreement. Quality: top-1 agreement on decisive views; below 0.6 a variant is
    broken. It runs by default only where its top-1 agrees on 90% of all views."""

    quality_floor = 0.6

    @classmethod
    def results(cls, task, outputs, context):
        return task.finish(outputs, context, task.options({"top_k": 5}))

    @classmethod
    def compare(cls, base, variant, views):
        top1, top5, in_top5, confident, decisive, changes, per_view = [], [], [], [], [], [], []
        for view, b, v in zip(views, base, variant):
            v_indices = {p.index for p in v}
            same = b[0].index == v[0].index
            top1.append(same)
            top5.append(len({p.index for p in b} & v_indices) / len(b))
            in_top5.append(b[0].index in v_indices)
            if b[0].score >= CONFIDENT:
                confident.append(same)
            if len(b) < 2 or b[0].score - b[1].score >= DECISIVE_LEAD:
                decisive.append(same)
            changes.append(abs(b[0].score - next((p.score for p in v if p.index == b[0].index), 0.0)))
            per_view.append({"view": view, "base": [b[0].label, round(b[0].score, 3)], "variant": [v[0].label, round(v[0].score, 3)]})
        return {
            "views": len(views),
            "top1_agreement": mean(top1),
            "top5_agreement": mean(top5),
            "base_top1_in_variant_top5": mean(in_top5),
            "confident_views": len(confident),
            "confident_top1_agreement": mean(confident),
            "decisive_lead": DECISIVE_LEAD,
            "decisive_views": len(decisive),
            "decisive_top1_agreement": mean(decisive),
            "mean_top1_probability_change": mean(changes),
            "top1_per_view": per_view,
        }

    @classmethod
    def quality(cls, figures):
        value = figures["decisive_top1_agreement"]
        return figures["top1_agreement"] if value is None else value

    @classmethod
    def runs_by_default(cls, figures):
        return figures["top1_agreement"] >= 0.9

    @classmethod
    def summary(cls, figures):
        keep = ("views", "top1_agreement", "top5_agreement", "confident_views", "confident_top1_agreement", "decisive_views", "decisive_top1_agreement")
        return {k: figures[k] for k in keep}

    @classmethod
    def headline(cls, figures):
        return (f"top-1 agreement {figures['top1_agreement']} ({figures['decisive_top1_agreement']} on {figures['decisive_views']} "
                f"decisive views), top-5 {figures['top5_agreement']}")


@register_task
class Classify(ImageTask):
    name = "classify"
    method = "classify"
    defaults = {"top_k": 5}
    option_help = {"top_k": "how many classes to return, best first"}
    cli_help = "classify an image: the top classes and their probabilities"
    judge = ClassifyJudge

    @classmethod
    def recognise(cls, model):
        tensor, _layout = model.image_input()
        shape = model.single_output_shape()
        return (tensor is not None and shape is not None and model.not_another_task("classify")
                and (len(shape) == 2 or (len(shape) == 4 and shape[2:] == (1, 1))))

    @classmethod
    def plan(cls, model):
        entry = {"labels": model.labels} if model.labels else {}
        if not model.labels:
            model.notes.append("labels: none in the model's metadata, so classes show as \"class N\"; pass --labels FILE "
                               "(one name per line, in class order) to name them")
        score_output = model.scores_output()
        if score_output != model.outputs[0].name or len(model.outputs) > 1:
            entry["output"] = score_output
        final = model.info.final_ops.get(score_output)
        if final in ("Softmax", "Sigmoid", "LogSoftmax"):
            entry["activation"] = "none" if final != "LogSoftmax" else "softmax"
            read = "as probabilities, not squashed again" if final != "LogSoftmax" else "through softmax (log-probabilities)"
            model.notes.append(f"the graph ends in {final}: scores are read {read}")
        suggested = {"resize": "shorter_side_center_crop", "channel_order": "RGB", "normalize": dict(IMAGENET)}
        entry["image"] = image_recipe(model, suggested, assume_imagenet=True)
        return entry

    @classmethod
    def check_spec(cls, spec):
        count = class_count(spec.score_output.shape)
        if spec.labels is not None and count is not None and count != len(spec.labels):
            return [f"labels has {len(spec.labels)} entries, but output {spec.score_output.name!r} gives {count} scores"]
        return []

    def check_options(self, options):
        options["top_k"] = positive_int("top_k", options["top_k"])
        return options

    def finish(self, outputs, context, options):
        scores = np.asarray(outputs[self.spec.score_output.name], dtype=np.float64).reshape(-1)
        if self.spec.labels is not None and scores.shape[0] != len(self.spec.labels):
            raise InferenceError(
                f"model {self.spec.name!r} gave {scores.shape[0]} scores, but its manifest has {len(self.spec.labels)} labels; "
                "fix the labels file or the manifest's output"
            )
        if self.spec.activation == "softmax":
            scores = softmax(scores)
        elif self.spec.activation == "sigmoid":
            scores = sigmoid(scores)
        return [Prediction(int(i), self.spec.label(int(i)), float(scores[i])) for i in top_k(scores, options["top_k"])]

    def payload(self, result):
        return {"predictions": [asdict(p) for p in result]}

    def describe(self, result):
        return [f"{p.score:8.4f}  {p.label}" for p in result]
