"""Manifest checks at build time: every entry against its own ONNX file, so problems show up in the build
and not at a user's first click.

Each problem is one line naming the model and the field: required fields, the task's own parts,
the labels against the score output, the detector head, input and output names, dtypes and
shapes against the graph, non-tensor outputs (skl2onnx's ZipMap), external weight files, the
sha256, the variants and the user's Python module. Ops that onnxruntime-web's WASM build lacks
are warnings: the model might still run on WebGPU.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from inpage.errors import BuildError, InpageError
from inpage.manifest import ModelSpec, graph_problems, labels_location, read_manifest, spec_on_disk
from .files import sha256_of


class ManifestProblems(BuildError):
    """The manifest has problems; ``problems`` lists them, one line each."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(f"{problems[0]}{more}")


@dataclass
class CheckedManifest:
    path: Path
    entries: list[dict]
    specs: list[ModelSpec]
    warnings: list[str] = field(default_factory=list)
    reports: dict[str, dict] = field(default_factory=dict)  # model name -> what `inpage inspect` says


def check_manifest(manifest_path: Path) -> CheckedManifest:
    """Read and check ``manifest_path`` and every model it lists; raise :class:`ManifestProblems` if any."""
    from ..onnxinfo import inspect_model

    models_dir = manifest_path.parent
    if not manifest_path.is_file():
        raise BuildError(f"no model manifest at {manifest_path}; add a model with `inpage add MODEL.onnx`")
    try:
        entries = read_manifest(manifest_path.read_text(encoding="utf-8"), str(manifest_path))
    except InpageError as exc:
        raise BuildError(str(exc)) from None
    problems: list[str] = []
    warnings: list[str] = []
    specs: list[ModelSpec] = []
    reports: dict[str, dict] = {}
    for position, entry in enumerate(entries):
        try:
            spec = spec_on_disk(entry, position, models_dir)
        except InpageError as exc:
            problems.append(str(exc))
            continue
        where = f"model {spec.name!r}"
        files = [(spec.file, spec.sha256, "file")] + [(v.file, v.sha256, f"variants[{v.name!r}].file") for v in spec.variants]
        files += [(path, digest, "files") for path, digest in spec.files.items()]
        present = True
        for file_name, sha256, field_name in files:
            path = models_dir / file_name
            if not path.is_file():
                problems.append(f"{where}: {field_name} {file_name!r} is missing ({path})")
                present = False
            elif sha256_of(path) != sha256:
                problems.append(f"{where}: {field_name} {file_name!r} does not match its sha256 in the manifest; the file was changed after the manifest was written (run `inpage add` again)")
                present = False
        if not present:
            continue
        try:
            info = inspect_model(models_dir / spec.file)
        except InpageError as exc:
            problems.append(f"{where}: {exc}")
            continue
        problems.extend(graph_problems(spec, info.inputs, info.outputs))
        if info.external_data:
            problems.append(f"{where}: {spec.file} keeps its weights in {', '.join(info.external_data)}; run `inpage add` on it to fold them into one file")
        for support in info.unsupported_ops():
            warnings.append(f"{where}: op {support.domain}:{support.op_type} is not in onnxruntime-web's WASM build ({support.detail or 'no kernel'}); the model will not load on WASM")
        specs.append(spec)
        report = info.as_json()
        report["file"] = spec.file
        report["labels"] = list(spec.labels) if spec.labels else None
        reports[spec.name] = report
    if problems:
        raise ManifestProblems(problems)
    return CheckedManifest(manifest_path, entries, specs, warnings, reports)


def manifest_files(checked: CheckedManifest) -> list[str]:
    """Every file the manifest needs beside it: models, variants, labels, a text model's tokenizer and
    configs (relative paths)."""
    files: list[str] = []
    for spec, entry in zip(checked.specs, checked.entries):
        files.append(spec.file)
        files.extend(spec.files)
        files.extend(v.file for v in spec.variants)
        labels_file = labels_location(entry)
        if labels_file:
            files.append(labels_file)
        for variant in spec.variants:
            report = variant.report.get("file") if isinstance(variant.report, dict) else None
            if report:
                files.append(report)
    return sorted(set(files))


