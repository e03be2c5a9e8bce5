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

from ..errors import InferenceError
from ..postprocess import sigmoid, softmax, top_k
from . import ImageTask, positive_int, register_task


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


@register_task
class Classify(ImageTask):
    name = "classify"
    method = "classify"
    defaults = {"top_k": 5}

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
