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

import hashlib
import json
import os
import statistics
import tempfile
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PIL import Image, ImageOps

from . import resources
from .errors import InvalidArgumentError, ManifestError
from .image import to_rgb
from .manifest import ModelSpec, labels_location, parse_entry, read_manifest, write_manifest
from .bundle.files import sha256_of
from .postprocess import box_iou
from .int8_portability import SAFE_WEIGHT, inexact_boundaries, inexact_ops, saturation_risks
from .tasks import get_task

PHOTOS_INDEX = "photos.json"
# (name, crop box as fractions of the photo, mirrored). Crops zoom in, as a camera close to its
# subject does; the last one is tight enough to give a face most of a small detector's input.
VIEWS: tuple[tuple[str, tuple[float, float, float, float] | None, bool], ...] = (
    ("whole", None, False),
    ("mirrored", None, True),
    ("centre", (0.15, 0.15, 0.85, 0.85), False),
    ("top", (0.25, 0.0, 0.75, 0.5), False),
    ("close-up", (0.3, 0.1, 0.6, 0.4), False),
)
# Native timings use two threads: what the notes and the page's WASM build use, and the same on
# any machine, so figures from different machines stay comparable.
THREADS = 2
TIMED_RUNS = 20
TIMED_SESSIONS = 5
# The basic level folds constants and removes redundant nodes, all in float32: the outputs must
# stay equal to the base model's up to float rounding.
OPT_TOLERANCE = 1e-4
CONFIDENT = 0.5  # detections at or above this score are "confident"
# For the quality figure only, a confident detection the other model also finds at a score a
# little under CONFIDENT counts as kept: 0.51 against 0.49 is the same detection, not a lost one.
SCORE_MARGIN = 0.1
# A classification view is decisive when the base's top class leads the next by this much;
# top-1 flips between near-equal classes (tiger cat 0.38, Egyptian cat 0.37) say little.
DECISIVE_LEAD = 0.1
KEYPOINT_SCORE = 0.3  # a keypoint at or above it counts as found (the README's threshold)
PCK_FRACTION = 0.02  # a keypoint within 2% of the photo's diagonal of the base's is "the same"
# The deepest head to leave in float: 1 is the last heavy op on every path to an output and
# everything after it; each step up takes one more heavy op per path.
HEAD_DEPTHS = (1, 2, 3)
# The shallowest head whose calibration quality is within this of the best one is chosen:
# less float is faster, and a few hundredths are noise on a few dozen views.
QUALITY_SLACK = 0.02
# Below these held-out qualities an int8 variant is broken, not merely less accurate, and is not
# kept (detect: share of confident detections kept, see SCORE_MARGIN; classify: top-1 agreement
# on decisive views; pose: share of confident
# keypoints within 2% of the diagonal; segment: mean IoU of the masks), all on held-out photos.
QUALITY_FLOOR = {"detect": 0.8, "classify": 0.6, "pose": 0.7, "segment": 0.7}
HEAVY_OPS = {"Conv", "ConvTranspose", "Gemm", "MatMul"}
# The float ops quantize_static may turn into int8 ones: those whose QOperator forms give the same
# integers on every CPU and in the page (inpage.int8_portability.EXACT_OPS); Relu and Clip fold
# into the preceding convolution's output range.
QUANTIZED_OPS = ("Conv", "MatMul", "Gemm", "Relu", "Clip", "LeakyRelu", "Concat", "MaxPool", "Pad", "Reshape", "Transpose",
                 "Squeeze", "Unsqueeze", "Flatten", "Split", "Slice", "Gather", "Resize")
OUR_VARIANTS = ("opt", "int8")  # plus "int8-<size variant>"


# ---- photos ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    name: str  # "chelsea.png/mirrored"
    image: Image.Image


@dataclass(frozen=True)
class Photos:
    """The calibration and held-out photos, each as its :data:`VIEWS`, in ``photos.json`` order."""

    folder: Path
    calibration_files: tuple[str, ...]
    held_out_files: tuple[str, ...]
    calibration: tuple[View, ...]
    held_out: tuple[View, ...]
    sha256: str  # of photos.json and every photo, in order: which photos a report used

    def describe(self) -> dict:
        bundled = self.folder.resolve() == default_photos_dir().resolve()
        return {
            "folder": "inpage's bundled photos (models/photos)" if bundled else str(self.folder),
            "sha256": self.sha256,
            "calibration": list(self.calibration_files),
            "held_out": list(self.held_out_files),
            "views": [name for name, _box, _mirror in VIEWS],
        }


def default_photos_dir() -> Path:
    return resources.demo_models_dir() / "photos"


def load_photos(folder: Path | None = None) -> Photos:
    """The photos ``folder/photos.json`` lists (default: the bundled ones), decoded as inference decodes them."""
    folder = Path(folder) if folder is not None else default_photos_dir()
    index_path = folder / PHOTOS_INDEX
    if not index_path.is_file():
        raise InvalidArgumentError(f"{folder} has no {PHOTOS_INDEX}; it lists the calibration and held_out photos")
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InvalidArgumentError(f"{index_path} is not valid JSON: {exc}") from None
    sets = {}
    for key in ("calibration", "held_out"):
        files = index.get(key) if isinstance(index, dict) else None
        if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
            raise InvalidArgumentError(f"{index_path}: {key!r} must be a non-empty list of photo file names")
        missing = [f for f in files if not (folder / f).is_file()]
        if missing:
            raise InvalidArgumentError(f"{index_path}: {key} lists {', '.join(missing)}, not in {folder}")
        sets[key] = tuple(files)
    shared = sorted(set(sets["calibration"]) & set(sets["held_out"]))
    if shared:
        # A held-out photo the quantiser has seen would flatter the report.
        raise InvalidArgumentError(f"{index_path}: {', '.join(shared)} is both a calibration and a held-out photo")
    digest = hashlib.sha256(index_path.read_bytes())
    views = {}
    for key, files in sets.items():
        views[key] = []
        for file in files:
            data = (folder / file).read_bytes()
            digest.update(hashlib.sha256(data).digest())
            views[key].extend(_views(file, to_rgb(data)))
    return Photos(folder, sets["calibration"], sets["held_out"], tuple(views["calibration"]), tuple(views["held_out"]), digest.hexdigest())


