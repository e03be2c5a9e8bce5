"""The page side of the runtime boundary: the only module that touches ``js`` and ``pyodide.ffi``.

It gives the rest of the package what ``_native`` gives it on CPython (bytes from a location, a
session with ``async run``), and it gives the page's JavaScript its entry points (``page_*``).

Data crosses without needless copies:

* into onnxruntime-web, each input is a ``getBuffer`` view of the contiguous numpy array, wrapped
  by ``ort.Tensor`` (no copy on our side; onnxruntime copies it into its own heap during ``run``);
* out of onnxruntime-web, each output is ``assign_to``-copied into a numpy array preallocated
  per output and reused call after call;
* camera frames come in as canvas RGBA, ``assign_to``-copied into a preallocated frame array.

Every PyProxy and PyBuffer made here is destroyed or released before the call returns: the
browser's finalizers run far too late to keep a 30 fps loop's memory flat.
"""

from __future__ import annotations

import json

import numpy as np

import js  # type: ignore[import-not-found]
import inpage_host  # type: ignore[import-not-found]  # registered by web/js/inpage.js before import
from pyodide.ffi import JsException, create_proxy, to_js  # type: ignore[import-not-found]

from .errors import InpageError, ModelLoadError

# numpy dtype -> (PyBuffer format for getBuffer, onnxruntime-web tensor type)
_BUFFER_TYPES = {
    np.dtype(np.float32): ("f32", "float32"),
    np.dtype(np.int32): ("i32", "int32"),
    np.dtype(np.uint8): ("u8", "uint8"),
}
_NUMPY_TYPES = {"float32": np.float32, "int32": np.int32, "uint8": np.uint8, "int64": np.int64, "float16": np.float16}


async def read_bytes(location: str) -> bytes:
    try:
        data = await inpage_host.fetchBytes(location)
    except JsException as exc:
        raise ModelLoadError(f"cannot fetch {location}: {exc.message}") from None
    return data.to_bytes()


def default_manifest_location() -> str:
    return str(inpage_host.manifestUrl)


async def create_session(model_bytes: bytes, file_name: str, provider: str | None = None, threads: int | None = None):
    # threads: onnxruntime-web takes its thread count from the page (env.wasm.numThreads), set
    # once per page by the host, because it cannot change after the first session.
    try:
        handle = await inpage_host.createSession(to_js(model_bytes), provider or "wasm", file_name)
    except JsException as exc:
        raise ModelLoadError(f"onnxruntime-web cannot load {file_name}: {exc.message}") from None
    return WebSession(handle)


