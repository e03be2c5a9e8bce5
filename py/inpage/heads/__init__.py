"""The detector-head registry: one module per head layout (NanoDet GFL, BlazeFace SSD, YOLO, ...).

A head turns a detector's raw outputs into candidate boxes in model-input pixels, before NMS: the
rest of detection (class-wise NMS, mapping to frame pixels) is shared by every head in
:mod:`inpage.tasks.detect`. Heads match outputs by shape, not by graph name, because converted
graphs name their outputs arbitrarily. A new head is one new module in this folder that defines a
:class:`Head` subclass and decorates it with :func:`register_head`; it is found on first lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from ..specs import ModelSpec
from ..registry import Registry



@dataclass
class Candidates:
    """Detections before NMS, in model-input pixels: Nx4 boxes, N scores, N class ids, optional NxKx2 keypoints."""

    boxes: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray
    keypoints: np.ndarray | None = None

    @classmethod
    def empty(cls) -> "Candidates":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


class Head:
    """A detector head: ``decode(outputs, score_threshold) -> Candidates``."""

    name: ClassVar[str]
    # What inpage add suggests for a model with this head, when the model itself says nothing: its
    # pre-processing, and option defaults other than the detect task's own.
    suggested_image: ClassVar[dict[str, Any]] = {}
    suggested_options: ClassVar[dict[str, Any]] = {}
    # The head's parameters where the manifest's ``head`` gives none.
    parameters: ClassVar[dict[str, Any]] = {}

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.input_width, self.input_height = spec.image.size if spec.image else (0, 0)

    @classmethod
    def resolved(cls, spec: ModelSpec) -> dict[str, Any]:
        """Every parameter the head decodes with: the manifest's ``head``, over the head's defaults
        (the site build hands them to the pages and the plain-JS baseline in ``tasks.json``)."""
        return {**cls.parameters, **spec.head, "type": cls.name}

    @classmethod
    def check(cls, spec: ModelSpec) -> list[str]:
        """Problems with ``spec.head``'s parameters or the recorded outputs, one line each."""
        return []

    @classmethod
    def matches(cls, spec: ModelSpec) -> bool:
        """Whether the model's outputs look like this head's (for inpage add's guess)."""
        return False

    @classmethod
    def suggest(cls, spec: ModelSpec) -> dict[str, Any]:
        """Head parameters read off the model's outputs, for inpage add (beyond ``type``)."""
        return {}

    def decode(self, outputs: dict[str, np.ndarray], score_threshold: float) -> Candidates:
        raise NotImplementedError

    def num_classes(self) -> int | None:
        return len(self.spec.labels) if self.spec.labels else None


_HEADS: Registry[type[Head]] = Registry(__name__, __path__, "head.type")


def register_head(cls: type[Head]) -> type[Head]:
    """Class decorator: make ``cls`` the decoder for manifest entries with ``"head": {"type": cls.name}``."""
    return _HEADS.add(cls.name, cls)


def get_head(name: Any) -> type[Head]:
    return _HEADS.get(name)


def head_names() -> tuple[str, ...]:
    return _HEADS.names()


def guess_head(spec: ModelSpec) -> str | None:
    """The head whose output layout ``spec``'s outputs match, if exactly one does."""
    found = [name for name, head in _HEADS.items() if head.matches(spec)]
    return found[0] if len(found) == 1 else None


def static_dims(shape) -> tuple[int, ...] | None:
    """The shape without its leading batch dim, if every other dim is static."""
    if shape is None or len(shape) < 2 or not all(isinstance(d, int) for d in shape[1:]):
        return None
    return tuple(shape[1:])
