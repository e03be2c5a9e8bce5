"""A user's own pre- and post-processing, from a Python module beside their manifest, run in place of a
task's own on CPython and in the page alike.

The manifest entry names the module (``"python": "mytask.py"``, or a package folder); ``inpage add
MODEL.onnx --python mytask.py`` writes that. The module defines either function, or both::

    def preprocess(image, spec):
        '''image: a PIL RGB image, upright, alpha composited (image tasks), or the caller's input
        as given (other tasks). spec: the model's inpage.manifest.ModelSpec (spec.inputs,
        spec.image, spec.labels, ...). Returns the feeds, {input name: numpy array}, or
        (feeds, geometry), where geometry is anything postprocess needs to map results back.'''

    def postprocess(outputs, geometry, spec, options):
        '''outputs: {output name: numpy array}. geometry: what preprocess returned, or, with
        inpage's own image pre-processing, an inpage.preprocess.FrameTransform
        (transform.boxes_to_frame(), transform.points_to_frame()). options: the call's options.
        Returns a JSON-able result: dicts, lists, numbers, strings, numpy arrays.'''

    OPTIONS = {"min_area": 100}   # optional: options postprocess accepts, with their defaults
    RESULT = "detections"         # optional: what postprocess returns, when it is the task's own kind:
                                  # "predictions" ({label, score, index} each) for classify,
                                  # "detections" ({label, score, box} each) for detect


Without ``preprocess`` the task's own runs (the manifest's ``image`` recipe); without
``postprocess`` the task's own result comes back. A user ``postprocess`` result reaches JavaScript
as ``result``, and the CLI prints it as JSON. Where the module declares ``RESULT``, the result is
also the task's own kind under that name (``predictions``, ``detections``), checked item by item,
so the pages and the CLI show it as they show the task's own; for a detector a list of
``{label, score, box}`` dicts counts as ``detections`` even undeclared. An exception in the user's
code (``sys.exit`` too) becomes one :class:`UserCodeError` naming the user's file and line; what
the user's code prints goes to stderr natively (stdout stays the CLI's), and to the browser's
console in the page.

On CPython the module is imported from the project folder; in the page, from the small wheel the
build makes of it (``inpage build`` checks there that it imports).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import importlib.util
import io
import math
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np

from . import _backend
from .errors import InpageError, InvalidArgumentError, UserCodeError, UserCodeTimeout
from .image import to_rgb
from .specs import NUMPY_TYPES, ModelSpec
from .tasks import Task
from .tasks.run import convert_feeds

IN_BROWSER = sys.platform == "emscripten"
# What the user's code may raise that becomes one UserCodeError. In the page a KeyboardInterrupt that
# reaches here is the code's own (the deadline's becomes UserCodeTimeout first); natively it is
# Ctrl-C, which must stop the program as it always does.
USER_CODE_ERRORS = (Exception, SystemExit, KeyboardInterrupt) if IN_BROWSER else (Exception, SystemExit)


# Said of a module with neither function: at load here, and by `inpage add`, which reads the module's text.
DEFINES_NEITHER = "defines neither preprocess(image, spec) nor postprocess(outputs, geometry, spec, options)"


def module_name(python: str) -> str:
    """The import name of a manifest's ``python`` entry: the file's stem, or the package folder's name."""
    stem = Path(python.rstrip("/")).name
    return stem[:-3] if stem.endswith(".py") else stem


def module_path(spec: ModelSpec, manifest: str) -> Path:
    """Where the user's module lies on disk, for a manifest on disk."""
    parsed = urlparse(manifest)
    manifest_path = Path(unquote(parsed.path)) if parsed.scheme == "file" else Path(manifest)
    return (manifest_path.parent / spec.python).resolve()


