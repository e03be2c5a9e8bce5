"""A user's project folder: ``inpage add`` inspects an ONNX file, fixes what onnxruntime-web cannot run,
copies it into ``models/`` and writes its manifest entry; ``inpage inspect`` shows the same findings
without writing anything. CPython only.

What ``add`` works out from the file itself:

* inputs and outputs, with dtypes and dynamic dimensions; opsets; metadata (ultralytics exports
  carry ``names``, ``imgsz``, ``task`` and ``stride``);
* the task: an ``ai.onnx.ml`` graph is tabular; a known detector head (NanoDet, BlazeFace, YOLO) is
  a detector; an image input with one ``[N, C]`` output is a classifier; ``[1, 1, K, 3]`` keypoints
  are a pose; otherwise it asks for ``--task``, listing the choices;
* the image recipe: layout and size from the input, normalisation from the head or the metadata
  (or ImageNet's, said plainly, for a classifier that says nothing);
* whether scores are already probabilities (the graph ends in Softmax or Sigmoid).

What it fixes, and says so: skl2onnx's ZipMap output becomes a plain probability tensor; weights
in external files are folded into the one file onnxruntime-web loads. It warns about ops that
onnxruntime-web's WASM build lacks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bundle.files import sha256_of
from inpage.errors import InpageError, ProjectError
from .int8_portability import file_portability_problems
from inpage.manifest import ModelSpec, graph_problems, model_name_problem, parse_entry, read_manifest, write_manifest
from .onnxinfo import SINGLE_FILE_LIMIT, GraphInfo, inspect_model, load, zipmap_class_labels
from inpage.adding import ModelFile, label_names
from inpage.tasks import get_task, task_names
from inpage.tasks import recognise as recognise_tasks


@dataclass
class Plan:
    """What ``inpage add`` will write for a model: the entry, and notes for the user."""

    entry: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    labels_text: str | None = None  # a labels file to write beside the model
    fixes: list[str] = field(default_factory=list)  # rewrites the model file needs: "zipmap", "external"


@dataclass
class AddResult:
    name: str
    task: str
    manifest: Path
    notes: list[str]


# ---- working out the entry ----------------------------------------------------------------------


def plan_entry(
    path: Path,
    info: GraphInfo,
    *,
    name: str | None = None,
    task: str | None = None,
    labels: Path | None = None,
    output: str | None = None,
    size: tuple[int, int] | None = None,
    normalize: dict | None = None,
    resize: str | None = None,
    channel_order: str | None = None,
    user_module: Path | None = None,
    folder_files: dict[str, Any] | None = None,
) -> Plan:
    """The manifest entry ``inpage add`` would write for the model at ``path`` (not yet hashed or copied).
    The task's own module recognises the file and writes its parts (see :mod:`inpage.tasks`)."""
    fixes: list[str] = []
    if info.external_data:
        fixes.append("external")
    if info.zipmap_outputs:
        fixes.append("zipmap")
    model = ModelFile(file_name=path.name, name=name or path.stem, info=info, output=output, size=size, normalize=normalize,
                      resize=resize, channel_order=channel_order, user_module=user_module.name if user_module else None,
                      folder_files=dict(folder_files or {}))
    metadata = model.metadata
    if task is None:
        found = recognise_tasks(model)
        if len(found) != 1:
            why = f"it could be {' or '.join(found)}" if found else model.describe()
            raise ProjectError(f"cannot tell what {path.name} does ({why}); pass --task with one of: {', '.join(task_names())}")
        task = found[0]
        model.notes.append(f"task: {task} (inferred{' from the metadata' if metadata.get('task') else ''}; override with --task)")
    elif task not in task_names():
        raise ProjectError(f"--task must be one of {', '.join(task_names())}, not {task!r}")
    model.labels, model.labels_given = _labels(labels, metadata, model.notes)

    entry: dict[str, Any] = {"name": model.name, "task": task}
    entry["description"] = str(metadata.get("description") or f"{model.name if model.folder_files else path.name}, added with inpage add")
    entry["file"] = model.bundled(path.name) if model.folder_files else path.name
    entry["sha256"] = ""
    outputs = [o.as_json() for o in info.outputs]
    for out in outputs:
        if out["name"] in info.zipmap_outputs:
            out.update(dtype="float32", shape=[(info.inputs[0].shape or ["N"])[0] or "N", len(info.zipmap_labels or []) or None])
    entry["inputs"] = [t.as_json() for t in info.inputs]
    entry["outputs"] = outputs
    entry.update(get_task(task).plan(model))

    labels_text = None
    if get_task(task).image_input and isinstance(entry.get("labels"), list):
        # An image model's labels go in a file of their own (ImageNet's thousand would swamp the manifest).
        labels_text = "\n".join(entry["labels"]) + "\n"
        entry["labels"] = f"labels/{model.name}.txt"
    return Plan(entry, model.notes, labels_text, fixes)


