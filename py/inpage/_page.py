"""The entry points the page's worker calls (``web/js/worker.js``): load a model once, run a task on a
source from the page, and turn the result, or any failure, into a plain JavaScript object.

Nothing here imports ``js``: JavaScript values are read through :mod:`inpage._web`. Every call
returns either a payload or ``{error: {name, message}}`` with a one-line message, so no Python
traceback ever reaches the page.

Sources arrive as ``{kind, ...}`` objects made by the worker's JavaScript:

* ``{kind: "encoded", bytes}`` - an encoded image (URL, Blob or File), decoded by Pillow as on CPython;
* ``{kind: "rgba", data, width, height}`` - pixels from ImageData, a canvas, an image element,
  an ImageBitmap or a video frame;
* ``{kind: "text", texts, single}`` - texts (``single``: one string was given);
* ``{kind: "rows", rows}`` - tabular rows; ``{kind: "feeds", feeds: {name: {data, dims, type}}}``
  - named tensors for ``run``; ``{kind: "batch", items: [...]}`` - several of the above.
"""

from __future__ import annotations

import asyncio
from typing import Any

from . import _web
from .errors import InpageError, InvalidArgumentError, non_finite_result, one_line
from .model import Model, load_model
from .tasks import camel_case, get_task, task_for_method, task_names

# Loads shared by every caller: the first call for a (model, provider, variant) starts the load,
# later calls, concurrent or not, await the same one. A failed load stays failed: later calls get
# its error at once instead of downloading the model again behind the caller's back, and only an
# explicit load (``inpage.loadModel``) tries again.
_loads: dict[tuple[str, str, str | None], asyncio.Task] = {}
# Why a model's warm-up run failed, by model name (the load itself succeeded).
warm_up_failures: dict[str, str] = {}


def _option_names() -> dict[str, str]:
    """Every task's options, JavaScript's spelling -> Python's (topK -> top_k)."""
    return {camel_case(option): option for name in task_names() for option in get_task(name).defaults}


def _error(exc: BaseException) -> dict:
    if isinstance(exc, InvalidArgumentError):
        # The caller wrote topK, not top_k: name the argument as it was given.
        message = str(exc)
        for js_name, py_name in _option_names().items():
            message = message.replace(py_name, js_name)
        return {"error": {"name": type(exc).__name__, "message": message}}
    if isinstance(exc, InpageError):
        return {"error": {"name": type(exc).__name__, "message": str(exc)}}
    if isinstance(exc, MemoryError):
        return {"error": {"name": "InferenceError", "message": "ran out of memory; use a smaller image or batch, or reload the page"}}
    return {"error": {"name": "InternalError", "message": f"inpage failed unexpectedly ({type(exc).__name__}: {one_line(exc)}); please report this"}}


async def _model(name: str, provider: str, variant: str | None, retry: bool = False) -> Model:
    key = (name, provider, variant)
    task = _loads.get(key)
    failed = task is not None and task.done() and (task.cancelled() or task.exception() is not None)
    if failed and retry:
        task = None  # an explicit load tries a failed one again
    elif failed:
        exc = task.exception() if not task.cancelled() else None
        if isinstance(exc, InpageError):
            raise type(exc)(f"{exc} (it failed to load earlier; inpage.loadModel({name!r}) tries again)") from None
    if task is None:
        task = _loads[key] = asyncio.ensure_future(_load(name, provider, variant))
    return await asyncio.shield(task)


async def _load(name: str, provider: str, variant: str | None) -> Model:
    model = await load_model(name, provider=provider, variant=variant)
    # One run on zeros: a session's first run pays for kernel set-up (and, under WebGPU, shader
    # compiles). Paying it now, while the user is still choosing an image or starting the
    # camera, makes the first real result come sooner. Image tasks also decode and fit a tiny
    # PNG: the first image pays for Pillow's plug-ins being imported (hundreds of ms in the page).
    # Zeros are not valid input for every model (an Expand or a SplitToSequence whose sizes come
    # from an input): a failed warm-up only means the first real call pays the set-up instead.
    try:
        await model.run({spec.name: _zeros(spec) for spec in model.spec.inputs})
        warm_up_failures.pop(model.spec.name, None)
    except InpageError as exc:
        warm_up_failures[model.spec.name] = str(exc)
    if model.task.image_input:
        async with model.lock:
            model.task.prepare(_tiny_png(), model.task.options({}))
    return model


def _tiny_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, "PNG")
    return buffer.getvalue()


