"""The model manifest, the one schema every part of inpage reads: which models a site bundles, how to feed
them and how to read them.

A manifest is a JSON file beside the model files; ``inpage add`` writes its entries::

    {"models": [{
        "name": "nanodet-m", "task": "detect", "default": true, "description": "...",
        "file": "nanodet-m-416.onnx", "sha256": "<64 hex digits>",
        "inputs":  [{"name": "input_1:0", "dtype": "float32", "shape": [1, 3, 416, 416]}],
        "outputs": [{"name": "...", "dtype": "float32", "shape": [1, 2704, 80]}, ...],
        "image": {"input": "input_1:0", "layout": "NCHW", "resize": "letterbox", "pad_value": 0,
                  "channel_order": "BGR",
                  "normalize": {"mean": [103.53, 116.28, 123.675], "std": [57.375, 57.12, 58.395], "units": "0-255"}},
        "head": {"type": "nanodet_gfl", "strides": [8, 16, 32], "reg_max": 10},
        "options": {"score_threshold": 0.35, "iou_threshold": 0.5},
        "labels": "labels/coco80.txt",
        "variants": [{"name": "int8", "file": "nanodet-m-416.int8.onnx", "sha256": "...", "dtype": "int8",
                      "providers": ["wasm"], "report": {...}}]
    }]}

Parts of an entry:

* ``inputs`` / ``outputs``: every graph input and output, with its dtype and shape; a dimension is
  an int, or a string naming a dynamic one (``"batch"``, ``"height"``).
* ``image`` (image tasks): how a decoded image becomes the input tensor. ``normalize.units`` says
  whether ``mean``/``std`` are in ``"0-255"`` pixel units or ``"0-1"`` units (pixel / 255).
* ``head``: the parameters the task's decoder needs (a detector head's type, strides, anchors).
* ``options``: the defaults a caller may override per call (thresholds, ``top_k``).
* ``labels``: a file (one label per line) or an inline list.
* ``output`` / ``activation`` (classifiers): which output holds the scores, and whether they still
  need ``softmax``/``sigmoid`` or are already probabilities (``"none"``).
* ``python``: a user module beside the manifest with the task's own ``preprocess``/``postprocess``.
* ``files``: other files the model needs (a text model's ``tokenizer.json`` and configs), each a
  path relative to the manifest with its sha256; the build bundles them and loading checks them.
* ``text`` (text tasks): the tokenizer file, the longest sequence, and which input takes what.
* ``variants``: optimised copies of the model (int8, graph-optimised, another input size).

File paths are relative to the manifest, so the same manifest works from a folder on disk (CPython)
and from a URL on the site (the page). Task-specific checks live with each task (``inpage.tasks``).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from .errors import ManifestError
from .specs import DTYPES, IMAGE_INPUT_DTYPES, NUMPY_TYPES, Dim, ImageSpec, ModelSpec, TensorSpec, Variant

__all__ = [
    "ACTIVATIONS", "DTYPES", "IMAGE_INPUT_DTYPES", "LAYOUTS", "MODEL_NAME", "NUMPY_TYPES", "RESIZE_MODES", "UNITS", "Dim", "ImageSpec",
    "ModelSpec", "TensorSpec", "Variant", "default_model", "dump_manifest", "find_entry", "graph_problems", "labels_location",
    "model_name_problem", "parse_entry", "parse_labels", "read_manifest", "write_manifest",
]

LAYOUTS = ("NCHW", "NHWC")
RESIZE_MODES = ("shorter_side_center_crop", "stretch", "letterbox")
UNITS = {"0-255": 1.0, "0-1": 255.0}
ACTIVATIONS = ("softmax", "sigmoid", "none")

# A model's name becomes a file name (labels/<name>.txt), part of URLs and a CLI argument: letters,
# digits, '.', '_' and '-', starting with a letter or digit (no dotfiles, no '..', no path parts).
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def model_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a model, or None when it can."""
    if isinstance(name, str) and MODEL_NAME.fullmatch(name):
        return None
    return (f"{name!r} cannot name a model: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit "
            "(it becomes a file name and part of the page's URLs)")



