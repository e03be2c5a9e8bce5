"""Image embeddings: a picture in, one feature vector out, for similarity search, de-duplication and clustering.

Example::

    model = await load_model("my-image-embedder")
    a, b = await model.embed_image([open("a.jpg", "rb").read(), open("b.jpg", "rb").read()])
    similarity = float(a @ b)   # unit vectors: the dot product is the cosine

Any image model whose output (``output``, or its only one) is a feature vector per image, ``[1, D]``
or ``[1, D, 1, 1]``: a backbone cut before its classifier, a CLIP or DINO image tower. The vector is
returned as float32, scaled to unit length unless ``normalize`` is False. ``inpage add`` cannot
tell an embedder from a classifier by shapes, so such a model is added with ``--task embed_image``.
"""

from __future__ import annotations

import numpy as np

from ..adding import IMAGENET, image_recipe
from ..errors import InferenceError
from . import ImageTask, Judge, boolean, mean, register_task


class EmbeddingJudge(Judge):
    """Vectors compared by cosine. Quality: the mean cosine to the base's; below 0.98 a variant is
    broken. It runs by default only where the lowest cosine is 0.995 or more."""

    quality_floor = 0.98

    @classmethod
    def compare(cls, base, variant, views):
        cosines = [float(np.dot(b, v) / (np.linalg.norm(b) * np.linalg.norm(v) or 1.0)) for b, v in zip(base, variant)]
        return {"views": len(views), "mean_cosine": mean(cosines), "min_cosine": round(min(cosines), 6) if cosines else None}

    @classmethod
    def quality(cls, figures):
        return figures["mean_cosine"] if figures["mean_cosine"] is not None else 1.0

    @classmethod
    def runs_by_default(cls, figures):
        return figures["min_cosine"] is not None and figures["min_cosine"] >= 0.995

    @classmethod
    def headline(cls, figures):
        return f"cosine to the base {figures['mean_cosine']} (min {figures['min_cosine']})"


@register_task
class EmbedImage(ImageTask):
    name = "embed_image"
    method = "embed_image"
    defaults = {"normalize": True}
    option_help = {"normalize": "scale each vector to unit length (true/false)"}
    cli_help = "embed an image: one feature vector, for similarity search"
    judge = EmbeddingJudge

    @classmethod
    def plan(cls, model):
        entry = {}
        output = model.scores_output()
        if output != model.outputs[0].name or len(model.outputs) > 1:
            entry["output"] = output
        suggested = {"resize": "shorter_side_center_crop", "channel_order": "RGB", "normalize": dict(IMAGENET)}
        entry["image"] = image_recipe(model, suggested, assume_imagenet=True)
        return entry

    def check_options(self, options):
        options["normalize"] = boolean("normalize", options["normalize"])
        return options

    def finish(self, outputs, context, options):
        vector = np.asarray(outputs[self.spec.score_output.name], dtype=np.float32)
        if vector.shape[0] != 1 or vector.size != vector.shape[-1 if vector.ndim == 2 else 1]:
            raise InferenceError(f"model {self.spec.name!r} gave an output of shape {list(vector.shape)}, not one vector [1, D] per image")
        vector = vector.reshape(-1).copy()
        if options["normalize"]:
            length = float(np.linalg.norm(vector.astype(np.float64)))
            if length > 0:
                vector /= np.float32(length)
        return vector

    def payload(self, result):
        return {"embedding": result}

    def describe(self, result):
        head = " ".join(f"{v:.4f}" for v in result[:8])
        return [f"{result.size}-dimensional embedding, length {float(np.linalg.norm(result)):.4f}: {head}{' ...' if result.size > 8 else ''}"]
