"""The task registry: what a model is for (classify, detect, predict on tabular rows, ...), one module each.

A task module owns everything about its task, and nothing else repeats it:

* its name, its input kind (``image``, ``rows``, ``tensors``) and its method names (Python's
  ``estimate_pose``, JavaScript's ``estimatePose``, the CLI's ``estimate-pose``);
* its options and their defaults (``defaults``), checked in ``check_options``;
* the work: the caller's input to the model's feeds (``prepare``), the outputs to a result
  (``finish``), the result as JSON for the page (``payload``) and as lines for the CLI (``describe``);
* how ``inpage add`` recognises one of its models (``recognise``) and writes its entry (``plan``);
* how two of its results are compared (``judge``: the optimiser's accuracy figures and the quality
  floors the optimiser and the benchmark both apply).

:class:`~inpage.model.Model` runs a task under its lock and times each stage. The page, the CLI,
the optimiser and the benchmark find tasks here by name, and the site build writes
:func:`describe_tasks` into ``tasks.json`` for the pages. Adding a task is one new module in this
folder that subclasses :class:`Task` and decorates it with :func:`register_task`. Every module here
is imported on first lookup.

Options are checked here, at the API boundary: a bad threshold or ``top_k`` raises
:class:`~inpage.errors.InvalidArgumentError` naming the argument, before anything runs.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..errors import InvalidArgumentError
from ..image import to_rgb
from ..specs import ModelSpec
from ..preprocess import FrameTransform, TensorWriter, fit_to_input
from ..registry import Registry

if TYPE_CHECKING:
    from ..adding import ModelFile

_TASKS: Registry[type["Task"]] = Registry(__name__, __path__, "task")


def register_task(cls: type["Task"]) -> type["Task"]:
    """Class decorator: make ``cls`` the task for manifest entries with ``"task": cls.name``, and
    ``Model.<method>`` the method that runs it (see :mod:`inpage.model`)."""
    _TASKS.add(cls.name, cls)
    for listener in _on_register:
        listener(cls)
    return cls


# Called with each task class as it registers (the Model class adds its method).
_on_register: list = []


def on_register(listener) -> None:
    """Call ``listener(task_class)`` for every task registered, before and after now."""
    _on_register.append(listener)
    for _name, task in _TASKS.items():  # imports every task module, which registers each
        listener(task)


def camel_case(name: str) -> str:
    """A Python name in JavaScript's spelling: ``score_threshold`` -> ``scoreThreshold``."""
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def recognise(model: "ModelFile") -> list[str]:
    """The tasks whose ``recognise`` accepts the model file, by name."""
    return [name for name, task in _TASKS.items() if task.recognise(model)]


def describe_tasks() -> list[dict[str, Any]]:
    """Every task as the pages, the worker and ``window.inpage`` read it (the build's ``tasks.json``)."""
    return [task.description() for _name, task in _TASKS.items()]


def task_names() -> tuple[str, ...]:
    return _TASKS.names()


def get_task(name: str) -> type["Task"]:
    return _TASKS.get(name)


def task_for_method(method: str) -> type["Task"] | None:
    """The task a :class:`~inpage.model.Model` method name runs (``classify`` -> the classify task)."""
    return next((task for _name, task in _TASKS.items() if task.method == method), None)