def _labels(labels: Path | None, metadata: dict, notes: list[str]) -> tuple[list[str] | None, bool]:
    """The class names: from --labels (one per line), else the model's metadata (``names``)."""
    if labels is None:
        found = label_names(metadata.get("names"))
        if found:
            notes.append(f"labels: {len(found)} names from the model's metadata")
        return found, False
    if not labels.is_file():
        raise ProjectError(f"--labels {labels} does not exist")
    try:
        found = [line.strip() for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError as exc:
        raise ProjectError(f"--labels {labels} is not UTF-8 text (byte {exc.start} cannot be read); save it as UTF-8, one label per line") from None
    if not found:
        raise ProjectError(f"--labels {labels} is empty")
    return found, True


# ---- fixing the file ---------------------------------------------------------------------------


def fix_model(source: Path, target: Path, fixes: list[str]) -> list[str]:
    """Write ``source`` to ``target`` with ``fixes`` applied ("external", "zipmap"); returns notes."""
    import onnx
    from onnx import helper

    notes = []
    model = load(source, load_external=True)
    if "zipmap" in fixes:
        graph = model.graph
        for node in [n for n in graph.node if n.op_type == "ZipMap"]:
            output_name = node.output[0]
            graph.node.remove(node)
            # The probabilities tensor that fed the ZipMap now leaves the graph under the same name.
            graph.node.append(helper.make_node("Identity", [node.input[0]], [output_name], name=f"{output_name}_tensor"))
            for i, value in enumerate(graph.output):
                if value.name == output_name:
                    graph.output.remove(value)
                    classes = len(zipmap_class_labels(node))
                    graph.output.insert(i, helper.make_tensor_value_info(output_name, onnx.TensorProto.FLOAT, ["N", classes]))
                    break
            notes.append(f"output {output_name!r}: skl2onnx's ZipMap (a list of dicts, which onnxruntime-web cannot read) replaced by its probability tensor")
    size = model.ByteSize()
    if "external" in fixes:
        if size > SINGLE_FILE_LIMIT:
            raise ProjectError(
                f"{source.name} with its external weights is {size / 1e9:.1f} GB; onnxruntime-web loads one file of at most "
                f"{SINGLE_FILE_LIMIT / 1e9:.0f} GB, and a browser would need twice that in memory: make the model smaller (quantise it)"
            )
        notes.append(f"weights from external file(s) folded into {target.name} ({size / 1e6:.1f} MB), the one file the page loads")
    for tensor in model.graph.initializer:
        del tensor.external_data[:]
        tensor.data_location = onnx.TensorProto.DEFAULT
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".onnx", delete=False) as scratch:
        scratch_path = Path(scratch.name)
    try:
        onnx.save(model, str(scratch_path))
        onnx.checker.check_model(str(scratch_path))
        scratch_path.replace(target)
    except Exception as exc:
        scratch_path.unlink(missing_ok=True)
        raise ProjectError(f"the fixed model does not pass onnx's checker: {' '.join(str(exc).split())[:300]}") from None
    return notes


