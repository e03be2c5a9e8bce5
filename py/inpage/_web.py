"""The page side of the runtime boundary, and the only module that imports ``js`` and ``pyodide.ffi``.

It gives the rest of the package what ``_native`` gives it on CPython (bytes from a location, a
session with ``async run``), and it gives :mod:`inpage._page` the conversions it needs between
JavaScript values and numpy. It talks to the worker's JavaScript through the ``inpage_host``
module, which ``web/js/worker.js`` registers before it imports inpage (``import inpage`` itself
works in any Pyodide, with or without it).

Data crosses without needless copies:

* into onnxruntime-web, each input is a ``getBuffer`` view of the contiguous numpy array, wrapped
  by ``ort.Tensor`` (no copy on our side; onnxruntime copies it into its own heap during ``run``);
* out of onnxruntime-web, each output is ``assign_to``-copied into a numpy array preallocated per
  output and reused call after call;
* frames arrive as RGBA typed arrays, ``assign_to``-copied into a numpy array only when the task
  reads them, which is under the model's lock: one frame at a time in Python, however many calls wait;
* model bytes never cross at all: JavaScript fetches, verifies and hands them to onnxruntime-web.

Every PyProxy and PyBuffer made here is destroyed or released before the call returns: the
browser's finalizers run far too late to keep a 30 fps loop's memory flat.
"""

from __future__ import annotations

import contextlib

import json
import time
from typing import Any

import numpy as np

import js  # type: ignore[import-not-found]
from pyodide.ffi import JsException, create_proxy, to_js  # type: ignore[import-not-found]

from . import errors
from .errors import InferenceError, InvalidArgumentError, ModelLoadError
from .specs import TensorSpec

# Each dtype that crosses: numpy's, getBuffer's format for a view of it, onnxruntime-web's tensor type,
# and the JavaScript typed array that holds it (float16 travels as its bits, bool as bytes).
_DTYPES = [
    (np.float32, "f32", "float32", "Float32Array"),
    (np.float16, "u16", "float16", "Uint16Array"),
    (np.float64, "f64", "float64", "Float64Array"),
    (np.int8, "i8", "int8", "Int8Array"),
    (np.uint8, "u8", "uint8", "Uint8Array"),
    (np.int16, "i16", "int16", "Int16Array"),
    (np.uint16, "u16", "uint16", "Uint16Array"),
    (np.int32, "i32", "int32", "Int32Array"),
    (np.uint32, "u32", "uint32", "Uint32Array"),
    (np.int64, "i64", "int64", "BigInt64Array"),
    (np.uint64, "u64", "uint64", "BigUint64Array"),
    (np.bool_, "u8", "bool", "Uint8Array"),
]
_TO_JS = {np.dtype(dtype): (fmt, tensor_type) for dtype, fmt, tensor_type, _array in _DTYPES}
_FROM_JS = {tensor_type: np.dtype(dtype) for dtype, _fmt, tensor_type, _array in _DTYPES}
_TYPED_ARRAYS = {tensor_type: array for _dtype, _fmt, tensor_type, array in _DTYPES}


def _host():
    import inpage_host  # type: ignore[import-not-found]  # registered by web/js/worker.js

    return inpage_host


def python_error(error: JsException, default: type[errors.InpageError], context: str) -> errors.InpageError:
    """A JavaScript error as the inpage error its ``name`` says (ModelIntegrityError, ...), one line."""
    name = str(getattr(error, "name", "") or "")
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, errors.InpageError)):
        cls = default
    message = str(getattr(error, "message", error))
    return cls(f"{context}: {message}" if context and cls is default else message)


async def read_bytes(location: str) -> bytes:
    try:
        data = await _host().fetchBytes(location)
    except JsException as exc:
        raise python_error(exc, ModelLoadError, f"cannot fetch {location}") from None
    return data.to_bytes()


@contextlib.contextmanager
def time_limit(seconds: float, what: str = "user code"):
    # The worker writes the deadline where the main thread watches it; past it, the main thread sets
    # Pyodide's interrupt buffer and Python raises KeyboardInterrupt at its next instruction. (Without
    # shared memory the main thread restarts the worker instead, and names ``what`` in its error.)
    host = _host()
    host.userCodeStarted(seconds * 1000, what)
    started = time.monotonic()
    try:
        yield
    except KeyboardInterrupt:
        if time.monotonic() - started < seconds:
            raise  # the user's code raised it itself, before any deadline: its own error, not a timeout
        raise errors.UserCodeTimeout() from None
    finally:
        host.userCodeEnded()


async def load_python_package(name: str) -> None:
    try:
        await _host().loadPackage(name)
    except JsException as exc:
        raise python_error(exc, errors.UserCodeError, f"the site's Python package {name!r} could not be loaded") from None


def check_provider(provider: str | None) -> str:
    if provider is None:
        return "wasm"
    if provider not in ("wasm", "webgpu"):
        raise InvalidArgumentError(f"provider must be 'wasm' or 'webgpu' in the page, not {provider!r}")
    return provider


def variant_key(provider: str) -> str:
    return provider


