"""Reading and rewriting ONNX graphs for the optimiser: the float head to keep out of quantisation,
depthwise weights, node names, float16 weights, and saving."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

HEAVY_OPS = {"Conv", "ConvTranspose", "Gemm", "MatMul"}
# The float ops quantize_static may turn into int8 ones: those whose QOperator forms give the same
# integers on every CPU and in the page (inpage_tools.int8_portability.EXACT_OPS); Relu and Clip fold
# into the preceding convolution's output range.
QUANTIZED_OPS = ("Conv", "MatMul", "Gemm", "Relu", "Clip", "LeakyRelu", "Concat", "MaxPool", "Pad", "Reshape", "Transpose",
                 "Squeeze", "Unsqueeze", "Flatten", "Split", "Slice", "Gather", "Resize")

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
    from ..onnxinfo import inspect_model

    return [f"{s.domain}:{s.op_type} ({s.status})" for s in inspect_model(path).op_support() if s.status != "supported"]