async def load_user_module(spec: ModelSpec, manifest: str) -> ModuleType:
    """Import the module ``spec.python`` names (from the project folder natively, from its wheel in the page)."""
    name = module_name(spec.python)
    if IN_BROWSER:
        # The module's wheel (and what it imports: scipy, cv2, ...) loads now, when a model needs it.
        await _backend.load_python_package(f"inpage-user-{name.replace('_', '-')}")
        try:
            with _user_output():
                return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise user_error(exc, name, "import") from None
            raise UserCodeError(f"model {spec.name!r}: the site has no Python module {name!r}; rebuild it with `inpage build`") from None
        except (Exception, SystemExit) as exc:
            raise user_error(exc, name, "import") from None
    if urlparse(manifest).scheme in ("http", "https"):
        raise UserCodeError(f"model {spec.name!r} runs Python from {spec.python!r}, which CPython can only import from a manifest on disk")
    path = module_path(spec, manifest)
    source = path / "__init__.py" if path.is_dir() else path
    if not source.is_file():
        raise UserCodeError(f"model {spec.name!r}: its Python module {spec.python!r} is missing ({source})")
    loaded = sys.modules.get(name)
    if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == source.resolve():
        return loaded
    module_spec = importlib.util.spec_from_file_location(name, source, submodule_search_locations=[str(path)] if path.is_dir() else None)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module
    try:
        with _user_output():
            module_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        del sys.modules[name]
        raise user_error(exc, name, "import", (_resolved(str(source)),)) from None
    return module


def user_error(error: BaseException, module: str, stage: str, files: tuple[str, ...] = ()) -> UserCodeError:
    """One line naming the user's file and line where ``error`` was raised, and the error itself. The
    line is the last one in the user's own ``files`` (an error inside numpy names the user's call of
    it), else the last outside inpage."""
    if isinstance(error, InpageError):
        return UserCodeError(f"{module} ({stage}): {error}")
    if isinstance(error, SystemExit):
        return UserCodeError(f"{module}.{stage} called sys.exit({error.code!r}); return a result or raise an exception instead")
    frames = traceback.extract_tb(error.__traceback__)
    inpage_dir = str(Path(__file__).resolve().parent)
    mine = [f for f in frames if files and _resolved(f.filename) in files]
    own = mine or [f for f in frames if not _resolved(f.filename).startswith(inpage_dir) and "importlib" not in f.filename]
    frame = own[-1] if own else (frames[-1] if frames else None)
    where = f"{Path(frame.filename).name}, line {frame.lineno}, in {frame.name}" if frame else module
    message = " ".join(str(error).split())
    return UserCodeError(f"{where}: {type(error).__name__}{': ' + message if message else ''} (in {module}.{stage})")


def _resolved(filename: str) -> str:
    try:
        return str(Path(filename).resolve())
    except (OSError, ValueError):
        return filename


class _Chunked(io.TextIOBase):
    """Text written to ``target`` in chunks of about 64 kB (and at the end). In the page each write to
    stderr became one console message: a module printing 50,000 lines spent its time limit there."""

    CHUNK = 1 << 16

    def __init__(self, target):
        super().__init__()
        self.target = target
        self.pending: list[str] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.pending.append(text)
        self.size += len(text)
        if self.size >= self.CHUNK:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.target.write("".join(self.pending))
            self.pending, self.size = [], 0
        self.target.flush()


@contextlib.contextmanager
def _user_output():
    """Where the user's ``print`` goes: stderr, so that stdout stays the CLI's (``--json``), in chunks.
    In the page stderr reaches the browser's console."""
    chunked = _Chunked(sys.stderr)
    try:
        with contextlib.redirect_stdout(chunked):
            yield
    finally:
        chunked.flush()


# What a declared RESULT's items must hold, per kind, and what each field must be (the pages and the
# CLI format them: a score as a number, a box as four).
RESULT_FIELDS = {"predictions": ("label", "score", "index"), "detections": ("label", "score", "box")}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _box(value: Any) -> bool:
    items = value.tolist() if isinstance(value, np.ndarray) else value
    return isinstance(items, list) and len(items) == 4 and all(_number(v) for v in items)