def _smoke_test(path: Path, spec: ModelSpec) -> list[str]:
    """Load the model in native onnxruntime and check the entry against the session; problems, one line each."""
    import onnxruntime as ort

    from inpage._native import tensor_specs

    try:
        options = ort.SessionOptions()
        options.log_severity_level = 3  # unused-initializer warnings are harmless noise
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own errors
        raise ProjectError(f"onnxruntime cannot load {path.name}: {' '.join(str(exc).split())[:300]}") from None
    return graph_problems(spec, tensor_specs(session.get_inputs()), tensor_specs(session.get_outputs()))


def add_model(
    model: Path,
    folder: Path = Path("."),
    *,
    name: str | None = None,
    task: str | None = None,
    labels: Path | None = None,
    output: str | None = None,
    python: Path | None = None,
    make_default: bool = False,
    **image_options: Any,
) -> AddResult:
    """Add ``model`` to ``folder``'s ``models/manifest.json`` (created if missing), copying the file beside it.

    ``model`` may also be a text model's export folder (optimum's or sentence-transformers'): its
    ``model.onnx`` (or ``onnx/model.onnx``) and the tokenizer and configs beside it go into
    ``models/<name>/``, each listed with its sha256 in the entry's ``files``.

    All or nothing: a failure leaves the project as it was (no stray copies, no half-written labels)."""
    export = None
    if model.is_dir():
        export = read_export_folder(model)
        model = export.model
        name = name or _folder_name(export.folder)
    if not model.is_file():
        raise ProjectError(f"no such file: {model}")
    if model.stat().st_size == 0:
        raise ProjectError(f"{model} is empty")
    if name is not None and model_name_problem(name):
        raise ProjectError(f"--name {model_name_problem(name)}")
    models_dir = folder / "models"
    manifest_path = models_dir / "manifest.json"
    entries: list[dict] = []
    if manifest_path.exists():
        try:
            entries = read_manifest(manifest_path.read_text(encoding="utf-8"), str(manifest_path))
        except InpageError as exc:
            if "lists no models" not in str(exc):
                raise ProjectError(f"cannot add to {manifest_path}: {exc}") from None
    if python is not None and (python.is_file() or (python / "__init__.py").is_file()):
        _check_user_module(python / "__init__.py" if python.is_dir() else python)  # before the heads judge the model without it
    info = inspect_model(model)
    plan = plan_entry(model, info, name=name, task=task, labels=labels, output=output, user_module=python,
                      folder_files=export.files if export else None, **image_options)
    entry = plan.entry
    name = entry["name"]
    if model_name_problem(name):
        raise ProjectError(f"{model.name}: the name it gives, {model_name_problem(name)}; pass --name NAME")
    with _AllOrNothing() as changes:
        return _add(model, folder, models_dir, manifest_path, entries, plan, entry, name, python, labels, make_default, changes, export)


class _AllOrNothing:
    """The files an ``add`` writes: on any failure, the new ones are deleted and the overwritten ones restored."""

    def __init__(self):
        self._created: list[Path] = []
        self._saved: dict[Path, bytes] = {}

    def __enter__(self):
        return self

    def will_write(self, path: Path) -> Path:
        if path in self._saved or path in self._created:
            return path
        if path.is_file():
            self._saved[path] = path.read_bytes()
        elif not path.exists():
            self._created.append(path)
        return path

    def will_make_dir(self, path: Path) -> None:
        for folder in reversed([path, *path.parents]):
            if not folder.exists():
                self._created.append(folder)

    def __exit__(self, kind, _value, _traceback):
        if kind is None:
            return False
        for path in reversed(self._created):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        for path, data in self._saved.items():
            path.write_bytes(data)
        return False