# ---- reading ---------------------------------------------------------------------------------


class _Entry:
    """A raw entry being checked: every problem is reported naming the model and the field."""

    def __init__(self, entry: dict, position: int):
        if not isinstance(entry, dict):
            raise ManifestError(f"manifest entry #{position + 1} is not an object")
        self.raw = entry
        name = entry.get("name")
        self.where = f"model {name!r}" if isinstance(name, str) and name else f"manifest entry #{position + 1}"

    def fail(self, field_name: str, problem: str) -> ManifestError:
        return ManifestError(f"{self.where}: {field_name} {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., where: dict | None = None, path: str | None = None):
        source = self.raw if where is None else where
        label = path or key
        if key not in source:
            if default is ...:
                raise self.fail(label, "is missing")
            return default
        value = source[key]
        if not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise self.fail(label, f"must be {_article(names)}, not {value!r}")
        return value


_TYPE_WORDS = {"str": "string", "dict": "object", "int": "integer", "float": "number", "list": "list", "bool": "boolean"}


def _article(names: str) -> str:
    """'a string', 'an object', 'a number or integer': the expected type in words."""
    readable = " or ".join(_TYPE_WORDS.get(name, name) for name in names.split(" or "))
    return ("an " if readable[0] in "aeiou" else "a ") + readable


def _tensor(checker: _Entry, raw: Any, path: str) -> TensorSpec:
    if not isinstance(raw, dict):
        raise checker.fail(path, "must be an object with name, dtype and shape")
    name = checker.get("name", str, where=raw, path=f"{path}.name")
    dtype = checker.get("dtype", str, "float32", where=raw, path=f"{path}.dtype")
    if dtype not in DTYPES:
        raise checker.fail(f"{path}.dtype", f"must be one of {', '.join(DTYPES)}, not {dtype!r}")
    shape = raw.get("shape")
    if shape is not None:
        if not isinstance(shape, list) or not all(d is None or isinstance(d, str) or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in shape):
            raise checker.fail(f"{path}.shape", f"must be a list of sizes (a non-negative int, or a name for a dynamic dimension), not {shape!r}")
        shape = tuple(shape)
    return TensorSpec(name=name, dtype=dtype, shape=shape)


def _session_config(checker: _Entry, raw: dict, path: str) -> dict[str, str]:
    config = raw.get("session_config", {})
    if not isinstance(config, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in config.items()):
        raise checker.fail(path, f"must be an object of onnxruntime session config entries (strings to strings), not {config!r}")
    return dict(config)


def _numbers(checker: _Entry, raw: dict, key: str, path: str, count: int, default: tuple[float, ...]) -> tuple[float, ...]:
    values = raw.get(key, list(default))
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise checker.fail(path, f"must be a list of numbers, not {values!r}")
    if len(values) == 1 and count > 1:
        values = values * count
    if len(values) != count:
        raise checker.fail(path, f"needs {count} value(s), one per input channel, not {len(values)}")
    return tuple(float(v) for v in values)


def _image(checker: _Entry, raw: Any, inputs: tuple[TensorSpec, ...]) -> ImageSpec:
    if not isinstance(raw, dict):
        raise checker.fail("image", "must be an object (input, layout, resize, normalize)")
    names = [i.name for i in inputs]
    input_name = checker.get("input", str, names[0] if len(names) == 1 else ..., where=raw, path="image.input")
    if input_name not in names:
        raise checker.fail("image.input", f"names {input_name!r}, which is not among the inputs {names}")
    tensor = next(i for i in inputs if i.name == input_name)
    if tensor.dtype not in IMAGE_INPUT_DTYPES:
        raise checker.fail("image.input", f"is {tensor.dtype}; image inputs must be one of {', '.join(IMAGE_INPUT_DTYPES)}")
    if tensor.shape is None or len(tensor.shape) != 4:
        raise checker.fail(f"inputs[{input_name!r}].shape", f"must have 4 dimensions for an image input, not {tensor.shape}")
    layout = checker.get("layout", str, where=raw, path="image.layout")
    if layout not in LAYOUTS:
        raise checker.fail("image.layout", f"must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    channel_dim, height_dim, width_dim = (tensor.shape[1], tensor.shape[2], tensor.shape[3]) if layout == "NCHW" else (tensor.shape[3], tensor.shape[1], tensor.shape[2])
    if channel_dim not in (1, 3):
        raise checker.fail(f"inputs[{input_name!r}].shape", f"has {channel_dim} channels in {layout} layout; image inputs take 1 (grayscale) or 3 (colour)")
    size = raw.get("size")
    if size is not None:
        if not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
            raise checker.fail("image.size", f"must be [width, height] in pixels, not {size!r}")
        width, height = size
        if (isinstance(width_dim, int) and width_dim != width) or (isinstance(height_dim, int) and height_dim != height):
            raise checker.fail("image.size", f"is {size}, but the input is {width_dim}x{height_dim}")
    elif isinstance(width_dim, int) and isinstance(height_dim, int) and width_dim > 0 and height_dim > 0:
        width, height = width_dim, height_dim
    else:
        raise checker.fail("image.size", f"is needed: the input's height and width are dynamic ({height_dim}, {width_dim}); give [width, height]")

    resize = checker.get("resize", str, where=raw, path="image.resize")
    if resize not in RESIZE_MODES:
        raise checker.fail("image.resize", f"must be one of {', '.join(RESIZE_MODES)}, not {resize!r}")
    shorter = raw.get("resize_shorter_to")
    if resize == "shorter_side_center_crop":
        if not isinstance(shorter, int) or isinstance(shorter, bool) or shorter < min(width, height):
            raise checker.fail("image.resize_shorter_to", f"must be an integer >= {min(width, height)} for shorter_side_center_crop, not {shorter!r}")
    pad_value = checker.get("pad_value", int, 0, where=raw, path="image.pad_value")
    if not 0 <= pad_value <= 255:
        raise checker.fail("image.pad_value", f"must be within 0-255, not {pad_value}")
    channel_order = checker.get("channel_order", str, "RGB", where=raw, path="image.channel_order")
    if channel_order not in ("RGB", "BGR"):
        raise checker.fail("image.channel_order", f"must be RGB or BGR, not {channel_order!r}")

    normalize = checker.get("normalize", dict, {}, where=raw, path="image.normalize")
    units = normalize.get("units")
    if normalize and units not in UNITS:
        raise checker.fail("image.normalize.units", f"must be named explicitly: \"0-255\" or \"0-1\", not {units!r}")
    factor = UNITS.get(units, 1.0)
    mean = _numbers(checker, normalize, "mean", "image.normalize.mean", channel_dim, (0.0,))
    std = _numbers(checker, normalize, "std", "image.normalize.std", channel_dim, (1.0,))
    if min(std) <= 0:
        raise checker.fail("image.normalize.std", "must be positive")
    if tensor.dtype in ("uint8", "int32") and (any(mean) or any(s * factor != 1.0 for s in std)):
        raise checker.fail("image.normalize", f"cannot apply to a {tensor.dtype} input, which takes raw 0-255 pixels")
    return ImageSpec(
        input=input_name,
        layout=layout,
        width=width,
        height=height,
        channels=channel_dim,
        dtype=tensor.dtype,
        resize=resize,
        channel_order=channel_order,
        mean=tuple(m * factor for m in mean),
        std=tuple(s * factor for s in std),
        resize_shorter_to=shorter if resize == "shorter_side_center_crop" else None,
        pad_value=pad_value,
    )


def graph_problems(spec: ModelSpec, inputs, outputs) -> list[str]:
    """How the manifest entry disagrees with the graph's actual ``inputs`` and ``outputs`` (TensorSpecs):
    names, dtypes, ranks and static dimensions, one line per problem naming the model and the field."""
    where = f"model {spec.name!r}"
    problems = []
    for kind, declared_list, actual_list in (("inputs", spec.inputs, inputs), ("outputs", spec.outputs, outputs)):
        actual_by_name = {t.name: t for t in actual_list}
        for i, declared in enumerate(declared_list):
            actual = actual_by_name.get(declared.name)
            if actual is None:
                problems.append(f"{where}: {kind}[{i}].name {declared.name!r} is not in {spec.file}, whose {kind} are {list(actual_by_name)}")
                continue
            if actual.dtype == "non-tensor":
                problems.append(f"{where}: {kind}[{i}] {declared.name!r} is not a tensor in {spec.file} (a ZipMap?); run `inpage add` again to convert it")
            elif actual.dtype and declared.dtype != actual.dtype:
                problems.append(f"{where}: {kind}[{i}].dtype is {declared.dtype}, but {spec.file} has {actual.dtype}")
            elif declared.shape is not None and actual.shape is not None:
                if len(declared.shape) != len(actual.shape) or any(
                    isinstance(want, int) and isinstance(have, int) and want != have for want, have in zip(declared.shape, actual.shape)
                ):
                    problems.append(f"{where}: {kind}[{i}].shape is {list(declared.shape)}, but {spec.file} has {list(actual.shape)}")
        if kind == "inputs":
            missing = [name for name in actual_by_name if name not in {t.name for t in declared_list}]
            if missing:
                problems.append(f"{where}: inputs does not list {', '.join(map(repr, missing))}, which {spec.file} needs")
    return problems


def parse_labels(text: str | None) -> tuple[str, ...] | None:
    """Labels from a labels file: one per line, blank lines ignored."""
    if text is None:
        return None
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def labels_location(entry: dict) -> str | None:
    """The labels file an entry names, relative to its manifest (None for inline or no labels)."""
    labels = entry.get("labels")
    return labels if isinstance(labels, str) else None


def parse_entry(entry: dict, labels_text: str | None = None, position: int = 0) -> ModelSpec:
    """Check one manifest entry and return it as a :class:`ModelSpec`.

    ``labels_text`` is the content of the labels file the entry names, if it names one. Every
    problem raises :class:`ManifestError` naming the model and the field.
    """
    from .tasks import get_task, task_names  # the tasks check their own parts of the entry

    checker = _Entry(entry, position)
    name = checker.get("name", str)
    problem = model_name_problem(name)
    if problem:
        raise checker.fail("name", problem)
    task_name = checker.get("task", str)
    if task_name not in task_names():
        raise checker.fail("task", f"must be one of {', '.join(task_names())}, not {task_name!r}")
    task = get_task(task_name)
    file_name = checker.get("file", str)
    sha256 = checker.get("sha256", str).lower()
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise checker.fail("sha256", "must be 64 hex digits")

    raw_inputs = checker.get("inputs", list)
    raw_outputs = checker.get("outputs", list)
    if not raw_inputs or not raw_outputs:
        raise checker.fail("inputs" if not raw_inputs else "outputs", "must list at least one tensor (inpage add writes them)")
    inputs = tuple(_tensor(checker, raw, f"inputs[{i}]") for i, raw in enumerate(raw_inputs))
    outputs = tuple(_tensor(checker, raw, f"outputs[{i}]") for i, raw in enumerate(raw_outputs))

    image = None
    if task.image_input:
        image = _image(checker, checker.get("image", dict), inputs)

    raw_labels = entry.get("labels")
    if isinstance(raw_labels, list):
        if not all(isinstance(label, (str, int)) and not isinstance(label, bool) for label in raw_labels):
            raise checker.fail("labels", "must be a list of strings, or the path of a labels file")
        labels: tuple[str, ...] | None = tuple(str(label) for label in raw_labels)
    elif isinstance(raw_labels, str):
        labels = parse_labels(labels_text)
        if labels_text is not None and not labels:
            raise checker.fail("labels", f"file {raw_labels!r} is empty")
    elif raw_labels is None:
        labels = None
    else:
        raise checker.fail("labels", f"must be a list of strings or the path of a labels file, not {raw_labels!r}")

    output = checker.get("output", str, None)
    if output is not None and output not in [o.name for o in outputs]:
        raise checker.fail("output", f"names {output!r}, which is not among the outputs {[o.name for o in outputs]}")
    activation = checker.get("activation", str, "softmax")
    if activation not in ACTIVATIONS:
        raise checker.fail("activation", f"must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
    python = checker.get("python", str, None)
    if python is not None and not python.endswith(".py") and "." in python.rsplit("/", 1)[-1]:
        raise checker.fail("python", f"must name a .py file or a package folder beside the manifest, not {python!r}")
    time_limit = checker.get("python_time_limit_s", (int, float), ModelSpec.python_time_limit_s)
    if not 0 < time_limit <= 3600:
        raise checker.fail("python_time_limit_s", f"must be a number of seconds above 0 and at most 3600, not {time_limit!r}")

    files = checker.get("files", dict, {})
    for path, digest in files.items():
        if not isinstance(digest, str) or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest.lower()):
            raise checker.fail(f"files[{path!r}]", "must be the file's sha256, 64 hex digits")
        if not _relative_file(path):
            raise checker.fail("files", f"names {path!r}; each must be a path below the manifest's folder (no '..', no leading '/')")

    variants = []
    for i, raw in enumerate(checker.get("variants", list, [])):
        path = f"variants[{i}]"
        if not isinstance(raw, dict):
            raise checker.fail(path, "must be an object with name, file and sha256")
        size = raw.get("size")
        if size is not None and not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size)):
            raise checker.fail(f"{path}.size", f"must be [width, height], not {size!r}")
        variant_sha = checker.get("sha256", str, where=raw, path=f"{path}.sha256").lower()
        if len(variant_sha) != 64:
            raise checker.fail(f"{path}.sha256", "must be 64 hex digits")
        variants.append(
            Variant(
                name=checker.get("name", str, where=raw, path=f"{path}.name"),
                file=checker.get("file", str, where=raw, path=f"{path}.file"),
                sha256=variant_sha,
                dtype=checker.get("dtype", str, "float32", where=raw, path=f"{path}.dtype"),
                providers=tuple(checker.get("providers", list, [], where=raw, path=f"{path}.providers")),
                size=tuple(size) if size else None,
                report=checker.get("report", dict, {}, where=raw, path=f"{path}.report"),
                session_config=_session_config(checker, raw, f"{path}.session_config"),
            )
        )
    if len({v.name for v in variants} | {"base"}) != len(variants) + 1:
        raise checker.fail("variants", "need unique names other than 'base'")

    spec = ModelSpec(
        name=name,
        task=task_name,
        file=file_name,
        sha256=sha256,
        inputs=inputs,
        outputs=outputs,
        image=image,
        labels=labels,
        head=dict(checker.get("head", dict, {})),
        options=dict(checker.get("options", dict, {})),
        output=output,
        activation=activation,
        python=python,
        files={path: digest.lower() for path, digest in files.items()},
        python_time_limit_s=float(time_limit),
        variants=tuple(variants),
        description=checker.get("description", str, ""),
        default=bool(entry.get("default", False)),
        session_config=_session_config(checker, entry, "session_config"),
        entry=entry,
    )
    try:
        problems = task.check_spec(spec)
    except ManifestError as exc:  # a registry lookup (an unknown head type) raises rather than returns
        problems = [str(exc)]
    for problem in problems:
        raise ManifestError(f"{checker.where}: {problem}")
    return spec


