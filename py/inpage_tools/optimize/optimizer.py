"""The variants of one manifest entry: ``opt`` (graph-optimised), ``int8`` (static quantisation with a
float head), and the int8 copies of its input-size variants, each with its report."""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from inpage.manifest import ModelSpec
from inpage.tasks import get_task

from ..bundle.files import sha256_of
from ..int8_portability import SAFE_WEIGHT, inexact_boundaries, inexact_ops, saturation_risks
from .graph import QUANTIZED_OPS, _halve_float_weights, _name_nodes, _save, _tidy, _web_ops, depthwise_weights, head_nodes
from .photos import Photos, view_names
from .runner import THREADS, Runner
from . import timing
from .timing import _latency, _session_ms

# The basic level folds constants and removes redundant nodes, all in float32: the outputs must
# stay equal to the base model's up to float rounding.
OPT_TOLERANCE = 1e-4
# The deepest head to leave in float: 1 is the last heavy op on every path to an output and
# everything after it; each step up takes one more heavy op per path.
HEAD_DEPTHS = (1, 2, 3)
# The shallowest head whose calibration quality is within this of the best one is chosen:
# less float is faster, and a few hundredths are noise on a few dozen views.
QUALITY_SLACK = 0.02
OUR_VARIANTS = ("opt", "int8")  # plus "int8-<size variant>"

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

    from inpage import __version__

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
        # The task's own judge compares results, and gives the quality floors.
        self.judge = get_task(spec.task).judge
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
        figures = self.judge.compare(self.base_results("held_out"), variant, view_names(self.photos.held_out))
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
        return {"threads": THREADS, "image": self.photos.held_out[0].name, "runs": timing.TIMED_RUNS,
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
                    # page compute the same integers. See inpage_tools.int8_portability.
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
            quality = judge.quality(judge.compare(reference, results, view_names(self.photos.calibration)))
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
                                         runner.results(self.photos.held_out, self.judge), view_names(self.photos.held_out))
            report["accuracy_against_source"] = {**figures, "quality": round(self.judge.quality(figures), 4)}
        floor = self.judge.quality_floor
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
                f"held-out {self.judge.headline(report['accuracy'])}; run {run['base']['median']:.1f} -> {run['variant']['median']:.1f} ms")
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
        line = f"{name}: held-out {self.judge.headline(report['accuracy'])}; run {run['base']['median']:.1f} -> {run['variant']['median']:.1f} ms"
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