def _add(model, folder, models_dir, manifest_path, entries, plan, entry, name, python, labels, make_default, changes, export=None) -> AddResult:
    notes = list(plan.notes)
    target = models_dir / entry["file"]
    existing_files = {e.get("file") for e in entries if e.get("name") != name}
    if export is None and target.name in existing_files and target.resolve() != model.resolve():
        target = models_dir / f"{name}{model.suffix}"
        entry["file"] = target.name
    changes.will_make_dir(target.parent)
    target.parent.mkdir(parents=True, exist_ok=True)
    if export is not None:
        entry["files"] = _copy_export_files(export, models_dir, name, changes)
    if plan.fixes:
        changes.will_write(target)
        changes.will_write(target.with_name(target.name + ".tmp"))
        notes.extend(fix_model(model, target, plan.fixes))
    elif target.resolve() != model.resolve():
        shutil.copyfile(model, changes.will_write(target))
    entry["sha256"] = sha256_of(target)
    written = inspect_model(target)
    entry["inputs"] = [t.as_json() for t in written.inputs]
    entry["outputs"] = [t.as_json() for t in written.outputs]

    if python is not None:
        entry["python"] = _place_python(python, folder, models_dir, changes)
        notes.append(f"python: {entry['python']} runs as the model's pre/post-processing")
    if plan.labels_text is not None and isinstance(entry.get("labels"), str):
        labels_path = models_dir / entry["labels"]
        changes.will_make_dir(labels_path.parent)
        labels_path.parent.mkdir(parents=True, exist_ok=True)
        changes.will_write(labels_path).write_text(plan.labels_text, encoding="utf-8")
    if make_default or not any(e.get("task") == entry["task"] and e.get("name") != name for e in entries):
        for other in entries:
            if other.get("task") == entry["task"]:
                other.pop("default", None)
        entry = {"name": entry["name"], "task": entry["task"], "default": True, **{k: v for k, v in entry.items() if k not in ("name", "task")}}

    labels_text = plan.labels_text if isinstance(entry.get("labels"), str) else None
    try:
        spec = parse_entry(entry, labels_text)
    except InpageError as exc:
        if labels is not None and "labels" in str(exc):
            raise ProjectError(f"--labels {labels} does not fit this model: {exc}; give one name per class, one per line") from None
        raise ProjectError(f"the entry inpage worked out is not valid ({exc}); pass --task, --output or --size") from None
    problems = _smoke_test(target, spec)
    if problems:
        raise ProjectError(problems[0])
    for support in written.op_support():
        if support.status == "unsupported":
            notes.append(f"warning: op {support.domain}:{support.op_type} is not in onnxruntime-web's WASM build; the page cannot run this model on WASM")
        elif support.status == "partial":
            notes.append(f"warning: op {support.domain}:{support.op_type} runs in onnxruntime-web only for some types ({support.detail})")
    for problem in file_portability_problems(target)[:2]:
        notes.append(f"warning: {problem}")

    replaced = any(e.get("name") == name for e in entries)
    entries = [e if e.get("name") != name else entry for e in entries] if replaced else entries + [entry]
    changes.will_write(manifest_path)
    changes.will_write(manifest_path.with_name(manifest_path.name + ".tmp"))
    write_manifest(manifest_path, entries)
    if replaced:
        notes.append(f"replaced the earlier entry called {name!r}")
    return AddResult(name, entry["task"], manifest_path, notes)


@dataclass
class ExportFolder:
    """A text model's export folder: the ONNX file and the JSON files beside it, read."""

    folder: Path
    model: Path
    files: dict[str, Any]  # relative path -> parsed JSON (tokenizer.json, config.json, ...)


# The files of an optimum or sentence-transformers export that inpage reads or bundles beside the model.
EXPORT_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json", "modules.json",
                "sentence_bert_config.json", "config_sentence_transformers.json", "1_Pooling/config.json")