_FIELD_TYPES = {
    "label": ("a string", lambda v: isinstance(v, str)),
    "score": ("a number", _number),
    "index": ("an integer", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    "box": ("four numbers [x1, y1, x2, y2]", _box),
}


# A result is data, not a structure of any depth: deeper than this it holds itself, or was not meant.
MAX_RESULT_DEPTH = 64
# JavaScript numbers hold integers exactly up to 2**53; past it the page would round what CPython prints.
SAFE_INTEGER = 2**53
# numpy arrays that cross to JavaScript as they are: the tensor types (as typed arrays, _web._DTYPES).
_ARRAY_DTYPES = {np.dtype(t) for t in NUMPY_TYPES.values()}


def to_jsonable(value: Any, where: str, depth: int = 0) -> Any:
    """``value`` as data both runtimes carry alike: JSON's types, with numpy arrays of numbers kept (to
    travel as binary). Anything else - a set, a complex number, NaN, an integer JavaScript would round,
    two keys that become the same string - is one UserCodeError naming the user's function, on
    CPython and in the page alike, rather than a different answer on each."""
    if depth > MAX_RESULT_DEPTH:
        raise UserCodeError(f"{where} returned data nested more than {MAX_RESULT_DEPTH} levels deep (or holding itself); return plain data")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if abs(value) > SAFE_INTEGER:
            raise UserCodeError(f"{where} returned the integer {value}, past 2**53, which JavaScript cannot hold exactly; return it as a string")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise UserCodeError(f"{where} returned {value}, which JSON cannot hold; return None or a finite number")
        return value
    if isinstance(value, np.ndarray):
        return _array(value, where, depth)
    if isinstance(value, np.generic) and value.dtype.kind in "biufUS":
        return to_jsonable(value.item(), where, depth)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value), where, depth)
    if isinstance(value, dict):
        converted = {}
        for key, item in value.items():
            name = str(key.item() if isinstance(key, np.generic) else key)
            if name in converted:
                raise UserCodeError(f"{where} returned a dict with two keys that are both {name!r} as JSON (keys become strings); rename one")
            converted[name] = to_jsonable(item, where, depth + 1)
        return converted
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, where, depth + 1) for v in value]
    kind = f"numpy {value.dtype}" if isinstance(value, np.generic) else type(value).__name__
    raise UserCodeError(f"{where} returned a {kind}, which cannot become JSON; return dicts, lists, numbers, strings or numpy arrays of numbers")


def _array(value: np.ndarray, where: str, depth: int) -> Any:
    if value.dtype.kind in "OUS":
        return to_jsonable(value.tolist(), where, depth + 1)  # text or objects: as lists, checked item by item
    if value.dtype.kind not in "biuf":
        raise UserCodeError(f"{where} returned a numpy {value.dtype} array, which cannot become JSON; return numbers or strings")
    if value.dtype not in _ARRAY_DTYPES:  # big-endian, or long double: the nearest type that crosses
        value = value.astype(np.float64 if value.dtype.kind == "f" else value.dtype.newbyteorder("="))
    if value.dtype.kind == "f" and not np.isfinite(value).all():
        raise UserCodeError(f"{where} returned an array holding NaN or infinity, which JSON cannot hold; replace them (np.nan_to_num) first")
    return value


