"""Makes optimised variants of a project's image models (graph-optimised and int8) and checks each against its base model on photos.

``inpage optimize`` runs :func:`optimize_project`. For every image model of the manifest it makes:

* ``opt``: the graph as onnxruntime's *basic* offline optimisation leaves it. It must give the
  base model's outputs on every photo (within :data:`OPT_TOLERANCE`), or it is not kept.
* ``int8``: static int8 quantisation (QOperator format, per-channel int8 weights, uint8
  activations) calibrated on photos prepared by the model's own task, exactly as inference
  prepares them. The output head stays in float (see :func:`head_nodes`).
* for each input-size variant a recipe made (a ``variants`` entry with ``size``, NanoDet-m at
  320 say): its accuracy report, and ``int8-<name>``, the same quantisation of that file.

Each variant gets ``<file stem>.report.json`` beside it (accuracy on the *held-out* photos
against the base fp32 model, native latencies, how it was made) and a summary in its manifest
``report``. ``providers`` stays empty: which provider keeps which variant is the benchmark's call.

The files are reproducible: the same base model, photos and library versions give the same
bytes (the photos are read in the order ``photos.json`` lists them; nothing time-dependent is
written into a model). Calibration runs the model in float32, so a CPU with other SIMD kernels
may calibrate a range a few ulps apart and write a different int8 file.

The photos are ``photos.json`` in a folder (default: the ones bundled with inpage)::

    {"calibration": ["astronaut.png", ...], "held_out": ["chelsea.png", ...]}

Every photo is used in several :data:`VIEWS` (whole, mirrored, crops at a few zooms): a camera
sees people and objects at many scales, and a handful of photos gives a few dozen inputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from inpage.errors import InvalidArgumentError, ManifestError
from inpage.manifest import read_manifest, spec_on_disk, write_manifest
from inpage.tasks import get_task

from ..bundle.files import sha256_of
from .graph import head_nodes
from .optimizer import HEAD_DEPTHS, INT8_SESSION_CONFIG, OPT_TOLERANCE, OUR_VARIANTS, ModelOptimizer, Source
from .photos import VIEWS, Photos, load_photos
from .runner import Runner

# ---- the project -----------------------------------------------------------------------------


def _is_size_variant(raw: dict) -> bool:
    name = raw.get("name", "")
    return bool(raw.get("size")) and name not in OUR_VARIANTS and not name.startswith("int8-")


def optimize_project(project: Path, names: list[str] | None = None, force: bool = False, photos: Path | None = None) -> Iterator[str]:
    """Make and check the variants of the models in ``project/models/manifest.json``; yield lines to print.

    ``names`` limits the work to those models; ``force`` remakes variants that are up to date
    (same base sha256, file intact); ``photos`` is a folder with ``photos.json`` (default: the
    photos bundled with inpage). Only the ``variants`` of the optimised entries change in the
    manifest, which is read again just before each write.
    """
    models_dir = Path(project) / "models"
    manifest_path = models_dir / "manifest.json"
    if not manifest_path.is_file():
        raise ManifestError(f"{project} has no models/manifest.json; add a model with `inpage add MODEL.onnx --dir {project}`")
    entries = read_manifest(manifest_path.read_text(encoding="utf-8"), str(manifest_path))
    known = [e.get("name") for e in entries if isinstance(e, dict)]
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise InvalidArgumentError(f"no model called {', '.join(map(repr, unknown))} in {manifest_path}; it has: {', '.join(map(str, known))}")
    loaded: Photos | None = None

    for position, entry in enumerate(entries):
        name = entry.get("name")
        if names and name not in names:
            continue
        spec = spec_on_disk(entry, position, models_dir)
        if get_task(spec.task).judge is None:
            yield f"{name}: skipped: a {spec.task} model takes no image, and inpage optimize calibrates and checks on photos"
            continue
        if spec.python:
            yield f"{name}: skipped: its own Python module prepares and reads it, so inpage cannot compare its results"
            continue
        base_path = models_dir / spec.file
        if not base_path.is_file() or sha256_of(base_path) != spec.sha256:
            yield f"{name}: skipped: {spec.file} is missing or does not match its sha256 in the manifest"
            continue
        if loaded is None:
            loaded = load_photos(photos)
        optimizer = ModelOptimizer(models_dir, spec, loaded, force)
        old = {v.get("name"): v for v in entry.get("variants", []) if isinstance(v, dict)}
        made: dict[str, dict | None] = {}

        def keep_or(name_: str, source: Source, make):
            if optimizer.up_to_date(old.get(name_), source):
                made[name_] = old[name_]
                return f"{name}: {name_}: up to date (base unchanged), kept"
            refused = optimizer.refused_before(name_, source)
            if refused is not None:
                made[name_] = None
                return f"{name}: {name_}: not kept (base unchanged): {refused}"
            result = make()
            made[name_] = result.entry
            return f"{name}: {result.line}"

        yield keep_or("opt", optimizer.base, lambda: optimizer.make_opt(old.get("opt")))
        yield keep_or("int8", optimizer.base, lambda: optimizer.make_int8(optimizer.base, "int8", old.get("int8")))
        size_variants = [v for v in entry.get("variants", []) if isinstance(v, dict) and _is_size_variant(v)]
        for raw in size_variants:
            source = optimizer.size_source(raw["name"])
            if not source.path.is_file() or sha256_of(source.path) != source.sha256:
                yield f"{name}: {raw['name']}: skipped: {source.path.name} is missing or does not match its sha256"
                made[raw["name"]] = raw
                continue
            # A recipe made this file: it is its own source, so only the base must be unchanged.
            if optimizer.up_to_date(raw, optimizer.base) and raw.get("report", {}).get("file"):
                made[raw["name"]] = raw
                yield f"{name}: {raw['name']}: up to date, kept"
            else:
                result = optimizer.report_size_variant(raw)
                made[raw["name"]] = result.entry
                yield f"{name}: {result.line}"
            int8_name = f"int8-{raw['name']}"
            yield keep_or(int8_name, source, lambda: optimizer.make_int8(source, int8_name, old.get(int8_name)))

        # Ours first (opt, int8), then each input-size variant followed by its int8, then any
        # variant someone else made, untouched.
        ordered = [made.get("opt"), made.get("int8")]
        for raw in size_variants:
            ordered += [made.get(raw["name"]), made.get(f"int8-{raw['name']}")]
        managed = {"opt", "int8"} | {v["name"] for v in size_variants} | {f"int8-{v['name']}" for v in size_variants}
        ordered += [v for n, v in old.items() if n not in managed]
        _write_variants(manifest_path, name, [v for v in ordered if v])


def _write_variants(manifest_path: Path, model: str, variants: list[dict]) -> None:
    """Set one entry's ``variants`` in the manifest as it is on disk now, touching nothing else."""
    entries = read_manifest(manifest_path.read_text(encoding="utf-8"), str(manifest_path))
    entry = next((e for e in entries if isinstance(e, dict) and e.get("name") == model), None)
    if entry is None:
        raise ManifestError(f"model {model!r} left {manifest_path} while it was being optimised")
    if variants:
        entry["variants"] = variants
    else:
        entry.pop("variants", None)
    write_manifest(manifest_path, entries)


__all__ = [
    "HEAD_DEPTHS", "INT8_SESSION_CONFIG", "OPT_TOLERANCE", "OUR_VARIANTS", "ModelOptimizer", "Photos", "Runner", "VIEWS", "head_nodes",
    "load_photos", "optimize_project",
]
