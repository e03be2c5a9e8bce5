"""Image classification: logits to the top-k labelled predictions.

Pre-processing (shorter side, centre crop, normalise) is shared with the other tasks and driven by
the manifest; what is particular to classification is only this read-out of the logits.

Example::

    model = await load_model("efficientnet-lite0")
    for p in await model.classify(open("cat.jpg", "rb").read(), top_k=3):
        print(f"{p.label}: {p.score:.2f}")
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .postprocess import softmax, top_k


@dataclass(frozen=True)
class Prediction:
    """One class of a classification result. ``score`` is a softmax probability in [0, 1]."""

    index: int
    label: str
    score: float


def predictions_from_logits(logits: np.ndarray, labels: tuple[str, ...], k: int) -> list[Prediction]:
    """Softmax over the class axis of a ``[1, C]`` (or ``[C]``) logit array, then the ``k`` best."""
    flat = np.asarray(logits, dtype=np.float64).reshape(-1)
    if flat.shape[0] != len(labels):
        raise ValueError(f"the model gives {flat.shape[0]} classes but the manifest has {len(labels)} labels")
    probabilities = softmax(flat)
    return [Prediction(int(i), labels[i], float(probabilities[i])) for i in top_k(probabilities, k)]