def read_export_folder(folder: Path) -> ExportFolder:
    """The ONNX file of an export folder (``model.onnx``, else ``onnx/model.onnx``, else its only
    ``.onnx``) and its tokenizer and config files, each checked to be JSON; the tokenizer must be one
    inpage can run."""
    from inpage.text import Tokenizer

    candidates = [folder / "model.onnx", folder / "onnx" / "model.onnx"]
    model = next((c for c in candidates if c.is_file()), None)
    if model is None:
        found = sorted(folder.glob("*.onnx")) or sorted(folder.glob("onnx/*.onnx"))
        if len(found) != 1:
            listed = ", ".join(p.relative_to(folder).as_posix() for p in found) or "none"
            raise ProjectError(f"{folder} holds no model.onnx (nor onnx/model.onnx); .onnx files found: {listed}; "
                               "export the model to ONNX first (optimum-cli export onnx, or sentence-transformers' backend='onnx'), or name the file")
        model = found[0]
    files: dict[str, Any] = {}
    for relative in EXPORT_FILES:
        path = folder / relative
        if not path.is_file():
            continue
        try:
            files[relative] = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ProjectError(f"{path} is not valid JSON ({' '.join(str(exc).split())[:120]}); export the folder again") from None
    if "tokenizer.json" not in files:
        has_vocab = any((folder / n).is_file() for n in ("vocab.txt", "vocab.json", "sentencepiece.bpe.model", "spiece.model"))
        raise ProjectError(f"{folder} has no tokenizer.json{' (only the slow tokenizer files)' if has_vocab else ''}; save the fast tokenizer "
                           "beside the model with transformers: AutoTokenizer.from_pretrained(...).save_pretrained(FOLDER)")
    try:
        Tokenizer.from_file(folder / "tokenizer.json")  # its errors name the file
    except InpageError as exc:
        raise ProjectError(str(exc)) from None
    return ExportFolder(folder, model, files)


def _folder_name(folder: Path) -> str:
    """A model name from an export folder's name (``all-MiniLM-L6-v2`` -> ``all-minilm-l6-v2``)."""
    # Accents fold to their letters (Ünïcode -> unicode); other non-ASCII letters become '-': a
    # model's name is a file name and part of URLs (manifest.MODEL_NAME).
    name = unicodedata.normalize("NFKD", folder.resolve().name.lower())
    name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "" if unicodedata.combining(c) else "-" for c in name)
    return re.sub(r"-{2,}", "-", name).strip("-._")[:64].strip("-._") or "text-model"


def _copy_export_files(export: ExportFolder, models_dir: Path, name: str, changes: "_AllOrNothing") -> dict[str, str]:
    """Copy the export's tokenizer and config files into ``models/<name>/``; their paths and sha256s."""
    listed = {}
    for relative in export.files:
        target = models_dir / name / relative
        changes.will_make_dir(target.parent)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.resolve() != (export.folder / relative).resolve():  # a folder already in models/ stays as it is
            shutil.copyfile(export.folder / relative, changes.will_write(target))
        listed[f"{name}/{relative}"] = sha256_of(target)
    return listed


def _check_user_module(source: Path) -> None:
    """Refuse a module that cannot parse or defines neither function, read without running it: add
    must not run the user's code (it may import what only the page has), but these would fail every
    call."""
    import ast

    from inpage.usercode import DEFINES_NEITHER

    try:
        tree = ast.parse(source.read_bytes(), filename=str(source))
    except SyntaxError as exc:
        raise ProjectError(f"{source.name}, line {exc.lineno}: SyntaxError: {exc.msg}; fix the module, then add the model again") from None
    except (OSError, ValueError) as exc:
        raise ProjectError(f"{source} cannot be read as Python ({exc}); give the module's .py file") from None
    defined = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign):
            defined.update(target.id for target in node.targets if isinstance(target, ast.Name))
    if not defined & {"preprocess", "postprocess"} and not any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in tree.body):
        raise ProjectError(f"{source.name} {DEFINES_NEITHER}; define one or both (see the README's \"Your own Python in the page\")")