def _relative_file(path: str) -> bool:
    """Whether ``path`` stays inside the manifest's folder: relative, no '..' part, no backslashes."""
    parts = path.split("/")
    return bool(path) and not path.startswith("/") and "\\" not in path and ":" not in parts[0] and all(p not in ("", ".", "..") for p in parts)


def read_manifest(text: str, source: str) -> list[dict]:
    """The raw entries of a manifest document; a malformed document raises naming ``source``."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{source} is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("models"), list):
        raise ManifestError(f"{source} has no \"models\" list; a manifest is {{\"models\": [...]}} (inpage add writes one)")
    entries = document["models"]
    if not entries:
        raise ManifestError(f"{source} lists no models; add one with `inpage add MODEL.onnx`")
    names = [e.get("name") if isinstance(e, dict) else None for e in entries]
    duplicates = sorted({n for n in names if n and names.count(n) > 1})
    if duplicates:
        raise ManifestError(f"{source}: model names must be unique; {', '.join(map(repr, duplicates))} appears more than once")
    return entries


def find_entry(manifest_text: str, name: str | None, source: str) -> tuple[dict, int]:
    """The raw entry called ``name`` and its position (the manifest's default model when ``name`` is
    None: :func:`default_model` with no task)."""
    entries = read_manifest(manifest_text, source)
    if name is None:
        name = default_model(entries)
    for position, entry in enumerate(entries):
        if isinstance(entry, dict) and entry.get("name") == name:
            return entry, position
    known = ", ".join(str(e.get("name", "?")) for e in entries if isinstance(e, dict))
    raise ManifestError(f"no model called {name!r} in {source}; it has: {known}")


def default_model(entries: list[dict], task: str | None = None) -> str | None:
    """The one rule for the model used when none is named: of the entries of ``task`` (of all
    entries when ``task`` is None), the first marked ``"default": true``, else the first. The CLI,
    ``load_model`` and the site build (``tasks.json``, which the pages read) all ask here."""
    of_task = [e for e in entries if isinstance(e, dict) and (task is None or e.get("task") == task)]
    chosen = next((e for e in of_task if e.get("default")), of_task[0] if of_task else None)
    return chosen.get("name") if chosen else None


def read_labels(entry: dict, folder) -> str | None:
    """The text of the labels file ``entry`` names, read from its manifest's ``folder`` on disk (None
    for inline or no labels); a missing or unreadable file is a :class:`ManifestError` naming it."""
    from pathlib import Path

    location = labels_location(entry) if isinstance(entry, dict) else None
    if location is None:
        return None
    path = Path(folder) / location
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"model {entry.get('name')!r}: labels file {location!r} is missing ({path})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"model {entry.get('name')!r}: labels file {location!r} cannot be read as UTF-8 text ({exc})") from None


def spec_on_disk(entry: dict, position: int, folder) -> ModelSpec:
    """``entry`` of the manifest in ``folder`` as a checked :class:`ModelSpec`, its labels read from disk."""
    return parse_entry(entry, read_labels(entry, folder), position)


def write_manifest(path, entries: list[dict]) -> bool:
    """Write ``entries`` to the manifest at ``path`` atomically (an interrupted write leaves the old file,
    never half of a new one), and only if the text changes; returns whether it did. The one writer
    ``inpage add``, ``inpage optimize`` and the benchmark use."""
    from pathlib import Path

    path = Path(path)
    text = dump_manifest(entries)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return True


def dump_manifest(entries: list[dict]) -> str:
    """The manifest document for ``entries``, formatted the way inpage writes it: indented, with short
    lists of numbers or names (shapes, means) on one line so a person can read and diff it."""
    text = json.dumps({"models": entries}, indent=2, ensure_ascii=False)
    return _SCALAR_LIST.sub(lambda m: "[" + ", ".join(part.strip() for part in m.group(1).split(",")) + "]", text) + "\n"


_SCALAR_LIST = re.compile(r"\[\s*((?:[-\w.\"+: ]+,\s*)*[-\w.\"+: ]+)\s*\]")