class Task:
    """One kind of work a model does. Subclasses set ``name``, ``method`` and ``input_kind`` and
    implement ``prepare``, ``finish`` and ``payload``; the rest has sensible defaults."""

    name: ClassVar[str]
    method: ClassVar[str]  # the Model method that runs this task: model.classify(...), ...
    # What a call takes: "image" (a picture), "text" (strings), "rows" (tabular rows of numbers),
    # "tensors" (named arrays).
    input_kind: ClassVar[str] = "tensors"
    image_input: ClassVar[bool] = False  # True: the entry needs an "image" section
    defaults: ClassVar[dict[str, Any]] = {}  # option defaults when the manifest gives none
    option_help: ClassVar[dict[str, str]] = {}  # one line per option, for the CLI's --help
    # An option's type where its default does not show it (``top_k=None`` takes an int), for the CLI.
    option_types: ClassVar[dict[str, type]] = {}
    # Values the pages use to show a result, not options of the call (pose: which keypoints to draw).
    display: ClassVar[dict[str, Any]] = {}
    judge: ClassVar[type["Judge"] | None] = None  # how two results are compared (the optimiser's accuracy)
    cli_help: ClassVar[str] = ""  # one line: what the command does, for the CLI's --help
    # The most samples one run of the model takes; a longer list runs in chunks of this many (None:
    # all at once). Text tasks set it, so 10,000 texts never become one 10,000-row tensor.
    max_batch: ClassVar[int | None] = None

    def __init__(self, spec: ModelSpec):
        self.spec = spec

    # ---- what the task is, for the page, the CLI and the docs ---------------------------------

    @classmethod
    def js_method(cls) -> str:
        return camel_case(cls.method)

    @classmethod
    def cli_command(cls) -> str:
        return cls.method.replace("_", "-")

    @classmethod
    def description(cls) -> dict[str, Any]:
        """The task as JSON (the build's ``tasks.json``): names, input kind, option defaults in
        JavaScript's spelling, and what the pages need to show a result."""
        return {
            "task": cls.name,
            "method": cls.js_method(),
            "pythonMethod": cls.method,
            "input": cls.input_kind,
            "options": {camel_case(key): value for key, value in cls.defaults.items()},
            "display": {camel_case(key): value for key, value in cls.display.items()},
        }

    @classmethod
    def head_parameters(cls, spec: ModelSpec) -> dict[str, Any] | None:
        """The read-out parameters of a model's head, defaults filled in (for ``tasks.json``), if it has any."""
        return dict(spec.head) or None

    # ---- adding a model: inpage add -------------------------------------------------------------

    @classmethod
    def recognise(cls, model: "ModelFile") -> bool:
        """Whether the file looks like one of this task's models (``inpage add`` without ``--task``)."""
        return False

    @classmethod
    def plan(cls, model: "ModelFile") -> dict[str, Any]:
        """This task's parts of the manifest entry for ``model`` (``head``, ``output``, ``image``,
        ``labels``, ``options``, ...); notes for the user go to ``model.notes``. Raise
        :class:`~inpage.errors.ProjectError` when the file cannot be one of its models."""
        return {"labels": model.labels} if model.labels else {}

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

    async def load(self, read) -> None:
        """Read what the task needs besides the graph (a text model's tokenizer), once, as the model
        loads. ``await read(path)`` gives the bytes of one of the entry's ``files``, sha256-checked."""

    def prepare_batch(self, samples: list[Any], options: dict[str, Any]) -> tuple[dict[str, np.ndarray], list[Any]]:
        """The feeds for ``samples`` run together, and one context per sample: by default each
        sample written into its slot by ``prepare``. Text tasks tokenize the batch as a whole."""
        feeds: dict[str, np.ndarray] = {}
        contexts = []
        for slot, sample in enumerate(samples):
            feeds, context = self.prepare(sample, options, slot=slot, batch=len(samples))
            contexts.append(context)
        return feeds, contexts

    def combine(self, results: list[Any]) -> Any:
        """A call's result on a list of samples, from the samples' own results (the list, by default;
        text embeddings stack into one ``(N, D)`` array)."""
        return results

    def prepare(self, sample: Any, options: dict[str, Any], slot: int = 0, batch: int = 1) -> tuple[dict[str, np.ndarray], Any]:
        """The feeds for one sample (written into batch ``slot`` of ``batch``), and the context ``finish`` needs."""
        raise NotImplementedError

    def finish(self, outputs: dict[str, np.ndarray], context: Any, options: dict[str, Any]) -> Any:
        """The result for one sample from the model's outputs (batch dimension 1)."""
        raise NotImplementedError

    def payload(self, result: Any) -> dict[str, Any]:
        """The result as JSON-able data for the page; numpy arrays in it travel as binary."""
        raise NotImplementedError

    def describe(self, result: Any) -> list[str]:
        """The result as lines of text, for the CLI (``--json`` prints the payload instead)."""
        return [json.dumps(self.payload(result), default=_short_json)]

    def split(self, sample: Any) -> list[Any] | None:
        """The samples in ``sample`` if it is a batch (a list of images, say), else None."""
        return list(sample) if isinstance(sample, (list, tuple)) else None


