"""The specs every part of inpage passes around: a model's tensors, its image recipe, its variants and
the checked manifest entry (:class:`ModelSpec`), with the dtype tables. A leaf: it imports nothing of
inpage but its errors, so the manifest reader, the tasks and the pre-processing can all use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .errors import ManifestError

# Tensor element types onnxruntime-web can pass in and out of a session, by their manifest name.
DTYPES = ("float32", "float16", "float64", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "bool", "string")
IMAGE_INPUT_DTYPES = ("float32", "float16", "uint8", "int32")
# The numpy type of each tensor dtype (strings stay Python objects).
NUMPY_TYPES = {
    "float32": np.float32, "float16": np.float16, "float64": np.float64, "int8": np.int8, "uint8": np.uint8,
    "int16": np.int16, "uint16": np.uint16, "int32": np.int32, "uint32": np.uint32, "int64": np.int64,
    "uint64": np.uint64, "bool": np.bool_,
}

Dim = int | str | None


@dataclass(frozen=True)
class TensorSpec:
    """A graph input or output: name, element type and shape (a str or None marks a dynamic dim)."""

    name: str
    dtype: str
    shape: tuple[Dim, ...] | None  # None: the rank itself is unknown

    @property
    def dynamic_batch(self) -> bool:
        return bool(self.shape) and not isinstance(self.shape[0], int)

    def describe(self) -> str:
        dims = "?" if self.shape is None else "[" + ", ".join(str(d) if d is not None else "?" for d in self.shape) + "]"
        return f"{self.name} {self.dtype}{dims}"

    def as_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": None if self.shape is None else list(self.shape)}


@dataclass(frozen=True)
class ImageSpec:
    """How a decoded image becomes one input tensor of the model.

    ``mean`` and ``std`` are stored in 0-255 pixel units, in the model's channel order, whatever
    units the manifest wrote them in, so the tensor value is always ``(pixel - mean) / std``.
    """

    input: str
    layout: str
    width: int
    height: int
    channels: int
    dtype: str
    resize: str
    channel_order: str = "RGB"
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    resize_shorter_to: int | None = None  # shorter_side_center_crop only
    pad_value: int = 0  # letterbox only; 0-255 pixel units, before normalisation

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height


@dataclass(frozen=True)
class Variant:
    """An optimised copy of a model: its own file and sha256, and what the accuracy check found."""

    name: str
    file: str
    sha256: str
    dtype: str = "float32"
    providers: tuple[str, ...] = ()  # execution providers the benchmark kept it for, fastest first
    size: tuple[int, int] | None = None  # another image input size (detectors at 320, say)
    report: dict = field(default_factory=dict)
    session_config: dict[str, str] = field(default_factory=dict)  # onnxruntime session config entries the file needs


@dataclass(frozen=True)
class ModelSpec:
    """One manifest entry, checked, with its labels already read."""

    name: str
    task: str
    file: str
    sha256: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    image: ImageSpec | None = None
    labels: tuple[str, ...] | None = None
    head: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    output: str | None = None
    activation: str = "softmax"
    python: str | None = None
    # Files the model needs besides its graph (a text model's tokenizer and configs), each path
    # relative to the manifest, with its sha256: the build bundles them, loading checks them.
    files: dict[str, str] = field(default_factory=dict)
    # How long the user's preprocess or postprocess may run, per call, before it is stopped.
    python_time_limit_s: float = 5.0
    variants: tuple[Variant, ...] = ()
    description: str = ""
    default: bool = False
    variant: str = "base"  # which file this spec describes: "base" (the entry's own) or a variant's name
    # onnxruntime session config entries the file needs, natively and in the page alike
    # ({"session.disable_quant_qdq": "1"} for inpage's int8 variants: see inpage_tools.int8_portability).
    session_config: dict[str, str] = field(default_factory=dict)
    entry: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def input(self, name: str) -> TensorSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise ManifestError(f"model {self.name!r}: no input called {name!r}; it has {[i.name for i in self.inputs]}")

    def output_named(self, name: str) -> TensorSpec:
        for spec in self.outputs:
            if spec.name == name:
                return spec
        raise ManifestError(f"model {self.name!r}: no output called {name!r}; it has {[o.name for o in self.outputs]}")

    @property
    def score_output(self) -> TensorSpec:
        """The output a single-output task reads: ``output`` if named, else the first."""
        return self.output_named(self.output) if self.output else self.outputs[0]

    def label(self, index: int) -> str:
        if self.labels and 0 <= index < len(self.labels):
            return self.labels[index]
        return f"class {index}"

    def with_variant(self, name: str | None) -> "ModelSpec":
        """This spec for one of its variants (``None``/``"base"``: the entry's own file)."""
        if name in (None, "base", self.variant):
            return self
        for variant in self.variants:
            if variant.name == name:
                spec = replace(self, file=variant.file, sha256=variant.sha256, variant=variant.name, session_config=dict(variant.session_config))
                if variant.size and self.image:
                    spec = _resized(spec, *variant.size)
                return spec
        known = ", ".join(["base"] + [v.name for v in self.variants])
        raise ManifestError(f"model {self.name!r} has no variant {name!r}; it has: {known}")


def _resized(spec: ModelSpec, width: int, height: int) -> ModelSpec:
    """``spec`` with its image input at another size (a variant exported at 320 instead of 416)."""
    image = spec.image
    assert image is not None
    shorter = image.resize_shorter_to
    if shorter is not None:
        shorter = round(shorter * min(width, height) / min(image.width, image.height))
    inputs = []
    for tensor in spec.inputs:
        if tensor.name == image.input and tensor.shape is not None:
            shape = list(tensor.shape)
            h_axis, w_axis = (2, 3) if image.layout == "NCHW" else (1, 2)
            shape[h_axis], shape[w_axis] = height, width
            tensor = replace(tensor, shape=tuple(shape))
        inputs.append(tensor)
    return replace(spec, image=replace(image, width=width, height=height, resize_shorter_to=shorter), inputs=tuple(inputs), outputs=tuple(replace(o, shape=None) for o in spec.outputs))
