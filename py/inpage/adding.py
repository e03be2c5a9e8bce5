"""What ``inpage add`` knows about a model file, and the readings every task's add-time rules share.

``inpage add`` (in :mod:`inpage_tools.project`) reads the ONNX file once and hands each task a
:class:`ModelFile`: the graph's inputs, outputs and metadata, and what the user passed on the command
line. A task's ``recognise`` says whether the file looks like one of its models; its ``plan`` writes its
parts of the manifest entry. Plain Python: no ``onnx`` here, so the rules run anywhere.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass, field
from typing import Any

from .errors import ProjectError
from .specs import ModelSpec, TensorSpec

# ImageNet's normalisation: what a classifier with no recorded normalisation is assumed to use.
IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "units": "0-1"}


@dataclass
class ModelFile:
    """One model file as ``inpage add`` sees it. ``info`` is the host's graph reading
    (:class:`inpage_tools.onnxinfo.GraphInfo`): inputs, outputs, final ops, ZipMap and classifier labels."""

    file_name: str
    name: str
    info: Any
    labels: list[str] | None = None  # from --labels, else the model's metadata
    labels_given: bool = False  # True: the user passed --labels
    output: str | None = None  # --output
    size: tuple[int, int] | None = None  # --size
    normalize: dict | None = None  # --mean/--std/--units
    resize: str | None = None  # --resize
    channel_order: str | None = None  # --channel-order
    user_module: str | None = None  # --python: the user's own pre/post-processing, which may read what no built-in rule can
    # A model added from its export folder: the folder's JSON files (tokenizer.json, config.json,
    # modules.json, 1_Pooling/config.json, ...) read, by path relative to the folder.
    folder_files: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what add tells the user it decided

    @property
    def metadata(self) -> dict[str, Any]:
        """The ONNX metadata, each value read as JSON or a Python literal where it is one."""
        return {key: _literal(value) for key, value in self.info.metadata.items()}

    @property
    def inputs(self) -> tuple[TensorSpec, ...]:
        return tuple(self.info.inputs)

    @property
    def outputs(self) -> tuple[TensorSpec, ...]:
        return tuple(self.info.outputs)

    @property
    def is_text(self) -> bool:
        """Whether the model came with a tokenizer (added from a text model's export folder)."""
        return "tokenizer.json" in self.folder_files

    def folder_json(self, path: str) -> dict[str, Any]:
        """One of the folder's JSON objects (``config.json``), or {} when it has none."""
        value = self.folder_files.get(path)
        return value if isinstance(value, dict) else {}

    def bundled(self, path: str) -> str:
        """Where a file of the model's folder goes, relative to the manifest: ``<name>/<path>``."""
        return f"{self.name}/{path}"

    def says_task(self) -> str | None:
        """The task the model's own metadata names (ultralytics writes ``task``), if any."""
        task = self.metadata.get("task")
        return task if isinstance(task, str) else None

    def not_another_task(self, task: str) -> bool:
        """False when the metadata names a task other than ``task``: the exporter knows best."""
        said = self.says_task()
        return said is None or said == task

    def probe_spec(self, task: str) -> ModelSpec:
        """A spec of the graph alone, for a head's shape rules (not a manifest entry: no file, no hash)."""
        return ModelSpec(name=self.name, task=task, file="", sha256="0" * 64, inputs=self.inputs, outputs=self.outputs,
                         labels=tuple(self.labels) if self.labels else None, entry={"metadata": self.metadata})

    def image_input(self) -> tuple[TensorSpec | None, str | None]:
        """The one image-like input (4-D, 1 or 3 channels) and its layout, or (None, None)."""
        for tensor in self.inputs:
            shape = tensor.shape
            if shape is None or len(shape) != 4 or tensor.dtype not in ("float32", "float16", "uint8", "int32"):
                continue
            if shape[1] in (1, 3):
                return tensor, "NCHW"
            if shape[3] in (1, 3):
                return tensor, "NHWC"
        return None, None

    def input_size(self, tensor: TensorSpec, layout: str) -> tuple[int, int] | None:
        """The width and height to feed a dynamic image input (--size, else the metadata's ``imgsz``);
        None when the input's size is static (the manifest reads it from the shape)."""
        h, w = (tensor.shape[2], tensor.shape[3]) if layout == "NCHW" else (tensor.shape[1], tensor.shape[2])
        if isinstance(h, int) and isinstance(w, int) and h > 0 and w > 0:
            return None
        if self.size:
            return self.size
        imgsz = self.metadata.get("imgsz")
        if isinstance(imgsz, list) and len(imgsz) == 2:
            return int(imgsz[1]), int(imgsz[0])
        if isinstance(imgsz, int):
            return imgsz, imgsz
        raise ProjectError(f"{tensor.name}'s height and width are dynamic ({h}, {w}); give the size to feed it with --size WIDTHxHEIGHT")

    def scores_output(self) -> str:
        """The output holding per-class scores: --output, the only output, or the only [N, C] one."""
        names = [o.name for o in self.outputs]
        if self.output:
            if self.output not in names:
                raise ProjectError(f"--output {self.output!r} is not an output of the model; it has: {', '.join(names)}")
            return self.output
        if len(self.outputs) == 1:
            return self.outputs[0].name
        candidates = [o for o in self.outputs if o.shape and (len(o.shape) == 2 or (len(o.shape) == 4 and o.shape[2:] == (1, 1)))]
        if len(candidates) == 1:
            return candidates[0].name
        raise ProjectError(f"the model has {len(names)} outputs ({', '.join(names)}); say which holds the scores with --output NAME")

    def single_output_shape(self) -> tuple | None:
        """The shape of the model's one output; None if it has several or an unknown shape."""
        return tuple(self.outputs[0].shape or ()) if len(self.outputs) == 1 else None

    def describe(self) -> str:
        return "; ".join(t.describe() for t in self.inputs) + " -> " + "; ".join(t.describe() for t in self.outputs)


def _literal(text: str) -> Any:
    """A metadata value: JSON, or a Python literal (ultralytics writes ``names`` as a dict literal)."""
    for parse in (json.loads, ast.literal_eval):
        try:
            return parse(text)
        except (ValueError, SyntaxError, TypeError):
            continue
    return text


def label_names(value: Any) -> list[str] | None:
    """Class names from metadata: a list, or a ``{index: name}`` dict. A dict's names go at their
    indices, so an index the dict skips is named by its number rather than shifting the rest."""
    if isinstance(value, dict):
        try:
            by_index = {int(k): str(v) for k, v in value.items()}
        except (TypeError, ValueError):
            return None
        if not by_index or min(by_index) < 0 or max(by_index) >= max(2 * len(by_index), 1024):
            return None  # not class indices (or so sparse that they cannot be)
        return [by_index.get(i, str(i)) for i in range(max(by_index) + 1)]
    if isinstance(value, list):
        return [str(v) for v in value]
    return None


def image_recipe(model: ModelFile, suggested: dict[str, Any], *, assume_imagenet: bool = False) -> dict[str, Any]:
    """The manifest's ``image`` section: the input, its layout and size, and the pre-processing a task
    suggests, with the user's --resize/--mean/--channel-order over it and grayscale and integer inputs
    handled. ``assume_imagenet``: say so when ImageNet's normalisation is a guess."""
    tensor, layout = model.image_input()
    if tensor is None:
        raise ProjectError(f"this task needs an image input [1, 3, H, W] or [1, H, W, 3]; this model has {', '.join(t.describe() for t in model.inputs)}; use --task run")
    image: dict[str, Any] = {"input": tensor.name, "layout": layout}
    explicit_size = model.input_size(tensor, layout)
    if explicit_size:
        image["size"] = list(explicit_size)
    suggested = dict(suggested)
    if suggested.get("resize") == "shorter_side_center_crop" and "resize_shorter_to" not in suggested:
        suggested["resize_shorter_to"] = _crop_side(tensor, layout, explicit_size)
    if tensor.dtype in ("uint8", "int32"):
        suggested.pop("normalize", None)
        model.notes.append(f"{tensor.name} takes {tensor.dtype} pixels 0-255 as they are (no normalisation)")
    elif model.normalize is None and "normalize" in suggested and assume_imagenet and not model.metadata.get("mean"):
        model.notes.append("normalisation: none recorded in the model, so ImageNet's (mean 0.485 0.456 0.406, std 0.229 0.224 0.225, 0-1 units) "
                           "is assumed; pass --mean/--std/--units if the model was trained otherwise")
    if model.normalize:
        suggested["normalize"] = model.normalize
    if model.resize:
        suggested["resize"] = model.resize
        if model.resize != "shorter_side_center_crop":
            suggested.pop("resize_shorter_to", None)
        elif "resize_shorter_to" not in suggested:
            suggested["resize_shorter_to"] = _crop_side(tensor, layout, explicit_size)
    if model.channel_order:
        suggested["channel_order"] = model.channel_order
    if tensor.shape[1 if layout == "NCHW" else 3] == 1:
        suggested.pop("channel_order", None)
        normalize_values = suggested.get("normalize")
        if normalize_values and len(normalize_values.get("mean", [])) == 3 and model.normalize is None:
            suggested["normalize"] = {"mean": [0], "std": [1], "units": normalize_values["units"]}
            model.notes.append("grayscale input: the image is converted to luma (ITU-R 601-2), normalised as pixel / 255")
    image.update(suggested)
    return image


def _crop_side(tensor: TensorSpec, layout: str, explicit_size: tuple[int, int] | None) -> int:
    """The shorter side to resize to before a centre crop: the input's side / 0.875 (the usual ImageNet ratio)."""
    if explicit_size:
        side = min(explicit_size)
    else:
        h, w = (tensor.shape[2], tensor.shape[3]) if layout == "NCHW" else (tensor.shape[1], tensor.shape[2])
        side = min(d for d in (h, w) if isinstance(d, int) and d > 0)
    return int(round(side / 0.875))