def _place_python(python: Path, folder: Path, models_dir: Path, changes: _AllOrNothing) -> str:
    """The manifest's ``python`` path: the file where it is, if inside the project; else a copy in models/."""
    if not (python.is_file() and python.suffix == ".py") and not (python.is_dir() and (python / "__init__.py").is_file()):
        raise ProjectError(f"--python must be a .py file or a package folder with __init__.py, not {python}")
    resolved = python.resolve()
    if folder.resolve() in resolved.parents:
        return Path(os.path.relpath(resolved, models_dir.resolve())).as_posix()
    target = changes.will_write(models_dir / python.name)
    if python.is_dir():
        shutil.copytree(python, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        shutil.copyfile(python, target)
    return python.name


# ---- inspect -----------------------------------------------------------------------------------


def inspect_file(path: Path) -> dict:
    """Everything ``inpage inspect`` reports, as JSON-able data (of a file, or of a text model's export folder)."""
    export = None
    if path.is_dir():
        export = read_export_folder(path)
        path = export.model
    if not path.is_file():
        raise ProjectError(f"no such file: {path}")
    info = inspect_model(path)
    report = info.as_json()
    report["int8_portability"] = file_portability_problems(path)
    try:
        plan = plan_entry(path, info, name=_folder_name(export.folder) if export else None, folder_files=export.files if export else None)
        report["inpage_add"] = {"entry": plan.entry, "notes": plan.notes, "fixes": plan.fixes}
    except InpageError as exc:
        report["inpage_add"] = {"error": str(exc)}
    return report


def describe(report: dict) -> str:
    """``inspect_file``'s report as text for a terminal."""
    producer = (report["producer"] or "unknown producer").replace(" None", "")
    lines = [f"{report['file']}  ({report['file_size'] / 1e6:.2f} MB, {report['parameters']:,} parameters, {producer})"]
    lines.append("inputs:")
    lines += [f"  {t['name']:<24} {t['dtype']:<8} {t['shape']}" for t in report["inputs"]]
    lines.append("outputs:")
    for t in report["outputs"]:
        extra = f"  ({t['kind']})" if t["kind"] != "tensor" else ""
        produced = f"  <- {t['produced_by']}" if t.get("produced_by") else ""
        lines.append(f"  {t['name']:<24} {t['dtype']:<8} {t['shape']}{extra}{produced}")
    lines.append("opsets: " + ", ".join(f"{d} {v}" for d, v in report["opsets"].items()))
    lines.append("ops: " + ", ".join(f"{op} {n}" for op, n in sorted(report["ops"].items(), key=lambda kv: -kv[1])))
    if report["metadata"]:
        lines.append("metadata:")
        lines += [f"  {k}: {v[:100]}" for k, v in report["metadata"].items()]
    if report["external_data"]:
        lines.append("external data: " + ", ".join(report["external_data"]) + " (inpage add folds it into one file)")
    support = report["onnxruntime_web_wasm"]
    bad = [s for s in support if s["status"] in ("unsupported", "partial", "unknown")]
    if not bad:
        lines.append(f"onnxruntime-web (WASM): every op is supported ({len(support)} op types)")
    else:
        lines.append("onnxruntime-web (WASM):")
        lines += [f"  {s['domain']}:{s['op_type']}: {s['status']}{' - ' + s['detail'] if s['detail'] else ''}" for s in bad]
    problems = report.get("int8_portability", [])
    lines += [f"int8: {problem}" for problem in problems[:3]]
    if len(problems) > 3:
        lines.append(f"int8: ... and {len(problems) - 3} more (inspect --json lists them all)")
    plan = report["inpage_add"]
    if "error" in plan:
        lines.append(f"inpage add: {plan['error']}")
    else:
        entry = plan["entry"]
        lines.append(f"inpage add would write: task {entry['task']}" + (f", head {entry['head'].get('type')}" if entry.get("head", {}).get("type") else ""))
        if "image" in entry:
            image = entry["image"]
            lines.append(f"  image: {image['layout']}, {image['resize']}, {image.get('channel_order', 'gray')}, normalize {image.get('normalize', 'none')}")
        lines += [f"  {note}" for note in plan["notes"]]
        lines += [f"  fix: {fix}" for fix in plan["fixes"]]
    return "\n".join(lines)