def _views(file: str, image: Image.Image) -> list[View]:
    views = []
    width, height = image.size
    for name, box, mirrored in VIEWS:
        view = image
        if box is not None:
            left, top, right, bottom = box
            view = image.crop((round(left * width), round(top * height), round(right * width), round(bottom * height)))
        if mirrored:
            view = ImageOps.mirror(view)
        views.append(View(f"{file}/{name}", view))
    return views


# ---- running a model file --------------------------------------------------------------------


def _session(model: str | bytes, threads: int | None = THREADS, config: dict[str, str] | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # BlazeFace's unused initializers are reported at every load
    if threads:
        options.intra_op_num_threads = threads
    for key, value in (config or {}).items():
        options.add_session_config_entry(key, value)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


class Runner:
    """One model file, fed and read by the task of the spec that describes it."""

    def __init__(self, spec: ModelSpec, path: Path, config: dict[str, str] | None = None):
        self.spec = spec
        self.path = path
        self.task = get_task(spec.task)(spec)
        # The session config the file runs with in inpage (the manifest's session_config).
        self.session = _session(str(path), config=spec.session_config if config is None else config)
        self.output_names = [o.name for o in self.session.get_outputs()]

    def feeds(self, image: Image.Image) -> tuple[dict[str, np.ndarray], Any]:
        feeds, context = self.task.prepare(image, self.task.options({}))
        # The task reuses one input buffer call after call: keep a copy per view.
        return {name: np.array(value, copy=True) for name, value in feeds.items()}, context

    def outputs(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return dict(zip(self.output_names, self.session.run(self.output_names, feeds)))

    def results(self, views: tuple[View, ...], judge: "Judge") -> list[Any]:
        results = []
        for view in views:
            feeds, context = self.feeds(view.image)
            results.append(judge.results(self.task, self.outputs(feeds), context))
        return results


# ---- comparing results, per task -------------------------------------------------------------


def _mean(values) -> float | None:
    values = list(values)
    return round(float(np.mean(values)), 4) if values else None


class Judge:
    """How one task's results are compared: what to keep per view, the figures, and one quality in [0, 1]."""

    task: str

    def results(self, task, outputs, context) -> Any:
        raise NotImplementedError

    def compare(self, base: list, variant: list, views: tuple[View, ...]) -> dict:
        raise NotImplementedError

    def quality(self, figures: dict) -> float:
        raise NotImplementedError

    def summary(self, figures: dict) -> dict:
        return figures


class DetectJudge(Judge):
    """Detections matched one to one: same label and box IoU >= 0.5, best-scoring base detection first."""

    task = "detect"

    def results(self, task, outputs, context):
        return {
            "default": task.finish(outputs, context, task.options({})),
            "confident": task.finish(outputs, context, task.options({"score_threshold": CONFIDENT})),
            "near": task.finish(outputs, context, task.options({"score_threshold": CONFIDENT - SCORE_MARGIN})),
        }

    @staticmethod
    def _match(base, variant) -> tuple[int, list[float], list[float]]:
        used, ious, score_changes = set(), [], []
        for b in sorted(base, key=lambda d: -d.score):
            best, best_iou = None, 0.5
            for j, v in enumerate(variant):
                if j in used or v.index != b.index:
                    continue
                iou = float(box_iou(np.asarray(b.box), np.asarray([v.box]))[0])
                if iou >= best_iou:
                    best, best_iou = j, iou
            if best is not None:
                used.add(best)
                ious.append(best_iou)
                score_changes.append(abs(variant[best].score - b.score))
        return len(used), ious, score_changes

    def compare(self, base, variant, views):
        figures: dict[str, Any] = {"views": len(views)}
        for key in ("default", "confident"):
            counts = {"base": 0, "variant": 0, "matched": 0}
            ious, changes, per_view = [], [], []
            for view, b, v in zip(views, base, variant):
                matched, view_ious, view_changes = self._match(b[key], v[key])
                counts["base"] += len(b[key])
                counts["variant"] += len(v[key])
                counts["matched"] += matched
                ious += view_ious
                changes += view_changes
                if key == "confident" and (b[key] or v[key]):
                    per_view.append({"view": view.name, "base": [[d.label, round(d.score, 3)] for d in b[key]],
                                     "variant": [[d.label, round(d.score, 3)] for d in v[key]]})
            figures[key] = {
                "score_threshold": None if key == "default" else CONFIDENT,
                "base_detections": counts["base"],
                "matched": counts["matched"],
                "missed": counts["base"] - counts["matched"],
                "extra": counts["variant"] - counts["matched"],
                "mean_matched_iou": _mean(ious),
                "mean_score_change": _mean(changes),
            }
            if key == "confident":
                figures["confident_per_view"] = per_view
        # Confident detections of either model that the other finds at CONFIDENT - SCORE_MARGIN or more.
        kept = sum(self._match(b["confident"], v["near"])[0] + self._match(v["confident"], b["near"])[0] for b, v in zip(base, variant))
        total = sum(len(b["confident"]) + len(v["confident"]) for b, v in zip(base, variant))
        figures["confident_kept_within_margin"] = {"score_margin": SCORE_MARGIN, "kept": kept, "of": total}
        return figures

    def quality(self, figures):
        kept = figures["confident_kept_within_margin"]
        return 1.0 if kept["of"] == 0 else kept["kept"] / kept["of"]

    def summary(self, figures):
        keep = ("base_detections", "matched", "missed", "extra")
        return {"views": figures["views"], "default": {k: figures["default"][k] for k in keep}, "confident": {k: figures["confident"][k] for k in keep}}


class ClassifyJudge(Judge):
    task = "classify"

    def results(self, task, outputs, context):
        return task.finish(outputs, context, task.options({"top_k": 5}))

    def compare(self, base, variant, views):
        top1, top5, in_top5, confident, decisive, changes, per_view = [], [], [], [], [], [], []
        for view, b, v in zip(views, base, variant):
            v_indices = {p.index for p in v}
            same = b[0].index == v[0].index
            top1.append(same)
            top5.append(len({p.index for p in b} & v_indices) / len(b))
            in_top5.append(b[0].index in v_indices)
            if b[0].score >= CONFIDENT:
                confident.append(same)
            if len(b) < 2 or b[0].score - b[1].score >= DECISIVE_LEAD:
                decisive.append(same)
            changes.append(abs(b[0].score - next((p.score for p in v if p.index == b[0].index), 0.0)))
            per_view.append({"view": view.name, "base": [b[0].label, round(b[0].score, 3)], "variant": [v[0].label, round(v[0].score, 3)]})
        return {
            "views": len(views),
            "top1_agreement": _mean(top1),
            "top5_agreement": _mean(top5),
            "base_top1_in_variant_top5": _mean(in_top5),
            "confident_views": len(confident),
            "confident_top1_agreement": _mean(confident),
            "decisive_lead": DECISIVE_LEAD,
            "decisive_views": len(decisive),
            "decisive_top1_agreement": _mean(decisive),
            "mean_top1_probability_change": _mean(changes),
            "top1_per_view": per_view,
        }

    def quality(self, figures):
        value = figures["decisive_top1_agreement"]
        return figures["top1_agreement"] if value is None else value

    def summary(self, figures):
        keep = ("views", "top1_agreement", "top5_agreement", "confident_views", "confident_top1_agreement", "decisive_views", "decisive_top1_agreement")
        return {k: figures[k] for k in keep}


class PoseJudge(Judge):
    task = "pose"

    def results(self, task, outputs, context):
        poses = task.finish(outputs, context, task.options({"score_threshold": 0.0}))
        diagonal = float(np.hypot(context.frame_width, context.frame_height))
        return (poses[0] if poses else None), diagonal

    def compare(self, base, variant, views):
        distances, confident_distances, close, agree, changes = [], [], [], [], []
        for (b, diagonal), (v, _) in zip(base, variant):
            if b is None or v is None:
                continue
            for kb, kv in zip(b.keypoints, v.keypoints):
                distance = float(np.hypot(kb.x - kv.x, kb.y - kv.y))
                distances.append(distance)
                agree.append((kb.score >= KEYPOINT_SCORE) == (kv.score >= KEYPOINT_SCORE))
                changes.append(abs(kb.score - kv.score))
                if kb.score >= KEYPOINT_SCORE:
                    confident_distances.append(distance)
                    close.append(distance <= PCK_FRACTION * diagonal)
        return {
            "views": len(views),
            "keypoint_score_threshold": KEYPOINT_SCORE,
            "mean_keypoint_distance_px": _mean(distances),
            "confident_keypoints": len(confident_distances),
            "mean_confident_keypoint_distance_px": _mean(confident_distances),
            "confident_within_2pct_of_diagonal": _mean(close),
            "keypoint_score_agreement": _mean(agree),
            "mean_keypoint_score_change": _mean(changes),
        }

    def quality(self, figures):
        value = figures["confident_within_2pct_of_diagonal"]
        return 1.0 if value is None else value

    def summary(self, figures):
        keep = ("views", "mean_keypoint_distance_px", "mean_confident_keypoint_distance_px", "confident_within_2pct_of_diagonal", "keypoint_score_agreement")
        return {k: figures[k] for k in keep}


class SegmentJudge(Judge):
    task = "segment"

    def results(self, task, outputs, context):
        options = task.options({})
        # Compared on the photo's own pixels, so masks of models with other input sizes compare too.
        return task.finish(outputs, context, options).to_frame(options["threshold"]) >= 128

    def compare(self, base, variant, views):
        ious, agreement, per_view = [], [], []
        for view, b, v in zip(views, base, variant):
            union = int(np.count_nonzero(b | v))
            iou = 1.0 if union == 0 else int(np.count_nonzero(b & v)) / union  # both empty: they agree
            ious.append(iou)
            agreement.append(float(np.mean(b == v)))
            per_view.append({"view": view.name, "iou": round(iou, 4), "base_coverage": round(float(b.mean()), 4), "variant_coverage": round(float(v.mean()), 4)})
        return {
            "views": len(views),
            "mean_iou": _mean(ious),
            "min_iou": round(min(ious), 4),
            "pixel_agreement": _mean(agreement),
            "per_view": per_view,
        }

    def quality(self, figures):
        return figures["mean_iou"]

    def summary(self, figures):
        return {k: figures[k] for k in ("views", "mean_iou", "min_iou", "pixel_agreement")}


JUDGES: dict[str, type[Judge]] = {j.task: j for j in (DetectJudge, ClassifyJudge, PoseJudge, SegmentJudge)}


# ---- graph helpers ---------------------------------------------------------------------------


def head_nodes(model, depth: int = 1) -> list[str]:
    """The names of the nodes between each graph output and the ``depth``-th heavy op (Conv,
    ConvTranspose, Gemm, MatMul) met walking back from it, that op included.

    These stay in float in the int8 variants: they make the numbers the task reads (scores,
    box distributions, keypoints), where one uint8 step is a visible error, and they are a small
    part of the work. On the held-out photos, quantising the whole graph instead kept 21 of
    NanoDet's 30 detections at 0.35 (26 with the head in float), moved MoveNet's confident
    keypoints by 14 px (6.5) and cut the selfie masks' IoU to 0.71 (0.77); EfficientNet and
    BlazeFace did not care.
    """
    producers = {name: node for node in model.graph.node for name in node.output}
    found: set[str] = set()
    seen: set[tuple[str, int]] = set()
    stack = [(output.name, depth) for output in model.graph.output]
    while stack:
        tensor, remaining = stack.pop()
        node = producers.get(tensor)
        if node is None or (node.name, remaining) in seen:
            continue
        seen.add((node.name, remaining))
        found.add(node.name)
        if node.op_type in HEAVY_OPS:
            if remaining == 1:
                continue
            remaining -= 1
        stack.extend((name, remaining) for name in node.input if name)
    return sorted(found)


def depthwise_weights(model) -> list[str]:
    """The weight initializers of ``model``'s depthwise convolutions (one input channel per group and
    one output channel per group), which onnxruntime computes in 32 bits on every CPU."""
    shapes = {t.name: tuple(t.dims) for t in model.graph.initializer}
    found = []
    for node in model.graph.node:
        if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in shapes:
            continue
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        shape = shapes[node.input[1]]
        if group > 1 and len(shape) >= 2 and shape[0] == group and shape[1] == 1:
            found.append(node.input[1])
    return sorted(set(found))


def _name_nodes(model) -> None:
    # Exclusion goes by node name; give nameless nodes a name that depends only on the graph.
    names = {node.name for node in model.graph.node}
    for position, node in enumerate(model.graph.node):
        if not node.name:
            name = f"{node.op_type}_{position}"
            while name in names:
                name += "_"
            node.name = name
            names.add(name)


def _tidy(model) -> None:
    """Drop opset imports that no node uses: onnxruntime writes every domain it knows into the files
    it saves (training, preview, ...), which says nothing about the graph and is not portable."""
    used = {node.domain or "" for node in model.graph.node}
    kept = [opset for opset in model.opset_import if (opset.domain or "") in used or not opset.domain]
    del model.opset_import[:]
    model.opset_import.extend(kept)


def _halve_float_weights(model) -> int:
    """Store the float weights of the float head as float16 plus a Cast where that is exact.

    The base models keep their weights as float16 (they were float16 at the source), so the
    head's weights, which quantize_static writes back as float32, usually survive the round trip
    bit for bit: EfficientNet's final Gemm alone is 5 MB in float32. Only weights read by float
    Conv/Gemm/MatMul nodes are touched, never the scales of the int8 ops. Returns how many.
    """
    import onnx
    from onnx import helper, numpy_helper

    consumers: dict[str, set[str]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, set()).add(node.op_type)
    casts, initializers = [], []
    for init in model.graph.initializer:
        values = numpy_helper.to_array(init) if init.data_type == onnx.TensorProto.FLOAT else None
        if values is None or values.size < 64 or not consumers.get(init.name) or not consumers[init.name] <= HEAVY_OPS:
            initializers.append(init)
            continue
        half = values.astype(np.float16)
        if not np.array_equal(half.astype(np.float32), values):
            initializers.append(init)
            continue
        initializers.append(numpy_helper.from_array(half, f"{init.name}_fp16"))
        casts.append(helper.make_node("Cast", [f"{init.name}_fp16"], [init.name], name=f"{init.name}_to_fp32", to=onnx.TensorProto.FLOAT))
    if casts:
        del model.graph.initializer[:]
        model.graph.initializer.extend(initializers)
        nodes = casts + list(model.graph.node)  # the Casts read only initializers: first keeps the order topological
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return len(casts)


def _save(model, path: Path) -> None:
    """Write atomically: an interrupted run leaves the old file, never half of a new one."""
    import onnx

    temporary = path.with_name(path.name + ".tmp")
    onnx.save(model, os.fspath(temporary))
    os.replace(temporary, path)


def _web_ops(path: Path) -> list[str]:
    """Ops of the file that the onnxruntime-web WASM probe does not list as supported."""
    from .onnxinfo import inspect_model

    return [f"{s.domain}:{s.op_type} ({s.status})" for s in inspect_model(path).op_support() if s.status != "supported"]


# ---- timing ----------------------------------------------------------------------------------


def _latency(runners: list[Runner], image: Image.Image) -> list[dict]:
    """Median and fastest run, in ms, of each runner; the runners take turns, so the noise of a
    shared machine falls on all of them alike."""
    feeds = [runner.feeds(image)[0] for runner in runners]
    for runner, feed in zip(runners, feeds):
        for _ in range(3):
            runner.outputs(feed)
    times: list[list[float]] = [[] for _ in runners]
    for _ in range(TIMED_RUNS):
        for i, (runner, feed) in enumerate(zip(runners, feeds)):
            start = time.perf_counter()
            runner.outputs(feed)
            times[i].append((time.perf_counter() - start) * 1e3)
    return [{"median": round(statistics.median(t), 2), "min": round(min(t), 2)} for t in times]


def _session_ms(paths: list[Path]) -> list[float]:
    """Median time to create a session from each file's bytes, in ms (turn by turn, as above)."""
    data = [path.read_bytes() for path in paths]
    times: list[list[float]] = [[] for _ in paths]
    for _ in range(TIMED_SESSIONS):
        for i, model in enumerate(data):
            start = time.perf_counter()
            _session(model)
            times[i].append((time.perf_counter() - start) * 1e3)
    return [round(statistics.median(t), 2) for t in times]


# ---- making the variants ---------------------------------------------------------------------


@dataclass
class Source:
    """A float model file a variant is made from: the entry's own, or an input-size variant's."""

    name: str  # "base" or the size variant's name
    spec: ModelSpec
    path: Path
    sha256: str


@dataclass
class Made:
    """A variant that was made (or refused): its manifest entry and its full report."""

    name: str
    entry: dict | None  # None: refused
    report: dict
    line: str


def _versions() -> dict:
    import onnx
    import onnxruntime

    from . import __version__

    return {"inpage": __version__, "onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__, "numpy": np.__version__}


def _file_info(path: Path, sha256: str | None = None) -> dict:
    return {"file": path.name, "sha256": sha256 or sha256_of(path), "bytes": path.stat().st_size}


def _report_path(variant_file: Path) -> Path:
    return variant_file.with_name(variant_file.name.removesuffix(".onnx") + ".report.json")


def _write_report(path: Path, report: dict) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, path)


# The session config every int8 variant needs: onnxruntime would otherwise fuse the float islands
# (DequantizeLinear -> Add -> QuantizeLinear) back into QLinearAdd, whose rounding differs per CPU.
INT8_SESSION_CONFIG = {"session.disable_quant_qdq": "1"}


def _variant_entry(name: str, path: Path, dtype: str, report_path: Path, summary: dict, old: dict | None, size=None) -> dict:
    sha256 = sha256_of(path)
    entry: dict[str, Any] = {"name": name, "file": path.name, "sha256": sha256, "dtype": dtype}
    if size:
        entry["size"] = list(size)
    if dtype == "int8":
        entry["session_config"] = dict(INT8_SESSION_CONFIG)
    # The benchmark's choice stands only for the very same bytes.
    providers = old.get("providers", []) if old and old.get("sha256") == sha256 else []
    entry["providers"] = providers
    entry["report"] = {"file": report_path.name, **summary}
    return entry


class ModelOptimizer:
    """The variants of one manifest entry."""

    def __init__(self, models_dir: Path, spec: ModelSpec, photos: Photos, force: bool):
        self.models_dir = models_dir
        self.spec = spec
        self.photos = photos
        self.force = force
        self.judge = JUDGES[spec.task]()
        base_path = models_dir / spec.file
        self.base = Source("base", spec, base_path, spec.sha256)
        self.base_runner = Runner(spec, base_path)
        self._base_results: dict[str, list] = {}

    # -- helpers --

    def base_results(self, which: str) -> list:
        if which not in self._base_results:
            views = self.photos.calibration if which == "calibration" else self.photos.held_out
            self._base_results[which] = self.base_runner.results(views, self.judge)
        return self._base_results[which]

    def up_to_date(self, old: dict | None, source: Source) -> bool:
        """An existing variant stays (without --force) while its file is intact and its source unchanged."""
        if self.force or not old:
            return False
        report = old.get("report") or {}
        path = self.models_dir / str(old.get("file", ""))
        return (
            report.get("base_sha256") == self.base.sha256
            and report.get("source_sha256", self.base.sha256) == source.sha256
            and path.is_file()
            and sha256_of(path) == old.get("sha256")
        )

    def refused_before(self, name: str, source: Source) -> str | None:
        """Why a variant was refused last time, if its report says so for these very inputs (without --force)."""
        if self.force:
            return None
        stem = source.path.name.removesuffix(".onnx")
        suffix = name.split("-")[0] if name.startswith("int8-") else name
        report_path = self.models_dir / f"{stem}.{suffix}.report.json"
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if report.get("kept") is False and report.get("base_sha256") == self.base.sha256 and report.get("source_sha256", self.base.sha256) == source.sha256:
            return str(report.get("why", "refused"))
        return None

    def accuracy(self, runner: Runner) -> dict:
        """The variant's held-out figures against the base fp32 model."""
        variant = runner.results(self.photos.held_out, self.judge)
        figures = self.judge.compare(self.base_results("held_out"), variant, self.photos.held_out)
        return {"against": f"base fp32 ({self.spec.file})", "photos": "held_out", **figures, "quality": round(self.judge.quality(figures), 4)}

    def common_report(self, name: str, kind: str, path: Path, source: Source) -> dict:
        report = {
            "model": self.spec.name,
            "variant": name,
            "kind": kind,
            **_file_info(path),
            "base": _file_info(self.base.path, self.base.sha256),
            "base_sha256": self.base.sha256,
        }
        if source.name != "base":
            report["source"] = {"variant": source.name, **_file_info(source.path, source.sha256)}
            report["source_sha256"] = source.sha256
        report["made_with"] = _versions()
        report["photos"] = self.photos.describe()
        report["onnxruntime_web_wasm_unconfirmed_ops"] = _web_ops(path)
        return report

    def timings(self, paths: list[Path], specs: list[ModelSpec]) -> dict:
        runners = [Runner(spec, path) for spec, path in zip(specs, paths)]
        latency = _latency(runners, self.photos.held_out[0].image)
        sessions = _session_ms(paths)
        return {"threads": THREADS, "image": self.photos.held_out[0].name, "runs": TIMED_RUNS,
                "run_ms": dict(zip(self.timing_names(paths), latency)), "session_ms": dict(zip(self.timing_names(paths), sessions))}

    @staticmethod
    def timing_names(paths: list[Path]) -> list[str]:
        return ["base", "variant", "source"][: len(paths)]

    # -- opt --

    def make_opt(self, old: dict | None) -> Made:
        import onnx
        import onnxruntime as ort

        path = self.models_dir / f"{Path(self.spec.file).stem}.opt.onnx"
        report_path = _report_path(path)
        with tempfile.TemporaryDirectory(prefix="inpage-opt-") as tmp:
            options = ort.SessionOptions()
            # BASIC, not EXTENDED or ALL. Basic rewrites run before graph partitioning and hold
            # for every execution provider: constant folding (the fp16 weight Casts), redundant
            # nodes, Conv+Add/Mul/BatchNorm folding, all in standard ONNX ops. The higher levels
            # run after partitioning, for the CPU provider of *this* build: com.microsoft fused
            # ops (FusedConv, ...) and the NCHWc layout with its reorders, which onnxruntime-web's
            # WASM and WebGPU providers may not have; the page applies its own at load anyway.
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
            options.optimized_model_filepath = str(Path(tmp) / "opt.onnx")
            options.log_severity_level = 3
            ort.InferenceSession(str(self.base.path), options, providers=["CPUExecutionProvider"])
            model = onnx.load(str(Path(tmp) / "opt.onnx"))
        _tidy(model)
        _save(model, path)

        runner = Runner(self.spec, path)
        worst = largest = 0.0
        for view in self.photos.calibration + self.photos.held_out:
            feeds, _ = runner.feeds(view.image)
            base_out, opt_out = self.base_runner.outputs(feeds), runner.outputs(feeds)
            for name, value in base_out.items():
                if not value.size:
                    continue
                difference = np.abs(value.astype(np.float64) - opt_out[name].astype(np.float64))
                largest = max(largest, float(difference.max()))
                # Absolute for values up to 1 (scores, probabilities), relative for large logits.
                worst = max(worst, float(np.max(difference / (1.0 + np.abs(value)))))
        report = self.common_report("opt", "graph-optimised (onnxruntime basic level, offline)", path, self.base)
        report["max_output_difference"] = {"value": worst, "measure": "max |opt - base| / (1 + |base|) over every output, all photos",
                                           "tolerance": OPT_TOLERANCE, "max_abs": largest}
        if worst > OPT_TOLERANCE:
            report["kept"] = False
            report["why"] = f"outputs differ from the base model's by up to {worst:.3g} (> {OPT_TOLERANCE})"
            _write_report(report_path, report)
            path.unlink()
            return Made("opt", None, report, f"opt: not kept: {report['why']}")
        timing = self.timings([self.base.path, path], [self.spec, self.spec])
        report["native"] = timing
        run, sessions = timing["run_ms"], timing["session_ms"]
        # onnxruntime applies the same basic rewrites when it loads the base model, so the graph
        # that runs is the same and only session creation can gain. Fastest runs, not medians,
        # are compared: on a shared machine the medians wander by more than 10%.
        helps = sessions["variant"] < 0.9 * sessions["base"] or run["variant"]["min"] < 0.9 * run["base"]["min"]
        report["helps_natively"] = {"value": helps, "rule": "session creation (median) or fastest run at least 10% quicker than the base's"}
        if path.stat().st_size > self.base.path.stat().st_size:
            # onnxruntime makes the same basic rewrites when it loads the base model, so the same
            # graph runs either way; pre-folding the fp16 weights' casts only makes the file larger
            # to download. Decided by size, not by a timing, so the outcome is reproducible.
            report["kept"] = False
            report["why"] = f"larger than the base ({_mb(path)} vs {_mb(self.base.path)}) for the same graph at run time"
            _write_report(report_path, report)
            path.unlink()
            return Made("opt", None, report, f"opt: not kept: {report['why']}")
        report["kept"] = True
        _write_report(report_path, report)
        summary = {"base_sha256": self.base.sha256, "max_output_difference": worst, "native_ms": _native_summary(timing), "bytes": path.stat().st_size}
        entry = _variant_entry("opt", path, "float32", report_path, summary, old)
        line = (f"opt: {_mb(path)} (base {_mb(self.base.path)}), outputs equal within {worst:.2g}; session {sessions['base']:.0f} -> "
                f"{sessions['variant']:.0f} ms, run {run['base']['median']:.1f} -> {run['variant']['median']:.1f} ms"
                + ("" if helps else " (no native gain)"))
        return Made("opt", entry, report, line)

    # -- int8 --

    def quantize(self, source: Source, path: Path, workdir: Path) -> dict:
        """Write the int8 model of ``source`` to ``path``; return how it was made."""
        import onnx
        import onnxruntime as ort
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quant_pre_process, quantize_static

        source_runner = Runner(source.spec, source.path)
        judge = self.judge
        calibration_feeds = [source_runner.feeds(view.image)[0] for view in self.photos.calibration]
        reference = source_runner.results(self.photos.calibration, judge)

        pre = workdir / f"{source.name}.pre.onnx"
        # Symbolic shape inference is for dynamic (transformer) shapes and needs sympy; image
        # models here have static shapes, which ONNX shape inference handles.
        ort.set_default_logger_severity(3)  # its sessions would repeat BlazeFace's unused-initializer warnings
        try:
            quant_pre_process(str(source.path), str(pre), skip_symbolic_shape=True)
        finally:
            ort.set_default_logger_severity(2)  # onnxruntime's default, warnings
        pre_model = onnx.load(str(pre))
        _name_nodes(pre_model)
        onnx.save(pre_model, str(pre))
        depthwise = depthwise_weights(pre_model)

        tried: dict[int, dict] = {}
        refused: dict[int, str] = {}
        previous: list[str] | None = None
        for depth in HEAD_DEPTHS:
            excluded = head_nodes(pre_model, depth)
            if excluded == previous:
                break  # the graph has no deeper heavy op
            previous = excluded
            candidate = workdir / f"{source.name}.int8.head{depth}.onnx"
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                # TF's SAME max-pooling pads with -inf (NanoDet); that tensor's range is infinite
                # and its zero point NaN. In QOperator format Pad and MaxPool reuse their input's
                # int8 range, so the NaN is never used. (QDQ format does use it, and NanoDet's
                # QDQ model then detects nothing; histogram calibrations reject the -inf.)
                warnings.simplefilter("ignore", RuntimeWarning)
                quantize_static(
                    str(pre), str(candidate), _Feeds(calibration_feeds),
                    # Depthwise convolutions keep all 8 bits: onnxruntime widens both operands to
                    # 32 bits for them on every CPU, so they cannot saturate (see reduce_range below).
                    extra_options={"TensorQuantOverrides": {name: [{"axis": 0, "reduce_range": False}] for name in depthwise}},
                    quant_format=QuantFormat.QOperator,  # see the -inf above; onnxruntime-web runs these ops
                    per_channel=True,
                    # 7-bit weights (-64..64) for every other Conv, MatMul and Gemm: x86 CPUs
                    # without VNNI add pairs of uint8 x int8 products in 16 bits (vpmaddubsw) and
                    # saturate past 32767; 255 * (64 + 64) stays under it, so every CPU and the
                    # page compute the same integers. See inpage.int8_portability.
                    reduce_range=True,
                    weight_type=QuantType.QInt8,
                    activation_type=QuantType.QUInt8,  # onnxruntime-web's int8 kernels take uint8 activations
                    calibrate_method=CalibrationMethod.MinMax,
                    nodes_to_exclude=excluded,
                    # Only ops whose integer results are the same on every CPU and in the page;
                    # Add, Mul, Sigmoid and pooling stay float between a Dequantize and a Quantize.
                    op_types_to_quantize=list(QUANTIZED_OPS),
                )
            portability = inexact_boundaries(onnx.load(str(candidate)))
            if portability:
                # A float op upstream of a quantisation step (a skip connection the float head
                # pulled in): its answers could differ by CPU. Another head depth may avoid it.
                refused[depth] = portability[0]
                continue
            results = Runner(source.spec, candidate, INT8_SESSION_CONFIG).results(self.photos.calibration, judge)
            quality = judge.quality(judge.compare(reference, results, self.photos.calibration))
            tried[depth] = {"excluded": excluded, "quality": quality, "file": candidate}
        if not tried:
            raise NotPortable(f"no float head depth of {list(refused)} gives an int8 model whose answers are the same on every CPU ({next(iter(refused.values()))})")
        best = max(t["quality"] for t in tried.values())
        depth = next(d for d, t in tried.items() if t["quality"] >= best - QUALITY_SLACK)
        chosen = tried[depth]
        model = onnx.load(str(chosen["file"]))
        risks = saturation_risks(model) + inexact_ops(model)
        if risks:
            # reduce_range above rules this out; a file that could still saturate would give other
            # answers on x86 CPUs without VNNI than everywhere else, so it is never written.
            raise RuntimeError(f"{source.path.name}: the int8 model is not portable: {risks[0]}")
        halved = _halve_float_weights(model)
        _tidy(model)
        _save(model, path)
        return {
            "format": "QOperator",
            "weights": "int8 per channel: -64..64 (reduce_range, 7 bits) except depthwise convolutions, which keep -127..127",
            "depthwise_weights_at_8_bits": len(depthwise),
            "activations": "uint8, per tensor",
            "calibration": "MinMax, on the calibration photos prepared by the model's task",
            "pre_process": "onnxruntime.quantization.quant_pre_process (basic graph optimisation, ONNX shape inference)",
            "float_head_depth": depth,
            "float_head_nodes": chosen["excluded"],
            "calibration_quality_by_head_depth": {str(d): round(t["quality"], 4) for d, t in tried.items()},
            "head_depths_refused_as_not_portable": {str(d): why for d, why in refused.items()},
            "float_head_weights_stored_as_float16": halved,
            "portable": (f"integer matrix kernels' int8 weights within -{SAFE_WEIGHT}..{SAFE_WEIGHT} (no 16-bit saturation on any CPU); "
                         f"only {', '.join(QUANTIZED_OPS)} quantised, whose integer results are the same on every CPU and in the page"),
            "rule": (f"the output head stays float: the nodes from each output back to its Nth heavy op; N is the smallest of "
                     f"{list(HEAD_DEPTHS)} whose quality on the calibration photos is within {QUALITY_SLACK} of the best"),
        }

    def make_int8(self, source: Source, name: str, old: dict | None) -> Made:
        stem = Path(source.path.name).stem
        path = self.models_dir / f"{stem}.int8.onnx"
        report_path = _report_path(path)
        with tempfile.TemporaryDirectory(prefix="inpage-int8-") as tmp:
            try:
                recipe = self.quantize(source, path, Path(tmp))
            except NotPortable as exc:
                report = {"model": self.spec.name, "variant": name, "kind": "int8 static quantisation", "base_sha256": self.base.sha256,
                          "kept": False, "why": str(exc), "made_with": _versions()}
                if source.name != "base":
                    report["source_sha256"] = source.sha256
                _write_report(report_path, report)
                path.unlink(missing_ok=True)
                return Made(name, None, report, f"{name}: not kept: {exc}")
        report = self.common_report(name, "int8 static quantisation", path, source)
        report["quantization"] = recipe
        report["session_config"] = dict(INT8_SESSION_CONFIG)
        int8_spec = replace(source.spec, session_config=dict(INT8_SESSION_CONFIG))
        runner = Runner(int8_spec, path)
        report["accuracy"] = self.accuracy(runner)
        if source.name != "base":
            # Against the float file it was made from, too: what quantisation alone costs.
            figures = self.judge.compare(Runner(source.spec, source.path).results(self.photos.held_out, self.judge),
                                         runner.results(self.photos.held_out, self.judge), self.photos.held_out)
            report["accuracy_against_source"] = {**figures, "quality": round(self.judge.quality(figures), 4)}
        floor = QUALITY_FLOOR[self.spec.task]
        quantisation_quality = (report.get("accuracy_against_source") or report["accuracy"])["quality"]
        report["quality_floor"] = floor
        if quantisation_quality < floor:
            report["kept"] = False
            report["why"] = f"held-out quality {quantisation_quality} is below {floor}: the quantised model is broken, not just less accurate"
            _write_report(report_path, report)
            path.unlink()
            return Made(name, None, report, f"{name}: not kept: {report['why']}")
        paths, specs = [self.base.path, path], [self.spec, int8_spec]
        if source.name != "base":
            paths.append(source.path)
            specs.append(source.spec)
        report["native"] = self.timings(paths, specs)
        report["kept"] = True
        _write_report(report_path, report)
        run = report["native"]["run_ms"]
        summary: dict[str, Any] = {"base_sha256": self.base.sha256}
        if source.name != "base":
            summary["source_sha256"] = source.sha256
        summary["float_head_depth"] = recipe["float_head_depth"]
        summary["accuracy"] = {"against": "base fp32", **self.judge.summary(report["accuracy"])}
        summary["native_ms"] = _native_summary(report["native"])
        summary["bytes"] = path.stat().st_size
        entry = _variant_entry(name, path, "int8", report_path, summary, old, size=self.size_of(source))
        line = (f"{name}: {_mb(path)}, float head depth {recipe['float_head_depth']} ({len(recipe['float_head_nodes'])} nodes); "
                f"held-out {_headline(self.spec.task, report['accuracy'])}; run {run['base']['median']:.1f} -> {run['variant']['median']:.1f} ms")
        return Made(name, entry, report, line)

    def size_of(self, source: Source):
        if source.name == "base":
            return None
        variant = next(v for v in self.spec.variants if v.name == source.name)
        return variant.size

    # -- input-size variants (made by a recipe) --

    def report_size_variant(self, raw: dict) -> Made:
        name = raw["name"]
        source = self.size_source(name)
        path = source.path
        report_path = _report_path(path)
        report = self.common_report(name, f"input size {source.spec.image.width}x{source.spec.image.height} (made by a recipe)", path, self.base)
        runner = Runner(source.spec, path)
        report["accuracy"] = self.accuracy(runner)
        report["native"] = self.timings([self.base.path, path], [self.spec, source.spec])
        report["kept"] = True
        _write_report(report_path, report)
        run = report["native"]["run_ms"]
        entry = dict(raw)
        entry["report"] = {
            "file": report_path.name,
            "base_sha256": self.base.sha256,
            "accuracy": {"against": "base fp32", **self.judge.summary(report["accuracy"])},
            "native_ms": _native_summary(report["native"]),
            "bytes": path.stat().st_size,
        }
        line = f"{name}: held-out {_headline(self.spec.task, report['accuracy'])}; run {run['base']['median']:.1f} -> {run['variant']['median']:.1f} ms"
        return Made(name, entry, report, line)

    def size_source(self, name: str) -> Source:
        variant = next(v for v in self.spec.variants if v.name == name)
        path = self.models_dir / variant.file
        return Source(name, self.spec.with_variant(name), path, variant.sha256)


class NotPortable(Exception):
    """The int8 model would give other answers on some CPUs than in the page: it is not made."""


class _Feeds:
    """onnxruntime's CalibrationDataReader protocol over prepared feeds, always in the same order."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]):
        self._feeds = iter(feeds)

    def get_next(self):
        return next(self._feeds, None)


def _native_summary(timing: dict) -> dict:
    """The manifest's short form of a report's timings: median run and session creation, in ms."""
    return {
        "threads": timing["threads"],
        "run": {k: v["median"] for k, v in timing["run_ms"].items()},
        "session": dict(timing["session_ms"]),
    }


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.2f} MB"


def _headline(task: str, figures: dict) -> str:
    if task == "detect":
        c, d = figures["confident"], figures["default"]
        return (f"confident {c['matched']}/{c['base_detections']} matched, {c['extra']} extra; at default threshold "
                f"{d['matched']}/{d['base_detections']} matched, {d['extra']} extra")
    if task == "classify":
        return (f"top-1 agreement {figures['top1_agreement']} ({figures['decisive_top1_agreement']} on {figures['decisive_views']} "
                f"decisive views), top-5 {figures['top5_agreement']}")
    if task == "pose":
        return (f"confident keypoints {figures['mean_confident_keypoint_distance_px']} px off, "
                f"{figures['confident_within_2pct_of_diagonal']} within 2% of the diagonal")
    return f"mask IoU {figures['mean_iou']} (min {figures['min_iou']})"


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
        labels_file = labels_location(entry)
        labels_text = (models_dir / labels_file).read_text(encoding="utf-8") if labels_file and (models_dir / labels_file).is_file() else None
        spec = parse_entry(entry, labels_text, position)
        if spec.task not in JUDGES:
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


__all__ = ["HEAD_DEPTHS", "JUDGES", "Photos", "VIEWS", "head_nodes", "load_photos", "optimize_project"]