class UserTask(Task):
    """A task with the user's ``preprocess`` and/or ``postprocess`` in place of its own."""

    def __init__(self, inner: Task, module: ModuleType):
        super().__init__(inner.spec)
        self.inner = inner
        self.module = module
        self.module_name = module.__name__
        self.name = inner.name
        self.method = inner.method
        self.user_pre = getattr(module, "preprocess", None)
        self.user_post = getattr(module, "postprocess", None)
        self.defaults = {**inner.defaults, **dict(getattr(module, "OPTIONS", {}) or {})}
        self.image_input = inner.image_input
        self.input_kind = inner.input_kind
        self.max_batch = inner.max_batch
        self.result_kind = getattr(module, "RESULT", None)
        if self.result_kind is not None and self.result_kind not in RESULT_FIELDS:
            raise UserCodeError(f"{self.module_name}.RESULT is {self.result_kind!r}; it names what postprocess returns: one of {', '.join(RESULT_FIELDS)}, or leave it out")
        source = getattr(module, "__file__", None)
        folder = Path(source).resolve().parent if source and Path(source).name == "__init__.py" else None
        self.files = tuple(str(p.resolve()) for p in folder.rglob("*.py")) if folder else ((_resolved(source),) if source else ())

    def options(self, given):
        own = {k: v for k, v in given.items() if k in self.inner.defaults}
        options = self.inner.options(own)
        extra = {k: v for k, v in given.items() if k not in self.inner.defaults}
        unknown = sorted(set(extra) - set(self.defaults))
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            raise InvalidArgumentError(f"{self.method}() got unknown option(s) {', '.join(unknown)}; it takes: {known}")
        options.update({k: v for k, v in self.defaults.items() if k not in self.inner.defaults})
        options.update(extra)
        return options

    def split(self, sample):
        return self.inner.split(sample)

    async def load(self, read):
        await self.inner.load(read)

    def prepare_batch(self, samples, options):
        if self.user_pre is None:
            return self.inner.prepare_batch(samples, options)
        return super().prepare_batch(samples, options)

    def combine(self, results):
        return self.inner.combine(results) if self.user_post is None else results

    def prepare(self, sample, options, slot=0, batch=1):
        if self.user_pre is None:
            return self.inner.prepare(sample, options, slot, batch)
        given = to_rgb(sample) if self.inner.image_input else sample
        try:
            with _user_output(), _backend.time_limit(self.spec.python_time_limit_s, f"{self.module_name}.preprocess"):
                returned = self.user_pre(given, self.spec)
        except UserCodeTimeout:
            raise self.timed_out("preprocess") from None
        except USER_CODE_ERRORS as exc:
            raise user_error(exc, self.module_name, "preprocess", self.files) from None
        feeds, geometry = returned if isinstance(returned, tuple) and len(returned) == 2 else (returned, None)
        try:
            return convert_feeds(self.spec.inputs, feeds), geometry
        except InpageError as exc:
            raise UserCodeError(f"{self.module_name}.preprocess returned feeds inpage cannot use: {exc}") from None

    def finish(self, outputs, context, options):
        if self.user_post is None:
            return self.inner.finish(outputs, context, options)
        try:
            with _user_output(), _backend.time_limit(self.spec.python_time_limit_s, f"{self.module_name}.postprocess"):
                result = self.user_post(outputs, context, self.spec, options)
        except UserCodeTimeout:
            raise self.timed_out("postprocess") from None
        except USER_CODE_ERRORS as exc:
            raise user_error(exc, self.module_name, "postprocess", self.files) from None
        result = to_jsonable(result, f"{self.module_name}.postprocess")
        if self.result_kind is not None:
            self.check_result(result)
        return result

    def timed_out(self, stage: str) -> UserCodeError:
        limit = f"{self.spec.python_time_limit_s:g}"
        return UserCodeError(f"{self.module_name}.{stage} ran past its {limit} s limit and was stopped; make it faster, "
                             f"or raise python_time_limit_s in model {self.spec.name!r}'s manifest entry")

    def check_result(self, result: Any) -> None:
        """A declared RESULT holds what its kind's readers need, or one line says what is missing."""
        where = f"{self.module_name}.postprocess (RESULT = {self.result_kind!r})"
        if not isinstance(result, list):
            raise UserCodeError(f"{where} returned a {type(result).__name__}, not a list of {self.result_kind}")
        for position, item in enumerate(result):
            missing = [f for f in RESULT_FIELDS[self.result_kind] if not isinstance(item, dict) or f not in item]
            if self.result_kind == "detections" and "index" in missing:
                missing.remove("index")
            if missing:
                raise UserCodeError(f"{where}: item {position} has no {', '.join(missing)}")
            wrong = [f"{field} {item[field]!r} is not {kind}" for field, (kind, fits) in _FIELD_TYPES.items()
                     if field in item and not fits(item[field])]
            if wrong:
                raise UserCodeError(f"{where}: item {position}: {'; '.join(wrong)}")

    def payload(self, result):
        if self.user_post is None:
            return self.inner.payload(result)
        payload = {"result": result}
        detections = self.result_kind == "detections" or (
            self.result_kind is None and self.inner.name == "detect" and isinstance(result, list)
            and all(isinstance(d, dict) and "box" in d for d in result))
        if detections:
            payload["detections"] = [{"label": "", "index": 0, "score": 0.0, "keypoints": None, **d} for d in result]
        elif self.result_kind == "predictions":
            payload["predictions"] = result
        return payload

    def describe(self, result):
        if self.result_kind == "predictions":
            return [f"{p['score']:8.4f}  {p['label']}" for p in result]
        return super().describe(result)


def wrap_task(task: Task, module: ModuleType) -> Task:
    if getattr(module, "preprocess", None) is None and getattr(module, "postprocess", None) is None:
        raise UserCodeError(f"{module.__name__} {DEFINES_NEITHER}")
    return UserTask(task, module)