class WebSession:
    """An onnxruntime-web InferenceSession behind the same ``async run`` as the native one."""

    def __init__(self, handle):
        self._session = handle.session
        self._ort = handle.ort
        self.backend = str(handle.backend)
        self.fallback_reason = None if handle.fallbackReason is None else str(handle.fallbackReason)
        self.output_names = [str(name) for name in self._session.outputNames]
        self._outputs: dict[str, np.ndarray] = {}

    async def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run once. The returned arrays are reused by the next call: read them before calling again."""
        js_feeds = js.Object.new()
        proxies, buffers, tensors = [], [], []
        try:
            for name, array in feeds.items():
                if not array.flags.c_contiguous or array.dtype not in _BUFFER_TYPES:
                    raise TypeError(f"input {name!r} must be a C-contiguous float32/int32/uint8 array")
                buffer_format, tensor_type = _BUFFER_TYPES[array.dtype]
                proxy = create_proxy(array)
                proxies.append(proxy)
                buffer = proxy.getBuffer(buffer_format)
                buffers.append(buffer)
                tensor = self._ort.Tensor.new(tensor_type, buffer.data, to_js(list(array.shape)))
                tensors.append(tensor)
                js.Reflect.set(js_feeds, name, tensor)
            results = await self._session.run(js_feeds)
            return {name: self._take_output(name, js.Reflect.get(results, name)) for name in self.output_names}
        finally:
            for tensor in tensors:
                tensor.dispose()
            for buffer in buffers:
                buffer.release()
            for proxy in proxies:
                proxy.destroy()

    def close(self) -> None:
        self._session.release()

    def _take_output(self, name: str, tensor) -> np.ndarray:
        try:
            shape = tuple(int(d) for d in tensor.dims)
            dtype = _NUMPY_TYPES[str(tensor.type)]
            out = self._outputs.get(name)
            if out is None or out.shape != shape or out.dtype != dtype:
                out = self._outputs[name] = np.empty(shape, dtype=dtype)
            tensor.data.assign_to(out)
            return out
        finally:
            # Frees the output's memory in onnxruntime-web now (GPU buffers too, under WebGPU).
            tensor.dispose()


# ---- entry points for the page's JavaScript (web/js/inpage.js) -------------------------------

_models: dict[tuple[str, str], object] = {}
_frames: dict[tuple[int, int], np.ndarray] = {}


async def page_load_model(name: str, provider: str):
    """Load (once per name and provider) and return ``{name, task, backend, fallbackReason, labels}``."""
    from .model import load_model

    key = (name, provider)
    if key not in _models:
        model = await load_model(name, provider=provider)
        # One run on the zeroed input tensor: the first run of a session pays for kernel set-up
        # and (under WebGPU) shader compiles. Paying it here, while the user is still choosing an
        # image or starting the camera, makes the first real result come sooner.
        await model.session.run({model.spec.input.name: np.zeros(model.spec.input.shape, np.float32)})
        _models[key] = model
    model = _models[key]
    return _to_js_object(
        {
            "name": model.spec.name,
            "task": model.spec.task,
            "backend": model.backend,
            "fallbackReason": model.session.fallback_reason,
            "inputSize": [model.spec.input.width, model.spec.input.height],
        }
    )


async def page_run(task: str, name: str, provider: str, pixels, width: int, height: int, options):
    """Run ``task`` on an image from the page and return a plain JS result object.

    ``pixels`` is either encoded image bytes (``width == 0``; Pillow decodes them) or the RGBA
    data of a canvas ``ImageData`` of ``width`` x ``height``. Errors the user can act on come back
    as ``{error: {type, message}}`` rather than as a Python traceback.
    """
    try:
        image = _image_from_page(pixels, int(width), int(height))
        model = _models.get((name, provider))
        if model is None:
            await page_load_model(name, provider)
            model = _models[(name, provider)]
        if task == "classify":
            predictions = await model.classify(image, top_k=int(options.topK))
            payload = {"predictions": [p.__dict__ for p in predictions]}
        elif task == "detect":
            detections = await model.detect(
                image,
                score_threshold=_optional_float(options, "scoreThreshold"),
                iou_threshold=_optional_float(options, "iouThreshold"),
                max_detections=int(getattr(options, "maxDetections", None) or 100),
            )
            payload = {
                "detections": [
                    {
                        "label": d.label,
                        "index": d.index,
                        "score": d.score,
                        "box": list(d.box),
                        "keypoints": [list(p) for p in d.keypoints] if d.keypoints is not None else None,
                    }
                    for d in detections
                ]
            }
        else:
            raise ValueError(f"unknown task {task!r}")
        payload.update(
            timings=model.last_timings.as_dict(),
            backend=model.backend,
            fallbackReason=model.session.fallback_reason,
            model=name,
        )
        return _to_js_object(payload)
    except (InpageError, TypeError) as exc:
        return _to_js_object({"error": {"type": type(exc).__name__, "message": str(exc)}})


def _optional_float(options, name: str) -> float | None:
    value = getattr(options, name, None)
    return None if value is None else float(value)


def _image_from_page(pixels, width: int, height: int):
    if width == 0:
        return pixels.to_bytes()
    frame = _frames.get((height, width))
    if frame is None:
        # A camera's frame size rarely changes; keep one buffer per size seen.
        frame = _frames[(height, width)] = np.empty((height, width, 4), dtype=np.uint8)
    pixels.assign_to(frame)
    return frame


def _to_js_object(value):
    # Through JSON so that None becomes null (to_js would make it undefined) and no proxy is left behind.
    return js.JSON.parse(json.dumps(value))
