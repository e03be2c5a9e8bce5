"""Tabular models (scikit-learn pipelines through skl2onnx, and the like): rows of numbers in, a label and
per-class probabilities (or a value, for a regressor) out.

Example::

    model = await load_model("iris")
    for p in await model.predict([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]):
        print(p.label, p.probabilities)

The model's one input is a ``[N, F]`` tensor (``N`` dynamic, so all rows run in one call, or 1,
so they run one by one). ``head.label_output`` names the output with the predicted labels and
``head.probability_output`` the one with ``[N, C]`` probabilities; ``inpage add`` finds both, and
turns skl2onnx's ZipMap (a list of dicts, which onnxruntime-web cannot read) into a plain tensor.
A model without a probability output is read as a regressor: ``value`` holds its output row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InvalidArgumentError, ProjectError
from ..specs import NUMPY_TYPES
from . import Task, register_task

FEATURE_DTYPES = {name: NUMPY_TYPES[name] for name in ("float32", "float16", "float64", "uint8", "int32", "int64")}


@dataclass(frozen=True)
class TabularPrediction:
    """The prediction for one row: a label and its class probabilities, or a regressor's ``value``."""

    label: str | None
    index: int | None
    probabilities: dict[str, float] | None = None
    value: list[float] | None = None

    def as_json(self) -> dict:
        return {"label": self.label, "index": self.index, "probabilities": self.probabilities, "value": self.value}


