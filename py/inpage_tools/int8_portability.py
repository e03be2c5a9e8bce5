"""Whether an int8 model computes the same integers on every CPU and in the page, read from its ops and weights.

onnxruntime's integer matrix kernels (QLinearConv, QLinearMatMul, QGemm, ConvInteger,
MatMulInteger, ...) multiply uint8 activations by int8 weights. On x86 CPUs with AVX2 or AVX-512
but without VNNI they use ``vpmaddubsw``, which adds each pair of neighbouring products into a
signed 16-bit lane and saturates at 32767; CPUs with VNNI (``vpdpbusd``), arm64 and the page's
WebAssembly build add in 32 bits. Where a pair can pass 32767 the same file gives other numbers on
an AVX2-only machine than on the others, by whole logits (NanoDet's boxes moved by 2.6).

A pair sums to at most ``255 * (|w1| + |w2|)``, so weights within -64..64 can never saturate:
``255 * 128 = 32640``. That is what onnxruntime's ``reduce_range`` gives, and what
:func:`saturation_risks` checks node by node. Depthwise convolutions are safe whatever their weights
(onnxruntime widens both operands to 32 bits for them), and so are uint8 weights (widened to 16).

(Which CPUs have an int8 dot-product instruction is :func:`inpage._native.has_int8_dot_product`.)
How much int8 gains natively depends on it (on an AVX2-only AMD EPYC the first NanoDet-m int8 file
ran no faster than fp32, 64.4 against 63.5 ms; on a VNNI machine twice as fast), so the benchmark
records its native choice per kind of CPU, and each machine reads its own kind's record.

Host-only (reads ONNX files with ``onnx``); the page never imports it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# The largest int8 weight magnitude whose pairs cannot saturate a 16-bit sum of uint8 products.
SAFE_WEIGHT = 64
_INT16_MAX = 32767
assert 255 * 2 * SAFE_WEIGHT <= _INT16_MAX

# The quantised ops whose results are the same integers on every CPU and in WebAssembly: integer
# matrix products (exact in 32 bits, given weights that cannot saturate) requantised by one float
# multiply and round-half-to-even; lookup tables built by plain scalar code (LeakyRelu, Concat's
# rescaling); and ops that only move uint8 values. Not here, and so left in float by inpage's
# quantiser: QLinearAdd and QLinearMul (x86 rounds (a*sa + b*sb)/sc rearranged, WebAssembly as
# written, arm64 in fixed point: one step apart on about 1 value in 7000 of BlazeFace's), and the
# sigmoid, pooling and softmax kernels, whose float parts are vectorised differently per CPU.
EXACT_OPS = frozenset({
    "QLinearConv", "QLinearMatMul", "QGemm", "ConvInteger", "MatMulInteger", "QLinearLeakyRelu", "QLinearConcat",
    "QuantizeLinear", "DequantizeLinear",
    "MaxPool", "Pad", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Split", "Slice", "Gather", "Resize",
})

# Integer-kernel op -> (index of its activation input, index of its weight input).
_INTEGER_KERNELS = {
    ("", "QLinearConv"): (0, 3),
    ("", "QLinearMatMul"): (0, 3),
    ("", "ConvInteger"): (0, 1),
    ("", "MatMulInteger"): (0, 1),
    ("com.microsoft", "QGemm"): (0, 3),
    ("com.microsoft", "MatMulIntegerToFloat"): (0, 1),
    ("com.microsoft", "DynamicQuantizeMatMul"): (0, 1),
}
_INT8 = 3  # onnx.TensorProto.INT8


def _is_depthwise(node, weight: np.ndarray) -> bool:
    group = next((a.i for a in node.attribute if a.name == "group"), 1)
    return node.op_type in ("QLinearConv", "ConvInteger") and group > 1 and weight.ndim >= 2 and weight.shape[1] == 1 and group == weight.shape[0]


def saturation_risks(model) -> list[str]:
    """One line per integer-kernel node of ``model`` (a ModelProto) whose int8 weights could saturate
    a 16-bit pair sum on x86 CPUs without VNNI, or whose weights are not constants and so cannot be
    checked. An empty list: the file computes the same integers on every CPU."""
    from onnx import numpy_helper

    initializers = {t.name: t for t in model.graph.initializer}
    risks = []
    for node in model.graph.node:
        indices = _INTEGER_KERNELS.get((node.domain or "", node.op_type))
        if indices is None or len(node.input) <= indices[1]:
            continue
        name = node.name or node.output[0]
        weight_name = node.input[indices[1]]
        tensor = initializers.get(weight_name)
        if tensor is None:
            risks.append(f"{node.op_type} {name!r}: its weights {weight_name!r} are computed at run time, so their range cannot be checked")
            continue
        if tensor.data_type != _INT8:
            continue  # uint8 weights: onnxruntime widens them to 16 bits first, exactly
        weight = numpy_helper.to_array(tensor)
        if _is_depthwise(node, weight):
            continue
        largest = int(np.abs(weight.astype(np.int32)).max()) if weight.size else 0
        if largest > SAFE_WEIGHT:
            risks.append(
                f"{node.op_type} {name!r}: int8 weights reach {largest} (over {SAFE_WEIGHT}); on x86 CPUs without VNNI "
                f"onnxruntime's 16-bit pair sums can saturate (255 * {2 * largest} > {_INT16_MAX}), so results differ by CPU; "
                "quantise with reduce_range=True"
            )
    return risks


def inexact_ops(model) -> list[str]:
    """The quantised ops of ``model`` (those reading or writing 8-bit tensors by onnxruntime's QOperator
    names, ``QLinear*`` and friends) that are not in :data:`EXACT_OPS`, once each."""
    found = sorted({node.op_type for node in model.graph.node if node.op_type.startswith("QLinear") and node.op_type not in EXACT_OPS})
    return [f"{op}: its rounding differs between CPUs and WebAssembly; leave it in float" for op in found]


# Float ops that give the same bits on every x86 CPU and in WebAssembly: one IEEE-rounded operation
# per element, or none (moving values), or Resize, whose interpolation is plain scalar C++ with a fixed
# order of operations and no CPU-specific kernel. A QuantizeLinear may only read values made from the
# model's inputs and dequantised tensors by these: a float convolution, pooling or sigmoid has
# vectorised kernels that round their last bit differently per CPU, and the 8-bit step that follows
# turns that into a whole step now and then.
EXACT_FLOAT_OPS = frozenset({
    "DequantizeLinear", "Cast", "Add", "Sub", "Mul", "Div", "Neg", "Abs", "Relu", "Clip", "Max", "Min",
    "Concat", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Identity", "Pad", "MaxPool", "Slice", "Split", "Gather",
    "Resize",
})


def inexact_boundaries(model) -> list[str]:
    """QuantizeLinear nodes of ``model`` whose float input comes (through any number of
    :data:`EXACT_FLOAT_OPS`) from an op that may round differently per CPU, one line each."""
    producers = {output: node for node in model.graph.node for output in node.output}
    problems = []
    for node in model.graph.node:
        if node.op_type != "QuantizeLinear":
            continue
        stack, seen = [node.input[0]], set()
        while stack:
            tensor = stack.pop()
            producer = producers.get(tensor)
            if producer is None or producer.name in seen or id(producer) in seen:
                continue  # a graph input or an initializer: the same bits on both sides
            seen.add(producer.name or id(producer))
            if producer.op_type not in EXACT_FLOAT_OPS:
                problems.append(f"QuantizeLinear {node.name or node.output[0]!r} reads the float output of {producer.op_type} "
                                f"{producer.name or producer.output[0]!r}, whose last bit may differ per CPU")
                break
            if producer.op_type != "DequantizeLinear":
                stack.extend(name for name in producer.input if name)
    return problems


def file_portability_problems(path: Path) -> list[str]:
    """What could make the int8 model at ``path`` answer differently per CPU: saturating weights, then
    quantised ops whose rounding differs (one line each; empty for a float model)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return saturation_risks(model) + inexact_ops(model)


__all__ = [
    "EXACT_FLOAT_OPS", "EXACT_OPS", "SAFE_WEIGHT", "file_portability_problems", "inexact_boundaries", "inexact_ops", "saturation_risks",
]