def _zeros(spec):
    import numpy as np

    from .specs import NUMPY_TYPES

    shape = tuple(d if isinstance(d, int) else 1 for d in (spec.shape or (1,)))
    if spec.dtype == "string":
        return np.full(shape, "", dtype=object)
    return np.zeros(shape, dtype=NUMPY_TYPES[spec.dtype])


def _info(model: Model) -> dict:
    spec = model.spec
    return {
        "name": spec.name,
        "task": spec.task,
        "method": model.task.method,
        "backend": model.backend,
        "fallbackReason": model.fallback_reason,
        "variant": model.variant,
        "inputSize": list(spec.image.size) if spec.image else None,
        "inputs": [t.as_json() for t in spec.inputs],
        "outputs": [t.as_json() for t in spec.outputs],
        "warmUpFailed": warm_up_failures.get(spec.name),
    }


async def load(name: str, provider: str, variant=None):
    """Load a model (once, however many callers ask at the same time; again if it failed before);
    resolves to its description."""
    try:
        return _web.to_js_payload(_info(await _model(str(name), str(provider), None if variant is None else str(variant), retry=True)))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back as one line
        return _web.to_js_payload(_error(exc))


def _sample(source) -> Any:
    kind = str(source.kind)
    if kind == "encoded":
        return _web.js_bytes(source.bytes)
    if kind == "rgba":
        return _web.RgbaPixels(source.data, int(source.width), int(source.height))
    if kind == "text":
        texts = source.texts.to_py()
        return texts[0] if bool(source.single) and len(texts) == 1 else texts
    if kind == "rows":
        return _web.js_to_array(source.rows)
    if kind == "feeds":
        feeds = source.feeds
        return {str(key): _web.js_to_array(getattr(feeds, key)) for key in feeds.object_keys()}
    if kind == "batch":
        return [_sample(item) for item in source.items]
    raise InvalidArgumentError(f"unknown source kind {kind!r}")


def _options(options) -> dict[str, Any]:
    if options is None:
        return {}
    given = options.to_py() if hasattr(options, "to_py") else dict(options)
    names = _option_names()
    return {names.get(key, key): value for key, value in given.items() if value is not None}


async def call(method: str, name: str, provider: str, variant, source, options):
    """Run ``method`` (``classify``, ``detect``, ``predict``, ``run``, ...) of model ``name`` on ``source``."""
    try:
        method = str(method)
        model = await _model(str(name), str(provider), None if variant is None else str(variant))
        sample = _sample(source)
        kwargs = _options(options)
        if method == "run":
            result = await model.run(sample)
        else:
            if task_for_method(method) is None:
                raise InvalidArgumentError(f"unknown method {method!r}")
            result = await getattr(model, method)(sample, **kwargs)
        # A batch from the page (several images) gives one payload per item.
        payload = {"batch": [model.payload(r, method) for r in result]} if str(source.kind) == "batch" else model.payload(result, method)
        payload.update(
            timings=model.last_timings.as_dict() if model.last_timings else {},
            backend=model.backend,
            fallbackReason=model.fallback_reason,
            variant=model.variant,
            model=model.spec.name,
        )
        try:
            return _web.to_js_payload(payload)
        except ValueError:
            raise non_finite_result(model.spec.name) from None
    except BaseException as exc:  # noqa: BLE001 - every failure goes back as one line
        return _web.to_js_payload(_error(exc))


async def raw_run(name: str, provider: str, variant, runs: int):
    """The benchmark's yardstick: the model's own onnxruntime-web session.run on zero inputs, timed in JS."""
    try:
        model = await _model(str(name), str(provider), None if variant is None else str(variant))
        timings = await model.session.time_runs({spec.name: _zeros(spec) for spec in model.spec.inputs}, int(runs))
        return _web.to_js_payload({"run_ms": timings, "variant": model.variant, "backend": model.backend})
    except BaseException as exc:  # noqa: BLE001 - every failure goes back as one line
        return _web.to_js_payload(_error(exc))


def sha256(data) -> str:
    """The sha256 of a Uint8Array, for the worker's file checks where ``crypto.subtle`` is missing."""
    return _web.sha256_hex(data)


def release(name: str) -> None:
    """Close every session of model ``name`` now (any provider or variant)."""
    for key in [k for k in _loads if k[0] == str(name)]:
        task = _loads.pop(key)
        if task.done() and not task.cancelled() and task.exception() is None:
            task.result().close()