@register_task
class Tabular(Task):
    name = "tabular"
    method = "predict"
    input_kind = "rows"
    cli_help = "run a tabular model on rows of numbers: a label and class probabilities (or a value) per row"

    @classmethod
    def recognise(cls, model):
        # An ai.onnx.ml graph (scikit-learn through skl2onnx), or one [N, features] input and no image.
        if model.info.is_ml_graph:
            return True
        tensor, _layout = model.image_input()
        return (tensor is None and model.says_task() is None and not model.is_text and len(model.inputs) == 1
                and bool(model.inputs[0].shape) and len(model.inputs[0].shape) == 2)

    @classmethod
    def plan(cls, model):
        info = model.info
        labels = model.labels
        if not model.labels_given and info.zipmap_labels is not None:
            labels = [str(label) for label in info.zipmap_labels]
            model.notes.append(f"labels: {len(labels)} classes from the model's ZipMap")
        label_output = next((o.name for o in info.outputs if o.dtype in ("int64", "string") and o.name not in info.zipmap_outputs), None)
        probability_output = next((o.name for o in info.outputs if o.name in info.zipmap_outputs), None) or next(
            (o.name for o in info.outputs if o.dtype == "float32" and o.shape and len(o.shape) == 2 and o.name != label_output), None
        )
        head = {}
        if label_output:
            head["label_output"] = label_output
        if probability_output and label_output:
            head["probability_output"] = probability_output
        if model.labels_given:
            # The names stand for the model's own classes (0, 1, 2 from scikit-learn, say), in the
            # order of its probability columns: keep those classes so each prediction maps to its name.
            classes = info.classifier_labels
            if not probability_output or not label_output or not classes:
                raise ProjectError(f"--labels: {model.file_name} has no classes to name (it reads as a regressor); leave --labels out")
            if len(classes) != len(labels):
                raise ProjectError(f"--labels has {len(labels)} names, but {model.file_name} has {len(classes)} classes ({', '.join(map(str, classes[:10]))}); give one name per class, in that order")
            head["classes"] = [str(c) for c in classes]
            model.notes.append(f"labels: {len(labels)} names for the classes {', '.join(map(str, classes[:10]))}, in that order")
        entry = {"head": head}
        if labels:
            entry["labels"] = labels
        if not probability_output or not label_output:
            model.notes.append("no class probabilities found: predictions read as a regressor's values")
        return entry

    def __init__(self, spec):
        super().__init__(spec)
        self.input = spec.inputs[0]
        self.features = self.input.shape[1] if self.input.shape and len(self.input.shape) == 2 and isinstance(self.input.shape[1], int) else None
        self.dtype = FEATURE_DTYPES[self.input.dtype]
        self.label_output = spec.head.get("label_output")
        self.probability_output = spec.head.get("probability_output")
        # The model's own classes, in probability-column order, where ``labels`` gives them names.
        self.classes = [str(c) for c in spec.head.get("classes", [])] or None
        self.value_output = spec.output or next(
            (o.name for o in spec.outputs if o.name not in (self.label_output, self.probability_output)), spec.outputs[0].name
        )
        self._buffers: dict[int, np.ndarray] = {}

    @classmethod
    def check_spec(cls, spec):
        problems = []
        if len(spec.inputs) != 1:
            problems.append(f"a tabular model takes one [N, features] input, this one has {len(spec.inputs)}; use model.run() for it")
        elif spec.inputs[0].dtype not in FEATURE_DTYPES:
            problems.append(f"inputs[0].dtype {spec.inputs[0].dtype} is not a numeric feature type")
        elif spec.inputs[0].shape is not None and len(spec.inputs[0].shape) != 2:
            problems.append(f"inputs[0].shape must be [N, features], not {list(spec.inputs[0].shape)}")
        names = [o.name for o in spec.outputs]
        for key in ("label_output", "probability_output"):
            if key in spec.head and spec.head[key] not in names:
                problems.append(f"head.{key} names {spec.head[key]!r}, which is not among the outputs {names}")
        classes = spec.head.get("classes")
        if classes is not None:
            if not isinstance(classes, list) or not classes:
                problems.append(f"head.classes must be a non-empty list of the model's classes, not {classes!r}")
            elif spec.labels is not None and len(classes) != len(spec.labels):
                problems.append(f"head.classes has {len(classes)} classes, but labels has {len(spec.labels)} names")
        probabilities = spec.head.get("probability_output")
        if probabilities in names and spec.labels is not None:
            shape = spec.output_named(probabilities).shape
            if shape and len(shape) == 2 and isinstance(shape[1], int) and shape[1] != len(spec.labels):
                problems.append(f"labels has {len(spec.labels)} entries, but output {probabilities!r} gives {shape[1]} probabilities")
        return problems

    def rows(self, sample) -> np.ndarray:
        """The caller's rows as a 2-D array of the input's dtype, checked."""
        try:
            rows = np.asarray(sample, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidArgumentError("rows must be a list of rows of numbers (or a 2-D array)") from None
        if rows.ndim == 1:
            rows = rows[None, :]
        if rows.ndim != 2 or rows.shape[0] == 0:
            raise InvalidArgumentError(f"rows must be a non-empty 2-D table of numbers, not shape {list(rows.shape)}")
        if self.features is not None and rows.shape[1] != self.features:
            raise InvalidArgumentError(f"each row must have {self.features} features (model {self.spec.name!r}), not {rows.shape[1]}")
        if not np.isfinite(rows).all():
            raise InvalidArgumentError("rows must hold finite numbers (no NaN or infinity)")
        return rows.astype(self.dtype)

    def split(self, sample) -> list[np.ndarray]:
        # Rows are always a batch: predict() returns one prediction per row.
        return list(self.rows(sample))

    def prepare(self, sample, options, slot=0, batch=1):
        buffer = self._buffers.get(batch)
        if buffer is None:
            self._buffers = {batch: np.zeros((batch, self.features or len(sample)), self.dtype)}
            buffer = self._buffers[batch]
        buffer[slot] = sample
        return {self.input.name: buffer}, None

    def finish(self, outputs, context, options):
        if self.probability_output is None:
            value = np.asarray(outputs[self.value_output], dtype=np.float64).reshape(-1)
            return TabularPrediction(label=None, index=None, value=[float(v) for v in value])
        probabilities = np.asarray(outputs[self.probability_output], dtype=np.float64).reshape(-1)
        index = int(np.argmax(probabilities))
        label = self.spec.label(index)
        if self.label_output is not None:
            raw_label = np.asarray(outputs[self.label_output]).reshape(-1)[0]
            label = raw_label.decode() if isinstance(raw_label, bytes) else str(raw_label)
            if self.classes and label in self.classes:
                index = self.classes.index(label)
                label = self.spec.label(index)
            elif self.spec.labels and label in self.spec.labels:
                index = self.spec.labels.index(label)
        return TabularPrediction(
            label=label,
            index=index,
            probabilities={self.spec.label(i): float(p) for i, p in enumerate(probabilities)},
        )

    def payload(self, result):
        return {"predictions": [p.as_json() for p in result]}

    def describe(self, result):
        lines = []
        for p in result:
            if p.value is not None:
                lines.append(" ".join(f"{v:.6g}" for v in p.value))
            else:
                best = sorted((p.probabilities or {}).items(), key=lambda kv: -kv[1])[:3]
                lines.append(f"{p.label:<16} " + "  ".join(f"{k}: {v:.3f}" for k, v in best))
        return lines