def default_manifest_location() -> str:
    return str(_host().manifestUrl)


async def load_session(location: str, sha256: str, file_name: str, provider: str, threads: int | None, config: dict[str, str] | None = None):
    # threads: onnxruntime-web takes its thread count from the worker (env.wasm.numThreads), set
    # once, because it cannot change after the first session.
    try:
        handle = await _host().loadSession(location, sha256, file_name, provider, to_js(dict(config or {}), dict_converter=js.Object.fromEntries))
    except JsException as exc:
        raise python_error(exc, ModelLoadError, f"cannot load {file_name}") from None
    return WebSession(handle, file_name)


def _specs(metadata) -> tuple[TensorSpec, ...]:
    specs = []
    for value in metadata:
        if not value.isTensor:
            specs.append(TensorSpec(str(value.name), "non-tensor", None))
            continue
        shape = tuple(int(d) if isinstance(d, (int, float)) and d >= 0 else (str(d) if isinstance(d, str) else None) for d in value.shape)
        specs.append(TensorSpec(str(value.name), str(value.type), shape or None))
    return tuple(specs)


class WebSession:
    """An onnxruntime-web InferenceSession behind the same ``async run`` as the native one."""

    def __init__(self, handle, file_name: str):
        self._handle = handle
        self._session = handle.session
        self._ort = handle.ort
        self.file_name = file_name
        self.backend = str(handle.backend)
        self.fallback_reason = None if handle.fallbackReason is None else str(handle.fallbackReason)
        self.inputs = _specs(self._session.inputMetadata)
        self.outputs = _specs(self._session.outputMetadata)
        self.output_names = [spec.name for spec in self.outputs]
        self._outputs: dict[str, np.ndarray] = {}

    async def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run once. The returned arrays are reused by the next call: read them before calling again."""
        js_feeds = js.Object.new()
        proxies, buffers, tensors = [], [], []
        try:
            for name, array in feeds.items():
                if array.dtype == object:
                    tensor = self._string_tensor(array)
                    tensors.append(tensor)
                    js.Reflect.set(js_feeds, name, tensor)
                    continue
                if array.dtype not in _TO_JS:
                    raise InvalidArgumentError(f"input {name!r} is {array.dtype}, which onnxruntime-web cannot take")
                array = np.ascontiguousarray(array)
                buffer_format, tensor_type = _TO_JS[array.dtype]
                proxy = create_proxy(array)
                proxies.append(proxy)
                buffer = proxy.getBuffer(buffer_format)
                buffers.append(buffer)
                tensor = self._ort.Tensor.new(tensor_type, buffer.data, to_js(list(array.shape)))
                tensors.append(tensor)
                js.Reflect.set(js_feeds, name, tensor)
            try:
                results = await self._session.run(js_feeds)
            except JsException as exc:
                raise InferenceError(f"onnxruntime-web failed running {self.file_name}: {exc.message}") from None
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

    def _string_tensor(self, array: np.ndarray):
        """A string input as an onnxruntime-web tensor: the strings cross as a JS array (onnxruntime-web
        copies them into its heap); the caller disposes it."""
        items = array.reshape(-1).tolist()
        if not all(isinstance(item, str) for item in items):
            raise InvalidArgumentError("a string tensor may only hold str values")
        return self._ort.Tensor.new("string", to_js(items), to_js(list(array.shape)))

    async def time_runs(self, feeds: dict[str, np.ndarray], runs: int) -> list[float]:
        """Milliseconds of ``runs`` bare ``session.run`` calls on ``feeds``, timed by JavaScript in the
        worker: the benchmark's yardstick for what inpage adds around inference."""
        js_feeds = self.js_feeds(feeds)
        try:
            times = await _host().timeRuns(self._session, js_feeds, runs)
            return [float(t) for t in times]
        finally:
            for key in js.Object.keys(js_feeds):
                js.Reflect.get(js_feeds, key).dispose()

    def js_feeds(self, feeds: dict[str, np.ndarray]):
        """The feeds as onnxruntime-web tensors holding copies (for timing bare runs); caller disposes them."""
        js_feeds = js.Object.new()
        for name, array in feeds.items():
            if array.dtype == object:
                js.Reflect.set(js_feeds, name, self._string_tensor(array))
                continue
            tensor_type = _TO_JS[array.dtype][1]
            raw = to_js(np.ascontiguousarray(array).tobytes())
            typed = getattr(js, _TYPED_ARRAYS[tensor_type]).new(raw.buffer, raw.byteOffset, array.size)
            js.Reflect.set(js_feeds, name, self._ort.Tensor.new(tensor_type, typed, to_js(list(array.shape))))
        return js_feeds

    def _take_output(self, name: str, tensor) -> np.ndarray:
        try:
            shape = tuple(int(d) for d in tensor.dims)
            tensor_type = str(tensor.type)
            if tensor_type == "string":
                return np.array(tensor.data.to_py(), dtype=object).reshape(shape)
            dtype = _FROM_JS.get(tensor_type)
            if dtype is None:
                raise InferenceError(f"output {name!r} of {self.file_name} is {tensor_type}, which inpage cannot read")
            out = self._outputs.get(name)
            if out is None or out.shape != shape or out.dtype != dtype:
                out = self._outputs[name] = np.empty(shape, dtype=dtype)
            if out.size:
                _host().plainData(tensor).assign_to(out)
            return out
        finally:
            # Frees the output's memory in onnxruntime-web now (GPU buffers too, under WebGPU).
            tensor.dispose()