class ImageTask(Task):
    """A task whose one image input is made from a picture by the manifest's ``image`` recipe."""

    image_input = True
    input_kind = "image"
    # The pre-processing ``inpage add`` suggests for this task's models (before the user's flags).
    suggested_image: ClassVar[dict[str, Any]] = {"resize": "stretch", "channel_order": "RGB", "normalize": {"mean": [0, 0, 0], "std": [1, 1, 1], "units": "0-1"}}

    @classmethod
    def plan(cls, model):
        from ..adding import image_recipe

        entry = super().plan(model)
        entry["image"] = image_recipe(model, cls.suggested_image)
        return entry

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


class Judge:
    """How two results of one task are compared over a set of views (the optimiser's variant against
    the base model on held-out photos): the results kept per view, the figures, one quality in
    [0, 1], and the floors. Below ``quality_floor`` a variant is broken and not kept; only a variant
    that ``runs_by_default`` may be chosen to run by default (the benchmark's choice)."""

    quality_floor: ClassVar[float]

    @classmethod
    def results(cls, task: Task, outputs: dict[str, np.ndarray], context: Any) -> Any:
        """What is kept of one view's outputs for comparing."""
        return task.finish(outputs, context, task.options({}))

    @classmethod
    def compare(cls, base: list, variant: list, views: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def quality(cls, figures: dict[str, Any]) -> float:
        raise NotImplementedError

    @classmethod
    def runs_by_default(cls, figures: dict[str, Any]) -> bool:
        """Whether a variant with these figures is accurate enough to run without being asked for."""
        return cls.quality(figures) >= cls.quality_floor

    @classmethod
    def summary(cls, figures: dict[str, Any]) -> dict[str, Any]:
        """The figures worth printing."""
        return figures

    @classmethod
    def headline(cls, figures: dict[str, Any]) -> str:
        """The figures in one line, for ``inpage optimize``'s output."""
        return f"quality {cls.quality(figures):.3f}"


def mean(values) -> float | None:
    """The mean rounded to 4 places, or None for no values (a judge's figures)."""
    values = list(values)
    return round(float(np.mean(values)), 4) if values else None


def _short_json(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"dims": list(value.shape), "type": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


def probability(name: str, value: Any) -> float:
    """``value`` as a float in [0, 1], or an error naming the argument."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not 0.0 <= number <= 1.0:
        raise InvalidArgumentError(f"{name} must be a number between 0 and 1, not {value!r}")
    return number


def boolean(name: str, value: Any) -> bool:
    """``value`` as a bool (the command line's "true"/"false" too), or an error naming the argument."""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        value = value.lower() == "true"
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidArgumentError(f"{name} must be true or false, not {value!r}")
    return bool(value)


def positive_int(name: str, value: Any, upper: int | None = None) -> int:
    """``value`` as an int >= 1 (and <= ``upper``), or an error naming the argument."""
    whole = isinstance(value, (int, np.integer)) or (isinstance(value, (float, np.floating)) and math.isfinite(value) and value == int(value))
    if isinstance(value, bool) or not whole or value < 1:
        raise InvalidArgumentError(f"{name} must be a positive integer, not {value!r}")
    if upper is not None and value > upper:
        raise InvalidArgumentError(f"{name} must be at most {upper}, not {value!r}")
    return int(value)


__all__ = [
    "FrameTransform", "ImageTask", "Judge", "Task", "boolean", "camel_case", "describe_tasks", "get_task", "mean", "on_register",
    "positive_int", "probability", "recognise", "register_task", "task_names",
]
