"""Text classification: texts in, labelled class probabilities out (sentiment, topic, intent, language).

Example::

    model = await load_model("my-sentiment-model")
    for predictions in await model.classify_text(["What a lovely day!", "This is awful."], top_k=1):
        print(predictions[0].label, round(predictions[0].score, 3))

A Hugging Face sequence-classification export: ``logits`` ``[N, C]``, with the class names in
``config.json``'s ``id2label``, which ``inpage add FOLDER`` writes into the entry as ``labels``.
The logits go through ``softmax``; through ``sigmoid`` for a model trained for multi-label
classification (``problem_type`` in ``config.json``) or with one logit (a cross-encoder); as they are
for ``problem_type`` regression. One text gives a list of predictions, best
first; a list of texts gives one such list per text.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np

from ..adding import label_names
from ..errors import InferenceError, ProjectError
from ..postprocess import sigmoid, softmax, top_k
from ..textinput import TextTask
from . import positive_int, register_task
from .classify import Prediction, class_count


def _id2label(model) -> list[str] | None:
    return label_names(model.folder_json("config.json").get("id2label"))


@register_task
class ClassifyText(TextTask):
    name = "classify_text"
    method = "classify_text"
    defaults = {"top_k": None}
    option_help = {"top_k": "how many classes to return per text, best first (default: all)"}
    option_types = {"top_k": int}
    cli_help = "classify texts: each text's classes and their probabilities"

    @classmethod
    def recognise(cls, model):
        labels = _id2label(model)
        outputs = [o for o in model.outputs if o.shape and len(o.shape) == 2]
        return (super().recognise(model) and bool(labels) and "modules.json" not in model.folder_files
                and any(class_count(o.shape) in (None, len(labels)) for o in outputs))

    @classmethod
    def plan(cls, model):
        entry = super().plan(model)
        labels = model.labels if model.labels_given else _id2label(model)
        if not labels:
            raise ProjectError("no class names: config.json has no id2label; pass --labels FILE (one name per line, in class order)")
        if not model.labels_given:
            model.notes.append(f"labels: {len(labels)} classes from config.json id2label")
        entry["labels"] = labels
        output = model.output or ("logits" if any(o.name == "logits" for o in model.outputs) else model.scores_output())
        if output != model.outputs[0].name or len(model.outputs) > 1:
            entry["output"] = output
        problem = model.folder_json("config.json").get("problem_type")
        if problem == "multi_label_classification":
            entry["activation"] = "sigmoid"
            model.notes.append("multi-label model (config.json problem_type): each class scored on its own, through sigmoid")
        elif problem == "regression":
            entry["activation"] = "none"
            model.notes.append("regression model (config.json problem_type): scores are the raw outputs")
        elif len(labels) == 1:
            # Softmax over one logit is always 1.0. A one-logit head (a cross-encoder's relevance, a
            # binary classifier trained with BCE) is read through sigmoid, as sentence-transformers'
            # CrossEncoder reads it.
            entry["activation"] = "sigmoid"
            model.notes.append("one class: its logit is scored through sigmoid (softmax over one logit is always 1)")
        return entry

    @classmethod
    def check_spec(cls, spec):
        problems = super().check_spec(spec)
        shape = spec.score_output.shape
        if shape is not None and len(shape) != 2:
            problems.append(f"output {spec.score_output.name!r} has shape {list(shape)}; a text classifier gives class scores [N, C]")
        count = class_count(shape)
        if spec.labels is not None and count is not None and count != len(spec.labels):
            problems.append(f"labels has {len(spec.labels)} entries, but output {spec.score_output.name!r} gives {count} scores")
        return problems

    def check_options(self, options):
        if options["top_k"] is not None:
            options["top_k"] = positive_int("top_k", options["top_k"])
        return options

    def finish(self, outputs, context, options):
        scores = np.asarray(outputs[self.spec.score_output.name], dtype=np.float64)
        if scores.ndim != 2 or scores.shape[0] != 1:
            raise InferenceError(f"model {self.spec.name!r} gave an output of shape {list(scores.shape)}, not one row of class scores [1, C] per text")
        scores = scores[0]
        if self.spec.labels is not None and scores.shape[0] != len(self.spec.labels):
            raise InferenceError(f"model {self.spec.name!r} gave {scores.shape[0]} scores, but its manifest has {len(self.spec.labels)} labels; fix the manifest's labels")
        if self.spec.activation == "softmax":
            scores = softmax(scores)
        elif self.spec.activation == "sigmoid":
            scores = sigmoid(scores)
        count = options["top_k"] or scores.shape[0]
        return [Prediction(int(i), self.spec.label(int(i)), float(scores[i])) for i in top_k(scores, count)]

    def payload(self, result):
        # Always one list per text: a single text's predictions are the one item.
        texts = result if result and isinstance(result[0], list) else [result]
        return {"predictions": [[asdict(p) for p in predictions] for predictions in texts]}

    def describe(self, result):
        texts = result if result and isinstance(result[0], list) else [result]
        return ["  ".join(f"{p.label} {p.score:.4f}" for p in predictions) for predictions in texts]