# ---- conversions for inpage._page ------------------------------------------------------------


class RgbaPixels:
    """RGBA pixels still in JavaScript; copied into numpy only when read (``np.asarray``), under a model's lock.

    One numpy buffer, of the last size seen, is kept for the next frame, and only up to
    ``KEEP_BYTES``: a camera's frames reuse it, and one huge canvas is not held for good.
    """

    KEEP_BYTES = 32 * 2**20
    _kept: np.ndarray | None = None

    def __init__(self, data, width: int, height: int):
        self.data = data
        self.width = width
        self.height = height

    def __array__(self, dtype=None, copy=None):
        shape = (self.height, self.width, 4)
        if int(self.data.length) != self.width * self.height * 4:
            raise errors.ImageDecodeError(f"the pixel data holds {int(self.data.length)} bytes, not {self.width}x{self.height}x4")
        kept = RgbaPixels._kept
        array = kept if kept is not None and kept.shape == shape else np.empty(shape, dtype=np.uint8)
        RgbaPixels._kept = array if array.nbytes <= self.KEEP_BYTES else None
        self.data.assign_to(array)
        return array


def sha256_hex(data) -> str:
    """The sha256 of a JavaScript Uint8Array, read in 4 MB slices: the worker's check where the
    browser has no ``crypto.subtle`` (a page on plain http from a host other than localhost). Slices,
    so that checking a large model does not grow Pyodide's memory, which never shrinks, by its size."""
    import hashlib

    digest = hashlib.sha256()
    step = 4 << 20
    for start in range(0, int(data.length), step):
        digest.update(data.subarray(start, start + step).to_bytes())
    return digest.hexdigest()


def js_bytes(data) -> bytes:
    return data.to_bytes()


def js_to_array(value) -> Any:
    """A ``{data, dims, type}`` tensor from JavaScript as a numpy array (copied); other values via ``to_py``."""
    if hasattr(value, "dims") and hasattr(value, "data"):
        tensor_type = str(getattr(value, "type", "float32") or "float32")
        shape = tuple(int(d) for d in value.dims)
        if tensor_type == "string":
            items = list(value.data.to_py())
            if not all(isinstance(item, str) for item in items):
                raise InvalidArgumentError("a string tensor's data must be a list of strings")
            count = int(np.prod(shape, dtype=np.int64))
            if len(items) != count:
                raise InvalidArgumentError(f"a string tensor of dims {list(shape)} needs {count} strings, not {len(items)}")
            array = np.empty(len(items), dtype=object)
            array[:] = items
            return array.reshape(shape)
        dtype = _FROM_JS.get(tensor_type)
        if dtype is None:
            raise InvalidArgumentError(f"tensor type {tensor_type!r} is not one of {', '.join(sorted(_FROM_JS))}")
        array = np.empty(shape, dtype=dtype)
        expected = array.nbytes
        if int(value.data.byteLength) != expected:
            raise InvalidArgumentError(f"a {tensor_type} tensor of dims {list(shape)} needs {expected} bytes of data, not {int(value.data.byteLength)}")
        if array.size:
            _host().plainData(value).assign_to(array)
        return array
    return value.to_py() if hasattr(value, "to_py") else value


def to_js_payload(payload: dict) -> Any:
    """A result payload as a JavaScript object. numpy arrays become ``{data, dims, type}`` tensors whose
    typed arrays are fresh copies (transferable), not views of Python memory."""
    tensors: list[np.ndarray] = []

    def placeholder(value):
        if isinstance(value, np.ndarray):
            tensors.append(value)
            return {"__tensor__": len(tensors) - 1}
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, dict):
            return {str(k): placeholder(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [placeholder(v) for v in value]
        return value

    # Through JSON so that None becomes null (to_js would make it undefined) and no proxy is left behind.
    skeleton = js.JSON.parse(json.dumps(placeholder(payload), allow_nan=False))
    if tensors:
        converted = js.Array.new()
        for array in tensors:
            kind = _TO_JS[array.dtype][1] if array.dtype in _TO_JS else str(array.dtype)
            if kind == "object":
                data = to_js([str(v) for v in array.reshape(-1)])
                kind = "string"
            else:
                raw = to_js(np.ascontiguousarray(array).tobytes())
                data = getattr(js, _TYPED_ARRAYS[kind]).new(raw.buffer, raw.byteOffset, array.size)
            converted.push(js.JSON.parse(json.dumps({"dims": list(array.shape), "type": kind})))
            js.Reflect.set(converted[converted.length - 1], "data", data)
        skeleton = _host().attachTensors(skeleton, converted)
    return skeleton
