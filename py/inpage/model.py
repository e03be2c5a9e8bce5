"""Loading a model from a manifest and running its task, one call at a time, timed stage by stage.

Example::

    model = await load_model("nanodet-m")              # the bundled manifest, or manifest=PATH/URL
    detections = await model.detect(image)             # the model's own task, by its method name
    outputs = await model.run({"input_1:0": tensor})   # any model: named arrays in and out
    print(model.backend, model.variant, model.last_timings)

Every task in the registry (:mod:`inpage.tasks`) gives :class:`Model` a real method of its name
(``classify``, ``detect``, ``estimate_pose``, ``segment``, ``predict``, ...), with the task's options
as keyword arguments and its docstring, installed as the task registers: ``help(Model)`` and
``dir(model)`` list them, and a new task needs no change here. Calling another task's method
raises :class:`TaskMismatchError`. A list of images runs as one batched call where the model's batch
dimension is dynamic, and one call per image otherwise.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urljoin

from . import _backend
from .errors import InferenceError, InvalidArgumentError, ManifestError, ModelIntegrityError, TaskMismatchError
from .manifest import ModelSpec, find_entry, graph_problems, labels_location, parse_entry
from .tasks import Task, get_task, on_register
from .usercode import load_user_module, wrap_task


@dataclass(frozen=True)
class Timings:
    """Milliseconds spent in each stage of the last call."""

    preprocess_ms: float
    inference_ms: float
    postprocess_ms: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class Model:
    """A loaded model: its manifest entry, a session, and its task."""

    def __init__(self, spec: ModelSpec, session, location: str, task: Task | None = None):
        self.spec = spec
        self.session = session
        self.location = location
        self.task = task or get_task(spec.task)(spec)
        # run() is the bare graph, except on a model whose own task is run: there it is the model's
        # task, with the user's pre/post-processing where the manifest names a module.
        self._run_task = self.task if spec.task == "run" else get_task("run")(spec)
        self.last_timings: Timings | None = None
        # One call at a time: calls share the input buffers, and onnxruntime-web rejects
        # concurrent runs on one session.
        self.lock = asyncio.Lock()

    @property
    def backend(self) -> str:
        """The execution provider that actually runs this model (``wasm``, ``webgpu``, ``cpu``, ``cuda``)."""
        return self.session.backend

    @property
    def fallback_reason(self) -> str | None:
        """Why ``backend`` is not the provider that was asked for (None when it is)."""
        return self.session.fallback_reason

    @property
    def variant(self) -> str:
        """Which file runs: ``"base"`` (the manifest entry's own) or a variant's name (``"int8"``)."""
        return self.spec.variant

    async def infer(self, sample: Any, **options: Any) -> Any:
        """Run the model's own task on ``sample`` (or on each of a list of samples)."""
        return await self._call(self.task, sample, options)

    async def run(self, feeds: dict[str, Any]) -> dict[str, Any]:
        """Run the graph on named arrays; returns every output by name (numpy arrays, copies)."""
        return await self._call(self._run_task, feeds, {})

    async def _call(self, task: Task, sample: Any, given: dict[str, Any]) -> Any:
        options = task.options(given)
        async with self.lock:
            samples = task.split(sample)
            if samples is None:
                return await self._run_batches(task, [[sample]], options, batched=False)
            if not samples:
                raise InvalidArgumentError(f"{task.method}() got an empty list")
            if self.batchable() and len(samples) > 1:
                size = task.max_batch or len(samples)
                chunks = [samples[start : start + size] for start in range(0, len(samples), size)]
            else:
                chunks = [[one] for one in samples]
            return task.combine(await self._run_batches(task, chunks, options, batched=True))

    def payload(self, result: Any, method: str | None = None) -> dict[str, Any]:
        """A result as JSON-able data (numpy arrays stay arrays): of ``run()`` when ``method`` is
        ``"run"``, else of the model's own task. The page sends it to JavaScript."""
        return (self._run_task if method == "run" else self.task).payload(result)

    def batchable(self) -> bool:
        """Whether several samples can go in one call: every input's batch dimension is dynamic."""
        return all(spec.dynamic_batch for spec in self.spec.inputs)

    async def _run_batches(self, task: Task, chunks: list[list[Any]], options: dict[str, Any], batched: bool):
        """Run ``chunks`` of samples one model run each; the results in order (a list when ``batched``,
        else the one sample's result). ``last_timings`` adds up every chunk's stages."""
        results: list[Any] = []
        stages = [0.0, 0.0, 0.0]
        for samples in chunks:
            start = time.perf_counter()
            feeds, contexts = task.prepare_batch(samples, options)
            prepared = time.perf_counter()
            try:
                outputs = await self.session.run(feeds)
            except MemoryError:
                raise InferenceError(f"ran out of memory running {self.spec.name!r}; use a smaller input or batch") from None
            inferred = time.perf_counter()
            if len(samples) > 1:
                results.extend(
                    task.finish({name: value[i : i + 1] for name, value in outputs.items()}, context, options)
                    for i, context in enumerate(contexts)
                )
            else:
                results.append(task.finish(outputs, contexts[0], options))
            done = time.perf_counter()
            for stage, seconds in enumerate((prepared - start, inferred - prepared, done - inferred)):
                stages[stage] += seconds * 1e3
        self.last_timings = Timings(*stages)
        return results if batched else results[0]

    def close(self) -> None:
        """Release the session (and, in the page, onnxruntime-web's memory for it) now."""
        self.session.close()


def _add_task_method(task: type[Task]) -> None:
    """Give :class:`Model` the method that runs ``task`` (``model.estimate_pose(image, score_threshold=0.2)``)."""
    if task.method in ("run", "infer") or task.method in vars(Model):
        return

    async def method(self: Model, sample: Any, **options: Any) -> Any:
        if self.spec.task != task.name:
            raise TaskMismatchError(
                f"model {self.spec.name!r} is a {self.spec.task} model; it cannot {task.method}() "
                f"(use model.{self.task.method}() or model.run())"
            )
        return await self.infer(sample, **options)

    options = ", ".join(f"{name}={value!r}" for name, value in task.defaults.items()) or "none"
    method.__name__ = task.method
    method.__qualname__ = f"Model.{task.method}"
    method.__doc__ = (f"Run the {task.name} task on ``sample`` (or each of a list of samples); options (the model's own "
                      f"defaults, else): {options}. See :mod:`{task.__module__}`.")
    setattr(Model, task.method, method)


on_register(_add_task_method)


async def load_spec(model: str, manifest: str | None = None) -> tuple[ModelSpec, str]:
    """The checked manifest entry for ``model`` and the manifest's location."""
    name: str | None = model
    if manifest is None and model.endswith(".json"):
        manifest, name = model, None
    manifest = manifest or _backend.default_manifest_location()
    if manifest is None:
        raise ManifestError("no manifest given and none found; pass manifest=<path or URL of manifest.json>, or run in a folder with models/manifest.json")
    entry, position = find_entry((await _backend.read_bytes(manifest)).decode("utf-8"), name, manifest)
    labels_file = labels_location(entry)
    labels_text = (await _backend.read_bytes(urljoin(manifest, labels_file))).decode("utf-8") if labels_file else None
    return parse_entry(entry, labels_text, position), manifest


async def read_model_file(spec: ModelSpec, manifest: str, path: str) -> bytes:
    """One of the files ``spec``'s entry lists besides its graph (``files``), read from beside the
    manifest and checked against its sha256."""
    digest = spec.files.get(path)
    if digest is None:
        raise ManifestError(f"model {spec.name!r} needs {path!r}, which its manifest entry's files do not list; run `inpage add` again")
    data = await _backend.read_bytes(urljoin(manifest, path))
    if hashlib.sha256(data).hexdigest() != digest:
        raise ModelIntegrityError(f"model {spec.name!r}: {path} does not match its sha256 in the manifest; the file was changed or damaged (run `inpage add` again, or rebuild the site)")
    return data


def choose_variant(spec: ModelSpec, provider: str) -> str:
    """The variant the benchmark kept for ``provider`` on this kind of machine (the first that lists
    it), else the base model.

    Natively the CPU decides: the benchmark records ``cpu-int8dot`` on CPUs with an int8 dot-product
    instruction (VNNI, arm64's dot product) and ``cpu`` on the others, where int8 runs no faster
    than float; this machine looks up its own kind (see :func:`inpage._backend.variant_key`)."""
    key = _backend.variant_key(provider)
    return next((variant.name for variant in spec.variants if key in variant.providers), "base")


async def load_model(
    model: str,
    *,
    manifest: str | None = None,
    provider: str | None = None,
    threads: int | None = None,
    variant: str | None = None,
) -> Model:
    """Load a model by name from a manifest, verify its sha256, and create its session.

    ``load_model("nanodet-m")`` reads the default manifest (``$INPAGE_MANIFEST``, else
    ``./models/manifest.json``, else the demo models bundled with inpage; in the page, the site's);
    ``load_model("site/models/manifest.json")`` takes that manifest's default model;
    ``load_model("nanodet-m", manifest="https://example.org/models/manifest.json")`` reads it over
    HTTP. ``provider`` is ``"cpu"`` or ``"cuda"`` on CPython and ``"wasm"`` or ``"webgpu"`` in the
    page; a provider that cannot run here falls back (``model.fallback_reason`` says why).
    ``variant`` forces one of the manifest's variants (``"int8"``, ``"base"``); by default the one
    the benchmark kept for the provider runs.
    """
    if not isinstance(model, str) or not model:
        raise InvalidArgumentError(f"model must be a model name or a manifest path, not {model!r}")
    provider = _backend.check_provider(provider)
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 1):
        raise InvalidArgumentError(f"threads must be a positive integer, not {threads!r}")
    spec, manifest = await load_spec(model, manifest)
    spec = spec.with_variant(variant if variant is not None else choose_variant(spec, provider))

    location = urljoin(manifest, spec.file)
    # The backend fetches and verifies the bytes where the session is made (in the page that is
    # JavaScript, so the model never crosses into Python and back).
    # Errors name the model as well as its file: a user's file is often just "model.onnx".
    session = await _backend.load_session(location, spec.sha256, f"model {spec.name!r} ({spec.file})", provider, threads, spec.session_config)
    try:
        problems = graph_problems(spec, session.inputs, session.outputs)
        if problems:
            raise ManifestError(problems[0])
        task = get_task(spec.task)(spec)
        if spec.python:
            task = wrap_task(task, await load_user_module(spec, manifest))
        await task.load(lambda path: read_model_file(spec, manifest, path))
    except BaseException:
        session.close()
        raise
    return Model(spec, session, location, task)
