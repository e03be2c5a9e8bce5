"""The task registry: what a model is for (classify, detect, predict on tabular rows, ...), one module each.

A task turns a caller's input into the model's feeds (``prepare``) and the model's outputs into
a result (``finish``). :class:`~inpage.model.Model` runs it under its lock and times each stage;
the page's entry points and the CLI find tasks here by the manifest's ``task`` name, so adding a
task is one new module in this folder that subclasses :class:`Task` and calls
:func:`register_task`. Every module here is imported on first lookup.

Options are checked here, at the API boundary: a bad threshold or ``top_k`` raises
:class:`~inpage.errors.InvalidArgumentError` naming the argument, before anything runs.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import InvalidArgumentError
from ..image import to_rgb
from ..specs import ModelSpec
from ..preprocess import FrameTransform, TensorWriter, fit_to_input
from ..registry import Registry

_TASKS: Registry[type["Task"]] = Registry(__name__, __path__, "task")


def register_task(cls: type["Task"]) -> type["Task"]:
    """Class decorator: make ``cls`` the task for manifest entries with ``"task": cls.name``."""
    return _TASKS.add(cls.name, cls)


def task_names() -> tuple[str, ...]:
    return _TASKS.names()


def get_task(name: str) -> type["Task"]:
    return _TASKS.get(name)


def task_for_method(method: str) -> type["Task"] | None:
    """The task a :class:`~inpage.model.Model` method name runs (``classify`` -> the classify task)."""
    return next((task for _name, task in _TASKS.items() if task.method == method), None)


class Task:
    """One kind of work a model does. Subclasses set ``name`` and ``method`` and implement
    ``prepare`` and ``finish``; the rest has sensible defaults."""

    name: ClassVar[str]
    method: ClassVar[str]  # the Model method that runs this task: model.classify(...), ...
    image_input: ClassVar[bool] = False  # True: the entry needs an "image" section
    defaults: ClassVar[dict[str, Any]] = {}  # option defaults when the manifest gives none

    def __init__(self, spec: ModelSpec):
        self.spec = spec

    # ---- checks, at manifest parse time and at build time ------------------------------------

    @classmethod
    def check_spec(cls, spec: ModelSpec) -> list[str]:
        """Problems with the task's own parts of a manifest entry, one line each."""
        return []

    # ---- options ---------------------------------------------------------------------------

    def options(self, given: dict[str, Any]) -> dict[str, Any]:
        """Defaults (the manifest's ``options``, else the task's), overridden by the caller's, checked."""
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            raise InvalidArgumentError(f"{self.method}() got unknown option(s) {', '.join(unknown)}; it takes: {known}")
        merged = {key: self.spec.options.get(key, value) for key, value in self.defaults.items()}
        merged.update({key: value for key, value in given.items() if value is not None})
        return self.check_options(merged)

    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return options

    # ---- the work --------------------------------------------------------------------------

    def prepare(self, sample: Any, options: dict[str, Any], slot: int = 0, batch: int = 1) -> tuple[dict[str, np.ndarray], Any]:
        """The feeds for one sample (written into batch ``slot`` of ``batch``), and the context ``finish`` needs."""
        raise NotImplementedError

    def finish(self, outputs: dict[str, np.ndarray], context: Any, options: dict[str, Any]) -> Any:
        """The result for one sample from the model's outputs (batch dimension 1)."""
        raise NotImplementedError

    def payload(self, result: Any) -> dict[str, Any]:
        """The result as JSON-able data for the page; numpy arrays in it travel as binary."""
        raise NotImplementedError

    def split(self, sample: Any) -> list[Any] | None:
        """The samples in ``sample`` if it is a batch (a list of images, say), else None."""
        return list(sample) if isinstance(sample, (list, tuple)) else None


class ImageTask(Task):
    """A task whose one image input is made from a picture by the manifest's ``image`` recipe."""

    image_input = True

    def __init__(self, spec: ModelSpec):
        super().__init__(spec)
        assert spec.image is not None
        self._writers: dict[int, TensorWriter] = {}

    def writer(self, batch: int) -> TensorWriter:
        writer = self._writers.get(batch)
        if writer is None:
            # One writer for single calls, one for the latest batch size: bounded by the model.
            if len(self._writers) > 1:
                self._writers = {1: self._writers[1]} if 1 in self._writers else {}
            writer = self._writers[batch] = TensorWriter(self.spec.image, batch)
        return writer

    def prepare(self, sample, options, slot=0, batch=1):
        image = to_rgb(sample)
        fitted, transform = fit_to_input(image, self.spec.image)
        tensor = self.writer(batch).write(np.asarray(fitted), slot)
        return {self.spec.image.input: tensor}, transform


def probability(name: str, value: Any) -> float:
    """``value`` as a float in [0, 1], or an error naming the argument."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not 0.0 <= number <= 1.0:
        raise InvalidArgumentError(f"{name} must be a number between 0 and 1, not {value!r}")
    return number


def positive_int(name: str, value: Any, upper: int | None = None) -> int:
    """``value`` as an int >= 1 (and <= ``upper``), or an error naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer)) or int(value) != value or value < 1:
        raise InvalidArgumentError(f"{name} must be a positive integer, not {value!r}")
    if upper is not None and value > upper:
        raise InvalidArgumentError(f"{name} must be at most {upper}, not {value!r}")
    return int(value)


__all__ = ["FrameTransform", "ImageTask", "Task", "get_task", "positive_int", "probability", "register_task", "task_names"]
