"""The model manifest: which models a site bundles, and how to feed and read each one.

A manifest is a JSON file beside the model files::

    {"models": [{"name": "efficientnet-lite0", "task": "classify", "file": "efficientnet-lite0.onnx",
                 "sha256": "...", "input": {...}, "preprocess": {...}, "labels": "labels/imagenet1k.txt",
                 "decoder": {...}}]}

File paths in it are relative to the manifest itself, so the same manifest works from a folder on
disk (CPython) and from a URL on the site (the page).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import ManifestError

TASKS = ("classify", "detect")
LAYOUTS = ("NCHW", "NHWC")
RESIZE_MODES = ("shorter_side_center_crop", "stretch", "letterbox")


@dataclass(frozen=True)
class InputSpec:
    """The one image input of a model: its graph name, fixed shape, dtype and layout."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    layout: str

    @property
    def height(self) -> int:
        return self.shape[2] if self.layout == "NCHW" else self.shape[1]

    @property
    def width(self) -> int:
        return self.shape[3] if self.layout == "NCHW" else self.shape[2]


@dataclass(frozen=True)
class PreprocessSpec:
    """How a decoded RGB image becomes the model's input tensor.

    ``mean`` and ``std`` are in 0-255 pixel units and in the model's channel order, so the
    tensor value is ``(pixel - mean) / std``.
    """

    resize: str
    channel_order: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    resize_shorter_to: int | None = None  # only for "shorter_side_center_crop"
    pad_value: int = 0  # only for "letterbox"; in 0-255 pixel units, before normalisation


@dataclass(frozen=True)
class ModelSpec:
    """One manifest entry, with its labels already read."""

    name: str
    task: str
    file: str
    sha256: str
    input: InputSpec
    preprocess: PreprocessSpec
    labels: tuple[str, ...]
    decoder: dict[str, Any] = field(default_factory=dict)
    description: str = ""


def _require(entry: dict, key: str, where: str) -> Any:
    if key not in entry:
        raise ManifestError(f"{where}: missing key {key!r}")
    return entry[key]


def parse_entry(entry: dict, labels_text: str | None) -> ModelSpec:
    """Validate one manifest entry. ``labels_text`` is the content of its labels file."""
    name = _require(entry, "name", "manifest entry")
    where = f"manifest entry {name!r}"
    task = _require(entry, "task", where)
    if task not in TASKS:
        raise ManifestError(f"{where}: task must be one of {TASKS}, not {task!r}")

    raw_input = _require(entry, "input", where)
    layout = _require(raw_input, "layout", where)
    if layout not in LAYOUTS:
        raise ManifestError(f"{where}: input layout must be one of {LAYOUTS}, not {layout!r}")
    shape = tuple(int(d) for d in _require(raw_input, "shape", where))
    if len(shape) != 4 or shape[0] != 1:
        raise ManifestError(f"{where}: input shape must be [1, ...] with 4 dims, not {list(shape)}")
    input_spec = InputSpec(
        name=_require(raw_input, "name", where),
        shape=shape,
        dtype=raw_input.get("dtype", "float32"),
        layout=layout,
    )
    if input_spec.dtype != "float32":
        raise ManifestError(f"{where}: only float32 image inputs are supported, not {input_spec.dtype!r}")

    raw_pre = _require(entry, "preprocess", where)
    resize = _require(raw_pre, "resize", where)
    if resize not in RESIZE_MODES:
        raise ManifestError(f"{where}: preprocess.resize must be one of {RESIZE_MODES}, not {resize!r}")
    channel_order = raw_pre.get("channel_order", "RGB")
    if channel_order not in ("RGB", "BGR"):
        raise ManifestError(f"{where}: channel_order must be RGB or BGR, not {channel_order!r}")
    mean = tuple(float(v) for v in raw_pre.get("mean", (0.0, 0.0, 0.0)))
    std = tuple(float(v) for v in raw_pre.get("std", (1.0, 1.0, 1.0)))
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise ManifestError(f"{where}: mean and std need three values each, std > 0")
    if resize == "shorter_side_center_crop" and "resize_shorter_to" not in raw_pre:
        raise ManifestError(f"{where}: shorter_side_center_crop needs preprocess.resize_shorter_to")
    preprocess = PreprocessSpec(
        resize=resize,
        channel_order=channel_order,
        mean=mean,  # type: ignore[arg-type]
        std=std,  # type: ignore[arg-type]
        resize_shorter_to=raw_pre.get("resize_shorter_to"),
        pad_value=int(raw_pre.get("pad_value", 0)),
    )

    labels = tuple(line.strip() for line in (labels_text or "").splitlines() if line.strip())
    if not labels:
        raise ManifestError(f"{where}: its labels file is empty or missing")

    sha256 = _require(entry, "sha256", where).lower()
    if len(sha256) != 64:
        raise ManifestError(f"{where}: sha256 must be 64 hex digits")

    return ModelSpec(
        name=name,
        task=task,
        file=_require(entry, "file", where),
        sha256=sha256,
        input=input_spec,
        preprocess=preprocess,
        labels=labels,
        decoder=dict(entry.get("decoder", {})),
        description=entry.get("description", ""),
    )


def find_entry(manifest_text: str, name: str | None, source: str) -> dict:
    """Return the raw entry called ``name`` (or the first entry when ``name`` is None)."""
    try:
        document = json.loads(manifest_text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{source} is not valid JSON: {exc}") from None
    entries = document.get("models") if isinstance(document, dict) else None
    if not entries:
        raise ManifestError(f"{source} lists no models")
    if name is None:
        return entries[0]
    for entry in entries:
        if entry.get("name") == name:
            return entry
    known = ", ".join(e.get("name", "?") for e in entries)
    raise ManifestError(f"no model called {name!r} in {source}; it has: {known}")
