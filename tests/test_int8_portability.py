"""int8 variants compute the same integers on every CPU: checked from the files' weights, since the
machine running the suite may well have VNNI and never show the saturation an AVX2-only CPU would.

Also: which variant a native CPU picks is decided by that CPU (int8 only where it has an int8
dot-product instruction), and the benchmark's records for other kinds of CPU are kept.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import ROOT, run
from inpage import _native, load_model
from inpage._native import int8_dot_product_in
from inpage_tools.int8_portability import SAFE_WEIGHT, file_portability_problems, inexact_boundaries, inexact_ops, saturation_risks
from inpage.model import choose_variant, load_spec

MODELS = ROOT / "models"
MANIFEST = MODELS / "manifest.json"


def int8_variant_files() -> list[str]:
    files = []
    for entry in json.loads(MANIFEST.read_text())["models"]:
        files += [v["file"] for v in entry.get("variants", []) if v.get("dtype") == "int8"]
    return files


@pytest.mark.parametrize("file", int8_variant_files())
def test_committed_int8_variants_compute_the_same_integers_on_every_cpu(file):
    model = onnx.load(str(MODELS / file), load_external_data=False)
    assert saturation_risks(model) == []  # no 16-bit pair sum can saturate (AVX2 without VNNI)
    assert inexact_ops(model) == []  # no QLinearAdd, QLinearMul, QLinearSigmoid, ...
    assert inexact_boundaries(model) == []  # nothing quantised after a float op that rounds per CPU
    assert file_portability_problems(MODELS / file) == []


def test_a_quantisation_step_after_a_float_convolution_is_flagged():
    conv = helper.make_node("Conv", ["x", "w"], ["c"], name="float_conv")
    add = helper.make_node("Add", ["c", "d"], ["s"], name="add")
    dequant = helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["d"], name="dq")
    quant = helper.make_node("QuantizeLinear", ["s", "scale", "zero"], ["y"], name="q_after_conv")
    graph = helper.make_graph(
        [dequant, conv, add, quant], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2]), helper.make_tensor_value_info("q", TensorProto.UINT8, [1, 1, 2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, 1, 2, 2])],
        [numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w"), numpy_helper.from_array(np.array(0.1, np.float32), "scale"),
         numpy_helper.from_array(np.array(0, np.uint8), "zero")],
    )
    [problem] = inexact_boundaries(helper.make_model(graph))
    assert "'q_after_conv' reads the float output of Conv 'float_conv'" in problem
    # The same add of two dequantised tensors is exact on every CPU.
    exact = helper.make_graph(
        [dequant, helper.make_node("Add", ["d", "d"], ["s"]), quant], "g",
        [helper.make_tensor_value_info("q", TensorProto.UINT8, [1, 1, 2, 2])], [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, 1, 2, 2])],
        [numpy_helper.from_array(np.array(0.1, np.float32), "scale"), numpy_helper.from_array(np.array(0, np.uint8), "zero")],
    )
    assert inexact_boundaries(helper.make_model(exact)) == []
    assert inexact_ops(helper.make_model(helper.make_graph([helper.make_node("QLinearAdd", [], ["z"], domain="com.microsoft")], "g", [], []))) != []


def test_there_are_int8_variants_to_check():
    assert len(int8_variant_files()) >= 5


def qlinear_conv(weight: np.ndarray, group: int = 1, weight_type=TensorProto.INT8, constant_weight: bool = True):
    """A one-node QLinearConv model: uint8 activations, the given weights."""
    out_channels = weight.shape[0]
    inputs = [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, weight.shape[1] * group, 4, 4])]
    initializers = [
        numpy_helper.from_array(np.array(0.1, np.float32), "x_scale"),
        numpy_helper.from_array(np.array(0, np.uint8), "x_zero"),
        numpy_helper.from_array(np.full(out_channels, 0.01, np.float32), "w_scale"),
        numpy_helper.from_array(np.zeros(out_channels, np.int8 if weight_type == TensorProto.INT8 else np.uint8), "w_zero"),
        numpy_helper.from_array(np.array(0.2, np.float32), "y_scale"),
        numpy_helper.from_array(np.array(0, np.uint8), "y_zero"),
    ]
    if constant_weight:
        initializers.append(numpy_helper.from_array(weight, "w"))
    else:
        inputs.append(helper.make_tensor_value_info("w", weight_type, list(weight.shape)))
    node = helper.make_node("QLinearConv", ["x", "x_scale", "x_zero", "w", "w_scale", "w_zero", "y_scale", "y_zero"], ["y"], name="conv", group=group)
    graph = helper.make_graph([node], "g", inputs, [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], initializers)
    return helper.make_model(graph)


def test_full_range_int8_weights_are_flagged_and_reduced_range_ones_are_not():
    full = np.full((4, 8, 3, 3), 127, np.int8)
    [risk] = saturation_risks(qlinear_conv(full))
    assert "reach 127" in risk and "reduce_range" in risk
    assert saturation_risks(qlinear_conv(np.full((4, 8, 3, 3), -SAFE_WEIGHT, np.int8))) == []
    assert saturation_risks(qlinear_conv(np.full((4, 8, 3, 3), SAFE_WEIGHT + 1, np.int8)))


def test_the_safe_range_is_exactly_what_a_16_bit_pair_sum_holds():
    # The worst pair: two uint8 255s times two weights of the largest allowed magnitude.
    assert 255 * 2 * SAFE_WEIGHT <= 32767 < 255 * 2 * (SAFE_WEIGHT + 1)


def test_depthwise_and_uint8_weights_are_exact_anyway_and_run_time_weights_cannot_be_checked():
    depthwise = np.full((8, 1, 3, 3), 127, np.int8)
    assert saturation_risks(qlinear_conv(depthwise, group=8)) == []
    assert saturation_risks(qlinear_conv(np.full((4, 8, 3, 3), 250, np.uint8), weight_type=TensorProto.UINT8)) == []
    [risk] = saturation_risks(qlinear_conv(np.zeros((4, 8, 3, 3), np.int8), constant_weight=False))
    assert "computed at run time" in risk


def test_cpu_flags_tell_whether_int8_is_worth_running():
    assert not int8_dot_product_in("processor\t: 0\nflags\t\t: fpu sse sse2 avx avx2 fma\n")  # AVX2 only (an AMD EPYC here)
    assert int8_dot_product_in("flags\t\t: fpu avx2 avx512f avx512bw avx512_vnni\n")
    assert int8_dot_product_in("flags\t\t: fpu avx2 avx_vnni\n")  # Alder Lake and later
    assert int8_dot_product_in("Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics asimddp\n")  # arm64 with dot product
    assert not int8_dot_product_in("Features\t: fp asimd evtstrm aes\n")


def test_native_variant_choice_follows_this_cpu(monkeypatch, tmp_path):
    entry = next(e for e in json.loads(MANIFEST.read_text())["models"] if e["name"] == "nanodet-m")
    int8 = next(v for v in entry["variants"] if v["name"] == "int8")
    int8["providers"] = ["cpu-int8dot", "wasm"]
    (tmp_path / "manifest.json").write_text(json.dumps({"models": [entry]}))
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "coco80.txt").write_text((MODELS / "labels" / "coco80.txt").read_text())
    spec, _ = run(load_spec("nanodet-m", str(tmp_path / "manifest.json")))

    monkeypatch.setattr(_native, "has_int8_dot_product", lambda: True)
    assert _native.variant_key("cpu") == "cpu-int8dot" and choose_variant(spec, "cpu") == "int8"
    monkeypatch.setattr(_native, "has_int8_dot_product", lambda: False)
    assert _native.variant_key("cpu") == "cpu" and choose_variant(spec, "cpu") == "base"
    assert _native.variant_key("cuda") == "cuda"


def test_this_machine_loads_the_variant_its_cpu_kind_kept():
    """Whatever this CPU is, the model it loads by default is the one recorded for its kind."""
    from inpage import _native

    key = _native.variant_key("cpu")
    spec, _ = run(load_spec("nanodet-m", str(MANIFEST)))
    expected = next((v.name for v in spec.variants if key in v.providers), "base")
    model = run(load_model("nanodet-m", manifest=str(MANIFEST)))
    try:
        assert model.variant == expected
    finally:
        model.close()


def test_the_benchmark_keeps_other_cpu_kinds_records(monkeypatch, tmp_path):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("bench_module", ROOT / "bench" / "bench.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules["bench_module"] = bench
    spec.loader.exec_module(bench)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"models": [{"name": "m", "variants": [{"name": "int8", "providers": ["cpu", "cpu-int8dot", "wasm"]}]}]}))
    monkeypatch.setattr(bench, "MANIFEST", manifest)
    # Recorded for both kinds of CPU and WASM; this machine (of either kind) now keeps nothing for
    # WASM or its own kind, and must leave the other kind's record alone.
    bench.write_kept_variants({"m": {}})
    [variant] = json.loads(manifest.read_text())["models"][0]["variants"]
    other = {"cpu", "cpu-int8dot"} - {bench.NATIVE_KEY}
    assert variant["providers"] == sorted(other)


def test_the_checked_files_really_use_integer_kernels():
    model = onnx.load(str(MODELS / int8_variant_files()[0]), load_external_data=False)
    assert any(node.op_type == "QLinearConv" for node in model.graph.node)


def test_inspect_and_add_warn_about_a_users_full_range_int8_model(tmp_path):
    from inpage_tools.project import add_model, describe, inspect_file

    path = tmp_path / "full-range.onnx"
    model = qlinear_conv(np.full((4, 8, 3, 3), 127, np.int8))
    model.ir_version = 8
    del model.opset_import[:]
    model.opset_import.append(helper.make_opsetid("", 17))
    onnx.save(model, str(path))
    report = inspect_file(path)
    assert len(report["int8_portability"]) == 1 and "reach 127" in report["int8_portability"][0]
    assert "int8: QLinearConv 'conv': int8 weights reach 127" in describe(report)
    result = add_model(path, tmp_path / "project", task="run")
    assert any(note.startswith("warning: QLinearConv 'conv': int8 weights reach 127") and "reduce_range" in note for note in result.notes), result.notes


def test_add_warns_about_a_users_quantised_addition(tmp_path):
    from inpage_tools.project import add_model

    scalars = [numpy_helper.from_array(np.array(0.1, np.float32), "s"), numpy_helper.from_array(np.array(128, np.uint8), "z")]
    node = helper.make_node("QLinearAdd", ["a", "s", "z", "b", "s", "z", "s", "z"], ["c"], name="residual", domain="com.microsoft")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info(n, TensorProto.UINT8, [4]) for n in ("a", "b")],
                              [helper.make_tensor_value_info("c", TensorProto.UINT8, [4])], scalars)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    path = tmp_path / "qadd.onnx"
    onnx.save(model, str(path))
    result = add_model(path, tmp_path / "project", task="run")
    assert any(note.startswith("warning: QLinearAdd: its rounding differs between CPUs and WebAssembly") for note in result.notes), result.notes
